#!/usr/bin/env bash
# Runs every test: unit tests (doctest), parity tests against the numpy reference, and
# the tests that need ../shared (skipped with a message when it is absent).
# Builds first if needed. Ends with meson's summary and a one-line total.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build
ninja -C build
status=0
meson test -C build --print-errorlogs --num-processes 2 --timeout-multiplier 5 "$@" || status=$?
# ARM NEON kernels, cross-built and run under qemu (docs/arm.md): only for a full run, when
# the cross toolchain is installed; EMBER_SKIP_ARM=1 skips it. Its runs join the total below.
rm -f build/test-arm-counts
if [ $# -eq 0 ] && [ -z "${EMBER_SKIP_ARM:-}" ] && command -v aarch64-linux-gnu-g++ >/dev/null &&
  command -v qemu-aarch64 >/dev/null; then
  scripts/test-arm.sh --counts build/test-arm-counts || status=$?
fi
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
try:  # scripts/test-arm.sh: "<passed> <failed>" qemu runs
    with open("build/test-arm-counts") as f:
        arm_passed, arm_failed = map(int, f.read().split())
    passed, failed = passed + arm_passed, failed + arm_failed
except FileNotFoundError:
    pass
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
