#!/bin/sh
# tests/compile/msvc.sh - the header as compilers this machine cannot run see
# it: MSVC (cl.exe and clang-cl) and clang for AArch64. Syntax and types only
# (-fsyntax-only): nothing is linked or run.
#
# MSVC: clang in MSVC mode (--target=*-pc-windows-msvc -fms-compatibility,
# _MSC_VER 1930 = Visual Studio 2022) parses the implementation as C99 and as
# C++14, on x64, x86 and ARM64, two ways: as clang-cl (__clang__ defined, so
# the GCC-style target attributes and cpuid.h) and as cl.exe (__clang__
# undefined: the header's _MSC_VER paths, __cpuidex, _xgetbv, the Interlocked
# atomics, intrinsics without target attributes). Debian has neither the
# UCRT nor the Windows SDK, so tests/compile/msvc/ stands in for them: the
# declarations distill.h uses, as the UCRT and the SDK spell them; clang's own
# headers give stddef.h, stdint.h, intrin.h and immintrin.h. cl.exe declares
# every intrinsic whatever /arch says, clang only those of the enabled
# features: hence -mavx2 ... on the x86 lines. A function the header calls
# that Windows does not have fails here (undeclared), as it would for an
# MSVC user.
#
# The same with DISTILL_STATIC (x64, both ways), for the warning a program
# that calls only some functions would get (C4505 under /W4).
#
# AArch64: clang for aarch64-linux-gnu (as on ARM Linux and, the same
# compiler, Apple silicon), C99, every warning of the Makefile as an error;
# needs the aarch64 C library headers (libc6-dev-arm64-cross). Not C++ here:
# Debian's aarch64 libstdc++ headers come with g++-aarch64-linux-gnu.
#
# Run from the repository root (make test-msvc-syntax); the last line is
# "N passed, N failed".
out=build/compile
mkdir -p "$out"
pass=0; fail=0
WARN="-Wall -Wextra -Wpedantic -Werror"
STRICT="-Wshadow -Wdouble-promotion -Wundef -Wcast-align -Wmissing-declarations"
X86="-mavx2 -mfma -mavx512f -mavx512bw -mavx512vl -mavx512vnni"
printf '#define DISTILL_IMPLEMENTATION\n#include "distill.h"\n' >"$out/msvc_impl.c"

check() { # name, then the command
    name=$1; shift
    if "$@" >"$out/log" 2>&1; then pass=$((pass + 1)); echo "ok   $name"
    else fail=$((fail + 1)); echo "FAIL $name"; head -n 20 "$out/log"; fi
}

for target in x86_64 i686 aarch64; do
    if [ $target = aarch64 ]; then isa=; else isa=$X86; fi
    for as in clang-cl cl; do
        if [ $as = cl ]; then mode=-U__clang__; else mode=; fi
        for lang in "c -std=c99" "c++ -std=c++14"; do
            check "MSVC $target, as $as sees it, ${lang%% *}" \
                clang --target=$target-pc-windows-msvc -fms-compatibility -fms-compatibility-version=19.30 \
                    -ffreestanding -fsyntax-only -x $lang $mode $isa $WARN $STRICT -I. -isystem tests/compile/msvc \
                    "$out/msvc_impl.c"
        done
    done
done
# DISTILL_STATIC with a program that calls one function: clang-cl takes the
# header's unused attribute, under every warning; cl.exe has none, and the
# header turns its C4505 off instead (#pragma warning, which clang parses and
# checks but does not map to its own warnings: -Wno-unused-function stands in
# for what the pragma does in cl.exe).
printf '#define DISTILL_STATIC\n#define DISTILL_IMPLEMENTATION\n#include "distill.h"\nint main(void) { return dst_version()[0] == 0; }\n' \
    >"$out/msvc_static.c"
for as in clang-cl cl; do
    if [ $as = cl ]; then mode=-U__clang__ unused=-Wno-unused-function; else mode= unused=; fi
    for lang in "c -std=c99" "c++ -std=c++14"; do
        check "MSVC x86_64, DISTILL_STATIC, as $as sees it, ${lang%% *}" \
            clang --target=x86_64-pc-windows-msvc -fms-compatibility -fms-compatibility-version=19.30 \
                -ffreestanding -fsyntax-only -x $lang $mode $X86 $WARN $STRICT $unused -I. -isystem tests/compile/msvc \
                "$out/msvc_static.c"
    done
done
check "clang AArch64 (ARM Linux, Apple silicon), C" \
    clang --target=aarch64-linux-gnu -fsyntax-only -x c -std=c99 $WARN $STRICT -Wstrict-prototypes \
        -Wmissing-prototypes -I. "$out/msvc_impl.c"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
