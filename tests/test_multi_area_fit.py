"""`neurodyn fit multi-area` on a user-style .npz: the rank of a known communication subspace is recovered."""

import json

import numpy as np
from typer.testing import CliRunner

from neurodyn.cli import app
from neurodyn.models.multi_area_lds import random_two_area_params, simulate_multi_area_lds


def test_fit_multi_area_from_npz(tmp_path):
    params = random_two_area_params((3, 3), (15, 15), rank=2, seed=4)
    _, y = simulate_multi_area_lds(params, 40, 50, seed=5)
    path = tmp_path / "two_areas.npz"
    np.savez(path, spikes=np.asarray(y), trial_condition=np.zeros(40, int), t_ms=np.arange(50) * 10.0,
             area=np.array(["M1"] * 15 + ["PMd"] * 15))
    out = tmp_path / "fit"
    res = CliRunner().invoke(app, ["fit", "multi-area", "--data", str(path), "--out", str(out), "--quiet",
                                   "--set", "latent_dim=3", "--set", "soft_norm=null", "--set", "max_iter=40"])
    assert res.exit_code == 0, res.output
    m = json.loads((out / "metrics.json").read_text())
    # the simulated B_{M1->PMd} = U diag(0.6, 0.4) V^T has rank 2 (random_two_area_params)
    assert m["n_areas"] == 2 and m["rank_M1_to_PMd"] == 2
    assert m["loglik_monotone"]
    # the run folder holds the fitted model; it reloads and scores the data as the run did
    from neurodyn.models import MultiAreaLDS, load_model

    model = load_model(out)
    assert isinstance(model, MultiAreaLDS) and model.transform(np.asarray(y)[:2]).shape == (2, 50, 6)
    assert model.score(np.asarray(y)) == m["loglik_per_bin"]
    # without area labels the fit is refused with a one-line reason
    np.savez(tmp_path / "no_area.npz", rates=np.ones((2, 5, 4)), t_ms=np.arange(5.0))
    res = CliRunner().invoke(app, ["fit", "multi-area", "--data", str(tmp_path / "no_area.npz"), "--out",
                                   str(tmp_path / "x")])
    assert res.exit_code == 2 and "expected an 'area' label per neuron" in res.output
