"""sr_kernels.metrics: the public PSNR/SSIM API, presets and dataset helpers, and agreement with
independent implementations (scikit-image, hand-computed values)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _helpers import backend_device, backend_params, runs_on
from _metric_cases import related_pair

from sr_kernels import metrics, ops


def _y_numpy(x: np.ndarray) -> np.ndarray:
    """Independent BT.601 studio-swing Y (MATLAB rgb2ycbcr on [0, 1] RGB), float64, HWC input."""
    rgb = x.astype(np.float64) / 255.0
    return 16.0 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]


def _hwc(x: torch.Tensor) -> np.ndarray:
    return x.permute(1, 2, 0).cpu().numpy()


@pytest.mark.parametrize("backend", backend_params("cpu", "reference", "cuda"))
@pytest.mark.parametrize("y_channel", [False, True])
@pytest.mark.parametrize("crop", [0, 4])
def test_against_scikit_image(backend, y_channel, crop):
    skimage_metrics = pytest.importorskip("skimage.metrics")
    device = backend_device(backend)
    sr, hr = related_pair((3, 3, 45, 38), torch.uint8, "contiguous", device, noise=0.2)
    with runs_on(backend, "psnr"):
        p = metrics.psnr(sr, hr, crop_border=crop, y_channel=y_channel)
    with runs_on(backend, "ssim_mean"):
        s = metrics.ssim(sr, hr, crop_border=crop, y_channel=y_channel)
    for i in range(sr.shape[0]):
        a, b = _hwc(sr[i]), _hwc(hr[i])
        if crop:
            a, b = a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop]
        if y_channel:
            a, b = _y_numpy(a), _y_numpy(b)
            channel_axis = None
        else:
            a, b = a.astype(np.float64), b.astype(np.float64)
            channel_axis = 2
        p_ref = skimage_metrics.peak_signal_noise_ratio(b, a, data_range=255)
        s_ref = skimage_metrics.structural_similarity(
            b,
            a,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=255,
            channel_axis=channel_axis,
        )
        # The bounds, then ours: PSNR in double on both sides; SSIM within the 1e-6 of
        # the float64 reference that ssim_mean documents (measured here: 4e-15 dB and 1.2e-8).
        assert abs(p[i].item() - p_ref) <= 1e-4 and abs(s[i].item() - s_ref) <= 1e-4
        assert abs(p[i].item() - p_ref) <= 1e-9 and abs(s[i].item() - s_ref) <= 2e-6


def test_against_hand_computed_psnr():
    sr = torch.full((1, 1, 4, 4), 100, dtype=torch.uint8)
    hr = sr.clone()
    hr[0, 0, 0, 0] = 110  # one error of 10 over 16 pixels: MSE 6.25
    expected = 10 * math.log10(255**2 / 6.25)
    assert metrics.psnr(sr, hr).item() == pytest.approx(expected, abs=1e-12)
    # Y of a grey image: 16 + 219 v / 255, so the error shrinks by 219/255.
    expected_y = 10 * math.log10(255**2 / (6.25 * (219 / 255) ** 2))
    assert metrics.psnr(sr, hr, y_channel=True).item() == pytest.approx(expected_y, abs=1e-9)


@pytest.mark.parametrize("backend", backend_params("cpu", "reference", "triton", "cuda"))
def test_identical_images_give_inf_and_one(backend):
    device = backend_device(backend)
    sr, hr = related_pair((2, 3, 14, 13), torch.uint8, "contiguous", device)
    with ops.use_backend(backend):
        assert torch.isinf(metrics.psnr(hr, hr.clone())).all()
        assert torch.isinf(metrics.psnr(hr, hr.clone(), reduction="mean"))
        mixed = metrics.psnr(torch.stack([sr[0], hr[1]]), hr)  # one identical image
        assert torch.isfinite(mixed[0]) and torch.isinf(mixed[1]) and mixed[1] > 0
        ones = torch.ones(2, dtype=torch.float64)  # to fp32 rounding (fast kernels)
        torch.testing.assert_close(metrics.ssim(hr, hr.clone()).cpu(), ones, rtol=0, atol=1e-6)


def test_per_image_by_default_and_mean_of_per_image():
    sr, hr = related_pair((4, 3, 20, 21), torch.float32, "contiguous", noise=0.05)
    sr[2] = (hr[2] + 0.2).clamp(0, 1)  # one much worse image
    per_image = metrics.psnr(sr, hr, data_range=1.0)
    assert per_image.shape == (4,) and per_image.dtype == torch.float64
    mean = metrics.psnr(sr, hr, data_range=1.0, reduction="mean")
    assert mean.item() == pytest.approx(per_image.mean().item(), rel=1e-15)
    pooled = 10 * torch.log10(1.0 / ((sr.double() - hr.double()) ** 2).mean())
    assert abs(mean.item() - pooled.item()) > 0.1  # not the batch-pooled PSNR
    single = metrics.psnr(sr[1], hr[1], data_range=1.0)
    assert single.shape == () and single.item() == pytest.approx(per_image[1].item(), rel=1e-15)
    assert metrics.ssim(sr[1], hr[1], data_range=1.0).shape == ()


def test_mixed_float_and_uint8_pair():
    sr, hr = related_pair((2, 3, 16, 18), torch.uint8, "contiguous")
    as_uint8 = metrics.psnr(sr, hr, crop_border=2, y_channel=True, quantize=True, round_y=True)
    mixed = metrics.psnr(sr.float() / 255, hr, data_range=1.0, crop_border=2, y_channel=True,
                         quantize=True, round_y=True)  # fmt: skip
    torch.testing.assert_close(mixed, as_uint8, rtol=0, atol=0)
    ssim_mixed = metrics.ssim(sr, hr.half() / 255, data_range=1.0, quantize=True)
    torch.testing.assert_close(ssim_mixed, metrics.ssim(sr, hr), rtol=0, atol=1e-6)


def test_a_float_image_made_from_the_uint8_one_is_identical_to_it():
    """x / 255 (torchvision's ToTensor) against x itself, unquantised: PSNR inf, SSIM 1. The
    uint8 image used to be mapped as x * (1 / 255), one unit in the last place away (~150 dB)."""
    hr = torch.randint(0, 256, (2, 3, 16, 16), generator=torch.Generator().manual_seed(3))
    hr = hr.to(torch.uint8)
    for dtype in (torch.float32, torch.float64):
        sr = hr.to(dtype) / 255
        assert torch.isinf(metrics.psnr(sr, hr, data_range=1.0)).all()
        assert torch.isinf(metrics.psnr(hr, sr, data_range=1.0)).all()
        torch.testing.assert_close(
            metrics.ssim(sr, hr, data_range=1.0), torch.ones(2, dtype=torch.float64)
        )
    sr = hr.float() / (255 / 2)  # any white level: data_range 2
    assert torch.isinf(metrics.psnr(sr, hr, data_range=2.0)).all()


def test_a_protocol_evaluates_a_mixed_pair_either_way_round():
    """A uint8 SR against a float HR under a protocol with a float data_range, as under
    metrics.psnr: the data_range is the float image's (it used to be refused as uint8's)."""
    sr, hr = related_pair((2, 3, 16, 18), torch.uint8, "contiguous")
    protocol = metrics.paper_protocol(2, data_range=1.0)
    expected = metrics.paper_protocol(2).psnr(sr, hr)
    torch.testing.assert_close(protocol.psnr(sr, hr.float() / 255), expected, rtol=0, atol=0)
    torch.testing.assert_close(protocol.psnr(sr.float() / 255, hr), expected, rtol=0, atol=0)
    expected_ssim = metrics.paper_protocol(2).ssim(sr, hr)
    torch.testing.assert_close(
        protocol.ssim(sr, hr.float() / 255), expected_ssim, rtol=0, atol=1e-6
    )
    with pytest.raises(ValueError, match="protocol 'paper-x2': uint8 images are on"):
        protocol.psnr(sr, hr)  # a uint8 pair: data_range 1 is wrong for both


def test_quantize_matches_edsr_pytorch_convention():
    """EDSR-PyTorch: sr.mul(255 / rgb_range).clamp(0, 255).round() before the metric."""
    sr = torch.rand(2, 3, 17, 19, dtype=torch.float64) * 1.2 - 0.1  # out of range on purpose
    hr = torch.randint(0, 256, (2, 3, 17, 19)).double() / 255
    got = metrics.psnr(sr, hr, data_range=1.0, quantize=True, crop_border=2, y_channel=True)
    q = sr.mul(255).clamp(0, 255).round()
    diff = (q - hr * 255) / 255
    weights = torch.tensor([65.738, 129.057, 25.064], dtype=torch.float64).view(1, 3, 1, 1) / 256
    y = (diff * weights).sum(1)[:, 2:-2, 2:-2]
    expected = -10 * torch.log10((y**2).mean(dim=(1, 2)))
    # 65.738/256 and 65.481/255 agree to ~3e-6 relative, not exactly: 1e-4 dB as for skimage.
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4)


def test_nan_input_gives_nan():
    sr, hr = related_pair((2, 3, 16, 16), torch.float32, "contiguous")
    sr[0, 1, 7, 7] = float("nan")
    p = metrics.psnr(sr, hr, data_range=1.0)
    s = metrics.ssim(sr, hr, data_range=1.0)
    assert torch.isnan(p[0]) and torch.isfinite(p[1])
    assert torch.isnan(s[0]) and torch.isfinite(s[1])


def test_bad_arguments():
    sr, hr = related_pair((1, 3, 16, 16), torch.float32, "contiguous")
    with pytest.raises(ValueError, match="reduction must be"):
        metrics.psnr(sr, hr, data_range=1.0, reduction="sum")
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(sr[0], hr, data_range=1.0)
    for metric in (metrics.psnr, metrics.ssim):  # single images: their shapes, not (1, C, H, W)
        with pytest.raises(ValueError, match=r"got \(3, 16, 16\) and \(3, 16, 15\)$"):
            metric(sr[0], hr[0, :, :, :15], data_range=1.0)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) or \(C, H, W\)"):
        metrics.ssim(sr[0, 0], hr[0, 0], data_range=1.0)
    with pytest.raises(TypeError, match="sr must be a torch.Tensor"):
        metrics.psnr(sr.numpy(), hr, data_range=1.0)
    with pytest.raises(ValueError, match="data_range is required"):
        metrics.psnr(sr, hr)
    with pytest.raises(TypeError, match="int32"):
        metrics.psnr(sr.int(), hr, data_range=1.0)
    for metric in (metrics.psnr, metrics.ssim):
        with pytest.raises(ValueError, match="empty batch"):
            metric(sr[:0], hr[:0], data_range=1.0, reduction="mean")
        assert metric(sr[:0], hr[:0], data_range=1.0).shape == (0,)
    with pytest.raises(TypeError, match="sr has dtype int32; expected one of"):  # mixed pair
        metrics.psnr(sr.int(), hr.to(torch.uint8), data_range=1.0)
    with pytest.raises(ValueError, match="scale must be a positive integer"):
        metrics.paper_protocol(0)
    with pytest.raises(TypeError, match="scale must be an int, got float"):
        metrics.paper_protocol(2.0)
    assert metrics.paper_protocol(np.int64(2)) == metrics.paper_protocol(2)
    expected = metrics.psnr(sr, hr, data_range=1.0, crop_border=2)
    numpy_args = metrics.psnr(sr, hr, data_range=np.float32(1.0), crop_border=np.int64(2))
    assert torch.equal(numpy_args, expected)
    with pytest.raises(TypeError, match="sr must be a dense"):
        metrics.psnr(sr.to_sparse(), hr, data_range=1.0)
    rgba = [torch.cat([x, torch.ones_like(x[:, :1])], 1) for x in (sr, hr)]
    for metric in (metrics.psnr, metrics.ssim):  # an RGBA pair scored 1.25 dB too high on bird
        with pytest.raises(ValueError, match="drop the alpha channel"):
            metric(*rgba, data_range=1.0)
    # Flags: Python or NumPy bools (a NumPy bool was refused as "must be a bool, got bool").
    luma = metrics.psnr(sr, hr, data_range=1.0, y_channel=True)
    assert torch.equal(metrics.psnr(sr, hr, data_range=1.0, y_channel=np.True_), luma)
    with pytest.raises(TypeError, match="y_channel must be a bool, got builtins.int"):
        metrics.psnr(sr, hr, data_range=1.0, y_channel=1)
    protocol = metrics.paper_protocol(2, round_y=np.bool_(True))
    assert protocol.round_y is True and protocol == metrics.paper_protocol(2, round_y=True)


def test_requires_grad_inputs_are_detached():
    sr, hr = related_pair((1, 3, 16, 16), torch.float32, "contiguous")
    out = metrics.psnr(sr.requires_grad_(), hr, data_range=1.0)
    assert not out.requires_grad


def test_presets():
    paper = metrics.paper_protocol(4)
    assert paper.kwargs() == dict(
        crop_border=4, y_channel=True, quantize=True, round_y=False, data_range=None
    )
    assert metrics.paper_protocol(3, round_y=True, data_range=1.0).round_y
    study = metrics.study_protocol()
    assert study.kwargs() == dict(
        crop_border=0, y_channel=False, quantize=False, round_y=False, data_range=1.0
    )
    sr, hr = related_pair((2, 3, 20, 24), torch.float32, "contiguous")
    # The study: RGB in [0, 1], MAX = 1, no crop: 10 log10(1 / mse).
    expected = -10 * torch.log10(((sr.double() - hr.double()) ** 2).mean(dim=(1, 2, 3)))
    torch.testing.assert_close(study.psnr(sr, hr), expected, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match=r"uint8.*study_protocol\(data_range=None\)"):
        study.psnr((sr * 255).byte(), (hr * 255).byte())
    with pytest.raises(ValueError, match="data_range must be 255"):  # the function itself
        metrics.psnr((sr * 255).byte(), (hr * 255).byte(), **study.kwargs())
    # Bad settings are refused when the protocol is made, not at its first pair.
    for bad, error in [
        (dict(data_range=0), ValueError),
        (dict(data_range="1"), TypeError),
        (dict(data_range=float("inf")), ValueError),
    ]:
        with pytest.raises(error, match="data_range"):
            metrics.study_protocol(**bad)
    with pytest.raises(ValueError, match="data_range"):
        metrics.paper_protocol(2, data_range=-1.0)
    with pytest.raises(ValueError, match="crop_border must be >= 0"):
        metrics.Protocol("x", crop_border=-1)
    with pytest.raises(TypeError, match="quantize must be a bool"):
        metrics.Protocol("x", quantize=1)
    u8 = metrics.study_protocol(data_range=None)
    assert torch.isfinite(u8.psnr((sr * 255).byte(), (hr * 255).byte())).all()
    # round_y without quantize on float images could never evaluate a pair: refused when made.
    with pytest.raises(ValueError, match="round_y=True without quantize=True needs uint8"):
        metrics.Protocol("x", y_channel=True, round_y=True, data_range=1.0)
    for fine in (dict(data_range=None), dict(data_range=255.0), dict(quantize=True)):
        metrics.Protocol("x", y_channel=True, round_y=True, **fine)


def test_dataset_helpers_return_per_image_values_and_mean():
    protocol = metrics.paper_protocol(2)
    pairs = [(s[0], h[0]) for s, h in [related_pair((1, 3, 30, 28), torch.uint8, "contiguous"),
                                        related_pair((2, 3, 25, 33), torch.uint8, "contiguous")]]  # fmt: skip  # noqa: E501
    scores = metrics.evaluate_pairs(pairs, protocol)
    assert set(scores) == {"psnr", "ssim"}
    psnr = scores["psnr"]
    assert len(psnr) == 2 and psnr.per_image.dtype == torch.float64
    expected = [protocol.psnr(s, h).item() for s, h in pairs]
    assert psnr.per_image.tolist() == expected
    assert psnr.mean == pytest.approx(sum(expected) / 2, rel=1e-15)
    ssim = metrics.dataset_ssim(iter(pairs), protocol)
    assert ssim.per_image.tolist() == [protocol.ssim(s, h).item() for s, h in pairs]
    batched = metrics.dataset_psnr([related_pair((2, 3, 16, 16), torch.uint8, "contiguous")],
                                   protocol)  # fmt: skip
    assert len(batched) == 2
    empty = metrics.dataset_psnr([], protocol)
    assert len(empty) == 0 and math.isnan(empty.mean)
    with pytest.raises(ValueError, match="metrics must be"):
        metrics.evaluate_pairs(pairs, protocol, metrics=("lpips",))
    with pytest.raises(TypeError, match=r"pairs\[0\]"):
        metrics.evaluate_pairs([pairs[0][0]], protocol)
    with pytest.raises(ValueError, match="without repeats"):  # gave 2 values per image
        metrics.evaluate_pairs(pairs, protocol, metrics=("psnr", "psnr"))
    with pytest.raises(TypeError, match="protocol must be a Protocol"):
        metrics.evaluate_pairs(pairs, "paper")
    mismatched = [pairs[0], (pairs[1][0], pairs[0][1])]
    with pytest.raises(ValueError, match=r"pairs\[1\]: .*same shape"):
        metrics.evaluate_pairs(mismatched, protocol)
    with pytest.raises(TypeError, match=r"pairs\[0\] must be a \(sr, hr\) pair, got a tuple of 3"):
        metrics.evaluate_pairs([(*pairs[0], pairs[0][0])], protocol)
    # Scores compare as objects (== of their tensors would be elementwise, an error in `if`).
    again = metrics.evaluate_pairs(pairs, protocol)["psnr"]
    assert psnr == psnr and psnr != again and torch.equal(psnr.per_image, again.per_image)
