"""Plumbing shared by the chat tests: tools from the environment, scratch dir, test models.

Environment (tests/chat/meson.build): EMBER_BIN, EMBER_CONVERT_BIN, EMBER_TEST_TMP,
EMBER_SOURCE_ROOT, EMBER_SHARED. Exit codes: 0 pass, 1 failure, 77 skipped.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77
FAILURES = []


def skip(msg):
    print(f"SKIP: {msg}")
    sys.stdout.flush()
    sys.exit(SKIP)


def tools():
    ember, conv = os.environ.get("EMBER_BIN"), os.environ.get("EMBER_CONVERT_BIN")
    if not ember or not conv:
        skip("EMBER_BIN / EMBER_CONVERT_BIN not set (run through `meson test`)")
    return ember, conv


def scratch(name):
    d = os.path.join(os.environ.get("EMBER_TEST_TMP") or "/tmp", name)
    os.makedirs(d, exist_ok=True)
    return d


def make_model(conv, out, *extra):
    """tests/chat/make_chat_model.py (cached: built once per scratch dir and arguments)."""
    if not os.path.exists(out):
        subprocess.run([sys.executable, os.path.join(HERE, "make_chat_model.py"), conv, out, *extra], check=True)
    return out


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    sys.stdout.flush()
    if not ok:
        FAILURES.append(what)


def finish():
    if FAILURES:
        print(f"{len(FAILURES)} failure(s):")
        for f in FAILURES:
            print("  " + f)
        return 1
    print("all passed")
    return 0
