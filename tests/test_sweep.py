"""Sweeps on a local Dask cluster: results table, resume without redoing, failures recorded,
and robustness to a killed worker and to a killed command."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neurodyn.runner import ConfigError
from neurodyn.runner.sweep import load_sweep, point_id, run_sweep, sweep_status

SWEEP = """
experiment = "nonnormal-amplification"
quick = true
[set]
duration_ms = 200.0
n = 20
[grid]
seed = {seeds}
"""


def _write(tmp_path, seeds, extra=""):
    f = tmp_path / "sweep.toml"
    f.write_text(SWEEP.format(seeds=json.dumps(seeds)) + extra)
    return f


def test_load_sweep_validates_every_point(tmp_path):
    spec = load_sweep(_write(tmp_path, [0, 1]))
    assert [point_id(p) for p in spec.points] == ["seed=0", "seed=1"]
    bad = tmp_path / "bad.toml"
    bad.write_text('experiment = "nonnormal-amplification"\n[grid]\nn = [20, -2]\n')
    with pytest.raises(ConfigError, match="n=-2"):
        load_sweep(bad)
    bad.write_text('experiment = "nope"\n[grid]\nseed = [1]\n')
    with pytest.raises(ConfigError, match="experiment='nope'"):
        load_sweep(bad)
    bad.write_text('experiment = "nonnormal-amplification"\n')
    with pytest.raises(ConfigError, match="exactly one of"):
        load_sweep(bad)
    bad.write_text("experiment = [")
    with pytest.raises(ConfigError, match="valid TOML"):
        load_sweep(bad)


def test_sweep_runs_resumes_and_records_failures(tmp_path):
    f = _write(tmp_path, [0, 1, 2])
    out = tmp_path / "out"
    counts = run_sweep(f, out, n_workers=2, quiet=True)
    assert counts == {"ok": 3, "error": 0, "skipped": 0, "total": 3}
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["point"] for r in rows] == ["seed=0", "seed=1", "seed=2"]
    assert all(float(r["spectral_abscissa"]) > 0 for r in rows)
    assert (out / "summary.png").stat().st_size > 1000
    stamps = {p: (out / "points" / p / "status.json").stat().st_mtime_ns for p in ("seed=0", "seed=1", "seed=2")}
    # resume: nothing is redone
    counts = run_sweep(f, out, n_workers=1, quiet=True)
    assert counts["skipped"] == 3 and counts["ok"] == 0
    assert stamps == {p: (out / "points" / p / "status.json").stat().st_mtime_ns for p in stamps}
    # a point that fails (odd n is rejected by random_ei) records its error and the others go on
    f2 = tmp_path / "mixed.toml"
    f2.write_text('experiment = "nonnormal-amplification"\nquick = true\n[set]\nduration_ms = 200.0\n'
                  '[[points]]\nn = 21\n[[points]]\nn = 20\n')
    counts = run_sweep(f2, tmp_path / "mixed", n_workers=1, quiet=True)
    assert counts["ok"] == 1 and counts["error"] == 1
    st = sweep_status(tmp_path / "mixed")
    assert st["n=21"]["status"] == "error" and "n=21: expected an even number" in st["n=21"]["error"]


def test_killed_worker_loses_nothing(tmp_path):
    from dask.distributed import Client, LocalCluster

    from neurodyn.runner.sweep import run_point

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50)
    client = Client(cluster)
    try:
        pids = client.run(os.getpid)
        cfg = {"n": 20, "duration_ms": 200.0}
        futs = [client.submit(run_point, "nonnormal-amplification", str(tmp_path / f"p{k}"), {**cfg, "seed": k},
                              True, pure=False) for k in range(4)]
        os.kill(list(pids.values())[0], signal.SIGKILL)  # a worker dies; its tasks are rescheduled
        results = client.gather(futs)
    finally:
        client.close()
        cluster.close()
    assert [r["status"] for r in results] == ["ok"] * 4
    for k in range(4):
        assert json.loads((tmp_path / f"p{k}" / "status.json").read_text())["status"] == "ok"


def test_killed_command_resumes(tmp_path):
    f = _write(tmp_path, list(range(6)))
    out = tmp_path / "out"
    env = {**os.environ, "NEURODYN_QUIET": "1"}
    cmd = [sys.executable, "-m", "neurodyn.cli", "sweep", str(f), "--out", str(out), "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and len(list(out.glob("points/*/status.json"))) < 2:
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole command and its workers, like a hard interrupt
    proc.wait()
    finished = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("points/*/status.json")}
    assert 2 <= len(finished) < 6
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"{len(finished)} already done" in res.stdout
    # finished points were not redone, all points are now done, no temporary file is left
    assert finished == {k: (out / "points" / k / "status.json").stat().st_mtime_ns for k in finished}
    assert len(sweep_status(out)) == 6
    assert not list(Path(out).rglob("*.tmp"))
