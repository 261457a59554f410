#!/usr/bin/python3
"""Chat-template parity: Ember's interpreter (render_cli) against python3-jinja2 configured like
Hugging Face transformers (render_reference.py), compared byte for byte.

  test_parity.py --shared      every template in ../shared (templates/*.jinja and the
                               chat_template of each tokenizer_config.json) x every conversation
                               in conversations.json x add_generation_prompt false/true.
                               Exit 77 (skip) when ../shared is absent.
  test_parity.py --constructs  the small templates of constructs.json: jinja2 must produce each
                               case's "expect" (or fail where "error" is given), and Ember must
                               agree with jinja2; "unsupported" cases are Jinja features Ember
                               rejects (its error must contain "error"). Needs nothing outside
                               the repository.

Environment: EMBER_RENDER_CLI (the built render_cli), EMBER_SHARED, EMBER_TEST_TMP.
A case where both sides raise counts as agreement (e.g. a template's raise_exception).
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = "2025-03-09T12:00:00"  # strftime_now() in both renderers -> "09 Mar 2025"

# Special tokens of the templates in ../shared/templates (their tokenizer_config.json values).
TEMPLATE_TOKENS = {
    "Qwen-Qwen2.5-7B-Instruct.jinja": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": {
        "bos_token": "<｜begin▁of▁sentence｜>",
        "eos_token": "<｜end▁of▁sentence｜>",
    },
    "meta-llama-Llama-3.1-8B-Instruct.jinja": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "meta-llama-Llama-3.2-3B-Instruct.jinja": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
}


def token_text(tok):
    if isinstance(tok, dict):
        return tok.get("content")
    return tok


def shared_templates(shared):
    """(label, source, special tokens) for every chat template in ../shared."""
    out = []
    for path in sorted(glob.glob(os.path.join(shared, "templates", "*.jinja"))):
        with open(path, encoding="utf-8", newline="") as f:
            out.append((os.path.basename(path), f.read(), TEMPLATE_TOKENS.get(os.path.basename(path), {})))
    configs = sorted(glob.glob(os.path.join(shared, "configs", "*", "tokenizer_config.json")))
    configs.append(os.path.join(shared, "tokenizers", "qwen2.5", "tokenizer_config.json"))
    for path in configs:
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
        tmpl = cfg.get("chat_template")
        if not tmpl:
            continue
        if isinstance(tmpl, list):  # named templates: [{"name": ..., "template": ...}]
            entries = [(f"{path}:{t['name']}", t["template"]) for t in tmpl]
        else:
            entries = [(path, tmpl)]
        tokens = {}
        for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
            value = token_text(cfg.get(key))
            if value is not None:
                tokens[key] = value
        for label, source in entries:
            out.append((os.path.relpath(label, shared), source, tokens))
    return out


def run_batch(cmd, cases, tmpdir, tag):
    path = os.path.join(tmpdir, f"cases_{tag}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False)
    proc = subprocess.run(cmd + ["--batch", path, "--now", NOW], capture_output=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        raise SystemExit(f"FAIL: {' '.join(cmd)} exited with {proc.returncode}")
    return json.loads(proc.stdout.decode("utf-8"))


def show_diff(a, b):
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    lo = max(0, i - 60)
    return f"first difference at character {i}:\n  ember:  {a[lo:i + 60]!r}\n  jinja2: {b[lo:i + 60]!r}"


def renderers():
    cli = os.environ.get("EMBER_RENDER_CLI")
    if not cli or not os.path.exists(cli):
        raise SystemExit("FAIL: EMBER_RENDER_CLI does not point to the built render_cli")
    return [cli], [sys.executable, os.path.join(HERE, "render_reference.py")]


def parity_shared():
    shared = os.environ.get("EMBER_SHARED", os.path.join(HERE, "..", "..", "..", "shared"))
    if not os.path.isdir(os.path.join(shared, "templates")):
        print(f"SKIP: {shared}/templates not found; the shared-template parity test needs ../shared")
        return 77
    templates = shared_templates(shared)
    with open(os.path.join(HERE, "conversations.json"), encoding="utf-8") as f:
        conversations = json.load(f)
    cases, labels = [], []
    for tname, source, tokens in templates:
        for conv in conversations:
            for agp in (False, True):
                ctx = {
                    "messages": conv["messages"],
                    "tools": conv.get("tools"),
                    "documents": None,
                    "add_generation_prompt": agp,
                    **tokens,
                    **conv.get("kwargs", {}),
                }
                cases.append({"template": source, "context": ctx})
                labels.append((tname, conv["name"], agp))
    ember_cmd, ref_cmd = renderers()
    tmpdir = os.environ.get("EMBER_TEST_TMP") or tempfile.mkdtemp()
    got = run_batch(ember_cmd, cases, tmpdir, "shared_ember")
    want = run_batch(ref_cmd, cases, tmpdir, "shared_ref")
    failures, equal, both_error = [], 0, 0
    table = {}
    for (tname, cname, agp), g, w in zip(labels, got, want):
        if g["ok"] and w["ok"] and g["output"] == w["output"]:
            equal += 1
            mark = "="
        elif not g["ok"] and not w["ok"]:
            both_error += 1
            mark = "E"
        else:
            mark = "X"
            if g["ok"] and w["ok"]:
                detail = show_diff(g["output"], w["output"])
            else:
                detail = f"  ember:  {g.get('error', 'rendered OK')}\n  jinja2: {w.get('error', 'rendered OK')}"
            failures.append(f"{tname} x {cname} (add_generation_prompt={agp}):\n{detail}")
        table.setdefault(tname, {}).setdefault(cname, "")
        table[tname][cname] += mark
    names = [c["name"] for c in conversations]
    print(f"{len(templates)} templates x {len(conversations)} conversations x add_generation_prompt false/true "
          f"= {len(cases)} renderings: {equal} byte-identical, {both_error} both raise, {len(failures)} differ")
    print("legend: = identical output, E both raise an error, X differ (two marks: add_generation_prompt false, true)")
    for i, c in enumerate(names):
        print(f"  c{i:02d} {c}")
    width = max(len(t) for t in table)
    print(" " * width + " " + " ".join(f"c{i:02d}" for i in range(len(names))))
    for tname, row in table.items():
        print(tname.ljust(width) + " " + " ".join(row[c].ljust(3) for c in names))
    for f in failures:
        print("DIFF " + f)
    if equal < len(cases) // 2:
        print("FAIL: fewer than half of the renderings succeeded; the conversations no longer exercise the templates")
        return 1
    return 1 if failures else 0


def parity_constructs():
    with open(os.path.join(HERE, "constructs.json"), encoding="utf-8") as f:
        constructs = json.load(f)
    cases = [{"template": c["template"], "context": c.get("context", {})} for c in constructs]
    ember_cmd, ref_cmd = renderers()
    tmpdir = os.environ.get("EMBER_TEST_TMP") or tempfile.mkdtemp()
    got = run_batch(ember_cmd, cases, tmpdir, "constructs_ember")
    want = run_batch(ref_cmd, cases, tmpdir, "constructs_ref")
    failures = []
    for c, g, w in zip(constructs, got, want):
        name = c["name"]
        if "expect" in c:
            if not w["ok"] or w["output"] != c["expect"]:
                failures.append(f"{name}: jinja2 does not give the expected text: {w}")
            if not g["ok"] or g["output"] != c["expect"]:
                failures.append(f"{name}: ember gives {g}, expected {c['expect']!r}")
        else:
            if w["ok"] and not c.get("unsupported"):
                failures.append(f"{name}: jinja2 renders {w['output']!r} but the case expects an error")
            if g["ok"]:
                failures.append(f"{name}: ember renders {g['output']!r} but the case expects an error")
            elif c["error"] not in g["error"]:
                failures.append(f"{name}: ember's error {g['error']!r} lacks {c['error']!r}")
    print(f"{len(constructs)} construct cases: {len(constructs) - len(failures)} agree with jinja2 and the "
          f"expected text, {len(failures)} problems")
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


def main():
    try:
        import jinja2  # noqa: F401  (python3-jinja2 is the reference)
    except ImportError:
        print("SKIP: python3-jinja2 is not installed (apt-get install python3-jinja2)")
        return 77
    if "--shared" in sys.argv:
        return parity_shared()
    if "--constructs" in sys.argv:
        return parity_constructs()
    print("usage: test_parity.py --shared | --constructs")
    return 2


if __name__ == "__main__":
    sys.exit(main())
