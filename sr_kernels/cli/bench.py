"""`sr-kernels bench`: run the benchmark suite, write a markdown table and a speed-up chart."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run the benchmarks (pytest bench --benchmark-only) and write a table + chart",
        description=(
            "Run `pytest <bench-dir> --benchmark-only` in a subprocess, then write "
            "<out>/<name>.json (pytest-benchmark), <name>.md (ours vs baseline table) and "
            "<name>-speedups.png and <name>-roofline.png. Existing files are never "
            "overwritten without --force. "
            "Extra pytest arguments go after `--`, e.g. `sr-kernels bench -- "
            "--benchmark-min-rounds=3`."
        ),
    )
    from .. import benchmarking

    benchmarking.add_run_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import benchmarking

    return benchmarking.run_from_args(args)
