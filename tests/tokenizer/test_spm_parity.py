#!/usr/bin/env python3
"""Ember's SentencePiece tokenizer (libsentencepiece) == python3-sentencepiece's encode for every
string of the corpus, with Llama 2's tokenizer.model from ../shared (the ids of
SentencePieceProcessor.encode(text): no BOS, dummy-prefix space as the model says).
Skips (77) without ../shared or the Python module.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tok_common as tc  # noqa: E402


def main():
    model = os.path.join(tc.SHARED, "tokenizers", "llama2-spm", "tokenizer.model")
    if not os.path.exists(model):
        tc.skip(f"{model} is absent (it lives in ../shared)")
    try:
        import sentencepiece as spm
    except ImportError:
        tc.skip("python3-sentencepiece is not installed (run with /usr/bin/python3)")
    tmp = tc.scratch_dir("tokenizer-spm-parity")
    corpus = os.path.join(tmp, "corpus.jsonl")
    texts = tc.make_corpus(corpus)
    sp = spm.SentencePieceProcessor(model_file=model)
    want = [sp.encode(t) for t in texts]
    got = tc.ember_ids(model, corpus, os.path.join(tmp, "ember.ids"))
    if not tc.compare("llama2-spm", texts, want, got, "python3-sentencepiece"):
        tc.fail("ids differ from python3-sentencepiece")
    print("PASS")


if __name__ == "__main__":
    main()
