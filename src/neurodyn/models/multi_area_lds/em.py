"""EM steps of the coupled multi-area LDS with its block structure (seed 000; derived here).

The E-step is the Kalman/RTS smoother of `neurodyn.models.lds.inference.kalman_smoother_batch`. With
smoothed moments summed over trials and time, ``S_zz = sum E[z z^T]`` etc., the expected complete-data
log-likelihood separates into one term per area for the dynamics (Q block-diagonal) and one per neuron
for the emissions (R diagonal), each maximised exactly by `m_step`:

* dynamics of area a: rows ``F_a = [A[a, :], B_a]`` regress ``x_a(t)`` on ``z_a(t) = [x(t-1); u_a(t)]``
  (all areas' previous states, only area a's inputs). Maximising
  ``-n/2 log|Q_a| - 1/2 tr(Q_a^{-1} sum E[(x_a - F_a z_a)(x_a - F_a z_a)^T])`` gives the constrained
  least-squares solution

      F_a = (sum E[x_a(t) z_a(t)^T]) (sum E[z_a(t) z_a(t)^T])^{-1}
      Q_a = (sum E[x_a(t) x_a(t)^T] - F_a sum E[z_a(t) x_a(t)^T]) / n

  (the zero blocks of B are enforced by leaving other areas' inputs out of z_a; the zero blocks of Q by
  fitting Q_a separately);
* emissions of area a: ``[C_a, d_a] = (sum y_a E[s_a]^T)(sum E[s_a s_a^T])^{-1}`` with
  ``s_a = [x_a; 1]`` (only area a's latents: C block-diagonal), and
  ``R_a = diag(sum y_a y_a^T - [C_a, d_a] sum E[s_a] y_a^T) / n``;
* initial state: ``m0`` = mean of E[x(0)], ``S0`` = mean of E[x(0) x(0)^T] - m0 m0^T.

Initialisation (`initial_params`, deterministic): PCA of each area's activity gives C_a and latent
estimates, then the same block least squares on those estimates gives A, B and Q.

Offsets ``po``, ``ko``, ``mo`` (`params.block_offsets`) locate each area's neurons, latents and inputs.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from jaxtyping import Float, Int
from sklearn.decomposition import PCA

from neurodyn.models.lds.inference import LDSParams, SmootherResult

__all__ = ["initial_params", "m_step"]


def initial_params(Y: Float[np.ndarray, "trials time neurons"], U: Float[np.ndarray, "trials time inputs"],
                   po: Int[np.ndarray, "..."], ko: Int[np.ndarray, "..."], mo: Int[np.ndarray, "..."],
                   min_variance: float) -> LDSParams:
    """Per-area PCA for C, d, R and the latents, then block least squares for A, B, Q (module docstring)."""
    n_tr, T, N = Y.shape
    n_areas = len(ko) - 1
    K = ko[-1]
    C = np.zeros((N, K))
    d = Y.reshape(-1, N).mean(0)
    R = np.zeros(N)
    X = np.zeros((n_tr, T, K))
    for a in range(n_areas):
        ya = Y[:, :, po[a]:po[a + 1]].reshape(-1, po[a + 1] - po[a])
        pca = PCA(n_components=ko[a + 1] - ko[a], svd_solver="full").fit(ya)
        scale = np.sqrt(pca.explained_variance_)
        C[po[a]:po[a + 1], ko[a]:ko[a + 1]] = pca.components_.T * scale
        X[:, :, ko[a]:ko[a + 1]] = (pca.transform(ya) / scale).reshape(n_tr, T, -1)
        resid = ya - pca.inverse_transform(pca.transform(ya))
        R[po[a]:po[a + 1]] = np.maximum(resid.var(0), min_variance)
    Z = np.concatenate([X[:, :-1], U[:, 1:]], axis=2).reshape(-1, K + U.shape[2])
    Xn = X[:, 1:].reshape(-1, K)
    A = np.zeros((K, K))
    B = np.zeros((K, U.shape[2]))
    Q = np.zeros((K, K))
    for a in range(n_areas):
        cols = np.r_[np.arange(K), K + np.arange(mo[a], mo[a + 1])]
        rows = slice(ko[a], ko[a + 1])
        F = np.linalg.lstsq(Z[:, cols], Xn[:, rows], rcond=None)[0].T
        A[rows] = F[:, :K]
        B[rows, mo[a]:mo[a + 1]] = F[:, K:]
        res = Xn[:, rows] - Z[:, cols] @ F.T
        Q[rows, rows] = res.T @ res / res.shape[0] + min_variance * np.eye(ko[a + 1] - ko[a])
    m0 = X[:, 0].mean(0)
    S0 = np.cov(X[:, 0].T) if n_tr > 1 else np.eye(K)
    S0 = np.atleast_2d(S0) + 1e-3 * np.eye(K)
    return LDSParams(A, B, C, d, Q, R, m0, S0)


def m_step(Y: Float[np.ndarray, "trials time neurons"], U: Float[np.ndarray, "trials time inputs"], sm: SmootherResult,
           po: Int[np.ndarray, "..."], ko: Int[np.ndarray, "..."], mo: Int[np.ndarray, "..."],
           min_variance: float) -> LDSParams:
    """The exact block-structured M-step (module docstring) from the smoother output ``sm``."""
    means = np.asarray(sm.means)           # (trials, time, latents)
    covs = np.asarray(sm.covs)             # (time, latents, latents) shared by trials
    cross = np.asarray(sm.cross_covs)      # (time - 1, latents, latents): Cov(x_{t+1}, x_t)
    n_tr, T, K = means.shape
    N = Y.shape[2]
    n_in = U.shape[2]
    n_areas = len(ko) - 1
    prev, nxt = means[:, :-1].reshape(-1, K), means[:, 1:].reshape(-1, K)
    u_next = U[:, 1:].reshape(n_tr * (T - 1), n_in)
    S_pp = prev.T @ prev + n_tr * covs[:-1].sum(0)
    S_np = nxt.T @ prev + n_tr * cross.sum(0)
    S_nn = nxt.T @ nxt + n_tr * covs[1:].sum(0)
    S_pu = prev.T @ u_next
    S_nu = nxt.T @ u_next
    S_uu = u_next.T @ u_next
    n_dyn = prev.shape[0]
    A = np.zeros((K, K))
    B = np.zeros((K, n_in))
    Q = np.zeros((K, K))
    for a in range(n_areas):
        r = slice(ko[a], ko[a + 1])
        ua = slice(mo[a], mo[a + 1])
        Szz = np.block([[S_pp, S_pu[:, ua]], [S_pu[:, ua].T, S_uu[ua, ua]]])
        Sxz = np.hstack([S_np[r], S_nu[r, ua]])
        F = scipy.linalg.solve(Szz, Sxz.T, assume_a="pos").T
        A[r] = F[:, :K]
        B[r, ua] = F[:, K:]
        Qa = (S_nn[r, r] - F @ Sxz.T) / n_dyn
        Q[r, r] = 0.5 * (Qa + Qa.T) + min_variance * np.eye(ko[a + 1] - ko[a])
    allm = means.reshape(-1, K)
    yall = Y.reshape(-1, N)
    S_xx = allm.T @ allm + n_tr * covs.sum(0)
    S_x = allm.sum(0)
    S_yx = yall.T @ allm
    S_y = yall.sum(0)
    n_all = allm.shape[0]
    C = np.zeros((N, K))
    d = np.zeros(N)
    R = np.zeros(N)
    for a in range(n_areas):
        r = slice(ko[a], ko[a + 1])
        o = slice(po[a], po[a + 1])
        Sss = np.block([[S_xx[r, r], S_x[r, None]], [S_x[None, r], np.array([[n_all]])]])
        Sys = np.hstack([S_yx[o, r], S_y[o, None]])
        G = scipy.linalg.solve(Sss, Sys.T, assume_a="pos").T
        C[o, r] = G[:, :-1]
        d[o] = G[:, -1]
        R[o] = np.maximum((np.sum(yall[:, o] ** 2, 0) - np.sum(G * Sys, 1)) / n_all, min_variance)
    m0 = means[:, 0].mean(0)
    S0 = covs[0] + (means[:, 0] - m0).T @ (means[:, 0] - m0) / n_tr
    S0 = 0.5 * (S0 + S0.T) + min_variance * np.eye(K)
    return LDSParams(A, B, C, d, Q, R, m0, S0)
