#!/usr/bin/env bash
# GPU validation in one go, for a GPU machine with torch + Triton preinstalled and no package
# registry. Run from anywhere; it works in the repository root:
#
#     bash bench/gpu_validate.sh                 # python3 is the interpreter that has torch
#     PYTHON=/path/to/python bash bench/gpu_validate.sh
#     SR_KERNELS_VALIDATE_DRY_RUN=1 bash bench/gpu_validate.sh   # print the plan, run nothing
#
# A GPU lease is short (about 15 minutes in all, machine start included), so one call measures
# what matters most first, within a whole-run budget (SR_KERNELS_VALIDATE_BUDGET_S, 560 s).
# Stages run in the order of PLAN below; each one's exit status, limit and time are recorded and
# a failure never stops the script. Each stage is held a share of the budget (the shares of the
# stages after it are kept back from it), and may use time earlier stages left over up to its
# max; share 0 means "only time left over". pytest stages are stopped with SIGINT at their limit,
# so their partial results are still reported.
#   priority 0  set-up: info, install (pip install --no-deps --no-build-isolation .; if that
#               fails, install-jit installs without the build and ext builds just in time, and
#               if even that fails the source tree is tested), ext (must have CUDA kernels), env
#   priority 1  conv benchmarks (issue 5): resblock and upsampler rows in channels_last
#               fp16/bf16, ours and eager cuDNN (C = 64 and 256), the training step and the x4
#               upsampler; then the torch.compile(mode="max-autotune") rows of the resblock
#               targets in their own stage, so that autotuning never eats the eager rows' time
#   priority 2  cuda tests of the recently changed ops: imresize, metrics, conv; then
#               sweep-conv (bench/sweep_conv_configs.py: a grid of Triton conv tile configs
#               per case, by default the bf16 C = 64 residual block only, each checked against
#               float64 and timed, against the table's config and cuDNN; its JSON is
#               sweep-conv.json in the logs archive); before it ncu-resblock
#               (bench/ncu_kernels.py --suite resblock: Nsight Compute counters of the block
#               kernels, C = 64 bf16; the table goes into the report, the .ncu-rep into the logs
#               archive)
#   priority 3  imresize benchmark (two-pass and SR_KERNELS_IMRESIZE_FUSED=1) and metrics; then
#               ncu-streaming (bench/ncu_kernels.py --suite streaming: the counters of the
#               fused imresize and uint8 PSNR kernels, which missed their bandwidth targets)
#   priority 4  only on time left over: per-kernel times of imresize and the metrics
#               (bench/profile_kernels.py), sr-kernels tune (every backend timed per case: the
#               registry's measured order), the other cuda tests, compute-sanitizer racecheck
#               and memcheck over the fused imresize kernel, pixel_shuffle and the remaining
#               conv benchmark rows, sr-kernels env --kernels; tests-rest (pytest tests -m
#               "not cuda", which CI runs anyway) is off unless enabled
#   report      bench/results/<date>-<gpu>.json and .md (+ -speedups.png, -roofline.png, the merged
#               pytest-benchmark JSON; the logs as one .tar.gz), copied to $OUT when it is
#               set; when that stem is taken (a second run that day), <date>-<HHMM>-<gpu>
#               (then -2, -3, ...): an existing report is never overwritten
#
# Reference data: `mkdir -p .carry && cp -r ../shared/data .carry/` here, then name .carry in
# the device call's carry list (the tests find it through SR_KERNELS_DATA, set below).
#
# Knobs: PYTHON (python3), MAX_JOBS (16), SR_KERNELS_VALIDATE_BUDGET_S (560: whole run, seconds;
# shares are scaled down to fit a smaller one), SR_KERNELS_VALIDATE_DRY_RUN (1: print the plan
# and the commands, write $WORK/plan.tsv, run nothing), SR_KERNELS_VALIDATE_SKIP (stage names to
# leave out), SR_KERNELS_VALIDATE_ONLY (stage names to run; set-up stages are kept),
# SR_KERNELS_VALIDATE_ENABLE (off stages to turn on, e.g. tests-rest),
# SR_KERNELS_VALIDATE_SHARES ("name=share[/max] ...": override the plan's seconds),
# SR_KERNELS_VALIDATE_BENCH_K (pytest -k expression and-ed to every benchmark stage's),
# SR_KERNELS_VALIDATE_TEST_WORKERS (8, at most the cores; auto = the cores; 1 = one process:
# pytest-xdist processes of the test stages),
# SR_KERNELS_VALIDATE_SWEEP_ARGS (the sweep-conv stage's case selection; default
# "--ops residual_block --channels 64": the issue's 2x target, bf16; "" sweeps every case),
# SR_KERNELS_VALIDATE_INSTALL (1; 0 = test the source tree without installing),
# SR_KERNELS_VALIDATE_RESULTS (bench/results: the report's folder),
# SR_KERNELS_VALIDATE_WORK (a fresh temp folder for logs), SR_KERNELS_BENCH_REP_MS (40).
# Exit status: 0 when every stage that was on passed, 1 otherwise (the report is written either
# way); a stage on time left over (share 0) that found too little time, or that the budget cut
# below its max, does not count as failed (its status in the report says which; its JUnit XML
# still lists any test failures).
# Results travel as they come: after every stage the work folder so far is archived to
# $OUT/validate-work.tar.gz (snapshot_to_out), so a call stopped early still returns them.

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
# The reference data (../shared/data) does not travel to a device machine; a copy under the
# ignored folder .carry/data (carried with the call) is used when SR_KERNELS_DATA is not set, so
# the data tests (MATLAB LR files, published PSNRs) run on the GPU too instead of skipping.
if [ -z "${SR_KERNELS_DATA:-}" ] && [ -d "$ROOT/.carry/data" ]; then
    export SR_KERNELS_DATA="$ROOT/.carry/data"
fi
export MAX_JOBS="${MAX_JOBS:-16}"
export SR_KERNELS_BENCH_REP_MS="${SR_KERNELS_BENCH_REP_MS:-40}"
export SR_KERNELS_BENCH_WARMUP_MS="${SR_KERNELS_BENCH_WARMUP_MS:-10}"
export PYTHONUNBUFFERED=1
BUDGET_S="${SR_KERNELS_VALIDATE_BUDGET_S:-560}"
# The report (about 5 s) plus one stage's SIGINT-to-SIGKILL grace (KILL_AFTER_S).
REPORT_RESERVE_S=20
KILL_AFTER_S=10
# A stage on time left over (share 0) starts only with at least this limit (or its max): with
# less, the H200 run of 2026-11-29 started tests-cuda-rest with 9 s, which ran no test.
MIN_LEFTOVER_S=30
DRY_RUN="${SR_KERNELS_VALIDATE_DRY_RUN:-0}"
INSTALL="${SR_KERNELS_VALIDATE_INSTALL:-1}"
SKIP="${SR_KERNELS_VALIDATE_SKIP:-}"
ONLY="${SR_KERNELS_VALIDATE_ONLY:-}"
ENABLE="${SR_KERNELS_VALIDATE_ENABLE:-}"
SHARES="${SR_KERNELS_VALIDATE_SHARES:-}"
RESULTS="${SR_KERNELS_VALIDATE_RESULTS:-bench/results}"
WORK="${SR_KERNELS_VALIDATE_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/sr_kernels_validate.XXXXXX")}"
mkdir -p "$WORK"
: > "$WORK/stages.tsv"
START=$SECONDS
DRY_CLOCK=0
FAILED=0

if git -C "$ROOT" rev-parse --short=12 HEAD > /dev/null 2>&1; then
    SHA="$(git -C "$ROOT" rev-parse --short=12 HEAD)"
    if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2> /dev/null)" ]; then
        SHA="$SHA+dirty"
    fi
    export SR_KERNELS_GIT_SHA="$SHA"
fi

# --- plan ------------------------------------------------------------------------------------
# In running order (the run below follows it). share: seconds held for the stage; max: its
# limit when earlier stages left time over. The set-up shares are about twice the H100 run's
# times (install 30 s, ext 8 s); the rest holds about 1.1-1.4x its time in the H200 run of
# 2026-11-29 (set-up 61 s; benchmarks 31, 20, 39 s; tests 18, 38, ~100 s; imresize 22 and 16 s,
# metrics 46 s), so that priorities 1-3 and 80 s of sweep-conv fit in 560 s. Since then those
# 80 s hold sweep-conv (32 s), ncu-resblock (25 s: counters say more about the blocks than the
# sweep's next configs), ncu-streaming (17 s: imresize's and PSNR's counters, never taken, say
# where their time goes) and 6 s unheld; bench-imresize-noruns (6 s: the fused imresize without
# its integer-scale paths, for comparison) took its share from tests-conv (110 -> 104 s; 88 s
# measured). The CUDA block's 4-warp and wgmma rows hold 4 s each and live on the set-up's
# leftovers, as do the CUDA block's and upsampler's rows under the tile rule before 2026-12-01
# (the largest that fits; 4 s from bench-upsampler, 28 -> 24 s for 20 s measured), to time the
# wave-aware choice against it.
# tune, which that
# run measured (its table ships as sr_kernels/ops/backend_timings.json), now takes time left
# over, after profile-kernels (per-kernel times: how much of a short op is host time).
#  name                prio share max default | what (for the report)
PLAN=(
    "info                  0   10   30  on  | nvidia-smi, versions"
    "install               0   45  240  on  | pip install --no-deps --no-build-isolation ."
    "install-jit           0    0  120  on  | only if install failed: install without the build"
    "ext                   0   12  240  on  | load the extension (JIT build if needed)"
    "env                   0   12   30  on  | sr-kernels env"
    "bench-resblock        1   40  180  on  | resblock nhwc fp16/bf16 ours, eager; training step; host time"
    "bench-resblock-4warps 1    4   40  on  | resblock ours:cuda C 64, SR_KERNELS_RESBLOCK_CUDA_WARPS=4"
    "bench-resblock-wgmma  1    4   40  on  | resblock ours:cuda C 64, SR_KERNELS_CUDA_WGMMA=1"
    "bench-conv-largest    1    4   40  on  | resblock, upsampler ours:cuda b16, SR_KERNELS_CONV_CUDA_TILES=largest"
    "bench-upsampler       1   24  150  on  | upsampler nhwc fp16/bf16 ours, eager; x4"
    "bench-compile         1   45  300  on  | resblock max-autotune, nhwc fp16/bf16, C 64"
    "tests-imresize        2   25  150  on  | cuda tests: test_imresize.py"
    "tests-metrics         2   45  120  on  | cuda tests: test_ssim_mean.py, test_psnr_mse.py, test_psnr.py"
    "tests-conv            2  104  200  on  | cuda tests: conv2d_act, conv_pixel_shuffle, ..."
    "ncu-resblock          2   25  120  on  | Nsight Compute counters of the resblock kernels, C 64 bf16"
    "sweep-conv            2   32  300  on  | Triton conv tile configs: fastest correct per case"
    "bench-imresize        3   20   60  on  | imresize GPU rows, two-pass kernel"
    "bench-imresize-fused  3   15   45  on  | imresize ours, SR_KERNELS_IMRESIZE_FUSED=1"
    "bench-imresize-noruns 3    6   30  on  | imresize ours:cuda fused, SR_KERNELS_IMRESIZE_RUNS=0"
    "bench-metrics         3   45   70  on  | psnr / ssim GPU rows"
    "ncu-streaming         3   17   90  on  | Nsight Compute counters of fused imresize and uint8 psnr"
    "profile-kernels       4    0   90  on  | per-kernel times: imresize, psnr, ssim (torch.profiler)"
    "tune                  4    0  150  on  | sr-kernels tune: every backend per case, the table"
    "tests-cuda-rest       4    0  120  on  | cuda tests: the other files"
    "sanitize-imresize     4    0  120  on  | compute-sanitizer racecheck, memcheck: fused imresize"
    "bench-pixel-shuffle   4    0   60  on  | pixel_shuffle GPU rows"
    "bench-conv-rest       4    0  240  on  | conv GPU rows not measured above"
    "bench-conv2d-act      4    0   90  on  | conv2d_act nhwc GPU rows, ours and eager"
    "env-kernels           4    0  200  on  | sr-kernels env --kernels"
    "tests-rest            4    0  400  off | pytest tests -m 'not cuda' (CI runs it)"
)
P_NAME=() P_PRIO=() P_SHARE=() P_MAX=() P_STATE=() P_WHAT=()
for line in "${PLAN[@]}"; do
    read -r name prio share max state _ <<< "${line%%|*}"
    what="${line#*| }"
    if [[ " $SKIP " == *" $name "* ]]; then
        state="skipped (SR_KERNELS_VALIDATE_SKIP)"
    elif [ -n "$ONLY" ] && ((prio > 0)) && [[ " $ONLY " != *" $name "* ]]; then
        state="skipped (not in SR_KERNELS_VALIDATE_ONLY)"
    elif [ "$state" = off ] && [[ " $ENABLE " == *" $name "* ]]; then
        state=on
    elif [ "$state" = off ]; then
        state="off (SR_KERNELS_VALIDATE_ENABLE turns it on)"
    fi
    # shellcheck disable=SC2086  # a space-separated list of name=share[/max]
    for override in $SHARES; do
        if [ "${override%%=*}" = "$name" ]; then
            value="${override#*=}"
            share="${value%%/*}"
            if [[ "$value" == */* ]]; then max="${value#*/}"; fi
        fi
    done
    P_NAME+=("$name") P_PRIO+=("$prio") P_SHARE+=("$share") P_MAX+=("$max")
    P_STATE+=("$state") P_WHAT+=("$what")
done
held=0
for i in "${!P_NAME[@]}"; do
    if [ "${P_STATE[i]}" = on ]; then held=$((held + P_SHARE[i])); fi
done
AVAILABLE=$((BUDGET_S - REPORT_RESERVE_S))
if ((AVAILABLE < 0)); then AVAILABLE=0; fi
if ((held > AVAILABLE)); then
    # A smaller budget: every share shrinks in proportion, the order stays; the seconds lost
    # to rounding down go one each to the first stages, so the shares use the whole budget.
    scaled=0
    for i in "${!P_NAME[@]}"; do
        P_SHARE[i]=$((P_SHARE[i] * AVAILABLE / held))
        if [ "${P_STATE[i]}" = on ]; then scaled=$((scaled + P_SHARE[i])); fi
    done
    for i in "${!P_NAME[@]}"; do
        if ((scaled < AVAILABLE)) && [ "${P_STATE[i]}" = on ] && ((P_SHARE[i] > 0)); then
            P_SHARE[i]=$((P_SHARE[i] + 1))
            scaled=$((scaled + 1))
        fi
    done
fi
{
    printf '# budget_s %s reserve_s %s\n' "$BUDGET_S" "$REPORT_RESERVE_S"
    for i in "${!P_NAME[@]}"; do
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${P_NAME[i]}" "${P_PRIO[i]}" "${P_SHARE[i]}" \
            "${P_MAX[i]}" "${P_STATE[i]}" "${P_WHAT[i]}"
    done
} > "$WORK/plan.tsv"

elapsed() {
    if [ "$DRY_RUN" = "1" ]; then echo "$DRY_CLOCK"; else echo $((SECONDS - START)); fi
}

log() { printf '[gpu_validate %4ds] %s\n' "$(elapsed)" "$*"; }

stage_index() {
    local i
    for i in "${!P_NAME[@]}"; do
        if [ "${P_NAME[i]}" = "$1" ]; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

# record NAME STATUS SECONDS LIMIT: one line of stages.tsv (STATUS: exit status or why not run).
record() { printf '%s\t%s\t%s\t%s\n' "$@" >> "$WORK/stages.tsv"; }

# stage_limit I: the time limit stage number I gets if it starts now: its max, or less: what is
# left of the budget after the report reserve and the shares of the stages after it.
stage_limit() {
    local i=$1 later=0 j
    for ((j = i + 1; j < ${#P_NAME[@]}; j++)); do
        if [ "${P_STATE[j]}" = on ]; then later=$((later + P_SHARE[j])); fi
    done
    local left=$((BUDGET_S - $(elapsed) - REPORT_RESERVE_S - later))
    echo $((P_MAX[i] < left ? P_MAX[i] : left))
}

# run_stage NAME COMMAND...: run with the stage's time limit (stage_limit), output to
# $WORK/NAME.log, status and time to stages.tsv. Returns the command's exit status.
run_stage() {
    local name=$1 i
    shift
    if ! i=$(stage_index "$name"); then
        log "$name: not in the plan (bench/gpu_validate.sh PLAN)"
        FAILED=1
        return 1
    fi
    if [ "${P_STATE[i]}" != on ]; then
        log "$name: ${P_STATE[i]}"
        record "$name" "${P_STATE[i]}" 0 0
        return 0
    fi
    local max=${P_MAX[i]} limit leftover=0 least=5
    limit=$(stage_limit "$i")
    if ((P_SHARE[i] == 0)); then
        leftover=1
        least=$((max < MIN_LEFTOVER_S ? max : MIN_LEFTOVER_S))
    fi
    if ((limit < least)); then
        if [ "$DRY_RUN" = "1" ]; then  # its command all the same, for the plan's reader
            printf 'would skip %-21s prio %s  share %3ss  max %3ss  limit %3ss: %s\n' "$name" \
                "${P_PRIO[i]}" "${P_SHARE[i]}" "$max" "$limit" "$(printf '%q ' "$@")"
        fi
        log "$name: skipped, out of time budget"
        record "$name" "skipped: out of time" 0 0
        echo "skipped: the ${BUDGET_S}s budget was used up" > "$WORK/$name.log"
        # A stage on left-over time may find none: by design, not a failure.
        if ((!leftover)); then FAILED=1; fi
        return 124
    fi
    if [ "$DRY_RUN" = "1" ]; then
        # As if every stage used exactly its share: the limits each one is sure to get.
        printf 'would run  %-21s prio %s  share %3ss  max %3ss  limit %3ss: %s\n' "$name" \
            "${P_PRIO[i]}" "${P_SHARE[i]}" "$max" "$limit" "$(printf '%q ' "$@")"
        DRY_CLOCK=$((DRY_CLOCK + P_SHARE[i]))
        return 0
    fi
    log "$name: start (limit ${limit}s): $*"
    local t0=$SECONDS
    # SIGINT first: pytest then stops cleanly and still writes its JUnit XML and benchmark JSON.
    timeout --signal=INT --kill-after="$KILL_AFTER_S" "$limit" "$@" > "$WORK/$name.log" 2>&1
    local rc=$?
    record "$name" "$rc" "$((SECONDS - t0))" "$limit"
    if ((rc == 124 || rc == 137)); then
        echo "TIMED OUT after ${limit}s" >> "$WORK/$name.log"
    fi
    log "$name: exit $rc after $((SECONDS - t0))s"
    tail -n 4 "$WORK/$name.log" | sed 's/^/    /'
    # A stage on left-over time that the budget cut short (its limit below its max) is partial
    # (the report says so), not failed; one that overran its own max, one with held time that
    # timed out, or any that failed, is a failure.
    local cut_by_budget=$((leftover && limit < max && (rc == 124 || rc == 137)))
    if ((rc != 0 && !cut_by_budget)); then FAILED=1; fi
    snapshot_to_out
    return $rc
}

# snapshot_to_out: the work folder so far as $OUT/validate-work.tar.gz (when $OUT is set), after
# every stage: a call cut short by the device's limit still brings back every finished stage's
# logs, JUnit XML and benchmark JSON (`python sr_kernels/benchmarking.py report --work DIR`
# turns the unpacked folder into the report), not nothing. Written aside, then renamed, so a
# kill mid-write leaves the previous snapshot. One file: the device tool brings back at most 8.
snapshot_to_out() {
    if [ -z "${OUT:-}" ] || [ "$DRY_RUN" = "1" ]; then return 0; fi
    if tar -czf "$OUT/.validate-work.tar.gz.part" -C "$WORK" . 2> /dev/null &&
        mv -f "$OUT/.validate-work.tar.gz.part" "$OUT/validate-work.tar.gz"; then
        log "snapshot: the work folder so far in $OUT/validate-work.tar.gz"
    fi
}

# --- machine -------------------------------------------------------------------------------
GPU_NAME=""
if [ "$DRY_RUN" = "1" ]; then
    GPU_NAME="dry run"
elif command -v nvidia-smi > /dev/null 2>&1; then
    GPU_NAME="$(nvidia-smi --query-gpu=name --format=csv,noheader 2> /dev/null | head -n 1)"
fi
if [ -z "$GPU_NAME" ]; then
    GPU_NAME="$("$PYTHON" -c 'import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else "")' 2> /dev/null)"
fi
GPU_SLUG="$(printf '%s' "${GPU_NAME:-no-gpu}" | tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9]+/-/g; s/^-+//; s/-+$//')"
GPU_SLUG="${GPU_SLUG:-no-gpu}"
export SR_KERNELS_GPU_NAME="${GPU_NAME:-no GPU visible}"
log "repo $ROOT, python $PYTHON, GPU '${GPU_NAME:-none}', budget ${BUDGET_S}s, work folder $WORK"
if ((held > AVAILABLE)); then
    log "the shares ($held s) exceed the budget less the report reserve ($AVAILABLE s): scaled down"
fi

run_stage info bash -c "nvidia-smi; '$PYTHON' -c 'import sys, torch; print(sys.version); \
print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"gpu\", torch.cuda.is_available())'; \
'$PYTHON' -m pip --version; '$PYTHON' -c 'import triton; print(\"triton\", triton.__version__)'; \
'$PYTHON' -c 'import pytest, pytest_benchmark; print(\"pytest\", pytest.__version__, \"pytest-benchmark\", pytest_benchmark.__version__)'" || true

# --- install ---------------------------------------------------------------------------------
# -P: never import the package from the current folder, so the tests use what was installed.
PY=("$PYTHON" -P)
if [ "$INSTALL" = "1" ]; then
    if run_stage install "$PYTHON" -m pip install --no-deps --no-build-isolation -v .; then
        record install-jit "not needed" 0 0
    else
        log "ahead-of-time install failed: installing without the build (JIT on first use)"
        if ! run_stage install-jit env SR_KERNELS_BUILD_EXT=0 \
            "$PYTHON" -m pip install --no-deps --no-build-isolation .; then
            log "install failed twice: testing the source tree (PYTHONPATH=$ROOT)"
            export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
        fi
    fi
else
    log "SR_KERNELS_VALIDATE_INSTALL=0: testing the source tree (PYTHONPATH=$ROOT)"
    record install "off (SR_KERNELS_VALIDATE_INSTALL=0)" 0 0
    export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi

run_stage ext "${PY[@]}" -c '
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

run_stage env "${PY[@]}" -m sr_kernels env || true

# --- pytest stages -----------------------------------------------------------------------------
PYTEST_OPTS=(-q -rfE -p no:cacheprovider --durations=10)
if "$PYTHON" -c 'import pytest_timeout' > /dev/null 2>&1; then
    PYTEST_OPTS+=(--timeout=120)
fi

# Test stages run in TEST_WORKERS processes where pytest-xdist is installed (the GPU image has
# it): Triton kernels compile on first use, CPU work, and in one process tests-conv ran out of
# its 120 s on the H200 (2026-11-29) with 15 CPU cores idle. Each worker holds a CUDA context on
# the one GPU and a share of the CPU threads (xdist gives its workers the controller's sys.path,
# so -P holds there too). Benchmarks stay in one process: workers would time each other.
TEST_WORKERS="${SR_KERNELS_VALIDATE_TEST_WORKERS:-8}"
XDIST_OPTS=() XDIST_ENV=()
CORES=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # nproc obeys those two
if [ "$TEST_WORKERS" = auto ]; then TEST_WORKERS=$CORES; fi
if ! [[ "$TEST_WORKERS" =~ ^[0-9]+$ ]]; then
    log "SR_KERNELS_VALIDATE_TEST_WORKERS must be a number or auto, got '$TEST_WORKERS':" \
        "tests in one process"
    TEST_WORKERS=1
fi
if ((TEST_WORKERS > CORES)); then TEST_WORKERS=$CORES; fi
if ((TEST_WORKERS > 1)) && "$PYTHON" -c 'import xdist' > /dev/null 2>&1; then
    XDIST_OPTS=(-n "$TEST_WORKERS")
    threads=$((CORES / TEST_WORKERS))
    XDIST_ENV=("OMP_NUM_THREADS=$((threads > 0 ? threads : 1))")
fi

# run_tests STAGE PYTEST_ARGS...: JUnit XML to $WORK/STAGE.xml.
run_tests() {
    local name=$1
    shift
    run_stage "$name" env "${XDIST_ENV[@]}" "${PY[@]}" -m pytest "$@" "${XDIST_OPTS[@]}" \
        "${PYTEST_OPTS[@]}" --junitxml="$WORK/$name.xml"
}

# run_bench STAGE K [VAR=VALUE...] FILE...: the GPU rows (-m cuda) of FILE... selected by -k K
# ("": all) and SR_KERNELS_VALIDATE_BENCH_K, with VAR=VALUE in the environment; JSON to
# STAGE.json.
run_bench() {
    local name=$1 k=$2 envs=() select=()
    shift 2
    while (($# > 0)) && [[ $1 == *=* ]]; do
        envs+=("$1")
        shift
    done
    local user_k="${SR_KERNELS_VALIDATE_BENCH_K:-}"
    if [ -n "$k" ] && [ -n "$user_k" ]; then
        select=(-k "($k) and ($user_k)")
    elif [ -n "$k$user_k" ]; then
        select=(-k "$k$user_k")
    fi
    run_stage "$name" env "${envs[@]}" "${PY[@]}" -m pytest "$@" -m cuda "${select[@]}" \
        --benchmark-only "${PYTEST_OPTS[@]}" --benchmark-min-rounds=3 \
        --benchmark-json="$WORK/$name.json" --junitxml="$WORK/$name.xml"
}

# Row selections: pytest -k on ids <workload>-<dtype>-<layout>-<device>-<impl> and test names.
# Issue 5's targets: channels_last fp16/bf16, ours against eager cuDNN (C = 64 and 256), and
# against torch.compile max-autotune at C = 64. The max-autotune rows run in their own stage:
# inductor autotunes each new dtype/shape graph (it can take tens of seconds) before timing it;
# there its time limit cuts off only compile rows, never the eager ones.
CONV_MAIN="nhwc and not fp32 and not reference"
K_RESBLOCK="not torch.compile and ($CONV_MAIN) or training_step or host_time"
K_UPSAMPLER="not torch.compile and ($CONV_MAIN) or upsampler_x4"
K_COMPILE="test_residual_block and torch.compile and nhwc and not fp32 and not c256"
K_MEASURED="not torch.compile and ($CONV_MAIN) or training_step or host_time or upsampler_x4 or ($K_COMPILE)"
K_CONV_REST="not ($K_MEASURED)"
CHANGED_TESTS_IMRESIZE=(tests/ops/test_imresize.py)
CHANGED_TESTS_METRICS=(tests/ops/test_ssim_mean.py tests/ops/test_psnr_mse.py tests/ops/test_psnr.py)
# tests-conv: the CUDA kernels' own tests first (293 cuda tests: most of the changes since the
# last GPU run, and no JIT compiles) and the CUDA bindings on strided views (7), then the per-op
# files (158: every backend, Triton configs compiled on first use), so that a stage stopped at
# its limit has checked the CUDA C++ first.
CHANGED_TESTS_CONV=(tests/ops/test_conv_cuda.py tests/ops/test_strided_layouts.py
    tests/ops/test_residual_block.py tests/ops/test_conv_pixel_shuffle.py
    tests/ops/test_conv2d_act.py)
IGNORE_CHANGED=()
for path in "${CHANGED_TESTS_IMRESIZE[@]}" "${CHANGED_TESTS_METRICS[@]}" \
    "${CHANGED_TESTS_CONV[@]}"; do
    IGNORE_CHANGED+=("--ignore=$path")
done

# Priority 1
run_bench bench-resblock "$K_RESBLOCK" bench/bench_resblock.py || true
# The CUDA block's 4-warp configuration (two blocks per SM) and its wgmma form (Hopper's
# warpgroup MMA) against the default's rows above.
K_CUDA_C64="ours:cuda and nhwc and not fp32 and not c256"
run_bench bench-resblock-4warps "$K_CUDA_C64" SR_KERNELS_RESBLOCK_CUDA_WARPS=4 \
    bench/bench_resblock.py || true
run_bench bench-resblock-wgmma "$K_CUDA_C64" SR_KERNELS_CUDA_WGMMA=1 bench/bench_resblock.py || true
# The tile rule before 2026-12-01 (the largest tile that fits) on the training batch, where the
# wave-aware choice differs (12 x 24 and 8 x 16 tiles instead of 16 x 16), against the rows above.
run_bench bench-conv-largest "$K_CUDA_C64 and b16" SR_KERNELS_CONV_CUDA_TILES=largest \
    bench/bench_resblock.py bench/bench_upsampler.py || true
run_bench bench-upsampler "$K_UPSAMPLER" bench/bench_upsampler.py || true
run_bench bench-compile "$K_COMPILE" bench/bench_resblock.py || true
# Priority 2
run_tests tests-imresize "${CHANGED_TESTS_IMRESIZE[@]}" -m cuda || true
run_tests tests-metrics "${CHANGED_TESTS_METRICS[@]}" -m cuda || true
run_tests tests-conv "${CHANGED_TESTS_CONV[@]}" -m cuda || true
# Why the blocks take their time: tensor-pipe use, issue slots, occupancy and warp stall
# reasons of ours (CUDA: 8 / 4 warps, wgmma; Triton) and cuDNN's kernels, one call each (ncu).
run_stage ncu-resblock "${PY[@]}" bench/ncu_kernels.py --suite resblock --out-dir "$WORK" || true
# Measured tile configs for _conv_configs.py. The sweep stops itself about 10 s before the
# stage's limit (start-up and writing the JSON come on top of its budget), so it ends with its
# table printed rather than by SIGINT.
SWEEP_BUDGET_S=0
if sweep_stage=$(stage_index sweep-conv); then
    sweep_limit=$(stage_limit "$sweep_stage")
    SWEEP_BUDGET_S=$((sweep_limit - 10 > sweep_limit / 2 ? sweep_limit - 10 : sweep_limit / 2))
fi
# Its budget is split over the cases selected: the default spends it all on the C = 64 block.
read -r -a SWEEP_ARGS <<< "${SR_KERNELS_VALIDATE_SWEEP_ARGS---ops residual_block --channels 64}"
run_stage sweep-conv "${PY[@]}" bench/sweep_conv_configs.py --out "$WORK/sweep-conv.json" \
    --budget-s "$SWEEP_BUDGET_S" "${SWEEP_ARGS[@]}" || true
# Priority 3 (the reference backend's GPU rows are slow float64 paths: left out)
run_bench bench-imresize "not reference" SR_KERNELS_IMRESIZE_FUSED=0 bench/bench_imresize.py || true
run_bench bench-imresize-fused "ours:auto or ours:cuda" SR_KERNELS_IMRESIZE_FUSED=1 \
    bench/bench_imresize.py || true
# The fused kernel without its integer-scale paths (row and column runs, width quads), to compare.
run_bench bench-imresize-noruns "ours:cuda" SR_KERNELS_IMRESIZE_FUSED=1 SR_KERNELS_IMRESIZE_RUNS=0 \
    bench/bench_imresize.py || true
run_bench bench-metrics "not reference" bench/bench_metrics.py || true
# Why imresize and PSNR stay below their bandwidth targets: issue slots, stall reasons (ncu).
run_stage ncu-streaming "${PY[@]}" bench/ncu_kernels.py --suite streaming --out-dir "$WORK" || true
# Priority 4: time left over
run_stage profile-kernels "${PY[@]}" bench/profile_kernels.py || true
# The registry's automatic order from measurements (issue 5: the faster backend per channels,
# dtype and architecture): the table lands beside the report as <stem>-backend-timings.json.
run_stage tune "${PY[@]}" -m sr_kernels tune --out "$WORK/backend-timings.json" || true
run_tests tests-cuda-rest tests -m cuda "${IGNORE_CHANGED[@]}" || true
# The fused imresize kernel shares tiles between warps (shared memory, atomics): shared-memory
# races and out-of-bounds accesses only show under compute-sanitizer. No JUnit XML: the same
# tests are counted in tests-imresize.
SANITIZER="$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)"
K_SANITIZE="several_tiles and fused and uint8 and (contiguous or channels_last)"
run_stage sanitize-imresize bash -c 'for tool in racecheck memcheck; do
    "$0" --tool "$tool" --error-exitcode 1 "${@:1}" || exit $?; done' "$SANITIZER" \
    "${PY[@]}" -m pytest tests/ops/test_imresize.py -m cuda -k "$K_SANITIZE" -q -rfE \
    -p no:cacheprovider || true
run_bench bench-pixel-shuffle "" bench/bench_pixel_shuffle.py || true
run_bench bench-conv-rest "$K_CONV_REST" bench/bench_resblock.py bench/bench_upsampler.py || true
run_bench bench-conv2d-act "nhwc and not torch.compile and not reference" \
    bench/bench_conv2d_act.py || true
run_stage env-kernels "${PY[@]}" -m sr_kernels env --kernels || true
run_tests tests-rest tests -m "not cuda" || true

# --- report ------------------------------------------------------------------------------------
# A stem none of whose files exist, so that an earlier run's committed report is never
# overwritten (the report step refuses to without --force): <date>-<gpu>, else (a second run
# that day) <date>-<HHMM>-<gpu>, else that with -2, -3, ...
REPORT_FILES=(.json .md -pytest-benchmark.json -speedups.png -roofline.png -backend-timings.json)  # = report_outputs
stem_taken() {
    local suffix
    for suffix in "${REPORT_FILES[@]}"; do
        if [ -e "$1$suffix" ]; then return 0; fi
    done
    return 1
}
read -r DATE HHMM <<< "$(date -u '+%Y-%m-%d %H%M')"
STEM="$RESULTS/$DATE-$GPU_SLUG"
if stem_taken "$STEM"; then STEM="$RESULTS/$DATE-$HHMM-$GPU_SLUG"; fi
base="$STEM"
n=2
while stem_taken "$STEM"; do
    STEM="$base-$n"
    n=$((n + 1))
done

if [ "$DRY_RUN" = "1" ]; then
    log "dry run: nothing ran; plan in $WORK/plan.tsv; the report would be $STEM.json, .md"
    exit 0
fi

mkdir -p "$RESULTS"
# Run as a file with -P: the report needs only the standard library (+ matplotlib for the chart),
# so it is written even when the package cannot be imported.
if ! "$PYTHON" -P "$ROOT/sr_kernels/benchmarking.py" report --work "$WORK" --out-stem "$STEM" \
    --gpu-name "${GPU_NAME:-no GPU visible}" > "$WORK/report.log" 2>&1; then
    FAILED=1
    log "report failed:"
    cat "$WORK/report.log"
    if [ ! -e "$STEM.md" ]; then
        printf '# GPU validation report failed\n\nSee %s/report.log\n' "$WORK" > "$STEM.md"
    fi
fi
log "report: $STEM.json, $STEM.md"

if [ -n "${OUT:-}" ]; then
    for suffix in "${REPORT_FILES[@]}"; do
        if [ -e "$STEM$suffix" ]; then cp "$STEM$suffix" "$OUT/"; fi
    done
    # One archive (the device tool brings back at most 8 files from $OUT), written aside and
    # renamed like the per-stage ones: a cut here keeps the last good snapshot.
    snapshot_to_out
    log "copied the report and logs to $OUT"
fi

log "done in $((SECONDS - START))s; stages:"
column -t -s $'\t' "$WORK/stages.tsv" 2> /dev/null || cat "$WORK/stages.tsv"
exit $FAILED
