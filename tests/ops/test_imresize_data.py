"""imresize reproduces the MATLAB-made Set5 LR files bit for bit (../shared/data).

* `LR_bicubic/X2, X3, X4` (EDSR pack): uint8 pipeline, mirror edges;
* `LR_bicubic_selfexsr/X2, X3, X4` (SelfExSR / RCAN packs): uint8 pipeline, clamp edges;
* `LR_bicubic/X8`: float pipeline (float64 input, one rounding at the end), mirror edges.

The Triton interpreter takes seconds per image here, so under it one image per pack and scale
is checked (bird, the smallest square one); on a GPU every image is.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _helpers import ALL_BACKENDS, backend_device, backend_params, require_data

from sr_kernels import ops
from sr_kernels.ops import _registry

NAMES = ["baby", "bird", "butterfly", "head", "woman"]
PACKS = [("LR_bicubic", "mirror", 2), ("LR_bicubic", "mirror", 3), ("LR_bicubic", "mirror", 4)]
PACKS += [("LR_bicubic_selfexsr", "clamp", s) for s in (2, 3, 4)]


def _load(path):
    from PIL import Image

    with Image.open(path) as image:
        return np.array(image.convert("RGB"))  # a writable copy (torch warns on read-only)


def _hr_tensor(name, scale, device):
    hr = _load(require_data("Set5", "HR") / f"{name}.png")
    x = torch.from_numpy(hr).permute(2, 0, 1)[None].contiguous()
    return ops.modcrop(x, scale).to(device)


def _lr(pack, scale, name):
    folder = require_data("Set5", pack, f"X{scale}")
    return torch.from_numpy(_load(folder / f"{name}.png"))


def _interpreted(backend):
    return backend == "triton" and _registry.triton_interpreting()


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
@pytest.mark.parametrize("pack,edge,scale", PACKS, ids=[f"{p}-X{s}" for p, _, s in PACKS])
@pytest.mark.parametrize("name", NAMES)
def test_uint8_pipeline_is_bit_exact(backend, pack, edge, scale, name):
    if _interpreted(backend) and name != "bird":
        pytest.skip("Triton interpreter: one image per pack and scale (bird) keeps this fast")
    device = backend_device(backend)
    x = _hr_tensor(name, scale, device)
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.imresize(x, 1 / scale, edge=edge)
    assert ("imresize", backend) in events
    lr = _lr(pack, scale, name)
    out = out[0].permute(1, 2, 0).cpu()
    assert out.shape == lr.shape
    differing = int((out != lr).any(dim=-1).sum())
    assert differing == 0, f"{differing} pixels differ from {pack}/X{scale}/{name}.png"


@pytest.mark.parametrize("backend", backend_params("cpu"))
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("isa", ["avx512", "avx2", "base"])
def test_every_cpu_path_is_bit_exact(backend, isa, layout, monkeypatch):
    """The CPU kernel's instruction-set paths (SR_KERNELS_CPU_ISA lowers the one the processor
    has: a CPU without AVX-512 runs the AVX2 path) and both layouts (channels_last images take
    the staged per-pixel-row path), on every uint8 pack and image."""
    monkeypatch.setenv("SR_KERNELS_CPU_ISA", isa)
    active = torch.ops.sr_kernels.imresize_cpu_isa()
    if active != isa:
        pytest.skip(f"this processor has no {isa} path (the CPU kernel uses {active})")
    memory_format = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    for pack, edge, scale in PACKS:
        for name in NAMES:
            x = _hr_tensor(name, scale, "cpu").contiguous(memory_format=memory_format)
            with ops.use_backend(backend), ops.trace() as events:
                out = ops.imresize(x, 1 / scale, edge=edge)
            assert events == [("imresize", backend)]
            differing = int((out[0].permute(1, 2, 0) != _lr(pack, scale, name)).any(dim=-1).sum())
            assert differing == 0, (
                f"{isa} {layout}: {differing} pixels differ, {pack}/X{scale}/{name}"
            )


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
@pytest.mark.parametrize("name", NAMES)
def test_float_pipeline_x8_is_bit_exact(backend, name):
    """X8 of the EDSR pack: resized as a float image, rounded once at the end."""
    if _interpreted(backend) and name != "bird":
        pytest.skip("Triton interpreter: one image (bird) keeps this fast")
    device = backend_device(backend)
    x = _hr_tensor(name, 8, device).double()
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.imresize(x, 1 / 8)
    assert ("imresize", backend) in events
    quantised = out.clamp(0, 255)
    quantised = (quantised.floor() + (quantised - quantised.floor() >= 0.5)).to(torch.uint8)
    lr = _lr("LR_bicubic", 8, name)
    quantised = quantised[0].permute(1, 2, 0).cpu()
    assert int((quantised != lr).any(dim=-1).sum()) == 0


def test_degrade_helpers_on_files():
    """`degrade` on NumPy arrays and PIL images (automatic backend) gives the files too."""
    from PIL import Image

    hr_path = require_data("Set5", "HR") / "woman.png"
    for pack, edge, scale in PACKS:
        lr = _load(require_data("Set5", pack, f"X{scale}") / "woman.png")
        assert np.array_equal(ops.degrade(_load(hr_path), scale, edge=edge), lr)
        with Image.open(hr_path) as image:
            assert np.array_equal(np.asarray(ops.degrade(image, scale, edge=edge)), lr)
