"""Provenance of a run: when, how and on what it was made (``config.json`` under ``provenance``)."""

from __future__ import annotations

import hashlib
import platform
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from neurodyn.runner.dicts import flatten

__all__ = ["git_commit", "input_files", "provenance", "sha256_file", "software_versions"]


def software_versions() -> dict[str, str]:
    """Versions of Python, the platform, neurodyn and the numerical libraries, and the JAX backend."""
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("neurodyn", "jax", "jaxlib", "numpy", "scipy", "scikit-learn", "matplotlib", "optax"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    try:
        import jax

        out["jax_backend"] = jax.default_backend()
    except Exception:  # pragma: no cover
        pass
    return out


def git_commit(path: Path) -> str | None:
    """The commit of the git work tree holding ``path`` (``+dirty`` if it has changes), or None."""
    try:
        head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None  # git absent or hanging: no commit to report
    commit = head.stdout.strip()
    return commit + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def sha256_file(path: str | Path) -> str:
    """The SHA-256 digest of a file (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_files(config: dict[str, Any]) -> dict[str, str]:
    """``{dotted key: path}`` for every string config value (or list item, ``key[i]``) naming an existing file."""
    out: dict[str, str] = {}
    for key, v in flatten(config).items():
        if isinstance(v, (list, tuple)):
            for i, item in enumerate(v):
                if isinstance(item, str) and item and Path(item).is_file():
                    out[f"{key}[{i}]"] = item
        elif isinstance(v, str) and v and ("/" in v or "." in v) and Path(v).is_file():
            out[key] = v
    return out


def _command_line() -> str:
    """This process's command line; ``python -m neurodyn`` written as such."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name == "__main__.py" and Path(argv[0]).parent.name == "neurodyn":
        argv = [sys.executable, "-m", "neurodyn", *argv[1:]]
    return shlex.join(argv)


def provenance(config: dict[str, Any], command: str | None = None) -> dict[str, Any]:
    """When, how and on what a run was made.

    ``started_utc`` (ISO 8601), ``command`` (the exact command line, ``sys.argv`` unless given),
    ``neurodyn_version``, ``git_commit`` (None where git or a work tree is absent), ``host`` and
    ``inputs``: ``{config key: {"path", "sha256", "bytes"}}`` for each config value naming a file.
    """
    import neurodyn

    inputs = {}
    for key, path in input_files(config).items():
        p = Path(path)
        inputs[key] = {"path": str(p.resolve()), "sha256": sha256_file(p), "bytes": p.stat().st_size}
    return {"started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command if command is not None else _command_line(),
            "neurodyn_version": getattr(neurodyn, "__version__", None),
            "git_commit": git_commit(Path(neurodyn.__file__).resolve().parent),
            "host": platform.node(), "inputs": inputs}
