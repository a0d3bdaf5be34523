"""Held-out scores of latent linear-Gaussian models that never see the scored data.

One implementation for every model whose latent part is the LDS of seed 001 §9-§10
(``x_t = A x_{t-1} + B u_t + w_t``, ``y_t = C x_t + d + v_t``, one input vector per condition group and
epoch): `neurodyn.models.LDS`, `neurodyn.models.EISubspaceNetwork`. A model enters through its public
methods ``latent_params()`` (the `LDSParams` of a new condition), ``condition_inputs(groups, T)`` (the
one-hot inputs of known input groups) and ``transition``.

Three protocols:

(a) `initial_state_heldout` (seed 001 §12): held-out conditions that share an input group with training
    conditions. Every parameter is fixed, the input vectors are those of the group, and only the
    initial state is inferred: §12 "iterated posterior inference and updating of the initial
    conditions ... until convergence", whose fixed point is the maximum-likelihood ``m0`` (solved
    exactly, see `infer_initial_and_inputs`); the activity is then predicted forward from it without
    noise, ``x_t = A x_{t-1} + B u_t``, ``yhat_t = C x_t + d``, and scored by signal variance explained.
(b) `co_smoothing` (Neural Latents Benchmark, Pei et al. 2021): new conditions. A seeded 20% of the
    neurons is held out (`heldout_neuron_split`; `neuron_folds` repeats it over 5 disjoint 20% sets so
    that every neuron is scored once); the initial state and the condition's own hold/go
    input vectors are inferred from the held-in neurons only (same maximum-likelihood solve, emission
    rows of the held-in neurons), the latents are the posterior means ``E[x_t | y_in]``, and the
    held-out neurons are predicted as ``C_out E[x_t | y_in] + d_out`` and scored by `r2_score` (pooled over
    held-out neurons of held-out conditions). No parameter and no latent has seen a held-out neuron.
    `pca_ridge_baseline` is the reference score: ridge regression of the held-out neurons on the top-K
    principal components of the held-in neurons, fitted on the training conditions.
(c) `forward_prediction`: the initial state (and, for new conditions, the input vectors) is inferred
    from the bins before a split time, the state at the last of them is the posterior mean
    ``E[x_{s-1} | y_{<s}]``, and the bins from the split on are predicted forward without noise and
    scored by `r2_score`.

Maximum-likelihood initial state and inputs (derived here). With the other parameters fixed, the
posterior means of a linear-Gaussian model are affine in ``theta = (m0, b_0, b_1)`` (``b_k`` the input
vector of epoch k), so the stationarity conditions of ``log p(y | theta)`` (Fisher's identity: the
gradient is the expected complete-data gradient under the posterior)

    S0^{-1} (E[x_0 | y] - m0) = 0,      Q^{-1} sum_{t >= 1, kappa(t) = k} (E[x_t | y] - A E[x_{t-1} | y] - b_k) = 0

are linear in theta. Multiplying by S0 and Q, the residual ``r(theta)`` is evaluated at ``theta = 0``
and at the unit vectors (one batched smoother pass), giving ``r(theta) = r(0) + M theta`` exactly, and
``theta* = -M^{-1} r(0)``: the fixed point that the EM iteration of §12 converges to, in one step.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from jaxtyping import Float, Int

from neurodyn.analysis.metrics import r2_difference, r2_score, signal_variance_explained
from neurodyn.dynamics import linear_rollout
from neurodyn.models.base import check_rates
from neurodyn.models.lds.conditions import epochs
from neurodyn.models.lds.inference import LDSParams, kalman_smoother_batch
from neurodyn.validation import fail, in_range, positive_int

__all__ = ["CoSmoothing", "HeldoutPrediction", "InferredStates", "co_smoothing",
           "forward_prediction", "heldout_neuron_split", "infer_initial_and_inputs", "initial_state_heldout",
           "neuron_folds", "pca_ridge_baseline", "score_new_conditions"]


class InferredStates(NamedTuple):
    """Maximum-likelihood initial states and input vectors, and the posterior means they give."""

    m0: Float[np.ndarray, "conditions latents"]              # initial means
    # inferred input vector per epoch (zeros where not inferred)
    input_vectors: Float[np.ndarray, "conditions epochs latents"]
    means: Float[np.ndarray, "conditions time latents"]      # posterior means E[x_t | y]
    loglik: Float[np.ndarray, "conditions"]                  # log p(y | theta*)
    # total input drive B u_t used (known part + inferred vectors)
    drive: Float[np.ndarray, "conditions time latents"]


class HeldoutPrediction(NamedTuple):
    """Prediction and score of protocols (a) and (c)."""

    score: float               # (a): signal variance explained; (c): R^2 of the bins from the split on
    prediction: Float[np.ndarray, "conditions time neurons"]  # all T bins for (a); T - split bins for (c)
    m0: Float[np.ndarray, "conditions latents"]              # inferred initial states


class CoSmoothing(NamedTuple):
    """Result of protocol (b)."""

    r2: float                  # pooled R^2 over held-out neurons of the scored conditions
    prediction: Float[np.ndarray, "conditions time neurons"]  # predicted held-out neurons
    heldin: Int[np.ndarray, "neurons"]                        # indices of held-in neurons
    heldout: Int[np.ndarray, "neurons"]                       # indices of held-out neurons
    latents: Float[np.ndarray, "conditions time latents"]     # posterior means from the held-in neurons


def heldout_neuron_split(n_neurons: int, fraction: float = 0.2, seed: int = 0
                         ) -> tuple[Int[np.ndarray, "neurons"], Int[np.ndarray, "neurons"]]:
    """Seeded split of neuron indices into (held-in, held-out); ``round(fraction * N)`` held out, at least
    one of each (the Neural Latents Benchmark holds out about 20-25% of the neurons)."""
    N = positive_int("n_neurons", n_neurons, 2)
    in_range("fraction", fraction, 0.0, 1.0, lo_open=True, hi_open=True)
    n_out = int(min(max(round(fraction * N), 1), N - 1))
    perm = np.random.default_rng(seed).permutation(N)
    return np.sort(perm[n_out:]), np.sort(perm[:n_out])


def neuron_folds(n_neurons: int, n_folds: int = 5, seed: int = 0) -> list[Int[np.ndarray, "neurons"]]:
    """Seeded partition of the neuron indices into ``n_folds`` held-out sets of about ``N / n_folds`` (5 folds:
    20% each, the benchmark's share), so that every neuron is held out once. One 20% split scores few
    neurons (28 of 141 in the bundled data) and its value moves with the draw; pooling the folds scores
    every neuron with the same protocol."""
    N = positive_int("n_neurons", n_neurons, 2)
    k = positive_int("n_folds", n_folds, 2)
    if k > N:
        fail("n_folds", n_folds, f"at most the number of neurons ({N})")
    perm = np.random.default_rng(seed).permutation(N)
    return [np.sort(f) for f in np.array_split(perm, k)]


def _rows(params: LDSParams, rows) -> LDSParams:
    """Emission parameters restricted to the neurons ``rows`` (R diagonal or full)."""
    R = np.asarray(params.R)
    R = R[rows] if R.ndim == 1 else R[np.ix_(rows, rows)]
    return params._replace(C=np.asarray(params.C)[rows], d=np.asarray(params.d)[rows], R=R)


def infer_initial_and_inputs(params: LDSParams, Y: Float[np.ndarray, "conditions time neurons"],
                             drive: Float[np.ndarray, "conditions time latents"] | None = None,
                             kappa: Int[np.ndarray, "time"] | None = None, *, free_inputs: bool = True,
                             free_m0: bool = True, loglik: bool = True) -> InferredStates:
    """Maximum-likelihood ``m0`` and per-epoch input vectors of each sequence, other parameters fixed.

    Args:
        params: `LDSParams` (``m0`` the starting/prior mean ``(K,)``; ``B`` is not used).
        Y: ``(conditions, T, N)`` observations (only the neurons of ``params.C``'s rows).
        drive: ``(conditions, T, K)`` known input drive ``B u_t`` (None: zero).
        kappa: ``(T,)`` epoch of each bin (None: one epoch).
        free_inputs: infer one input vector per epoch occurring at ``t >= 1`` (added to ``drive``).
        free_m0: infer the initial mean (else ``params.m0`` is kept).
        loglik: also return ``log p(y | theta*)`` (one more smoother pass). Without it the posterior means at
            ``theta*`` are the affine combination ``E[x | y; 0] + sum_j theta*_j (E[x | y; e_j] - E[x | y; 0])``
            of the passes already made (exact: the covariances do not depend on theta) and ``loglik`` is NaN.

    The solve is exact (module docstring): the stationarity conditions are affine in the unknowns. Each
    sequence is smoothed in its own call, so the compiled shape does not depend on the number of sequences.
    """
    Y = np.asarray(Y, float)
    nb, T, _ = Y.shape
    A = np.asarray(params.A)
    K = A.shape[0]
    kappa = np.zeros(T, int) if kappa is None else np.asarray(kappa, int)
    drive = np.zeros((nb, T, K)) if drive is None else np.asarray(drive, float)
    base_m0 = np.broadcast_to(np.asarray(params.m0, float), (nb, K))
    used = np.unique(kappa[1:]) if free_inputs else np.zeros(0, int)
    E = int(kappa.max()) + 1
    n_m0 = K if free_m0 else 0
    p = n_m0 + used.size * K
    sel = np.zeros((T, used.size))                       # bin t >= 1 belongs to inferred epoch j
    for j, k in enumerate(used):
        sel[1:, j] = kappa[1:] == k
    base = dict(params._asdict())
    base["B"] = np.eye(K)

    def run(thetas):
        """Posterior means for each sequence b and each of its parameter vectors ``thetas[b]`` ``(nt, p)``."""
        thetas = np.broadcast_to(thetas, (nb,) + thetas.shape[-2:])
        nt = thetas.shape[1]
        m0 = base_m0[:, None, :] + (thetas[:, :, :K] if free_m0 else 0.0)
        vec = thetas[:, :, n_m0:].reshape(nb, nt, used.size, K)
        dr = drive[:, None] + np.einsum("tj,bnjk->bntk", sel, vec)
        m0 = np.broadcast_to(m0, (nb, nt, K))
        means, ll = np.empty((nb, nt, T, K)), np.empty((nb, nt))
        for b in range(nb):            # one call per sequence: one compiled shape however many conditions
            sm = kalman_smoother_batch(LDSParams(**{**base, "m0": jnp.asarray(m0[b])}),
                                       jnp.asarray(np.broadcast_to(Y[b], (nt,) + Y.shape[1:])), jnp.asarray(dr[b]))
            means[b], ll[b] = np.asarray(sm.means), np.asarray(sm.loglik)
        return means, ll, m0, dr

    if p == 0:
        means, ll, m0, dr = run(np.zeros((1, 0)))
        return InferredStates(base_m0.copy(), np.zeros((nb, E, K)), means[:, 0], ll[:, 0], dr[:, 0])
    thetas = np.vstack([np.zeros(p), np.eye(p)])
    means, _, m0s, drs = run(thetas)
    res = []
    if free_m0:
        res.append(means[:, :, 0] - m0s)                                           # S0 x gradient
    if used.size:
        innov = means[:, :, 1:] - means[:, :, :-1] @ A.T - drs[:, :, 1:]          # (nb, nt, T-1, K)
        res.append(np.einsum("tj,bntk->bnjk", sel[1:], innov).reshape(nb, thetas.shape[0], -1))
    r = np.concatenate(res, axis=-1)                                               # (nb, nt, p), Q x gradient
    r0 = r[:, 0]
    M = np.swapaxes(r[:, 1:] - r0[:, None], 1, 2)                                  # (nb, p, p): column j
    theta = np.stack([np.linalg.lstsq(M[b], -r0[b], rcond=None)[0] for b in range(nb)])
    if loglik:
        means, ll, m0, dr = run(theta[:, None])
    else:                              # affine in theta: combine the passes at 0 and at the unit vectors
        w = np.concatenate([1.0 - theta.sum(1, keepdims=True), theta], axis=1)      # (nb, p + 1)
        means = np.einsum("bn,bntk->btk", w, means)[:, None]
        dr = np.einsum("bn,bntk->btk", w, drs)[:, None]
        m0 = np.einsum("bn,bnk->bk", w, m0s)[:, None]
        ll = np.full((nb, 1), np.nan)
    vecs = np.zeros((nb, E, K))
    vecs[:, used] = theta[:, n_m0:].reshape(nb, used.size, K)
    return InferredStates(np.array(m0[:, 0]), vecs, means[:, 0], ll[:, 0], dr[:, 0])


def _forward(A, C, d, x0, drive):
    """Noise-free ``x_t = A x_{t-1} + drive_t`` from ``x0`` (`neurodyn.dynamics.linear_rollout`); returns
    ``C x_t + d``."""
    x = np.asarray(linear_rollout(jnp.asarray(A), jnp.asarray(x0), jnp.asarray(drive)))
    return x @ C.T + d


def _check(model, X):
    X = check_rates(X, "X", min_times=3)
    p = model.latent_params()
    if X.shape[2] != np.asarray(p.C).shape[0]:
        fail("X", X, f"{np.asarray(p.C).shape[0]} neurons, as in the fitted data")
    return X, p


def initial_state_heldout(model, X: Float[np.ndarray, "conditions time neurons"], groups) -> HeldoutPrediction:
    """Protocol (a), seed 001 §12: conditions of known input ``groups``; only the initial state is inferred.

    Returns the noise-free forward prediction from the inferred initial state and its signal variance
    explained (``score``).
    """
    X, p = _check(model, X)
    nc, T, _ = X.shape
    if groups is None:
        fail("groups", groups, "the input group of each held-out condition (labels used in fit)")
    U = model.condition_inputs(groups, T)
    drive = np.einsum("btu,ku->btk", U, np.asarray(p.B))
    inf = infer_initial_and_inputs(p, X, drive, epochs(T, model.transition), free_inputs=False, loglik=False)
    pred = _forward(np.asarray(p.A), np.asarray(p.C), np.asarray(p.d), inf.m0, drive)
    return HeldoutPrediction(signal_variance_explained(X, pred), pred, inf.m0)


def co_smoothing(model, X: Float[np.ndarray, "conditions time neurons"], heldout_neurons: Int[np.ndarray, "neurons"],
                 groups=None) -> CoSmoothing:
    """Protocol (b): predict ``heldout_neurons`` of conditions ``X`` from the other neurons.

    ``groups=None``: new conditions; their initial states and hold/go input vectors are inferred from the
    held-in neurons. With ``groups`` (known input groups), only the initial states are inferred.
    """
    X, p = _check(model, X)
    nc, T, N = X.shape
    out = np.unique(np.asarray(heldout_neurons, int))
    if out.size == 0 or out.size >= N or out.min() < 0 or out.max() >= N:
        fail("heldout_neurons", heldout_neurons, f"between 1 and {N - 1} distinct neuron indices in [0, {N})")
    heldin = np.setdiff1d(np.arange(N), out)
    kappa = epochs(T, model.transition)
    if groups is None:
        drive, free = None, True
    else:
        drive, free = np.einsum("btu,ku->btk", model.condition_inputs(groups, T), np.asarray(p.B)), False
    inf = infer_initial_and_inputs(_rows(p, heldin), X[:, :, heldin], drive, kappa, free_inputs=free, loglik=False)
    pred = inf.means @ np.asarray(p.C)[out].T + np.asarray(p.d)[out]
    return CoSmoothing(r2_score(X[:, :, out], pred), pred, heldin, out, inf.means)


def forward_prediction(model, X: Float[np.ndarray, "conditions time neurons"], split: int,
                       groups=None) -> HeldoutPrediction:
    """Protocol (c): infer from bins ``t < split``, predict bins ``t >= split`` forward without noise.

    New conditions (``groups=None``) need every epoch after the split to have bins before it (their input
    vectors are inferred there); with ``groups`` the group inputs are used and only ``m0`` is inferred.
    """
    X, p = _check(model, X)
    nc, T, N = X.shape
    split = positive_int("split", split, 2)
    if split > T - 1:
        fail("split", split, f"a bin index in [2, {T - 1}] leaving bins to score")
    kappa = epochs(T, model.transition)
    A, C, d = np.asarray(p.A), np.asarray(p.C), np.asarray(p.d)
    if groups is None:
        missing = sorted(set(kappa[split:]) - set(kappa[1:split]))
        if missing:
            fail("split", split, f"a bin after the transition ({model.transition}) for new conditions, so the "
                 "'go' input is inferred before the split (or pass groups)")
        inf = infer_initial_and_inputs(p, X[:, :split], None, kappa[:split], free_inputs=True, loglik=False)
        drive = np.zeros((nc, T, A.shape[0]))
        for k in range(inf.input_vectors.shape[1]):
            drive[:, 1:][:, kappa[1:] == k] = inf.input_vectors[:, k][:, None]
    else:
        drive = np.einsum("btu,ku->btk", model.condition_inputs(groups, T), np.asarray(p.B))
        inf = infer_initial_and_inputs(p, X[:, :split], drive[:, :split], kappa[:split], free_inputs=False,
                                       loglik=False)
    x_last = inf.means[:, split - 1]
    pred = _forward(A, C, d, x_last, drive[:, split - 1:])
    pred = pred[:, 1:]
    return HeldoutPrediction(r2_score(X[:, split:], pred), pred, inf.m0)


def pca_ridge_baseline(X_train: Float[np.ndarray, "conditions time neurons"],
                       X_test: Float[np.ndarray, "conditions time neurons"], heldin: Int[np.ndarray, "neurons"],
                       heldout: Int[np.ndarray, "neurons"], n_components: int
                       ) -> tuple[float, Float[np.ndarray, "conditions time neurons"]]:
    """Co-smoothing baseline: ridge regression of held-out neurons on the top-K PCs of held-in neurons.

    PCA and ridge are fitted on the training conditions' bins; the ridge penalty is chosen by efficient
    leave-one-out cross-validation on them (`sklearn.linear_model.RidgeCV`, penalties spanning 1e-6 to 1e6
    times the mean PC variance). Returns ``(R^2 on the test conditions' held-out neurons, prediction)``.
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import RidgeCV

    X_train = check_rates(X_train, "X_train")
    X_test = check_rates(X_test, "X_test")
    heldin = np.asarray(heldin, int)
    heldout = np.asarray(heldout, int)
    k = positive_int("n_components", n_components)
    k = min(k, heldin.size, X_train.shape[0] * X_train.shape[1])
    Zi = X_train[:, :, heldin].reshape(-1, heldin.size)
    pca = PCA(n_components=k, svd_solver="full").fit(Zi)
    scale = float(np.mean(pca.explained_variance_)) or 1.0
    reg = RidgeCV(alphas=scale * np.logspace(-6, 6, 25)).fit(pca.transform(Zi),
                                                           X_train[:, :, heldout].reshape(-1, heldout.size))
    pred = reg.predict(pca.transform(X_test[:, :, heldin].reshape(-1, heldin.size)))
    pred = pred.reshape(X_test.shape[:2] + (heldout.size,))
    return r2_score(X_test[:, :, heldout], pred), pred


def score_new_conditions(model, X_train: Float[np.ndarray, "conditions time neurons"],
                         X_test: Float[np.ndarray, "conditions time neurons"], *, n_neuron_folds: int = 5,
                         seed: int = 0) -> dict:
    """Protocol (b) for a model fitted on ``X_train``: every neuron of the new conditions ``X_test`` is held
    out once (`neuron_folds`) and predicted from the others (`co_smoothing`), and the same neurons are
    predicted by `pca_ridge_baseline` (K = the model's latent dimension, fitted on ``X_train``).

    Returns ``heldout_neuron_r2``, ``heldout_neuron_r2_baseline`` (pooled `r2_score` over all neurons and
    test conditions), their difference ``heldout_neuron_r2_minus_baseline`` with its jackknife standard error
    over neurons ``heldout_neuron_r2_minus_baseline_se`` (`neurodyn.analysis.metrics.r2_difference`), ``prediction`` and ``prediction_baseline`` ``(test conditions, T, N)`` and ``neuron_folds``.
    """
    X_train = check_rates(X_train, "X_train")
    X_test = check_rates(X_test, "X_test")
    if X_train.shape[2] != X_test.shape[2]:
        fail("X_test", X_test, f"{X_train.shape[2]} neurons as in X_train")
    N = X_test.shape[2]
    K = int(np.asarray(model.latent_params().A).shape[0])
    folds = neuron_folds(N, n_neuron_folds, seed)
    pred, pred_b = np.empty_like(X_test), np.empty_like(X_test)
    for out in folds:
        pred[:, :, out] = co_smoothing(model, X_test, out).prediction
        pred_b[:, :, out] = pca_ridge_baseline(X_train, X_test, np.setdiff1d(np.arange(N), out), out, K)[1]
    diff, diff_se = r2_difference(X_test, pred, pred_b)
    return {"heldout_neuron_r2": r2_score(X_test, pred), "heldout_neuron_r2_baseline": r2_score(X_test, pred_b),
            "heldout_neuron_r2_minus_baseline": diff, "heldout_neuron_r2_minus_baseline_se": diff_se,
            "prediction": pred, "prediction_baseline": pred_b, "neuron_folds": folds}
