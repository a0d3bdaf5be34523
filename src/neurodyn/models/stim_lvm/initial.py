"""The readout and the initial values of a `StimLVM` fit (seed 001 Methods §8.1).

* Readout: C (neurons x latents) is fixed by factor analysis (scikit-learn ``FactorAnalysis``) on the
  non-stimulated rates, rotated so that its columns are orthogonal and ordered by the variance they
  explain: ``C = U S`` from the SVD ``W = U S V^T`` of the FA loadings, the FA latents rotated by V^T
  (`fa_readout`).
* Delta (derived here): under the additive hypothesis ``yhat_c - xhat_c = w_c Delta + noise`` with
  ``w_c = phi^y_c - phi^x_c``, the ridge estimate ``Delta = sum_c w_c (yhat_c - xhat_c) /
  (sum_c w_c^2 + 1)`` (the ridge 1 keeps shuffled data, where w_c ~ 0, from amplifying noise) and its
  rank-r truncated SVD ``A = U_r S_r^{1/2}``, ``B = V_r S_r^{1/2}`` (`initial_delta`).
* Latents: the FA latents (or the pseudo-inverse projection through a given readout) of the rates
  less ``phi Delta`` (`initial_latents`), whitened by the GP posterior mean
  ``v = L^T (L L^T + s I)^{-1} z`` (`whitened_latents`; plain ``L^{-1} z`` would turn the latents'
  bin-to-bin noise into a huge prior cost |v|^2 / 2 and start the optimiser far from the optimum).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float
from sklearn.decomposition import FactorAnalysis

from neurodyn.validation import fail, finite_array

__all__ = ["fa_readout", "initial_delta", "initial_latents", "whitened_latents"]


def fa_readout(rates_2d: Float[np.ndarray, "batch neurons"], n_latents: int,
               seed: int = 0) -> tuple[Float[np.ndarray, "neurons latents"], Float[np.ndarray, "neurons"],
                                       FactorAnalysis, Float[np.ndarray, "latents latents"]]:
    """Factor analysis readout (§8.1): returns ``(C, d, fa, V)`` with C = U S ordered by variance.

    ``rates_2d`` is (samples, neurons). FA loadings ``W`` (neurons x latents) = U S V^T; latents of the
    ordered readout are ``V^T z_fa``, so ``fa.transform(X) @ V`` gives them.
    """
    fa = FactorAnalysis(n_components=n_latents, random_state=seed)
    fa.fit(rates_2d)
    U, S, Vt = np.linalg.svd(fa.components_.T, full_matrices=False)
    sign = np.sign(U[np.argmax(np.abs(U), axis=0), np.arange(U.shape[1])])
    U, Vt = U * sign, Vt * sign[:, None]
    return U * S, fa.mean_.copy(), fa, Vt.T


def initial_delta(xhat: Float[np.ndarray, "conditions time neurons"],
                  yhat: Float[np.ndarray, "conditions time neurons"],
                  phi_x: Float[np.ndarray, "conditions 1 #neurons"], phi_y: Float[np.ndarray, "conditions 1 #neurons"],
                  rank: int) -> tuple[Float[np.ndarray, "time rank"], Float[np.ndarray, "neurons rank"]]:
    """Factors ``(A, B)`` of the initial ``Delta = A B^T``: the rank-``rank`` SVD of the ridge estimate
    (module docstring), zero-padded when the data have fewer singular values."""
    n_cond, _, n_neurons = xhat.shape
    wc = np.broadcast_to(phi_y - phi_x, (n_cond, 1, n_neurons))
    diff = np.sum(wc * (yhat - xhat), 0) / (np.sum(wc ** 2, 0) + 1.0)
    Ud, Sd, Vdt = np.linalg.svd(diff, full_matrices=False)
    dA0 = Ud[:, :rank] * np.sqrt(Sd[:rank])
    dB0 = Vdt[:rank].T * np.sqrt(Sd[:rank])
    if dA0.shape[1] < rank:
        dA0 = np.pad(dA0, ((0, 0), (0, rank - dA0.shape[1])))
        dB0 = np.pad(dB0, ((0, 0), (0, rank - dB0.shape[1])))
    return dA0, dB0


def initial_latents(xhat: Float[np.ndarray, "conditions time neurons"],
                    yhat: Float[np.ndarray, "conditions time neurons"],
                    phi_x: Float[np.ndarray, "conditions 1 #neurons"], phi_y: Float[np.ndarray, "conditions 1 #neurons"],
                    delta: Float[np.ndarray, "time neurons"], n_latents: int, seed: int,
                    readout: Float[np.ndarray, "neurons latents"] | None = None,
                    offset: Float[np.ndarray, "neurons"] | None = None) -> tuple:
    """``(C, d, z_x, z_y)``: the readout, the initial offset and the latents (conditions * time, latents)
    of both data sets less ``phi Delta``: by factor analysis (`fa_readout`), or through a given
    ``readout`` by its pseudo-inverse with ``offset`` (default: the mean non-stimulated rate)."""
    n_neurons = xhat.shape[-1]
    if readout is None:
        C, d0, fa, V = fa_readout(xhat.reshape(-1, n_neurons), n_latents, seed)
        zx0 = fa.transform((xhat - phi_x * delta).reshape(-1, n_neurons)) @ V
        zy0 = fa.transform((yhat - phi_y * delta).reshape(-1, n_neurons)) @ V
        return C, d0, zx0, zy0
    C = finite_array("readout", readout, ndim=2)
    if C.shape != (n_neurons, n_latents):
        fail("readout", C, f"a ({n_neurons}, {n_latents}) readout")
    d0 = np.asarray(xhat.reshape(-1, n_neurons).mean(0) if offset is None else finite_array("offset", offset))
    pinv = np.linalg.pinv(C)
    zx0 = ((xhat - phi_x * delta).reshape(-1, n_neurons) - d0) @ pinv.T
    zy0 = ((yhat - phi_y * delta).reshape(-1, n_neurons) - d0) @ pinv.T
    return C, d0, zx0, zy0


def whitened_latents(z: Float[np.ndarray, "batch latents"], chol: Float[np.ndarray, "time time"],
                     n_conditions: int, noise: float = 0.1) -> Float[np.ndarray, "conditions time latents"]:
    """Whitened GP posterior mean ``v = L^T (L L^T + noise I)^{-1} z`` of latents ``z`` given as
    (conditions * time, latents) rows (module docstring)."""
    T = chol.shape[0]
    K = z.shape[-1]
    zt = z.reshape(n_conditions, T, K).transpose(1, 0, 2).reshape(T, -1)
    v = chol.T @ np.linalg.solve(chol @ chol.T + noise * np.eye(T), zt)
    return v.reshape(T, n_conditions, K).transpose(1, 0, 2)
