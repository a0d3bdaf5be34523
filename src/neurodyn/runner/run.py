"""Running an experiment: the run folder it writes (DESIGN.md, layer 5).

`run_experiment` resolves an experiment's config (`neurodyn.runner.config`), times the main computation
(compilation included: ``seconds`` in metrics.json) and writes::

    OUT/config.json    resolved config (as given plus defaults), experiment name, quick flag and
                       ``provenance`` (UTC start, command line, versions, git commit, input sha256)
    OUT/metrics.json   named numbers/booleans (lists of numbers allowed), with `seconds`, and under
                       ``reference`` the comparison of the run with the texts' values
    OUT/arrays.npz     arrays the experiment stored
    OUT/*.png          figures
    OUT/report.html    self-contained report (figures embedded)

Every file is written atomically. An existing run folder is never overwritten without ``force``.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

import numpy as np
from jaxtyping import ArrayLike, Shaped

from neurodyn.fileio import atomic_write_bytes, atomic_write_json, save_npz_atomic
from neurodyn.progress import progress as _progress
from neurodyn.runner.config import resolve_config
from neurodyn.runner.provenance import provenance, software_versions
from neurodyn.runner.references import UNDOCUMENTED, MetricInfo, compare_with_text, metric_info
from neurodyn.runner.registry import get_experiment

T = TypeVar("T")

__all__ = ["Run", "check_metrics", "run_experiment"]


@dataclass
class Run:
    """Handle an experiment uses to store results in its run folder."""

    out: Path
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (file name, caption)
    notes: list[str] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)

    def progress(self, iterable: Iterable[T], total: int | None = None, description: str = "working") -> Iterator[T]:
        """``iterable`` with a progress bar (silent under ``--quiet`` and in sweeps)."""
        return _progress(iterable, total=total, description=description)

    def save_array(self, name: str, value: Shaped[ArrayLike, "..."]) -> None:
        """Store an array (any shape) in the run's ``arrays.npz``."""
        self.arrays[name] = np.asarray(value)

    def save_figure(self, fig, name: str, caption: str = "") -> Path:
        """Save a matplotlib figure as ``name.png`` (atomically) and list it in the report."""
        import io

        import matplotlib.pyplot as plt

        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        path = atomic_write_bytes(self.out / f"{name}.png", buf.getvalue())
        self.figures.append((path.name, caption))
        return path

    def note(self, text: str) -> None:
        """A sentence for the report (what the figure shows, how to read a number)."""
        self.notes.append(text)

    def table(self, title: str, header: list[str], rows: list[list[Any]]) -> None:
        """A table for the report."""
        self.tables.append((title, header, rows))


def check_metrics(name: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics as JSON values (bool, int, float, list of floats); a NaN or another type is an error."""
    clean: dict[str, Any] = {}
    for k, v in metrics.items():
        if isinstance(v, (bool, np.bool_)):
            clean[k] = bool(v)
        elif isinstance(v, (int, float, np.integer, np.floating)):
            fv = float(v)
            if math.isnan(fv):
                raise RuntimeError(f"experiment {name}: metric {k!r} is NaN")
            clean[k] = int(v) if isinstance(v, (int, np.integer)) else fv
        elif isinstance(v, (list, tuple, np.ndarray)):
            clean[k] = [float(x) for x in np.asarray(v, dtype=float).ravel()]
        else:
            raise RuntimeError(f"experiment {name}: metric {k!r} has type {type(v).__name__}")
    return clean


def run_experiment(name: str, out: str | Path, *, config: dict[str, Any] | None = None, quick: bool = False,
                   seed: int | None = None, force: bool = False, command: str | None = None) -> dict[str, Any]:
    """Run experiment ``name`` into folder ``out`` and return its metrics.

    ``command`` is recorded in the provenance (default: this process's command line).
    """
    import matplotlib

    matplotlib.use("Agg")
    spec = get_experiment(name)
    cfg = resolve_config(spec, config, quick=quick, seed=seed)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise FileExistsError(f"out={str(out)!r}: folder exists and is not empty (use --force to overwrite)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    run = Run(out=out)
    resolved = {"experiment": name, "quick": quick, **cfg.model_dump()}
    resolved["provenance"] = provenance(resolved, command)
    atomic_write_json(out / "config.json", resolved)
    t0 = time.perf_counter()
    try:
        metrics = spec.fn(cfg, run)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # a failed run leaves no half-written run folder behind
        raise
    seconds = time.perf_counter() - t0
    metrics = check_metrics(name, {**metrics, "seconds": seconds})
    comparison = compare_with_text(name, metrics)
    atomic_write_json(out / "metrics.json", {**metrics, "reference": comparison})
    save_npz_atomic(out / "arrays.npz", **run.arrays)
    from neurodyn.report.html import write_run_report

    info = {k: metric_info(name, k) or MetricInfo(UNDOCUMENTED) for k in metrics}
    write_run_report(out, title=f"neurodyn: {name}", summary=spec.summary, metrics=metrics, config=resolved,
                     figures=run.figures, notes=run.notes, tables=run.tables, versions=software_versions(),
                     metric_info={k: (v.meaning, v.unit) for k, v in info.items()}, reference=comparison)
    return metrics
