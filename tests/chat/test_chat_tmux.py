#!/usr/bin/python3
"""Drive `ember chat` in tmux as a person would: type questions, read the streamed answers off
the screen, /stats, /reset, /system, Ctrl-C during a long answer then another question, Ctrl-C
twice at the prompt, /quit. Uses a private tmux server (-L) so it never touches other sessions.
Skips (77) when tmux is not installed (scripts/setup.sh installs it)."""
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

import chat_common as cc

if not shutil.which("tmux"):
    cc.skip("tmux is not installed (scripts/setup.sh installs it)")
EMBER, CONV = cc.tools()
WORK = cc.scratch("chat-tmux")
TINY = cc.make_model(CONV, os.path.join(WORK, "qwen2-tiny.ember"))
SLOW = cc.make_model(CONV, os.path.join(WORK, "qwen2-slow-q8.ember"), "--shape", "slow", "--type", "q8")
SOCKET = f"ember-chat-test-{os.getpid()}"
STATS_RE = re.compile(r"prompt (\d+) tokens \((\d+) reused from the cache, (\d+) prefilled in [\d.]+ ms, [\d.]+ t/s\), "
                      r"generated (\d+) tokens at ([\d.]+) t/s, TTFT ([\d.]+) ms")


def tmux(*args, check=True):
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=check)


class Pane:
    def __init__(self, name, command):
        self.name = name
        env = f"XDG_CONFIG_HOME={shlex.quote(os.path.join(WORK, 'xdg'))}"
        tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "50", f"exec env {env} {command}")
        tmux("set-option", "-t", name, "remain-on-exit", "on")  # keep the last screen to read it

    def screen(self):
        return tmux("capture-pane", "-p", "-J", "-t", self.name, "-S", "-2000").stdout

    def alive(self):
        return tmux("display-message", "-p", "-t", self.name, "#{pane_dead}").stdout.strip() == "0"

    def keys(self, *keys):
        tmux("send-keys", "-t", self.name, *keys)

    def type_line(self, text):
        self.keys("-l", text)
        self.keys("Enter")

    def wait(self, pred, what, timeout=60.0):
        end = time.time() + timeout
        while time.time() < end:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.05)
        print(f"--- screen while waiting for {what}:\n{self.screen()}\n---")
        raise TimeoutError(f"timed out waiting for {what}")

    def after(self, marker, s=None):
        """The screen after the last line the user typed that reads `> marker`."""
        s = self.screen() if s is None else s
        i = s.rfind("> " + marker)
        return s[i + 2 + len(marker):] if i >= 0 else ""

    def at_prompt_after(self, marker):
        return lambda s: self.after(marker, s).rstrip().endswith("\n>")

    def ask(self, question, timeout=60.0):
        self.type_line(question)
        s = self.wait(self.at_prompt_after(question), f"the answer to {question!r}", timeout)
        return self.after(question, s).rstrip()[:-1].strip("\n")  # the answer, without the new prompt

    def stats(self):
        self.type_line("/stats")
        s = self.wait(lambda s: STATS_RE.search(self.after("/stats", s)), "/stats")
        m = STATS_RE.search(self.after("/stats", s))
        return dict(zip(["prompt", "reused", "prefilled", "generated", "tps", "ttft"],
                        [int(m[1]), int(m[2]), int(m[3]), int(m[4]), float(m[5]), float(m[6])]))

    def kill(self):
        tmux("kill-session", "-t", self.name, check=False)


def wait_dead(pane, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end and pane.alive():
        time.sleep(0.05)
    return not pane.alive()


try:
    # ---- a multi-turn conversation on the tiny model
    p = Pane("tiny", f"{shlex.quote(EMBER)} chat {shlex.quote(TINY)} --temp 0 -n 24 -t 1")
    s = p.wait(lambda s: "ember chat:" in s and s.rstrip().endswith(">"), "the banner and prompt")
    cc.check("history on" in s and "/help" in s, "banner names the model's context and history")
    a1 = p.ask("Hello, who are you?")
    cc.check(len(a1) > 0, f"first answer streamed ({a1[:60]!r})")
    s1 = p.stats()
    cc.check(s1["prompt"] > 5 and 1 <= s1["generated"] <= 24 and s1["reused"] == 0 and s1["ttft"] > 0,
             f"/stats after turn 1: {s1}")
    p.ask("And what can you do?")
    s2 = p.stats()
    # History: the second prompt holds the first question and answer before the new question.
    cc.check(s2["prompt"] > s1["prompt"] + 8, f"turn 2 prompt carries turn 1 ({s1['prompt']} -> {s2['prompt']})")
    cc.check(s2["reused"] + s2["prefilled"] == s2["prompt"], f"reused + prefilled = prompt ({s2})")
    p.type_line("/reset")
    p.wait(lambda s: "conversation cleared" in p.after("/reset", s), "/reset")
    a1_again = p.ask("Hello, who are you?")
    s3 = p.stats()
    cc.check(s3["prompt"] == s1["prompt"] and s3["reused"] == 0, f"after /reset the prompt is turn 1's again ({s3})")
    cc.check(a1_again == a1, "after /reset the same question gets the same (greedy) answer")
    p.type_line("/system You answer in one word.")
    p.wait(lambda s: "system prompt set" in s, "/system")
    p.type_line("/reset")
    p.wait(lambda s: "conversation cleared" in p.after("/reset", s), "/reset after /system")
    p.ask("Hello, who are you?")
    s4 = p.stats()
    rendered = ("<|im_start|>system\nYou answer in one word.<|im_end|>\n<|im_start|>user\nHello, who are you?"
                "<|im_end|>\n<|im_start|>assistant\n")
    n = len(subprocess.run([EMBER, "tokenize", TINY], input=rendered, capture_output=True, text=True,
                           check=True).stdout.strip().split(","))
    cc.check(s4["prompt"] == n, f"/system: the prompt is the system message + question ({s4['prompt']} == {n})")
    p.type_line("/quit")
    cc.check(wait_dead(p), "/quit exits")
    p.kill()

    # ---- Ctrl-C: a long answer on a slower model stops, the program does not
    p = Pane("slow", f"{shlex.quote(EMBER)} chat {shlex.quote(SLOW)} --temp 0 -n 6000 --ctx 8192 -t 1")
    p.wait(lambda s: "ember chat:" in s and s.rstrip().endswith(">"), "the banner (slow model)")
    q = "Write a very long story."
    p.type_line(q)
    p.wait(lambda s: len(p.after(q, s).strip()) >= 20, "the long answer to start streaming", timeout=120)
    t0 = time.time()
    p.keys("C-c")
    s = p.wait(lambda s: "[stopped]" in p.after(q, s) and p.after(q, s).rstrip().endswith("\n>"),
               "Ctrl-C to stop the answer", timeout=30)
    cc.check(time.time() - t0 < 5 and p.alive(), f"Ctrl-C stopped the answer in {time.time() - t0:.2f} s; still running")
    st = p.stats()
    cc.check(1 <= st["generated"] < 6000, f"the stopped answer has {st['generated']} of up to 6000 tokens")
    q2 = "Another question, please."
    p.type_line(q2)
    p.wait(lambda s: len(p.after(q2, s).strip()) >= 20, "the next answer after Ctrl-C", timeout=120)
    p.keys("C-c")
    p.wait(lambda s: "[stopped]" in p.after(q2, s) and p.after(q2, s).rstrip().endswith("\n>"), "second stop")
    st2 = p.stats()
    cc.check(st2["prompt"] > st["prompt"] + st["generated"] - 2,
             f"the stopped answer stays in the history ({st['prompt']}+{st['generated']} -> {st2['prompt']})")
    p.keys("C-c")
    p.wait(lambda s: "Ctrl-C again to exit" in s, "the hint after Ctrl-C at the prompt")
    cc.check(p.alive(), "one Ctrl-C at the prompt does not exit")
    p.keys("C-c")
    cc.check(wait_dead(p), "a second Ctrl-C at the prompt exits")
    p.kill()
except TimeoutError as e:
    cc.check(False, str(e))
finally:
    tmux("kill-server", check=False)

sys.exit(cc.finish())
