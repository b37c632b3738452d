"""`sr-kernels tune`: time each op's backends here; the automatic choice then follows the times."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import _args


def register(subparsers: Any) -> None:
    # Imported anyway: `import sr_kernels` (the package facade) imports every op.
    from ..tools.tune_backends import DEFAULT_CHANNELS, TUNABLE_OPS, TUNE_DTYPES

    parser = subparsers.add_parser(
        "tune",
        help="time every backend of each op on this machine; automatic choices then follow",
        description=(
            "Time every backend that can serve each op on typical SR inputs (per channels, "
            "dtype and memory format) and merge the median times into a timings table. The "
            "automatic backend choice tries the measured backends fastest first for inputs "
            "of a measured case (the same op, GPU architecture, dtype, memory format and "
            "channels within a factor of 4; a GPU with none of its own takes the nearest "
            "measured architecture's). Cases already in the table are replaced."
        ),
    )
    parser.add_argument(
        "--device",
        choices=("cuda", "cpu"),
        help="where to measure (default: cuda when a GPU is visible, else cpu)",
    )
    parser.add_argument(
        "--ops",
        nargs="+",
        choices=TUNABLE_OPS,
        default=list(TUNABLE_OPS),
        metavar="OP",
        help=f"ops to measure (default: all of {', '.join(TUNABLE_OPS)})",
    )
    parser.add_argument(
        "--channels",
        nargs="+",
        type=_channels,
        default=list(DEFAULT_CHANNELS),
        help=f"feature channels of the EDSR convolution cases, 1 to {MAX_CHANNELS} "
        "(default: 64 256)",
    )
    parser.add_argument(
        "--dtypes",
        nargs="+",
        choices=TUNE_DTYPES,
        metavar="DTYPE",
        help="only these dtypes (default: each op's usual ones)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="timings table to merge into (default: the user table the automatic choice reads, "
        "$SR_KERNELS_CACHE/backend_timings.json); a file that is not a timings table is refused",
    )
    parser.add_argument(
        "--min-time",
        type=_args.positive_float,
        default=0.01,
        metavar="SECONDS",
        help="time each backend runs per round (default 0.01)",
    )
    parser.add_argument(
        "--rounds",
        type=_args.positive_int,
        default=5,
        help="interleaved rounds per case; the median is kept (default 5)",
    )
    parser.add_argument(
        "--list", action="store_true", help="list the cases that would be measured and stop"
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        metavar="TABLE",
        help="measure nothing: merge these timings tables into --out (later ones replace "
        "earlier cases), e.g. a GPU run's table into sr_kernels/ops/backend_timings.json",
    )
    parser.set_defaults(func=run)


# EDSR's widest features are 256 channels; the cases' weights grow as C^2 (C = 100000 asked
# for 360 GB), so the option stops well before memory does.
MAX_CHANNELS = 1024


def _channels(text: str) -> int:
    value = _args.positive_int(text)
    if value > MAX_CHANNELS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_CHANNELS}, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    import torch

    from ..benchmarking import usage_error
    from ..ops import _backend_timings, _registry
    from ..tools import tune_backends

    out = args.out or _backend_timings.user_path()
    # merge_tables and tune check `out` (tune_backends.table_problem) and the sources before
    # they measure or write anything: their ValueError is the usage error.
    if args.merge:
        try:
            count = tune_backends.merge_tables(args.merge, out)
        except ValueError as error:
            return usage_error(str(error))
        print(f"merged {count} cases into {out}")
        return 0
    device_name = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device_name == "cuda" and not torch.cuda.is_available():
        return usage_error("--device cuda: no CUDA device is visible")
    device = torch.device(device_name)
    workloads = tune_backends.default_workloads(device_name, args.ops, args.channels, args.dtypes)
    if not workloads:
        return usage_error("no case matches --ops and --dtypes")
    if args.list:
        for workload in workloads:
            print(f"{workload.label} {workload.dtype}")
        return 0
    try:
        measurements = tune_backends.tune(workloads, device, out, args.min_time, args.rounds)
    except ValueError as error:
        return usage_error(str(error))
    except OSError as error:  # the table could not be written after all
        return usage_error(f"--out {out}: cannot write the table ({error})")
    print(tune_backends.summary_table(measurements))
    timed = sum(1 for m in measurements if m.seconds)
    print(f"\n{timed} of {len(measurements)} cases timed; table: {out}")
    forced = _registry.forced_backend()
    if forced is not None:  # the tuner forced each backend itself
        print(f"note: SR_KERNELS_BACKEND={forced} is set: ops use it, not the table, while it is")
    if len(measurements) < len(workloads):
        return 130  # interrupted (Ctrl-C): the cases measured are in the table
    if args.out is not None and args.out.resolve() != _backend_timings.user_path().resolve():
        print(
            f"The automatic choice reads it when {_backend_timings.ENV_VAR}={out} is set "
            "(or once it is copied to the user table)."
        )
    return 0
