#!/usr/bin/env bash
# GPU validation in one go, for a GPU machine with torch + Triton preinstalled and no package
# registry. Run from anywhere; it works in the repository root:
#
#     bash bench/gpu_validate.sh                 # python3 is the interpreter that has torch
#     PYTHON=/path/to/python bash bench/gpu_validate.sh
#
# Stages (each one's exit status and time recorded; a failure never stops the script):
#   install      pip install --no-deps --no-build-isolation .   (ahead-of-time build, MAX_JOBS)
#   install-jit  only if that failed: install without building; the extension is built just in
#                time by the next stage (or, if even that fails, the source tree is used)
#   ext          load the extension (JIT build if needed); must have CUDA kernels
#   env          sr-kernels env
#   tests-cuda   pytest tests -m cuda
#   bench        pytest bench --benchmark-only --benchmark-json
#   env-kernels  sr-kernels env --kernels (registers / shared memory / spills per architecture)
#   tests-rest   pytest tests -m "not cuda" (with tests-cuda: the whole suite), last: it gets
#                what is left of the time budget; on timeout pytest is interrupted and its
#                partial results are reported
#   report       bench/results/<date>-<gpu>.json and .md (+ -speedups.png, the raw benchmark
#                JSON and the logs), copied to $OUT when it is set
#
# Knobs: PYTHON (python3), MAX_JOBS (16), SR_KERNELS_VALIDATE_BUDGET_S (470: whole run, seconds),
# SR_KERNELS_VALIDATE_SKIP (stage names to leave out), SR_KERNELS_VALIDATE_BENCH_K (pytest -k for
# the benchmarks), SR_KERNELS_VALIDATE_BENCH_S (180: the benchmark stage's limit),
# SR_KERNELS_VALIDATE_BENCH_PATHS (bench: benchmark files to run, in that order),
# SR_KERNELS_VALIDATE_INSTALL (1; 0 = test the source tree without installing),
# SR_KERNELS_VALIDATE_WORK (a fresh temp folder for logs), SR_KERNELS_BENCH_REP_MS (40).
# Exit status: 0 when every stage passed, 1 otherwise (the report is written either way).

set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

PYTHON="${PYTHON:-python3}"
# On the H100 validation machine CXX points at a g++ wrapper in /opt/gcc; an extension built with
# it segfaulted whenever an op raised an error (seen 2026-11-25; the same code built with
# /usr/bin/g++ raised cleanly). Build with the system compiler unless SR_KERNELS_CXX says otherwise.
if [ -n "${SR_KERNELS_CXX:-}" ]; then
    export CXX="$SR_KERNELS_CXX"
elif [ -x /usr/bin/g++ ]; then
    export CXX=/usr/bin/g++ CC=/usr/bin/gcc
fi
export MAX_JOBS="${MAX_JOBS:-16}"
export SR_KERNELS_BENCH_REP_MS="${SR_KERNELS_BENCH_REP_MS:-40}"
export SR_KERNELS_BENCH_WARMUP_MS="${SR_KERNELS_BENCH_WARMUP_MS:-10}"
export PYTHONUNBUFFERED=1
BUDGET_S="${SR_KERNELS_VALIDATE_BUDGET_S:-470}"
REPORT_RESERVE_S=25
INSTALL="${SR_KERNELS_VALIDATE_INSTALL:-1}"
# Stages to leave out (space-separated names, e.g. "env-kernels tests-rest") and a pytest -k
# expression for the benchmarks: a short lease can then go to the measurements that are missing.
SKIP="${SR_KERNELS_VALIDATE_SKIP:-}"
BENCH_K=()
if [ -n "${SR_KERNELS_VALIDATE_BENCH_K:-}" ]; then
    BENCH_K=(-k "$SR_KERNELS_VALIDATE_BENCH_K")
fi
WORK="${SR_KERNELS_VALIDATE_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/sr_kernels_validate.XXXXXX")}"
mkdir -p "$WORK"
: > "$WORK/stages.tsv"
START=$SECONDS
FAILED=0

if git -C "$ROOT" rev-parse --short=12 HEAD > /dev/null 2>&1; then
    SHA="$(git -C "$ROOT" rev-parse --short=12 HEAD)"
    if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2> /dev/null)" ]; then
        SHA="$SHA+dirty"
    fi
    export SR_KERNELS_GIT_SHA="$SHA"
fi

log() { printf '[gpu_validate %4ds] %s\n' "$((SECONDS - START))" "$*"; }

# run_stage NAME MAX_SECONDS COMMAND...: run with a time limit (the smaller of MAX_SECONDS and
# what is left of the budget), output to $WORK/NAME.log, status and time to stages.tsv.
run_stage() {
    local name=$1 max=$2
    shift 2
    if [[ " $SKIP " == *" $name "* ]]; then
        log "$name: skipped (SR_KERNELS_VALIDATE_SKIP)"
        return 0
    fi
    local left=$((BUDGET_S - (SECONDS - START) - REPORT_RESERVE_S))
    local limit=$((max < left ? max : left))
    if ((limit < 5)); then
        log "$name: skipped, out of time budget"
        printf '%s\t%s\t%s\n' "$name" 124 0 >> "$WORK/stages.tsv"
        echo "skipped: the ${BUDGET_S}s budget was used up" > "$WORK/$name.log"
        FAILED=1
        return 124
    fi
    log "$name: start (limit ${limit}s): $*"
    local t0=$SECONDS
    # SIGINT first: pytest then stops cleanly and still writes its JUnit XML (partial results).
    timeout --signal=INT --kill-after=20 "$limit" "$@" > "$WORK/$name.log" 2>&1
    local rc=$?
    printf '%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - t0))" >> "$WORK/stages.tsv"
    if ((rc == 124 || rc == 137)); then
        echo "TIMED OUT after ${limit}s" >> "$WORK/$name.log"
    fi
    log "$name: exit $rc after $((SECONDS - t0))s"
    tail -n 4 "$WORK/$name.log" | sed 's/^/    /'
    if ((rc != 0)); then FAILED=1; fi
    return $rc
}

# --- machine -------------------------------------------------------------------------------
GPU_NAME=""
if command -v nvidia-smi > /dev/null 2>&1; then
    GPU_NAME="$(nvidia-smi --query-gpu=name --format=csv,noheader 2> /dev/null | head -n 1)"
fi
if [ -z "$GPU_NAME" ]; then
    GPU_NAME="$("$PYTHON" -c 'import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else "")' 2> /dev/null)"
fi
GPU_SLUG="$(printf '%s' "${GPU_NAME:-no-gpu}" | tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9]+/-/g; s/^-+//; s/-+$//')"
GPU_SLUG="${GPU_SLUG:-no-gpu}"
export SR_KERNELS_GPU_NAME="${GPU_NAME:-no GPU visible}"
log "repo $ROOT, python $PYTHON, GPU '${GPU_NAME:-none}', work folder $WORK"

run_stage info 60 bash -c "nvidia-smi; '$PYTHON' -c 'import sys, torch; print(sys.version); \
print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"gpu\", torch.cuda.is_available())'; \
'$PYTHON' -m pip --version; '$PYTHON' -c 'import triton; print(\"triton\", triton.__version__)'; \
'$PYTHON' -c 'import pytest, pytest_benchmark; print(\"pytest\", pytest.__version__, \"pytest-benchmark\", pytest_benchmark.__version__)'" || true

# --- install ---------------------------------------------------------------------------------
# -P: never import the package from the current folder, so the tests use what was installed.
PY=("$PYTHON" -P)
if [ "$INSTALL" = "1" ]; then
    if ! run_stage install 330 "$PYTHON" -m pip install --no-deps --no-build-isolation -v .; then
        log "ahead-of-time install failed: installing without the build (JIT on first use)"
        if ! SR_KERNELS_BUILD_EXT=0 run_stage install-jit 120 \
            "$PYTHON" -m pip install --no-deps --no-build-isolation .; then
            log "install failed twice: testing the source tree (PYTHONPATH=$ROOT)"
            export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
        fi
    fi
else
    log "SR_KERNELS_VALIDATE_INSTALL=0: testing the source tree (PYTHONPATH=$ROOT)"
    export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi

run_stage ext 420 "${PY[@]}" -c '
import sys
import sr_kernels
from sr_kernels import _ext
ok = _ext.load()
info = _ext.info()
print("sr_kernels from", sr_kernels.__file__)
print(info)
if not ok:
    sys.exit("extension not loaded: " + info.reason)
import torch
if torch.cuda.is_available() and not info.with_cuda:
    sys.exit("extension built without CUDA kernels: " + info.cuda_reason)
' || true

# --- environment -------------------------------------------------------------------------------
run_stage env 60 "${PY[@]}" -m sr_kernels env || true

# --- tests -------------------------------------------------------------------------------------
PYTEST_OPTS=(-q -rfE -p no:cacheprovider)
if "$PYTHON" -c 'import pytest_timeout' > /dev/null 2>&1; then
    PYTEST_OPTS+=(--timeout=120)
fi
run_stage tests-cuda 150 "${PY[@]}" -m pytest tests -m cuda "${PYTEST_OPTS[@]}" \
    --junitxml="$WORK/tests-cuda.xml" || true

# --- benchmarks ----------------------------------------------------------------------------------
# shellcheck disable=SC2086  # a space-separated list of paths, in the order to run them
run_stage bench "${SR_KERNELS_VALIDATE_BENCH_S:-180}" "${PY[@]}" -m pytest \
    ${SR_KERNELS_VALIDATE_BENCH_PATHS:-bench} --benchmark-only \
    "${PYTEST_OPTS[@]}" "${BENCH_K[@]}" --benchmark-min-rounds=3 --benchmark-json="$WORK/bench.json" \
    --junitxml="$WORK/bench.xml" || true

# --- kernel resources (registers / shared memory / spills per architecture) ----------------------
run_stage env-kernels 120 "${PY[@]}" -m sr_kernels env --kernels || true

# The rest of the suite last: it is the longest and gets what is left of the budget.
run_stage tests-rest 300 "${PY[@]}" -m pytest tests -m "not cuda" "${PYTEST_OPTS[@]}" \
    --junitxml="$WORK/tests-rest.xml" || true

# --- report ------------------------------------------------------------------------------------
DATE="$(date -u +%Y-%m-%d)"
mkdir -p bench/results
STEM="bench/results/$DATE-$GPU_SLUG"
n=2
while [ -e "$STEM.json" ] || [ -e "$STEM.md" ]; do
    STEM="bench/results/$DATE-$GPU_SLUG-$n"
    n=$((n + 1))
done
# Run as a file with -P: the report needs only the standard library (+ matplotlib for the chart),
# so it is written even when the package cannot be imported.
if ! "$PYTHON" -P "$ROOT/sr_kernels/benchmarking.py" report --work "$WORK" --out-stem "$STEM" \
    --gpu-name "${GPU_NAME:-no GPU visible}" > "$WORK/report.log" 2>&1; then
    FAILED=1
    log "report failed:"
    cat "$WORK/report.log"
    printf '# GPU validation report failed\n\nSee %s/report.log\n' "$WORK" > "$STEM.md"
fi
if [ -f "$WORK/bench.json" ]; then
    cp "$WORK/bench.json" "$STEM-pytest-benchmark.json"
fi
log "report: $STEM.json, $STEM.md"

if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT/logs"
    cp "$STEM".* "$STEM"-*.png "$STEM"-pytest-benchmark.json "$OUT/" 2> /dev/null
    cp "$WORK"/*.log "$WORK"/*.xml "$WORK"/stages.tsv "$OUT/logs/" 2> /dev/null
    log "copied the report and logs to $OUT"
fi

log "done in $((SECONDS - START))s; stages:"
column -t -s $'\t' "$WORK/stages.tsv" 2> /dev/null || cat "$WORK/stages.tsv"
exit $FAILED
