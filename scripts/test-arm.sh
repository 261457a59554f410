#!/usr/bin/env bash
# Cross-builds the kernel tests for aarch64 and runs them under qemu-user on two emulated
# CPUs, so the NEON tables are checked against the scalar reference on every commit:
#   cortex-a72  ARMv8.0 + NEON, no dotprod (Raspberry Pi 4): "neon" must be chosen, and the
#               SDOT code must never run (it would die with SIGILL);
#   max         qemu's everything CPU, with dotprod (like a Pi 5's Cortex-A76):
#               "neon-dotprod" must be chosen.
# On each CPU test_kernels runs with EMBER_ISA unset, =neon and =generic (every usable table
# is compared with the reference in each run; EMBER_ISA decides what kernels() returns).
#
#   scripts/test-arm.sh                  sysroot + configure + build + 6 runs (idempotent)
#   scripts/test-arm.sh --counts FILE    also write "<passed> <failed>" to FILE (scripts/test.sh)
#   scripts/test-arm.sh --runtime        also cross-build ember + ember-convert (slow: ~5 min of
#                                        CPU) and run the stories260K parity test on both CPUs
#
# Needs g++-aarch64-linux-gnu and qemu-user (scripts/setup.sh installs them) and, the first
# time, the Debian mirror (scripts/arm-sysroot.sh downloads the arm64 libraries). Build
# tree: build-arm/. docs/arm.md has the details.
set -euo pipefail
cd "$(dirname "$0")/.."

counts_file=""
runtime=0
while (($#)); do
  case "$1" in
    --counts) counts_file=${2:?"--counts needs a file"}; shift ;;
    --runtime) runtime=1 ;;
    *) echo "usage: $0 [--counts FILE] [--runtime]" >&2; exit 2 ;;
  esac
  shift
done

for tool in aarch64-linux-gnu-g++ qemu-aarch64 meson ninja; do
  if ! command -v $tool >/dev/null; then
    echo "test-arm: $tool not found (apt-get install g++-aarch64-linux-gnu qemu-user, or scripts/setup.sh)" >&2
    exit 2
  fi
done

# A run that dies before the end (no network for the sysroot, a compile error) still
# reports one failure to scripts/test.sh.
if [ -n "$counts_file" ]; then
  rm -f "$counts_file"
  trap '[ -f "$counts_file" ] || echo "0 1" >"$counts_file"' EXIT
fi

start=$(date +%s)
scripts/arm-sysroot.sh
sysroot_ini=$(pwd)/build-arm-sysroot/paths.ini
if [ ! -f build-arm/build.ninja ]; then
  meson setup build-arm --cross-file "$sysroot_ini" --cross-file scripts/cross/aarch64-linux-gnu.ini
fi
# Only the kernel tests: -j2 keeps a shared 2-core machine usable.
ninja -C build-arm -j2 tests/kernels/test_kernels
echo "test-arm: sysroot + build took $(($(date +%s) - start)) s"

test_exe=build-arm/tests/kernels/test_kernels
# libc/libstdc++/libgomp from the cross toolchain; the sysroot's libraries by LD_LIBRARY_PATH
# (test_kernels links none of them today, but the runtime tests would).
ld_path=$(pwd)/build-arm-sysroot/root/usr/lib/aarch64-linux-gnu:$(pwd)/build-arm-sysroot/root/lib/aarch64-linux-gnu
passed=0
failed=0
failures=()
# cpu EMBER_ISA expected-kernels()-table
runs=(
  "cortex-a72 - neon"
  "cortex-a72 neon neon"
  "cortex-a72 generic generic"
  "max - neon-dotprod"
  "max neon neon"
  "max generic generic"
)
for run in "${runs[@]}"; do
  read -r cpu isa expect <<<"$run"
  [ "$isa" = "-" ] && isa=""
  label="qemu -cpu $cpu, EMBER_ISA=${isa:-(unset)}"
  log=build-arm/test-arm-$cpu-${isa:-unset}.log
  t0=$(date +%s)
  # EMBER_EXPECT_ISA: test_dispatch checks kernels() picked this table (qemu-user shows the
  # host's /proc/cpuinfo, so the cpuinfo cross-check cannot tell us).
  if EMBER_ISA=$isa EMBER_EXPECT_ISA=$expect \
    qemu-aarch64 -cpu "$cpu" -L /usr/aarch64-linux-gnu -E "LD_LIBRARY_PATH=$ld_path" "$test_exe" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "test-arm: PASS  $label -> $expect ($(($(date +%s) - t0)) s; $(grep -m1 'assertions:' "$log" | tr -s ' '))"
  else
    failed=$((failed + 1))
    failures+=("$label")
    echo "test-arm: FAIL  $label (log: $log)"
    grep -E 'ERROR|logged|Illegal|signal|SIG' "$log" | head -20 || true
  fi
done
n_runs=${#runs[@]}

# Bonus: the whole program on a real model (tests/parity/test_stories.py: f32 greedy text
# byte for byte, logits, q8 ids) with the ARM binaries behind qemu wrapper scripts.
if ((runtime)); then
  ninja -C build-arm -j2 tools/ember tools/ember-convert
  for tool in ember ember-convert; do
    printf '#!/bin/sh\nexec qemu-aarch64 -L /usr/aarch64-linux-gnu -E "LD_LIBRARY_PATH=%s" "%s" "$@"\n' \
      "$ld_path" "$(pwd)/build-arm/tools/$tool" >build-arm/qemu-$tool
    chmod +x build-arm/qemu-$tool
  done
  for cpu in cortex-a72 max; do
    n_runs=$((n_runs + 1))
    log=build-arm/test-arm-stories-$cpu.log
    t0=$(date +%s)
    rc=0
    QEMU_CPU=$cpu EMBER_BIN=$(pwd)/build-arm/qemu-ember EMBER_CONVERT_BIN=$(pwd)/build-arm/qemu-ember-convert \
      EMBER_TEST_TMP=$(pwd)/build-arm/stories-$cpu EMBER_SHARED=${EMBER_SHARED:-$(pwd)/../shared} \
      /usr/bin/python3 tests/parity/test_stories.py >"$log" 2>&1 || rc=$?
    if ((rc == 77)); then
      n_runs=$((n_runs - 1))
      echo "test-arm: SKIP  stories260K parity: $(grep -m1 SKIP "$log")"
    elif ((rc == 0)); then
      passed=$((passed + 1))
      echo "test-arm: PASS  stories260K parity, qemu -cpu $cpu ($(($(date +%s) - t0)) s)"
    else
      failed=$((failed + 1))
      failures+=("stories260K parity, qemu -cpu $cpu")
      echo "test-arm: FAIL  stories260K parity, qemu -cpu $cpu (log: $log)"
      grep -E '^(FAIL|SKIP)' "$log" | head -10 || true
    fi
  done
fi

echo "test-arm: $passed of $n_runs qemu runs passed, total $(($(date +%s) - start)) s"
((failed == 0)) || printf 'test-arm: failed: %s\n' "${failures[@]}"
[ -z "$counts_file" ] || echo "$passed $failed" >"$counts_file"
((failed == 0))
