"""The estimator contract (`neurodyn.models.base`), one parametrised test over every fitted model.

For each model: clone, get_params / set_params round trip and a readable repr; NotFittedError before
fit; fit returns self; transform shape; score (mean log-likelihood per observed bin) higher for the true
parameters than for perturbed ones on held-out data simulated from the known model; save -> load_model
-> identical predict and score. For the latent LDS models the "known model" is the fitted model itself:
held-out data are sampled from it (``sample``), so its parameters are the true ones for those data.
Add a factory to ``CASES`` for a new model.
"""

import copy
import dataclasses
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

import neurodyn  # noqa: F401  (float64 JAX)
from neurodyn.analysis import synthetic_communication
from neurodyn.models import (LDS, DaleRNN, EISubspaceNetwork, MultiAreaLDS, NotFittedError, ReducedRankRegression,
                             StimLVM, delayed_reach_task, load_model, random_two_area_params,
                             simulate_multi_area_lds)
from neurodyn.models.stim_lvm import additive_delta, stimulated_dataset, synthetic_population


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def _lds_data(seed=0, n_cond=4, T=30, N=12, K=3, transition=10):
    rng = np.random.default_rng(seed)
    A = 0.92 * np.linalg.qr(rng.normal(size=(K, K)))[0]
    C = rng.normal(size=(N, K))
    x = np.zeros((n_cond, T, K))
    x[:, 0] = rng.normal(size=(n_cond, K))
    vecs = 0.3 * rng.normal(size=(n_cond, 2, K))
    for t in range(1, T):
        x[:, t] = x[:, t - 1] @ A.T + vecs[:, int(t >= transition)] + 0.1 * rng.normal(size=(n_cond, K))
    return x @ C.T + 3.0 + 0.3 * rng.normal(size=(n_cond, T, N))


def _latent_case(est, perturb):
    X = _lds_data()
    return dict(est=est, fit=lambda m: m.fit(X), X=X, shape=(4, 30, 3), score=lambda m, d: m.score(d),
                predict=lambda m, d: m.predict(d), heldout=lambda m: m.sample(X.shape[0], seed=123),
                truth=lambda m: m, perturb=perturb)


def _lds():
    def perturb(m):
        m.A_ = 0.8 * m.A_
        return m

    return _latent_case(LDS(3, 10, max_iter=15), perturb)


def _ei():
    def perturb(m):
        m.W_ = 0.8 * m.W_
        m.A_ = m.J_ @ m.W_ @ m.J_pinv_
        return m

    return _latent_case(EISubspaceNetwork(40, 3, 10, max_iter=3, w_iter=30, lds_iter=10, seed=0), perturb)


def _multi_area():
    params = random_two_area_params((2, 2), (6, 6), rank=1, strengths=(0.6,), seed=0)
    _, y = simulate_multi_area_lds(params, 20, 30, seed=1)
    _, held = simulate_multi_area_lds(params, 20, 30, seed=2)        # same shape as training: one compile

    def truth(m):
        m.params_ = params
        return m

    def perturb(m):
        rng = np.random.default_rng(3)
        m.params_ = m.params_._replace(C=np.asarray(m.params_.C) + 0.5 * rng.standard_normal(m.params_.C.shape)
                                       * (np.asarray(m.params_.C) != 0))
        return m

    return dict(est=MultiAreaLDS((2, 2), max_iter=10), fit=lambda m: m.fit(y, (6, 6)), X=held,
                shape=(20, 30, 4), score=lambda m, d: m.score(d), predict=lambda m, d: m.predict(d),
                heldout=lambda m: held, truth=truth, perturb=perturb)


def _rrr():
    X, Y, B = synthetic_communication(600, 8, 6, rank=2, noise=1.0, seed=0)

    def truth(m):
        m.coef_, m.intercept_, m.noise_variance_ = B, np.zeros(6), np.ones(6)   # Y = X B + N(0, 1)
        return m

    def perturb(m):
        m.coef_ = m.coef_ + 0.3 * np.random.default_rng(1).standard_normal(m.coef_.shape)
        return m

    return dict(est=ReducedRankRegression(2), fit=lambda m: m.fit(X[:300], Y[:300]), X=X[300:], shape=(300, 2),
                score=lambda m, d: m.score(*d), predict=lambda m, d: m.predict(d[0]),
                heldout=lambda m: (X[300:], Y[300:]), truth=truth, perturb=perturb)


T_MS = np.arange(20.0, 220.0, 20.0)         # 10 bins of 20 ms
ON, OFF = 60.0, 140.0


def _stim_lvm():
    C, d, z = synthetic_population(4, 12, 2, T_MS, seed=0)
    delta = additive_delta(T_MS, 12, ON, OFF, scale=4.0, seed=1)
    ds = stimulated_dataset(C, d, z, T_MS, ON, OFF, kind="additive", delta=delta, n_trials=20, seed=2)

    def truth(m):
        m.readout_, m.offset_, m.z_, m.z_stim_, m.delta_ = C, d, z, z, delta
        return m

    def perturb(m):
        m.readout_ = m.readout_ + 2.0 * np.random.default_rng(4).standard_normal(m.readout_.shape)
        return m

    return dict(est=StimLVM(2, max_iter=150), fit=lambda m: m.fit(ds, t_ms=T_MS, stim_on_ms=ON, stim_off_ms=OFF),
                X=ds, shape=(8, 10, 2), score=lambda m, d: m.score(d), predict=lambda m, d: m.predict(),
                heldout=lambda m: m.sample(20, seed=5), truth=truth, perturb=perturb)


def _dale_rnn():
    task = delayed_reach_task(np.arange(0.0, 360.0, 90.0), t_ms=np.arange(-300.0, 200.0, 10.0),
                              target_on_ms=-250, go_ms=-150)

    def truth(m):
        m.noise_variance_ = np.full(2, 0.01)      # a known noise model around the network's outputs
        return m

    def perturb(m):
        m.params_ = dict(m.params_, W_out=1.3 * np.asarray(m.params_["W_out"]))
        return m

    return dict(est=DaleRNN((8, 6), taus_ms=(40.0, 60.0), n_iter=15, learning_rate=2e-2, seed=1),
                fit=lambda m: m.fit(task), X=task, shape=(4, 50, 14), score=lambda m, d: m.score(d),
                predict=lambda m, d: m.predict(d),
                heldout=lambda m: dataclasses.replace(task, targets=m.sample(task, seed=7)),
                truth=truth, perturb=perturb)


CASES = {"LDS": _lds, "EISubspaceNetwork": _ei, "MultiAreaLDS": _multi_area, "ReducedRankRegression": _rrr, "StimLVM": _stim_lvm, "DaleRNN": _dale_rnn}


@pytest.mark.parametrize("name", sorted(CASES))
def test_estimator_contract(name, tmp_path):
    case = CASES[name]()
    est = case["est"]
    # scikit-learn: clone, get_params / set_params round trip, readable repr
    twin = clone(est)
    assert type(twin) is type(est) and twin.get_params() == est.get_params()
    params = est.get_params()
    assert type(est)(**params).get_params() == params
    assert est.set_params(**params) is est
    assert repr(est).startswith(type(est).__name__ + "(")
    # NotFittedError before fit
    with pytest.raises(NotFittedError):
        case["score"](est, case["heldout"](est) if name != "StimLVM" else case["X"])
    with pytest.raises(NotFittedError):
        est.transform(case["X"])
    # fit returns self; transform shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # short fits may stop at max_iter
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert case["fit"](est) is est
        assert est.transform(case["X"]).shape == case["shape"]
    # score: true parameters beat perturbed ones on held-out data simulated from the known model
    true = case["truth"](copy.deepcopy(est))
    held = case["heldout"](true)
    bad = case["perturb"](copy.deepcopy(true))
    s_true, s_bad = case["score"](true, held), case["score"](bad, held)
    assert np.isfinite(s_true) and s_true > s_bad, (s_true, s_bad)
    # model files: save -> load_model -> identical predict and score
    path = est.save(tmp_path / "model.npz")
    back = load_model(path)
    assert type(back) is type(est)
    np.testing.assert_array_equal(case["predict"](back, held), case["predict"](est, held))
    assert case["score"](back, held) == case["score"](est, held)


@pytest.mark.parametrize("name", ["LDS", "EISubspaceNetwork"])
def test_latent_models_refuse_bad_arrays_and_sample_by_seed(name):
    case = CASES[name]()
    X = case["X"]
    for bad, msg in ((X[0], "3-d array"), (X[:0], "non-empty")):
        with pytest.raises(ValueError, match=msg):
            clone(case["est"]).fit(bad)
    fresh = clone(case["est"])
    for call in (lambda: fresh.predict(X), lambda: fresh.sample(2, seed=0), lambda: fresh.save("never.npz")):
        with pytest.raises(NotFittedError):
            call()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = case["fit"](case["est"])
    assert m.transform(X[:1]).shape == (1, X.shape[1], case["shape"][2])    # a new condition
    np.testing.assert_array_equal(m.sample(2, seed=5), m.sample(2, seed=5))
    assert not np.allclose(m.sample(2, seed=5), m.sample(2, seed=6))
