"""Progress bars for long loops (rich), silenced globally by `set_quiet` or ``NEURODYN_QUIET=1``."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

T = TypeVar("T")
_QUIET = [os.environ.get("NEURODYN_QUIET", "0") == "1"]

__all__ = ["is_quiet", "progress", "quiet", "set_quiet"]


def set_quiet(value: bool) -> None:
    _QUIET[0] = bool(value)


def is_quiet() -> bool:
    return _QUIET[0]


@contextmanager
def quiet(value: bool = True) -> Iterator[None]:
    old = _QUIET[0]
    _QUIET[0] = bool(value)
    try:
        yield
    finally:
        _QUIET[0] = old


def progress(iterable: Iterable[T], total: int | None = None, description: str = "working") -> Iterator[T]:
    """Iterate with a progress bar on stderr (nothing when quiet)."""
    if _QUIET[0]:
        yield from iterable
        return
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total)
        for item in iterable:
            yield item
            bar.advance(task)
