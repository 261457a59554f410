#!/usr/bin/python3
"""The ISA-specific kernel libraries define no weak (COMDAT) code symbols.

An inline function or template instantiated in a file compiled with -mavx2 is emitted as a
weak symbol; if generic code instantiates the same one, the linker keeps either copy, and
generic code may end up running AVX2 instructions (SIGILL on CPUs without AVX2). The AVX2
sources avoid this by keeping every helper in an anonymous namespace (kernels/simd_avx2.h);
this test keeps it that way.

    check_isa_isolation.py LIB.a [LIB.a ...]   (exit 0 ok, 1 weak code symbols found)
"""
import subprocess
import sys


def weak_code_symbols(lib: str):
    out = subprocess.run(["nm", "--defined-only", lib], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         check=True, text=True).stdout
    bad = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("W", "V", "u") and not parts[2].startswith("DW.ref."):
            bad.append(parts[2])  # DW.ref.__gxx_personality_v0 is data (an EH table reference)
    return bad


def main() -> int:
    failed = False
    for lib in sys.argv[1:]:
        bad = weak_code_symbols(lib)
        if bad:
            failed = True
            demangled = subprocess.run(["c++filt"], input="\n".join(bad), stdout=subprocess.PIPE, text=True).stdout
            print(f"FAIL {lib}: weak symbols that could replace generic copies:\n{demangled}")
        else:
            print(f"PASS {lib}: no weak code symbols")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
