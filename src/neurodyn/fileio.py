"""Atomic file writes (DESIGN.md: temp file in the same folder, then rename).

Files get the mode an ordinary ``open(path, "w")`` would give them, ``0o666 & ~umask`` (0644 under the
usual umask 022), so colleagues and web servers can read a run folder; `tempfile.mkstemp` alone would
leave them 0600. Folders are made with ``Path.mkdir``, which applies the umask to 0o777.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
from jaxtyping import Shaped

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_text", "file_mode", "save_npz_atomic",
           "update_json"]

_UMASK_LOCK = threading.Lock()


def file_mode() -> int:
    """``0o666 & ~umask``: the mode a newly created regular file gets under the current umask."""
    with _UMASK_LOCK:                      # os.umask can only be read by setting it; restore at once
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), file_mode())
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default, allow_nan=True) + "\n")


def update_json(path: str | os.PathLike, key: str, value: Any) -> Path:
    """Set ``key`` of the JSON object in ``path`` (created when missing), rewriting it atomically."""
    path = Path(path)
    obj = json.loads(path.read_text()) if path.is_file() else {}
    if not isinstance(obj, dict):
        raise ValueError(f"path={str(path)!r}: expected a JSON object to add {key!r} to")
    obj[key] = value
    return atomic_write_json(path, obj)


def save_npz_atomic(path: str | os.PathLike, **arrays: Shaped[np.ndarray, "..."]) -> Path:
    """Write ``arrays`` to an ``.npz`` via a temporary file and an atomic rename."""
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return atomic_write_bytes(path, buf.getvalue())
