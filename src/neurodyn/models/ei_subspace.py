"""E/I network with a self-contained low-dimensional subspace, fit by penalised EM (seed 001 Methods §10, §12).

Model (seed 001 §10.1; its equations were images and are restored here from the prose). On condition
i, the difference-from-baseline rates ``nu`` of N excitatory and inhibitory units evolve in 10-ms steps

    nu^i_{t+1} = W nu^i_t + J^+ b_{c(i), kappa(t)} + noise                                   (§10.1)

with ``W`` obeying Dale's law (column j >= 0 if unit j is excitatory, <= 0 if inhibitory; eq. 41:
``W = [[W^EE, -W^EI], [W^IE, -W^II]]`` with non-negative blocks), E/I balance (each unit's summed E
input equals its summed I input, i.e. every row sums to zero, ``W 1 = 0``) and 75% of the entries fixed
at zero (random mask; the diagonal is always free). ``J`` is a fixed random K x N projection
(``J_kn ~ N(0, 1/N)``), ``J^+ = J^T (J J^T)^{-1}`` its pseudo-inverse, and the *task-dynamics space* is
the row space of J. The self-containment constraint (eq. 43)

    J W (I - J^+ J) = 0

makes ``x = J nu`` evolve on its own: ``x_{t+1} = J W (J^+ J + I - J^+ J) nu_t = (J W J^+) x_t``, i.e. by
the K x K matrix ``A = J W J^+``. Observations depend on x only and inputs arrive in the
J-space, so in x-space the model is a latent LDS::

    x_{t+1} = A x_t + B u_t + w_t,  w ~ N(0, Q);      y_t = C x_t + d + v_t,  v ~ N(0, R diagonal)

with one-hot ``u_t`` selecting the input vector of condition group c(i) and epoch kappa(t) (hold / go).

A consequence of the two linear constraints that the text does not state: balance gives ``W 1 = 0`` and
self-containment gives ``J W = A J``, hence ``A (J 1) = J W 1 = 0``: when both hold exactly, the direction
``J 1`` of the task-dynamics space is a zero-eigenvalue (input-driven, non-dynamical) mode of A. The
penalised fit below approaches this limit as the penalty weights grow.

Fitting (§10.2-10.5), EM on the penalised lower bound

    F*(q, Theta) = <log p(x, y | Theta)>_q + H[q]
                   - eps/2 ||J W (I - J^+ J)||_F^2 - beta/2 ||W 1||^2                         (§10.2)

* E-step (§10.3): the posterior over x is a Kalman (RTS) smoother with dynamics ``J W J^+``
  (`neurodyn.models.lds.kalman_smoother_batch`), giving ``E[x_t]``, ``E[x_t x_t^T]``, ``E[x_{t+1} x_t^T]``.
* M-step (§10.4; the update equations were lost and are derived here from the expected complete-data
  log-likelihood, as for the classic LDS, with sums over conditions and t = 1..T-1 and n their count):

  - input vectors given A:  ``B = (S_{x u} - A S_{x- u}) S_{uu}^{-1}``, with ``S_{xu} = sum E[x_t] u_t^T``,
    ``S_{x- u} = sum E[x_{t-1}] u_t^T``, ``S_uu = sum u_t u_t^T`` (one column per condition group and epoch);
  - W by bounded gradient steps on ``-F*`` (projected accelerated gradient, `fit_w`; bounds ``[0, inf)``
    on E columns and ``(-inf, 0]`` on I columns, only the unmasked entries are free). With
    ``P = (1/n) sum E[x_{t-1} x_{t-1}^T]`` and ``M = (1/n) sum E[(x_t - B u_t) x_{t-1}^T]``, the per-step data term is
    ``f(A) = 1/2 tr(Q^{-1} (A P A^T - 2 M A^T)) + const`` and the gradient (§10.4, eq. lost) is

        d(-F*/n)/dW = J^T Q^{-1} (A P - M) J^{+T} + eps' J^T Z + beta' (W 1) 1^T,
        Z = J W (I - J^+ J) = J W - A J,

    restricted to the free entries. ``eps' = eps * s`` and ``beta' = beta * s / n_row`` are the penalty
    weights (``n_row``: average number of free entries per row, which sets the curvature of the balance term)
    relative to the curvature ``s = tr(Q^{-1} P) / K`` of the data term, so the schedule does not depend
    on the units of the data; eps and beta grow geometrically across EM iterations (``penalty_growth``)
    up to ``penalty_max``;
  - ``Q = (1/n) sum E[(x_t - A x_{t-1} - B u_t)(...)^T]`` (with the new A, B);
  - ``[C d] = (sum y_t E[s_t]^T)(sum E[s_t s_t^T])^{-1}``, ``s_t = [x_t; 1]``;
    ``R = diag((1/(n_c T)) sum E[(y_t - C x_t - d)(...)^T])``;
  - initial states (§10.5): ``m0_i = E[x^i_0]`` per condition, ``S0 = Cov(x_0 | y)``.

* Initialisation (§10.2): a random E/I matrix on the mask with exact row balance, scaled to spectral
  radius 0.85; an LDS (`neurodyn.models.LDS`) is fit to the same data, its B, C, d, Q, R, m0, S0 are
  taken over (the x-space basis is the LDS's latent basis, reflected so that its least important
  real mode lies along ``J 1``, `_align_reflection`), and W is then matched to the LDS's A under
  the penalties: minimise ``1/2 ||J W J^+ - A_LDS||_F^2`` plus the penalty terms above (same bounded
  solver, with ``Q = I``, ``P = I``, ``M = A_LDS``).

Stability safeguard (``max_spectral_radius``, default 0.99 per step; None disables it). §11 tests the
fitted network by letting it "evolve forward in time without noise" and finds fast decay after
stimulation, which presumes stable dynamics; unconstrained maximum likelihood on short trial-averaged
PSTHs can instead return a slightly expanding task mode (the bundled M1 data give ``rho(A) ~ 1.015`` per
10-ms bin), so that forward predictions and stimulation responses drift. The text states no such bound;
it is added here, derived from the constraints so that none of them is given up:

* Eigenvalues of A are eigenvalues of W. If ``y^T A = lambda y^T`` then, with ``J W = A J``
  (self-containment), ``(J^T y)^T W = y^T A J = lambda (J^T y)^T``: ``J^T y`` is a left eigenvector of W.
  Bounding ``rho(A)`` bounds the task-space part of W's spectrum (the rest is the random E/I bulk,
  ``~0.85`` from the initialisation).
* After each W update, if ``rho(A) > r``, the target ``A_c`` = A with its offending eigenvalues moved
  radially onto the circle of radius r (`clip_spectral_radius`; eigenvectors kept, only those modes
  change) is added to the data term as a proximity penalty in the data metric,
  ``mu/2 tr(Q^{-1} (A - A_c) P (A - A_c)^T)`` (``stability_weight`` mu = 10). Expanding (P, Q symmetric,
  trace cyclic), data term plus penalty is, up to a constant, ``1/2 tr(Q^{-1}(A P' A^T - 2 M' A^T))`` with
  ``P' = (1 + mu) P`` and ``M' = M + mu A_c P``: the data term of `fit_w` with new P and M. One more call
  of the same bounded solver with these and the penalty weights multiplied by ``1 + mu`` (to keep their
  weight relative to the data term) performs it, keeping Dale's signs, the mask and the penalties.
* Then the exact shrink ``W <- c W``, ``c = min(1, r / rho(J W J^+))`` (`shrink_to_radius`) guarantees the
  bound: ``A(cW) = c A``, Dale signs and the mask are kept (c > 0), balance is kept (``cW 1 = c W 1``) and the
  relative self-containment residual is unchanged.
* The initial match to the LDS uses ``A_c`` of the LDS's A as its target, followed by the same shrink.

Cost in fit quality (fraction of signal variance of noise-free forward predictions, bundled M1 data,
`ei-subspace-fit` split, measured when held-out conditions had their initial state and inputs fitted to
their own data): at the quick
scale (N = 300, K = 4, 6 EM iterations) train 0.561 -> 0.581 and held-out 0.447 -> 0.455 with the bound
(no cost: the bounded fit forward-predicts better because nothing drifts); at N = 1000, K = 10,
30 EM iterations, -400..400 ms, the unconstrained fit reaches ``rho(A) = 1.056`` and its noise-free
forward prediction of the training conditions diverges (train -3.34, held-out 0.496), while the bounded
fit gives train 0.760, held-out 0.600 with ``rho(A) = 0.99``, for about 16% more fitting time (the
clipped-target solve runs only in the W updates where the bound is exceeded; the shrink acted in 14
of 31 there, all in the first half of the fit). The
bound costs likelihood only where the data really favour an expanding mode; raise it (or pass None)
to trade stability for in-sample fit.

Stopping: the penalised objective ``F*`` (log-likelihood minus the two penalties, in log-likelihood units,
``objective_``) is recorded every iteration. While the penalty weights still grow, ``F*`` changes
definition between iterations, so convergence (relative change below ``tol``) and decrease (the previous
parameters are restored) are judged only once both weights have reached ``penalty_max``;
``stop_reason_`` says which rule ended the fit and a `ConvergenceWarning` is raised unless it converged.

Held-out scores (§12 and co-smoothing) are those of `neurodyn.models.heldout`, applied to the x-space LDS.
"""

from __future__ import annotations

import time
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from neurodyn.validation import fail, finite_array, in_range, positive, positive_int
from neurodyn.models.base import check_rates
from neurodyn.models.lds import LDS, LDSParams, LatentLDSEstimator, kalman_smoother_batch
from neurodyn.models.lds.latent import epoch_inputs, input_groups
from neurodyn.models.lds.model import em_stop_reason, warn_stop
from neurodyn.progress import progress

__all__ = ["EISubspaceNetwork", "balance_residual", "chance_projection", "clip_spectral_radius", "dale_violations",
           "excitatory_units", "fit_w", "projection_fraction", "random_balanced_ei", "run_linear",
           "self_containment_residual", "shrink_to_radius", "sparsity_mask", "subspace_projection"]


# --------------------------------------------------------------------------- building blocks
def subspace_projection(n_latents: int, n_units: int, seed: int = 0) -> np.ndarray:
    """Random task-dynamics projection J (K x N), entries ``N(0, 1/N)`` (seed 001 §10.1-10.2)."""
    K = positive_int("n_latents", n_latents)
    N = positive_int("n_units", n_units, 2)
    if K >= N:
        fail("n_latents", K, f"fewer latents than units ({N})")
    return np.random.default_rng(seed).normal(0.0, 1.0 / np.sqrt(N), (K, N))


def sparsity_mask(n_units: int, density: float = 0.25, seed: int = 0) -> np.ndarray:
    """Boolean N x N mask of free entries: a fraction ``density`` at random, diagonal always free (§10.4)."""
    N = positive_int("n_units", n_units, 2)
    density = in_range("density", density, 0.0, 1.0, lo_open=True)
    mask = np.random.default_rng(seed).random((N, N)) < density
    np.fill_diagonal(mask, True)
    return mask


def excitatory_units(n_units: int, frac_excitatory: float) -> np.ndarray:
    """Cell types ``(N,)``: the first ``round(frac_excitatory * N)`` units excitatory, the rest inhibitory (§10.1)."""
    n_e = int(round(n_units * frac_excitatory))
    if n_e < 1 or n_e > n_units - 1:
        fail("frac_excitatory", frac_excitatory, f"a fraction leaving at least one E and one I unit of {n_units}")
    return np.arange(n_units) < n_e


def random_balanced_ei(mask, is_excitatory, spectral_radius: float = 0.85, seed: int = 0,
                       distribution: str = "hennequin") -> np.ndarray:
    """Random Dale matrix on ``mask`` with exact row balance ``W 1 = 0``, scaled to a spectral radius (§10.2).

    §10.2 initialises W "according to the weight distribution used in Hennequin, Vogels, and Gerstner"
    (2014), the distribution of thesis eq. (1.15) (`neurodyn.connectivity.random_ei`): each connection is
    present independently (here: the sparsity mask) and every present connection has the same magnitude,
    ``w0`` for excitatory and ``gamma w0`` for inhibitory presynaptic units. ``distribution="hennequin"``
    (default) draws exactly that, with gamma set per row to balance it: in row i with ``n_E,i`` excitatory
    and ``n_I,i`` inhibitory free entries, ``W_ij = w0`` (E) and ``W_ij = -w0 n_E,i / n_I,i`` (I), so
    ``sum_j W_ij = 0``. ``distribution="uniform"`` draws magnitudes uniform on (0, 1] instead and rescales
    each row's I entries so that their sum equals the sum of its E entries. Rows lacking E or I inputs are
    set to zero. Finally W is scaled so that ``max |lambda(W)| = spectral_radius`` (w0 follows from it). The
    randomness of the Hennequin matrix is the mask alone, so ``seed`` only matters for ``"uniform"``.
    """
    mask = np.asarray(mask, bool)
    e = np.asarray(is_excitatory, bool)
    positive("spectral_radius", spectral_radius)
    if distribution not in ("hennequin", "uniform"):
        fail("distribution", distribution, "'hennequin' (constant magnitudes, §10.2) or 'uniform'")
    if distribution == "hennequin":
        mag = mask.astype(float)
    else:
        mag = np.random.default_rng(seed).uniform(0.0, 1.0, mask.shape) * mask
    Wp = mag * e[None, :]
    Wn = mag * (~e)[None, :]
    se, si = Wp.sum(1), Wn.sum(1)
    ok = (se > 0) & (si > 0)
    scale = np.where(ok, se / np.where(si > 0, si, 1.0), 0.0)
    W = np.where(ok[:, None], Wp - Wn * scale[:, None], 0.0)
    rho = float(np.max(np.abs(np.linalg.eigvals(W))))
    if rho <= 0:
        fail("mask", mask, "enough free entries for a non-nilpotent E/I matrix")
    return W * (spectral_radius / rho)


def self_containment_residual(W, J) -> float:
    """``||J W (I - J^+ J)||_F / ||J W||_F`` (seed 001 §10.1, eq. 43; 0 when self-contained)."""
    W = np.asarray(W, float)
    J = np.asarray(J, float)
    JW = J @ W
    Z = JW - (JW @ np.linalg.pinv(J)) @ J
    return float(np.linalg.norm(Z) / max(np.linalg.norm(JW), 1e-300))


def balance_residual(W) -> float:
    """``||W 1|| / || |W| 1 ||``: net input relative to total input magnitude per unit (§10.1, eq. 41)."""
    W = np.asarray(W, float)
    return float(np.linalg.norm(W.sum(1)) / max(np.linalg.norm(np.abs(W).sum(1)), 1e-300))


def dale_violations(W, is_excitatory, mask=None) -> int:
    """Entries with the wrong sign for their presynaptic type, plus nonzeros outside ``mask``."""
    W = np.asarray(W, float)
    e = np.asarray(is_excitatory, bool)
    bad = int(np.sum(W[:, e] < 0)) + int(np.sum(W[:, ~e] > 0))
    if mask is not None:
        bad += int(np.sum(W[~np.asarray(mask, bool)] != 0))
    return bad


# --------------------------------------------------------------------------- W update (bounded gradient)
def _w_grad(W, J, Jp, P, M, Qi, eps, beta, mask, Wref, mu):
    """Gradient of ``-F*/n`` (+ ``mu/2 ||W - Wref||^2``) w.r.t. W on the free entries (§10.4), and the value.

    With ``A = J W J^+`` and ``Z = J W - A J`` the gradient is (derived in the module docstring)

        mask * (J^T R + beta (W 1) 1^T + mu (W - Wref)),    R = Q^{-1} (A P - M) J^{+T} + eps Z,

    i.e. one K x N matrix R and a single N x K by K x N product (the two N x N terms of the textbook form
    ``J^T Q^{-1}(A P - M) J^{+T} + eps J^T Z`` share the left factor J^T). ``Wref=None`` drops the anchor
    term. Under `jax.jit` the value is dead code when only the gradient is used.
    """
    JW = J @ W
    A = JW @ Jp
    Z = JW - A @ J
    b = W.sum(1)
    R = (Qi @ (A @ P - M)) @ Jp.T + eps * Z
    G = J.T @ R + beta * b[:, None]
    val = 0.5 * jnp.trace(Qi @ (A @ P @ A.T - 2.0 * M @ A.T)) + 0.5 * eps * jnp.sum(Z * Z) + 0.5 * beta * jnp.sum(b * b)
    if Wref is not None:
        G = G + mu * (W - Wref)
        val = val + 0.5 * mu * jnp.sum((W - Wref) ** 2)
    return G * mask, val


@partial(jax.jit, static_argnames=("n_steps", "anchored"))
def _fista(W0, J, Jp, P, M, Qi, eps, beta, mask, lo, hi, Wref, mu, n_steps: int, anchored: bool = True):
    """Projected accelerated gradient (FISTA with gradient restart) on the box ``lo <= W <= hi``."""
    Wref = Wref if anchored else None

    def grad(V):
        return _w_grad(V, J, Jp, P, M, Qi, eps, beta, mask, Wref, mu)[0]

    # Lipschitz constant of the gradient (the objective is quadratic): power iteration on the Hessian,
    # H V = grad(V) - grad(0) with grad(0) computed once
    g0 = grad(jnp.zeros_like(W0))

    def hess(V):
        return grad(V) - g0

    def power(_, V):
        H = hess(V)
        return H / jnp.linalg.norm(H)

    V = jax.lax.fori_loop(0, 30, power, mask * jax.random.normal(jax.random.PRNGKey(0), W0.shape, W0.dtype))
    L = 1.05 * jnp.sum(V * hess(V)) + 1e-12
    proj = lambda X: jnp.clip(X, lo, hi)  # noqa: E731

    def step(_, carry):
        W, Wp, tk = carry
        tn = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * tk * tk))
        Yv = W + ((tk - 1.0) / tn) * (W - Wp)
        G = grad(Yv)
        Wn = proj(Yv - G / L)
        restart = jnp.sum(G * (Wn - W)) > 0
        return Wn, W, jnp.where(restart, 1.0, tn)

    W, _, _ = jax.lax.fori_loop(0, n_steps, step, (proj(W0), proj(W0), jnp.asarray(1.0, W0.dtype)))
    return W


def fit_w(W0, mask, is_excitatory, J, P, M, Qinv, eps: float, beta: float, *, max_iter: int = 200,
          anchor=None, anchor_weight: float = 0.0) -> np.ndarray:
    """One bounded W update (seed 001 §10.4): projected gradient steps on ``-F*/n`` with Dale sign bounds.

    Minimises ``1/2 tr(Q^{-1}(A P A^T - 2 M A^T)) + eps/2 ||J W (I - J^+ J)||^2 + beta/2 ||W 1||^2``
    with ``A = J W J^+`` over the entries of W where ``mask`` is True, from ``W0``, by ``max_iter``
    accelerated projected-gradient steps (FISTA with restart, step 1/L with L the Hessian's largest
    eigenvalue from power iteration; the objective is quadratic). E columns are bounded to ``[0, inf)``
    and I columns to ``(-inf, 0]``, so Dale's law holds exactly; masked entries stay exactly 0.
    The balance weight is divided by the average number of free entries per row (the curvature of
    ``||W 1||^2`` along a row grows with it), so eps and beta act on the same scale.
    ``anchor_weight > 0`` adds ``anchor_weight/2 ||W - anchor||_F^2`` (the ground-truth generator uses it
    to stay close to a stable random E/I matrix; the EM fit does not).
    """
    mask = np.asarray(mask, bool)
    e = np.asarray(is_excitatory, bool)
    N = mask.shape[0]
    lo = np.where(mask & e[None, :], 0.0, np.where(mask, -np.inf, 0.0))
    hi = np.where(mask & ~e[None, :], 0.0, np.where(mask, np.inf, 0.0))
    J = np.asarray(J, float)
    beta = float(beta) / max(float(mask.sum()) / N, 1.0)
    W = _fista(jnp.asarray(W0, float), jnp.asarray(J), jnp.asarray(np.linalg.pinv(J)), jnp.asarray(P, float),
               jnp.asarray(M, float), jnp.asarray(Qinv, float), float(eps), float(beta),
               jnp.asarray(mask, float), jnp.asarray(lo), jnp.asarray(hi),
               jnp.asarray(W0 if anchor is None else anchor, float), float(anchor_weight), n_steps=int(max_iter),
               anchored=bool(anchor is not None and anchor_weight > 0))
    W = np.asarray(W)
    if W.shape != (N, N) or not np.all(np.isfinite(W)):
        raise FloatingPointError("fit_w: the W update produced non-finite values")
    return W


# --------------------------------------------------------------------------- stability safeguard
def clip_spectral_radius(A, max_radius: float) -> np.ndarray:
    """Real matrix with A's eigenvectors whose eigenvalues of modulus above ``max_radius`` are moved
    radially onto the circle of that radius: ``A_c = V diag(lambda_k min(1, r / |lambda_k|)) V^{-1}``.

    Conjugate pairs move together, so ``A_c`` is real; eigenvalues inside the disc and all eigenvectors are
    kept, hence ``A_c - A = sum_k (lambda'_k - lambda_k) v_k w_k^T`` only touches the offending modes
    (``w_k``: left eigenvectors, ``W^T V = I``). Used as the target of the stabilised W update of
    `EISubspaceNetwork` (seed 001 §10.4, §11).
    """
    A = finite_array("A", A, ndim=2)
    r = positive("max_radius", max_radius)
    lam, V = np.linalg.eig(A)
    a = np.abs(lam)
    if np.all(a <= r):
        return A.copy()
    lam_c = np.where(a > r, lam * (r / np.maximum(a, 1e-300)), lam)
    Ac = V @ np.diag(lam_c) @ np.linalg.inv(V)
    return np.real(Ac)


def shrink_to_radius(W, J, max_radius: float, J_pinv=None) -> tuple[np.ndarray, float]:
    """``(c W, c)`` with ``c = min(1, r / rho(J W J^+))``: the task dynamics ``A = J W J^+`` scaled into the
    disc of radius ``r`` (seed 001 §10.1 constraints kept exactly).

    Scaling by ``c > 0`` keeps every constraint of §10.1: Dale signs and the sparsity mask (entrywise
    positive factor), balance (``(cW) 1 = c W 1``: a zero row sum stays zero), and self-containment
    (``J (cW)(I - J^+ J) = c J W (I - J^+ J)``, so the relative residual is unchanged), while
    ``A(cW) = c A(W)`` has spectral radius ``c rho(A)``.
    """
    W = np.asarray(W, float)
    J = np.asarray(J, float)
    r = positive("max_radius", max_radius)
    Jp = np.linalg.pinv(J) if J_pinv is None else np.asarray(J_pinv, float)
    rho = float(np.max(np.abs(np.linalg.eigvals(J @ W @ Jp))))
    c = min(1.0, r / rho) if rho > 0 else 1.0
    return (W * c if c < 1.0 else W), c


# --------------------------------------------------------------------------- EM pieces in x-space
def _moments(params: LDSParams, Y, U):
    sm = kalman_smoother_batch(params, Y, U)
    m = np.asarray(sm.means)
    P = np.asarray(sm.covs)
    Pc = np.asarray(sm.cross_covs)
    return m, P, Pc, float(np.sum(sm.loglik))


def _sufficient_stats(m, P, Pc, U, active):
    nb, T, K = m.shape
    Ua = U[:, 1:] * active
    mp, mn = m[:, :-1], m[:, 1:]
    return {
        "n": nb * (T - 1),
        "Spp": np.einsum("bti,btj->ij", mp, mp) + nb * P[:-1].sum(0),           # sum E[x_{t-1} x_{t-1}^T]
        "Snp": np.einsum("bti,btj->ij", mn, mp) + nb * Pc.sum(0),               # sum E[x_t x_{t-1}^T]
        "Snn": np.einsum("bti,btj->ij", mn, mn) + nb * P[1:].sum(0),            # sum E[x_t x_t^T]
        "Snu": np.einsum("bti,btu->iu", mn, Ua),                                # sum E[x_t] u_t^T
        "Spu": np.einsum("bti,btu->iu", mp, Ua),                                # sum E[x_{t-1}] u_t^T
        "Suu": np.einsum("btu,btv->uv", Ua, Ua),
    }


def _sym(a):
    return 0.5 * (a + a.T)


def _align_reflection(A, j1) -> np.ndarray:
    """Orthogonal K x K map taking the least important real mode of A onto ``J 1`` (initialisation, §10.2).

    Balance and self-containment force ``A (J 1) = 0`` (module docstring). Any LDS fit is defined up to a
    change of latent basis; the orthogonal Householder reflection ``R`` with ``R v = J 1 / ||J 1||``, where
    ``v`` is the unit eigenvector of ``A_LDS`` whose eigenvalue is smallest in modulus among the real ones
    (the real part of the overall smallest one if none is real), re-expresses the LDS
    (``A' = R A R^T``, ``B' = R B``, ``C' = C R^T``, ``Q' = R Q R^T``, ``m0' = R m0``) so that the mode that
    the constraints remove is the one that matters least.
    """
    lam, V = np.linalg.eig(A)
    real = np.abs(lam.imag) < 1e-12
    idx = np.flatnonzero(real)[np.argmin(np.abs(lam[real]))] if real.any() else int(np.argmin(np.abs(lam)))
    v = np.real(V[:, idx])
    v = v / np.linalg.norm(v)
    t = j1 / np.linalg.norm(j1)
    if v @ t < 0:
        v = -v
    w = v - t
    nw = np.linalg.norm(w)
    if nw < 1e-12:
        return np.eye(A.shape[0])
    w = w / nw
    return np.eye(A.shape[0]) - 2.0 * np.outer(w, w)


class EISubspaceNetwork(LatentLDSEstimator):
    """Balanced E/I network with a self-contained K-dimensional subspace, fit by penalised EM (seed 001 §10).

    Parameters:
        n_units: network size N (the text uses 1500-2500).
        n_latents: task-dynamics dimension K (default ``max(1, N // 100)``).
        transition: bin index where inputs switch from 'hold' to 'go' (None: one epoch).
        frac_excitatory: share of E units (E first, then I); 0.5 as in §13.
        density: share of free (non-zero) entries of W, 0.25 (§10.1); the diagonal is always free.
        spectral_radius: of the random E/I initial W (0.85, §10.2).
        max_iter: EM iterations; ``w_iter``: projected-gradient steps per W update.
        eps0, beta0, penalty_growth, penalty_max: self-containment and balance penalty weights (relative
            to the data term's curvature), multiplied by ``penalty_growth`` each EM iteration up to
            ``penalty_max``.
        lds_iter: EM iterations of the LDS used for initialisation.
        max_spectral_radius: bound r on the spectral radius of the task dynamics ``A = J W J^+`` per time
            step (default 0.99; None: unconstrained). Enforced after every W update by a clipped-eigenvalue
            target and an exact shrink ``W <- c W`` that keep Dale's law, sparsity, balance and
            self-containment (module docstring, "Stability safeguard").
        seed: seeds J, the sparsity mask and the initial W.

        dt_ms: the time step of the network, the bin width of the data (10 ms in §10.1); used by consumers
            of the fit (perturbation design) to express times in ms.
        tol: EM stops when, with the penalty weights at ``penalty_max``, the penalised objective changes by
            less than ``tol * |objective|`` (``stop_reason_``).

    Learned attributes: ``W_`` (N x N), ``J_`` (K x N), ``J_pinv_``, ``mask_``, ``is_excitatory_``,
    ``A_`` (= J W J^+), ``B_`` (K x 2 n_groups), ``C_``, ``d_``, ``Q_``, ``R_``, ``m0_`` (conditions x K),
    ``S0_``, ``loglik_`` (marginal log-likelihood per EM iteration, without penalties), ``objective_`` (the
    penalised objective ``F*`` of §10.2 per iteration, in log-likelihood units:
    ``loglik - n (eps' / 2 ||J W (I - J^+ J)||^2 + beta' / 2 ||W 1||^2)`` with the iteration's relative
    weights, the quantity the M-step maximises), ``penalty_weights_`` (iterations x 2: eps, beta),
    ``stop_reason_`` (``"converged"``, ``"max_iter"`` or ``"decrease"``: the objective fell with the weights
    at their maximum, the previous parameters are kept; a `ConvergenceWarning` unless converged),
    ``n_iter_``, ``estep_seconds_``, ``wstep_seconds_`` (per iteration), ``lds_A_`` (dynamics of the
    initialising LDS), ``stability_shrink_`` and ``stability_active_`` (per W update, the initial match
    first: last shrink factor c, and whether the bound was exceeded; empty when ``max_spectral_radius``
    is None), ``groups_``, ``group_labels_``, ``n_groups_``, ``n_conditions_``, ``n_times_``.

    ``transform``, ``predict``, ``score`` (mean marginal log-likelihood per observed bin of the x-space LDS,
    higher is better) and ``sample`` act on the x-space model (`neurodyn.models.lds.LatentLDSEstimator`);
    held-out scores are in `neurodyn.models.heldout`.
    """

    def __init__(self, n_units: int = 2000, n_latents: int | None = None, transition: int | None = None, *,
                 frac_excitatory: float = 0.5, density: float = 0.25, spectral_radius: float = 0.85,
                 max_iter: int = 30, w_iter: int = 200, eps0: float = 1.0, beta0: float = 1.0,
                 penalty_growth: float = 2.0, penalty_max: float = 1e5, lds_iter: int = 100,
                 max_spectral_radius: float | None = 0.99, tol: float = 1e-6, dt_ms: float = 10.0, seed: int = 0):
        self.n_units = n_units
        self.n_latents = n_latents
        self.transition = transition
        self.frac_excitatory = frac_excitatory
        self.density = density
        self.spectral_radius = spectral_radius
        self.max_iter = max_iter
        self.w_iter = w_iter
        self.eps0 = eps0
        self.beta0 = beta0
        self.penalty_growth = penalty_growth
        self.penalty_max = penalty_max
        self.lds_iter = lds_iter
        self.max_spectral_radius = max_spectral_radius
        self.tol = tol
        self.dt_ms = dt_ms
        self.seed = seed

    # ----------------------------------------------------------------- validation
    def _check_params(self, X):
        N = positive_int("n_units", self.n_units, 4)
        K = max(1, N // 100) if self.n_latents is None else positive_int("n_latents", self.n_latents)
        if K >= N:
            fail("n_latents", K, f"fewer latents than units ({N})")
        if K > X.shape[2]:
            fail("n_latents", K, f"at most the number of recorded neurons ({X.shape[2]})")
        in_range("frac_excitatory", self.frac_excitatory, 0.0, 1.0, lo_open=True, hi_open=True)
        in_range("density", self.density, 0.0, 1.0, lo_open=True)
        positive("spectral_radius", self.spectral_radius)
        positive_int("max_iter", self.max_iter)
        positive_int("w_iter", self.w_iter)
        positive("eps0", self.eps0)
        positive("beta0", self.beta0)
        in_range("penalty_growth", self.penalty_growth, 1.0, np.inf)
        positive("penalty_max", self.penalty_max)
        positive_int("lds_iter", self.lds_iter)
        if self.max_spectral_radius is not None:
            positive("max_spectral_radius", self.max_spectral_radius)
        if self.transition is not None:
            positive_int("transition", self.transition, 2)
            if self.transition > X.shape[1] - 1:
                fail("transition", self.transition, f"a bin index in [2, {X.shape[1] - 1}]")
        positive("tol", self.tol)
        positive("dt_ms", self.dt_ms)
        return N, K

    def _fitted(self):
        self._check_fitted("W_")

    # ----------------------------------------------------------------- fitting
    def _params(self) -> LDSParams:
        return LDSParams(*(jnp.asarray(a) for a in (self.A_, self.B_, self.C_, self.d_, self.Q_, self.R_,
                                                   self.m0_, self.S0_)))

    def _set_W(self, W):
        self.W_ = W
        self.A_ = self.J_ @ W @ self.J_pinv_

    #: weight mu of the eigenvalue-clipped target in the stabilised W update (module docstring)
    stability_weight = 10.0

    def _stabilise(self, W, P, M, Qi, eps, beta, r_max):
        """Stability safeguard of the W update (module docstring): clipped-eigenvalue target, then shrink.

        Returns ``(W, c, active)``: the stabilised W, the shrink factor applied last and whether the bound
        was exceeded by the data-driven update.
        """
        Jp = self.J_pinv_
        A = self.J_ @ W @ Jp
        if np.max(np.abs(np.linalg.eigvals(A))) <= r_max:
            return W, 1.0, False
        mu = float(self.stability_weight)
        Ac = clip_spectral_radius(A, r_max)
        W = fit_w(W, self.mask_, self.is_excitatory_, self.J_, (1.0 + mu) * P, M + mu * Ac @ P, Qi,
                  (1.0 + mu) * eps, (1.0 + mu) * beta, max_iter=self.w_iter)
        W, c = shrink_to_radius(W, self.J_, r_max, Jp)
        return W, c, True

    def fit(self, X, groups=None):
        """Fit by penalised EM to trial-averaged rates ``X`` (conditions, time, neurons) or `PopulationData`.

        ``groups`` labels conditions that share input vectors (default: each condition its own). Returns self.
        """
        X = check_rates(X, "X", min_times=3)
        N, K = self._check_params(X)
        nc, T, D = X.shape
        self.groups_, self.group_labels_ = input_groups(groups, nc)
        self.n_groups_ = int(len(self.group_labels_))
        self.n_conditions_, self.n_times_ = nc, T
        U = epoch_inputs(self.groups_, self.n_groups_, T, self.transition)
        active = (U[:, 1:].sum((0, 1)) > 0).astype(float)
        rng = np.random.default_rng(self.seed)
        s_j, s_m, s_w = (int(s) for s in rng.integers(0, 2**31 - 1, 3))
        self.is_excitatory_ = excitatory_units(N, self.frac_excitatory)
        self.J_ = subspace_projection(K, N, s_j)
        self.J_pinv_ = np.linalg.pinv(self.J_)
        self.mask_ = sparsity_mask(N, self.density, s_m)
        n_row = max(float(self.mask_.sum()) / N, 1.0)     # fit_w's scaling of the balance weight
        W = random_balanced_ei(self.mask_, self.is_excitatory_, self.spectral_radius, s_w)
        # LDS initialisation and matching of W to its A under the penalties (§10.2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lds = LDS(K, self.transition, max_iter=self.lds_iter).fit(X, self.groups_)
        self.lds_A_ = lds.A_.copy()
        Rf = _align_reflection(lds.A_, self.J_.sum(1))
        A0 = Rf @ lds.A_ @ Rf.T
        r_max = self.max_spectral_radius
        init_on = False
        if r_max is not None:
            init_on = bool(np.max(np.abs(np.linalg.eigvals(A0))) > r_max)
            A0 = clip_spectral_radius(A0, r_max)
        eps, beta = self.eps0, self.beta0
        for _ in range(3):
            W = fit_w(W, self.mask_, self.is_excitatory_, self.J_, np.eye(K), A0, np.eye(K), eps, beta,
                      max_iter=self.w_iter)
            eps, beta = min(eps * 10, self.penalty_max), min(beta * 10, self.penalty_max)
        shrinks, bound_on = [], []
        if r_max is not None:
            W, c = shrink_to_radius(W, self.J_, r_max, self.J_pinv_)
            shrinks.append(c)
            bound_on.append(init_on or c < 1.0)
        self._set_W(W)
        self.B_, self.C_, self.d_, self.Q_ = Rf @ lds.B_, lds.C_ @ Rf.T, lds.d_.copy(), Rf @ lds.Q_ @ Rf.T
        self.R_, self.m0_, self.S0_ = lds.R_.copy(), np.asarray(lds.m0_) @ Rf.T, Rf @ lds.S0_ @ Rf.T
        eps, beta = self.eps0, self.beta0
        Yj, Uj = jnp.asarray(X), jnp.asarray(U)
        lls, objs, weights, t_e, t_w = [], [], [], [], []
        reason, prev = "max_iter", None
        for _ in progress(range(self.max_iter), self.max_iter, "E/I subspace EM"):
            t0 = time.perf_counter()
            m, P, Pc, ll = _moments(self._params(), Yj, Uj)
            t_e.append(time.perf_counter() - t0)
            if not np.isfinite(ll):
                raise FloatingPointError("EISubspaceNetwork EM: log-likelihood became non-finite")
            st = _sufficient_stats(m, P, Pc, U, active)
            n = st["n"]
            Pm = st["Spp"] / n
            Qi = np.linalg.inv(self.Q_)
            s = float(np.trace(Qi @ Pm)) / K
            # penalised objective F* of the current parameters with this iteration's weights (§10.2)
            JW = self.J_ @ self.W_
            Z = JW - self.A_ @ self.J_
            wb = self.W_.sum(1)
            pen = n * (0.5 * eps * s * float(np.sum(Z * Z)) + 0.5 * beta * s / n_row * float(wb @ wb))
            lls.append(ll)
            objs.append(ll - pen)
            weights.append((eps, beta))
            at_max = len(weights) > 1 and weights[-2] == weights[-1]
            stop = em_stop_reason(objs, self.tol) if at_max else None
            if stop == "decrease":
                self._restore(prev)
                reason = stop
                break
            if stop == "converged":
                reason = stop
                break
            prev = self._snapshot()
            A = self.A_
            # input vectors given A
            Suu = st["Suu"] + np.diag(1.0 - active)
            Bn = np.linalg.solve(Suu.T, (st["Snu"] - A @ st["Spu"]).T).T
            B = np.where(active[None, :] > 0, Bn, self.B_)
            # W by bounded gradient steps on the penalised objective
            Mm = (st["Snp"] - B @ st["Spu"].T) / n
            t0 = time.perf_counter()
            W = fit_w(self.W_, self.mask_, self.is_excitatory_, self.J_, Pm, Mm, Qi, eps * s, beta * s,
                      max_iter=self.w_iter)
            if r_max is not None:
                W, c, act = self._stabilise(W, Pm, Mm, Qi, eps * s, beta * s, r_max)
                shrinks.append(c)
                bound_on.append(act)
            t_w.append(time.perf_counter() - t0)
            self._set_W(W)
            A = self.A_
            # noise covariance with the new A, B
            G = np.concatenate([A, B], axis=1)
            Szz = np.block([[st["Spp"], st["Spu"]], [st["Spu"].T, st["Suu"]]])
            Szx = np.concatenate([st["Snp"].T, st["Snu"].T], axis=0)
            Q = (st["Snn"] - G @ Szx - Szx.T @ G.T + G @ Szz @ G.T) / n
            self.Q_ = _sym(Q) + 1e-9 * np.trace(Q) / K * np.eye(K)
            self.B_ = B
            # emissions
            Sxx = np.einsum("bti,btj->ij", m, m) + nc * P.sum(0)
            sx = m.sum((0, 1))
            Sss = np.block([[Sxx, sx[:, None]], [sx[None, :], np.array([[nc * T]], float)]])
            Ssy = np.concatenate([np.einsum("bti,btn->in", m, X), X.sum((0, 1))[None]], axis=0)
            Cd = np.linalg.solve(Sss, Ssy).T
            self.C_, self.d_ = Cd[:, :K], Cd[:, K]
            resid = X - np.einsum("btk,nk->btn", m, self.C_) - self.d_
            Rv = (np.einsum("btn,btn->n", resid, resid) + nc * np.einsum("nk,tkl,nl->n", self.C_, P, self.C_))
            self.R_ = np.maximum(Rv / (nc * T), 1e-8)
            # initial states (§10.5)
            self.m0_ = m[:, 0].copy()
            self.S0_ = _sym(P[0])
            eps = min(eps * self.penalty_growth, self.penalty_max)
            beta = min(beta * self.penalty_growth, self.penalty_max)
        self.loglik_ = np.asarray(lls)
        self.objective_ = np.asarray(objs)
        self.penalty_weights_ = np.asarray(weights, float)
        self.stop_reason_ = reason
        self.stability_shrink_ = np.asarray(shrinks, float)
        self.stability_active_ = np.asarray(bound_on, bool)
        self.n_iter_ = len(lls)
        self.estep_seconds_ = np.asarray(t_e)
        self.wstep_seconds_ = np.asarray(t_w)
        self.input_vectors_ = self.B_.T.reshape(-1, 2, K)
        warn_stop("EISubspaceNetwork", reason, self.n_iter_)
        return self

    _STATE = ("W_", "A_", "B_", "C_", "d_", "Q_", "R_", "m0_", "S0_")

    def _snapshot(self) -> dict:
        return {k: np.array(getattr(self, k)) for k in self._STATE}

    def _restore(self, state: dict) -> None:
        for k, v in state.items():
            setattr(self, k, v)

    # ----------------------------------------------------------------- diagnostics
    def self_containment_residual(self) -> float:
        self._fitted()
        return self_containment_residual(self.W_, self.J_)

    def balance_residual(self) -> float:
        self._fitted()
        return balance_residual(self.W_)

    def dale_violations(self) -> int:
        self._fitted()
        return dale_violations(self.W_, self.is_excitatory_, self.mask_)

    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues of the task-dynamics matrix ``A = J W J^+``."""
        self._fitted()
        return np.linalg.eigvals(self.A_)

    # ----------------------------------------------------------------- network runs
    def simulate_network(self, nu0, inputs, stim=None, stim_mask=None) -> np.ndarray:
        """Noise-free network run ``nu_{t+1} = W nu_t + J^+ B u_{t+1} + s delta_{t+1 in stim}`` (§10.1, §11).

        Args:
            nu0: ``(b, N)`` initial network states (e.g. ``J^+ m0``, the least-norm lift of x_0).
            inputs: one-hot inputs ``(b, T, U)`` (see `condition_inputs`).
            stim: ``(b, N)`` or ``(N,)`` stimulation vectors (None: no stimulation).
            stim_mask: ``(T,)`` booleans, True on the steps the stimulation is on.

        Returns ``nu`` of shape ``(b, T, N)``.
        """
        self._fitted()
        nu0 = np.atleast_2d(finite_array("nu0", nu0))
        inputs = finite_array("inputs", inputs)
        if inputs.ndim != 3 or inputs.shape[0] != nu0.shape[0] or inputs.shape[2] != self.B_.shape[1]:
            fail("inputs", inputs, f"({nu0.shape[0]}, T, {self.B_.shape[1]}) one-hot inputs")
        T = inputs.shape[1]
        drive = np.einsum("btu,ku,nk->btn", inputs, self.B_, self.J_pinv_)
        if stim is not None:
            stim = np.broadcast_to(finite_array("stim", stim), nu0.shape)
            sm = np.ones(T, bool) if stim_mask is None else np.asarray(stim_mask, bool)
            if sm.shape != (T,):
                fail("stim_mask", sm, f"{T} booleans (one per time step)")
            drive = drive + sm[None, :, None] * stim[:, None, :]
        return np.asarray(run_linear(jnp.asarray(self.W_), jnp.asarray(nu0), jnp.asarray(drive)))


@jax.jit
def run_linear(W, nu0, drive):
    """``nu_t = W nu_{t-1} + drive_t`` for t >= 1 from ``nu_0`` (lax.scan over time)."""
    def step(nu, h):
        nu = nu @ W.T + h
        return nu, nu

    _, out = jax.lax.scan(step, nu0, jnp.swapaxes(drive[:, 1:], 0, 1))
    return jnp.concatenate([nu0[:, None], jnp.swapaxes(out, 0, 1)], axis=1)


def projection_fraction(v, J) -> np.ndarray:
    """``||J^+ J v|| / ||v||``: share of the norm of ``v (..., N)`` in the row space of J (seed 001 §11, §14)."""
    v = np.asarray(v, float)
    J = np.asarray(J, float)
    Qr = np.linalg.qr(J.T)[0]                  # orthonormal basis of the row space
    return np.linalg.norm(v @ Qr, axis=-1) / np.maximum(np.linalg.norm(v, axis=-1), 1e-300)


def chance_projection(n_latents: int, n_units: int) -> float:
    """Expected ``||P v|| / ||v||`` for a fixed v and a uniformly random K-dim subspace of R^N.

    ``||P v||^2 / ||v||^2 ~ Beta(K/2, (N-K)/2)``, so the expectation of its square root is
    ``Gamma((K+1)/2) Gamma(N/2) / (Gamma(K/2) Gamma((N+1)/2))``, which tends to ``sqrt(K/N)`` (the chance
    level quoted in seed 001 §11) for large N.
    """
    from scipy.special import gammaln

    K = positive_int("n_latents", n_latents)
    N = positive_int("n_units", n_units, K + 1)
    return float(np.exp(gammaln((K + 1) / 2) + gammaln(N / 2) - gammaln(K / 2) - gammaln((N + 1) / 2)))
