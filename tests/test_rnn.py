"""Dale-constrained multi-area RNNs trained by BPTT, and the delayed-reach task (seed 000 Fig. 2b)."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from neurodyn.dynamics import piecewise_constant_input, simulate
from neurodyn.models.rnn import DaleRNN, Relu, dale_rnn_structure, psth_fit
from neurodyn.models.tasks import delayed_reach_task, minimum_jerk_velocity


@pytest.fixture(scope="module")
def trained():
    task = delayed_reach_task(np.arange(0.0, 360.0, 90.0), t_ms=np.arange(-400.0, 300.0, 10.0), target_on_ms=-350,
                              go_ms=-200)
    rng = np.random.default_rng(0)
    psth = np.cumsum(rng.standard_normal((4, task.t_ms.size, 3)), axis=1) * 0.1
    model = DaleRNN((16, 12), taus_ms=(40.0, 60.0), n_iter=80, learning_rate=2e-2, noise_sd=0.05,
                    psth_weight=0.5, psth_area=0, seed=1).fit(task, psth)
    return model, task, psth


def test_dale_law_and_masks_hold_after_training(trained):
    model, _, _ = trained
    st = model.structure_
    assert model.dale_violations() == 0
    W = model.W_
    assert np.all(W[:, st.sign > 0] >= 0) and np.all(W[:, st.sign < 0] <= 0)
    assert np.all(W[st.mask == 0] == 0)
    # long-range projections only from E units: the block A1 -> A2 has zero I columns
    a1, a2 = st.area_index(0), st.area_index(1)
    i_units_a1 = a1[st.sign[a1] < 0]
    assert np.all(W[np.ix_(a2, i_units_a1)] == 0)
    net = model.to_network()          # validates Dale's law again
    assert net.dale and np.allclose(np.asarray(net.tau)[a1], 40.0) and np.allclose(np.asarray(net.tau)[a2], 60.0)
    # the readout reads only the output area's E units
    assert np.all(model.W_out_[:, a1] == 0)


def test_training_reduces_the_loss(trained):
    model, task, psth = trained
    h = model.loss_history_
    assert h[-1] < 0.5 * h[0]
    # psth_r2_ is the R^2 of the ridge map from the trained network's noise-free area-0 rates to the
    # PSTHs: recomputed here with scikit-learn's Ridge on the rates of transform() (independent code)
    r = model.transform(task)[..., model.structure_.area_index(0)]
    R, P = r.reshape(-1, r.shape[-1]), psth.reshape(-1, psth.shape[-1])
    lam = model.psth_ridge * np.trace((R - R.mean(0)).T @ (R - R.mean(0))) / R.shape[1]
    pred = Ridge(alpha=lam, fit_intercept=True).fit(R, P).predict(R)
    r2 = 1 - np.sum((P - pred) ** 2) / np.sum((P - P.mean(0)) ** 2)
    assert model.psth_r2_ == pytest.approx(r2, rel=1e-6)
    # task_error_ = 1 - R^2 of the masked outputs (thesis App. D), from predict()
    z, m = model.predict(task), task.mask.astype(bool)
    zt = task.targets[m]
    assert model.task_error_ == pytest.approx(np.sum((z[m] - zt) ** 2) / np.sum((zt - zt.mean(0)) ** 2), rel=1e-9)
    assert model.task_error_ < 1.0


def test_rnn_equals_network_simulation(trained):
    # The trained RNN's Euler dynamics equal neurodyn.dynamics.simulate on to_network() (independent code path).
    model, task, _ = trained
    x, r, z = model.simulate(task.inputs)
    drive = model.input_drive(task.inputs)
    h = piecewise_constant_input(drive, np.append(task.t_ms, task.t_ms[-1] + 10.0))
    x0 = np.broadcast_to(np.asarray(model.params_["x0"]), (task.n_conditions, model.structure_.n))
    xs = np.asarray(simulate(model.to_network(), x0, task.t_ms, dt=10.0, gain_fn=Relu(), h=h, method="euler",
                             t0=task.t_ms[0]))
    np.testing.assert_allclose(xs, x, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(z, np.maximum(x, 0) @ model.W_out_.T, atol=1e-12)


def test_psth_fit_matches_sklearn_ridge():
    rng = np.random.default_rng(3)
    rates = rng.random((3, 20, 7))
    psth = rates @ rng.standard_normal((7, 4)) + 0.3 * rng.standard_normal((3, 20, 4))
    r2, M = psth_fit(rates, psth, ridge=0.05)
    R = rates.reshape(-1, 7)
    P = psth.reshape(-1, 4)
    Rc = R - R.mean(0)
    lam = 0.05 * np.trace(Rc.T @ Rc) / 7
    ref = Ridge(alpha=lam, fit_intercept=True).fit(R, P)
    np.testing.assert_allclose(np.asarray(M), ref.coef_.T, rtol=1e-8, atol=1e-10)
    pred = ref.predict(R)
    expected = 1 - np.sum((P - pred) ** 2) / np.sum((P - P.mean(0)) ** 2)
    assert float(r2) == pytest.approx(expected, rel=1e-10)


def test_structure_proportions_and_task():
    st = dale_rnn_structure((200, 200), proportions=[[0, 0.05], [0.1, 0]], e_fraction=0.8, seed=0)
    a1, a2 = st.area_index(0), st.area_index(1)
    ff = st.mask[np.ix_(a2, a1[:160])].mean()
    fb = st.mask[np.ix_(a1, a2[:160])].mean()
    # Bernoulli proportions: 32000 entries, SD about 0.0017 (ff) and 0.0012 (fb)
    assert abs(ff - 0.1) < 0.01 and abs(fb - 0.05) < 0.01
    task = delayed_reach_task(output="emg", n_muscles=4)
    assert task.inputs.shape == (8, 121, 3) and task.targets.shape == (8, 121, 4)
    assert np.all(task.targets >= 0)
    # go step and target inputs switch on at the right times
    k_go = np.searchsorted(task.t_ms, -300.0)
    assert task.inputs[0, k_go - 1, 2] == 0 and task.inputs[0, k_go, 2] == 1
    # the minimum-jerk profile integrates to one reach (integral over s of 30 s^2 (1-s)^2 ds = 1)
    t = np.arange(0.0, 401.0, 1.0)
    v = minimum_jerk_velocity(t, [0.0], onset_ms=0.0, duration_ms=400.0)
    assert np.trapezoid(v[0, :, 0], t) / 400.0 == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="output"):
        delayed_reach_task(output="force")
