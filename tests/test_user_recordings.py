"""A user's own recording in: data-derived defaults, NWB as labs write it, axis and unit checks.

The synthetic recording is 8 conditions x 60 bins (-50..550 ms, 10-ms bins) x 50 units with values in
[-0.4, 0.7] (already normalised, no transition key); its NWB twin holds spike times drawn from rates
``20 + 40 x`` spikes/s, 3 trials per condition, with ``go_cue_time`` and ``direction`` in the trials table.
"""

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from neurodyn.cli import app
from neurodyn.data import PopulationData, load
from neurodyn.data.prepare import prepare_fit_data

runner = CliRunner()
C, T, N = 8, 60, 50
T_MS = -50.0 + 10.0 * (np.arange(T) + 1.0)          # bin ends: bins cover -50..550 ms
FAST_LDS = ["--set", "max_iter=3", "--set", "grid_K=[]", "--set", "n_latents=2", "--quiet"]


def _recording(seed=0):
    # rotational dynamics (frequency 1/600 ms) whose phase depends on the condition, a shared ramp, and
    # independent noise, rescaled to [-0.4, 0.7]
    rng = np.random.default_rng(seed)
    ph = np.linspace(0, 2 * np.pi, C, endpoint=False)
    w = 2 * np.pi * (T_MS + 50) / 600
    load_ = rng.normal(size=(3, N))
    x = np.stack([np.cos(w + p)[:, None] * load_[0] + np.sin(w + p)[:, None] * load_[1]
                  + (T_MS / 550)[:, None] * load_[2] for p in ph]) + rng.normal(0, 0.1, (C, T, N))
    return (x - x.min()) / (x.max() - x.min()) * 1.1 - 0.4


@pytest.fixture(scope="module")
def npz_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "F.npz"
    np.savez(path, rates=_recording(), t_ms=T_MS)
    return path


def _write_nwb(path, rates, n_rep=3, missing_go=0, seed=1):
    """Trials 1 s apart, each from go - 50 ms to go + 550 ms; spikes Poisson in each 10-ms bin, placed
    strictly inside the bin. Returns the spike times (s) per unit and the trials' (go, direction)."""
    from pynwb import NWBHDF5IO, NWBFile

    rng = np.random.default_rng(seed)
    nwb = NWBFile(session_description="synthetic reach", identifier="syn",
                  session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
    nwb.add_trial_column("go_cue_time", "go cue (s)")
    nwb.add_trial_column("direction", "reach direction (deg)")
    spikes = [[] for _ in range(rates.shape[2])]
    trials = []
    k = 0
    for r in range(n_rep):
        for c in range(rates.shape[0]):
            go = 1.0 + k
            k += 1
            miss = k <= missing_go
            nwb.add_trial(start_time=go - 0.05, stop_time=go + 0.55, go_cue_time=np.nan if miss else go,
                          direction=45.0 * c)
            trials.append((go, c, miss))
            hz = 20.0 + 40.0 * rates[c]                                           # (T, N) spikes/s
            counts = rng.poisson(hz * 0.01)
            for n in range(rates.shape[2]):
                for b in np.flatnonzero(counts[:, n]):
                    lo = go - 0.05 + 0.01 * b
                    spikes[n].extend(lo + rng.uniform(0.001, 0.009, counts[b, n]))
    for n in range(rates.shape[2]):
        nwb.add_unit(spike_times=np.sort(spikes[n]))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return [np.sort(s) for s in spikes], trials


@pytest.fixture(scope="module")
def nwb_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("nwb") / "F.nwb"
    spikes, trials = _write_nwb(path, _recording())
    return path, spikes, trials


def test_fit_lds_on_normalised_npz_uses_the_whole_window_no_normalisation_one_epoch(npz_file, tmp_path):
    out = tmp_path / "lds"
    res = runner.invoke(app, ["fit", "lds", "--data", str(npz_file), "--out", str(out), *FAST_LDS])
    assert res.exit_code == 0, res.output
    for text in ("-40 to 550 ms", "the whole recording", "none: the values are already normalised",
                 "one input epoch"):
        assert text in res.output
    s = json.loads((out / "config.json").read_text())["data_settings"]
    assert (s["t_min_ms"], s["t_max_ms"], s["n_time_bins"]) == (-40.0, 550.0, 60)
    assert s["soft_norm"] is None and s["transition_ms"] is None and s["units"] == "normalized"
    with np.load(out / "arrays.npz") as z:                       # the model saw the file's values unchanged
        np.testing.assert_allclose(z["rates"], _recording())
        np.testing.assert_allclose(z["t_ms"], T_MS)
    assert "transition_ms" not in json.loads((out / "metrics.json").read_text())
    fit = prepare_fit_data(npz_file, echo=None)                 # what the models are given: the file's values
    np.testing.assert_array_equal(fit.Y, _recording())
    assert fit.transition_bin is None


def test_fit_ei_subspace_on_normalised_npz(npz_file, tmp_path):
    out = tmp_path / "ei"
    res = runner.invoke(app, ["fit", "ei-subspace", "--data", str(npz_file), "--out", str(out), "--quiet",
                              "--set", "n_units=40", "--set", "n_latents=2", "--set", "max_iter=1",
                              "--set", "lds_iter=2", "--set", "w_iter=5"])
    assert res.exit_code == 0, res.output
    assert "the whole recording" in res.output and "one input epoch" in res.output
    s = json.loads((out / "config.json").read_text())["data_settings"]
    assert (s["t_min_ms"], s["t_max_ms"], s["soft_norm"], s["transition_bin"]) == (-40.0, 550.0, None, None)


def test_fit_ei_subspace_chooses_K_on_the_training_conditions(npz_file, tmp_path):
    # n_latents = auto (the default): K comes from the LDS grid search on the training conditions only
    # (every 4th from 1 is held out); an independent search on them must agree. The recording has 3
    # latent signals (cosine, sine, ramp), and K = 3 wins over 1 and 6.
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from neurodyn.models.lds import grid_search_lds, latent_grid

    out = tmp_path / "ei_auto"
    res = runner.invoke(app, ["fit", "ei-subspace", "--data", str(npz_file), "--out", str(out), "--quiet",
                              "--set", "n_units=40", "--set", "max_iter=1", "--set", "lds_iter=4",
                              "--set", "w_iter=5", "--set", "grid_K=[1, 3, 6]"])
    assert res.exit_code == 0, res.output
    train = np.arange(C) % 4 != 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        direct = grid_search_lds(_recording()[train], [1, 3, 6], [None], n_folds=4, max_iter=4)
    K = json.loads((out / "metrics.json").read_text())["n_latents"]
    assert K == direct["best_K"] == 3
    assert f"K = {K} chosen from [1, 3, 6]" in (out / "report.html").read_text()
    assert latent_grid(N) == [1, 2, 3, 4, 6, 8, 10, 12]
    with np.load(out / "arrays.npz") as z:
        np.testing.assert_allclose(z["grid_heldout_neuron_r2"], direct["heldout_neuron_r2"][:, 0])


def test_nwb_loads_as_8_conditions_aligned_to_go_cue_and_to_start(nwb_file):
    path, spikes, trials = nwb_file
    d = load(path)
    assert d.shape == (C, T, N) and d.meta["align_event"] == "go_cue_time"
    assert d.meta["condition_column"] == "direction" and d.meta["transition_ms"] == 0.0
    np.testing.assert_allclose(d.conditions, 45.0 * np.arange(C))
    np.testing.assert_allclose(d.t_ms, T_MS)                    # window: the span every trial covers
    # independent count: np.histogram of the generated spike times on each trial's own 10-ms grid
    exp = np.zeros((C, T, N))
    for go, c, _ in trials:
        edges = go - 0.05 + 0.01 * np.arange(T + 1)
        exp[c] += np.stack([np.histogram(s, edges)[0] for s in spikes], 1)
    exp *= 100.0 / 3.0                                          # spikes/s, mean of 3 trials
    np.testing.assert_allclose(d.rates, exp)
    e = load(path, align_event="start_time")                    # start = go - 50 ms: same bins, shifted clock
    np.testing.assert_allclose(e.t_ms, T_MS + 50.0)
    np.testing.assert_allclose(e.rates, exp)
    assert e.meta["transition_ms"] == pytest.approx(50.0)
    f = load(path, window_ms=(0, 200), bin_ms=20, smooth_ms=None)
    np.testing.assert_allclose(f.t_ms, 20.0 * np.arange(1, 11))
    np.testing.assert_allclose(f.rates, exp[:, 5:25].reshape(C, 10, 2, N).mean(2))


def test_fit_lds_on_nwb_with_no_flag_and_with_align_event(nwb_file, tmp_path):
    path = nwb_file[0]
    res = runner.invoke(app, ["fit", "lds", "--data", str(path), "--out", str(tmp_path / "a"), *FAST_LDS])
    assert res.exit_code == 0, res.output
    assert "aligned to     go_cue_time; conditions by direction; 24 trials (0 dropped)" in res.output
    s = json.loads((tmp_path / "a" / "config.json").read_text())["data_settings"]
    assert (s["n_conditions"], s["t_min_ms"], s["transition_ms"], s["soft_norm"]) == (8, -40.0, 0.0, 5.0)
    res = runner.invoke(app, ["fit", "lds", "--data", str(path), "--out", str(tmp_path / "b"), *FAST_LDS,
                              "--set", "align_event=start_time"])
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "b" / "config.json").read_text())["data_settings"]
    assert (s["align_event"], s["t_min_ms"], s["t_max_ms"], s["transition_ms"]) == ("start_time", 10.0, 600.0, 50.0)


def test_nwb_trials_without_the_event_are_dropped_with_a_count(tmp_path):
    rates = _recording()[:2, :20, :4]
    _write_nwb(tmp_path / "m.nwb", rates, n_rep=2, missing_go=1)
    with pytest.warns(UserWarning, match="dropped 1 of 4 trials with no 'go_cue_time' time"):
        d = load(tmp_path / "m.nwb")
    np.testing.assert_array_equal(d.n_trials(), [1, 2])
    with pytest.raises(ValueError, match="condition_column='nope': expected one of the trial columns"):
        load(tmp_path / "m.nwb", condition_column="nope")


def test_mat_struct_trials_aligned_to_a_field_and_grouped_by_direction(tmp_path):
    import scipy.io

    rng = np.random.default_rng(3)
    s = np.zeros((4, 1), dtype=[("spikes", object), ("go_cue_time", object), ("direction", object)])
    rasters = (rng.random((4, 3, 100)) < 0.1).astype(np.uint8)        # trial x neuron x 1-ms step
    go = [30, 40, 30, 50]
    dirs = [0, 90, 0, 90]
    for i in range(4):
        s[i, 0] = (rasters[i], np.array([[go[i]]]), np.array([[dirs[i]]]))
    scipy.io.savemat(tmp_path / "s.mat", {"trials": s})
    d = load(tmp_path / "s.mat")                                     # defaults: go_cue_time, direction
    assert d.meta["align_event"] == "go_cue_time" and d.meta["condition_column"] == "direction"
    # common span around the go cue: latest start -30 ms, earliest stop 100 - 50 = 50 ms -> 8 bins
    np.testing.assert_allclose(d.t_ms, -30.0 + 10.0 * np.arange(1, 9))
    # 1-ms step j covers (j, j+1] ms: bin k after the cut (go - 30 + 10k, go - 30 + 10(k+1)]
    cut = [rasters[i][:, go[i] - 30: go[i] + 50].reshape(3, 8, 10).sum(-1).T * 100.0 for i in range(4)]
    np.testing.assert_allclose(d.rates[0], (cut[0] + cut[2]) / 2)
    np.testing.assert_allclose(d.rates[1], (cut[1] + cut[3]) / 2)


def test_swapped_axes_warn_and_the_fit_prints_it(tmp_path):
    x = np.abs(np.random.default_rng(0).normal(10, 3, (50, 60, 8)))   # neurons x time x conditions
    np.savez(tmp_path / "swapped.npz", rates=x, t_ms=np.arange(60) * 10.0)
    with pytest.warns(UserWarning, match=r"more conditions \(50\) than neurons \(8\).*axes may be swapped: "
                                         r"expected conditions x time x neurons"):
        load(tmp_path / "swapped.npz")
    np.savez(tmp_path / "short.npz", rates=np.ones((3, 4, 10)), t_ms=np.arange(4) * 10.0)
    with pytest.warns(UserWarning, match=r"fewer than 5 time bins \(4\)"):
        load(tmp_path / "short.npz")
    fit = prepare_fit_data(tmp_path / "swapped.npz", echo=None)
    assert any("axes may be swapped" in w for w in fit.settings["warnings"])


def test_negative_rates_in_spikes_per_s_stop_with_one_line(tmp_path):
    x = np.random.default_rng(0).uniform(0, 40, (4, 20, 6))
    x[1, 3, 2] = -8.0
    np.savez(tmp_path / "neg.npz", rates=x, t_ms=np.arange(20) * 10.0)
    with pytest.raises(ValueError, match=r"neg.npz: rates=array of shape \(4, 20, 6\): expected non-negative "
                                         r"rates in spikes/s, found 1 negative values"):
        load(tmp_path / "neg.npz")
    res = runner.invoke(app, ["fit", "lds", "--data", str(tmp_path / "neg.npz"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "negative" in res.output and len(res.output.strip().splitlines()) == 1
    # declared units win: the same values marked as normalised load unchanged
    np.savez(tmp_path / "negz.npz", rates=x, t_ms=np.arange(20) * 10.0, units="normalized")
    np.testing.assert_allclose(load(tmp_path / "negz.npz").rates, x)


def test_integer_single_trials_are_counts_per_bin(tmp_path):
    rng = np.random.default_rng(5)
    counts = rng.poisson(2.0, (6, 15, 4)).astype(np.int64)              # 6 trials, 20-ms bins
    lab = np.array([0, 1, 0, 1, 0, 1])
    np.savez(tmp_path / "c.npz", spikes=counts, trial_condition=lab, t_ms=np.arange(1, 16) * 20.0)
    d = load(tmp_path / "c.npz")
    np.testing.assert_allclose(d.rates[0], counts[lab == 0].mean(0) * 50.0)   # 1000 / 20 ms
    assert "counts per bin" in d.meta["units_note"] and d.meta["units"] == "spikes/s"
    # the same numbers declared as spikes/s stay as they are
    np.savez(tmp_path / "s.npz", spikes=counts, trial_condition=lab, t_ms=np.arange(1, 16) * 20.0,
             units="spikes/s")
    np.testing.assert_allclose(load(tmp_path / "s.npz").rates[0], counts[lab == 0].mean(0))


def test_empty_and_2d_arrays_name_the_3d_layout(tmp_path):
    np.savez(tmp_path / "flat.npz", rates=np.ones((60, 50)), t_ms=np.arange(60.0))
    with pytest.raises(ValueError, match=r"flat.npz: rates=array of shape \(60, 50\): expected a 3-d array "
                                         r"\(conditions, time, neurons\)"):
        load(tmp_path / "flat.npz")
    with pytest.raises(ValueError, match=r"expected a 3-d array \(conditions, time, neurons\)"):
        PopulationData(np.ones((60, 50)), np.arange(60.0))
    with pytest.raises(ValueError, match=r"non-empty 3-d array \(conditions, time, neurons\)"):
        PopulationData(np.ones((0, 5, 3)), np.arange(5.0))
    res = runner.invoke(app, ["fit", "lds", "--data", str(tmp_path / "flat.npz"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "expected a 3-d array (conditions, time, neurons)" in res.output


def test_corrupt_files_give_one_line_naming_the_file(tmp_path, nwb_file):
    good = tmp_path / "ok.npz"
    np.savez(good, rates=np.ones((2, 5, 4)), t_ms=np.arange(5.0))
    (tmp_path / "trunc.npz").write_bytes(good.read_bytes()[:60])
    (tmp_path / "noise.npz").write_bytes(b"\x01\x02 random bytes " * 20)
    np.savez(tmp_path / "obj.npz", rates=np.array([np.ones(3), "x"], dtype=object), t_ms=np.arange(2.0))
    (tmp_path / "junk.mat").write_bytes(b"MATLAB 5.0 MAT-file garbage" + b"\x00" * 200)
    (tmp_path / "trunc.nwb").write_bytes(nwb_file[0].read_bytes()[:4000])
    for name in ("trunc.npz", "noise.npz", "obj.npz", "junk.mat", "trunc.nwb"):
        with pytest.raises(ValueError) as err:
            load(tmp_path / name)
        msg = str(err.value)
        assert name in msg and "\n" not in msg and "allow_pickle" not in msg, msg
        res = runner.invoke(app, ["fit", "lds", "--data", str(tmp_path / name), "--out", str(tmp_path / "r")])
        assert res.exit_code == 2 and name in res.output and "allow_pickle" not in res.output


def test_rebin_window_and_smoothing_of_binned_arrays(tmp_path):
    x = np.random.default_rng(2).uniform(0, 30, (3, 12, 4))
    np.savez(tmp_path / "b.npz", rates=x, t_ms=10.0 * np.arange(1, 13))
    d = load(tmp_path / "b.npz", bin_ms=20, window_ms=(20, 100))
    np.testing.assert_allclose(d.t_ms, [40, 60, 80, 100])           # merged bins end at 20, 40, ...; (20, 100]
    np.testing.assert_allclose(d.rates, x.reshape(3, 6, 2, 4).mean(2)[:, 1:5])
    with pytest.raises(ValueError, match="bin_ms=15.0: expected a whole multiple of the file's 10-ms bins"):
        load(tmp_path / "b.npz", bin_ms=15)
    with pytest.raises(ValueError, match="align_event='go_cue_time': expected None for b.npz"):
        load(tmp_path / "b.npz", align_event="go_cue_time")
    from scipy.ndimage import gaussian_filter1d
    np.testing.assert_allclose(load(tmp_path / "b.npz", smooth_ms=20).rates,
                               gaussian_filter1d(x, 2.0, axis=1, mode="nearest"))


def test_bundled_data_keeps_its_own_settings():
    fit = prepare_fit_data(None, echo=None)
    s = fit.settings
    assert (s["t_min_ms"], s["t_max_ms"], s["transition_ms"], s["soft_norm"]) == (-400.0, 400.0, -150.0, 5.0)
    assert fit.transition_bin == 25                                # bins -400, -390, ..., -160 precede -150
    rng = np.ptp(fit.data.rates.reshape(-1, fit.data.n_neurons), axis=0)
    np.testing.assert_allclose(fit.Y, fit.data.rates / (rng + 5.0))


def test_worked_nwb_example_in_the_docs(tmp_path, monkeypatch):
    text = (Path(__file__).resolve().parents[1] / "docs" / "data_format.md").read_text()
    block = text.split("# worked example: NWB\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "docs/data_format.md", "exec"), {})          # its asserts are the checks
    assert (tmp_path / "session.nwb").is_file()


def test_rrr_fit_on_a_recording_with_area_labels_finds_the_shared_rank(tmp_path):
    from neurodyn.runner import run_experiment

    # two areas driven by the same 2-d latent: the communication subspace has rank 2
    rng = np.random.default_rng(0)
    z = rng.normal(size=(40, 30, 2))
    src = 10 + 3 * z @ rng.normal(size=(2, 10)) + rng.normal(0, 0.5, (40, 30, 10))
    tgt = 10 + 3 * z @ rng.normal(size=(2, 8)) + rng.normal(0, 0.5, (40, 30, 8))
    np.savez(tmp_path / "areas.npz", spikes=np.abs(np.concatenate([src, tgt], -1)),
             trial_condition=np.arange(40) % 4, t_ms=10.0 * np.arange(1, 31), area=np.array(["V1"] * 10 + ["V2"] * 8))
    m = run_experiment("rrr-fit", tmp_path / "run", config={"data": str(tmp_path / "areas.npz"), "n_folds": 5})
    assert m["optimal_rank"] == 2 and m["n_samples"] == 40 * 30
    s = json.loads((tmp_path / "run" / "config.json").read_text())["data_settings"]
    assert s["n_neurons"] == 18 and s["units"] == "spikes/s"
