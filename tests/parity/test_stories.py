#!/usr/bin/python3
"""Ember on a real trained model: ../shared/models/stories260K (Llama, 260K params, f32).

Checks
  1. f32: `ember run model.ember -p "" -n 200 --temp 0` prints exactly the text of the
     reference's greedy continuation of [BOS=1] (200 ids, or up to EOS), decoded with
     python3-sentencepiece from the model's tokenizer.model (sp.decode(ids)); and the text
     starts with the published sample "Once upon a time, there was a little girl named Lily."
  2. f32: `--tokens 1,... -n 0 --print-logits` within 1e-4 x max|ref| of the reference, for
     prompts of 1, 16, 17 and 40 tokens taken from the greedy continuation.
  3. q8: the greedy ids equal the q8-matched reference's; the text still starts with the
     same first sentence; reported: how many ids / characters agree with f32.
  4. q4 (reported only): agreement with f32, first sentence kept or not.

Needs EMBER_SHARED (../shared); without it prints "SKIP: ..." and exits 77.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parity_common as pc  # noqa: E402
from parity_common import np, rf  # noqa: E402

FIRST_SENTENCE = "Once upon a time, there was a little girl named Lily."
N = 200
BOS = 1
LOGIT_TOL = 1e-4
QUANT_TOL = 2e-4


def main() -> int:
    shared = os.environ.get("EMBER_SHARED") or os.path.join(pc.SOURCE_ROOT, "..", "shared")
    model_dir = os.path.join(shared, "models", "stories260K")
    if not os.path.isfile(os.path.join(model_dir, "model.safetensors")):
        pc.skip("../shared/models/stories260K not found")
    try:
        import sentencepiece as spm
    except ImportError:
        pc.skip("python3-sentencepiece is not installed (run with /usr/bin/python3)")
    ember, conv = pc.tool_paths()
    work = pc.scratch_dir("stories")
    sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "tokenizer.model"))
    failures = []

    def check(ok: bool, msg: str):
        print(("PASS " if ok else "FAIL ") + msg)
        if not ok:
            failures.append(msg)

    ref_model = rf.load_model(model_dir)
    eos = ref_model.config.eos_token_ids
    ref_ids = rf.greedy(ref_model, [BOS], N, stop_ids=eos)
    ref_text = sp.decode(ref_ids)
    check(ref_text.startswith(FIRST_SENTENCE),
          f"reference greedy text starts with the published sample: {ref_text[:60]!r}")

    # 1. f32 text.
    f32 = os.path.join(work, "stories260K-f32.ember")
    try:
        pc.convert(conv, model_dir, f32, "f32")
        out = pc.run([ember, "run", f32, "-p", "", "-n", str(N), "--temp", "0", "--kv-type", "f32"])
    except pc.ToolError as e:
        check(False, f"f32 convert/run: {e}")
        out = None
    if out is not None:
        text = out[:-1] if out.endswith("\n") else out
        same = text == ref_text
        common = len(os.path.commonprefix([text, ref_text]))
        check(same, f"f32 greedy text == reference ({len(ref_ids)} ids, {len(ref_text)} chars; "
                    f"{common} chars agree)")
        if not same:
            print(f"    ember: {text[max(0, common - 40):common + 80]!r}\n"
                  f"    ref  : {ref_text[max(0, common - 40):common + 80]!r}")
        check(text.startswith(FIRST_SENTENCE), f"f32 text starts with {FIRST_SENTENCE!r}")

        # 2. f32 logits on prompts cut from the continuation.
        seq = [BOS] + ref_ids
        for L in (1, 16, 17, 40):
            ids = seq[:L]
            ref = rf.forward(ref_model, ids)[-1]
            try:
                got = pc.ember_logits(ember, f32, ids)
            except pc.ToolError as e:
                check(False, f"f32 logits len={L}: {e}")
                continue
            if got.shape != ref.shape:
                check(False, f"f32 logits len={L}: {got.size} values, expected {ref.size}")
                continue
            err = float(np.max(np.abs(got - ref)))
            rel = err / float(np.max(np.abs(ref)))
            check(rel <= LOGIT_TOL, f"f32 logits len={L}: max|ember-ref| = {err:.3e} ({rel:.2e} rel, "
                                    f"bound {LOGIT_TOL:.0e})")

    # 3./4. quantized files.
    summary = []
    for wtype in ("q8", "q4"):
        path = os.path.join(work, f"stories260K-{wtype}.ember")
        try:
            pc.convert(conv, model_dir, path, wtype)
            got_ids = pc.ember_greedy_ids(ember, path, [BOS], N)
            qtext_out = pc.run([ember, "run", path, "-p", "", "-n", str(N), "--temp", "0", "--kv-type", "f32"])
        except pc.ToolError as e:
            if wtype == "q8":
                check(False, f"q8 convert/run: {e}")
            else:
                print(f"INFO {wtype} convert/run failed (reported only): {e}")
            continue
        qtext = qtext_out[:-1] if qtext_out.endswith("\n") else qtext_out
        matched = rf.load_model(model_dir, wtype)
        matched.act_quant = pc.int8_activations(pc.ember_isa(ember), wtype)
        m_ids, m_steps = pc.greedy_with_logits(matched, [BOS], N)
        # The matched reference decodes through EOS too; cut it where Ember would stop.
        if any(t in eos for t in m_ids):
            k = next(i for i, t in enumerate(m_ids) if t in eos)
            m_ids, m_steps = m_ids[:k + 1], m_steps[:k + 1]
        scale = float(np.max(np.abs(m_steps[0])))
        tol = pc.INT8_ACT_TOL if matched.act_quant else QUANT_TOL
        v = pc.judge_greedy(got_ids, m_ids, m_steps, eos, tol * scale)
        agree_ids = pc.agreement(got_ids, ref_ids)
        agree_chars = len(os.path.commonprefix([qtext, ref_text]))
        keeps = qtext.startswith(FIRST_SENTENCE)
        summary.append([wtype, f"{v.agree}/{len(m_ids)}" + (f" ({v.note})" if v.note else ""),
                        f"{agree_ids}/{len(ref_ids)}", f"{agree_chars}/{len(ref_text)}", "yes" if keeps else "no"])
        if wtype == "q8":
            check(v.ok, f"q8 greedy ids == q8-matched reference ({v.agree}/{len(m_ids)}{'; ' + v.note if v.note else ''})")
            check(keeps, f"q8 text starts with {FIRST_SENTENCE!r}: {qtext[:60]!r}")
            check(qtext == sp.decode(got_ids), "q8 text == sp.decode(q8 --print-ids ids)")
        else:
            print(f"INFO q4: greedy vs q4-matched reference {v.agree}/{len(m_ids)} ({'ok' if v.ok else v.note}); "
                  f"first sentence kept: {keeps}")

    if summary:
        print("\nstories260K quantized greedy (200 tokens from BOS):")
        pc.print_table(["type", "ids = matched ref", "ids = f32 ref", "chars = f32 text", "first sentence"],
                       summary)
    print(f"\n{len(failures)} failures")
    if failures:
        return 1
    print("ALL PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
