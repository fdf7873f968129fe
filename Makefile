# Thin wrapper over CMake. `make demo`, `make test`, `make bench` each first
# install missing Debian packages (scripts/bootstrap.sh), configure build/ and build.
BUILD    ?= build
JOBS     ?= $(shell nproc)
CMAKE_FLAGS ?=
ifeq ($(CI),true)
CMAKE_FLAGS += -DXT_WERROR=ON
endif

.PHONY: all bootstrap configure build test test-asan test-compose demo bench clean

all: build

bootstrap:
	@scripts/bootstrap.sh

$(BUILD)/CMakeCache.txt: | bootstrap
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

configure: bootstrap
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

build: configure
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) $(CTEST_ARGS)

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: bootstrap
	cmake -S . -B $(BUILD)-asan -DXT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)-asan -j$(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -L unit -j$(JOBS)

# A real docker-compose launch on podman (.ci/run runs it too; needs root, prints
# "test-compose: skipped: <reason>" and succeeds where podman cannot run containers).
test-compose: build
	scripts/test-compose.sh $(BUILD)

demo: build
	scripts/demo.sh $(BUILD)

bench: build
	@mkdir -p $(BUILD)/bench && rm -f $(BUILD)/bench/results.jsonl
	@for b in $(BUILD)/bench/bench_*; do [ -x "$$b" ] || continue; \
	  XT_BENCH_OUT=$(BUILD)/bench/results.jsonl $$b || exit 1; done
	@{ echo "["; sed '$$!s/$$/,/' $(BUILD)/bench/results.jsonl; echo "]"; } > $(BUILD)/bench/results.json
	@echo; echo "bench: wrote $(BUILD)/bench/results.json"

clean:
	rm -rf $(BUILD) $(BUILD)-asan
