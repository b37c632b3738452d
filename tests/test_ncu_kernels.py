"""bench/ncu_kernels.py on CPU: reading ncu's raw CSV page into the summary table (the format
ncu prints: a header line naming the columns, a units line, one line per kernel), the streaming
suite's cases, and the exit status without a GPU. The profiling itself needs a GPU and ncu
(gpu_validate.sh)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "bench"

HEADER = (
    '"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream",'
    '"Block Size","Grid Size","Device","CC","gpu__time_duration.sum",'
    '"sm__throughput.avg.pct_of_peak_sustained_elapsed",'
    '"sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active",'
    '"smsp__average_warps_issue_stalled_barrier_per_issue_active.ratio",'
    '"smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio",'
    '"smsp__average_warps_issue_stalled_short_scoreboard_per_issue_active.ratio",'
    '"smsp__average_warps_issue_stalled_math_pipe_throttle_per_issue_active.ratio",'
    '"smsp__average_warps_issue_stalled_mio_throttle_per_issue_active.ratio",'
    '"smsp__average_warps_issue_stalled_sleeping_per_issue_active.ratio",'
    '"launch__registers_per_thread"'
)
UNITS = ",".join(['""'] * 11 + ['"nsecond"', '"%"', '"%"'] + ['"inst"'] * 6 + ['"register/thread"'])
CUDA_KERNEL = (
    "void sr::residual_block_kernel<__nv_bfloat16, sr::BlockConfig<8, 1, 3>>(sr::Args, int)"
)
KERNEL_NAMES = [CUDA_KERNEL, "triton_poi_fused_add_mul_0"]
ROWS = [
    f'"0","7","python3","h","{CUDA_KERNEL}","1","7","(256, 1, 1)","(510, 1, 1)","0","9.0",'
    '"201,344","35.2","21.5","2.5","0.75","3.25","1.5","0.5","0","226"',
    '"1","7","python3","h","triton_poi_fused_add_mul_0","1","7","(128, 1, 1)","(900, 1, 1)","0",'
    '"9.0","12,000","60","0","0.1","4","0","0","0","0","32"',
]


def _csv(names: list[str] | None = None, count: int = len(ROWS)) -> str:
    """The raw page of the first `count` kernels; with `names`, as --print-nvtx-rename kernel
    prints it (each kernel's name replaced by its NVTX range)."""
    rows = ROWS[:count]
    if names is not None:
        rows = [row.replace(old, new) for row, old, new in zip(rows, KERNEL_NAMES, names)]
    return "\n".join(["==PROF== Connected to process 7", HEADER, UNITS, *rows, ""])


@pytest.fixture
def ncu(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import ncu_kernels

    return ncu_kernels


def test_raw_csv_rows_and_units(ncu):
    rows, units = ncu.read_raw_csv(_csv())
    assert [row["ID"] for row in rows] == ["0", "1"]
    assert units["gpu__time_duration.sum"] == "nsecond"
    assert ncu.time_scale_to_us(units) == pytest.approx(1e-3)
    assert ncu.read_raw_csv("==ERROR== no kernels were profiled\n") == ([], {})


def test_kernels_take_their_labels_from_the_renamed_page(ncu):
    names = ["ours:cuda warps=8 x4 bfloat16", "eager x4 bfloat16"]
    kernels = ncu.kernels_from_csv(_csv(), _csv(names))
    assert [k.label for k in kernels] == names
    assert kernels[0].name == CUDA_KERNEL
    # A renamed page that does not line up (or none) leaves the labels unknown.
    misaligned = ncu.kernels_from_csv(_csv(), _csv(names, count=1))
    assert [k.label for k in misaligned] == ["", ""]
    assert [k.label for k in ncu.kernels_from_csv(_csv(), None)] == ["", ""]


def test_stalls_are_the_largest_nonzero_reasons(ncu):
    (cuda, eager) = ncu.kernels_from_csv(_csv(), None)
    assert ncu.stalls(cuda.metrics) == [
        ("short_scoreboard", 3.25),
        ("barrier", 2.5),
        ("math_pipe_throttle", 1.5),
        ("long_scoreboard", 0.75),
    ]
    assert ncu.stalls(eager.metrics, top=2) == [("long_scoreboard", 4.0), ("barrier", 0.1)]


def test_markdown_table(ncu):
    kernels = ncu.kernels_from_csv(_csv(), _csv(["ours:cuda warps=8", "eager"]))
    table = ncu.markdown(kernels, time_scale=1e-3).splitlines()
    assert table[0].startswith("| implementation | kernel | time (us) | SM % |")
    cuda_row = table[2].split(" | ")
    assert cuda_row[0] == "| ours:cuda warps=8"
    assert (
        cuda_row[1] == "`void sr::residual_block_kernel<__nv_bfloat16, sr::BlockConfig<8, 1, 3>>`"
    )
    assert cuda_row[2:4] == ["201.3", "35.2"]
    assert "- | - |" in table[2]  # memory % and DRAM % were not in the CSV
    assert "| 21.5 |" in table[2] and "| 226 |" in table[2]
    assert table[2].endswith(
        "short_scoreboard 3.2, barrier 2.5, math_pipe_throttle 1.5, long_scoreboard 0.8 |"
    )


def test_short_kernel_name_drops_the_arguments(ncu):
    assert ncu.short_kernel_name("void f<int, g<2>>(int, float)") == "void f<int, g<2>>"
    assert ncu.short_kernel_name("k" * 80, width=10) == "kkkkkkk..."


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the exit status without a GPU")
def test_without_a_gpu_exits_2(ncu, tmp_path):
    assert ncu.main(["--out-dir", str(tmp_path)]) == 2
    assert ncu.main(["--workloads", "no_such_workload"]) == 2
    assert ncu.main(["--dtypes", "float32"]) == 2
    assert ncu.main(["--suite", "no_such_suite"]) == 2
    assert ncu.main(["--out-dir", str(tmp_path), "--suite", "streaming"]) == 2
    assert not list(tmp_path.iterdir())


def test_streaming_suite_profiles_fused_imresize_and_uint8_psnr(ncu):
    # profile_kernels.py's tiny CPU cases: the same selection the GPU run makes.
    calls = ncu.streaming_calls("cpu", small=True)
    labels = [label for label, _, _ in calls]
    assert len(labels) == 6, labels
    imresize, psnr = labels[:4], labels[4:]
    assert all(label.startswith("imresize x4 ") and label.endswith(" fused") for label in imresize)
    assert {"down", "up"} == {label.split()[2] for label in imresize}
    assert {"nchw", "nhwc"} == {label.split()[4] for label in imresize}
    assert [label.split()[:3] for label in psnr] == [["psnr", "u8", "nchw"], ["psnr", "u8", "nhwc"]]
    for label, call, env in calls:
        # The fused kernel is asked for where the op reads the setting.
        assert env == ((("SR_KERNELS_IMRESIZE_FUSED", "1"),) if "imresize" in label else ())
        assert call() is not None
