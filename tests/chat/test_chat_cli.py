#!/usr/bin/python3
"""`ember run` with the chat template (default) and --raw, `ember chat` fed from a pipe, and
config files (docs/usage.md): keys fill unset flags, flags win, bad files are errors.
Needs nothing outside the repository; the stories260K part skips without ../shared."""
import os
import re
import subprocess
import sys

import chat_common as cc

EMBER, CONV = cc.tools()
WORK = cc.scratch("chat-cli")
TINY = cc.make_model(CONV, os.path.join(WORK, "qwen2-tiny.ember"))
BASE = cc.make_model(CONV, os.path.join(WORK, "qwen2-tiny-base.ember"), "--no-template")
XDG = os.path.join(WORK, "xdg")
os.makedirs(os.path.join(XDG, "ember"), exist_ok=True)
ENV = dict(os.environ, XDG_CONFIG_HOME=XDG)


def ember(*args, stdin=None, env=ENV):
    return subprocess.run([EMBER, *args], input=stdin, capture_output=True, text=True, timeout=300, env=env)


def ids(p):
    return [int(x) for x in p.stdout.strip().split(",") if x]


def tokenize(model, text):
    p = ember("tokenize", model, stdin=text)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def write_config(name, text):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(text)
    return path


GREEDY = ["--temp", "0", "--print-ids", "--ignore-eos"]

# ---- ember run: the template by default, --raw as is. Compared through the prompt's logits
# (-n 0 --print-logits), which differ for any different prompt; greedy ids of a random model may not.
LOGITS = ["-n", "0", "--print-logits"]
templated = tokenize(TINY, "<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n")
with_system = tokenize(TINY, "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHello there<|im_end|>\n"
                             "<|im_start|>assistant\n")
raw = tokenize(TINY, "Hello there")
a = ember("run", TINY, "-p", "Hello there", *LOGITS)
b = ember("run", TINY, "--tokens", templated, *LOGITS)
c = ember("run", TINY, "--tokens", raw, *LOGITS)
cc.check(a.returncode == 0 and a.stdout == b.stdout and a.stdout != c.stdout,
         "run -p on a chat model == --tokens of the rendered template")
a = ember("run", TINY, "-p", "Hello there", "--system", "Be kind.", *LOGITS)
b = ember("run", TINY, "--tokens", with_system, *LOGITS)
cc.check(a.returncode == 0 and a.stdout == b.stdout, "run --system renders a system message")
a = ember("run", TINY, "-p", "Hello there", "--raw", *LOGITS)
cc.check(a.returncode == 0 and a.stdout == c.stdout, "run --raw sends the prompt as is")
a = ember("run", TINY, "-p", "Hello there", "-n", "8", *GREEDY)
b = ember("run", TINY, "--tokens", templated, "-n", "8", *GREEDY)
cc.check(a.returncode == 0 and ids(a) == ids(b) and len(ids(a)) == 8, "run -p on a chat model generates from there")
p = ember("run", TINY, "-p", "x", "--raw", "--system", "s")
cc.check(p.returncode == 1 and "--raw" in p.stderr, f"--system with --raw is an error: {p.stderr.strip()}")
a = ember("run", BASE, "-p", "Hello there", *LOGITS)
b = ember("run", BASE, "--tokens", tokenize(BASE, "Hello there"), *LOGITS)
cc.check(a.returncode == 0 and a.stdout == b.stdout, "run on a model without template: raw")
p = ember("run", BASE, "-p", "x", "--system", "s")
cc.check(p.returncode == 1 and "no chat template" in p.stderr, f"--system without template: {p.stderr.strip()}")

# ---- ember chat from a pipe (the tmux test plays the person at a terminal)
p = ember("chat", BASE)
cc.check(p.returncode == 1 and "no chat template" in p.stderr and "ember run --raw" in p.stderr,
         f"chat on a model without template: {p.stderr.strip()}")
p = ember("chat", TINY, "--temp", "0", "-n", "6", stdin="Hello there\n/stats\n/system Be kind.\n/system\n/bogus\n"
          "/reset\nHello there\n/stats\n")  # ends with EOF (Ctrl-D)
out = p.stdout
stats = re.findall(r"prompt (\d+) tokens \((\d+) reused.*generated (\d+) tokens", out)
cc.check(p.returncode == 0 and len(stats) == 2, f"chat from a pipe: two /stats lines, exit 0 at EOF ({p.returncode})")
cc.check("system prompt: Be kind." in out and "unknown command /bogus" in out and "conversation cleared" in out,
         "chat commands /system, /bogus, /reset answer")
if len(stats) == 2:
    p1 = len(tokenize(TINY, "<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n").split(","))
    p2 = len(with_system.split(","))
    cc.check(int(stats[0][0]) == p1 and int(stats[1][0]) == p2 and stats[1][1] == "0",
             f"after /reset + /system the prompt is system + question only ({stats})")

p = subprocess.run([EMBER, "chat", TINY, "--temp", "0", "-n", "3", "-t", "1"], input=b"bad \xff\xfe bytes\nHi\n/stats\n",
                   capture_output=True, timeout=300, env=ENV)
out = p.stdout.decode("utf-8", "replace")
cc.check(p.returncode == 0 and "ember: error:" in out and "UTF-8" in out and re.search(r"prompt \d+ tokens", out),
         "chat: a question with invalid UTF-8 is an error for that turn only")

# ---- config files
cfg = write_config("c1.toml", "# defaults\nmax_new_tokens = 5\ntemp = 0\n")
a = ember("run", TINY, "-p", "Hi", "--config", cfg, "--print-ids", "--ignore-eos")
b = ember("run", TINY, "-p", "Hi", "-n", "5", "--temp", "0", "--print-ids", "--ignore-eos")
cc.check(a.returncode == 0 and len(ids(a)) == 5 and ids(a) == ids(b), f"config sets -n and temp ({a.stderr.strip()})")
a = ember("run", TINY, "-p", "Hi", "--config", cfg, "-n", "3", "--print-ids", "--ignore-eos")
cc.check(a.returncode == 0 and len(ids(a)) == 3, "a flag overrides the config file (-n 3)")
hot = write_config("c2.toml", "max_new_tokens = 12\ntemp = 5.0\nseed = 7\n")
a = ember("run", TINY, "-p", "Hi", "--config", hot, "--print-ids", "--ignore-eos")
b = ember("run", TINY, "-p", "Hi", "-n", "12", "--temp", "5", "--seed", "7", "--print-ids", "--ignore-eos")
g = ember("run", TINY, "-p", "Hi", "--config", hot, "--temp", "0", "--print-ids", "--ignore-eos")
g0 = ember("run", TINY, "-p", "Hi", "-n", "12", "--temp", "0", "--print-ids", "--ignore-eos")
cc.check(ids(a) == ids(b) and ids(a) != ids(g0), "config temp/seed sample as the same flags would")
cc.check(ids(g) == ids(g0), "--temp 0 on the command line overrides temp = 5.0 in the file")
sect = write_config("c3.toml", "max_new_tokens = 9\nhistory = false\n[run]\nmax_new_tokens = 4\n[chat]\nmax_new_tokens = 2\n")
a = ember("run", TINY, "-p", "Hi", "--config", sect, "--print-ids", "--ignore-eos", "--temp", "0")
cc.check(a.returncode == 0 and len(ids(a)) == 4, f"[run] wins over the top level; run skips history ({a.stderr.strip()})")
p = ember("chat", TINY, "--config", sect, "--temp", "0", stdin="Hi\nagain\n/stats\n")
m = re.findall(r"prompt (\d+) tokens .*generated (\d+) tokens", p.stdout)
one_q = len(tokenize(TINY, "<|im_start|>user\nagain<|im_end|>\n<|im_start|>assistant\n").split(","))
cc.check(p.returncode == 0 and "history off" in p.stdout and m and int(m[0][1]) <= 2 and int(m[0][0]) == one_q,
         f"chat takes [chat] max_new_tokens and history = false ({m})")
with open(os.path.join(XDG, "ember", "config.toml"), "w") as f:
    f.write("max_new_tokens = 6\ntemp = 0\n")
a = ember("run", TINY, "-p", "Hi", "--print-ids", "--ignore-eos")
cc.check(a.returncode == 0 and len(ids(a)) == 6, "$XDG_CONFIG_HOME/ember/config.toml is read when present")
os.remove(os.path.join(XDG, "ember", "config.toml"))
sys_cfg = write_config("c4.toml", 'system = "Be kind."\n')
a = ember("run", TINY, "-p", "Hello there", "--config", sys_cfg, *LOGITS)
b = ember("run", TINY, "--tokens", with_system, *LOGITS)
cc.check(a.returncode == 0 and a.stdout == b.stdout, "config system = \"...\" (quoted, with a space) is the system prompt")
a = ember("run", BASE, "-p", "Hello there", "--config", sys_cfg, *LOGITS)
cc.check(a.returncode == 0, f"a config system prompt is unused (not an error) on a model without template {a.stderr.strip()}")

bad = {
    "bad_value.toml": ("temp = warm\n", ["bad_value.toml", "temp"]),
    "unknown_key.toml": ("tempp = 0.5\n", ["unknown key 'tempp'", "max_new_tokens"]),
    "bad_section.toml": ("[serve]\ntemp = 1\n", ["unknown section [serve]"]),
    "not_toml.toml": ("this is not a config file\n", ["unknown key"]),
    "out_of_range.toml": ("top_p = 3\n", ["top_p"]),
}
for name, (text, needles) in bad.items():
    p = ember("run", TINY, "-p", "Hi", "--config", write_config(name, text), "-n", "2")
    cc.check(p.returncode == 1 and all(n in p.stderr for n in needles) and "Traceback" not in p.stderr,
             f"{name}: clear error: {p.stderr.strip()}")
p = ember("chat", TINY, "--config", os.path.join(WORK, "missing.toml"))
cc.check(p.returncode != 0 and "missing.toml" in p.stderr, f"a missing --config file: {p.stderr.strip()}")

# ---- a real model without a chat template (../shared)
shared = os.environ.get("EMBER_SHARED", "")
stories = os.path.join(shared, "models", "stories260K")
if os.path.isdir(stories):
    s = os.path.join(WORK, "stories260K.ember")
    if not os.path.exists(s):
        subprocess.run([CONV, stories, "-o", s, "-q"], check=True)
    p = ember("chat", s)
    cc.check(p.returncode == 1 and "ember run --raw" in p.stderr, "stories260K (no template): chat refuses clearly")
    p = ember("run", s, "-p", "", "-n", "12", "--temp", "0")
    cc.check(p.stdout.startswith("Once upon a time"), f"stories260K: run stays raw ({p.stdout[:40]!r})")
else:
    print(f"note: {stories} absent; skipping the stories260K checks")

# ---- the real Qwen2.5 tokenizer and official template (../shared) on a random Qwen2-tiny body:
# `ember run` sends what HF's apply_chat_template renders (python3-jinja2 configured like HF:
# tests/chat_template/render_reference.py), incl. Qwen2.5's default system prompt.
qwen_tok = os.path.join(shared, "tokenizers", "qwen2.5")
if os.path.isdir(qwen_tok):
    sys.path.insert(0, os.path.join(cc.HERE, "..", "chat_template"))
    import json
    import render_reference as rr
    q = cc.make_model(CONV, os.path.join(WORK, "qwen2-tiny-qwen25tok.ember"), "--tokenizer-from", qwen_tok)
    with open(os.path.join(qwen_tok, "tokenizer_config.json")) as f:
        tc = json.load(f)
    env = rr.make_environment(None)
    for system in ("", "Answer in French."):
        msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": "Hi, ça va?"}]
        text = rr.render(env, tc["chat_template"], {"messages": msgs, "add_generation_prompt": True,
                                                     "bos_token": None, "eos_token": tc["eos_token"]})
        args = ["--system", system] if system else []
        a = ember("run", q, "-p", "Hi, ça va?", *args, *LOGITS)
        b = ember("run", q, "--tokens", tokenize(q, text), *LOGITS)
        cc.check(a.returncode == 0 and a.stdout == b.stdout and ("Qwen" in text) == (not system),
                 f"Qwen2.5 template (system {system!r}): run == HF rendering tokenized ({a.stderr.strip()[-200:]})")
    p = ember("chat", q, "--temp", "0", "-n", "8", "-t", "1", stdin="Hello\nAgain\n/stats\n")
    m = re.findall(r"prompt (\d+) tokens", p.stdout)
    cc.check(p.returncode == 0 and len(m) == 1, f"chat with the Qwen2.5 tokenizer: two turns ({p.stderr.strip()[-300:]})")
else:
    print(f"note: {qwen_tok} absent; skipping the Qwen2.5 tokenizer checks")

sys.exit(cc.finish())
