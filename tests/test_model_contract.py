"""The estimator contract (`neurodyn.models.base`) checked on every fitted model, one parametrised module.

Each case gives a small data set, an unfitted estimator, and a way to perturb a fitted model's parameters.
The "known model" is the fitted model itself: held-out data are sampled from it (``sample``), so its
parameters are the true ones for those data, and any perturbation must lower ``score`` (the mean
log-likelihood per observed bin). Append a `Case` to ``CASES`` for a new model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from neurodyn.models import EISubspaceNetwork, LDS, NotFittedError, load_model


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


@dataclass
class Case:
    name: str
    make: Callable[[], object]              # unfitted estimator
    data: Callable[[], np.ndarray]          # (conditions, time, neurons)
    perturb: Callable[[object], None]       # changes a fitted model's parameters in place
    n_latents: int


def _perturb_lds(m):
    m.A_ = 0.8 * m.A_


def _perturb_ei(m):
    m.W_ = 0.8 * m.W_
    m.A_ = m.J_ @ m.W_ @ m.J_pinv_


CASES = [
    Case("LDS", lambda: LDS(3, 10, max_iter=15), _lds_data, _perturb_lds, 3),
    Case("EISubspaceNetwork", lambda: EISubspaceNetwork(40, 3, 10, max_iter=3, w_iter=30, lds_iter=10, seed=0),
         _lds_data, _perturb_ei, 3),
]


@pytest.fixture(scope="module", params=CASES, ids=[c.name for c in CASES])
def fitted(request, tmp_path_factory):
    case = request.param
    X = case.data()
    est = case.make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = est.fit(X)
    return case, est, model, X, tmp_path_factory.mktemp(case.name)


def test_clone_and_params_round_trip(fitted):
    case, est, model, X, _ = fitted
    fresh = case.make()
    params = fresh.get_params()
    c = clone(model)
    assert type(c) is type(model) and c.get_params() == params
    assert not any(k.endswith("_") and not k.startswith("_") for k in vars(c))     # clone is unfitted
    other = case.make().set_params(**params)
    assert other.get_params() == params
    assert repr(fresh).startswith(type(fresh).__name__ + "(")


def test_fit_returns_self_and_not_fitted_error(fitted):
    case, est, model, X, _ = fitted
    assert model is est
    fresh = case.make()
    for call in (lambda: fresh.transform(X), lambda: fresh.predict(X), lambda: fresh.score(X),
                 lambda: fresh.sample(2, seed=0), lambda: fresh.save("never.npz")):
        with pytest.raises(NotFittedError):
            call()
    with pytest.raises(ValueError, match="3-d array"):
        case.make().fit(X[0])
    with pytest.raises(ValueError, match="non-empty"):
        case.make().fit(X[:0])


def test_transform_shape(fitted):
    case, _, model, X, _ = fitted
    Z = model.transform(X)
    assert Z.shape == X.shape[:2] + (case.n_latents,)
    assert model.transform(X[:1]).shape == (1, X.shape[1], case.n_latents)    # new conditions
    assert model.predict(X).shape == X.shape


def test_score_prefers_the_true_parameters_on_heldout_samples(fitted):
    # data sampled from the fitted model (the known truth for these data) and not used in fitting: the
    # log-likelihood per bin is higher under the true parameters than under perturbed dynamics
    case, _, model, X, path = fitted
    Xs = model.sample(X.shape[0], seed=123)
    assert Xs.shape == X.shape
    true_score = model.score(Xs)
    model.save(path / "truth.npz")
    bad = load_model(path / "truth.npz")
    case.perturb(bad)
    assert true_score > bad.score(Xs)
    # same seed, same draw; another seed, another draw
    np.testing.assert_array_equal(model.sample(2, seed=5), model.sample(2, seed=5))
    assert not np.allclose(model.sample(2, seed=5), model.sample(2, seed=6))


def test_save_load_gives_identical_predict_and_score(fitted):
    case, _, model, X, path = fitted
    p = model.save(path / "model.npz")
    back = load_model(p)
    assert type(back) is type(model) and back.get_params() == model.get_params()
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    np.testing.assert_array_equal(back.predict(), model.predict())
    assert back.score(X) == model.score(X)
    assert back.score(X[:1]) == model.score(X[:1])
