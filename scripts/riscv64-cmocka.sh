#!/usr/bin/env bash
# Debian 12 has no riscv64 packages (riscv64 is a ports architecture there),
# so the riscv64 test run builds the real cmocka from Debian's own source
# package (apt-get source cmocka, from deb.debian.org) with the riscv64 cross
# compiler, as a static library, into build/riscv64-deps/prefix.
# Idempotent: does nothing when the library is already there.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
deps=$top/build/riscv64-deps
prefix=$deps/prefix
[ -f "$prefix/lib/libcmocka.a" ] && exit 0
mkdir -p "$deps/apt/lists/partial" "$deps/apt/cache/archives/partial"
cat >"$deps/apt/src.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$deps/apt"
	-o "Dir::State::Lists=$deps/apt/lists" -o "Dir::Cache=$deps/apt/cache"
	-o APT::Sandbox::User=root)
cd "$deps"
apt-get "${apt_opts[@]}" -qq update
apt-get "${apt_opts[@]}" -qq source --download-only cmocka=1.1.5-2.1
rm -rf cmocka-1.1.5 build
tar xf cmocka_1.1.5.orig.tar.xz
cmake -S cmocka-1.1.5 -B build -DCMAKE_TOOLCHAIN_FILE="$top/cmake/riscv64-linux-gnu.cmake" \
	-DWITH_STATIC_LIB=ON -DUNIT_TESTING=OFF -DWITH_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
cmake --install build >/dev/null
# static link only: the tests run under qemu-riscv64 without a riscv64 sysroot of cmocka
rm -f "$prefix"/lib/libcmocka.so*
ln -sf libcmocka-static.a "$prefix/lib/libcmocka.a"
echo "riscv64-cmocka: built Debian's cmocka 1.1.5 for riscv64 into $prefix"
