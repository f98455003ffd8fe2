#!/usr/bin/env bash
# tests/arch/run.sh: builds tests/arch/test_context_switch.c against each
# context-switch backend and runs it, natively and for aarch64 under
# qemu-user. Needs no CMake, Criterion, libuv or ck: only compilers.
#
#   tests/arch/run.sh [OUTDIR]
#
# OUTDIR receives the binaries and one log per configuration (default: a
# temporary directory, removed on exit). Runnable from any directory.
#
# Configurations:
#   native-asm-gcc      host assembly backend, gcc -O2
#   native-asm-clang    the same with clang -O2 (skipped if clang is absent)
#   native-ucontext     the <ucontext.h> backend, gcc -O2
#   aarch64-asm         aarch64-linux-gnu-gcc -O2 -static, under qemu-aarch64
#   aarch64-ucontext    the same with the ucontext backend
#
# The aarch64 configurations need gcc-aarch64-linux-gnu (with
# libc6-dev-arm64-cross, which it only recommends) and qemu-user or
# qemu-user-static. If they are missing the script fails, because a CI
# machine without them would otherwise pass without testing aarch64 at all;
# HOP_ARCH_ALLOW_SKIP=1 turns that into a skip. On an aarch64 host the
# aarch64 configurations run natively and x86_64 is not covered.
#
# Exit status: 0 if every configuration that ran passed, 1 otherwise.
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd -- "$script_dir/../.." && pwd)
test_src="$repo/tests/arch/test_context_switch.c"
arch_dir="$repo/src/arch"

if [[ $# -gt 1 ]]; then
    echo "usage: $0 [OUTDIR]" >&2
    exit 2
fi
if [[ $# -eq 1 ]]; then
    out=$1
    mkdir -p -- "$out"
    out=$(cd -- "$out" && pwd)
else
    out=$(mktemp -d "${TMPDIR:-/tmp}/hop-arch-test.XXXXXX")
    trap 'rm -rf -- "$out"' EXIT
fi

# The library's own flags (CMakeLists.txt: C11 without extensions, its
# warnings) so that the test sees the code as the library build does.
cflags=(-std=c11 -O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes)
ucontext_define=-DHOP_CONTEXT_UCONTEXT=1

# A run that hangs (a switch into garbage that loops) must not hang CI. The
# test has its own per-test alarm; this is the backstop.
run_timeout=600

allow_skip=${HOP_ARCH_ALLOW_SKIP:-0}
passed=()
failed=()
skipped=()

# run_config NAME CC: compiles the test with CC, the arrays extra (flags)
# and sources, runs it under the array runner (empty: natively), records the
# result. Arrays, so that a repository path with spaces still works.
extra=()
sources=()
runner=()
run_config() {
    local name=$1 cc=$2
    local bin="$out/test_context_switch-$name" log="$out/$name.log"
    echo "=== $name: $cc ${cflags[*]}${extra[*]+" ${extra[*]}"}${runner[*]+" (run with ${runner[*]})"}"
    if ! "$cc" "${cflags[@]}" ${extra[@]+"${extra[@]}"} -o "$bin" "$test_src" "${sources[@]}" -lm \
        >"$log.build" 2>&1; then
        cat -- "$log.build"
        echo "=== $name: BUILD FAILED"
        failed+=("$name (build)")
        return 0
    fi
    # Warnings are shown but do not fail the run: a newer compiler's new
    # warning is not a broken context switch.
    [[ -s "$log.build" ]] && cat -- "$log.build"
    local status=0
    timeout "$run_timeout" ${runner[@]+"${runner[@]}"} "$bin" >"$log" 2>&1 || status=$?
    cat -- "$log"
    local summary
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
    if [[ $status -eq 0 && $summary =~ ^[0-9]+\ passed,\ 0\ failed$ ]]; then
        echo "=== $name: OK ($summary)"
        passed+=("$name")
    else
        [[ $status -eq 124 ]] && echo "=== $name: killed after ${run_timeout}s"
        echo "=== $name: FAILED (exit status $status${summary:+, $summary})"
        failed+=("$name")
    fi
}

skip_or_fail() {
    local name=$1 why=$2
    if [[ $allow_skip == 1 ]]; then
        echo "=== $name: SKIPPED: $why (HOP_ARCH_ALLOW_SKIP=1)"
        skipped+=("$name")
    else
        echo "=== $name: CANNOT RUN: $why" >&2
        echo "    install them (Debian: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)" >&2
        echo "    or set HOP_ARCH_ALLOW_SKIP=1 to skip this configuration" >&2
        failed+=("$name (missing tools)")
    fi
}

host=$(uname -m)
native_asm=()
case $host in
x86_64 | amd64) native_asm=("$arch_dir/switch_x86_64_sysv_elf_gas.S" "$arch_dir/context_x86_64.c") ;;
aarch64 | arm64) native_asm=("$arch_dir/switch_aarch64_aapcs_elf_gas.S" "$arch_dir/context_aarch64.c") ;;
esac
aarch64_asm=("$arch_dir/switch_aarch64_aapcs_elf_gas.S" "$arch_dir/context_aarch64.c")
ucontext=("$arch_dir/switch_ucontext.c")

echo "hop context-switch tests: repository $repo, host $host, output $out"

# Native.
runner=()
if [[ ${#native_asm[@]} -eq 0 ]]; then
    echo "=== native-asm-gcc: SKIPPED: no assembly backend for $host"
    skipped+=("native-asm-gcc")
else
    extra=() sources=("${native_asm[@]}")
    run_config native-asm-gcc gcc
    if command -v clang >/dev/null 2>&1; then
        run_config native-asm-clang clang
    else
        echo "=== native-asm-clang: SKIPPED: clang not found"
        skipped+=("native-asm-clang")
    fi
fi
extra=("$ucontext_define") sources=("${ucontext[@]}")
run_config native-ucontext gcc

# aarch64. -static: qemu-user then needs no aarch64 sysroot (no -L) and no
# binfmt registration, just the emulator binary.
if [[ $host == aarch64 || $host == arm64 ]]; then
    cross_cc=gcc
    runner=()
    missing=()
else
    cross_cc=aarch64-linux-gnu-gcc
    qemu=""
    for candidate in qemu-aarch64 qemu-aarch64-static; do
        if command -v "$candidate" >/dev/null 2>&1; then
            qemu=$candidate
            break
        fi
    done
    runner=("$qemu")
    missing=()
    command -v "$cross_cc" >/dev/null 2>&1 || missing+=("$cross_cc (package gcc-aarch64-linux-gnu)")
    [[ -n $qemu ]] || missing+=("qemu-aarch64 or qemu-aarch64-static (package qemu-user or qemu-user-static)")
fi
if [[ ${#missing[@]} -eq 0 ]]; then
    # The cross compiler only recommends its C library; without it even
    # <stdio.h> is missing, which would look like a bug in the test.
    if ! printf '#include <stdio.h>\nint main(void) { return 0; }\n' |
        "$cross_cc" -static -x c -o "$out/probe" - >"$out/probe.log" 2>&1; then
        cat -- "$out/probe.log"
        missing+=("a static aarch64 C library for $cross_cc (package libc6-dev-arm64-cross)")
    fi
fi
if [[ ${#missing[@]} -eq 0 ]]; then
    extra=(-static) sources=("${aarch64_asm[@]}")
    run_config aarch64-asm "$cross_cc"
    extra=(-static "$ucontext_define") sources=("${ucontext[@]}")
    run_config aarch64-ucontext "$cross_cc"
else
    what=${missing[0]}
    for item in "${missing[@]:1}"; do what+="; $item"; done
    for name in aarch64-asm aarch64-ucontext; do
        skip_or_fail "$name" "missing $what"
    done
fi

echo
echo "summary: ${#passed[@]} configurations passed, ${#failed[@]} failed, ${#skipped[@]} skipped"
for name in "${passed[@]+"${passed[@]}"}"; do echo "  passed:  $name"; done
for name in "${failed[@]+"${failed[@]}"}"; do echo "  FAILED:  $name"; done
for name in "${skipped[@]+"${skipped[@]}"}"; do echo "  skipped: $name"; done
[[ ${#failed[@]} -eq 0 ]]
