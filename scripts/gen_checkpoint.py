#!/usr/bin/python3
"""Write deterministic random-weight Hugging Face checkpoints (Llama / Qwen2 layout).

    gen_checkpoint.py --preset NAME OUT_DIR [--dtype f32|f16|bf16] [--shards N] [--seed S]
    gen_checkpoint.py --config PATH/config.json OUT_DIR [--copy-tokenizer DIR] [--dtype ..] ...
    gen_checkpoint.py --list

OUT_DIR receives config.json, generation_config.json, model.safetensors (or
model-0000i-of-0000N.safetensors shards + model.safetensors.index.json), and tokenizer files:
copied from --copy-tokenizer DIR, or for presets a small synthetic byte-level BPE tokenizer
(tokenizer.json + tokenizer_config.json with a chat template) whose size fits the preset's vocab,
so the converter sees a complete model directory without needing ../shared.

Presets are small test shapes with the architecture features of real configs in
../shared/configs (see PRESETS). --config takes a real config.json (full size, for benchmarks);
tensors are generated and written one at a time, so a 7B checkpoint needs little RAM.

Weights (numpy default_rng, one stream per tensor seeded by (seed, crc32(name)), drawn in
pieces of whole rows; a tensor's values do not depend on dtype, shard count or other tensors):
    projections   N(0, 1/fan_in)             -> activations keep a unit scale through layers
    embed_tokens  N(0, 1) (untied) or N(0, 4/hidden) (tied: it is also the output head)
    lm_head       N(0, 4/hidden)             -> logits spread with std ~2
    norms         1 + N(0, 0.1^2)
    q/k/v biases  N(0, 0.1^2)
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import sys
import zlib
from collections import Counter
from typing import Dict, List, Optional, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

# ----------------------------------------------------------------------------- presets

# Each preset: the HF config.json to write plus the tokenizer style. Derived from the real
# configs named in "from", scaled down so a forward pass takes milliseconds.
PRESETS: Dict[str, dict] = {
    # Qwen2.5-0.5B-Instruct: q/k/v bias, tied embeddings, GQA 14/2, rope_theta 1e6, eps 1e-6.
    # Here 4 heads / 2 kv heads, head_dim 16, intermediate 176 (not a multiple of 32 -> the
    # down_proj rows end in a zero-padded quant block), vocab with 4 padding rows past the
    # tokenizer like the real model (151936 rows, 151665 tokens).
    "qwen2-tiny": {
        "from": "Qwen2.5-0.5B-Instruct",
        "tokenizer": "qwen2",
        "config": {
            "architectures": ["Qwen2ForCausalLM"],
            "model_type": "qwen2",
            "attention_dropout": 0.0,
            "hidden_act": "silu",
            "hidden_size": 64,
            "intermediate_size": 176,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 4096,
            "max_window_layers": 2,
            "rms_norm_eps": 1e-6,
            "rope_theta": 1000000.0,
            "sliding_window": 4096,
            "use_sliding_window": False,
            "tie_word_embeddings": True,
            "vocab_size": 320,
            "torch_dtype": "float32",
            "use_cache": True,
            "initializer_range": 0.02,
        },
    },
    # TinyLlama-1.1B / SmolLM2: untied lm_head, GQA, no bias. Explicit head_dim (32) that is
    # NOT hidden/heads (96/4 = 24), so q_proj is [128, 96] and o_proj [96, 128];
    # intermediate 172 like stories260K (5 full blocks + 12 values).
    "llama-tiny": {
        "from": "TinyLlama-1.1B-Chat-v1.0",
        "tokenizer": "llama",
        "config": {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "attention_bias": False,
            "attention_dropout": 0.0,
            "mlp_bias": False,
            "hidden_act": "silu",
            "hidden_size": 96,
            "intermediate_size": 172,
            "head_dim": 32,
            "num_hidden_layers": 3,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 2048,
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "rope_scaling": None,
            "tie_word_embeddings": False,
            "vocab_size": 384,
            "pretraining_tp": 1,
            "torch_dtype": "float32",
            "use_cache": True,
            "initializer_range": 0.02,
        },
    },
    # Llama-3.2-1B-Instruct: llama3 rope scaling (factor 32, low 1, high 4), tied, GQA 4:1,
    # theta 5e5, eos list. original_max_position_embeddings 64 (real: 8192) so that at
    # head_dim 16 the three llama3 bands all occur: wavelengths 6.3 (< 64/4: kept),
    # 32.4 (between 16 and 64: smoothed) and >= 167 (> 64: divided by 32).
    "llama3-tiny": {
        "from": "Llama-3.2-1B-Instruct",
        "tokenizer": "llama3",
        "config": {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "attention_bias": False,
            "attention_dropout": 0.0,
            "mlp_bias": False,
            "hidden_act": "silu",
            "hidden_size": 128,
            "intermediate_size": 320,
            "head_dim": 16,
            "num_hidden_layers": 2,
            "num_attention_heads": 8,
            "num_key_value_heads": 2,
            "max_position_embeddings": 2048,
            "rms_norm_eps": 1e-5,
            "rope_theta": 500000.0,
            "rope_scaling": {
                "factor": 32.0,
                "high_freq_factor": 4.0,
                "low_freq_factor": 1.0,
                "original_max_position_embeddings": 64,
                "rope_type": "llama3",
            },
            "tie_word_embeddings": True,
            "vocab_size": 400,
            "pretraining_tp": 1,
            "torch_dtype": "float32",
            "use_cache": True,
            "initializer_range": 0.02,
        },
    },
    # qwen2-tiny with the YaRN rope scaling Qwen2.5 documents for long context
    # ({"type": "yarn", "factor": 4, "original_max_position_embeddings": 32768}), scaled:
    # original 64 so the ramp covers dims 0..2 of 8 at head_dim 16; attention factor
    # 0.1*ln(4)+1 multiplies cos/sin.
    "qwen2-yarn-tiny": {
        "from": "Qwen2.5-7B-Instruct",
        "tokenizer": "qwen2",
        "base": "qwen2-tiny",
        "config": {
            "max_position_embeddings": 256,
            "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64},
        },
    },
}


def preset_config(name: str) -> Tuple[dict, str]:
    """(HF config dict, tokenizer style) of a preset; special token ids filled in."""
    if name not in PRESETS:
        raise SystemExit(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    p = PRESETS[name]
    cfg = {}
    if "base" in p:
        cfg = preset_config(p["base"])[0]
    cfg.update(copy.deepcopy(p["config"]))
    specials = TOKENIZER_STYLES[p["tokenizer"]]["specials"]
    n_tok = tokenizer_size(cfg["vocab_size"], p["tokenizer"])
    ids = {s: n_tok - len(specials) + i for i, s in enumerate(specials)}
    style = TOKENIZER_STYLES[p["tokenizer"]]
    if style.get("specials_first"):
        ids = {s: i for i, s in enumerate(specials)}
    # Qwen2's config names <|endoftext|> as bos_token_id although its tokenizer adds no BOS.
    bos = style.get("config_bos", style["bos"])
    cfg["bos_token_id"] = ids[bos] if bos else None
    eos = [ids[e] for e in style["eos"]]
    cfg["eos_token_id"] = eos[0] if len(eos) == 1 else eos
    cfg["transformers_version"] = "4.45.0"
    return cfg, p["tokenizer"]


# ----------------------------------------------------------------------------- weights

def tensor_specs(cfg: dict) -> List[Tuple[str, Tuple[int, ...], str]]:
    """[(name, shape, kind)] in HF order; kind in embed|proj|head|norm|bias."""
    h = int(cfg["hidden_size"])
    heads = int(cfg["num_attention_heads"])
    kvh = int(cfg.get("num_key_value_heads") or heads)
    hd = int(cfg.get("head_dim") or h // heads)
    f = int(cfg["intermediate_size"])
    v = int(cfg["vocab_size"])
    arch = cfg["architectures"][0]
    bias = arch == "Qwen2ForCausalLM" or bool(cfg.get("attention_bias", False))
    out = [("model.embed_tokens.weight", (v, h), "embed")]
    for layer in range(int(cfg["num_hidden_layers"])):
        p = f"model.layers.{layer}."
        out.append((p + "input_layernorm.weight", (h,), "norm"))
        out.append((p + "self_attn.q_proj.weight", (heads * hd, h), "proj"))
        out.append((p + "self_attn.k_proj.weight", (kvh * hd, h), "proj"))
        out.append((p + "self_attn.v_proj.weight", (kvh * hd, h), "proj"))
        if bias:
            out.append((p + "self_attn.q_proj.bias", (heads * hd,), "bias"))
            out.append((p + "self_attn.k_proj.bias", (kvh * hd,), "bias"))
            out.append((p + "self_attn.v_proj.bias", (kvh * hd,), "bias"))
        out.append((p + "self_attn.o_proj.weight", (h, heads * hd), "proj"))
        out.append((p + "post_attention_layernorm.weight", (h,), "norm"))
        out.append((p + "mlp.gate_proj.weight", (f, h), "proj"))
        out.append((p + "mlp.up_proj.weight", (f, h), "proj"))
        out.append((p + "mlp.down_proj.weight", (h, f), "proj"))
    out.append(("model.norm.weight", (h,), "norm"))
    if not cfg.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", (v, h), "head"))
    return out


CHUNK_ELEMS = 1 << 22  # values generated per piece (16 MB of f32)


def make_tensor_chunks(name: str, shape: Tuple[int, ...], kind: str, cfg: dict, seed: int):
    """The float32 values of one tensor as consecutive row-major pieces of whole rows.

    The values are defined by this chunked generation (one default_rng stream per tensor,
    seeded by (seed, crc32(name)), drawn CHUNK_ELEMS-ish at a time), so they depend only on
    (seed, name, shape, kind, cfg) -- not on the dtype, the shard layout or other tensors.
    """
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    h = int(cfg["hidden_size"])
    rows = shape[0]
    row_elems = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    rows_per_chunk = max(1, CHUNK_ELEMS // row_elems) if len(shape) > 1 else rows
    if kind == "proj":
        scale, offset = np.float32(1.0 / np.sqrt(shape[1])), None
    elif kind == "head" or (kind == "embed" and cfg.get("tie_word_embeddings", False)):
        scale, offset = np.float32(2.0 / np.sqrt(h)), None
    elif kind == "embed":
        scale, offset = np.float32(1.0), None
    elif kind == "norm":
        scale, offset = np.float32(0.1), np.float32(1.0)
    elif kind == "bias":
        scale, offset = np.float32(0.1), None
    else:
        raise ValueError(kind)
    for r0 in range(0, rows, rows_per_chunk):
        n = min(rows_per_chunk, rows - r0)
        piece = rng.standard_normal(size=(n,) + tuple(shape[1:]), dtype=np.float32)
        piece *= scale
        if offset is not None:
            piece += offset
        yield piece


def make_tensor(name: str, shape: Tuple[int, ...], kind: str, cfg: dict, seed: int) -> np.ndarray:
    """The whole tensor (concatenated pieces of make_tensor_chunks)."""
    return np.concatenate(list(make_tensor_chunks(name, shape, kind, cfg, seed)), axis=0).reshape(shape)


def write_weights(out_dir: str, cfg: dict, dtype: str, shards: int, seed: int) -> None:
    st_dtype = {"f32": "F32", "f16": "F16", "bf16": "BF16"}[dtype]
    specs = tensor_specs(cfg)
    kinds = {name: (shape, kind) for name, shape, kind in specs}

    def produce(name: str):
        shape, kind = kinds[name]
        return make_tensor_chunks(name, shape, kind, cfg, seed)

    meta = {"format": "pt"}  # what HF's save_pretrained writes
    if shards <= 1:
        safetensors_io.write_safetensors_streaming(
            os.path.join(out_dir, "model.safetensors"),
            [(n, st_dtype, s) for n, s, _ in specs], produce, meta)
        return
    # Split into `shards` files of roughly equal bytes, keeping HF order (greedy fill).
    sizes = [safetensors_io.tensor_nbytes(st_dtype, s) for _, s, _ in specs]
    total = sum(sizes)
    groups: List[List[int]] = [[] for _ in range(shards)]
    acc = 0
    for i, sz in enumerate(sizes):
        g = min(shards - 1, int(acc * shards // max(total, 1)))
        # Never leave a later shard empty: move on when the remaining tensors just cover them.
        remaining = len(specs) - i
        empty_after = sum(1 for k in range(g + 1, shards) if not groups[k])
        if remaining <= empty_after and groups[g]:
            g = next(k for k in range(g + 1, shards) if not groups[k])
        groups[g].append(i)
        acc += sz
    if any(not grp for grp in groups):
        raise SystemExit(f"--shards {shards}: more shards than tensors ({len(specs)})")
    weight_map = {}
    for k, grp in enumerate(groups):
        fname = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        safetensors_io.write_safetensors_streaming(
            os.path.join(out_dir, fname), [(specs[i][0], st_dtype, specs[i][1]) for i in grp], produce, meta)
        for i in grp:
            weight_map[specs[i][0]] = fname
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")


# ----------------------------------------------------------------------------- tokenizer

# Special tokens and chat templates per family. The templates are short versions of the real
# ones (ChatML for Qwen2, header tokens for Llama 3, Zephyr for TinyLlama).
TOKENIZER_STYLES = {
    "qwen2": {
        "specials": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        "bos": None, "config_bos": "<|endoftext|>", "eos": ["<|im_end|>"], "pad": "<|endoftext|>",
        "padding_rows": 4,
        "chat_template": (
            "{%- for message in messages %}"
            "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
            "{%- endfor %}"
            "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"),
        "normalizer": {"type": "NFC"},
        "regex": ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                  "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
        "tokenizer_class": "Qwen2Tokenizer",
    },
    "llama3": {
        "specials": ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                     "<|eot_id|>"],
        "bos": "<|begin_of_text|>", "eos": ["<|end_of_text|>", "<|eot_id|>"], "pad": None,
        "padding_rows": 0,
        "chat_template": (
            "{{- bos_token }}"
            "{%- for message in messages %}"
            "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim"
            " + '<|eot_id|>' }}"
            "{%- endfor %}"
            "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"),
        "normalizer": None,
        "regex": ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                  "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
        "tokenizer_class": "PreTrainedTokenizerFast",
    },
    "llama": {
        # Byte-level BPE with the Llama 2 special names at ids 0..2 (the real TinyLlama uses
        # SentencePiece; that path is covered by stories260K's tokenizer.model).
        "specials": ["<unk>", "<s>", "</s>"],
        "specials_first": True,
        "bos": "<s>", "eos": ["</s>"], "pad": None,
        "padding_rows": 0,
        "chat_template": (
            "{%- for message in messages %}"
            "{{- '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
            "{%- endfor %}"
            "{%- if add_generation_prompt %}{{- '<|assistant|>\\n' }}{%- endif %}"),
        "normalizer": None,
        "regex": ("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"),
        "tokenizer_class": "PreTrainedTokenizerFast",
    },
}

# Training text for the synthetic merges (any English works; merges only need to be valid).
_CORPUS = """
Once upon a time, there was a little girl named Lily. She loved to play outside in the park
with her friends. One day, she saw a big red ball under a tree and wanted to play with it.
The quick brown fox jumps over the lazy dog. It is 12:30 and the weather is nice today; let's
go for a walk! Numbers like 2024 and 3.14159 appear in text, as do questions: what's new?
Hello, world. The model runs on small computers people already own, and the answers are the
same as the reference. They're here, we've seen it, I'll come, you'd know, he's happy.
def main(): return 0  # code has brackets {like} [these] (and) <those> = + - * / %
Ember converts checkpoints, chats, benchmarks and serves an API with tokens and streams.
"""


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character map used by byte-level BPE."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def train_bpe(n_tokens: int) -> Tuple[List[str], List[Tuple[str, str]]]:
    """Tiny BPE training on _CORPUS: (n_tokens new token strings after the 256 bytes, merges)."""
    b2u = bytes_to_unicode()
    words = re.findall(r" ?[A-Za-z]+| ?[0-9]| ?[^\sA-Za-z0-9]+|\s+", _CORPUS)
    counts = Counter(tuple(b2u[b] for b in w.encode("utf-8")) for w in words)
    vocab = set(b2u.values())
    tokens: List[str] = []
    merges: List[Tuple[str, str]] = []
    while len(tokens) < n_tokens:
        pairs: Counter = Counter()
        for w, c in counts.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        # Most frequent, ties broken lexicographically for determinism.
        (a, b), _ = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        merged = a + b
        merges.append((a, b))
        if merged not in vocab:
            vocab.add(merged)
            tokens.append(merged)
        new_counts: Counter = Counter()
        for w, c in counts.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_counts[tuple(out)] += c
        counts = new_counts
    # Corpus exhausted: extend with "Ġ" + letter pairs so the size is exactly right.
    letters = "abcdefghijklmnopqrstuvwxyz"
    extra = ((x, y) for x in ["Ġ"] + list(letters) for y in letters)
    for a, b in extra:
        if len(tokens) >= n_tokens:
            break
        if a + b in vocab or (a not in vocab or b not in vocab):
            continue
        vocab.add(a + b)
        tokens.append(a + b)
        merges.append((a, b))
    return tokens, merges


def tokenizer_size(vocab_size: int, style: str) -> int:
    """Tokens the synthetic tokenizer defines (<= vocab_size; the rest are padding rows)."""
    return vocab_size - TOKENIZER_STYLES[style]["padding_rows"]


def write_synthetic_tokenizer(out_dir: str, cfg: dict, style_name: str) -> None:
    """tokenizer.json (byte-level BPE), tokenizer_config.json (chat template), special_tokens_map.json."""
    style = TOKENIZER_STYLES[style_name]
    specials = style["specials"]
    n_tok = tokenizer_size(int(cfg["vocab_size"]), style_name)
    n_normal = n_tok - len(specials)
    if n_normal < 256:
        raise SystemExit(f"vocab_size {cfg['vocab_size']} too small for a byte-level tokenizer")
    b2u = bytes_to_unicode()
    merged, merges = train_bpe(n_normal - 256)
    # Keep merges consistent with the vocab: a merge's result must be a token.
    normal = [b2u[b] for b in range(256)] + merged
    assert len(normal) == n_normal, (len(normal), n_normal)
    first = len(specials) if style.get("specials_first") else 0
    vocab = {tok: first + i for i, tok in enumerate(normal)}
    special_ids = {s: (i if style.get("specials_first") else n_normal + i) for i, s in enumerate(specials)}
    added = [{"id": special_ids[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for s in specials]
    if style.get("specials_first"):
        # Llama 2 style files list <unk>/<s>/</s> in the model vocab too; Qwen2 and Llama 3
        # keep special tokens only in added_tokens.
        for s, i in special_ids.items():
            vocab[s] = i
    tj = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": style["normalizer"],
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": style["regex"]}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                           "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": dict(sorted(vocab.items(), key=lambda kv: kv[1])),
                  "merges": [f"{a} {b}" for a, b in merges]},
    }
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    name_of = {v: k for k, v in special_ids.items()}
    bos = style["bos"]
    eos_ids = cfg["eos_token_id"] if isinstance(cfg["eos_token_id"], list) else [cfg["eos_token_id"]]
    tc = {
        "add_bos_token": bos is not None,
        "add_eos_token": False,
        "added_tokens_decoder": {str(a["id"]): {k: a[k] for k in ("content", "lstrip", "normalized", "rstrip",
                                                                    "single_word", "special")} for a in added},
        "bos_token": bos,
        "eos_token": name_of[eos_ids[-1]],
        "pad_token": style["pad"],
        "chat_template": style["chat_template"],
        "clean_up_tokenization_spaces": False,
        "model_max_length": int(cfg["max_position_embeddings"]),
        "tokenizer_class": style["tokenizer_class"],
    }
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tc, f, ensure_ascii=False, indent=2)
        f.write("\n")
    stm = {"eos_token": tc["eos_token"]}
    if bos:
        stm["bos_token"] = bos
    if style["pad"]:
        stm["pad_token"] = style["pad"]
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(stm, f, indent=2)
        f.write("\n")


TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                   "vocab.json", "merges.txt", "added_tokens.json")


def copy_tokenizer(src: str, out_dir: str) -> List[str]:
    copied = []
    for name in TOKENIZER_FILES:
        p = os.path.join(src, name)
        if os.path.exists(p):
            shutil.copyfile(p, os.path.join(out_dir, name))
            copied.append(name)
    if not copied:
        raise SystemExit(f"--copy-tokenizer {src}: no tokenizer files found ({', '.join(TOKENIZER_FILES)})")
    return copied


# ----------------------------------------------------------------------------- main

def generation_config(cfg: dict) -> dict:
    g = {"bos_token_id": cfg.get("bos_token_id"), "eos_token_id": cfg.get("eos_token_id"),
         "do_sample": False, "transformers_version": cfg.get("transformers_version", "4.45.0")}
    return {k: v for k, v in g.items() if v is not None}


def generate(out_dir: str, cfg: dict, dtype: str = "f32", shards: int = 1, seed: int = 0,
             tokenizer_style: Optional[str] = None, copy_tokenizer_from: Optional[str] = None,
             gen_cfg: Optional[dict] = None) -> None:
    """Write a complete HF checkpoint directory (the library entry point used by the tests)."""
    os.makedirs(out_dir, exist_ok=True)
    # Remove files of a previous run with a different layout (single vs shards).
    for name in os.listdir(out_dir):
        if name.endswith(".safetensors") or name == "model.safetensors.index.json":
            os.remove(os.path.join(out_dir, name))
    cfg = dict(cfg)
    cfg["torch_dtype"] = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[dtype]
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump(gen_cfg if gen_cfg is not None else generation_config(cfg), f, indent=2)
        f.write("\n")
    if copy_tokenizer_from:
        copy_tokenizer(copy_tokenizer_from, out_dir)
    elif tokenizer_style:
        write_synthetic_tokenizer(out_dir, cfg, tokenizer_style)
    write_weights(out_dir, cfg, dtype, shards, seed)


def generate_preset(name: str, out_dir: str, dtype: str = "f32", shards: int = 1, seed: int = 0) -> dict:
    cfg, style = preset_config(name)
    generate(out_dir, cfg, dtype, shards, seed, tokenizer_style=style)
    return cfg


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Write a deterministic random-weight HF checkpoint.")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", choices=sorted(PRESETS))
    src.add_argument("--config", help="a real config.json (full-size checkpoint)")
    src.add_argument("--list", action="store_true", help="list presets and exit")
    ap.add_argument("out_dir", nargs="?")
    ap.add_argument("--dtype", choices=["f32", "f16", "bf16"], default="f32")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--copy-tokenizer", metavar="DIR", help="copy tokenizer files from DIR")
    ap.add_argument("--no-tokenizer", action="store_true", help="presets: no synthetic tokenizer")
    args = ap.parse_args(argv)
    if args.list:
        for k, p in PRESETS.items():
            print(f"{k:16s} from {p['from']}")
        return 0
    if not args.out_dir:
        ap.error("OUT_DIR is required")
    if args.shards < 1:
        ap.error("--shards must be >= 1")
    if args.preset:
        cfg, style = preset_config(args.preset)
        generate(args.out_dir, cfg, args.dtype, args.shards, args.seed,
                 tokenizer_style=None if (args.no_tokenizer or args.copy_tokenizer) else style,
                 copy_tokenizer_from=args.copy_tokenizer)
    else:
        with open(args.config) as f:
            cfg = json.load(f)
        gen_path = os.path.join(os.path.dirname(os.path.abspath(args.config)), "generation_config.json")
        gen_cfg = None
        if os.path.exists(gen_path):
            with open(gen_path) as f:
                gen_cfg = json.load(f)
        generate(args.out_dir, cfg, args.dtype, args.shards, args.seed,
                 copy_tokenizer_from=args.copy_tokenizer, gen_cfg=gen_cfg)
        # A real tokenizer_config.json (chat template) next to the config, if not copied.
        tc = os.path.join(os.path.dirname(os.path.abspath(args.config)), "tokenizer_config.json")
        if os.path.exists(tc) and not os.path.exists(os.path.join(args.out_dir, "tokenizer_config.json")):
            shutil.copyfile(tc, os.path.join(args.out_dir, "tokenizer_config.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
