#!/usr/bin/env bash
# Runs every test: unit tests (doctest), parity tests against the numpy reference, and
# the tests that need ../shared (skipped with a message when it is absent).
# Builds first if needed. Ends with meson's summary and a one-line total.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build
ninja -C build
status=0
meson test -C build --print-errorlogs --num-processes 2 "$@" || status=$?
# One closing line any CI reader understands, from meson's machine-readable log.
/usr/bin/python3 - <<'PY'
import json
passed = failed = skipped = 0
with open("build/meson-logs/testlog.json") as f:
    for line in f:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"): passed += 1
        elif r == "SKIP": skipped += 1
        else: failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
