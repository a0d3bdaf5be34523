"""Boundary validation helpers shared by every layer (public: any layer may import them).

Every error names the argument, the value (or a summary of it) and what was expected, on one line,
as DESIGN.md asks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from jaxtyping import Float, Shaped


def _summary(value: Any) -> str:
    if isinstance(value, np.ndarray) or hasattr(value, "shape"):
        return f"array of shape {tuple(np.shape(value))}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def fail(name: str, value: Any, expected: str, exc: type[Exception] = ValueError) -> None:
    """Raise ``exc`` with the one-line message ``name=value: expected ...``."""
    raise exc(f"{name}={_summary(value)}: expected {expected}")


def positive(name: str, value: float) -> float:
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
        fail(name, value, "a positive number", TypeError)
    if not math.isfinite(float(value)) or value <= 0:
        fail(name, value, "a finite number > 0")
    return float(value)


def in_range(name: str, value: float, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> float:
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
        fail(name, value, "a number", TypeError)
    v = float(value)
    ok_lo = v > lo if lo_open else v >= lo
    ok_hi = v < hi if hi_open else v <= hi
    if not (math.isfinite(v) and ok_lo and ok_hi):
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        fail(name, value, f"a number in {left}{lo}, {hi}{right}")
    return v


def positive_int(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        fail(name, value, f"an integer >= {minimum}", TypeError)
    if value < minimum:
        fail(name, value, f"an integer >= {minimum}")
    return int(value)


def finite_array(name: str, value: Any, ndim: int | None = None,
                 dtype: type | np.dtype = np.float64) -> Shaped[np.ndarray, "..."]:
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        fail(name, value, "a numeric array", TypeError)
    if ndim is not None and arr.ndim != ndim:
        fail(name, arr, f"a {ndim}-d array")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name}=array of shape {arr.shape}: expected finite values, found {bad} NaN/inf")
    return arr


def square_matrix(name: str, value: Any) -> Float[np.ndarray, "n n"]:
    arr = finite_array(name, value)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        fail(name, arr, "a square (N x N) matrix")
    return arr
