#!/usr/bin/python3
"""Parity of `ember` against the float64 numpy reference on random-weight checkpoints.

For each case (preset x checkpoint dtype x `ember-convert --type`):
  1. scripts/gen_checkpoint.py writes the HF checkpoint (same seed for every dtype, so the
     f16/bf16 checkpoints hold the f32 checkpoint's values rounded);
  2. ember-convert HF_DIR -o X.ember --type T;
  3. for prompts of 1, 15, 16, 17 and 40 tokens (Ember's KV block is 16 tokens, so these sit
     on and across block boundaries):
       ember run X.ember --tokens IDS -n 0 --print-logits    -> last-position logits
       ember run X.ember --tokens IDS -n 12 --temp 0 --print-ids -> greedy ids
     compared with scripts/reference_forward.py on the weights Ember holds (matched
     reference: rounded to f16/bf16, or quantize->dequantize with scripts/ember_quant_ref.py,
     which reproduces kernels/quant.cpp bit for bit).

Bounds (max |ember - ref| relative to max |ref|, the logit scale):
  f32 / f16 / bf16 types : 1e-4 -- same weights, Ember computes in f32 (rel. eps 6e-8);
                           accumulated rounding over 2-3 layers and K <= 320 stays far below.
  q8 / q4                : 2e-4 -- the dequantized weights are bit-identical to the matched
                           reference, so again only f32 arithmetic differs; the quantized
                           kernels may sum in a different order (per 32-block partial sums
                           scaled by the f16 scale), so the bound allows twice the f32 one.
                           If a kernel quantizes activations to int8, this is the check that
                           says so (its error is ~1e-3), and the reference must model it.
  Measured (generic kernels, first run): every case <= 8e-7 relative, so both bounds keep
  two orders of magnitude of headroom while still catching any real semantic slip (a wrong
  RoPE band or a missing bias moves logits by 1e-2 .. 1).
  Greedy ids must equal the matched reference's (a near-tie within the logits bound at the
  first differing step is reported, not failed).
Also reported, never failed: the error vs the unrounded f32 reference (the storage /
quantization error figure) and how many greedy ids agree with it.

    test_parity.py [--only SUBSTR] [--lengths 1,15,16,17,40] [--gen 12]
Exit 0 all pass, 1 any failure, 77 tools not built.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parity_common as pc  # noqa: E402
from parity_common import np, rf  # noqa: E402

import gen_checkpoint  # noqa: E402

SEED = 1234
LENGTHS = [1, 15, 16, 17, 40]
N_GEN = 12
TOL = {"f32": 1e-4, "f16": 1e-4, "bf16": 1e-4, "q8": 2e-4, "q4": 2e-4}
# f16 / q8 KV cache (`--kv-type`) against Ember's own f32-KV logits, f32-weight cases only:
# max |diff| / max |f32-KV logits|. f16 rounds K/V by <= 2^-11 relative, q8 by <= absmax/254
# per 32 values, and these random tiny presets amplify it through every layer. Measured
# (2026-11-23, 4 presets x 5 lengths, generic and AVX2 alike): f16 <= 9.5e-4, q8 <= 1.47e-2;
# the bounds keep 4x headroom, while a mis-decoded row would be off by O(1).
KV_TOL = {"f16": 4e-3, "q8": 6e-2}

# (preset, checkpoint dtype, shards, [ember types]). Every preset is converted at f32 and both
# quant types from an f32 checkpoint; f16/bf16 checkpoints (sharded ones exercise the index)
# are converted to their own type, to f32 (widening is exact) and to a quant type.
CASES = [
    ("qwen2-tiny", "f32", 1, ["f32", "f16", "bf16", "q8", "q4"]),
    ("qwen2-tiny", "f16", 2, ["f16", "f32", "q8"]),
    ("llama-tiny", "f32", 1, ["f32", "q8", "q4"]),
    ("llama-tiny", "bf16", 3, ["bf16", "f32", "q4"]),
    ("llama3-tiny", "f32", 1, ["f32", "q8", "q4"]),
    ("llama3-tiny", "bf16", 1, ["bf16"]),
    ("qwen2-yarn-tiny", "f32", 1, ["f32", "q4"]),
]


def prompt_ids(length: int, vocab: int) -> list:
    rng = np.random.default_rng(1000 + length)
    return [int(t) for t in rng.integers(0, vocab, size=length)]


def main() -> int:
    ap = argparse.ArgumentParser(description="Ember vs numpy reference parity")
    ap.add_argument("--only", default="", help="run cases whose name contains this")
    ap.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    ap.add_argument("--gen", type=int, default=N_GEN)
    args = ap.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    ember, conv = pc.tool_paths()
    work = pc.scratch_dir("parity")
    isa = pc.ember_isa(ember)
    print(f"parity: ember={ember} (kernels: {isa})\nparity: ember-convert={conv}\nparity: scratch={work}")

    failures = []
    rows = []
    unrounded = {}  # preset -> float64 reference model on the f32 checkpoint
    t0 = time.time()

    def fail(msg: str):
        failures.append(msg)
        print(f"FAIL {msg}")

    for preset, ckpt_dtype, shards, types in CASES:
        ckpt_name = f"{preset}-{ckpt_dtype}" + (f"-s{shards}" if shards > 1 else "")
        if args.only and not any(args.only in f"{ckpt_name}->{t}" for t in types):
            continue
        hf_dir = os.path.join(work, ckpt_name)
        gen_checkpoint.generate_preset(preset, hf_dir, ckpt_dtype, shards, SEED)
        if preset not in unrounded:
            f32_dir = os.path.join(work, f"{preset}-f32")
            if ckpt_dtype != "f32" or shards != 1:
                gen_checkpoint.generate_preset(preset, f32_dir, "f32", 1, SEED)
            unrounded[preset] = rf.load_model(f32_dir)
        base = unrounded[preset]
        cfg = base.config
        for wtype in types:
            case = f"{ckpt_name}->{wtype}"
            if args.only and args.only not in case:
                continue
            out = os.path.join(work, f"{case.replace('->', '.')}.ember")
            try:
                pc.convert(conv, hf_dir, out, wtype)
            except pc.ToolError as e:
                fail(f"{case}: ember-convert failed: {e}")
                rows.append([case, "-", "-", "-", "-", "-", "-", "convert FAILED"])
                continue
            matched = rf.load_model(hf_dir, wtype)
            matched.act_quant = pc.int8_activations(isa, wtype)
            tol = pc.INT8_ACT_TOL if matched.act_quant else TOL[wtype]
            for L in lengths:
                ids = prompt_ids(L, cfg.vocab_size)
                label = f"{case} len={L}"
                ref = rf.forward(matched, ids)[-1]
                ref0 = rf.forward(base, ids)[-1]
                scale = float(np.max(np.abs(ref)))
                status = "PASS"
                try:
                    got = pc.ember_logits(ember, out, ids)
                except pc.ToolError as e:
                    fail(f"{label}: {e}")
                    rows.append([case, str(L), "-", "-", "-", "-", "-", "run FAILED"])
                    continue
                if got.shape != ref.shape:
                    fail(f"{label}: {got.size} logits printed, expected {ref.size}")
                    rows.append([case, str(L), "-", "-", "-", "-", "-", "FAIL"])
                    continue
                err = float(np.max(np.abs(got - ref)))
                rel = err / scale
                rel0 = float(np.max(np.abs(got - ref0))) / float(np.max(np.abs(ref0)))
                ref_rel0 = float(np.max(np.abs(ref - ref0))) / float(np.max(np.abs(ref0)))
                if not np.all(np.isfinite(got)) or rel > tol:
                    fail(f"{label}: logits max|ember-ref| = {err:.3e} = {rel:.2e} x max|ref| > {tol:.0e}")
                    status = "FAIL"
                else:
                    print(f"PASS {label}: logits max|ember-ref| = {err:.3e} ({rel:.2e} rel, bound {tol:.0e}); "
                          f"vs unrounded f32 ref {rel0:.2e} rel")
                if wtype == "f32" and ckpt_dtype == "f32":
                    for kv, kv_tol in KV_TOL.items():
                        try:
                            kv_got = pc.ember_logits(ember, out, ids, kv)
                        except pc.ToolError as e:
                            fail(f"{label} kv {kv}: {e}")
                            continue
                        kv_rel = float(np.max(np.abs(kv_got - got))) / float(np.max(np.abs(got)))
                        if not np.all(np.isfinite(kv_got)) or kv_rel > kv_tol:
                            fail(f"{label}: --kv-type {kv} logits differ from f32 KV by {kv_rel:.2e} rel > {kv_tol:.0e}")
                            status = "FAIL"
                        else:
                            print(f"PASS {label}: --kv-type {kv} vs f32 KV {kv_rel:.2e} rel (bound {kv_tol:.0e})")
                # Greedy continuation.
                ref_ids, ref_steps = pc.greedy_with_logits(matched, ids, args.gen)
                base_ids, _ = pc.greedy_with_logits(base, ids, args.gen)
                try:
                    got_ids = pc.ember_greedy_ids(ember, out, ids, args.gen)
                except pc.ToolError as e:
                    fail(f"{label}: greedy: {e}")
                    got_ids = None
                greedy_col = "run FAILED"
                if got_ids is not None:
                    v = pc.judge_greedy(got_ids, ref_ids, ref_steps, cfg.eos_token_ids, tol * scale)
                    greedy_col = f"{v.agree}/{len(ref_ids)}" + (f" ({v.note})" if v.note else "")
                    if v.ok:
                        print(f"PASS {label}: greedy {v.agree}/{len(ref_ids)} ids equal"
                              + (f" ({v.note})" if v.note else ""))
                    else:
                        fail(f"{label}: greedy ids differ: {v.note}\n    ember {got_ids}\n    ref   {ref_ids}")
                        status = "FAIL"
                agree0 = pc.agreement(ref_ids, base_ids)
                rows.append([case, str(L), f"{scale:.3f}", f"{err:.2e}", f"{rel:.2e}",
                             f"{rel0:.2e} ({ref_rel0:.2e})", greedy_col + f"; {agree0}/{len(ref_ids)} vs f32",
                             status])

    print()
    print("Parity summary (rel = max|ember - ref| / max|ref|, last position; "
          "'vs f32' = against the reference on the unrounded f32 weights, "
          "in parentheses the matched reference's own distance from it):")
    pc.print_table(["case (ckpt->type)", "len", "max|ref|", "max err", "rel err", "rel err vs f32 (ref)",
                    "greedy = ref; ref = f32 ref", "status"], rows)
    print(f"\n{len(rows)} rows, {len(failures)} failures, {time.time() - t0:.1f}s")
    if failures:
        print("FAILED:")
        for f in failures:
            print("  " + f.splitlines()[0])
        return 1
    print("ALL PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
