"""`StimLVM`: latent variable model of non-stimulated and stimulated population rates (seed 001 Methods §8).

Data (§8, first paragraphs): trial-averaged rates ``xhat`` (non-stimulated) and ``yhat`` (stimulated),
both ``(C, T, D)`` in spikes/s, with trial counts ``n_x``, ``n_y`` of the same shape (or broadcastable),
bins of ``bin_ms`` (20 ms in the text). Model rates (§8.1)::

    x_{c,t} = C z_{c,t} + d + phi^x_c Delta_t          (non-stimulated)
    y_{c,t} = C z~_{c,t} + d + phi^y_c Delta_t         (stimulated)

* C (D x K) is fixed by factor analysis (scikit-learn ``FactorAnalysis``) on the non-stimulated rates and
  rotated so that its columns are orthogonal and ordered by the variance they explain (C = U S from the
  SVD of the FA loadings; the FA latents are rotated by V^T accordingly);
* d (D) baseline rates (fitted, initialised at the FA mean);
* Delta = A B^T (T x D) of rank ``delta_rank`` (5), with a weak ridge ``lam/2 (|A|^2 + |B|^2)``;
  phi^x = 0, phi^y = 1 except under the shuffle null of §8.3, where they are the tracked fractions of
  stimulated trials in each shuffled average;
* squared-exponential GP priors over time, ``k(t, t') = exp(-(t - t')^2 / (2 tau^2))``, tau = 100 ms,
  unit variance (the FA latent scale), independent across latents and conditions. The prior of z~ is
  broken at stimulation onset and offset: the kernel is block-diagonal over the three segments
  ``t < on``, ``on <= t < off``, ``t >= off``. Latents are whitened, ``z_{c,:,k} = L v_{c,:,k}`` with
  ``L L^T = K``, so the prior term is ``|v|^2 / 2``.

Contraction-only version (§8.2)::

    z~_{c,t} = z^cent + R B_t R^T (z_{c,t} - z^cent),    B_t = diag(b_t)

with ``b_{:,k} = exp(sigma_b L~ w_k)`` (a GP prior on log b of mean 0, i.e. no contraction, broken at
onset/offset like z~; the log keeps the factors positive, contraction below 1 and expansion above), ``z^cent ~ N(0, I)`` and the rotation parametrised exactly on SO(K) as ``R = expm(S - S^T)`` with S
strictly upper triangular (``jax.scipy.linalg.expm``).

Objective: the negative shaped log-likelihood of §8.4 (`likelihood.total_loglik`) of both data sets
plus the priors, minimised over all parameters by L-BFGS on jit-compiled JAX gradients (SciPy's L-BFGS-B,
or optax's L-BFGS run inside one compiled ``lax.while_loop``) (the text used Manopt's trust regions; the rotation group is
handled here by the exact exponential parametrisation instead).

Posterior (§8.5): a Laplace approximation, the inverse of the FULL observed Fisher information (the
Hessian H of the objective over every fitted parameter: v, v~ or w, z^cent, R, d and Delta's factors)
at the optimum. Bands of reported parameters use their marginal covariance, the corresponding block
of H^{-1} (equivalently the inverse of the Schur complement of H onto them), so the uncertainty of d,
Delta and the other latents is integrated out rather than held fixed (holding it fixed, i.e. inverting
per-condition blocks, understates the marginal variances). Measured against refits to data simulated
from a fitted model (tests/test_stim_lvm.py), the stimulated latents' bands match the refit error
(ratio ~1.1) and the non-stimulated latents' bands are ~1.8x wider (conservative). The objective is
not the Poisson log-likelihood of the counts (it wraps yhat in g, §8.4), so its curvature need not
equal the variance of its score (the sandwich H^-1 J H^-1 is as wide as H^-1 there), and the Laplace
bands of the text are not exactly calibrated.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax
import scipy.linalg
import scipy.optimize
import scipy.special
from sklearn.decomposition import FactorAnalysis

from neurodyn.validation import fail, finite_array, in_range, positive, positive_int
from neurodyn.models.base import NeurodynEstimator
from neurodyn.models.stim_lvm.likelihood import EPS, ETA, KAPPA, KAPPA_BIN_MS, rectify, steepest_point, total_loglik

__all__ = ["StimLVM", "gp_cholesky", "segment_labels", "rotation_from_params", "fa_readout"]

VARIANTS = ("unconstrained", "contraction")


def segment_labels(t_ms, stim_on_ms: float, stim_off_ms: float) -> np.ndarray:
    """0 before onset, 1 during ``[on, off)``, 2 after offset (bins labelled by their time)."""
    t = np.asarray(t_ms, float)
    return np.where(t < stim_on_ms, 0, np.where(t < stim_off_ms, 1, 2))


def gp_cholesky(t_ms, tau_ms: float = 100.0, segments=None, jitter: float = 1e-6) -> np.ndarray:
    """Cholesky factor L of the squared-exponential kernel ``exp(-(t-t')^2 / (2 tau^2))`` (§8.1).

    With ``segments`` (labels per bin) the kernel is zero across segments: the prior is broken at
    stimulation onset and offset. A jitter ``jitter * I`` keeps the factorisation stable.
    """
    t = np.asarray(t_ms, float)
    K = np.exp(-0.5 * (t[:, None] - t[None, :]) ** 2 / tau_ms ** 2)
    if segments is not None:
        seg = np.asarray(segments)
        K = K * (seg[:, None] == seg[None, :])
    return np.linalg.cholesky(K + jitter * np.eye(t.size))


def rotation_from_params(p, k: int):
    """``R = expm(S - S^T)``, S strictly upper triangular holding the k(k-1)/2 entries of ``p``."""
    iu = np.triu_indices(k, 1)
    S = jnp.zeros((k, k), dtype=p.dtype).at[iu].set(p)
    return jax.scipy.linalg.expm(S - S.T)


def fa_readout(rates_2d: np.ndarray, n_latents: int, seed: int = 0):
    """Factor analysis readout (§8.1): returns ``(C, d, fa, V)`` with C = U S ordered by variance.

    ``rates_2d`` is (samples, D). FA loadings ``W`` (D x K) = U S V^T; latents of the ordered readout
    are ``V^T z_fa``, so ``fa.transform(X) @ V`` gives them.
    """
    fa = FactorAnalysis(n_components=n_latents, random_state=seed)
    fa.fit(rates_2d)
    U, S, Vt = np.linalg.svd(fa.components_.T, full_matrices=False)
    sign = np.sign(U[np.argmax(np.abs(U), axis=0), np.arange(U.shape[1])])
    U, Vt = U * sign, Vt * sign[:, None]
    return U * S, fa.mean_.copy(), fa, Vt.T


@dataclass(frozen=True)
class _Static:
    variant: str
    kappa: float
    eps: float
    eta: float
    sigma_b: float
    delta_ridge: float
    dt_s: float


def _latents(params, data, st: _Static):
    z = jnp.einsum("ts,csk->ctk", data["L"], params["v"])
    if st.variant == "unconstrained":
        zs = jnp.einsum("ts,csk->ctk", data["Ls"], params["vs"])
        return z, zs
    k = z.shape[-1]
    b = jnp.exp(st.sigma_b * (data["Ls"] @ params["w"]))                   # (T, K)
    R = rotation_from_params(params["rot"], k)
    cent = params["cent"]
    zs = cent + jnp.einsum("ctj,tj,kj->ctk", (z - cent) @ R, b, R)
    return z, zs


def _rates(params, data, st: _Static):
    z, zs = _latents(params, data, st)
    delta = params["dA"] @ params["dB"].T                                    # (T, D)
    x = z @ data["C"].T + params["d"] + data["phi_x"] * delta
    y = zs @ data["C"].T + params["d"] + data["phi_y"] * delta
    return x, y


def _objective(params, data, st: _Static):
    x, y = _rates(params, data, st)
    ll = (total_loglik(x, data["xhat"], data["n_x"], st.dt_s, data["Ux"], st.kappa, st.eps, st.eta)
          + total_loglik(y, data["yhat"], data["n_y"], st.dt_s, data["Uy"], st.kappa, st.eps, st.eta))
    prior = 0.5 * jnp.sum(params["v"] ** 2)
    prior += 0.5 * st.delta_ridge * (jnp.sum(params["dA"] ** 2) + jnp.sum(params["dB"] ** 2))
    if st.variant == "unconstrained":
        prior += 0.5 * jnp.sum(params["vs"] ** 2)
    else:
        prior += 0.5 * jnp.sum(params["w"] ** 2) + 0.5 * jnp.sum(params["cent"] ** 2)
    return -ll + prior


@partial(jax.jit, static_argnums=(2,))
def _value_and_grad(params, data, st: _Static):
    return jax.value_and_grad(_objective)(params, data, st)


def _lbfgs_scipy(params, data, st: _Static, max_iter: int, tol: float):
    """SciPy L-BFGS-B on the jit-compiled value and gradient (fast to compile; one call per step)."""
    keys = sorted(params)
    shapes = [np.shape(params[k]) for k in keys]
    sizes = [int(np.prod(s)) for s in shapes]

    def unravel(f):
        out, i = {}, 0
        for k, shp, n in zip(keys, shapes, sizes):
            out[k] = jnp.asarray(f[i:i + n].reshape(shp))
            i += n
        return out

    def ravel(p):
        return np.concatenate([np.asarray(p[k], np.float64).ravel() for k in keys])

    def fun(f):
        val, grad = _value_and_grad(unravel(f), data, st)
        return float(val), ravel(grad)

    res = scipy.optimize.minimize(fun, ravel(params), jac=True, method="L-BFGS-B",
                                  options={"maxiter": max_iter, "ftol": tol * 1e-4, "gtol": tol, "maxcor": 20})
    p = unravel(res.x)
    val, grad = _value_and_grad(p, data, st)
    info = {"converged": bool(res.success), "status": int(res.status), "message": str(res.message)}
    return p, res.nit, float(np.linalg.norm(ravel(grad))), float(val), info


@partial(jax.jit, static_argnums=(2, 3))
def _lbfgs(params, data, st: _Static, max_iter: int, tol: float):
    """L-BFGS (optax, zoom line search) run to completion inside one compiled ``lax.while_loop``.

    Stops after ``max_iter`` iterations or when ``|grad| <= tol * sqrt(n_params) * max(1, |f| / n_obs)``
    (gradient small per parameter relative to the objective per observation).
    """
    fun = partial(_objective, data=data, st=st)
    opt = optax.lbfgs(memory_size=20)
    vg = optax.value_and_grad_from_state(fun)
    n_par = sum(x.size for x in jax.tree_util.tree_leaves(params))
    n_obs = data["xhat"].size + data["yhat"].size

    def step(carry):
        p, state, _, _ = carry
        value, grad = vg(p, state=state)
        updates, state = opt.update(grad, state, p, value=value, grad=grad, value_fn=fun)
        p = optax.apply_updates(p, updates)
        return p, state, value, optax.tree_utils.tree_l2_norm(grad)

    def cond(carry):
        _, state, value, gnorm = carry
        it = optax.tree_utils.tree_get(state, "count")
        scale = tol * jnp.sqrt(n_par) * jnp.maximum(1.0, jnp.abs(value) / n_obs)
        return (it == 0) | ((it < max_iter) & (gnorm > scale))

    init = (params, opt.init(params), jnp.asarray(jnp.inf), jnp.asarray(jnp.inf))
    p, state, _, _ = jax.lax.while_loop(cond, step, init)
    value, grad = jax.value_and_grad(fun)(p)
    gnorm = optax.tree_utils.tree_l2_norm(grad)
    met = gnorm <= tol * jnp.sqrt(n_par) * jnp.maximum(1.0, jnp.abs(value) / n_obs)
    return p, optax.tree_utils.tree_get(state, "count"), gnorm, value, met


def _lbfgs_jax(params, data, st: _Static, max_iter: int, tol: float):
    """`_lbfgs` with the stop reason: status 0 (gradient criterion met), 1 (``max_iter`` reached) or 2
    (non-finite objective), and a message naming it (as SciPy's ``res.status`` / ``res.message``)."""
    p, n_it, gnorm, value, met = _lbfgs(params, data, st, max_iter, tol)
    n_it, gnorm, value, met = int(n_it), float(gnorm), float(value), bool(met)
    if not np.isfinite(value):
        info = {"converged": False, "status": 2, "message": "objective became non-finite"}
    elif met:
        info = {"converged": True, "status": 0, "message": "gradient norm below tol * sqrt(n_params) * "
                                                           "max(1, |f| / n_obs)"}
    else:
        info = {"converged": False, "status": 1, "message": f"stopped at max_iter={max_iter} iterations "
                                                            f"with gradient norm {gnorm:.3g}"}
    return p, n_it, gnorm, value, info


def _lbfgs_subset(params, keys, data, st: _Static, max_iter: int, tol: float):
    """SciPy L-BFGS-B over ``params[k] for k in keys`` with the other parameters held fixed."""
    keys = sorted(keys)
    fixed = {k: v for k, v in params.items() if k not in keys}
    shapes = [np.shape(params[k]) for k in keys]
    sizes = [int(np.prod(sh)) for sh in shapes]

    def unravel(f):
        out, i = dict(fixed), 0
        for k, shp, n in zip(keys, shapes, sizes):
            out[k] = jnp.asarray(f[i:i + n].reshape(shp))
            i += n
        return out

    def fun(f):
        val, grad = _value_and_grad(unravel(f), data, st)
        return float(val), np.concatenate([np.asarray(grad[k], np.float64).ravel() for k in keys])

    x0 = np.concatenate([np.asarray(params[k], np.float64).ravel() for k in keys])
    res = scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B",
                                  options={"maxiter": max_iter, "ftol": tol * 1e-4, "gtol": tol, "maxcor": 20})
    return unravel(res.x), res


def _broadcast_counts(name, n, shape):
    arr = finite_array(name, n)
    try:
        arr = np.broadcast_to(arr if arr.ndim != 1 else arr[:, None, None], shape).astype(float)
    except ValueError:
        fail(name, arr, f"trial counts broadcastable to {shape} (a scalar, (C,) or (C, T, D))")
    if np.any(arr < 0):
        fail(name, arr, "non-negative trial counts")
    return arr


def _phi(name, phi, c, d):
    arr = np.asarray(finite_array(name, phi), float)
    if arr.ndim == 0:
        return np.full((c, 1, 1), float(arr))
    if arr.shape == (c,):
        return arr[:, None, None]
    if arr.shape == (c, d):
        return arr[:, None, :]
    if arr.shape in ((c, 1, 1), (c, 1, d)):
        return arr
    fail(name, arr, f"a scalar, ({c},) or ({c}, {d}) fractions of the additive term")


def _data_arg(X, yhat, n_x, n_y):
    """``(xhat, yhat, n_x, n_y)`` from arrays or from a dict with those keys (as `stimulated_dataset`,
    `shuffle_labels`, `poisson_null_data` and `StimLVM.sample` return)."""
    if isinstance(X, dict):
        missing = [k for k in ("xhat", "yhat") if k not in X]
        if missing:
            fail("X", sorted(X), "a dict with 'xhat', 'yhat' (and 'n_x', 'n_y') entries")
        return X["xhat"], X["yhat"], X.get("n_x", 1.0), X.get("n_y", 1.0)
    if yhat is None:
        fail("yhat", yhat, "the stimulated rates paired with X (or X as a dict with 'xhat' and 'yhat')")
    return X, yhat, 1.0 if n_x is None else n_x, 1.0 if n_y is None else n_y


class StimLVM(NeurodynEstimator):
    """Stimulation latent variable model, unconstrained (§8.1) or contraction-only (§8.2), seed 001 §8.

    Parameters
    ----------
    n_latents : K, latent dimensionality (the factor-analysis readout's rank).
    variant : ``"unconstrained"`` (independent z, z~) or ``"contraction"`` (z~ = z^cent + R B_t R^T (z - z^cent)).
    tau_ms : GP timescale (100 ms in the text). delta_rank : rank of Delta (5 in the text).
    kappa, eps, eta : likelihood hyperparameters of §8.4: kappa = 10 per (spikes per ``kappa_bin_ms``
        ms), i.e. per (spikes/s) by default, eps = 0.5 spikes/s, eta = 0.01 (units: `likelihood`).
    kappa_bin_ms : the time unit (ms) of the rate kappa is expressed in (1000: spikes/s); the link used
        on rates in spikes/s has sharpness ``kappa * kappa_bin_ms / 1000`` per (spikes/s) whatever the
        data's bin width (20 gives the per-spikes/bin reading at 20 ms bins, 0.2 per spikes/s).
    sigma_b : prior SD of the contraction factors around 1 (contraction variant).
    delta_ridge : weight of the ridge on the factors of Delta. max_iter, tol : L-BFGS settings.
    optimizer : ``"scipy"`` (L-BFGS-B on a jitted value-and-gradient, quick to compile) or ``"jax"``
    (optax L-BFGS inside one compiled loop: slower to compile, faster per iteration on large problems).
    seed : seeds FA and the initial value of Delta's factors.

    Contract (`neurodyn.models.base`). Data ``X`` are paired trial-averaged rates: ``xhat`` (C, T, D)
    with ``yhat``, ``n_x``, ``n_y`` as further arguments, or a dict with those keys (as `sample`
    returns). ``fit(X, yhat, n_x, n_y, t_ms, stim_on_ms, stim_off_ms)`` returns self.
    ``transform(X)``: posterior-mode latents (the Laplace posterior mean) of new data of the same
    conditions, inferred with the readout, d, Delta (and B_t, R, z^cent) held at their fitted values,
    returned as ``(2C, T, K)``: the C non-stimulated conditions, then their stimulated counterparts.
    ``predict()`` the fitted rates ``(2C, T, D)`` in the same order (``predict(X)``: from the latents of
    ``transform(X)``). ``score(X)``: the mean Poisson log-likelihood per observed (data set, condition,
    time) bin of the trial-summed counts ``k = m dt yhat`` under the fitted rates, higher is better::

        score = 1/n_bins sum_{c,t,d: m > 0} [ k log(lam) - lam - log k! ],   lam = m dt g(rate)

    with g the §8.4 rectification (the shaped likelihood of §8.4 is the fitting objective; the §8.7
    deviance is `metrics.deviance_per_observation`). ``sample(n, seed)``: n new trials per condition
    drawn from the fitted rates, ``Poisson(dt g(rate))`` per bin.

    Fitted attributes: ``readout_`` (D x K), ``offset_`` (D), ``z_``, ``z_stim_`` (C x T x K), ``delta_``
    (T x D), ``rates_`` (x, y), ``objective_``, ``n_iter_``, ``grad_norm_``, ``converged_`` (the
    optimiser's own success flag: SciPy's ``res.success``, or the gradient criterion of the JAX loop),
    ``status_`` and ``message_`` (the optimiser's status code and message); contraction variant also
    ``centroid_`` (K), ``b_`` (T x K), ``rotation_`` (K x K).
    """

    def __init__(self, n_latents: int = 8, variant: str = "unconstrained", *, tau_ms: float = 100.0,
                 delta_rank: int = 5, kappa: float = KAPPA, kappa_bin_ms: float = KAPPA_BIN_MS, eps: float = EPS,
                 eta: float = ETA, sigma_b: float = 0.5, delta_ridge: float = 0.1, max_iter: int = 3000,
                 tol: float = 1e-4, optimizer: str = "scipy", seed: int = 0):
        self.n_latents = n_latents
        self.variant = variant
        self.tau_ms = tau_ms
        self.delta_rank = delta_rank
        self.kappa = kappa
        self.kappa_bin_ms = kappa_bin_ms
        self.eps = eps
        self.eta = eta
        self.sigma_b = sigma_b
        self.delta_ridge = delta_ridge
        self.max_iter = max_iter
        self.tol = tol
        self.optimizer = optimizer
        self.seed = seed

    def _validate_params(self) -> None:
        if self.optimizer not in ("scipy", "jax"):
            fail("optimizer", self.optimizer, "'scipy' (L-BFGS-B, quick to compile) or 'jax' (optax L-BFGS in "
                                              "one compiled loop)")
        positive_int("n_latents", self.n_latents)
        if self.variant not in VARIANTS:
            fail("variant", self.variant, f"one of {VARIANTS}")
        positive("tau_ms", self.tau_ms)
        positive_int("delta_rank", self.delta_rank, 0)
        positive("kappa", self.kappa)
        positive("kappa_bin_ms", self.kappa_bin_ms)
        positive("eps", self.eps)
        in_range("eta", self.eta, 0.0, 1.0)
        positive("sigma_b", self.sigma_b)
        positive("delta_ridge", self.delta_ridge)
        positive_int("max_iter", self.max_iter)
        positive("tol", self.tol)
        positive_int("seed", self.seed, 0)

    @property
    def kappa_hz(self) -> float:
        """Sharpness of g on rates in spikes/s: ``kappa * kappa_bin_ms / 1000`` (`likelihood` docstring)."""
        return float(self.kappa) * float(self.kappa_bin_ms) / 1000.0

    def _static(self, dt_s: float) -> _Static:
        return _Static(self.variant, self.kappa_hz, float(self.eps), float(self.eta), float(self.sigma_b),
                       float(self.delta_ridge), float(dt_s))

    def _build_data(self, C, xhat, yhat, nx, ny, phx, phy):
        kh, eps = self.kappa_hz, float(self.eps)
        return {"C": jnp.asarray(C), "L": jnp.asarray(self._L), "Ls": jnp.asarray(self._Ls),
                "xhat": jnp.asarray(xhat), "yhat": jnp.asarray(yhat), "n_x": jnp.asarray(nx),
                "n_y": jnp.asarray(ny), "phi_x": jnp.asarray(phx), "phi_y": jnp.asarray(phy),
                "Ux": steepest_point(jnp.asarray(xhat), kh, eps), "Uy": steepest_point(jnp.asarray(yhat), kh, eps)}

    # ------------------------------------------------------------------ fitting
    def fit(self, X, yhat=None, n_x=None, n_y=None, t_ms=None, stim_on_ms: float | None = None,
            stim_off_ms: float | None = None, *, bin_ms=None, phi_x=0.0, phi_y=1.0, readout=None, offset=None,
            init=None) -> "StimLVM":
        """Fit to non-stimulated ``X`` (= xhat) and stimulated ``yhat`` rates (C, T, D) in spikes/s.

        ``n_x``, ``n_y``: trials behind each entry (scalar, (C,) or (C, T, D); 0 marks a missing entry).
        ``t_ms`` (T,) bin times; stimulation lasts ``[stim_on_ms, stim_off_ms)``. ``phi_x``/``phi_y``:
        weights of Delta in each data set (§8.3 shuffle null). ``readout``/``offset`` fix C (and the
        initial d) instead of running factor analysis; ``init`` warm-starts from a fitted `StimLVM` of
        the same variant and shapes.
        """
        self._validate_params()
        xhat, yhat, n_x, n_y = _data_arg(X, yhat, n_x, n_y)
        xhat = finite_array("xhat", xhat)
        yhat = finite_array("yhat", yhat)
        if xhat.ndim != 3:
            fail("xhat", xhat, "trial-averaged rates (conditions, time, neurons)")
        if yhat.shape != xhat.shape:
            fail("yhat", yhat, f"the shape of xhat {xhat.shape}")
        if np.any(xhat < 0) or np.any(yhat < 0):
            fail("xhat", xhat, "non-negative observed rates (spikes/s) in xhat and yhat")
        C_, T, D = xhat.shape
        K = int(self.n_latents)
        if K > D:
            fail("n_latents", K, f"at most the number of neurons {D}")
        if t_ms is None:
            fail("t_ms", t_ms, f"{T} increasing bin times (ms)")
        t = finite_array("t_ms", t_ms, ndim=1)
        if t.shape != (T,) or (T > 1 and np.any(np.diff(t) <= 0)):
            fail("t_ms", t, f"{T} increasing bin times")
        if stim_on_ms is None or stim_off_ms is None or not stim_on_ms < stim_off_ms:
            fail("stim_off_ms", stim_off_ms, f"a time after stim_on_ms={stim_on_ms}")
        bin_ms = positive("bin_ms", float(np.median(np.diff(t))) if bin_ms is None and T > 1 else (bin_ms or 20.0))
        nx = _broadcast_counts("n_x", n_x, xhat.shape)
        ny = _broadcast_counts("n_y", n_y, yhat.shape)
        seg = segment_labels(t, stim_on_ms, stim_off_ms)
        if not np.any(seg == 1):
            fail("stim_on_ms", stim_on_ms, f"a stimulation window containing bins of t_ms [{t[0]}, {t[-1]}]")
        # initial Delta: rank-r SVD of the ridge estimate from yhat_c - xhat_c = w_c Delta + noise,
        # w_c = phi^y_c - phi^x_c (the additive hypothesis; the ridge 1 keeps shuffled data, where
        # w_c ~ 0, from amplifying noise)
        phx, phy = _phi("phi_x", phi_x, C_, D), _phi("phi_y", phi_y, C_, D)
        wc = np.broadcast_to(phy - phx, (C_, 1, D))
        diff = np.sum(wc * (yhat - xhat), 0) / (np.sum(wc ** 2, 0) + 1.0)
        Ud, Sd, Vdt = np.linalg.svd(diff, full_matrices=False)
        r = int(self.delta_rank)
        dA0 = Ud[:, :r] * np.sqrt(Sd[:r])
        dB0 = Vdt[:r].T * np.sqrt(Sd[:r])
        if dA0.shape[1] < r:
            dA0 = np.pad(dA0, ((0, 0), (0, r - dA0.shape[1])))
            dB0 = np.pad(dB0, ((0, 0), (0, r - dB0.shape[1])))
        delta0 = dA0 @ dB0.T
        if readout is None:
            C, d0, fa, V = fa_readout(xhat.reshape(-1, D), K, int(self.seed))
            zx0 = fa.transform((xhat - phx * delta0).reshape(-1, D)) @ V
            zy0 = fa.transform((yhat - phy * delta0).reshape(-1, D)) @ V
        else:
            C = finite_array("readout", readout, ndim=2)
            if C.shape != (D, K):
                fail("readout", C, f"a ({D}, {K}) readout")
            d0 = np.asarray(xhat.reshape(-1, D).mean(0) if offset is None else finite_array("offset", offset))
            pinv = np.linalg.pinv(C)
            zx0 = ((xhat - phx * delta0).reshape(-1, D) - d0) @ pinv.T
            zy0 = ((yhat - phy * delta0).reshape(-1, D) - d0) @ pinv.T
        self._L = gp_cholesky(t, self.tau_ms)
        self._Ls = gp_cholesky(t, self.tau_ms, seg)
        L = self._L
        self.t_ms_, self.bin_ms_, self.segments_ = t, bin_ms, seg
        self.stim_on_ms_, self.stim_off_ms_ = float(stim_on_ms), float(stim_off_ms)
        self.readout_ = C
        data = self._build_data(C, xhat, yhat, nx, ny, phx, phy)
        st = self._static(bin_ms / 1000.0)
        if init is not None:
            if not isinstance(init, StimLVM) or init.variant != self.variant or init.params_["v"].shape != (C_, T, K):
                fail("init", type(init).__name__, f"a fitted StimLVM ({self.variant}) with latents {(C_, T, K)}")
            params = {k: jnp.asarray(v) for k, v in init.params_.items()}
        else:
            rng = np.random.default_rng(int(self.seed))

            def whiten(z, chol, noise=0.1):
                # whitened GP posterior mean of the initial (FA) latents: v = L^T (L L^T + noise I)^{-1} z,
                # i.e. the latents smoothed by the prior (plain L^{-1} z would turn their bin-to-bin noise
                # into a huge prior cost |v|^2 / 2 and start the optimiser far from the optimum)
                zt = z.reshape(C_, T, K).transpose(1, 0, 2).reshape(T, -1)
                v = chol.T @ np.linalg.solve(chol @ chol.T + noise * np.eye(T), zt)
                return v.reshape(T, C_, K).transpose(1, 0, 2)

            params = {"v": jnp.asarray(whiten(zx0, L)), "d": jnp.asarray(d0),
                      "dA": jnp.asarray(dA0 + 0.01 * rng.standard_normal((T, r))),
                      "dB": jnp.asarray(dB0)}
            if self.variant == "unconstrained":
                params["vs"] = jnp.asarray(whiten(zy0, self._Ls))
            else:
                params["w"] = jnp.zeros((T, K))
                params["cent"] = jnp.zeros(K)
                params["rot"] = jnp.asarray(0.01 * rng.standard_normal(K * (K - 1) // 2))
        solver = _lbfgs_scipy if self.optimizer == "scipy" else _lbfgs_jax
        params, n_iter, grad_norm, value, info = solver(params, data, st, int(self.max_iter), float(self.tol))
        if not np.isfinite(value):
            raise FloatingPointError(f"StimLVM.fit: objective={value}: expected a finite optimum")
        self.params_ = {k: np.array(v) for k, v in params.items()}
        self._data = data
        self.objective_, self.n_iter_ = float(value), int(n_iter)
        self.grad_norm_ = float(grad_norm)
        self.converged_ = bool(info["converged"])
        self.status_ = int(info["status"])
        self.message_ = str(info["message"])
        if not self.converged_:
            warnings.warn(f"StimLVM.fit: the optimiser did not report convergence (status {self.status_}: "
                          f"{self.message_})", RuntimeWarning, stacklevel=2)
        self.n_x_, self.n_y_, self.xhat_, self.yhat_ = nx, ny, xhat, yhat
        self.phi_x_, self.phi_y_ = np.asarray(phx), np.asarray(phy)
        self._set_fitted_views()
        return self

    def _set_fitted_views(self) -> None:
        """Latents, rates and contraction parameters from ``params_`` (after fit and after load)."""
        params = {k: jnp.asarray(v) for k, v in self.params_.items()}
        st = self._static(self.bin_ms_ / 1000.0)
        z, zs = _latents(params, self._data, st)
        x, y = _rates(params, self._data, st)
        self.z_, self.z_stim_ = np.asarray(z), np.asarray(zs)
        self.offset_ = self.params_["d"]
        self.delta_ = self.params_["dA"] @ self.params_["dB"].T
        self.rates_ = (np.asarray(x), np.asarray(y))
        if self.variant == "contraction":
            K = self.z_.shape[-1]
            self.b_ = np.exp(self.sigma_b * (self._Ls @ self.params_["w"]))
            self.rotation_ = np.asarray(rotation_from_params(params["rot"], K))
            self.centroid_ = self.params_["cent"]

    # ------------------------------------------------------------------ model files
    def _extra_state(self):
        arrays = {f"params_.{k}": v for k, v in self.params_.items()}
        arrays["rates_.x"], arrays["rates_.y"] = self.rates_
        return arrays, {"params_": sorted(self.params_), "rates_": ["x", "y"]}

    def _restore_extra(self, arrays, values):
        self.params_ = {k: arrays[f"params_.{k}"] for k in values["params_"]}
        self._L = gp_cholesky(self.t_ms_, self.tau_ms)
        self._Ls = gp_cholesky(self.t_ms_, self.tau_ms, self.segments_)
        self._data = self._build_data(self.readout_, self.xhat_, self.yhat_, self.n_x_, self.n_y_, self.phi_x_,
                                      self.phi_y_)
        self._set_fitted_views()

    # ------------------------------------------------------------------ contract views
    def _check_same_conditions(self, xhat, yhat, n_x, n_y):
        xhat = finite_array("xhat", xhat)
        yhat = finite_array("yhat", yhat)
        shape = self.z_.shape[:2] + (self.readout_.shape[0],)
        if xhat.shape != shape or yhat.shape != shape:
            fail("xhat", xhat, f"rates of the fitted conditions and bins, shape {shape} (and yhat alike)")
        if np.any(xhat < 0) or np.any(yhat < 0):
            fail("xhat", xhat, "non-negative observed rates (spikes/s) in xhat and yhat")
        return xhat, yhat, _broadcast_counts("n_x", n_x, shape), _broadcast_counts("n_y", n_y, shape)

    def _rates_from(self, z, zs) -> np.ndarray:
        C, d, delta = self.readout_, self.offset_, self.delta_
        x = z @ C.T + d + self.phi_x_ * delta
        y = zs @ C.T + d + self.phi_y_ * delta
        return np.concatenate([x, y], 0)

    def transform(self, X, yhat=None, n_x=None, n_y=None) -> np.ndarray:
        """Posterior-mode latents of new data of the fitted conditions, ``(2C, T, K)`` (class docstring):
        the objective of `fit` minimised over v (and v~, unconstrained variant) only."""
        self._check_fitted("params_")
        xhat, yhat, nx, ny = self._check_same_conditions(*_data_arg(X, yhat, n_x, n_y))
        data = self._build_data(self.readout_, xhat, yhat, nx, ny, self.phi_x_, self.phi_y_)
        st = self._static(self.bin_ms_ / 1000.0)
        keys = ("v", "vs") if self.variant == "unconstrained" else ("v",)
        params = {k: jnp.asarray(v) for k, v in self.params_.items()}
        p, _ = _lbfgs_subset(params, keys, data, st, int(self.max_iter), float(self.tol))
        z, zs = _latents(p, data, st)
        return np.concatenate([np.asarray(z), np.asarray(zs)], 0)

    def predict(self, X=None, yhat=None, n_x=None, n_y=None) -> np.ndarray:
        """Rates ``(2C, T, D)`` in spikes/s before the rectification g: non-stimulated conditions, then
        stimulated. Without data: the fitted rates ``C z + d + phi Delta``; with data: those of the
        latents `transform` infers from it."""
        self._check_fitted("params_")
        if X is None:
            return self._rates_from(self.z_, self.z_stim_)
        lat = self.transform(X, yhat, n_x, n_y)
        C_ = self.z_.shape[0]
        return self._rates_from(lat[:C_], lat[C_:])

    def score(self, X, yhat=None, n_x=None, n_y=None) -> float:
        """Mean Poisson log-likelihood per observed bin of data of the fitted conditions under the fitted
        rates (class docstring; higher is better)."""
        self._check_fitted("params_")
        xhat, yhat, nx, ny = self._check_same_conditions(*_data_arg(X, yhat, n_x, n_y))
        dt = self.bin_ms_ / 1000.0
        rates = self.predict()
        obs = np.concatenate([xhat, yhat], 0)
        m = np.concatenate([nx, ny], 0)
        lam = m * dt * np.asarray(rectify(jnp.asarray(rates), self.kappa_hz, float(self.eps)))
        k = m * dt * obs
        ll = np.where(m > 0, scipy.special.xlogy(k, lam) - lam - scipy.special.gammaln(k + 1.0), 0.0)
        n_bins = int(np.sum(np.any(m > 0, axis=-1)))
        return float(np.sum(ll) / max(n_bins, 1))

    def sample(self, n: int, seed: int = 0) -> dict:
        """``n`` new trials per condition from the fitted rates: counts ``Poisson(dt g(rate))`` per bin.

        Returns a dict (as `simulate.stimulated_dataset`): ``x_trials``, ``y_trials`` (C, n, T, D) in
        spikes/s (count / dt), their averages ``xhat``, ``yhat`` and trial counts ``n_x``, ``n_y``.
        """
        self._check_fitted("params_")
        n = positive_int("n", n)
        dt = self.bin_ms_ / 1000.0
        rates = self.predict()
        g = np.asarray(rectify(jnp.asarray(rates), self.kappa_hz, float(self.eps)))
        C_ = self.z_.shape[0]
        rng = np.random.default_rng(seed)
        out = {}
        for name, gi in (("x", g[:C_]), ("y", g[C_:])):
            tr = rng.poisson(np.broadcast_to(dt * gi[:, None], (C_, n) + gi.shape[1:])) / dt
            out[f"{name}_trials"] = tr
            out[f"{name}hat"] = tr.mean(1)
            out[f"n_{name}"] = np.full(gi.shape, float(n))
        return out

    def window_mask(self, max_ms: float | None = 200.0) -> np.ndarray:
        """Bins of the stimulation interval, truncated at ``max_ms`` after onset (§8.5)."""
        self._check_fitted("params_")
        m = self.segments_ == 1
        if max_ms is not None:
            m &= self.t_ms_ < self.stim_on_ms_ + max_ms
        return m

    # ------------------------------------------------------------------ posterior (Laplace, §8.5)
    def observed_information(self, block: int = 256):
        """The full observed Fisher information (§8.5): the Hessian H of the fitted objective (negative
        shaped log-likelihood plus priors) over ALL parameters at the optimum, and the layout.

        Returns ``(H, layout)``; ``layout[name] = (slice, shape)`` locates each parameter in the vector
        (``jax.flatten_util.ravel_pytree`` order). H is assembled column block by column block from
        Hessian-vector products (forward-over-reverse, ``block`` columns at a time).
        """
        self._check_fitted("params_")
        params = {k: jnp.asarray(v) for k, v in self.params_.items()}
        flat, unravel = jax.flatten_util.ravel_pytree(params)
        data, st = self._data, self._static(self.bin_ms_ / 1000.0)

        def f(x):
            return _objective(unravel(x), data, st)

        g = jax.grad(f)

        @jax.jit
        def hvp_block(V):
            return jax.vmap(lambda v: jax.jvp(g, (flat,), (v,))[1])(V)

        n = flat.size
        H = np.empty((n, n))
        eye = np.eye(n)
        for i in range(0, n, block):
            cols = eye[i:i + block]
            if cols.shape[0] < block:
                cols = np.vstack([cols, np.zeros((block - cols.shape[0], n))])
            H[i:i + block] = np.asarray(hvp_block(jnp.asarray(cols)))[:min(block, n - i)]
        H = 0.5 * (H + H.T)
        layout, i = {}, 0
        for k in sorted(params):
            size = int(np.prod(params[k].shape))
            layout[k] = (slice(i, i + size), tuple(params[k].shape))
            i += size
        return H, layout

    def _posterior(self):
        """Cached ``(flat mean, Cholesky factor L of H (H = L L^T), layout, unravel)``."""
        if getattr(self, "_post_cache", None) is None:
            H, layout = self.observed_information()
            ev, EV = np.linalg.eigh(H)
            floor = 1e-10 * max(float(ev.max()), 1e-300)
            if ev.min() <= floor:
                warnings.warn(f"StimLVM: the observed information has {int(np.sum(ev <= floor))} non-positive "
                              "eigenvalues (not at a strict optimum); they are floored for the Laplace posterior",
                              RuntimeWarning, stacklevel=3)
                H = (EV * np.maximum(ev, floor)) @ EV.T
            Lh = np.linalg.cholesky(0.5 * (H + H.T))
            params = {k: jnp.asarray(v) for k, v in self.params_.items()}
            flat, unravel = jax.flatten_util.ravel_pytree(params)
            self._post_cache = (np.asarray(flat), Lh, layout, unravel)
        return self._post_cache

    def posterior_covariance(self, names=None) -> np.ndarray:
        """Marginal Laplace covariance of the parameters ``names`` (default all): the ``names`` block of
        ``H^{-1}`` of the full observed information, i.e. the inverse of the Schur complement of H onto
        those parameters (the others integrated out, not held fixed)."""
        flat, Lh, layout, _ = self._posterior()
        names = sorted(layout) if names is None else list(names)
        idx = np.concatenate([np.arange(flat.size)[layout[k][0]] for k in names])
        E = np.zeros((flat.size, idx.size))
        E[idx, np.arange(idx.size)] = 1.0
        W = scipy.linalg.solve_triangular(Lh, E, lower=True)            # L^{-1} E
        return W.T @ W                                                   # E^T H^{-1} E

    def posterior_parameter_samples(self, n_samples: int = 200, seed: int = 0) -> np.ndarray:
        """Flat parameter vectors (n_samples, n_params) from the joint Laplace posterior N(theta, H^{-1})."""
        flat, Lh, _, _ = self._posterior()
        rng = np.random.default_rng(seed)
        xi = rng.standard_normal((flat.size, positive_int("n_samples", n_samples)))
        return flat + scipy.linalg.solve_triangular(Lh, xi, lower=True, trans="T").T

    def latent_posterior_samples(self, n_samples: int = 200, seed: int = 0):
        """Samples of (z, z~), each (n_samples, C, T, K), from the joint Laplace posterior of all the
        parameters (full observed information, §8.5), mapped through L (and L~, or the contraction map)."""
        self._check_fitted("params_")
        _, _, _, unravel = self._posterior()
        S = self.posterior_parameter_samples(n_samples, seed)
        st = self._static(self.bin_ms_ / 1000.0)
        lat = jax.jit(jax.vmap(lambda x: _latents(unravel(x), self._data, st)))
        z, zs = lat(jnp.asarray(S))
        return np.asarray(z), np.asarray(zs)

    def contraction_posterior(self):
        """Laplace posterior of the contraction factors b (contraction variant): mean (T, K) and the
        covariance (T K x T K) of vec(b) (row-major, time then latent), from the marginal covariance of
        w in the full observed information (the other parameters integrated out)."""
        self._check_fitted("params_")
        if self.variant != "contraction":
            fail("variant", self.variant, "'contraction' for the posterior of B_t")
        T, K = self.b_.shape
        cov_w = self.posterior_covariance(["w"])
        # delta method: vec(b) = exp(sigma_b (L~ kron I) vec(w)), row-major (time, latent)
        J = self.b_.ravel()[:, None] * (self.sigma_b * np.kron(self._Ls, np.eye(K)))
        cov_b = J @ cov_w @ J.T
        return self.b_, 0.5 * (cov_b + cov_b.T)

    def contraction_posterior_samples(self, n_samples: int = 200, seed: int = 0) -> np.ndarray:
        mean, cov = self.contraction_posterior()
        rng = np.random.default_rng(seed)
        T, K = mean.shape
        s = rng.multivariate_normal(mean.ravel(), cov, size=n_samples, method="eigh")
        return s.reshape(n_samples, T, K)
