"""Shared plumbing of the parity tests: locating the tools, running them, parsing their output,
comparing against the float64 reference, and printing results.

Environment (set by tests/parity/meson.build):
    EMBER_BIN           the `ember` executable
    EMBER_CONVERT_BIN   the `ember-convert` executable
    EMBER_TEST_TMP      scratch directory (the meson build dir); a temp dir if unset
    EMBER_SOURCE_ROOT   repository root (to find scripts/); derived from this file if unset
    EMBER_SHARED        ../shared (stories260K); optional
Exit codes: 0 pass, 1 failure, 77 skipped (meson's convention).
"""
from __future__ import annotations

import os
import shlex
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import List, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("EMBER_SOURCE_ROOT") or os.path.normpath(os.path.join(HERE, "..", ".."))
SCRIPTS = os.path.join(SOURCE_ROOT, "scripts")
sys.path.insert(0, SCRIPTS)

import numpy as np  # noqa: E402

import reference_forward as rf  # noqa: E402

SKIP = 77
RUN_TIMEOUT = 300  # seconds per tool invocation


def skip(msg: str) -> None:
    print(f"SKIP: {msg}")
    sys.stdout.flush()
    sys.exit(SKIP)


def tool_paths():
    """(ember, ember-convert) from the environment; skips (77) when they are not built."""
    ember = os.environ.get("EMBER_BIN")
    conv = os.environ.get("EMBER_CONVERT_BIN")
    if not ember or not conv:
        skip("EMBER_BIN / EMBER_CONVERT_BIN not set (run through `meson test`, or export them)")
    for p in (ember, conv):
        if not os.access(p, os.X_OK):
            skip(f"{p} is not an executable (build it first)")
    return ember, conv


def scratch_dir(name: str) -> str:
    base = os.environ.get("EMBER_TEST_TMP")
    if base:
        d = os.path.join(base, name)
        os.makedirs(d, exist_ok=True)
        return d
    return tempfile.mkdtemp(prefix=f"ember-{name}-")


class ToolError(RuntimeError):
    pass


def run(cmd: Sequence[str], timeout: int = RUN_TIMEOUT) -> str:
    """Run a tool; return stdout. Raises ToolError with the command and stderr on failure."""
    try:
        p = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolError(f"timed out after {timeout}s: {shlex.join(cmd)}")
    if p.returncode != 0:
        err = p.stderr.decode("utf-8", "replace").strip()
        raise ToolError(f"exit {p.returncode}: {shlex.join(cmd)}\n    stderr: {err[-2000:]}")
    return p.stdout.decode("utf-8", "replace")


def convert(conv: str, hf_dir: str, out: str, wtype: str) -> None:
    if os.path.exists(out):
        os.remove(out)
    run([conv, hf_dir, "-o", out, "--type", wtype])


def ember_logits(ember: str, model: str, ids: Sequence[int], kv_type: str = "f32") -> np.ndarray:
    """`ember run MODEL --tokens IDS -n 0 --print-logits --kv-type T`: last-position logits.
    The reference keeps K/V in float64, so parity runs with the exact f32 KV cache."""
    out = run([ember, "run", model, "--tokens", ",".join(map(str, ids)), "-n", "0", "--print-logits",
               "--kv-type", kv_type])
    vals = []
    for line in out.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            vals.append(float(line))
        except ValueError:
            raise ToolError(f"--print-logits printed a non-number line: {line[:80]!r}")
    return np.asarray(vals, dtype=np.float64)


def ember_greedy_ids(ember: str, model: str, ids: Sequence[int], n: int) -> List[int]:
    """`ember run MODEL --tokens IDS -n N --temp 0 --print-ids`: generated ids."""
    out = run([ember, "run", model, "--tokens", ",".join(map(str, ids)), "-n", str(n), "--temp", "0",
               "--print-ids", "--kv-type", "f32"])
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    if not lines:
        return []
    try:
        return [int(t) for t in lines[-1].replace(" ", "").split(",") if t != ""]
    except ValueError:
        raise ToolError(f"--print-ids printed {lines[-1][:80]!r}, expected comma-separated ids")


def greedy_with_logits(model: "rf.Model", prompt: Sequence[int], n: int):
    """Reference greedy decoding without stopping; returns (ids, logits of each step [n, vocab])."""
    cache = rf.KVCache(model.config.num_layers)
    logits = rf.forward(model, prompt, cache)[-1]
    ids, steps = [], []
    for i in range(n):
        steps.append(logits)
        nxt = int(np.argmax(logits))
        ids.append(nxt)
        if i + 1 < n:
            logits = rf.forward(model, [nxt], cache)[-1]
    return ids, np.asarray(steps)


@dataclass
class GreedyVerdict:
    ok: bool
    agree: int       # leading ids equal to the reference
    note: str


def judge_greedy(got: List[int], ref_ids: List[int], ref_logits: np.ndarray, eos: Sequence[int],
                 tie_tol: float) -> GreedyVerdict:
    """Ember's ids must be the reference's greedy ids.

    Accepted differences: (a) Ember stopped early at an EOS id (printed or not);
    (b) a near-tie: at the first differing step the reference logits of the two candidates
    differ by no more than tie_tol (the logits tolerance), so either choice is correct
    arithmetic and the rest of the sequences cannot be compared.
    """
    agree = 0
    while agree < min(len(got), len(ref_ids)) and got[agree] == ref_ids[agree]:
        agree += 1
    if agree == len(got) == len(ref_ids):
        return GreedyVerdict(True, agree, "")
    if agree == len(got) < len(ref_ids):
        k = len(got)
        if (k > 0 and got[-1] in eos) or ref_ids[k] in eos:
            return GreedyVerdict(True, agree, f"stopped at eos after {k}")
        return GreedyVerdict(False, agree, f"only {k} of {len(ref_ids)} ids printed")
    if agree < len(ref_ids) and agree < len(got):
        a, b = got[agree], ref_ids[agree]
        if 0 <= a < ref_logits.shape[1]:
            gap = ref_logits[agree][b] - ref_logits[agree][a]
            if gap <= tie_tol:
                return GreedyVerdict(True, agree, f"near-tie at step {agree}: ref gap {gap:.2e} <= {tie_tol:.2e}")
            return GreedyVerdict(False, agree, f"step {agree}: ember {a}, ref {b} (ref logit gap {gap:.3g})")
        return GreedyVerdict(False, agree, f"step {agree}: ember id {a} out of range")
    return GreedyVerdict(False, agree, f"{len(got)} ids printed, expected {len(ref_ids)}")


def agreement(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def print_table(headers: List[str], rows: List[List[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    sys.stdout.flush()


def ember_isa(ember: str) -> str:
    """The kernel table `ember` runs with here ("generic", "avx2", "neon", ...), from --version."""
    out = run([ember, "--version"])
    m = re.search(r"kernels: ([A-Za-z0-9_-]+)", out)
    if not m:
        raise ToolError(f"cannot tell the kernel ISA from `ember --version`: {out!r}")
    return m.group(1)


def int8_activations(isa: str, weight_type: str) -> bool:
    """Whether Ember's q8/q4 matmuls quantize activations to q8 blocks with this ISA: every
    fast table does (int8 dot products); the scalar reference table computes in f32."""
    return isa != "generic" and weight_type in ("q8", "q4")


# Bound for q8/q4 runs on an int8-activation table, relative to the logit scale. The
# reference quantizes activations exactly as the kernels do (act_quant), but it computes
# them in float64 while Ember computes them in float32, so an activation lying within
# float32 rounding of a q8 rounding boundary can land one q8 step apart. On the random
# tiny checkpoints (chaotic: errors grow layer by layer) one such flip moved the logits by
# up to 1.1e-2 of their scale (measured 2026-11-23, llama-tiny q4, 17 tokens); typical
# cases agree to 3e-7. Greedy divergence is excused only at reference near-ties within it.
INT8_ACT_TOL = 2e-2
