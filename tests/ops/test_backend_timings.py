"""Backend timings tables: reading, matching a case, and the automatic choice following them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from sr_kernels import ops
from sr_kernels.ops import _backend_timings as timings
from sr_kernels.ops import _registry

CPU_REASON = _registry.backend_reason("cpu", "cpu")
CONV_OPS = ("residual_block", "conv_pixel_shuffle", "conv2d_act")
needs_cpu_backend = pytest.mark.skipif(CPU_REASON is not None, reason=f"cpu: {CPU_REASON}")


@pytest.fixture
def tables(monkeypatch, tmp_path):
    """Isolated tables: no shipped or user table unless a test writes one; `write(path,
    records)` writes a table, `use(*paths)` names files in SR_KERNELS_BACKEND_TIMINGS."""
    shipped = tmp_path / "shipped" / timings.FILE_NAME
    monkeypatch.setattr(timings, "shipped_path", lambda: shipped)
    monkeypatch.setenv("SR_KERNELS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(timings.ENV_VAR, "")

    class Tables:
        shipped_path = shipped
        user_path = tmp_path / "cache" / timings.FILE_NAME

        @staticmethod
        def write(path: Path, records: list[dict]) -> Path:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"format": timings.FORMAT, "entries": records}))
            _registry.reload_backend_timings()
            return path

        @staticmethod
        def use(*paths: Path) -> None:
            monkeypatch.setenv(timings.ENV_VAR, os.pathsep.join(str(p) for p in paths))
            _registry.reload_backend_timings()

    _registry.reload_backend_timings()
    yield Tables
    monkeypatch.undo()
    _registry.reload_backend_timings()


def record(
    op="pixel_shuffle", arch="cpu", dtype="float32", channels_last=False, sizes=None, **seconds
):
    return {
        "op": op,
        "arch": arch,
        "dtype": dtype,
        "channels_last": channels_last,
        "sizes": sizes or {},
        "seconds": seconds or {"reference": 1e-3, "cpu": 2e-3},
    }


def cpu_meta(**sizes):
    return _registry.tensor_meta(torch.rand(1, 4, 2, 2), **sizes)


def test_a_case_is_op_arch_dtype_layout_and_the_other_fields():
    meta = cpu_meta(channels=64, r=2)
    case = timings.case_of("conv_pixel_shuffle", meta)
    assert case == timings.Case(
        "conv_pixel_shuffle", "cpu", "float32", False, (("channels", 64), ("r", 2))
    )


@pytest.mark.parametrize(
    ("measured", "wanted", "expected"),
    [
        ({"channels": 64}, {"channels": 64}, 0.0),
        ({"channels": 64}, {"channels": 128}, 1.0),
        ({"channels": 64}, {"channels": 16}, 2.0),  # a factor of 4: still applies
        ({"channels": 64}, {"channels": 15}, None),  # more than 4 apart
        ({"channels": 64, "r": 2}, {"channels": 32, "r": 3}, 1.0 + 0.5849625007211562),
        ({"y_channel": True}, {"y_channel": False}, None),  # non-numeric fields must match
        ({"y_channel": True}, {"y_channel": 1}, None),  # a bool is not a size
        ({"channels": 64}, {"channels": 64, "r": 2}, None),  # other fields
        ({"channels": 0}, {"channels": 1}, None),
    ],
)
def test_size_distance(measured, wanted, expected):
    distance = timings.size_distance(tuple(measured.items()), tuple(wanted.items()))
    assert distance == (None if expected is None else pytest.approx(expected))


def test_the_nearest_measurement_of_the_same_kind_decides(tables):
    tables.use(
        tables.write(
            tables.user_path.parent / "t.json",
            [
                record(op="conv_pixel_shuffle", sizes={"channels": 64}, reference=1.0, cpu=2.0),
                record(op="conv_pixel_shuffle", sizes={"channels": 256}, cpu=1.0, reference=2.0),
                record(
                    op="conv_pixel_shuffle",
                    dtype="float16",
                    sizes={"channels": 100},
                    cpu=1.0,
                    reference=2.0,
                ),
            ],
        )
    )
    order = ("cpu", "reference")
    for channels, expected in ((64, "reference"), (96, "reference"), (160, "cpu"), (512, "cpu")):
        meta = cpu_meta(channels=channels)
        assert timings.measured_order("conv_pixel_shuffle", meta, order)[0] == expected
    # Nothing measured within a factor of 4, another dtype, layout or op: the fixed order.
    assert timings.measured_order("conv_pixel_shuffle", cpu_meta(channels=8), order) == order
    half = _registry.tensor_meta(torch.rand(1, 4, 2, 2, dtype=torch.float16), channels=64)
    assert timings.measured_order("conv_pixel_shuffle", half, order) == ("cpu", "reference")
    nhwc = torch.rand(1, 4, 2, 2).to(memory_format=torch.channels_last)
    meta_nhwc = _registry.tensor_meta(nhwc, channels=64)
    assert timings.measured_order("conv_pixel_shuffle", meta_nhwc, order) == order
    assert timings.measured_order("residual_block", cpu_meta(channels=64), order) == order


def gpu_conv_meta(cudnn_benchmark: bool) -> dict:
    """What `_registry.conv_meta` gives a bf16 NHWC C = 64 input on an sm_90 GPU."""
    return {
        "device": "cuda",
        "device_index": 0,
        "dtype": torch.bfloat16,
        "channels_last": True,
        "channels": 64,
        "cudnn_benchmark": cudnn_benchmark,
    }


def test_gpu_conv_timings_are_matched_per_cudnn_autotuner_setting(tables, monkeypatch):
    """cuDNN (the reference) is faster with its autotuner on: the case measured under the
    user's setting decides; one under the other setting stands in only where it is missing."""
    monkeypatch.setattr(timings, "_cuda_arch", lambda index: "sm_90")
    block = {"op": "residual_block", "arch": "sm_90", "dtype": "bfloat16", "channels_last": True}
    off = {**block, "sizes": {"channels": 64, "cudnn_benchmark": False}}
    on = {**block, "sizes": {"channels": 64, "cudnn_benchmark": True}}
    off["seconds"] = {"cuda": 194e-6, "reference": 202e-6, "triton": 300e-6}
    on["seconds"] = {"cuda": 201e-6, "reference": 129e-6, "triton": 139e-6}
    order = ("cuda", "triton", "reference")
    tables.write(tables.user_path, [off])
    for setting in (False, True):  # only "off" measured: it decides for both
        order_now = timings.measured_order("residual_block", gpu_conv_meta(setting), order)
        assert order_now == ("cuda", "reference", "triton")
    tables.write(tables.user_path, [on, off])
    assert timings.measured_order("residual_block", gpu_conv_meta(False), order) == (
        "cuda",
        "reference",
        "triton",
    )
    assert timings.measured_order("residual_block", gpu_conv_meta(True), order) == (
        "reference",
        "triton",
        "cuda",
    )
    # The same setting wins over nearer sizes under another one; a table written before the
    # setting was recorded (no such field) stands in like another setting.
    near = {**off, "sizes": {"channels": 64, "cudnn_benchmark": False}}
    far = {**on, "sizes": {"channels": 128, "cudnn_benchmark": True}}
    tables.write(tables.user_path, [near, far])
    assert timings.measured_order("residual_block", gpu_conv_meta(True), order)[0] == "reference"
    old = {**off, "sizes": {"channels": 64}}
    tables.write(tables.user_path, [old])
    assert timings.measured_order("residual_block", gpu_conv_meta(True), order)[0] == "cuda"


def test_a_gpu_without_timings_takes_the_nearest_measured_architectures(tables, monkeypatch):
    """Measurements apply to their own architecture first; a GPU with none takes the nearest
    measured GPU's (the same major version first, then the nearest compute capability) rather
    than the fixed order; CPU and GPU measurements never stand in for each other."""
    arch = {"now": "sm_86"}
    monkeypatch.setattr(timings, "_cuda_arch", lambda index: arch["now"])
    block = {"op": "residual_block", "dtype": "bfloat16", "channels_last": True}
    sizes = {"channels": 64, "cudnn_benchmark": False}
    order = ("cuda", "triton", "reference")

    def entry(arch_name, fastest):
        seconds = {"cuda": 4e-3, "triton": 3e-3, "reference": 2e-3, fastest: 1e-3}
        return {**block, "arch": arch_name, "sizes": sizes, "seconds": seconds}

    def first():
        return timings.measured_order("residual_block", gpu_conv_meta(False), order)[0]

    tables.write(tables.user_path, [entry("cpu", "triton")])
    assert first() == "cuda"  # the fixed order: a CPU measurement says nothing about a GPU
    tables.write(tables.user_path, [entry("sm_90", "reference")])
    assert first() == "reference"  # sm_90's stands in for sm_86's
    tables.write(tables.user_path, [entry("sm_90", "reference"), entry("sm_80", "triton")])
    assert first() == "triton"  # sm_80 is an Ampere like sm_86, though further in number
    tables.write(tables.user_path, [entry("sm_80", "triton"), entry("sm_86", "cuda")])
    assert first() == "cuda"  # its own
    arch["now"] = "sm_100"
    tables.write(tables.user_path, [entry("sm_80", "triton"), entry("sm_90", "reference")])
    assert first() == "reference"  # neither is a Blackwell: the nearer one
    # A GPU measurement never decides for CPU inputs.
    tables.write(tables.user_path, [record(arch="sm_90", reference=2e-3, cpu=1e-3)])
    assert timings.measurement_for("pixel_shuffle", cpu_meta()) is None


def test_conv_metadata_on_a_cpu_has_no_cudnn_setting():
    meta = _registry.conv_meta(torch.rand(1, 4, 2, 2), channels=4)
    assert meta == _registry.tensor_meta(torch.rand(1, 4, 2, 2), channels=4)
    assert "cudnn_benchmark" not in meta


@pytest.mark.cuda
def test_conv_metadata_on_a_gpu_carries_the_cudnn_autotuner_setting(monkeypatch):
    x = torch.rand(1, 16, 4, 4, device="cuda")
    for setting in (False, True):
        monkeypatch.setattr(torch.backends.cudnn, "benchmark", setting)
        assert _registry.conv_meta(x, channels=16)["cudnn_benchmark"] is setting


def test_the_shipped_gpu_conv_timings_name_their_cudnn_setting():
    """conv_meta puts the setting into every GPU convolution case; a shipped entry without it
    would never match (`sr-kernels tune` measures it since 2026-11-30; earlier runs had it off)."""
    entries = timings.read_table(Path(timings.__file__).with_name(timings.FILE_NAME))
    conv = [e for e in entries if e.case.op in CONV_OPS and e.case.arch.startswith("sm_")]
    assert conv, "the shipped table has GPU convolution timings"
    for entry in conv:
        assert isinstance(dict(entry.case.sizes).get("cudnn_benchmark"), bool), entry.case


def test_measured_backends_are_sorted_among_their_places_the_others_keep_theirs(tables):
    tables.use(
        tables.write(
            tables.user_path.parent / "t.json",
            [record(op="conv", sizes={}, reference=1.0, triton=3.0, elsewhere=0.5)],
        )
    )
    order = timings.measured_order("conv", cpu_meta(), ("cuda", "triton", "reference"))
    # cuda was not timed (not available when measured): it keeps its place ahead of the
    # reference; 'elsewhere' is not in the op's order.
    assert order == ("cuda", "reference", "triton")
    order = timings.measured_order("conv", cpu_meta(), ("triton", "reference"))
    assert order == ("reference", "triton")


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        ({"reference": 1.00, "cpu": 1.04}, ("cpu", "reference")),  # within 5%: fixed order
        ({"reference": 1.00, "cpu": 1.06}, ("reference", "cpu")),
        ({"reference": 1.04, "cpu": 1.00}, ("cpu", "reference")),
    ],
)
def test_backends_within_five_percent_of_the_fastest_keep_the_fixed_order(seconds, expected):
    assert timings.ranked(seconds, ("cpu", "reference")) == expected


def test_ties_and_untimed_backends_together():
    order = ("cuda", "triton", "reference")
    # cuda untimed keeps its place; triton and reference tie: fixed order.
    assert timings.ranked({"triton": 1.02, "reference": 1.0}, order) == order
    seconds = {"cuda": 2.0, "triton": 1.0, "reference": 1.03}
    assert timings.ranked(seconds, order) == ("triton", "reference", "cuda")


def test_equally_near_measurements_decide_the_same_way_in_any_file_order(tables):
    small = record(op="conv", sizes={"channels": 64}, reference=1.0, cpu=2.0)
    large = record(op="conv", sizes={"channels": 256}, cpu=1.0, reference=2.0)
    for records in ([small, large], [large, small]):
        tables.use(tables.write(tables.user_path.parent / "t.json", records))
        entry = timings.measurement_for("conv", cpu_meta(channels=128))
        assert dict(entry.case.sizes) == {"channels": 64}


@needs_cpu_backend
def test_the_automatic_choice_follows_the_table(tables):
    x = torch.rand(1, 8, 5, 7)
    assert _registry.select("pixel_shuffle", _registry.tensor_meta(x)) == "cpu"  # fixed order
    tables.write(tables.user_path, [record(reference=1e-4, cpu=2e-4)])  # read by default
    with ops.trace() as events:
        out = ops.pixel_shuffle(x, 2)
    assert events == [("pixel_shuffle", "reference")]
    assert torch.equal(out, torch.nn.functional.pixel_shuffle(x, 2))
    # Only the measured case moves: another dtype, or the other op, keeps the fixed order.
    with ops.trace() as events:
        ops.pixel_shuffle(x.half(), 2)
        ops.pixel_unshuffle(x[:, :, :4, :6], 2)
    assert events == [("pixel_shuffle", "cpu"), ("pixel_unshuffle", "cpu")]
    # An explicit choice is never overridden by a table.
    with ops.use_backend("cpu"), ops.trace() as events:
        ops.pixel_shuffle(x, 2)
    assert events == [("pixel_shuffle", "cpu")]


@needs_cpu_backend
def test_psnr_follows_the_timings_of_psnr_mse(tables):
    """psnr runs psnr_mse's kernels, so psnr_mse's measurements order its backends too."""
    sr, hr = torch.rand(2, 3, 9, 8), torch.rand(2, 3, 9, 8)
    sizes = {"hr_channels_last": False, "y_channel": True}
    tables.write(tables.user_path, [record("psnr_mse", sizes=sizes, reference=1e-4, cpu=2e-4)])
    with ops.trace() as events:
        ops.psnr(sr, hr, data_range=1.0, y_channel=True)
        ops.psnr(sr, hr, data_range=1.0)  # RGB: another case, not measured: the fixed order
    assert events == [("psnr", "reference"), ("psnr", "cpu")]


@needs_cpu_backend
def test_imresize_downscaling_and_upscaling_are_separate_cases(tables):
    x = torch.rand(1, 3, 16, 12)
    down = record("imresize", sizes={"downscale": True}, reference=1e-4, cpu=2e-4)
    tables.write(tables.user_path, [down])
    with ops.trace() as events:
        ops.imresize(x, 0.5)
        ops.imresize(x, (2, 0.5))  # down along one axis: a downscale
        ops.imresize(x, 2)  # not measured: the fixed order
    assert events == [("imresize", "reference")] * 2 + [("imresize", "cpu")]


@needs_cpu_backend
def test_off_reads_no_table(tables, monkeypatch):
    tables.write(tables.user_path, [record(reference=1e-4, cpu=2e-4)])
    monkeypatch.setenv(timings.ENV_VAR, "off")
    _registry.reload_backend_timings()
    assert timings.entries() == []
    assert _registry.select("pixel_shuffle", cpu_meta()) == "cpu"


def test_later_tables_replace_earlier_entries_of_the_same_case(tables):
    tables.write(
        tables.shipped_path,
        [record(cpu=1.0, reference=2.0), record(dtype="float16", cpu=1.0, reference=2.0)],
    )
    tables.write(tables.user_path, [record(cpu=2.0, reference=1.0)])
    named = tables.write(
        tables.user_path.parent / "named.json", [record(dtype="float16", reference=1.0, cpu=3.0)]
    )
    assert timings.measured_order("pixel_shuffle", cpu_meta(), ("cpu", "reference"))[0] == (
        "reference"
    )
    tables.use(named)
    assert len(timings.entries()) == 2
    half = _registry.tensor_meta(torch.rand(1, 4, 2, 2, dtype=torch.float16))
    assert timings.measurement_for("pixel_shuffle", half).source == str(named)
    assert timings.sources() == sorted([str(named), str(tables.user_path)])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot be read as JSON"),
        ('{"format": "something else", "entries": []}', "not a timings table"),
        (json.dumps({"format": timings.FORMAT, "entries": {}}), "'entries' must be a list"),
        (json.dumps({"format": timings.FORMAT, "entries": [{"op": "x"}]}), "lacks"),
        (json.dumps({"format": timings.FORMAT, "entries": [record(cpu=-1.0)]}), "positive"),
        (json.dumps({"format": timings.FORMAT, "entries": [record(cpu="fast")]}), "positive"),
        (
            json.dumps({"format": timings.FORMAT, "entries": [dict(record(), seconds={})]}),
            "non-empty",
        ),
        # Values that slipped through and crashed every op call (unhashable, overflowing) or
        # changed the choice (bool("false") is True).
        (
            json.dumps({"format": timings.FORMAT, "entries": [record(sizes={"c": {"a": 1}})]}),
            "size 'c'",
        ),
        (
            json.dumps({"format": timings.FORMAT, "entries": [record(sizes={"c": [64]})]}),
            "size 'c'",
        ),
        (
            json.dumps({"format": timings.FORMAT, "entries": [record(sizes={"c": 10**400})]}),
            "size 'c'",
        ),
        (
            json.dumps({"format": timings.FORMAT, "entries": [record(cpu=10**400)]}),
            "seconds of 'cpu'",
        ),
        (
            json.dumps({"format": timings.FORMAT, "entries": [record(cpu=float("inf"))]}),
            "seconds of 'cpu'",
        ),
        (
            json.dumps({"format": timings.FORMAT, "entries": [record(channels_last="false")]}),
            "'channels_last' must be true or false",
        ),
        (
            json.dumps({"format": timings.FORMAT, "entries": [record(op=5)]}),
            "'op' must be a string",
        ),
    ],
)
def test_a_broken_table_named_explicitly_is_an_error_naming_it(tables, tmp_path, content, message):
    path = tmp_path / "broken.json"
    path.write_text(content)
    tables.use(path)
    with pytest.raises(ValueError, match=message) as error:
        _registry.select("pixel_shuffle", cpu_meta())
    assert timings.ENV_VAR in str(error.value) and str(path) in str(error.value)


def test_a_missing_table_named_explicitly_is_an_error(tables, tmp_path):
    tables.use(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="missing.json"):
        timings.entries()


@pytest.mark.parametrize("content", ["{not json", json.dumps(
    {"format": timings.FORMAT, "entries": [record(sizes={"c": {"a": 1}})]})])  # fmt: skip
def test_a_broken_user_table_is_skipped_with_a_warning(tables, content):
    tables.user_path.parent.mkdir(parents=True)
    tables.user_path.write_text(content)
    tables.write(tables.shipped_path, [record()])
    with pytest.warns(UserWarning, match="ignored"):
        entries = timings.entries()
    assert [entry.source for entry in entries] == [str(tables.shipped_path)]


def test_entry_to_json_round_trips(tables, tmp_path):
    case = timings.case_of("conv_pixel_shuffle", cpu_meta(channels=64, r=2))
    written = timings.entry_to_json(case, {"reference": 2e-3, "cpu": 1e-3}, workload="w")
    path = tables.write(tmp_path / "t.json", [written])
    (entry,) = timings.read_table(path)
    assert entry.case == case and entry.seconds == (("cpu", 1e-3), ("reference", 2e-3))


@pytest.mark.cuda
def test_cuda_metadata_names_the_device_and_its_architecture():
    x = torch.rand(1, 4, 2, 2, device="cuda")
    meta = _registry.tensor_meta(x)
    assert meta["device_index"] == x.get_device()
    major, minor = torch.cuda.get_device_capability(x.device)
    assert timings.case_of("pixel_shuffle", meta).arch == f"sm_{major}{minor}"


@needs_cpu_backend
def test_the_measured_choice_is_a_trace_time_constant_under_compile(tables):
    tables.write(tables.user_path, [record(reference=1e-4, cpu=2e-4)])
    _registry.forget_choices()
    compiled = torch.compile(lambda t: ops.pixel_shuffle(t, 2), fullgraph=True, backend="eager")
    x = torch.rand(1, 8, 4, 6)
    assert torch.equal(compiled(x), torch.nn.functional.pixel_shuffle(x, 2))
    chosen = {backend for op, _, forced, backend in _registry.choices() if op == "pixel_shuffle"}
    assert chosen == {"reference"}


def test_a_choice_made_while_the_tables_are_reloaded_is_not_kept(monkeypatch):
    """A choice made from tables that another thread reloads meanwhile is used once, not
    remembered (it would outlive the reload)."""
    real_select = _registry._select

    def select_while_reloading(*args):
        chosen = real_select(*args)
        _registry.forget_choices()  # as reload_backend_timings from another thread
        return chosen

    monkeypatch.setattr(_registry, "_select", select_while_reloading)
    _registry.forget_choices()
    assert _registry.select("pixel_shuffle", cpu_meta()) in ("cpu", "reference")
    assert [c for c in _registry.choices() if c[0] == "pixel_shuffle"] == []
    monkeypatch.undo()
    _registry.select("pixel_shuffle", cpu_meta())
    assert [c[0] for c in _registry.choices()] == ["pixel_shuffle"]
