#!/usr/bin/python3
"""Reference renderer for the chat-template parity test: python3-jinja2 configured the way
Hugging Face transformers renders chat templates (apply_chat_template):

  * jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
  * extensions: jinja2.ext.loopcontrols, and a {% generation %} block that renders its body
    (HF's assistant-mask tracker, without the tracking)
  * filter tojson = json.dumps(x, ensure_ascii=False, indent=..., separators=..., sort_keys=...)
  * globals raise_exception(message) -> TemplateError, strftime_now(fmt) with a fixed clock

Same command line and output as render_cli (the C++ side):
  render_reference.py TEMPLATE CONTEXT.json [--now 2025-03-09T12:00:00]
  render_reference.py --batch CASES.json [--now ...]   -> JSON list of {ok, output | error}
"""
import argparse
import datetime
import json
import sys

import jinja2
import jinja2.ext
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationBlock(jinja2.ext.Extension):
    """{% generation %}...{% endgeneration %}: HF marks assistant text with it; render the body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        call = self.call_method("_render_body")
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _render_body(self, caller):
        return caller()


def make_environment(now):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return now.strftime(fmt)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationBlock, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, source, context):
    return env.from_string(source).render(**context)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("template", nargs="?")
    ap.add_argument("context", nargs="?")
    ap.add_argument("--batch")
    ap.add_argument("--now", default=None)
    args = ap.parse_args()
    now = datetime.datetime.strptime(args.now, "%Y-%m-%dT%H:%M:%S") if args.now else datetime.datetime.now()
    env = make_environment(now)
    if args.batch:
        with open(args.batch, encoding="utf-8") as f:
            cases = json.load(f)
        results = []
        for case in cases:
            try:
                results.append({"ok": True, "output": render(env, case["template"], case["context"])})
            except Exception as e:  # every failure is a result to compare, not a crash
                results.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
        json.dump(results, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 0
    if not args.template or not args.context:
        ap.error("TEMPLATE and CONTEXT are required without --batch")
    with open(args.template, encoding="utf-8", newline="") as f:
        source = f.read()
    with open(args.context, encoding="utf-8") as f:
        context = json.load(f)
    try:
        sys.stdout.write(render(env, source, context))
    except Exception as e:
        sys.stderr.write(f"{type(e).__name__}: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
