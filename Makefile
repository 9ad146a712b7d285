# SPDX-License-Identifier: BSD-2-Clause
#
# The thin entry point named in the README.  The build itself is CMake
# (CMakePresets.json); these targets install missing Debian packages
# first, then hand over to a preset.
#
#   make run     build (release) and run the main job
#   make test    build (dev) and run the whole test suite
#   make asan    the test suite under ASan + UBSan
#   make fuzz    build the libFuzzer targets (clang)
#   make interop the interop suite: Xen and dom0 under QEMU (root)
#   make style   the style gate CI runs

.PHONY: all run test asan fuzz release interop style deps clean

all: release

deps:
	@scripts/deps.sh

release: deps
	cmake --preset release
	cmake --build --preset release

run: release
	build/release/tools/xbd/xbd run $(ARGS)

test: deps
	cmake --workflow --preset dev

asan: deps
	cmake --workflow --preset asan

fuzz: deps
	cmake --preset fuzz
	cmake --build --preset fuzz

interop: release
	ctest --test-dir build/release -L interop --output-on-failure

style:
	scripts/check-style.sh

clean:
	rm -rf build
