#!/usr/bin/env bash
# tests/install/run.sh BUILD_DIR: installs hop from BUILD_DIR into a scratch
# prefix and builds an outside program against it both ways users would:
# pkg-config and CMake's find_package(hop). Prints "N passed, N failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
prefix=$scratch/prefix
passed=0 failed=0
check() { if "$@"; then passed=$((passed + 1)); else echo "FAILED: $*"; failed=$((failed + 1)); fi; }

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(ls -d "$prefix"/lib*/ | head -n1)
export PKG_CONFIG_PATH=$libdir/pkgconfig

# pkg-config, shared and static
check cc -o "$scratch/pc_shared" "$here/consumer.c" $(pkg-config --cflags --libs hop) -Wl,-rpath,"$libdir"
check "$scratch/pc_shared"
# -Bstatic: with both installed, -lhop alone would pick the shared library.
check cc -o "$scratch/pc_static" "$here/consumer.c" $(pkg-config --cflags hop) $(pkg-config --libs-only-L hop) \
    -Wl,-Bstatic -lhop -Wl,-Bdynamic $(pkg-config --static --libs-only-l hop | sed 's/-lhop//')
check "$scratch/pc_static"
check sh -c "! ldd '$scratch/pc_static' | grep -q libhop"

# find_package(hop)
check cmake -S "$here" -B "$scratch/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_RPATH="$libdir" >/dev/null
check cmake --build "$scratch/cmake" >/dev/null
check "$scratch/cmake/consumer_shared"
check "$scratch/cmake/consumer_static"

# Only the public API is exported from the shared library.
leaked=$(nm -D --defined-only "$libdir/libhop.so" | awk '{print $3}' | grep -v '^hop_' || true)
check test -z "$leaked"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
