"""Which backend's kernel actually ran: a leaf module the backends record into.

Backends call `record(op, backend)` at the point where their own kernel is launched (not in the
dispatcher), so tests can assert that a backend really ran rather than a fallback::

    with trace() as events:
        ops.pixel_shuffle(x, 2)
    assert ("pixel_shuffle", "triton") in events
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch


class _ActiveTraces(threading.local):
    """The `trace()` lists open in each thread: a trace sees the ops its own thread runs (as
    `use_backend` applies to its own thread), not another thread's."""

    def __init__(self) -> None:
        self.lists: list[list[tuple[str, str]]] = []


_active = _ActiveTraces()
_last: dict[str, str] = {}


# Under torch.compile this runs once, when the backend's function is traced, and is not part of
# the compiled code: traced, its writes to these globals were guarded on, so the next call of a
# compiled model (whose first run had filled `_last`) compiled the whole model again.
@torch.compiler.assume_constant_result
def record(op: str, backend: str) -> None:
    _last[op] = backend
    for events in _active.lists:
        events.append((op, backend))


def last_backend(op: str) -> str | None:
    """The backend whose kernel ran most recently for `op` in this process (None if never)."""
    return _last.get(op)


@contextmanager
def trace() -> Iterator[list[tuple[str, str]]]:
    """The (op, backend) of every kernel the calling thread runs inside the block."""
    events: list[tuple[str, str]] = []
    active = _active.lists
    active.append(events)
    try:
        yield events
    finally:
        # By identity: list.remove compares contents, so an inner trace that ended with the same
        # events as an enclosing one unregistered the enclosing one.
        index = next(i for i, listed in enumerate(active) if listed is events)
        del active[index]
