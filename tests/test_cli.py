import json

import numpy as np
import pytest
from typer.testing import CliRunner

from neurodyn.cli import app
from neurodyn.runner import ConfigError, parse_overrides, run_experiment

runner = CliRunner()


def test_list_shows_experiments():
    res = runner.invoke(app, ["list"])
    assert res.exit_code == 0
    for name in ("critical-gain", "nonnormal-amplification", "demo"):
        assert name in res.output


def test_config_prints_defaults_with_meaning():
    res = runner.invoke(app, ["config", "nonnormal-amplification"])
    assert res.exit_code == 0
    assert "n = 200" in res.output and "# number of neurons N" in res.output


def test_unknown_experiment_and_bad_keys_exit_2():
    res = runner.invoke(app, ["run", "no-such-exp"])
    assert res.exit_code == 2
    assert "experiment='no-such-exp': expected one of" in res.output
    res = runner.invoke(app, ["run", "nonnormal-amplification", "--set", "bogus=1"])
    assert res.exit_code == 2 and "bogus=1: unknown key" in res.output
    res = runner.invoke(app, ["run", "nonnormal-amplification", "--set", "n=-4"])
    assert res.exit_code == 2 and "n=-4" in res.output and "greater than or equal to 4" in res.output
    res = runner.invoke(app, ["run", "nonnormal-amplification", "--set", "p=abc"])
    assert res.exit_code == 2 and "p='abc'" in res.output


def test_parse_overrides_nested_and_typed():
    assert parse_overrides(["a=1", "b.c=x", "d=[1, 2]", "e=true"]) == {"a": 1, "b": {"c": "x"}, "d": [1, 2], "e": True}
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides(["novalue"])


def test_run_folder_contents_and_no_overwrite(tmp_path):
    out = tmp_path / "nn"
    res = runner.invoke(app, ["run", "nonnormal-amplification", "--quick", "--out", str(out), "--quiet",
                              "--set", "duration_ms=500"])
    assert res.exit_code == 0, res.output
    for f in ("config.json", "metrics.json", "arrays.npz", "report.html", "nonnormal_amplification.png"):
        assert (out / f).is_file()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["n"] == 100 and cfg["duration_ms"] == 500 and cfg["quick"] is True and cfg["seed"] == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seconds"] > 0 and set(metrics) >= {"spectral_abscissa", "frac_neurons_amplified",
                                                      "max_transient_gain", "henrici"}
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "frac_neurons_amplified" in html
    # an existing run folder is not overwritten without --force
    res = runner.invoke(app, ["run", "nonnormal-amplification", "--quick", "--out", str(out)])
    assert res.exit_code == 2 and "--force" in res.output
    res = runner.invoke(app, ["run", "nonnormal-amplification", "--quick", "--out", str(out), "--force",
                              "--set", "duration_ms=500", "--quiet"])
    assert res.exit_code == 0


def test_config_file_toml(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("n = 60\nduration_ms = 300.0\nseed = 3\n")
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", "nonnormal-amplification", "--config", str(cfg), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "config.json").read_text())["seed"] == 3
    bad = tmp_path / "bad.toml"
    bad.write_text("n = = 3")
    res = runner.invoke(app, ["run", "nonnormal-amplification", "--config", str(bad)])
    assert res.exit_code == 2 and "expected valid TOML" in res.output


def test_report_compare(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_experiment("nonnormal-amplification", a, quick=True, config={"duration_ms": 300.0})
    run_experiment("nonnormal-amplification", b, quick=True, config={"duration_ms": 300.0}, seed=1)
    res = runner.invoke(app, ["report", str(a), str(b), "--out", str(tmp_path / "cmp.html")])
    assert res.exit_code == 0
    html = (tmp_path / "cmp.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "spectral_abscissa" in html
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "expected a run folder" in res.output


def test_failed_run_leaves_no_folder_and_bad_data_is_one_line(tmp_path):
    good = tmp_path / "ok.npz"
    np.savez(good, rates=np.ones((2, 5, 4)), t_ms=np.arange(5.0))
    (tmp_path / "trunc.npz").write_bytes(good.read_bytes()[:100])
    out = tmp_path / "run"
    res = runner.invoke(app, ["fit", "lds", "--data", str(tmp_path / "trunc.npz"), "--out", str(out)])
    assert res.exit_code == 2 and "corrupt or truncated" in res.output
    assert not out.exists()
    res = runner.invoke(app, ["fit", "nosuchmodel", "--data", str(good)])
    assert res.exit_code == 2 and "model='nosuchmodel': expected one of" in res.output and "lds" in res.output


def test_python_dash_m_runs_the_same_cli():
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "neurodyn", "config", "critical-gain"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "n_matrices = 200" in res.stdout and "seed = 0" in res.stdout
