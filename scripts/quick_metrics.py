"""Run every registered experiment at ``--quick`` scale and record its numeric metrics; compare two records.

    python scripts/quick_metrics.py run OUT.json [--runs DIR] [--only a,b]
    python scripts/quick_metrics.py compare BEFORE.json AFTER.json [--rtol 1e-8]

``run`` writes ``{experiment: {metric: value}}`` (numbers only; wall times, any key naming seconds, left out:
they are not results). ``compare`` prints one row per experiment with the number of metrics, the largest relative
difference and the metrics outside ``rtol``, and exits non-zero if any metric differs or is missing.
A refactoring that keeps every number to 1e-8 relative leaves ``compare`` silent.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

SKIP_KEYS = {"seconds", "reference"}


def _flatten(prefix: str, value, out: dict[str, float]) -> None:
    if isinstance(value, bool):
        out[prefix] = float(value)
    elif isinstance(value, (int, float)):
        out[prefix] = float(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            if k not in SKIP_KEYS and "seconds" not in k:  # wall times are not results
                _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _flatten(f"{prefix}[{i}]", v, out)


def data_files(folder: Path) -> dict[str, dict]:
    """Seeded recordings for the fits that have no bundled default (written once into ``folder``)."""
    import numpy as np

    from neurodyn.models.multi_area_lds import random_two_area_params, simulate_multi_area_lds
    from neurodyn.models.stim_lvm.simulate import additive_delta, stimulated_dataset, synthetic_population

    folder.mkdir(parents=True, exist_ok=True)
    two = folder / "two_areas.npz"
    params = random_two_area_params((3, 3), (15, 15), rank=2, seed=4)
    _, y = simulate_multi_area_lds(params, 40, 50, seed=5)
    np.savez(two, spikes=np.asarray(y), trial_condition=np.zeros(40, int), t_ms=np.arange(50) * 10.0,
             area=np.array(["M1"] * 15 + ["PMd"] * 15))
    stim = folder / "stim.npz"
    t = np.arange(20.0, 420.0, 20.0)
    readout, offset, z = synthetic_population(4, 20, 3, t, seed=2)
    ds = stimulated_dataset(readout, offset, z, t, 140.0, 300.0, delta=additive_delta(t, 20, 140.0, 300.0, seed=3),
                            n_trials=10, seed=4)
    np.savez(stim, rates=np.concatenate([ds["xhat"], ds["yhat"]]), t_ms=t, units="spikes/s",
             condition_stimulated=np.r_[np.zeros(4, bool), np.ones(4, bool)], condition_pair=np.r_[np.arange(4), np.arange(4)])
    return {"multi-area-fit": {"data": str(two), "latent_dim": 3, "soft_norm": None},
            "stim-lvm-fit": {"data": str(stim), "stim_on_ms": 140.0, "stim_off_ms": 300.0, "n_latents": 3}}


def run(out_json: Path, runs: Path, only: list[str] | None) -> int:
    from neurodyn.experiments import list_experiments, run_experiment

    names = [s.name for s in list_experiments() if only is None or s.name in only]
    config = data_files(runs / "_data")
    record: dict[str, dict] = {}
    for name in names:
        t0 = time.perf_counter()
        try:
            metrics = run_experiment(name, runs / name, config=config.get(name), quick=True, force=True)
        except Exception as exc:  # recorded, so a comparison shows the failure
            record[name] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
            print(f"{name}: FAILED {record[name]['error']}", flush=True)
            continue
        flat: dict[str, float] = {}
        _flatten("", metrics, flat)
        record[name] = flat
        print(f"{name}: {len(flat)} metrics in {time.perf_counter() - t0:.0f} s", flush=True)
        out_json.write_text(json.dumps(record, indent=1, sort_keys=True))
    out_json.write_text(json.dumps(record, indent=1, sort_keys=True))
    return 0


def _rel(a: float, b: float) -> float:
    if math.isnan(a) and math.isnan(b):
        return 0.0
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def compare(before: Path, after: Path, rtol: float) -> int:
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    bad = 0
    print(f"| experiment | metrics | largest relative difference | outside {rtol:g} |")
    print("| --- | --- | --- | --- |")
    for name in sorted(set(a) | set(b)):
        ma, mb = a.get(name), b.get(name)
        if ma is None or mb is None or "error" in ma or "error" in mb:
            print(f"| {name} | - | - | {'missing before' if ma is None else 'missing after' if mb is None else (ma.get('error') or mb.get('error'))} |")
            bad += 1
            continue
        keys = sorted(k for k in set(ma) | set(mb) if "seconds" not in k)  # records made before the rule
        missing = [k for k in keys if k not in ma or k not in mb]
        diffs = {k: _rel(ma[k], mb[k]) for k in keys if k in ma and k in mb}
        worst = max(diffs.values(), default=0.0)
        off = [k for k, d in diffs.items() if d > rtol] + missing
        bad += bool(off)
        print(f"| {name} | {len(keys)} | {worst:.1e} | {', '.join(off[:6]) + (' ...' if len(off) > 6 else '') or 'none'} |")
    return 1 if bad else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("out", type=Path)
    r.add_argument("--runs", type=Path, default=None)
    r.add_argument("--only", default=None)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    c.add_argument("--rtol", type=float, default=1e-8)
    args = p.parse_args()
    if args.cmd == "run":
        runs = args.runs or Path(tempfile.mkdtemp(prefix="quick-metrics-"))
        return run(args.out, runs, args.only.split(",") if args.only else None)
    return compare(args.before, args.after, args.rtol)


if __name__ == "__main__":
    sys.exit(main())
