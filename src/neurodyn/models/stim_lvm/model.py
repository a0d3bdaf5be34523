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

Posterior (§8.5): a Laplace approximation, the inverse of the observed Fisher information (Hessian of
the objective) in the whitened coordinates, taken block-wise: per condition for v and v~ (the blocks
are exactly independent given d and Delta) and jointly over w for the contraction factors, with the
other parameters held at their fitted values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import optax
import scipy.optimize
from sklearn.decomposition import FactorAnalysis

from neurodyn._validate import fail, finite_array, in_range, positive, positive_int
from neurodyn.models.stim_lvm.likelihood import EPS, ETA, KAPPA, steepest_point, total_loglik

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
    return p, res.nit, float(np.linalg.norm(ravel(grad))), float(val)


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
    return p, optax.tree_utils.tree_get(state, "count"), optax.tree_utils.tree_l2_norm(grad), value


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


class StimLVM:
    """Stimulation latent variable model, unconstrained (§8.1) or contraction-only (§8.2), seed 001 §8.

    Parameters
    ----------
    n_latents : K, latent dimensionality (the factor-analysis readout's rank).
    variant : ``"unconstrained"`` (independent z, z~) or ``"contraction"`` (z~ = z^cent + R B_t R^T (z - z^cent)).
    tau_ms : GP timescale (100 ms in the text). delta_rank : rank of Delta (5 in the text).
    kappa, eps, eta : likelihood hyperparameters (§8.4: 10, 0.5 spikes/s, 0.01).
    sigma_b : prior SD of the contraction factors around 1 (contraction variant).
    delta_ridge : weight of the ridge on the factors of Delta. max_iter, tol : L-BFGS settings.
    optimizer : ``"scipy"`` (L-BFGS-B on a jitted value-and-gradient, quick to compile) or ``"jax"``
    (optax L-BFGS inside one compiled loop: slower to compile, faster per iteration on large problems).
    seed : seeds FA and the initial value of Delta's factors.

    Fitted attributes: ``readout_`` (D x K), ``offset_`` (D), ``z_``, ``z_stim_`` (C x T x K), ``delta_``
    (T x D), ``rates_`` (x, y), ``objective_``, ``n_iter_``, ``converged_``; contraction variant also
    ``centroid_`` (K), ``b_`` (T x K), ``rotation_`` (K x K).
    """

    def __init__(self, n_latents: int = 8, variant: str = "unconstrained", *, tau_ms: float = 100.0,
                 delta_rank: int = 5, kappa: float = KAPPA, eps: float = EPS, eta: float = ETA,
                 sigma_b: float = 0.5, delta_ridge: float = 0.1, max_iter: int = 3000, tol: float = 1e-4,
                 optimizer: str = "scipy", seed: int = 0):
        if optimizer not in ("scipy", "jax"):
            fail("optimizer", optimizer, "'scipy' (L-BFGS-B, quick to compile) or 'jax' (optax L-BFGS in one compiled loop)")
        self.optimizer = optimizer
        self.n_latents = positive_int("n_latents", n_latents)
        if variant not in VARIANTS:
            fail("variant", variant, f"one of {VARIANTS}")
        self.variant = variant
        self.tau_ms = positive("tau_ms", tau_ms)
        self.delta_rank = positive_int("delta_rank", delta_rank, 0)
        self.kappa = positive("kappa", kappa)
        self.eps = positive("eps", eps)
        self.eta = in_range("eta", eta, 0.0, 1.0)
        self.sigma_b = positive("sigma_b", sigma_b)
        self.delta_ridge = positive("delta_ridge", delta_ridge)
        self.max_iter = positive_int("max_iter", max_iter)
        self.tol = positive("tol", tol)
        self.seed = positive_int("seed", seed, 0)

    # ------------------------------------------------------------------ fitting
    def fit(self, xhat, yhat, n_x, n_y, t_ms, stim_on_ms: float, stim_off_ms: float, *, bin_ms=None,
            phi_x=0.0, phi_y=1.0, readout=None, offset=None, init=None) -> "StimLVM":
        """Fit to non-stimulated ``xhat`` and stimulated ``yhat`` rates (C, T, D) in spikes/s.

        ``n_x``, ``n_y``: trials behind each entry (scalar, (C,) or (C, T, D); 0 marks a missing entry).
        ``t_ms`` (T,) bin times; stimulation lasts ``[stim_on_ms, stim_off_ms)``. ``phi_x``/``phi_y``:
        weights of Delta in each data set (§8.3 shuffle null). ``readout``/``offset`` fix C (and the
        initial d) instead of running factor analysis; ``init`` warm-starts from a fitted `StimLVM` of
        the same variant and shapes.
        """
        xhat = finite_array("xhat", xhat)
        yhat = finite_array("yhat", yhat)
        if xhat.ndim != 3:
            fail("xhat", xhat, "trial-averaged rates (conditions, time, neurons)")
        if yhat.shape != xhat.shape:
            fail("yhat", yhat, f"the shape of xhat {xhat.shape}")
        if np.any(xhat < 0) or np.any(yhat < 0):
            fail("xhat", xhat, "non-negative observed rates (spikes/s) in xhat and yhat")
        C_, T, D = xhat.shape
        K = self.n_latents
        if K > D:
            fail("n_latents", K, f"at most the number of neurons {D}")
        t = finite_array("t_ms", t_ms, ndim=1)
        if t.shape != (T,) or (T > 1 and np.any(np.diff(t) <= 0)):
            fail("t_ms", t, f"{T} increasing bin times")
        if not stim_on_ms < stim_off_ms:
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
        r = self.delta_rank
        dA0 = Ud[:, :r] * np.sqrt(Sd[:r])
        dB0 = Vdt[:r].T * np.sqrt(Sd[:r])
        if dA0.shape[1] < r:
            dA0 = np.pad(dA0, ((0, 0), (0, r - dA0.shape[1])))
            dB0 = np.pad(dB0, ((0, 0), (0, r - dB0.shape[1])))
        delta0 = dA0 @ dB0.T
        if readout is None:
            C, d0, fa, V = fa_readout(xhat.reshape(-1, D), K, self.seed)
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
        L = gp_cholesky(t, self.tau_ms)
        Ls = gp_cholesky(t, self.tau_ms, seg)
        self.t_ms_, self.bin_ms_, self.segments_ = t, bin_ms, seg
        self.stim_on_ms_, self.stim_off_ms_ = float(stim_on_ms), float(stim_off_ms)
        self.readout_, self._L, self._Ls = C, L, Ls
        data = {"C": jnp.asarray(C), "L": jnp.asarray(L), "Ls": jnp.asarray(Ls),
                "xhat": jnp.asarray(xhat), "yhat": jnp.asarray(yhat), "n_x": jnp.asarray(nx),
                "n_y": jnp.asarray(ny), "phi_x": jnp.asarray(phx),
                "phi_y": jnp.asarray(phy),
                "Ux": steepest_point(jnp.asarray(xhat), self.kappa, self.eps),
                "Uy": steepest_point(jnp.asarray(yhat), self.kappa, self.eps)}
        st = _Static(self.variant, self.kappa, self.eps, self.eta, self.sigma_b, self.delta_ridge, bin_ms / 1000.0)
        if init is not None:
            if not isinstance(init, StimLVM) or init.variant != self.variant or init.params_["v"].shape != (C_, T, K):
                fail("init", type(init).__name__, f"a fitted StimLVM ({self.variant}) with latents {(C_, T, K)}")
            params = {k: jnp.asarray(v) for k, v in init.params_.items()}
        else:
            rng = np.random.default_rng(self.seed)

            def whiten(z, chol):
                return np.linalg.solve(chol, z.reshape(C_, T, K).transpose(1, 0, 2).reshape(T, -1)).reshape(
                    T, C_, K).transpose(1, 0, 2)

            params = {"v": jnp.asarray(whiten(zx0, L)), "d": jnp.asarray(d0),
                      "dA": jnp.asarray(dA0 + 0.01 * rng.standard_normal((T, r))),
                      "dB": jnp.asarray(dB0)}
            if self.variant == "unconstrained":
                params["vs"] = jnp.asarray(whiten(zy0, Ls))
            else:
                params["w"] = jnp.zeros((T, K))
                params["cent"] = jnp.zeros(K)
                params["rot"] = jnp.asarray(0.01 * rng.standard_normal(K * (K - 1) // 2))
        solver = _lbfgs_scipy if self.optimizer == "scipy" else _lbfgs
        params, n_iter, grad_norm, value = solver(params, data, st, self.max_iter, self.tol)
        if not np.isfinite(value):
            raise FloatingPointError(f"StimLVM.fit: objective={value}: expected a finite optimum")
        self.params_ = {k: np.array(v) for k, v in params.items()}
        params = {k: jnp.asarray(v) for k, v in self.params_.items()}
        self._data, self._static = data, st
        self.objective_, self.n_iter_ = float(value), int(n_iter)
        self.grad_norm_ = float(grad_norm)
        self.converged_ = bool(n_iter < self.max_iter)
        z, zs = _latents(params, data, st)
        x, y = _rates(params, data, st)
        self.z_, self.z_stim_ = np.asarray(z), np.asarray(zs)
        self.offset_ = self.params_["d"]
        self.delta_ = self.params_["dA"] @ self.params_["dB"].T
        self.rates_ = (np.asarray(x), np.asarray(y))
        self.n_x_, self.n_y_, self.xhat_, self.yhat_ = nx, ny, xhat, yhat
        self.phi_x_, self.phi_y_ = np.asarray(data["phi_x"]), np.asarray(data["phi_y"])
        if self.variant == "contraction":
            self.b_ = np.exp(self.sigma_b * (Ls @ self.params_["w"]))
            self.rotation_ = np.asarray(rotation_from_params(params["rot"], K))
            self.centroid_ = self.params_["cent"]
        return self

    def _check_fitted(self):
        if not hasattr(self, "params_"):
            raise RuntimeError("StimLVM: call fit(...) before using the fitted model")

    # ------------------------------------------------------------------ sklearn-style views
    def predict(self):
        """Fitted rates ``(x, y)`` in spikes/s, each (C, T, D) (before the rectification g)."""
        self._check_fitted()
        return self.rates_

    def score(self):
        """Poisson deviance per observation of both data sets and its jackknife SE (§8.7)."""
        from neurodyn.models.stim_lvm.metrics import deviance_per_observation
        self._check_fitted()
        return deviance_per_observation(self)

    def window_mask(self, max_ms: float | None = 200.0) -> np.ndarray:
        """Bins of the stimulation interval, truncated at ``max_ms`` after onset (§8.5)."""
        self._check_fitted()
        m = self.segments_ == 1
        if max_ms is not None:
            m &= self.t_ms_ < self.stim_on_ms_ + max_ms
        return m

    # ------------------------------------------------------------------ posterior (Laplace, §8.5)
    def latent_posterior_samples(self, n_samples: int = 200, seed: int = 0):
        """Samples of (z, z~), each (n_samples, C, T, K), from the block Laplace posterior.

        Per condition the Hessian H_c of the objective in the whitened latents (T K x T K) is computed
        with JAX; samples are ``v_c + chol(H_c)^{-T} xi``, ``xi ~ N(0, I)``, then mapped by L (or L~).
        Contraction variant: the z~ samples follow from z samples and the b posterior.
        """
        self._check_fitted()
        n_samples = positive_int("n_samples", n_samples)
        rng = np.random.default_rng(seed)
        params = {k: jnp.asarray(v) for k, v in self.params_.items()}
        data, st = self._data, self._static
        C_, T, K = self.z_.shape

        def block_samples(name, chol):
            def obj_c(vc, c):
                p = dict(params)
                p[name] = params[name].at[c].set(vc.reshape(T, K))
                return _objective(p, data, st)
            H = np.asarray(jax.vmap(lambda c: jax.hessian(obj_c)(params[name][c].ravel(), c))(jnp.arange(C_)))
            out = np.empty((n_samples, C_, T, K))
            for c in range(C_):
                Lh = np.linalg.cholesky(0.5 * (H[c] + H[c].T))
                xi = rng.standard_normal((T * K, n_samples))
                dv = scipy.linalg.solve_triangular(Lh, xi, lower=True, trans="T").T.reshape(n_samples, T, K)
                out[:, c] = np.einsum("ts,nsk->ntk", chol, self.params_[name][c] + dv)
            return out

        z = block_samples("v", self._L)
        if self.variant == "unconstrained":
            zs = block_samples("vs", self._Ls)
        else:
            b = self.contraction_posterior_samples(n_samples, seed + 1)
            R, cent = self.rotation_, self.centroid_
            zs = cent + np.einsum("nctj,ntj,kj->nctk", (z - cent) @ R, b, R)
        return z, zs

    def contraction_posterior(self):
        """Laplace posterior of the contraction factors b (contraction variant): mean (T, K) and the
        covariance (T K x T K) of vec(b) (row-major, time then latent)."""
        self._check_fitted()
        if self.variant != "contraction":
            fail("variant", self.variant, "'contraction' for the posterior of B_t")
        params = {k: jnp.asarray(v) for k, v in self.params_.items()}
        T, K = self.b_.shape

        def obj_w(wf):
            p = dict(params)
            p["w"] = wf.reshape(T, K)
            return _objective(p, self._data, self._static)

        H = np.asarray(jax.hessian(obj_w)(params["w"].ravel()))
        cov_w = np.linalg.inv(0.5 * (H + H.T))
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
