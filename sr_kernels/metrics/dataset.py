"""Dataset-level evaluation: per-image values plus their mean, over pairs of any sizes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from .protocols import Protocol

_METRICS = ("psnr", "ssim")


@dataclass(frozen=True, eq=False)  # == compares the objects: == of tensors is elementwise
class DatasetScores:
    """One metric over a dataset.

    Attributes:
        per_image: float64 CPU tensor, one value per image in input order.
        mean: mean of the per-image values (the number SR papers report).
    """

    per_image: torch.Tensor
    mean: float

    def __len__(self) -> int:
        return int(self.per_image.numel())


def _scores(values: Sequence[torch.Tensor]) -> DatasetScores:
    per_image = (
        torch.cat([v.reshape(-1).double().cpu() for v in values])
        if values
        else torch.empty(0, dtype=torch.float64)
    )
    mean = float(per_image.mean()) if per_image.numel() else float("nan")
    return DatasetScores(per_image=per_image, mean=mean)


def evaluate_pairs(
    pairs: Iterable[tuple[torch.Tensor, torch.Tensor]],
    protocol: Protocol,
    metrics: tuple[str, ...] = _METRICS,
) -> dict[str, DatasetScores]:
    """Evaluate (sr, hr) pairs under `protocol`.

    Args:
        pairs: (sr, hr) tensors, each (C, H, W) or (N, C, H, W); sizes may differ between pairs
            (benchmark images do), so each pair is one launch.
        protocol: the conventions (`paper_protocol`, `study_protocol` or your own `Protocol`).
        metrics: any of "psnr", "ssim".

    Returns:
        {metric: DatasetScores} with per-image values (every image of every pair, in order) and
        their mean. An empty iterable gives empty tensors and NaN means.
    """
    unknown = [m for m in metrics if m not in _METRICS]
    if unknown or not metrics or len(set(metrics)) != len(metrics):
        raise ValueError(
            f"metrics must be a non-empty subset of {_METRICS} without repeats, got {metrics!r}"
        )
    if not isinstance(protocol, Protocol):
        raise TypeError(
            f"protocol must be a Protocol (paper_protocol(scale), study_protocol() or your own), "
            f"got {type(protocol).__name__}"
        )
    values: dict[str, list[torch.Tensor]] = {m: [] for m in metrics}
    for index, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            got = type(pair).__name__
            if isinstance(pair, (tuple, list)):
                got = f"a {got} of {len(pair)} items"
            raise TypeError(f"pairs[{index}] must be a (sr, hr) pair, got {got}")
        sr, hr = pair
        for metric in metrics:
            try:
                values[metric].append(getattr(protocol, metric)(sr, hr))
            except (TypeError, ValueError) as error:  # say which pair
                raise type(error)(f"pairs[{index}]: {error}") from error
    return {metric: _scores(values[metric]) for metric in metrics}


def dataset_psnr(
    pairs: Iterable[tuple[torch.Tensor, torch.Tensor]], protocol: Protocol
) -> DatasetScores:
    """PSNR of every pair under `protocol`: per-image values and their mean."""
    return evaluate_pairs(pairs, protocol, metrics=("psnr",))["psnr"]


def dataset_ssim(
    pairs: Iterable[tuple[torch.Tensor, torch.Tensor]], protocol: Protocol
) -> DatasetScores:
    """SSIM of every pair under `protocol`: per-image values and their mean."""
    return evaluate_pairs(pairs, protocol, metrics=("ssim",))["ssim"]
