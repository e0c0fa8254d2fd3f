# otlpd: `make run` sets up, builds (Release) and starts the daemon;
#        `make test` sets up, builds and runs every test, also under ASan+UBSan, and the
#        tests of the concurrent code under ThreadSanitizer.
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS ?= $(shell nproc)
CONFIG ?=

# ccache (installed by deps, used by CMake when found) keeps its default cache directory;
# paths under the repo are hashed relative to it, so clones in other folders share entries.
export CCACHE_BASEDIR := $(CURDIR)

TSAN_OPTIONS_TEST := suppressions=$(CURDIR)/tests/tsan.supp:halt_on_error=1:second_deadlock_stack=1

.PHONY: all deps build run test test-release test-asan test-tsan bench soak format clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/otlpd $(if $(CONFIG),--config $(CONFIG),)

test: test-release test-asan test-tsan

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTLPD_SANITIZE=ON -DOTLPD_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 900 -LE no_asan

# Only the tests labelled "tsan" (tests/CMakeLists.txt) and what they link: target tsan_tests.
# GCC 12's TSan runtime dies with "unexpected memory mapping" when the kernel randomizes mmap
# with more than 28 bits (vm.mmap_rnd_bits); running without ASLR (setarch -R) avoids that
# without touching the machine's settings.
test-tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTLPD_TSAN=ON -DOTLPD_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target tsan_tests
	cd $(TSAN_BUILD) && norand=$$(setarch -R true 2>/dev/null && echo "setarch -R"); \
	  TSAN_OPTIONS=$(TSAN_OPTIONS_TEST) $$norand ctest --output-on-failure -j $(JOBS) --timeout 900 -L tsan

bench: build
	bash bench/run.sh

# The long versions of CI's storage checks: 20 kill -9 cycles of the daemon during ingest and
# migration, and the store's figures over 10 M realistic spans (bench/storage_bench.cc).
SOAK_SPANS ?= 10000000
soak: build
	cd $(BUILD) && OTLPD_BIN=$(CURDIR)/$(BUILD)/otlpd OTLPD_SOAK_CYCLES=20 \
	  ./tests/integration_storage_test --gtest_filter='*KillNine*'
	cd $(BUILD) && OTLPD_BIN=$(CURDIR)/$(BUILD)/otlpd OTLPD_SOAK_SPANS=1000000 \
	  ./tests/integration_persistent_queue_test --gtest_filter='*EveryAcknowledged*'
	cd $(BUILD) && OTLPD_BIN=$(CURDIR)/$(BUILD)/otlpd OTLPD_SOAK_SPANS=1000000 \
	  ./tests/integration_edge_sync_test --gtest_filter='*EveryAcknowledged*'
	./$(BUILD)/bench/storage_bench --spans $(SOAK_SPANS)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
