#!/usr/bin/python3
"""Independent float64 numpy reference of Hugging Face LlamaForCausalLM / Qwen2ForCausalLM.

Written from the published semantics of the HF models (not copied from transformers):

    h = embed_tokens[ids]                                   # [T, hidden]
    for each layer:
        x = RMSNorm(h) * input_layernorm                    # LlamaRMSNorm
        q = x @ Wq^T (+bq), k = x @ Wk^T (+bk), v = x @ Wv^T (+bv)
        q, k = RoPE(q), RoPE(k)                             # rotate_half convention
        a = causal GQA softmax(q k^T / sqrt(head_dim)) v    # eager_attention_forward
        h = h + a @ Wo^T
        x = RMSNorm(h) * post_attention_layernorm
        h = h + down(silu(gate(x)) * up(x))                 # LlamaMLP
    logits = RMSNorm(h) * norm @ lm_head^T                  # lm_head or tied embed_tokens

RoPE (LlamaRotaryEmbedding + modeling_rope_utils):
    inv_freq[i] = 1 / theta^(2i/d), i < d/2  (then rescaled by rope_scaling: linear, llama3, yarn)
    emb = concat(pos*inv_freq, pos*inv_freq); cos = cos(emb)*attention_factor, sin likewise
    rotate_half(x) = concat(-x[d/2:], x[:d/2]);  x' = x*cos + rotate_half(x)*sin

Everything is computed in float64. Weights can be transformed first to reproduce exactly what
Ember holds after `ember-convert --type T` (see `converter_weights`): rounding matrices to f16 /
bf16, or quantize->dequantize with scripts/ember_quant_ref.py for q8 / q4.

CLI:
    reference_forward.py HF_DIR --tokens 1,2,3 [--greedy N] [--print-logits] [--type q8|q4|f16|bf16|f32]
prints the last-position logits one per line (--print-logits) and/or the greedily generated ids
comma-separated on one line (--greedy N). `--quant q8|q4` is an alias of `--type`.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import ember_quant_ref  # noqa: E402


# ----------------------------------------------------------------------------- config

@dataclass
class Config:
    """The subset of an HF LlamaConfig / Qwen2Config the forward pass needs."""
    arch: str                 # "LlamaForCausalLM" | "Qwen2ForCausalLM"
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    max_position_embeddings: int
    rope_scaling: Optional[dict]
    qkv_bias: bool            # Qwen2: always; Llama: config.attention_bias
    tie_word_embeddings: bool
    bos_token_id: Optional[int] = None
    eos_token_ids: List[int] = field(default_factory=list)

    @staticmethod
    def from_hf(cfg: dict) -> "Config":
        arch = (cfg.get("architectures") or ["LlamaForCausalLM"])[0]
        if arch not in ("LlamaForCausalLM", "Qwen2ForCausalLM"):
            raise ValueError(f"unsupported architecture {arch}")
        hidden = int(cfg["hidden_size"])
        heads = int(cfg["num_attention_heads"])
        # HF: head_dim = config.head_dim if set, else hidden_size // num_attention_heads.
        head_dim = int(cfg.get("head_dim") or hidden // heads)
        eos = cfg.get("eos_token_id")
        eos_ids = [] if eos is None else ([int(eos)] if isinstance(eos, int) else [int(e) for e in eos])
        qkv_bias = True if arch == "Qwen2ForCausalLM" else bool(cfg.get("attention_bias", False))
        # Qwen2Config defaults tie_word_embeddings to False, LlamaConfig too.
        return Config(
            arch=arch,
            vocab_size=int(cfg["vocab_size"]),
            hidden_size=hidden,
            intermediate_size=int(cfg["intermediate_size"]),
            num_layers=int(cfg["num_hidden_layers"]),
            num_heads=heads,
            num_kv_heads=int(cfg.get("num_key_value_heads") or heads),
            head_dim=head_dim,
            rms_norm_eps=float(cfg.get("rms_norm_eps", 1e-6)),
            rope_theta=float(cfg.get("rope_theta", 10000.0)),
            max_position_embeddings=int(cfg.get("max_position_embeddings", 2048)),
            rope_scaling=cfg.get("rope_scaling"),
            qkv_bias=qkv_bias,
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            bos_token_id=cfg.get("bos_token_id"),
            eos_token_ids=eos_ids,
        )


# ----------------------------------------------------------------------------- RoPE

def rope_type(rope_scaling: Optional[dict]) -> str:
    """HF reads rope_scaling["rope_type"], falling back to the legacy key "type"."""
    if not rope_scaling:
        return "default"
    return rope_scaling.get("rope_type", rope_scaling.get("type", "default"))


def compute_default_rope_parameters(theta: float, dim: int):
    """_compute_default_rope_parameters: inv_freq[i] = 1 / theta^(2i/dim); attention factor 1."""
    exponents = np.arange(0, dim, 2, dtype=np.float64) / dim       # [dim/2]
    return 1.0 / (theta ** exponents), 1.0


def compute_linear_scaling_rope_parameters(theta: float, dim: int, rs: dict):
    """_compute_linear_scaling_rope_parameters: inv_freq / factor."""
    inv_freq, af = compute_default_rope_parameters(theta, dim)
    return inv_freq / float(rs["factor"]), af


def compute_llama3_parameters(theta: float, dim: int, rs: dict):
    """_compute_llama3_parameters (Llama 3.1 / 3.2).

    wavelen = 2*pi / inv_freq;
      wavelen < orig/high_freq_factor           -> unchanged (high frequencies)
      wavelen > orig/low_freq_factor            -> inv_freq / factor (low frequencies)
      otherwise smooth = (orig/wavelen - low) / (high - low);
                inv = (1 - smooth) * inv/factor + smooth * inv
    """
    inv_freq, af = compute_default_rope_parameters(theta, dim)
    factor = float(rs["factor"])
    low = float(rs["low_freq_factor"])
    high = float(rs["high_freq_factor"])
    old_ctx = float(rs["original_max_position_embeddings"])
    low_freq_wavelen = old_ctx / low
    high_freq_wavelen = old_ctx / high
    wavelen = 2.0 * math.pi / inv_freq
    inv_llama = np.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_ctx / wavelen - low) / (high - low)
    smoothed = (1.0 - smooth) * inv_llama / factor + smooth * inv_llama
    is_medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
    return np.where(is_medium, smoothed, inv_llama), af


def compute_yarn_parameters(theta: float, dim: int, rs: dict, max_position_embeddings: int):
    """_compute_yarn_parameters (YaRN, e.g. Qwen2.5 long context).

    attention_factor = rs.attention_factor or 0.1*ln(factor) + 1 (1 when factor <= 1); it
    multiplies cos and sin, so q.k is scaled by its square.
    The correction range uses rs.original_max_position_embeddings when present, otherwise
    config.max_position_embeddings (older HF always used the latter; for Qwen2.5's published
    yarn settings the two are equal).
    """
    factor = float(rs["factor"])
    attention_factor = rs.get("attention_factor")
    if attention_factor is None:
        attention_factor = 0.1 * math.log(factor) + 1.0 if factor > 1.0 else 1.0
    beta_fast = float(rs.get("beta_fast") or 32.0)
    beta_slow = float(rs.get("beta_slow") or 1.0)
    orig = float(rs.get("original_max_position_embeddings") or max_position_embeddings)

    def find_correction_dim(num_rotations: float) -> float:
        return (dim * math.log(orig / (num_rotations * 2.0 * math.pi))) / (2.0 * math.log(theta))

    low = max(math.floor(find_correction_dim(beta_fast)), 0)
    high = min(math.ceil(find_correction_dim(beta_slow)), dim - 1)
    if low == high:
        high += 0.001  # HF: prevent singularity
    ramp = np.clip((np.arange(dim // 2, dtype=np.float64) - low) / (high - low), 0.0, 1.0)
    extrapolation_factor = 1.0 - ramp

    pos_freqs = theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    inv_extrapolation = 1.0 / pos_freqs
    inv_interpolation = 1.0 / (factor * pos_freqs)
    inv_freq = inv_interpolation * (1.0 - extrapolation_factor) + inv_extrapolation * extrapolation_factor
    return inv_freq, float(attention_factor)


def rope_parameters(cfg: Config):
    """(inv_freq [head_dim/2], attention_factor) for this config, per ROPE_INIT_FUNCTIONS."""
    t = rope_type(cfg.rope_scaling)
    d = cfg.head_dim
    if t == "default":
        return compute_default_rope_parameters(cfg.rope_theta, d)
    if t == "linear":
        return compute_linear_scaling_rope_parameters(cfg.rope_theta, d, cfg.rope_scaling)
    if t == "llama3":
        return compute_llama3_parameters(cfg.rope_theta, d, cfg.rope_scaling)
    if t == "yarn":
        return compute_yarn_parameters(cfg.rope_theta, d, cfg.rope_scaling, cfg.max_position_embeddings)
    raise ValueError(f"unsupported rope_scaling type {t!r}")


def rope_cos_sin(inv_freq: np.ndarray, attention_factor: float, positions: np.ndarray):
    """LlamaRotaryEmbedding.forward: cos/sin [T, head_dim] = cos/sin(cat(f, f)) * attention_factor."""
    freqs = np.outer(positions.astype(np.float64), inv_freq)          # [T, d/2]
    emb = np.concatenate([freqs, freqs], axis=-1)                      # [T, d]
    return np.cos(emb) * attention_factor, np.sin(emb) * attention_factor


def rotate_half(x: np.ndarray) -> np.ndarray:
    """concat(-x2, x1) over the last axis, x = concat(x1, x2)."""
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def apply_rotary_pos_emb(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """x: [heads, T, d]; cos/sin: [T, d]."""
    return x * cos[None] + rotate_half(x) * sin[None]


# ----------------------------------------------------------------------------- model

@dataclass
class Model:
    config: Config
    weights: Dict[str, np.ndarray]   # float64, HF names
    inv_freq: np.ndarray
    attention_factor: float
    weight_type: str = "checkpoint"  # what converter_weights applied
    # Ember's fast int8 kernels (AVX2, NEON) quantize the input rows of every q8/q4 matmul
    # to q8 blocks (kernels/quant.h) before the integer dot products. With act_quant the
    # reference does the same, so it reproduces those kernels and not only the weights.
    act_quant: bool = False

    def act(self, x: np.ndarray) -> np.ndarray:
        """The activation rows a matmul sees: as is, or q8-quantized like Ember's int8 kernels."""
        if not self.act_quant:
            return x
        return ember_quant_ref.fake_quantize(x.astype(np.float32), "q8").astype(np.float64)

    def w(self, name: str) -> np.ndarray:
        return self.weights[name]

    @property
    def lm_head(self) -> np.ndarray:
        if "lm_head.weight" in self.weights and not self.config.tie_word_embeddings:
            return self.weights["lm_head.weight"]
        return self.weights["model.embed_tokens.weight"]


def is_matrix_weight(name: str, arr: np.ndarray) -> bool:
    """Weight matrices (what the converter may store as f16/bf16/q8/q4); norms and biases are vectors."""
    return arr.ndim == 2


def converter_weights(weights: Dict[str, np.ndarray], weight_type: Optional[str]) -> Dict[str, np.ndarray]:
    """Reproduce the weights Ember holds after `ember-convert --type weight_type`.

    f32  : every value widened to f32 (exact from f16/bf16 checkpoints)
    f16 / bf16 : matrices rounded to that type, norms and biases f32
    q8   : every matrix quantize->dequantize q8
    q4   : body matrices (q/k/v/o/gate/up/down) q4; embed_tokens and lm_head q8
    None / "checkpoint": the checkpoint's values as stored, no conversion.
    Inputs are float64/float32 arrays; outputs float64.
    """
    out: Dict[str, np.ndarray] = {}
    t = (weight_type or "checkpoint").lower()
    for name, arr in weights.items():
        a32 = np.asarray(arr, dtype=np.float32)  # the converter reads every dtype into f32 first
        if t == "checkpoint" or not is_matrix_weight(name, arr):
            out[name] = np.asarray(arr, dtype=np.float64) if t == "checkpoint" else a32.astype(np.float64)
            continue
        if t in ("f32", "f16", "bf16"):
            out[name] = safetensors_io.round_to_dtype(a32, t)
        elif t in ("q8", "q4"):
            is_embedding = name in ("model.embed_tokens.weight", "lm_head.weight")
            fmt = "q8" if (t == "q8" or is_embedding) else "q4"
            out[name] = ember_quant_ref.fake_quantize(a32, fmt).astype(np.float64)
        else:
            raise ValueError(f"unknown weight type {weight_type!r}")
    return out


def load_model(hf_dir: str, weight_type: Optional[str] = None) -> Model:
    """Read config.json + safetensors (single or sharded) from an HF directory."""
    with open(os.path.join(hf_dir, "config.json")) as f:
        cfg = Config.from_hf(json.load(f))
    raw, _dtypes = safetensors_io.load_checkpoint(hf_dir)
    weights = converter_weights(raw, weight_type)
    inv_freq, af = rope_parameters(cfg)
    return Model(cfg, weights, inv_freq, af, weight_type or "checkpoint")


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """LlamaRMSNorm / Qwen2RMSNorm: x / sqrt(mean(x^2) + eps) * weight, over the last axis."""
    var = np.mean(x * x, axis=-1, keepdims=True)
    return x / np.sqrt(var + eps) * weight


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


class KVCache:
    """Per-layer K and V of the tokens seen so far: lists of [kv_heads, T, head_dim]."""

    def __init__(self, n_layers: int):
        self.k: List[Optional[np.ndarray]] = [None] * n_layers
        self.v: List[Optional[np.ndarray]] = [None] * n_layers
        self.length = 0

    def append(self, layer: int, k: np.ndarray, v: np.ndarray):
        if self.k[layer] is None:
            self.k[layer], self.v[layer] = k, v
        else:
            self.k[layer] = np.concatenate([self.k[layer], k], axis=1)
            self.v[layer] = np.concatenate([self.v[layer], v], axis=1)
        return self.k[layer], self.v[layer]


def attention(model: Model, layer: int, x: np.ndarray, positions: np.ndarray, cache: KVCache) -> np.ndarray:
    """LlamaAttention / Qwen2Attention on x [T, hidden] (already normed) -> [T, hidden]."""
    c = model.config
    p = f"model.layers.{layer}.self_attn."
    T = x.shape[0]
    x = model.act(x)
    q = x @ model.w(p + "q_proj.weight").T                         # [T, heads*d]
    k = x @ model.w(p + "k_proj.weight").T                         # [T, kv*d]
    v = x @ model.w(p + "v_proj.weight").T                         # [T, kv*d]
    if c.qkv_bias:
        q = q + model.w(p + "q_proj.bias")
        k = k + model.w(p + "k_proj.bias")
        v = v + model.w(p + "v_proj.bias")
    q = q.reshape(T, c.num_heads, c.head_dim).transpose(1, 0, 2)     # [heads, T, d]
    k = k.reshape(T, c.num_kv_heads, c.head_dim).transpose(1, 0, 2)  # [kv, T, d]
    v = v.reshape(T, c.num_kv_heads, c.head_dim).transpose(1, 0, 2)  # [kv, T, d]
    cos, sin = rope_cos_sin(model.inv_freq, model.attention_factor, positions)
    q = apply_rotary_pos_emb(q, cos, sin)
    k = apply_rotary_pos_emb(k, cos, sin)
    k_all, v_all = cache.append(layer, k, v)                         # [kv, S, d], S = past + T
    S = k_all.shape[1]
    # repeat_kv: query head h uses kv head h // (heads / kv_heads).
    group = c.num_heads // c.num_kv_heads
    k_rep = np.repeat(k_all, group, axis=0)                          # [heads, S, d]
    v_rep = np.repeat(v_all, group, axis=0)
    scores = q @ k_rep.transpose(0, 2, 1) / math.sqrt(c.head_dim)    # [heads, T, S]
    # Causal mask: query at absolute position positions[t] sees keys at 0..positions[t].
    key_pos = np.arange(S)
    mask = key_pos[None, :] > positions[:, None]                     # [T, S]
    scores = np.where(mask[None], -np.inf, scores)
    scores = scores - scores.max(axis=-1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=-1, keepdims=True)
    out = probs @ v_rep                                              # [heads, T, d]
    out = out.transpose(1, 0, 2).reshape(T, c.num_heads * c.head_dim)
    return model.act(out) @ model.w(p + "o_proj.weight").T           # [T, hidden]


def mlp(model: Model, layer: int, x: np.ndarray) -> np.ndarray:
    """LlamaMLP / Qwen2MLP: down(silu(gate(x)) * up(x))."""
    p = f"model.layers.{layer}.mlp."
    x = model.act(x)
    gate = x @ model.w(p + "gate_proj.weight").T                     # [T, inter]
    up = x @ model.w(p + "up_proj.weight").T                         # [T, inter]
    return model.act(silu(gate) * up) @ model.w(p + "down_proj.weight").T  # [T, hidden]


def forward(model: Model, token_ids: Sequence[int], cache: Optional[KVCache] = None) -> np.ndarray:
    """LlamaForCausalLM.forward: logits [T, vocab] (float64) for token_ids.

    With a cache, token_ids continue the cached sequence (positions start at cache.length).
    """
    c = model.config
    ids = np.asarray(token_ids, dtype=np.int64)
    if ids.ndim != 1 or ids.size == 0:
        raise ValueError("token_ids must be a non-empty 1-D sequence")
    if ids.min() < 0 or ids.max() >= c.vocab_size:
        raise ValueError(f"token id out of range [0, {c.vocab_size})")
    if cache is None:
        cache = KVCache(c.num_layers)
    positions = np.arange(cache.length, cache.length + ids.size)
    h = model.w("model.embed_tokens.weight")[ids]                     # [T, hidden]
    for layer in range(c.num_layers):
        p = f"model.layers.{layer}."
        x = rms_norm(h, model.w(p + "input_layernorm.weight"), c.rms_norm_eps)
        h = h + attention(model, layer, x, positions, cache)
        x = rms_norm(h, model.w(p + "post_attention_layernorm.weight"), c.rms_norm_eps)
        h = h + mlp(model, layer, x)
    cache.length += ids.size
    h = rms_norm(h, model.w("model.norm.weight"), c.rms_norm_eps)
    return model.act(h) @ model.lm_head.T                            # [T, vocab]


def greedy(model: Model, prompt_ids: Sequence[int], n: int,
           stop_ids: Sequence[int] = ()) -> List[int]:
    """Generate up to n tokens by argmax (first index on ties), with a KV cache.

    Stops after emitting a token in stop_ids (that token is included in the result).
    """
    cache = KVCache(model.config.num_layers)
    logits = forward(model, prompt_ids, cache)
    out: List[int] = []
    for _ in range(n):
        nxt = int(np.argmax(logits[-1]))
        out.append(nxt)
        if nxt in stop_ids or len(out) == n:
            break
        logits = forward(model, [nxt], cache)
    return out


# ----------------------------------------------------------------------------- CLI

def parse_ids(s: str) -> List[int]:
    return [int(t) for t in s.replace(" ", "").split(",") if t != ""]


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("hf_dir")
    ap.add_argument("--tokens", required=True, help="comma-separated prompt ids")
    ap.add_argument("--greedy", type=int, default=0, metavar="N", help="generate N ids greedily")
    ap.add_argument("--stop-at-eos", action="store_true", help="stop --greedy at the config's eos ids")
    ap.add_argument("--print-logits", action="store_true", help="print last-position logits, one per line")
    ap.add_argument("--type", "--quant", dest="type", default=None,
                    choices=["f32", "f16", "bf16", "q8", "q4"],
                    help="transform weights as ember-convert --type would before the forward")
    args = ap.parse_args(argv)
    model = load_model(args.hf_dir, args.type)
    ids = parse_ids(args.tokens)
    if args.print_logits:
        logits = forward(model, ids)[-1]
        sys.stdout.write("".join(f"{v:.9g}\n" for v in logits))
    if args.greedy > 0:
        stop = model.config.eos_token_ids if args.stop_at_eos else ()
        print(",".join(str(t) for t in greedy(model, ids, args.greedy, stop)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
