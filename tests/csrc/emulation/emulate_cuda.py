"""Rewrite a CUDA source file into C++ that runs on the CPU under cuda_emulation.h.

    python emulate_cuda.py csrc/cuda/imresize.cu build/emulated/imresize.cpp

Two rewrites, nothing else changes (a #line directive keeps compiler messages on the .cu):
  * ``kernel<<<grid, block[, smem[, stream]]>>>(args)`` becomes
    ``::sr_emu::launch([&] { kernel(args); }, grid, block[, smem[, stream]])``;
  * ``extern __shared__ [__align__(n)] T name[];`` becomes a ``T*`` to the block's dynamic
    shared memory.
Run by CMake for the emulated kernel tests (tests/csrc/emulation/).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_EXTERN_SHARED = re.compile(
    r"extern\s+__shared__\s+(?:__align__\(\s*\d+\s*\)\s+)?"
    r"(?P<type>[A-Za-z_][\w:]*(?:\s+[A-Za-z_][\w:]*)*?)\s+(?P<name>\w+)\s*\[\s*\]\s*;"
)


def _matching_forward(text: str, start: int, opening: str, closing: str) -> int:
    """Index of the bracket closing the one at ``start``."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == opening:
            depth += 1
        elif text[i] == closing:
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unbalanced {opening}{closing} from offset {start}")


def _kernel_start(text: str, end: int) -> int:
    """Start of the kernel expression (name, optional template arguments) ending at ``end``."""
    i = end - 1
    while text[i].isspace():
        i -= 1
    if text[i] == ">":  # template arguments: walk back to the matching '<'
        depth = 0
        while True:
            if text[i] == ">":
                depth += 1
            elif text[i] == "<":
                depth -= 1
                if depth == 0:
                    break
            i -= 1
        i -= 1
    while i >= 0 and (text[i].isalnum() or text[i] in "_:"):
        i -= 1
    return i + 1


def rewrite_launches(text: str) -> str:
    pieces = []
    position = 0
    while (chevrons := text.find("<<<", position)) >= 0:
        start = _kernel_start(text, chevrons)
        kernel = text[start:chevrons].strip()
        config_end = text.index(">>>", chevrons)
        config = " ".join(text[chevrons + 3 : config_end].split())
        paren = config_end + 3
        while text[paren].isspace():
            paren += 1
        if text[paren] != "(" or not kernel:
            raise ValueError(f"cannot parse the launch at offset {chevrons}")
        close = _matching_forward(text, paren, "(", ")")
        args = text[paren + 1 : close]
        pieces.append(text[position:start])
        launch = f"::sr_emu::launch([&] {{ {kernel}({args}); }}, {config})"
        # Keep the line count: the lines after a launch keep their numbers.
        lost = text.count("\n", start, close + 1) - launch.count("\n")
        pieces.append(launch + "\n" * lost)
        position = close + 1
    pieces.append(text[position:])
    return "".join(pieces)


def rewrite_shared(text: str) -> str:
    return _EXTERN_SHARED.sub(
        lambda m: (
            f"{m['type']}* {m['name']} = static_cast<{m['type']}*>(::sr_emu::dynamic_shared());"
        ),
        text,
    )


def emulate(source: Path) -> str:
    text = source.read_text()
    body = rewrite_shared(rewrite_launches(text))
    return f'#include "cuda_emulation.h"\n#line 1 "{source.as_posix()}"\n{body}'


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = Path(argv[1]), Path(argv[2])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(emulate(source))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
