"""`StimLVM`: latent variable model of non-stimulated and stimulated population rates (seed 001 Methods §8).

Data (§8, first paragraphs; `inputs`): trial-averaged rates ``xhat`` (non-stimulated) and ``yhat``
(stimulated), both ``(conditions, time, neurons)`` in spikes/s, with trial counts ``n_x``, ``n_y`` of the
same shape (or broadcastable), bins of ``bin_ms`` (20 ms in the text). Model rates (§8.1)::

    x_{c,t} = C z_{c,t} + d + phi^x_c Delta_t          (non-stimulated)
    y_{c,t} = C z~_{c,t} + d + phi^y_c Delta_t         (stimulated)

* C (neurons x latents) is fixed by factor analysis on the non-stimulated rates, with orthogonal columns
  ordered by the variance they explain (`initial.fa_readout`);
* d (neurons) baseline rates (fitted, initialised at the FA mean);
* Delta = A B^T (time x neurons) of rank ``delta_rank`` (5), with a weak ridge ``lam/2 (|A|^2 + |B|^2)``;
  phi^x = 0, phi^y = 1 except under the shuffle null of §8.3, where they are the tracked fractions of
  stimulated trials in each shuffled average;
* squared-exponential GP priors over time, tau = 100 ms, unit variance (the FA latent scale),
  independent across latents and conditions, broken at stimulation onset and offset for z~; latents are
  whitened, ``z_{c,:,k} = L v_{c,:,k}`` with ``L L^T = K``, so the prior term is ``|v|^2 / 2``
  (`prior`).

Contraction-only version (§8.2)::

    z~_{c,t} = z^cent + R B_t R^T (z_{c,t} - z^cent),    B_t = diag(b_t)

with ``b_{:,k} = exp(sigma_b L~ w_k)`` (a GP prior on log b of mean 0, i.e. no contraction, broken at
onset/offset like z~; the log keeps the factors positive, contraction below 1 and expansion above),
``z^cent ~ N(0, I)`` and the rotation parametrised exactly on SO(K) as ``R = expm(S - S^T)`` with S
strictly upper triangular.

Objective (`objective`): the negative shaped log-likelihood of §8.4 (`likelihood.total_loglik`) of both
data sets plus the priors, minimised over all parameters by L-BFGS on jit-compiled JAX gradients
(`optimize`; the text used Manopt's trust regions; the rotation group is handled here by the exact
exponential parametrisation instead).

Posterior (§8.5, `posterior`): a Laplace approximation, the inverse of the FULL observed Fisher
information at the optimum, with marginal bands. Measured against refits to data simulated from a
fitted model (tests/test_stim_lvm.py), the stimulated latents' bands match the refit error (ratio ~1.1)
and the non-stimulated latents' bands are ~1.8x wider (conservative). The objective is not the Poisson
log-likelihood of the counts (it wraps yhat in g, §8.4), so its curvature need not equal the variance of
its score (the sandwich H^-1 J H^-1 is as wide as H^-1 there), and the Laplace bands of the text are not
exactly calibrated.
"""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np
import scipy.special
from jaxtyping import Bool, Float

from neurodyn.validation import fail, finite_array, in_range, positive, positive_int
from neurodyn.models.base import NeurodynEstimator
from neurodyn.models.stim_lvm.initial import initial_delta, initial_latents, whitened_latents
from neurodyn.models.stim_lvm.inputs import broadcast_counts, delta_weights, paired_data
from neurodyn.models.stim_lvm.likelihood import EPS, ETA, KAPPA, KAPPA_BIN_MS, rectify, steepest_point
from neurodyn.models.stim_lvm.objective import VARIANTS, ObjectiveSettings, model_latents, model_rates
from neurodyn.models.stim_lvm.optimize import lbfgs_jax, lbfgs_scipy, lbfgs_subset
from neurodyn.models.stim_lvm.posterior import LaplacePosterior
from neurodyn.models.stim_lvm.prior import gp_cholesky, rotation_from_params, segment_labels

__all__ = ["StimLVM"]


class StimLVM(LaplacePosterior, NeurodynEstimator):
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

    Contract (`neurodyn.models.base`). Data ``X`` are paired trial-averaged rates: ``xhat`` (conditions, time, neurons)
    with ``yhat``, ``n_x``, ``n_y`` as further arguments, or a dict with those keys (as `sample`
    returns). ``fit(X, yhat, n_x, n_y, t_ms, stim_on_ms, stim_off_ms)`` returns self.
    ``transform(X)``: posterior-mode latents (the Laplace posterior mean) of new data of the same
    conditions, inferred with the readout, d, Delta (and B_t, R, z^cent) held at their fitted values,
    returned as ``(2 conditions, time, latents)``: the non-stimulated conditions, then their stimulated counterparts.
    ``predict()`` the fitted rates ``(2 conditions, time, neurons)`` in the same order (``predict(X)``: from the latents of
    ``transform(X)``). ``score(X)``: the mean Poisson log-likelihood per observed (data set, condition,
    time) bin of the trial-summed counts ``k = m dt yhat`` under the fitted rates, higher is better::

        score = 1/n_bins sum_{c,t,d: m > 0} [ k log(lam) - lam - log k! ],   lam = m dt g(rate)

    with g the §8.4 rectification (the shaped likelihood of §8.4 is the fitting objective; the §8.7
    deviance is `metrics.deviance_per_observation`). ``sample(n, seed)``: n new trials per condition
    drawn from the fitted rates, ``Poisson(dt g(rate))`` per bin.

    Fitted attributes: ``readout_`` (neurons x latents), ``offset_`` (neurons), ``z_``, ``z_stim_`` (conditions x time x latents), ``delta_``
    (time x neurons), ``rates_`` (x, y), ``objective_``, ``n_iter_``, ``grad_norm_``, ``converged_`` (the
    optimiser's own success flag: SciPy's ``res.success``, or the gradient criterion of the JAX loop),
    ``status_`` and ``message_`` (the optimiser's status code and message); contraction variant also
    ``centroid_`` (latents), ``b_`` (time x latents), ``rotation_`` (latents x latents).
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

    def _static(self, dt_s: float) -> ObjectiveSettings:
        return ObjectiveSettings(self.variant, self.kappa_hz, float(self.eps), float(self.eta), float(self.sigma_b),
                       float(self.delta_ridge), float(dt_s))

    def _build_data(self, C, xhat, yhat, nx, ny, phx, phy):
        kh, eps = self.kappa_hz, float(self.eps)
        return {"C": jnp.asarray(C), "L": jnp.asarray(self._L), "Ls": jnp.asarray(self._Ls),
                "xhat": jnp.asarray(xhat), "yhat": jnp.asarray(yhat), "n_x": jnp.asarray(nx),
                "n_y": jnp.asarray(ny), "phi_x": jnp.asarray(phx), "phi_y": jnp.asarray(phy),
                "Ux": steepest_point(jnp.asarray(xhat), kh, eps), "Uy": steepest_point(jnp.asarray(yhat), kh, eps)}

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Float[np.ndarray, "conditions time neurons"] | dict,
            yhat: Float[np.ndarray, "conditions time neurons"] | None = None, n_x: Float[np.ndarray, "..."] | float | None = None,
            n_y: Float[np.ndarray, "..."] | float | None = None, t_ms: Float[np.ndarray, "time"] | None = None, stim_on_ms: float | None = None,
            stim_off_ms: float | None = None, *, bin_ms: float | None = None,
            phi_x: Float[np.ndarray, "..."] | float = 0.0, phi_y: Float[np.ndarray, "..."] | float = 1.0,
            readout: Float[np.ndarray, "neurons latents"] | None = None,
            offset: Float[np.ndarray, "neurons"] | None = None, init: "StimLVM | None" = None) -> "StimLVM":
        """Fit to non-stimulated ``X`` (= xhat) and stimulated ``yhat`` rates (conditions, time, neurons) in spikes/s.

        ``n_x``, ``n_y``: trials behind each entry (scalar, (conditions,) or (conditions, time, neurons); 0
        marks a missing entry).
        ``t_ms`` (time,) bin times; stimulation lasts ``[stim_on_ms, stim_off_ms)``. ``phi_x``/``phi_y``:
        weights of Delta in each data set (§8.3 shuffle null). ``readout``/``offset`` fix C (and the
        initial d) instead of running factor analysis; ``init`` warm-starts from a fitted `StimLVM` of
        the same variant and shapes.
        """
        self._validate_params()
        xhat, yhat, n_x, n_y = paired_data(X, yhat, n_x, n_y)
        xhat = finite_array("xhat", xhat)
        yhat = finite_array("yhat", yhat)
        if xhat.ndim != 3:
            fail("xhat", xhat, "trial-averaged rates (conditions, time, neurons)")
        if yhat.shape != xhat.shape:
            fail("yhat", yhat, f"the shape of xhat {xhat.shape}")
        if np.any(xhat < 0) or np.any(yhat < 0):
            fail("xhat", xhat, "non-negative observed rates (spikes/s) in xhat and yhat")
        n_cond, T, N = xhat.shape
        K = int(self.n_latents)
        if K > N:
            fail("n_latents", K, f"at most the number of neurons {N}")
        if t_ms is None:
            fail("t_ms", t_ms, f"{T} increasing bin times (ms)")
        t = finite_array("t_ms", t_ms, ndim=1)
        if t.shape != (T,) or (T > 1 and np.any(np.diff(t) <= 0)):
            fail("t_ms", t, f"{T} increasing bin times")
        if stim_on_ms is None or stim_off_ms is None or not stim_on_ms < stim_off_ms:
            fail("stim_off_ms", stim_off_ms, f"a time after stim_on_ms={stim_on_ms}")
        bin_ms = positive("bin_ms", float(np.median(np.diff(t))) if bin_ms is None and T > 1 else (bin_ms or 20.0))
        nx = broadcast_counts("n_x", n_x, xhat.shape)
        ny = broadcast_counts("n_y", n_y, yhat.shape)
        seg = segment_labels(t, stim_on_ms, stim_off_ms)
        if not np.any(seg == 1):
            fail("stim_on_ms", stim_on_ms, f"a stimulation window containing bins of t_ms [{t[0]}, {t[-1]}]")
        phx, phy = delta_weights("phi_x", phi_x, n_cond, N), delta_weights("phi_y", phi_y, n_cond, N)
        r = int(self.delta_rank)
        dA0, dB0 = initial_delta(xhat, yhat, phx, phy, r)
        C, d0, zx0, zy0 = initial_latents(xhat, yhat, phx, phy, dA0 @ dB0.T, K, int(self.seed), readout, offset)
        self._L = gp_cholesky(t, self.tau_ms)
        self._Ls = gp_cholesky(t, self.tau_ms, seg)
        self.t_ms_, self.bin_ms_, self.segments_ = t, bin_ms, seg
        self.stim_on_ms_, self.stim_off_ms_ = float(stim_on_ms), float(stim_off_ms)
        self.readout_ = C
        data = self._build_data(C, xhat, yhat, nx, ny, phx, phy)
        st = self._static(bin_ms / 1000.0)
        if init is not None:
            if not isinstance(init, StimLVM) or init.variant != self.variant or init.params_["v"].shape != (n_cond, T, K):
                fail("init", type(init).__name__, f"a fitted StimLVM ({self.variant}) with latents {(n_cond, T, K)}")
            params = {k: jnp.asarray(v) for k, v in init.params_.items()}
        else:
            rng = np.random.default_rng(int(self.seed))
            params = {"v": jnp.asarray(whitened_latents(zx0, self._L, n_cond)), "d": jnp.asarray(d0),
                      "dA": jnp.asarray(dA0 + 0.01 * rng.standard_normal((T, r))),
                      "dB": jnp.asarray(dB0)}
            if self.variant == "unconstrained":
                params["vs"] = jnp.asarray(whitened_latents(zy0, self._Ls, n_cond))
            else:
                params["w"] = jnp.zeros((T, K))
                params["cent"] = jnp.zeros(K)
                params["rot"] = jnp.asarray(0.01 * rng.standard_normal(K * (K - 1) // 2))
        solver = lbfgs_scipy if self.optimizer == "scipy" else lbfgs_jax
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
        z, zs = model_latents(params, self._data, st)
        x, y = model_rates(params, self._data, st)
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
        return xhat, yhat, broadcast_counts("n_x", n_x, shape), broadcast_counts("n_y", n_y, shape)

    def _rates_from(self, z, zs):
        C, d, delta = self.readout_, self.offset_, self.delta_
        x = z @ C.T + d + self.phi_x_ * delta
        y = zs @ C.T + d + self.phi_y_ * delta
        return np.concatenate([x, y], 0)

    def transform(self, X: Float[np.ndarray, "conditions time neurons"] | dict,
                  yhat: Float[np.ndarray, "conditions time neurons"] | None = None, n_x: Float[np.ndarray, "..."] | float | None = None,
                  n_y: Float[np.ndarray, "..."] | float | None = None) -> Float[np.ndarray, "conditions2 time latents"]:
        """Posterior-mode latents of new data of the fitted conditions, ``(2 conditions, time, latents)`` (class docstring):
        the objective of `fit` minimised over v (and v~, unconstrained variant) only."""
        self._check_fitted("params_")
        xhat, yhat, nx, ny = self._check_same_conditions(*paired_data(X, yhat, n_x, n_y))
        data = self._build_data(self.readout_, xhat, yhat, nx, ny, self.phi_x_, self.phi_y_)
        st = self._static(self.bin_ms_ / 1000.0)
        keys = ("v", "vs") if self.variant == "unconstrained" else ("v",)
        params = {k: jnp.asarray(v) for k, v in self.params_.items()}
        p, _ = lbfgs_subset(params, keys, data, st, int(self.max_iter), float(self.tol))
        z, zs = model_latents(p, data, st)
        return np.concatenate([np.asarray(z), np.asarray(zs)], 0)

    def predict(self, X: Float[np.ndarray, "conditions time neurons"] | dict | None = None,
                yhat: Float[np.ndarray, "conditions time neurons"] | None = None, n_x: Float[np.ndarray, "..."] | float | None = None,
                n_y: Float[np.ndarray, "..."] | float | None = None) -> Float[np.ndarray, "conditions2 time neurons"]:
        """Rates ``(2 conditions, time, neurons)`` in spikes/s before the rectification g: non-stimulated conditions, then
        stimulated. Without data: the fitted rates ``C z + d + phi Delta``; with data: those of the
        latents `transform` infers from it."""
        self._check_fitted("params_")
        if X is None:
            return self._rates_from(self.z_, self.z_stim_)
        lat = self.transform(X, yhat, n_x, n_y)
        n_cond = self.z_.shape[0]
        return self._rates_from(lat[:n_cond], lat[n_cond:])

    def score(self, X: Float[np.ndarray, "conditions time neurons"] | dict,
              yhat: Float[np.ndarray, "conditions time neurons"] | None = None, n_x: Float[np.ndarray, "..."] | float | None = None,
              n_y: Float[np.ndarray, "..."] | float | None = None) -> float:
        """Mean Poisson log-likelihood per observed bin of data of the fitted conditions under the fitted
        rates (class docstring; higher is better)."""
        self._check_fitted("params_")
        xhat, yhat, nx, ny = self._check_same_conditions(*paired_data(X, yhat, n_x, n_y))
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

        Returns a dict (as `simulate.stimulated_dataset`): ``x_trials``, ``y_trials`` (conditions, n, time, neurons) in
        spikes/s (count / dt), their averages ``xhat``, ``yhat`` and trial counts ``n_x``, ``n_y``.
        """
        self._check_fitted("params_")
        n = positive_int("n", n)
        dt = self.bin_ms_ / 1000.0
        rates = self.predict()
        g = np.asarray(rectify(jnp.asarray(rates), self.kappa_hz, float(self.eps)))
        n_cond = self.z_.shape[0]
        rng = np.random.default_rng(seed)
        out = {}
        for name, gi in (("x", g[:n_cond]), ("y", g[n_cond:])):
            tr = rng.poisson(np.broadcast_to(dt * gi[:, None], (n_cond, n) + gi.shape[1:])) / dt
            out[f"{name}_trials"] = tr
            out[f"{name}hat"] = tr.mean(1)
            out[f"n_{name}"] = np.full(gi.shape, float(n))
        return out

    def window_mask(self, max_ms: float | None = 200.0) -> Bool[np.ndarray, "time"]:
        """Bins of the stimulation interval, truncated at ``max_ms`` after onset (§8.5)."""
        self._check_fitted("params_")
        m = self.segments_ == 1
        if max_ms is not None:
            m &= self.t_ms_ < self.stim_on_ms_ + max_ms
        return m
