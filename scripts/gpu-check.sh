#!/usr/bin/env bash
# gpu-check.sh - the whole check of the CUDA backend in one command, on a
# machine with an NVIDIA GPU: configure and build with warnings as errors,
# run the gpu-labelled tests verbosely (every compared tensor prints its
# margin), run the backend test under compute-sanitizer memcheck when it is
# installed, run the CUDA benchmark, then print a summary (last, so a
# truncated console still shows it).
#
#   scripts/gpu-check.sh [build-dir]        (default build-gpu)
#   GPU_CHECK_MEMCHECK=0   skip compute-sanitizer
#   GPU_CHECK_BENCH=0      skip the benchmark
#
# Logs go to <build-dir>/gpu-check/; when $OUT is set (the device runner's
# output folder) the summary and logs are copied there too. Exit status 0
# only when the build succeeded with the CUDA backend ON, every gpu test
# passed (a skip counts as a failure when nvidia-smi sees a GPU), and
# memcheck, if it ran, reported nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-gpu}
logs=$build/gpu-check
mkdir -p "$logs"
summary=$logs/summary.txt
: >"$summary"
status=0
note() { printf '%s\n' "$*" >>"$summary"; }
fail() { note "FAIL: $*"; status=1; }
export PATH="$PATH:/usr/local/cuda/bin"

# ---- the machine
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>/dev/null | head -1)
note "gpu:   ${gpu:-none seen by nvidia-smi}"
note "nvcc:  $(nvcc --version 2>/dev/null | tail -1 || echo 'not found')"

# cuDNN and NCCL from Python wheels when the toolkit folder lacks them
extra=()
if [ ! -e /usr/local/cuda/include/cudnn.h ]; then
    d=$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null) &&
        extra+=("-DXT_CUDNN_ROOT=$d") && note "cudnn: from $d"
fi
if [ ! -e /usr/local/cuda/include/nccl.h ]; then
    d=$(python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__))' 2>/dev/null) &&
        extra+=("-DXT_NCCL_ROOT=$d") && note "nccl:  from $d"
fi

# ---- build
if ! cmake -S . -B "$build" -DXT_WERROR=ON "${extra[@]}" >"$logs/configure.log" 2>&1; then
    fail "configure (see $logs/configure.log)"
    tail -30 "$logs/configure.log"
    cat "$summary"
    exit 1
fi
note "$(grep -h 'xtrade: CUDA backend' "$logs/configure.log")"
grep -q 'CUDA backend ON' "$logs/configure.log" || fail "the CUDA backend is not built (see the line above)"
t0=$(date +%s)
if cmake --build "$build" -j"$(nproc)" >"$logs/build.log" 2>&1; then
    note "build: ok in $(($(date +%s) - t0)) s ($(grep -ci 'warning' "$logs/build.log") warning lines)"
else
    fail "build (see $logs/build.log)"
    grep -E 'error|warning' "$logs/build.log" | head -40
    cat "$summary"
    exit 1
fi

# ---- tests: the gpu label, and the CPU tests of the same code paths
(cd "$build" && ctest -L gpu -V --timeout 900) >"$logs/gpu-tests.log" 2>&1
grep -E '^ *[0-9]+/[0-9]+ Test' "$logs/gpu-tests.log" | sed 's/^ */gpu test: /' >>"$summary"
grep -q 'tests passed, 0 tests failed' "$logs/gpu-tests.log" || fail "gpu tests (see $logs/gpu-tests.log)"
if grep -q 'Skipped' "$logs/gpu-tests.log"; then
    note "skip reason: $(grep -m1 -h '^[0-9]*: skipped: ' "$logs/gpu-tests.log" | sed 's/^[0-9]*: skipped: //')"
    [ -n "$gpu" ] && fail "gpu tests were skipped although nvidia-smi sees a GPU"
fi
(cd "$build" && ctest -R 'segplan|backend_select|backend_cpu' --output-on-failure) >"$logs/unit-tests.log" 2>&1 ||
    fail "CPU-side tests (see $logs/unit-tests.log)"
note "cpu tests: $(grep -h 'tests passed' "$logs/unit-tests.log")"
# failed assertions, then the tightest margins (ratio = error / (max |cpu| + floor))
grep -E 'ERROR|FAILED|Failure|error:|cuda .* cpu ' "$logs/gpu-tests.log" | grep -v '^ *[0-9]*: *\[  PASSED' | head -30 >>"$summary"
note "tightest margins (ratio vs its tolerance):"
grep -h ' ratio ' "$logs/gpu-tests.log" | sed 's/^[0-9]*: *//' |
    awk '{for (i = 1; i <= NF; i++) if ($i == "ratio") r = $(i + 1); t = $NF; sub(/\)/, "", t); printf "%.3f %s\n", r / t, $0}' |
    sort -gr | head -12 | sed 's/^/  /' >>"$summary"

# ---- memcheck
san=$(command -v compute-sanitizer || true)
if [ "${GPU_CHECK_MEMCHECK:-1}" = 1 ] && [ -n "$san" ] && [ -n "$gpu" ]; then
    if timeout 540 "$san" --tool memcheck --error-exitcode 99 "$build/tests/gpu/test_cuda_backend" >"$logs/memcheck.log" 2>&1; then
        note "memcheck: clean ($(grep -h 'ERROR SUMMARY' "$logs/memcheck.log" | tail -1))"
    else
        fail "memcheck (see $logs/memcheck.log): $(grep -h 'ERROR SUMMARY' "$logs/memcheck.log" | tail -1)"
        grep -m20 -E 'Invalid|Address|at .*\.cu:' "$logs/memcheck.log" >>"$summary"
    fi
else
    note "memcheck: not run (GPU_CHECK_MEMCHECK=${GPU_CHECK_MEMCHECK:-1}, sanitizer '${san:-none}')"
fi

# ---- benchmark
if [ "${GPU_CHECK_BENCH:-1}" = 1 ]; then
    if XT_BENCH_OUT="$logs/bench.jsonl" "$build/bench/bench_cuda" >"$logs/bench.log" 2>&1; then
        grep -E 'learner_cuda|per minibatch|per update|skipped|device' "$logs/bench.log" | sed 's/^/bench: /' >>"$summary"
    else
        fail "bench (see $logs/bench.log)"
        tail -5 "$logs/bench.log" >>"$summary"
    fi
fi

if [ -n "${OUT:-}" ] && [ -d "${OUT}" ]; then
    cp "$summary" "$logs"/gpu-tests.log "$logs"/build.log "$OUT"/ 2>/dev/null
    for f in memcheck.log bench.log unit-tests.log configure.log; do
        [ -e "$logs/$f" ] && cp "$logs/$f" "$OUT"/
    done
fi
echo
echo "== gpu-check summary ($( [ $status = 0 ] && echo PASS || echo FAIL ))"
cat "$summary"
exit $status
