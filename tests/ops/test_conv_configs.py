"""_conv_configs.override_configs: the development hook bench/sweep_conv_configs.py measures with.

Inside the block every launch takes the given config; outside (and after an exception) the
tables rule again, and the static compile check enumerates the tables only.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from sr_kernels.ops.triton import _conv_configs as configs
from sr_kernels.ops.triton import conv2d_act as triton_conv
from sr_kernels.ops.triton import residual_block as triton_block

FP16 = torch.float16


def _tables() -> tuple[configs.ResBlockConfig, configs.ConvConfig]:
    return (
        configs.residual_block_config(64, FP16, 90),
        configs.conv_config(64, 256, 64, 3, FP16, 90),
    )


def _others() -> tuple[configs.ResBlockConfig, configs.ConvConfig]:
    block, conv = _tables()
    return (
        dataclasses.replace(block, tile_h=16, num_warps=8, num_stages=2),
        dataclasses.replace(conv, block_m=64, num_warps=8, num_stages=3),
    )


def test_override_replaces_the_configs_and_restores_the_tables():
    block_table, conv_table = _tables()
    block, conv = _others()
    assert (block, conv) != (block_table, conv_table)
    with configs.override_configs(residual_block=block, conv=conv):
        # Every launch, whatever its channels, dtype and architecture.
        assert configs.residual_block_config(64, FP16, 90) == block
        assert configs.residual_block_config(256, torch.float32, 80) == block
        assert configs.conv_config(64, 256, 64, 3, FP16, 90) == conv
        assert configs.conv_config(3, 64, 64, 3, torch.bfloat16, 80) == conv
    assert _tables() == (block_table, conv_table)


def test_override_of_one_kind_leaves_the_other_on_its_table():
    block_table, conv_table = _tables()
    block, conv = _others()
    with configs.override_configs(conv=conv):
        assert configs.residual_block_config(64, FP16, 90) == block_table
        assert configs.conv_config(64, 256, 64, 3, FP16, 90) == conv
    with configs.override_configs(residual_block=block):
        assert configs.conv_config(64, 256, 64, 3, FP16, 90) == conv_table


def test_override_restores_the_tables_after_an_exception():
    block, conv = _others()
    tables = _tables()
    with pytest.raises(RuntimeError, match="inside the block"):
        with configs.override_configs(residual_block=block, conv=conv):
            raise RuntimeError("inside the block")
    assert _tables() == tables


def test_nested_override_restores_the_outer_one():
    block_table, conv_table = _tables()
    block, conv = _others()
    with configs.override_configs(residual_block=block, conv=conv):
        # An inner block replaces both: None means the table's config.
        with configs.override_configs(residual_block=block_table):
            assert configs.residual_block_config(64, FP16, 90) == block_table
            assert configs.conv_config(64, 256, 64, 3, FP16, 90) == conv_table
        assert configs.residual_block_config(64, FP16, 90) == block
        assert configs.conv_config(64, 256, 64, 3, FP16, 90) == conv


def test_static_check_enumerates_the_tables_only():
    def enumerated():
        return (
            configs.residual_block_configs(),
            configs.conv_configs(),
            configs.conv_configs(shuffle=True),
            [entry["name"] for entry in triton_block.aot_configs()],
            [entry["name"] for entry in triton_conv.aot_configs()],
        )

    outside = enumerated()
    block, conv = _others()
    with configs.override_configs(residual_block=block, conv=conv):
        assert enumerated() == outside
    assert all(block != c for _, _, c in outside[0])


class _LaunchSpy:
    """Stands in for a @triton.jit kernel: records the keyword arguments of each launch."""

    def __init__(self) -> None:
        self.launches: list[dict] = []

    def __getitem__(self, grid):
        return lambda *args, **kwargs: self.launches.append(kwargs)


def test_launchers_take_the_overriding_config(monkeypatch):
    spy = _LaunchSpy()
    monkeypatch.setattr(triton_block, "_residual_block_kernel", spy)
    monkeypatch.setitem(triton_conv.KERNELS, True, spy)
    block, conv = _others()
    x = torch.rand(1, 64, 5, 7, dtype=FP16)
    w, b = torch.rand(64, 64, 3, 3, dtype=FP16), torch.rand(64, dtype=FP16)
    up_w, up_b = torch.rand(256, 64, 3, 3, dtype=FP16), torch.rand(256, dtype=FP16)
    with configs.override_configs(residual_block=block, conv=conv):
        triton_block._launch(x, w, b, w, b, 1.0, False)
        triton_conv.launch(
            x, up_w, up_b, replicate=False, relu=False, shuffle_r=2, allow_tf32=False
        )
    block_launch, conv_launch = spy.launches
    assert block_launch["TILE_H"] == 16
    assert (block_launch["num_warps"], block_launch["num_stages"]) == (8, 2)
    assert conv_launch["BLOCK_M"] == 64
    assert (conv_launch["num_warps"], conv_launch["num_stages"]) == (8, 3)
