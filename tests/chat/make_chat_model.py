#!/usr/bin/python3
"""Build a small random-weight chat model (.ember) for the chat tests.

    make_chat_model.py EMBER_CONVERT OUT.ember [--shape tiny|slow] [--type f32|q8|q4]
                       [--tokenizer-from DIR]

tiny: scripts/gen_checkpoint.py's qwen2-tiny preset (its synthetic byte-level BPE tokenizer
      and a ChatML chat template: <|im_start|>, <|im_end|> as end of turn).
slow: the same tokenizer and template with a wider, deeper Qwen2 body and 32k positions, so
      that one answer takes seconds -- long enough to interrupt with Ctrl-C in a test.
--tokenizer-from DIR: copy tokenizer.json / tokenizer_config.json (chat template) from DIR,
      e.g. ../shared/tokenizers/qwen2.5; the vocab then grows to fit it.
--no-template: drop the chat template (a base model), for the "no template" errors.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("EMBER_SOURCE_ROOT") or os.path.normpath(os.path.join(HERE, "..", ".."))
GEN = os.path.join(SOURCE_ROOT, "scripts", "gen_checkpoint.py")

# A Qwen2 body (GQA, q/k/v bias, tied embeddings) whose decode takes ~1-5 ms per token here.
SLOW_BODY = {
    "hidden_size": 512, "intermediate_size": 1536, "num_hidden_layers": 8, "num_attention_heads": 8,
    "num_key_value_heads": 2, "max_position_embeddings": 32768, "sliding_window": 32768,
    "max_window_layers": 8,
}


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("convert")
    ap.add_argument("out")
    ap.add_argument("--shape", choices=["tiny", "slow"], default="tiny")
    ap.add_argument("--type", default="f32")
    ap.add_argument("--tokenizer-from")
    ap.add_argument("--no-template", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ember-chat-model-") as tmp:
        preset_dir = os.path.join(tmp, "preset")
        run([sys.executable, GEN, "--preset", "qwen2-tiny", preset_dir])
        with open(os.path.join(preset_dir, "config.json")) as f:
            cfg = json.load(f)
        tok_dir = a.tokenizer_from or preset_dir
        if a.no_template:
            tc_path = os.path.join(preset_dir, "tokenizer_config.json")
            with open(tc_path) as f:
                tc = json.load(f)
            tc.pop("chat_template", None)
            with open(tc_path, "w") as f:
                json.dump(tc, f)
        if a.shape == "slow":
            cfg.update(SLOW_BODY)
        if a.tokenizer_from:
            # The real tokenizer's ids: vocab rows for all of them, its end of turn as EOS.
            with open(os.path.join(tok_dir, "tokenizer.json")) as f:
                tj = json.load(f)
            n = max(max(tj["model"]["vocab"].values()), max(t["id"] for t in tj.get("added_tokens", []))) + 1
            cfg["vocab_size"] = (n + 63) // 64 * 64
            ids = {t["content"]: t["id"] for t in tj.get("added_tokens", [])}
            cfg["eos_token_id"] = ids.get("<|im_end|>", cfg["eos_token_id"])
            cfg["bos_token_id"] = ids.get("<|endoftext|>", cfg["bos_token_id"])
        if a.shape == "slow" or a.tokenizer_from:
            body_dir = os.path.join(tmp, "body")
            os.makedirs(body_dir)
            cfg_path = os.path.join(body_dir, "config.json")
            with open(cfg_path, "w") as f:
                json.dump(cfg, f)
            hf_dir = os.path.join(tmp, "hf")
            run([sys.executable, GEN, "--config", cfg_path, hf_dir, "--copy-tokenizer", tok_dir])
        else:
            hf_dir = preset_dir
        out_tmp = a.out + ".tmp"
        run([a.convert, hf_dir, "-o", out_tmp, "--type", a.type, "-q"])
        shutil.move(out_tmp, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
