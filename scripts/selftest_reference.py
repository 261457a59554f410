#!/usr/bin/python3
"""Self-checks of the Python references (needs only numpy; stories260K part needs ../shared).

    scripts/selftest_reference.py [--shared DIR]

  - safetensors_io: write/read round trip for F32/F16/BF16, header padding, bf16 rounding
    (ties to even, NaN) on hand-picked bit patterns, sharded checkpoint loading
  - RoPE: llama3 / yarn / linear inverse frequencies against scalar hand computations written
    from the formulas (a different code shape than reference_forward), the three llama3
    bands present in the llama3-tiny preset; rotate_half == complex rotation of the pairs
    (i, i + d/2); q.k after RoPE depends only on the position difference
  - forward: causal (a prefix's logits do not change when tokens are appended), KV-cache
    incremental decoding == full forward, GQA == explicitly repeated K/V heads, tied head
  - ember_quant_ref: block formats' properties (error bounds, extreme value exact in q4,
    zero-padded tail, pack/unpack round trip), converter dtype rule
  - gen_checkpoint: deterministic, dtype/shard independent values
  - stories260K (if present): greedy from BOS decodes to the published first sentence
Prints PASS/FAIL per check; exit 1 on any failure.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

import ember_quant_ref as q  # noqa: E402
import gen_checkpoint  # noqa: E402
import reference_forward as rf  # noqa: E402
import safetensors_io as st  # noqa: E402

FAILURES = []


def check(ok, msg):
    print(("PASS " if ok else "FAIL ") + msg)
    if not ok:
        FAILURES.append(msg)


# ----------------------------------------------------------------------------- safetensors

def test_safetensors(tmp):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 5)).astype(np.float32)
    b = rng.standard_normal((7,)).astype(np.float32)
    c = rng.standard_normal((2, 2, 3)).astype(np.float32)
    path = os.path.join(tmp, "t.safetensors")
    st.write_safetensors(path, {"a": ("F32", a), "b": ("F16", b), "c": ("BF16", c)}, {"format": "pt"})
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    check(n % 8 == 0, f"safetensors header length {n} is a multiple of 8")
    check(header["__metadata__"] == {"format": "pt"}, "safetensors metadata kept")
    check(header["b"] == {"dtype": "F16", "shape": [7], "data_offsets": [60, 74]}, "safetensors offsets")
    back = st.read_safetensors(path)
    check(np.array_equal(back["a"], a), "F32 round trip exact")
    check(np.array_equal(back["b"], b.astype(np.float16)), "F16 round trip = numpy RNE half")
    check(np.array_equal(back["c"], st.bf16_bits_to_f32(st.f32_to_bf16_bits(c))), "BF16 round trip")
    # bf16 rounding on bit patterns: 0x3F808000 is a tie between 0x3F80 and 0x3F81 -> even 0x3F80;
    # 0x3F818000 ties between 0x3F81 and 0x3F82 -> 0x3F82; 0x3F808001 rounds up; NaN stays NaN.
    bits = np.array([0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF, 0x7FC00001, 0xFF800000], dtype=np.uint32)
    got = st.f32_to_bf16_bits(bits.view(np.float32))
    check(list(got[:4]) == [0x3F80, 0x3F82, 0x3F81, 0x3F80] and (got[4] & 0x7FFF) > 0x7F80 and got[5] == 0xFF80,
          f"bf16 round-to-nearest-even and NaN: {[hex(x) for x in got]}")


# ----------------------------------------------------------------------------- RoPE

def hand_llama3(theta, dim, factor, low, high, orig):
    """Scalar Llama 3.1 frequency scaling, written from Meta's apply_scaling in terms of
    frequencies (not wavelengths) as a second derivation."""
    out = []
    for i in range(0, dim, 2):
        freq = 1.0 / theta ** (i / dim)
        wavelen = 2 * math.pi / freq
        if wavelen < orig / high:
            out.append(freq)
        elif wavelen > orig / low:
            out.append(freq / factor)
        else:
            smooth = (orig / wavelen - low) / (high - low)
            out.append((1 - smooth) * freq / factor + smooth * freq)
    return np.array(out)


def hand_yarn(theta, dim, factor, orig, beta_fast=32.0, beta_slow=1.0):
    """Scalar YaRN (Peng et al. 2023, eq. 'NTK-by-parts' + mscale)."""
    def corr_dim(rot):
        return dim * math.log(orig / (rot * 2 * math.pi)) / (2 * math.log(theta))
    lo = max(math.floor(corr_dim(beta_fast)), 0)
    hi = min(math.ceil(corr_dim(beta_slow)), dim - 1)
    if lo == hi:
        hi += 0.001
    out = []
    for j in range(dim // 2):
        base = theta ** (-2 * j / dim)
        ramp = min(max((j - lo) / (hi - lo), 0.0), 1.0)  # 0: keep (extrapolate), 1: interpolate
        out.append(base * (1 - ramp) + (base / factor) * ramp)
    return np.array(out), 0.1 * math.log(factor) + 1.0


def test_rope():
    # Llama-3.2-1B's real values.
    real = dict(factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=8192)
    got, af = rf.compute_llama3_parameters(500000.0, 64, real)
    want = hand_llama3(500000.0, 64, 32.0, 1.0, 4.0, 8192)
    check(np.allclose(got, want, rtol=1e-14, atol=0) and af == 1.0, "llama3 scaling (Llama-3.2-1B config) == hand")
    # Spot values worked out by hand for dim 64, theta 5e5 (ln = 13.1224), factor 32, orig 8192
    # (bands: wavelen < 2048 kept, > 8192 divided by 32, in between smoothed):
    #   j=0 : freq 1, wavelen 6.28 -> 1
    #   j=10: freq = e^(-13.1224 * 20/64) = 0.016560, wavelen 379 -> unchanged
    #   j=15: freq = e^(-13.1224 * 30/64) = 2.1314e-3, wavelen 2948.3 -> smoothed:
    #         s = (8192/2948.3 - 1)/3 = 0.59285; (1-s) * f/32 + s * f = 1.2905e-3
    #   j=20: freq = e^(-13.1224 * 40/64) = 2.7424e-4, wavelen 22911 -> / 32 = 8.5703e-6
    check(abs(got[0] - 1.0) < 1e-15 and abs(got[10] - 0.016560) < 1e-6 and abs(got[15] - 1.2905e-3) < 1e-7
          and abs(got[20] - 8.5703e-6) < 1e-10,
          f"llama3 spot values j=0,10,15,20 match hand arithmetic: {got[[0, 10, 15, 20]]}")
    # The llama3-tiny preset hits all three bands.
    cfg, _ = gen_checkpoint.preset_config("llama3-tiny")
    c = rf.Config.from_hf(cfg)
    inv, _ = rf.rope_parameters(c)
    base, _ = rf.compute_default_rope_parameters(c.rope_theta, c.head_dim)
    ratio = inv / base
    kept = np.isclose(ratio, 1.0)
    divided = np.isclose(ratio, 1 / 32)
    smoothed = ~kept & ~divided
    check(kept.any() and divided.any() and smoothed.any(),
          f"llama3-tiny: bands kept/smoothed/divided = {int(kept.sum())}/{int(smoothed.sum())}/{int(divided.sum())}")
    check(np.allclose(inv, hand_llama3(c.rope_theta, c.head_dim, 32.0, 1.0, 4.0, 64), rtol=1e-14, atol=0),
          "llama3-tiny inv_freq == hand")
    # YaRN.
    got, af = rf.compute_yarn_parameters(1e6, 16, {"type": "yarn", "factor": 4.0,
                                                    "original_max_position_embeddings": 64}, 256)
    want, waf = hand_yarn(1e6, 16, 4.0, 64)
    check(np.allclose(got, want, rtol=1e-14, atol=0) and abs(af - waf) < 1e-15,
          f"yarn inv_freq and attention factor {af:.6f} == hand")
    got, af = rf.compute_yarn_parameters(1e6, 128, {"type": "yarn", "factor": 4.0,
                                                     "original_max_position_embeddings": 32768}, 32768)
    want, waf = hand_yarn(1e6, 128, 4.0, 32768)
    check(np.allclose(got, want, rtol=1e-14, atol=0), "yarn (Qwen2.5 long-context settings) == hand")
    got, af = rf.compute_yarn_parameters(1e6, 16, {"type": "yarn", "factor": 4.0, "attention_factor": 0.5}, 64)
    check(af == 0.5, "yarn explicit attention_factor is used")
    got, _ = rf.compute_linear_scaling_rope_parameters(1e4, 8, {"type": "linear", "factor": 2.0})
    check(np.allclose(got, [0.5, 0.05, 0.005, 0.0005]), f"linear scaling {got}")
    check(rf.rope_type({"type": "yarn"}) == "yarn" and rf.rope_type(None) == "default", "legacy 'type' key")

    # rotate_half == complex rotation of (x_i, x_{i+h}) by pos * inv_freq_i.
    rng = np.random.default_rng(3)
    d = 16
    inv, _ = rf.compute_default_rope_parameters(10000.0, d)
    x = rng.standard_normal((1, 1, d))
    pos = 7
    cos, sin = rf.rope_cos_sin(inv, 1.0, np.array([pos]))
    y = rf.apply_rotary_pos_emb(x, cos, sin)[0, 0]
    z = (x[0, 0, : d // 2] + 1j * x[0, 0, d // 2:]) * np.exp(1j * pos * inv)
    check(np.allclose(y, np.concatenate([z.real, z.imag]), atol=1e-14), "rotate_half == complex rotation of halves")
    # Relative position: <R(m) q, R(n) k> depends on m - n only.
    qv, kv = rng.standard_normal((1, 1, d)), rng.standard_normal((1, 1, d))

    def dot(m, n):
        cm, sm = rf.rope_cos_sin(inv, 1.0, np.array([m]))
        cn, sn = rf.rope_cos_sin(inv, 1.0, np.array([n]))
        return float(np.sum(rf.apply_rotary_pos_emb(qv, cm, sm) * rf.apply_rotary_pos_emb(kv, cn, sn)))
    check(abs(dot(10, 3) - dot(27, 20)) < 1e-12, "RoPE dot product depends only on position difference")


# ----------------------------------------------------------------------------- forward

def test_forward(tmp):
    for preset in ("qwen2-tiny", "llama-tiny", "llama3-tiny", "qwen2-yarn-tiny"):
        d = os.path.join(tmp, preset)
        gen_checkpoint.generate_preset(preset, d, "f32", 1, 7)
        m = rf.load_model(d)
        ids = list(np.random.default_rng(5).integers(0, m.config.vocab_size, 40))
        full = rf.forward(m, ids)
        pre = rf.forward(m, ids[:17])
        check(np.allclose(full[:17], pre, rtol=0, atol=1e-12), f"{preset}: causal (prefix logits unchanged)")
        cache = rf.KVCache(m.config.num_layers)
        inc = np.vstack([rf.forward(m, ids[:16], cache)] + [rf.forward(m, [t], cache) for t in ids[16:]])
        check(np.allclose(full, inc, rtol=0, atol=1e-11), f"{preset}: KV-cache decoding == full forward")
        spread = float(np.std(full[-1]))
        check(1.0 < spread < 5.0, f"{preset}: logits std {spread:.2f} (reasonable spread)")
    # GQA: a model whose K/V heads are physically repeated into MHA gives the same logits.
    d = os.path.join(tmp, "llama-tiny")
    m = rf.load_model(d)
    c = m.config
    group = c.num_heads // c.num_kv_heads
    mha_w = dict(m.weights)
    for layer in range(c.num_layers):
        for nm in ("k_proj", "v_proj"):
            key = f"model.layers.{layer}.self_attn.{nm}.weight"
            w = m.weights[key].reshape(c.num_kv_heads, c.head_dim, -1)
            mha_w[key] = np.repeat(w, group, axis=0).reshape(c.num_heads * c.head_dim, -1)
    import dataclasses
    mha = rf.Model(dataclasses.replace(c, num_kv_heads=c.num_heads), mha_w, m.inv_freq, m.attention_factor)
    ids = [3, 9, 27, 81, 243]
    check(np.allclose(rf.forward(m, ids), rf.forward(mha, ids), atol=1e-12), "GQA == explicitly repeated K/V heads")
    # Tied head uses embed_tokens; untied uses lm_head.
    mq = rf.load_model(os.path.join(tmp, "qwen2-tiny"))
    check(mq.lm_head is mq.weights["model.embed_tokens.weight"], "qwen2-tiny: tied head = embed_tokens")
    check(m.lm_head is m.weights["lm_head.weight"], "llama-tiny: untied lm_head")


# ----------------------------------------------------------------------------- quant

def test_quant():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((16, 172)).astype(np.float32)
    s8, q8 = q.quantize_q8(x)
    y8 = q.dequantize_q8(s8, q8, 172)
    step = np.repeat(s8.astype(np.float32), 32, axis=1)[:, :172]
    check(np.all(np.abs(x - y8) <= step / 2 * (1 + 1e-6)), "q8: |x - deq| <= scale/2")
    check(np.all(s8.astype(np.float32) * 127 >= np.max(np.abs(np.pad(x, ((0, 0), (0, 20)))).reshape(16, 6, 32), -1)),
          "q8: stored scale never below absmax/127 (no clamping)")
    check(np.all(q8[:, 5, 12:] == 0), "q8: padded tail of the last block is zero")
    s4, n4 = q.quantize_q4(x)
    y4 = q.dequantize_q4(s4, n4, 172)
    blocks = np.pad(x, ((0, 0), (0, 20))).reshape(16, 6, 32)
    idx = np.argmax(np.abs(blocks), axis=-1)
    ext = np.take_along_axis(blocks, idx[..., None], -1)[..., 0]
    ext_deq = np.take_along_axis(np.pad(y4, ((0, 0), (0, 20))).reshape(16, 6, 32), idx[..., None], -1)[..., 0]
    check(np.all(np.take_along_axis(n4, idx[..., None], -1) == 0), "q4: block extreme maps to nibble 0")
    check(np.all(np.abs(ext_deq - ext) <= np.abs(ext) * 2 ** -10), "q4: extreme value kept within one f16 step")
    step4 = np.repeat(np.abs(s4.astype(np.float32)), 32, axis=1)[:, :172]
    check(np.all(np.abs(x - y4) <= step4 * (1 + 1e-6)), "q4: |x - deq| <= |scale| (<= scale/2 except opposite extreme)")
    raw = q.pack_q4(s4, n4)
    check(len(raw) == 16 * 6 * 18, "q4: 18 bytes per block")
    s4b, n4b = q.unpack_q4(raw, 16, 172)
    check(np.array_equal(s4b.view(np.uint16), s4.view(np.uint16)) and np.array_equal(n4b, n4), "q4 pack/unpack")
    raw8 = q.pack_q8(s8, q8)
    s8b, q8b = q.unpack_q8(raw8, 16, 172)
    check(len(raw8) == 16 * 6 * 34 and np.array_equal(q8b, q8), "q8 pack/unpack, 34 bytes per block")
    z = np.zeros((1, 40), np.float32)
    check(np.all(q.fake_quantize(z, "q8") == 0) and np.all(q.fake_quantize(z, "q4") == 0), "all-zero blocks")
    # Scales in the f16 subnormal range (absmax/127 < 6.1e-5): stored scale rounds up, never
    # down, so nothing clamps and the half-step bound still holds.
    small = (rng.standard_normal((4, 64)) * 1e-5).astype(np.float32)
    ss, sq = q.quantize_q8(small)
    sd = q.dequantize_q8(ss, sq, 64)
    sstep = np.repeat(ss.astype(np.float32), 32, axis=1)
    check(np.all(np.abs(small - sd) <= sstep / 2 * (1 + 1e-6)) and np.all(np.abs(sq) <= 127),
          "q8 with subnormal f16 scales: |x - deq| <= scale/2")
    # Converter rule.
    w = {"model.embed_tokens.weight": x[:, :64], "model.layers.0.mlp.down_proj.weight": x,
         "model.layers.0.input_layernorm.weight": x[0], "model.layers.0.self_attn.q_proj.bias": x[1]}
    cw = rf.converter_weights(w, "q4")
    check(np.array_equal(cw["model.embed_tokens.weight"], q.fake_quantize(x[:, :64], "q8")), "q4 rule: embed q8")
    check(np.array_equal(cw["model.layers.0.mlp.down_proj.weight"], q.fake_quantize(x, "q4")), "q4 rule: body q4")
    check(np.array_equal(cw["model.layers.0.input_layernorm.weight"], x[0]) and
          np.array_equal(cw["model.layers.0.self_attn.q_proj.bias"], x[1]), "norms and biases stay f32")
    cw = rf.converter_weights(w, "bf16")
    check(np.array_equal(cw["model.layers.0.mlp.down_proj.weight"], st.round_to_dtype(x, "bf16")), "bf16 rule")


# ----------------------------------------------------------------------------- generator

def test_generator(tmp):
    a, b, c = (os.path.join(tmp, n) for n in ("ga", "gb", "gc"))
    gen_checkpoint.generate_preset("llama-tiny", a, "f32", 1, 42)
    gen_checkpoint.generate_preset("llama-tiny", b, "f32", 1, 42)
    gen_checkpoint.generate_preset("llama-tiny", c, "bf16", 3, 42)
    with open(os.path.join(a, "model.safetensors"), "rb") as fa, open(os.path.join(b, "model.safetensors"), "rb") as fb:
        check(fa.read() == fb.read(), "gen_checkpoint: same seed -> identical bytes")
    ta, _ = st.load_checkpoint(a)
    tc, dc = st.load_checkpoint(c)
    check(set(ta) == set(tc) and all(v == "BF16" for v in dc.values()), "3 shards hold every tensor, all BF16")
    check(all(np.array_equal(tc[k], st.round_to_dtype(ta[k], "bf16").astype(np.float32)) for k in ta),
          "bf16 checkpoint = f32 checkpoint rounded (values independent of dtype and shards)")
    with open(os.path.join(c, "model.safetensors.index.json")) as f:
        wm = json.load(f)["weight_map"]
    check(len(set(wm.values())) == 3 and set(wm) == set(ta), "index weight_map covers 3 files")
    cfg = json.load(open(os.path.join(a, "config.json")))
    check(cfg["intermediate_size"] % 32 != 0, "llama-tiny intermediate_size not a multiple of 32")
    tok = json.load(open(os.path.join(a, "tokenizer.json")))
    ntok = len(tok["model"]["vocab"]) + sum(1 for t in tok["added_tokens"] if t["content"] not in tok["model"]["vocab"])
    check(ntok == cfg["vocab_size"], f"synthetic tokenizer has {ntok} tokens = vocab_size")
    merges = [m.split(" ") for m in tok["model"]["merges"]]
    v = tok["model"]["vocab"]
    check(all(x in v and y in v and x + y in v for x, y in merges), "every merge's parts and result are tokens")


def test_stories(shared):
    model_dir = os.path.join(shared, "models", "stories260K")
    if not os.path.isfile(os.path.join(model_dir, "model.safetensors")):
        print("SKIP stories260K: ../shared/models/stories260K not found")
        return
    m = rf.load_model(model_dir)
    ids = rf.greedy(m, [1], 200, stop_ids=m.config.eos_token_ids)
    try:
        import sentencepiece as spm
    except ImportError:
        print("SKIP stories260K decode: python3-sentencepiece missing")
        return
    sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "tokenizer.model"))
    text = sp.decode(ids)
    check(text.startswith("Once upon a time, there was a little girl named Lily."),
          f"stories260K greedy from BOS ({len(ids)} ids): {text[:70]!r}...")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.environ.get("EMBER_SHARED") or
                    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ember-selftest-") as tmp:
        test_safetensors(tmp)
        test_rope()
        test_forward(tmp)
        test_quant()
        test_generator(tmp)
    test_stories(args.shared)
    print(f"\n{len(FAILURES)} failures")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
