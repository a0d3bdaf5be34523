"""Parameter sweeps on Dask: many runs of one experiment, resumable, gathered into one table.

A sweep file (TOML or JSON) names an experiment, fixed overrides and either a grid or a list of points::

    experiment = "gain-learning"
    quick = true                  # optional: the experiment's --quick scale
    [set]                         # optional: overrides shared by every point
    iterations = 200
    [grid]                        # every combination of these values ...
    seed = [0, 1, 2, 3]
    sessions = [5, 10]
    # ... or instead a list of points:
    # [[points]]
    # seed = 0

Each point runs in its own run folder ``OUT/points/<id>/`` (the id spells the point's values) through
`run_experiment`; when it ends, ``status.json`` is written atomically (``ok`` with the metrics, or
``error`` with the message), and the table ``OUT/results.csv`` is rewritten atomically. A point whose
``status.json`` says ``ok`` is never run again, so an interrupted sweep (Ctrl-C, a killed worker or a
killed command) resumes where it stopped; a point that was interrupted mid-way has no status and is
rerun from scratch (its folder is cleared first). A failing point records its error and the sweep
goes on. Points run on a Dask cluster: a local one by default (processes, one thread each), or an
existing scheduler given by address (e.g. a dask-jobqueue SLURM cluster, see docs/sweeps.md).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurodyn.fileio import atomic_write_json, atomic_write_text
from neurodyn.runner.config import ConfigError, resolve_config
from neurodyn.runner.dicts import flatten, merge, nest
from neurodyn.runner.registry import get_experiment

__all__ = ["SweepSpec", "load_sweep", "point_id", "run_point", "run_sweep", "sweep_status"]


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep file: the experiment, its quick flag, the shared overrides and the points."""

    experiment: str
    quick: bool
    fixed: dict[str, Any]
    points: tuple[dict[str, Any], ...]


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file; every point's config is validated before anything runs."""
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep={str(path)!r}: expected an existing .toml or .json file")
    try:
        raw = json.loads(path.read_text()) if path.suffix == ".json" else tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"sweep={str(path)!r}: expected valid TOML/JSON ({exc})") from None
    unknown = set(raw) - {"experiment", "quick", "set", "grid", "points"}
    if unknown:
        raise ConfigError(f"sweep.{sorted(unknown)[0]}: unknown key (allowed: experiment, quick, set, grid, points)")
    if "experiment" not in raw or not isinstance(raw["experiment"], str):
        raise ConfigError(f"sweep.experiment={raw.get('experiment')!r}: expected an experiment name")
    spec = get_experiment(raw["experiment"])
    quick = raw.get("quick", False)
    if not isinstance(quick, bool):
        raise ConfigError(f"sweep.quick={quick!r}: expected true or false")
    fixed = raw.get("set", {})
    if not isinstance(fixed, dict):
        raise ConfigError(f"sweep.set={fixed!r}: expected a table of config keys")
    if ("grid" in raw) == ("points" in raw):
        raise ConfigError("sweep: expected exactly one of [grid] or [[points]]")
    if "grid" in raw:
        grid = flatten(raw["grid"])
        for k, v in grid.items():
            if not isinstance(v, list) or not v:
                raise ConfigError(f"sweep.grid.{k}={v!r}: expected a non-empty list of values")
        keys = list(grid)
        points = tuple(nest(dict(zip(keys, combo))) for combo in itertools.product(*(grid[k] for k in keys)))
    else:
        pts = raw["points"]
        if not isinstance(pts, list) or not pts or not all(isinstance(p, dict) for p in pts):
            raise ConfigError("sweep.points: expected a non-empty list of tables")
        points = tuple(pts)
    for p in points:
        resolve_config(spec, merge(fixed, p), quick=quick)  # raises ConfigError naming the key
    ids = [point_id(p) for p in points]
    if len(set(ids)) != len(ids):
        raise ConfigError("sweep: two points have the same values")
    return SweepSpec(experiment=spec.name, quick=quick, fixed=fixed, points=points)


def point_id(point: dict[str, Any]) -> str:
    """A readable, file-system-safe id built from a point's values, e.g. ``seed=3,sessions=10``."""
    parts = []
    for k, v in sorted(flatten(point).items()):
        text = json.dumps(v) if not isinstance(v, str) else v
        safe = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in text)[:40]
        parts.append(f"{k}={safe}")
    return ",".join(parts) or "default"


def run_point(experiment: str, point_dir: str, config: dict[str, Any], quick: bool) -> dict[str, Any]:
    """Run one point into ``point_dir`` and write its ``status.json``; returns the status (never raises)."""
    from neurodyn.runner.run import run_experiment
    from neurodyn.progress import set_quiet

    set_quiet(True)
    point_dir_p = Path(point_dir)
    run_dir = point_dir_p / "run"
    t0 = time.time()
    try:
        metrics = run_experiment(experiment, run_dir, config=config, quick=quick, force=True)
        status = {"status": "ok", "metrics": metrics, "wall_seconds": time.time() - t0}
    except Exception as exc:  # a failing point is recorded; the sweep goes on
        status = {"status": "error", "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(limit=5), "wall_seconds": time.time() - t0}
    atomic_write_json(point_dir_p / "status.json", {"config": config, **status})
    return status


def sweep_status(out: Path) -> dict[str, dict[str, Any]]:
    """``{point id: status dict}`` for the points of ``out`` that have finished (ok or error)."""
    done = {}
    for s in sorted((Path(out) / "points").glob("*/status.json")):
        try:
            done[s.parent.name] = json.loads(s.read_text())
        except json.JSONDecodeError:
            continue  # cannot happen with atomic writes; treat as unfinished
    return done


def _write_table(out: Path, spec: SweepSpec) -> Path:
    done = sweep_status(out)
    rows = []
    for p in spec.points:
        pid = point_id(p)
        st = done.get(pid)
        if st is None:
            continue
        row = {"point": pid, **{f"param.{k}": v for k, v in flatten(p).items()}, "status": st["status"]}
        if st["status"] == "ok":
            row.update(st["metrics"])
        else:
            row["error"] = st["error"]
        rows.append(row)
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols)
    w.writeheader()
    for r in rows:
        w.writerow({k: json.dumps(v) if isinstance(v, list) else v for k, v in r.items()})
    return atomic_write_text(out / "results.csv", buf.getvalue())


def _summary_figure(out: Path, spec: SweepSpec) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    done = sweep_status(out)
    ok = [done[point_id(p)]["metrics"] for p in spec.points if done.get(point_id(p), {}).get("status") == "ok"]
    if not ok:
        return
    keys = [k for k in ok[0] if isinstance(ok[0][k], (int, float)) and not isinstance(ok[0][k], bool)][:6]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.0), squeeze=False)
    for ax, k in zip(axes[0], keys):
        vals = np.array([m.get(k, np.nan) for m in ok], dtype=float)
        ax.plot(np.arange(vals.size), vals, "o", color="k", ms=4)
        ax.axhline(np.nanmedian(vals), color="r", lw=1, label="median")
        ax.set_title(k, fontsize=9)
        ax.set_xlabel("point")
    axes[0][0].legend(frameon=False, fontsize=8)
    import io as _io

    from neurodyn.fileio import atomic_write_bytes

    b = _io.BytesIO()
    fig.savefig(b, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(out / "summary.png", b.getvalue())


def _clean_partial(out: Path, pending: list[str]) -> None:
    for tmp in Path(out).rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)
    for pid in pending:
        d = Path(out) / "points" / pid
        if d.exists() and not (d / "status.json").exists():
            shutil.rmtree(d)


def run_sweep(sweep_file: str | Path, out: str | Path, *, scheduler: str | None = None, n_workers: int = 2,
              retry_failed: bool = False, quiet: bool = False) -> dict[str, int]:
    """Run (or resume) a sweep; returns counts ``{"ok", "error", "skipped", "total"}``."""
    from dask.distributed import Client, LocalCluster, as_completed

    from neurodyn.progress import progress

    spec = load_sweep(sweep_file)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "sweep.json", {"experiment": spec.experiment, "quick": spec.quick, "set": spec.fixed,
                                           "points": list(spec.points)})
    done = sweep_status(out)
    todo, skipped = [], 0
    for p in spec.points:
        pid = point_id(p)
        st = done.get(pid)
        if st is not None and (st["status"] == "ok" or not retry_failed):
            skipped += 1
            continue
        if st is not None:
            (out / "points" / pid / "status.json").unlink()
        todo.append(p)
    _clean_partial(out, [point_id(p) for p in todo])
    counts = {"ok": 0, "error": 0, "skipped": skipped, "total": len(spec.points)}
    if todo:
        cluster = None
        if scheduler:
            client = Client(scheduler)
        else:
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=50)
            client = Client(cluster)
        futures = []
        try:
            futures = [client.submit(run_point, spec.experiment, str(out / "points" / point_id(p)),
                                     merge(spec.fixed, p), spec.quick, key=f"point-{point_id(p)}", pure=False)
                       for p in todo]
            it = as_completed(futures)
            bar = it if quiet else progress(it, total=len(futures), description=f"sweep {spec.experiment}")
            for fut in bar:
                st = fut.result()
                counts["ok" if st["status"] == "ok" else "error"] += 1
                _write_table(out, spec)
        except KeyboardInterrupt:
            # Ctrl-C: stop promptly. Running points are abandoned (they have no status.json and are rerun on
            # resume); finished points are already on disk.
            client.cancel(futures, force=True)
            _write_table(out, spec)
            raise
        finally:
            client.close(timeout=10)
            if cluster is not None:
                cluster.close(timeout=10)
    _write_table(out, spec)
    _summary_figure(out, spec)
    return counts
