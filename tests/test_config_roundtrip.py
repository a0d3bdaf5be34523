"""`neurodyn config NAME` prints valid TOML that validates back into the same config, for every experiment;
`--set key=None`; unknown keys name the allowed ones; run files follow the umask."""

import json
import os
import stat
import tomllib

import numpy as np
import pytest
from typer.testing import CliRunner

from neurodyn.cli import app
from neurodyn.runner import ConfigError, list_experiments, parse_overrides, resolve_config

runner = CliRunner()


@pytest.mark.parametrize("spec", list_experiments(), ids=lambda s: s.name)
def test_printed_config_parses_and_validates_to_the_defaults(spec):
    res = runner.invoke(app, ["config", spec.name])
    assert res.exit_code == 0, res.output
    given = tomllib.loads(res.output)
    assert resolve_config(spec, given) == spec.config_cls()
    # every key is either set or written as a commented None line
    for key, f in spec.config_cls.model_fields.items():
        assert key in given or (f.default is None and f'# {key} = "None"' in res.output), key


def test_set_none_and_unknown_key_with_closest_match():
    assert parse_overrides(["t_min_ms=None", "a=none", "b=null", "c=Nonesuch"]) == {
        "t_min_ms": None, "a": None, "b": None, "c": "Nonesuch"}
    spec = next(s for s in list_experiments() if s.name == "lds-fit")
    assert resolve_config(spec, {"t_min_ms": None}).t_min_ms is None
    # TOML has no null: the string "None" means None for keys that accept it, and stays a string otherwise
    cfg = resolve_config(spec, tomllib.loads('soft_norm = "None"\ntransition_ms = "none"\n'))
    assert cfg.soft_norm is None and cfg.transition_ms is None
    with pytest.raises(ConfigError, match="n_latents='None'"):
        resolve_config(spec, {"n_latents": "None"})
    with pytest.raises(ConfigError, match=r"transition_mss=1: unknown key \(did you mean 'transition_ms'\? "
                                          r"allowed: seed, .*n_latents"):
        resolve_config(spec, {"transition_mss": 1})


def test_run_lds_fit_from_printed_config_quick_and_umask(tmp_path):
    # a recording of the shape used in test_user_recordings (8 x 60 x 50), so compiled EM steps are shared
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "r.npz", rates=rng.uniform(-0.4, 0.7, (8, 60, 50)), t_ms=10.0 * np.arange(60))
    res = runner.invoke(app, ["config", "lds-fit"])
    lines = [f"data = {json.dumps(str(tmp_path / 'r.npz'))}" if ln.startswith("# data = ") else ln
             for ln in res.output.splitlines()]
    text = "\n".join(lines).replace("max_iter = 150", "max_iter = 3").replace("n_latents = 5", "n_latents = 2")
    assert text.count("max_iter = 3") == 1 and "\ndata = " in text
    (tmp_path / "x.toml").write_text(text)
    old = os.umask(0o022)
    try:
        out = tmp_path / "run"
        res = runner.invoke(app, ["run", "lds-fit", "--config", str(tmp_path / "x.toml"), "--quick",
                                  "--out", str(out), "--quiet"])
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    cfg = json.loads((out / "config.json").read_text())
    # --quick still shrinks the keys the file leaves at their defaults; the edited keys are the file's
    assert (cfg["max_iter"], cfg["n_latents"], cfg["grid_K"]) == (3, 2, [])
    assert cfg["bundled_window_ms"] == [-200.0, 300.0]
    # ... and the bundled data's quick window does not cut a user's recording
    assert (cfg["data_settings"]["t_min_ms"], cfg["data_settings"]["t_max_ms"]) == (0.0, 590.0)
    files = [p for p in out.iterdir() if p.is_file()]
    assert len(files) >= 4
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p.name
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def test_atomic_writes_follow_another_umask(tmp_path):
    from neurodyn.fileio import atomic_write_json

    old = os.umask(0o027)                  # 0640 files: neither tempfile's 0600 nor the usual 0644
    try:
        atomic_write_json(tmp_path / "d" / "x.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d" / "x.json").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o750
