"""The flagship demo runs end to end (at a tiny scale) and its numbers agree with independent routes."""

import numpy as np
import pytest

from neurodyn.data import load_example, soft_normalize
from neurodyn.runner import run_experiment

TINY = {"lds_iter": 8, "ei_units": 100, "ei_latents": 2, "ei_iter": 2, "ei_w_iter": 30, "n_stim": 2,
        "soc_n": 20, "soc_target": 0.5, "sessions": 2, "iterations": 10}


def test_demo_tiny(tmp_path):
    m = run_experiment("demo", tmp_path / "demo", quick=True, config=TINY)
    # task-space dimensionality by an SVD of the same soft-normalised rates (independent of sklearn's PCA)
    data = load_example("hatsopoulos2007").select_time(-400.0, 300.0)
    X = soft_normalize(data.rates, 5.0).reshape(-1, data.n_neurons)
    s = np.linalg.svd(X - X.mean(0), compute_uv=False) ** 2
    assert m["data_task_space_dim"] == int(np.searchsorted(np.cumsum(s) / s.sum(), 0.95) + 1)
    assert m["ei_dale_violations"] == 0
    assert m["soc_converged"] and m["soc_alpha_final"] < 0.5 < m["soc_alpha_initial"]
    # the chance level by Monte Carlo: the RMS share of a fixed vector's norm in uniformly random
    # K = 2-dimensional subspaces of R^N, N = 100 (4000 subspaces; relative s.e. about 1%)
    rng = np.random.default_rng(0)
    v = rng.normal(size=100)
    Q = np.linalg.qr(rng.normal(size=(4000, 100, 2)))[0]
    share = np.sum((v @ Q) ** 2, axis=-1) / (v @ v)
    assert m["opto_dynamics_space_chance"] == pytest.approx(np.sqrt(share.mean()), rel=0.04)
    # seed 001 §11: the stimulation response lies in the task-dynamics space only at chance (within the
    # Monte Carlo 1st-99th percentile of random subspaces; projecting on the whole space would give 1)
    lo, hi = np.percentile(np.sqrt(share), [1, 99])
    assert lo <= m["opto_dynamics_space_projection"] <= hi
    # 10 iterations of noise sd 0.001 (eq. 3.5) keep the gains within a few hundredths of 1
    assert abs(m["learning_gain_mean"] - 1.0) < 0.02 and m["learning_gain_sd"] < 0.05
    html = (tmp_path / "demo" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 7
