"""Summaries of a fitted `StimLVM` (seed 001 Methods §8.5-§8.8).

* §8.5 effective contraction factor. With Zbar_t, Zbar~_t the latents x conditions matrices at time t centred across
  conditions, and C the readout::

      beta_t^2 = sum_n Var_c[(C z~_t)_n] / sum_n Var_c[(C z_t)_n] = |C Zbar~_t|_F^2 / |C Zbar_t|_F^2

  Unconstrained model: confidence intervals from posterior (Laplace) samples of Z and Z~. Contraction
  model: centring removes z^cent, so ``C Zbar~_t = C R B_t R^T Zbar_t`` and with M_t = R^T Zbar_t,
  G = (C R)^T (C R)::

      beta_t^2 = b_t^T Q_t b_t / |C Zbar_t|_F^2,    Q_t = G o (M_t M_t^T)     (o: Hadamard product)

  (the sum over neurons and conditions of the text's Q_{n,c,t}). b_t ~ N(m, S) under the posterior, so
  beta_t^2 is a generalised chi-square: with S^{1/2} Q S^{1/2} = P diag(lam) P^T and delta =
  P^T S^{-1/2} m, ``b^T Q b = sum_j lam_j (u_j + delta_j)^2``, u ~ N(0, I); its CDF is computed by
  Imhof's (1961) inversion formula.
* §8.6 distortion: Procrustes superposition (translation, rotation, reflection; no scaling) of the
  latents x (conditions time) stimulated latents onto the non-stimulated ones, projection through C and the Euclidean
  distance summed over conditions and peri-stimulation bins::

      D = sum_{c, t in window} | C (T (z~_{c,t} - mean z~) + mean z - z_{c,t}) |_2,    T^T T = I

  significance against the 95th percentile of the same metric under the §8.3 nulls.
* §8.7 Poisson deviance per observation with a jackknife SE over neurons (`likelihood.poisson_deviance`).
* §8.8 single-trial analysis: correlation matrix distance (Herdin et al. 2005)
  ``d_corr(A, B) = 1 - tr(A B) / (|A|_F |B|_F)`` between residual covariances (permutation test) and
  between the non-stim-whitened stimulation covariances ``Psi = Sigma_N^{-1/2} Sigma_S Sigma_N^{-1/2}``
  of condition means and of residuals (null: random rotations Q of the stimulated residuals,
  Sigma_s -> Q Sigma_s Q^T).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.integrate
import scipy.linalg
import scipy.optimize
from jaxtyping import Bool, Float, Int
from scipy.stats import special_ortho_group

from neurodyn.validation import fail, finite_array, in_range, positive_int
from neurodyn.models.stim_lvm.likelihood import poisson_deviance

if TYPE_CHECKING:
    from neurodyn.models.stim_lvm.model import StimLVM

__all__ = ["contraction_factor", "contraction_factor_ci", "gen_chi2_params", "gen_chi2_cdf", "gen_chi2_ppf",
           "procrustes_align", "distortion", "null_threshold", "deviance_per_observation",
           "correlation_matrix_distance", "single_trial_covariance_tests"]


def contraction_factor(z: Float[np.ndarray, "*batch conditions time latents"], z_stim: Float[np.ndarray, "*batch conditions time latents"],
                       readout: Float[np.ndarray, "neurons latents"]) -> Float[np.ndarray, "*batch time"]:
    """``beta_t = |C Zbar~_t|_F / |C Zbar_t|_F`` for latents (..., conditions, time, latents); returns
    (..., time)."""
    z = np.asarray(z, float)
    zs = np.asarray(z_stim, float)
    if z.shape != zs.shape or z.ndim < 3 or z.shape[-3] < 2:
        fail("z_stim", zs, f"latents of the shape of z {z.shape} with at least 2 conditions")
    C = np.asarray(readout, float)
    zc = z - z.mean(-3, keepdims=True)
    zsc = zs - zs.mean(-3, keepdims=True)
    num = np.sum((zsc @ C.T) ** 2, axis=(-3, -1))
    den = np.sum((zc @ C.T) ** 2, axis=(-3, -1))
    if np.any(den <= 0):
        fail("z", z, "latents that vary across conditions at every time")
    return np.sqrt(num / den)


# --------------------------------------------------------------------------- generalised chi-square
def gen_chi2_params(mean: Float[np.ndarray, "dim"], cov: Float[np.ndarray, "dim dim"],
                    Q: Float[np.ndarray, "dim dim"]) -> tuple[Float[np.ndarray, "dim"], Float[np.ndarray, "dim"]]:
    """Weights and non-centralities of ``b^T Q b``, ``b ~ N(mean, cov)`` (Q, cov symmetric PSD)."""
    m = np.asarray(mean, float)
    S = np.asarray(cov, float)
    Q = np.asarray(Q, float)
    ev, EV = np.linalg.eigh(0.5 * (S + S.T))
    ev = np.clip(ev, 0.0, None)
    keep = ev > ev.max() * 1e-12
    Sh = (EV[:, keep] * np.sqrt(ev[keep])) @ EV[:, keep].T
    Sih = (EV[:, keep] / np.sqrt(ev[keep])) @ EV[:, keep].T
    lam, P = np.linalg.eigh(Sh @ (0.5 * (Q + Q.T)) @ Sh)
    delta = P.T @ (Sih @ m)
    # the part of the mean outside the range of S contributes a constant (zero-variance) term
    m_out = m - Sh @ (Sih @ m)
    const = float(m_out @ Q @ m_out + 2 * m_out @ Q @ (Sh @ (Sih @ m)))
    return lam, delta ** 2, const


def gen_chi2_cdf(x: float, weights: Float[np.ndarray, "dim"], noncentrality: Float[np.ndarray, "dim"],
                 const: float = 0.0) -> float:
    """``P(sum_j w_j chi2_1(nc_j) + const <= x)`` by Imhof's formula (Simpson's rule on a grid that
    resolves the oscillation of theta and reaches where the envelope 1/(u rho(u)) < 1e-6)::

        P(Q > x) = 1/2 + (1/pi) int_0^inf sin(theta(u)) / (u rho(u)) du
        theta(u) = 1/2 sum_j [atan(w_j u) + nc_j w_j u / (1 + w_j^2 u^2)] - x u / 2
        rho(u)   = prod_j (1 + w_j^2 u^2)^(1/4) exp(1/2 sum_j nc_j w_j^2 u^2 / (1 + w_j^2 u^2))
    """
    w = np.asarray(weights, float)
    nc = np.asarray(noncentrality, float)
    keep = np.abs(w) > 1e-14 * max(np.abs(w).max(), 1e-300)
    w, nc = w[keep], nc[keep]
    xx = float(x) - const
    if w.size == 0:
        return float(xx >= 0)

    dmax = 0.5 * (abs(xx) + float(np.sum(np.abs(w) * (1 + nc))))      # bound on |theta'(u)|

    def envelope(u):
        wu2 = np.minimum((w * u) ** 2, 1e300)
        return np.exp(-0.25 * np.sum(np.log1p(wu2)) - 0.5 * np.sum(nc * wu2 / (1 + wu2))) / u

    u_max = 1.0 / max(np.abs(w).max(), 1e-300)
    while envelope(u_max) > 1e-6 and u_max < 1e12:
        u_max *= 2.0
    h = min(np.pi / max(dmax, 1e-300) / 12.0, u_max / 2000.0)
    n = int(min(np.ceil(u_max / h), 400_000)) // 2 * 2 + 1
    u = np.linspace(0.0, u_max, n)[1:]
    wu = u[:, None] * w[None, :]
    wu2 = wu ** 2
    theta = 0.5 * np.sum(np.arctan(wu) + nc * wu / (1 + wu2), 1) - 0.5 * xx * u
    logrho = 0.25 * np.sum(np.log1p(wu2), 1) + 0.5 * np.sum(nc * wu2 / (1 + wu2), 1)
    f0 = 0.5 * float(np.sum(w * (1 + nc))) - 0.5 * xx                  # limit of sin(theta)/u at u = 0
    vals = np.r_[f0, np.sin(theta) / (u * np.exp(logrho))]
    val = scipy.integrate.simpson(vals, dx=u[0])
    return float(np.clip(0.5 - val / np.pi, 0.0, 1.0))


def gen_chi2_ppf(q: float, weights: Float[np.ndarray, "dim"], noncentrality: Float[np.ndarray, "dim"],
                 const: float = 0.0) -> float:
    """Quantile of the generalised chi-square (root of `gen_chi2_cdf` - q, Brent's method)."""
    q = in_range("q", q, 0.0, 1.0, lo_open=True, hi_open=True)
    w = np.asarray(weights, float)
    nc = np.asarray(noncentrality, float)
    mean = float(np.sum(w * (1 + nc))) + const
    sd = float(np.sqrt(2 * np.sum(w ** 2 * (1 + 2 * nc))))
    lo = min(const, mean - 20 * sd) if np.any(w < 0) else const
    hi = mean + 20 * sd + 1e-12
    return float(scipy.optimize.brentq(lambda x: gen_chi2_cdf(x, w, nc, const) - q, lo, hi, xtol=1e-12 * max(hi, 1)))


def contraction_factor_ci(model: StimLVM, level: float = 0.95, n_samples: int = 200, seed: int = 0,
                          max_ms: float | None = 200.0) -> dict:
    """beta_t with a ``level`` confidence band and its mean over the stimulation window (§8.5).

    Unconstrained: percentiles over joint Laplace posterior samples of (Z, Z~) (full observed
    information). Contraction: per-bin generalised chi-square quantiles of beta_t^2 under the marginal
    posterior of b (full observed information, other parameters integrated out) at the fitted Z and R; the band of
    the window mean is taken from posterior samples of b. Returns ``beta``, ``lo``, ``hi`` (T,),
    ``mean``, ``mean_lo``, ``mean_hi`` (floats) and ``window`` (T,) bool.
    """
    level = in_range("level", level, 0.0, 1.0, lo_open=True, hi_open=True)
    a = (1 - level) / 2
    win = model.window_mask(max_ms)
    C = model.readout_
    beta = contraction_factor(model.z_, model.z_stim_, C)
    if model.variant == "unconstrained":
        z, zs = model.latent_posterior_samples(n_samples, seed)
        bs = contraction_factor(z, zs, C)
        lo, hi = np.quantile(bs, [a, 1 - a], axis=0)
        means = bs[:, win].mean(1)
    else:
        mean_b, cov_b = model.contraction_posterior()
        T, K = mean_b.shape
        R = model.rotation_
        G = (C @ R).T @ (C @ R)
        zc = model.z_ - model.z_.mean(0)
        lo, hi = np.empty(T), np.empty(T)
        for t in range(T):
            M = R.T @ zc[:, t].T
            Qt = G * (M @ M.T)
            den = float(np.sum((zc[:, t] @ C.T) ** 2))
            lam, nc, const = gen_chi2_params(mean_b[t], cov_b[t * K:(t + 1) * K, t * K:(t + 1) * K], Qt / den)
            lo[t] = np.sqrt(max(gen_chi2_ppf(a, lam, nc, const), 0.0))
            hi[t] = np.sqrt(max(gen_chi2_ppf(1 - a, lam, nc, const), 0.0))
        bsamp = model.contraction_posterior_samples(n_samples, seed)
        zsc = np.einsum("ctj,ntj,kj->nctk", zc @ R, bsamp, R)
        means = contraction_factor(np.broadcast_to(zc, zsc.shape), zsc, C)[:, win].mean(1)
    m_lo, m_hi = np.quantile(means, [a, 1 - a])
    return {"beta": beta, "lo": lo, "hi": hi, "mean": float(beta[win].mean()), "mean_lo": float(m_lo),
            "mean_hi": float(m_hi), "window": win}


# --------------------------------------------------------------------------- distortion (§8.6)
def procrustes_align(z: Float[np.ndarray, "conditions time latents"],
                     z_stim: Float[np.ndarray, "conditions time latents"]) -> tuple[
                         Float[np.ndarray, "conditions time latents"], Float[np.ndarray, "latents latents"]]:
    """Align z~ onto z (both (conditions, time, latents)) by translation and an orthogonal map (rotation or reflection,
    no scaling) via `scipy.linalg.orthogonal_procrustes`; returns ``(aligned z~, T)``."""
    z = finite_array("z", z)
    zs = finite_array("z_stim", z_stim)
    if z.shape != zs.shape or z.ndim != 3:
        fail("z_stim", zs, f"(conditions, time, latents) latents of the shape of z {z.shape}")
    K = z.shape[-1]
    A = z.reshape(-1, K)
    B = zs.reshape(-1, K)
    ma, mb = A.mean(0), B.mean(0)
    Rm, _ = scipy.linalg.orthogonal_procrustes(B - mb, A - ma)       # min |(B - mb) R - (A - ma)|_F
    return ((B - mb) @ Rm + ma).reshape(z.shape), Rm.T


def distortion(z: Float[np.ndarray, "conditions time latents"], z_stim: Float[np.ndarray, "conditions time latents"],
               readout: Float[np.ndarray, "neurons latents"], window: Bool[np.ndarray, "time"]) -> float:
    """§8.6 distortion: sum over conditions and window bins of ``|C (aligned z~ - z)|_2`` (spikes/s)."""
    aligned, _ = procrustes_align(z, z_stim)
    win = np.asarray(window, bool)
    if win.shape != (np.shape(z)[1],) or not win.any():
        fail("window", win, f"a non-empty boolean mask over the {np.shape(z)[1]} time bins")
    diff = (aligned - np.asarray(z))[:, win] @ np.asarray(readout, float).T
    return float(np.sum(np.linalg.norm(diff, axis=-1)))


def null_threshold(null_values: Float[np.ndarray, "draws"], percentile: float = 95.0) -> float:
    """The ``percentile`` of a null distribution of distortions (the significance threshold, §8.6)."""
    v = finite_array("null_values", null_values, ndim=1)
    if v.size < 2:
        fail("null_values", v, "at least 2 null distortions")
    return float(np.percentile(v, in_range("percentile", percentile, 0.0, 100.0)))


def deviance_per_observation(model: StimLVM) -> tuple[float, float]:
    """Poisson deviance per observation of the non-stimulated and stimulated data together, with its
    jackknife SE over neurons (§8.7)."""
    x, y = model.rates_
    rates = np.concatenate([x, y], 0)
    obs = np.concatenate([model.xhat_, model.yhat_], 0)
    n = np.concatenate([model.n_x_, model.n_y_], 0)
    return poisson_deviance(rates, obs, n, model.bin_ms_ / 1000.0, model.kappa_hz, model.eps)


# --------------------------------------------------------------------------- single trials (§8.8)
def correlation_matrix_distance(A: Float[np.ndarray, "dim dim"], B: Float[np.ndarray, "dim dim"]) -> float:
    """``d_corr = 1 - tr(A B) / (|A|_F |B|_F)``: 0 when A and B are equal up to scale, at most 1."""
    A = finite_array("A", A, ndim=2)
    B = finite_array("B", B, ndim=2)
    if A.shape != B.shape or A.shape[0] != A.shape[1]:
        fail("B", B, f"a square matrix of the shape of A {A.shape}")
    return float(1.0 - np.trace(A @ B) / (np.linalg.norm(A) * np.linalg.norm(B)))


def _inv_sqrt(S):
    ev, V = np.linalg.eigh(0.5 * (S + S.T))
    if ev.min() <= 0:
        fail("covariance", S, "a positive definite covariance (more trials or conditions than latents)")
    return (V / np.sqrt(ev)) @ V.T


def single_trial_covariance_tests(states_x: Float[np.ndarray, "trials latents"], cond_x: Int[np.ndarray, "trials"],
                                  states_y: Float[np.ndarray, "trials2 latents"], cond_y: Int[np.ndarray, "trials2"],
                                  n_perm: int = 1000, seed: int = 0) -> dict:
    """§8.8 tests on single-trial latent states at the last stimulation bin.

    ``states_x`` (n_trials, K) non-stimulated, ``states_y`` stimulated, with condition labels. Returns
    ``cmd_resid`` = d_corr(Sigma_n, Sigma_s) with its permutation p-value ``p_resid`` (share of label
    permutations of the pooled residuals giving a distance >= the observed one), and ``cmd_psi`` =
    d_corr(Psi_cond-avg, Psi_resid) with ``p_psi``, the share of random rotations of the stimulated
    residuals giving a distance <= the observed one (small p: the two transformations are alike).
    """
    X = finite_array("states_x", states_x, ndim=2)
    Y = finite_array("states_y", states_y, ndim=2)
    cx, cy = np.asarray(cond_x), np.asarray(cond_y)
    if cx.shape != (X.shape[0],) or cy.shape != (Y.shape[0],):
        fail("cond_x", cx, "one condition label per trial of states_x and states_y")
    n_perm = positive_int("n_perm", n_perm)
    K = X.shape[1]

    def split(S, c):
        labels = np.unique(c)
        means = np.stack([S[c == u].mean(0) for u in labels])
        resid = S - means[np.searchsorted(labels, c)]
        return means, resid

    mx, rx = split(X, cx)
    my, ry = split(Y, cy)
    Sn, Ss = np.cov(rx.T), np.cov(ry.T)
    SN, SS = np.cov(mx.T), np.cov(my.T)
    cmd_resid = correlation_matrix_distance(Sn, Ss)
    rng = np.random.default_rng(seed)
    pooled = np.concatenate([rx, ry])
    null = np.empty(n_perm)
    for i in range(n_perm):
        p = rng.permutation(pooled.shape[0])
        null[i] = correlation_matrix_distance(np.cov(pooled[p[:rx.shape[0]]].T), np.cov(pooled[p[rx.shape[0]:]].T))
    p_resid = float((1 + np.sum(null >= cmd_resid)) / (n_perm + 1))
    WN, Wn = _inv_sqrt(SN), _inv_sqrt(Sn)
    psi_cond = WN @ SS @ WN
    psi_resid = Wn @ Ss @ Wn
    cmd_psi = correlation_matrix_distance(psi_cond, psi_resid)
    Qs = special_ortho_group.rvs(K, size=n_perm, random_state=rng) if K > 1 else np.ones((n_perm, 1, 1))
    null_psi = np.array([correlation_matrix_distance(psi_cond, Wn @ (Q @ Ss @ Q.T) @ Wn) for Q in Qs.reshape(-1, K, K)])
    p_psi = float((1 + np.sum(null_psi <= cmd_psi)) / (n_perm + 1))
    return {"cmd_resid": cmd_resid, "p_resid": p_resid, "cmd_psi": cmd_psi, "p_psi": p_psi,
            "sigma_n": Sn, "sigma_s": Ss, "sigma_N": SN, "sigma_S": SS}
