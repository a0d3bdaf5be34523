"""Data layer: PopulationData validation, loaders (npz, .mat v5/v7.3, NWB), binning, bundled data."""

from pathlib import Path

import numpy as np
import pytest

from neurodyn.data import (
    PopulationData,
    bin_spike_raster,
    bin_spike_times,
    gaussian_smooth,
    load,
    load_example,
    load_mat,
    load_npz,
    load_nwb,
    soft_normalize,
)

YU = Path(__file__).resolve().parents[2] / "shared" / "data" / "yu_pmd_delayed_reach" / "ps4_realdata.mat"


def _trials(rng, n=7, T=5, N=3):
    x = rng.poisson(3.0, size=(n, T, N)).astype(float)
    lab = np.array([0, 1, 2, 0, 1, 0, 2])[:n]
    return x, lab


def test_from_trials_averages_and_counts():
    rng = np.random.default_rng(0)
    x, lab = _trials(rng)
    d = PopulationData.from_trials(x, lab, np.arange(5) * 10.0)
    np.testing.assert_allclose(d.rates[0], x[[0, 3, 5]].mean(0))
    np.testing.assert_array_equal(d.n_trials(), [3, 2, 2])
    assert d.trials.shape == (3, 3, 5, 3) and d.trial_mask.sum() == 7
    np.testing.assert_allclose(d.trial_list()[2], x[[2, 6]])
    assert d.bin_ms == 10.0


def test_npz_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    x, lab = _trials(rng)
    d = PopulationData.from_trials(x, lab, np.arange(5) * 10.0, condition_table={"dir": np.array([0., 90, 180])})
    d.save_npz(tmp_path / "d.npz")
    e = load(tmp_path / "d.npz")
    np.testing.assert_allclose(e.rates, d.rates)
    np.testing.assert_allclose(e.trials[e.trial_mask], d.trials[d.trial_mask])
    np.testing.assert_allclose(e.counts, d.counts)
    np.testing.assert_allclose(e.condition_table["dir"], [0, 90, 180])
    # minimal layout: rates + t_ms only
    np.savez(tmp_path / "m.npz", rates=d.rates, t_ms=d.t_ms)
    assert load_npz(tmp_path / "m.npz").counts is None


def test_mat_v5_named_and_raster_structs(tmp_path):
    import scipy.io
    rng = np.random.default_rng(2)
    rates = rng.uniform(0, 20, (2, 4, 3))
    scipy.io.savemat(tmp_path / "named.mat", {"rates": rates, "t_ms": np.arange(4.0) * 20})
    d = load_mat(tmp_path / "named.mat")
    np.testing.assert_allclose(d.rates, rates)
    assert d.bin_ms == 20.0
    # struct array [trial, condition] with 1-ms rasters (N x T_ms), like the premotor teaching data
    s = np.zeros((2, 2), dtype=[("trialId", object), ("spikes", object)])
    rasters = rng.integers(0, 2, (2, 2, 3, 40)).astype(np.uint8)
    for n in range(2):
        for c in range(2):
            s[n, c] = (np.array([[n * 2 + c]]), rasters[n, c])
    scipy.io.savemat(tmp_path / "raster.mat", {"train_trial": s})
    e = load_mat(tmp_path / "raster.mat", bin_ms=10)
    expected = rasters.reshape(2, 2, 3, 4, 10).sum(-1).mean(0).transpose(0, 2, 1) * 100.0  # spikes/s
    np.testing.assert_allclose(e.rates, expected)
    np.testing.assert_allclose(e.t_ms, [10, 20, 30, 40])
    scipy.io.savemat(tmp_path / "other.mat", {"foo": np.ones(3), "bar": np.zeros(2)})
    with pytest.raises(ValueError, match="found: bar, foo"):
        load_mat(tmp_path / "other.mat")


def test_mat_v73_via_h5py(tmp_path):
    import h5py
    rng = np.random.default_rng(3)
    rates = rng.uniform(0, 20, (2, 4, 3))
    path = tmp_path / "v73.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f["rates"] = rates.T            # MATLAB is column-major: HDF5 sees reversed axes
        f["t_ms"] = (np.arange(4.0) * 10)[None, :].T
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116, b" "))
    d = load_mat(path)
    np.testing.assert_allclose(d.rates, rates)
    np.testing.assert_allclose(d.t_ms, [0, 10, 20, 30])


def test_nwb_units_trials_aligned(tmp_path):
    from datetime import datetime, timezone
    import pynwb
    from pynwb import NWBHDF5IO, NWBFile
    nwb = NWBFile(session_description="t", identifier="x", session_start_time=datetime(2020, 1, 1, tzinfo=timezone.utc))
    nwb.add_trial_column("go_cue_time", "go cue (s)")
    nwb.add_trial_column("direction", "reach direction")
    go = [1.0, 3.0, 5.0]
    dirs = [0, 90, 0]
    for k in range(3):
        nwb.add_trial(start_time=go[k] - 0.5, stop_time=go[k] + 1.0, go_cue_time=go[k], direction=dirs[k])
    spikes = [np.array([0.905, 0.95, 1.005, 1.0101, 3.02, 5.015]), np.array([2.999, 3.001, 5.0])]
    for st in spikes:
        nwb.add_unit(spike_times=st)
    with NWBHDF5IO(str(tmp_path / "s.nwb"), "w") as io:
        io.write(nwb)
    d = load_nwb(tmp_path / "s.nwb", event="go_cue_time", window_ms=(-100, 20), bin_ms=10, condition="direction")
    np.testing.assert_allclose(d.t_ms[[0, -1]], [-90, 20])
    # expected counts by hand: bins (e-100+10k, e-100+10(k+1)] in ms
    exp = np.zeros((3, 12, 2))
    for k, e in enumerate(go):
        for n, st in enumerate(spikes):
            rel = (st - e) * 1000.0
            for s in rel:
                b = int(np.ceil((s + 100) / 10 - 1e-9)) - 1
                if 0 <= b < 12:
                    exp[k, b, n] += 1
    exp *= 100.0
    np.testing.assert_allclose(d.rates[0], exp[[0, 2]].mean(0))
    np.testing.assert_allclose(d.rates[1], exp[1])
    with pytest.raises(ValueError, match="event"):
        load_nwb(tmp_path / "s.nwb", event="nope")


def test_binning_causal_and_consistent():
    # 1-ms raster and spike times describe the same spikes: both binnings agree.
    rng = np.random.default_rng(4)
    raster = (rng.random((50, 2)) < 0.2).astype(int)
    r1, t1 = bin_spike_raster(raster, 10)
    times = [np.flatnonzero(raster[:, n]) + 1.0 for n in range(2)]   # step i covers (i, i+1] ms
    r2, t2 = bin_spike_times(times, 0.0, 50.0, 10.0)
    np.testing.assert_allclose(r1, r2)
    np.testing.assert_allclose(t1, t2)
    np.testing.assert_allclose(r1.sum(0) * 10 / 1000, raster.sum(0))
    # causal: a spike at exactly 10 ms lands in the bin ending at 10 ms
    r, _ = bin_spike_times([np.array([10.0])], 0.0, 30.0, 10.0)
    np.testing.assert_allclose(r[:, 0], [100.0, 0, 0])


def test_smoothing_and_soft_normalisation():
    x = np.zeros((1, 41, 1))
    x[0, 20, 0] = 1.0
    y = gaussian_smooth(x, 20.0, 10.0, axis=1)
    assert y.sum() == pytest.approx(1.0) and y[0, 18, 0] / y[0, 20, 0] == pytest.approx(np.exp(-0.5), rel=1e-2)
    r = np.array([[[0.0, 10.0]], [[10.0, 30.0]]])
    np.testing.assert_allclose(soft_normalize(r, 5.0), r / np.array([15.0, 25.0]))


def test_bundled_example():
    d = load_example("hatsopoulos2007")
    assert d.shape == (8, 121, 141)
    np.testing.assert_allclose(d.t_ms[[0, -1]], [-800, 400])
    assert d.rates.max() == pytest.approx(93.3, abs=0.05)          # SOURCE.md: range 0 to 93.3
    np.testing.assert_allclose(d.conditions, np.arange(8) * 45.0)


@pytest.mark.skipif(not YU.exists(), reason="premotor teaching dataset not present")
def test_yu_premotor_file():
    d = load_mat(YU, bin_ms=20, t0_ms=-200.0)
    assert d.shape == (8, 35, 97)
    np.testing.assert_array_equal(d.n_trials(), 182)
    assert d.rates.mean() == pytest.approx(9.8, abs=0.1)             # SOURCE.md: mean about 9.8 spikes/s
    assert d.t_ms[0] == -180.0


def test_bad_input(tmp_path):
    t = np.arange(4.0)
    with pytest.raises(ValueError, match="NaN"):
        PopulationData(np.full((2, 4, 3), np.nan), t)
    with pytest.raises(ValueError, match="t_ms"):
        PopulationData(np.ones((2, 4, 3)), np.arange(5.0))
    with pytest.raises(ValueError, match="counts"):
        PopulationData(np.ones((2, 4, 3)), t, counts=-np.ones((2, 4, 3)))
    with pytest.raises(ValueError, match="none in condition 1"):
        PopulationData(np.ones((2, 4, 3)), t, counts=np.stack([np.ones((4, 3)), np.zeros((4, 3))]))
    with pytest.raises(ValueError, match="at least one trial of condition 5"):
        PopulationData.from_trials(np.ones((2, 4, 3)), [0, 1], t, conditions=[0, 1, 5])
    np.savez(tmp_path / "bad.npz", x=np.ones(3))
    with pytest.raises(ValueError, match="found: x"):
        load_npz(tmp_path / "bad.npz")


def test_corrupt_and_truncated_files_give_one_line_errors(tmp_path):
    from neurodyn.data import load

    good = tmp_path / "ok.npz"
    np.savez(good, rates=np.ones((2, 5, 4)), t_ms=np.arange(5.0))
    raw = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="trunc.npz.*corrupt or truncated"):
        load(tmp_path / "trunc.npz")
    (tmp_path / "junk.mat").write_bytes(b"not a MATLAB file " * 20)
    with pytest.raises(ValueError, match="junk.mat.*expected a readable MATLAB .mat file"):
        load(tmp_path / "junk.mat")
    (tmp_path / "junk.nwb").write_bytes(b"not an HDF5 file " * 20)
    with pytest.raises(ValueError, match="junk.nwb.*expected a readable NWB file"):
        load(tmp_path / "junk.nwb")
