"""Independent reference for the gain-learning experiments: eqs. (3.1)-(3.4) of thesis seed 003 integrated
by SciPy's adaptive DOP853 (not the library's fixed-step JAX RK4) and 1 - R^2 by scikit-learn's r2_score,
from the network arrays a run writes (`neurodyn.learning.network_file.network_arrays`)."""

import numpy as np
from scipy.integrate import solve_ivp
from sklearn.metrics import r2_score


def reference_outputs(a, gains, prefix="network_"):
    """Outputs ``(readouts, T)`` of the saved network at ``gains`` (N,)."""
    W, x0, t = a[prefix + "W"], a[prefix + "x0"], a[prefix + "t_ms"]
    tau, r0, rmax = a[prefix + "tau"], float(a[prefix + "r0"]), float(a[prefix + "rmax"])
    m, b = np.atleast_2d(a[prefix + "m"]), np.atleast_1d(a[prefix + "b"])
    g = np.asarray(gains, float)

    def f(x, gg):
        return np.where(x < 0, r0 * np.tanh(gg * x / r0), (rmax - r0) * np.tanh(gg * x / (rmax - r0)))

    sol = solve_ivp(lambda _, x: (-x + W @ f(x, g)) / tau, (0.0, float(t[-1])), x0, t_eval=t,
                    method="DOP853", rtol=1e-10, atol=1e-10)
    M = m.shape[1]
    return m @ f(sol.y[:M], g[:M, None]) + b[:, None]


def reference_error(a, gains, target, prefix="network_"):
    """Mean over outputs of ``1 - R^2`` (Appendix D) of the saved network at ``gains`` against ``target``."""
    z = reference_outputs(a, gains, prefix)
    y = np.atleast_2d(target)
    return float(np.mean([1.0 - r2_score(y[k], z[k]) for k in range(y.shape[0])]))
