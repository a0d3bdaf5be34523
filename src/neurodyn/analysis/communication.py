"""Communication subspaces by reduced-rank regression (Semedo, Zandvakili, Machens, Yu & Kohn 2019).

Seed 000 (section "Models of large scale, brain-wide neural population dynamics") describes the
communication subspace (CS) ``B_{1->2}`` that "selectively extracts features of x1 to propagate to x2"
and "may not be aligned with neural dimensions of highest variance"; its refs. 11-12 estimate it from
simultaneous recordings of two areas by reduced-rank regression (RRR), as implemented here.

Model (Semedo et al. 2019, Methods "Reduced-rank regression"): with source activity X (n x p) and target
activity Y (n x q), both centred on the training data, the rank-m regression

    Y ~ X B,   rank(B) <= m,   minimising ||Y - X B||_F^2

has the closed form ``B_RRR = B_OLS V_m V_m^T`` where ``B_OLS = (X^T X + lambda I)^{-1} X^T Y`` (lambda = 0
for plain RRR) and ``V_m`` holds the top m principal directions (right singular vectors) of the fitted
values ``Y_hat = X B_OLS``. The *predictive dimensions* are the columns of ``B_OLS V_m`` (p x m, in source
space, orthonormalised here); ``Y`` is predicted from the m projections ``X B_OLS V_m`` only.

Performance is ``1 - NSE`` with the normalised squared error ``NSE = sum (Y - Y_hat)^2 / sum (Y - mean_train Y)^2``
on held-out folds (10-fold cross-validation). The optimal dimensionality is the smallest rank whose mean
performance is within one standard error (over folds) of the best rank. Baselines: full-rank OLS and
ridge regression (lambda chosen by generalised cross-validation on each training fold, scikit-learn
``RidgeCV``).

Alignment with the source's dominant dimensions (Semedo et al. 2019, "Predictive dimensions are not the
dominant dimensions"): principal angles between the predictive subspace and the top-k principal
components of the source activity, and the share of source variance the predictive dimensions capture
relative to the same number of top PCs (1 means fully aligned with the dominant dimensions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from sklearn.decomposition import PCA
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold

from neurodyn.validation import fail, finite_array, in_range, positive_int

__all__ = ["RRRCrossValidation", "ReducedRankRegression", "check_pair", "one_minus_nse", "predictive_alignment",
           "rrr_cross_validate", "rrr_fit_coefficients", "synthetic_communication"]


def _check_pair(source, target):
    X = finite_array("source", source, ndim=2)
    Y = finite_array("target", target, ndim=2)
    if X.shape[0] != Y.shape[0]:
        fail("target", Y, f"as many samples (rows) as source ({X.shape[0]})")
    if X.shape[0] < 3:
        fail("source", X, "at least 3 samples (rows)")
    return X, Y


check_pair = _check_pair


def rrr_fit_coefficients(X, Y, rank: int, ridge: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``(B_OLS, V)`` for centred X (n x p), Y (n x q): B_RRR = B_OLS V[:, :rank] V[:, :rank]^T.

    ``B_OLS`` solves ``(X^T X + ridge I) B = X^T Y`` (least squares via LAPACK when ridge = 0);
    ``V`` holds the principal directions of the fitted values ``Y_hat = X B_OLS``: the eigenvectors of
    the q x q matrix ``Y_hat^T Y_hat`` (= right singular vectors of ``Y_hat``), in decreasing order.
    """
    if ridge > 0:
        p = X.shape[1]
        B = scipy.linalg.solve(X.T @ X + ridge * np.eye(p), X.T @ Y, assume_a="pos")
    else:
        B = scipy.linalg.lstsq(X, Y)[0]
    Yhat = X @ B
    evals, V = scipy.linalg.eigh(Yhat.T @ Yhat)
    return B, V[:, ::-1]


def one_minus_nse(target, prediction, reference_mean=None) -> float:
    """Semedo et al. 2019's performance ``1 - NSE``, ``NSE = sum (Y - Y_hat)^2 / sum (Y - mean Y)^2``.

    ``reference_mean`` is the mean subtracted in the denominator (the training mean on held-out folds;
    default: the target's own mean).
    """
    Y = finite_array("target", target)
    P = finite_array("prediction", prediction)
    if P.shape != Y.shape:
        fail("prediction", P, f"the shape of target {Y.shape}")
    Y2, P2 = Y.reshape(-1, Y.shape[-1]), P.reshape(-1, Y.shape[-1])
    mean = Y2.mean(0) if reference_mean is None else finite_array("reference_mean", reference_mean)
    den = float(np.sum((Y2 - mean) ** 2))
    if den <= 0:
        fail("target", Y, "activity that varies around its mean (NSE divides by that variance)")
    return 1.0 - float(np.sum((Y2 - P2) ** 2)) / den


@dataclass(frozen=True)
class RRRCrossValidation:
    """Cross-validated RRR: per-rank performance (mean and SEM over folds), optimal rank, baselines."""

    ranks: np.ndarray
    performance: np.ndarray       # (n_ranks,) mean 1 - NSE over folds
    performance_sem: np.ndarray   # (n_ranks,) standard error over folds
    fold_performance: np.ndarray  # (n_folds, n_ranks)
    optimal_rank: int
    ridge_performance: float
    ridge_sem: float
    full_rank_performance: float
    ridge_alphas: np.ndarray      # lambda chosen on each fold
    model: "ReducedRankRegression"  # refitted on all data at the optimal rank (neurodyn.models.rrr)


def _nse_score(Y_test, Y_pred, y_train_mean) -> float:
    return one_minus_nse(Y_test, Y_pred, y_train_mean)


def rrr_cross_validate(source, target, ranks=None, *, n_folds: int = 10, seed: int = 0,
                       ridge_alphas=None) -> RRRCrossValidation:
    """Choose the communication-subspace dimensionality by 10-fold CV (Semedo et al. 2019).

    Parameters
    ----------
    source, target : (samples, neurons) arrays
        Simultaneous activity of the source and target areas (e.g. residuals from trial averages).
    ranks : sequence of int, optional
        Ranks to test (default 1 .. min(p, q)).
    n_folds : int
        Cross-validation folds (default 10, as in the paper); folds are shuffled with ``seed``.
    ridge_alphas : sequence of float, optional
        Grid for the ridge baseline (default logspace(-3, 5, 25) times the mean source variance x n).
    """
    X, Y = _check_pair(source, target)
    n, p = X.shape
    q = Y.shape[1]
    n_folds = positive_int("n_folds", n_folds, 2)
    if n_folds > n:
        fail("n_folds", n_folds, f"at most the number of samples ({n})")
    max_rank = min(p, q)
    ranks = np.arange(1, max_rank + 1) if ranks is None else np.asarray(ranks)
    if ranks.ndim != 1 or ranks.size == 0 or np.any(ranks < 1) or np.any(ranks > max_rank):
        fail("ranks", ranks, f"integers in [1, {max_rank}]")
    ranks = np.sort(ranks.astype(int))
    if ridge_alphas is None:
        scale = float(np.sum(np.var(X, axis=0)) * n / p) or 1.0
        ridge_alphas = scale * np.logspace(-4, 3, 22)
    ridge_alphas = np.asarray(ridge_alphas, dtype=float)
    folds = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    perf = np.zeros((n_folds, ranks.size))
    ridge_perf = np.zeros(n_folds)
    full_perf = np.zeros(n_folds)
    chosen = np.zeros(n_folds)
    for f, (tr, te) in enumerate(folds.split(X)):
        xm, ym = X[tr].mean(0), Y[tr].mean(0)
        Xtr, Ytr, Xte = X[tr] - xm, Y[tr] - ym, X[te] - xm
        B, V = rrr_fit_coefficients(Xtr, Ytr, int(ranks.max()))
        for j, r in enumerate(ranks):
            Vm = V[:, :r]
            perf[f, j] = _nse_score(Y[te], Xte @ B @ Vm @ Vm.T + ym, ym)
        full_perf[f] = _nse_score(Y[te], Xte @ B + ym, ym)
        ridge = RidgeCV(alphas=ridge_alphas, fit_intercept=False).fit(Xtr, Ytr)
        chosen[f] = float(ridge.alpha_)
        ridge_perf[f] = _nse_score(Y[te], ridge.predict(Xte) + ym, ym)
    mean = perf.mean(0)
    sem = perf.std(0, ddof=1) / np.sqrt(n_folds)
    best = int(np.argmax(mean))
    within = np.where(mean >= mean[best] - sem[best])[0]
    optimal = int(ranks[within.min()])
    from neurodyn.models.rrr import ReducedRankRegression  # the estimator lives in the fit layer

    model = ReducedRankRegression(optimal).fit(X, Y)
    return RRRCrossValidation(ranks=ranks, performance=mean, performance_sem=sem, fold_performance=perf,
                              optimal_rank=optimal, ridge_performance=float(ridge_perf.mean()),
                              ridge_sem=float(ridge_perf.std(ddof=1) / np.sqrt(n_folds)),
                              full_rank_performance=float(full_perf.mean()), ridge_alphas=chosen,
                              model=model)


def predictive_alignment(source, predictive_dimensions, n_dominant: int | None = None) -> dict:
    """Alignment of predictive dimensions (p x m) with the source's dominant dimensions (top PCs).

    Returns ``principal_angles_deg`` (between span(predictive) and the top ``n_dominant`` PCs, default m),
    ``variance_captured`` (share of source variance along the predictive dimensions) and
    ``variance_ratio`` = that share / the share captured by the top-m PCs (1: aligned with the dominant
    dimensions; small: the communication uses low-variance dimensions, seed 000).
    """
    X = finite_array("source", source, ndim=2)
    P = finite_array("predictive_dimensions", predictive_dimensions, ndim=2)
    if P.shape[0] != X.shape[1]:
        fail("predictive_dimensions", P, f"{X.shape[1]} rows (one per source neuron)")
    m = P.shape[1]
    k = m if n_dominant is None else positive_int("n_dominant", n_dominant)
    pca = PCA(n_components=min(max(k, m), *X.shape), svd_solver="full").fit(X)
    Q = np.linalg.qr(P)[0]
    total = float(np.sum(np.var(X, axis=0, ddof=1)))
    cov = np.cov(X, rowvar=False)
    captured = float(np.trace(Q.T @ cov @ Q)) / total
    top = float(np.sum(pca.explained_variance_[:m])) / total
    if total <= 0 or top <= 0:
        fail("source", X, "activity with nonzero variance")
    angles = np.degrees(scipy.linalg.subspace_angles(Q, pca.components_[:k].T))
    return {"principal_angles_deg": np.sort(angles), "variance_captured": captured,
            "variance_ratio": captured / top}


def __getattr__(name):
    # `ReducedRankRegression` is an estimator (layer 4, `neurodyn.models.rrr`); resolved on first use so
    # that this analysis module does not import the fit layer when it is loaded.
    if name == "ReducedRankRegression":
        from neurodyn.models.rrr import ReducedRankRegression
        return ReducedRankRegression
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def synthetic_communication(n_samples: int = 1000, n_source: int = 30, n_target: int = 20, rank: int = 2,
                            noise: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-area data with a known rank-``rank`` communication subspace: ``(source, target, B)``.

    Source activity has latent-factor structure (5 shared factors with decaying variance plus private
    noise, Semedo et al. 2019's setting); the target is ``Y = X B + noise`` with ``B = U V^T`` of rank
    ``rank`` whose source side V is drawn at random (so it is generally not the source's top PCs).
    """
    n_samples = positive_int("n_samples", n_samples, 3)
    n_source = positive_int("n_source", n_source)
    n_target = positive_int("n_target", n_target)
    rank = positive_int("rank", rank)
    if rank > min(n_source, n_target):
        fail("rank", rank, f"at most min(n_source, n_target) = {min(n_source, n_target)}")
    noise = in_range("noise", noise, 0.0, np.inf)
    rng = np.random.default_rng(seed)
    k = min(5, n_source)
    L = rng.standard_normal((n_source, k)) * np.linspace(2.0, 0.5, k)
    X = rng.standard_normal((n_samples, k)) @ L.T + rng.standard_normal((n_samples, n_source))
    V = np.linalg.qr(rng.standard_normal((n_source, rank)))[0]
    U = rng.standard_normal((n_target, rank))
    B = V @ U.T
    Y = X @ B + noise * rng.standard_normal((n_samples, n_target))
    return X, Y, B
