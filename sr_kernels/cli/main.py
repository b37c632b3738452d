"""`sr-kernels` entry point: one subcommand per module of this package.

Each subcommand module defines ``register(subparsers)``, which adds its parser and sets
``func`` (called with the parsed arguments; returns the exit status).

For every subcommand: a bad SR_KERNELS_BACKEND, SR_KERNELS_BACKEND_TIMINGS,
SR_KERNELS_ALLOW_TF32, SR_KERNELS_BUILD_EXT, SR_KERNELS_WITH_CUDA or SR_KERNELS_CPU_ISA is a
one-line error before any work (`env` reports it instead, in its table), Ctrl-C ends with
"interrupted" and status 130, and a closed output pipe (``sr-kernels env | head -1``) ends
quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from .. import __version__

SUBCOMMANDS = ("env", "demo", "bench", "tune")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sr-kernels", description="Fused GPU kernels for super-resolution."
    )
    parser.add_argument("--version", action="version", version=f"sr-kernels {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"sr_kernels.cli.{name}").register(subparsers)
    return parser


def backend_setting_problem() -> str | None:
    """What is wrong with SR_KERNELS_BACKEND, SR_KERNELS_BACKEND_TIMINGS,
    SR_KERNELS_ALLOW_TF32, SR_KERNELS_BUILD_EXT, SR_KERNELS_WITH_CUDA or SR_KERNELS_CPU_ISA,
    or None. The ops read
    the first three when they run, so a bad value would fail every op of a long run; bad values
    of the others would silently leave the extension unloaded (every op on the reference) or
    the CPU kernels at their widest instructions."""
    from .. import _build, _ext
    from ..ops import _backend_timings, _registry
    from ..ops.triton import _conv_configs

    try:
        _registry.forced_backend()
        _conv_configs.allow_tf32()
    except ValueError as error:
        return str(error)
    return (
        _backend_timings.setting_problem()
        or _ext.build_ext_setting_problem()
        or _build.with_cuda_setting_problem()
        or _ext.cpu_isa_setting_problem()
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "env":
        problem = backend_setting_problem()
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    try:
        with warnings.catch_warnings():
            if args.command == "env":  # its table names a bad setting; the warning said it again
                warnings.filterwarnings("ignore", message=".*the compiled extension is not loaded")
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): send the rest of stdout nowhere, so that the
        # flush at exit does not fail again, and stop.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
