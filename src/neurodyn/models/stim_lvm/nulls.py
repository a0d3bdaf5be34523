"""Null versions of the stimulation latent variable model (seed 001 Methods §8.3).

* Shuffle: the single trials of each pair of non-stimulated and stimulated conditions are pooled and
  their labels permuted (keeping the two trial counts). The fraction of true stimulation trials in each
  shuffled average is tracked, phi^x_c and phi^y_c, and the model is refitted with
  ``x = C z + d + phi^x Delta`` and ``y = C z~ + d + phi^y Delta``, so that the additive effect, now
  mixed into both averages, is explained by Delta and only noise separates z from z~.
* Poisson null: from the fitted unconstrained model set z~ = z, predict
  ``x = C z + d + phi^x Delta``, ``y = C z + d + phi^y Delta``, draw trial-summed counts
  ``k ~ Poisson(m dt g(rate))`` (g of §8.4) and refit z, z~ and Delta independently.

The Poisson null samples through the model's own g (floor eps = 0.5 spikes/s), while
`simulate.stimulated_dataset` censors simulated rates at zero; sampling the null from max(rate, 0)
instead lowers the quick `stim-lvm` additive thresholds (seed 0: 604 to 508; seed 1: 453 to 333, below
that case's distortion of 408; measured with 3 refits and counts simulated from max(rate, 0)).

In both, the distortion metric (§8.6) of each refit is a draw from its null distribution; the refits
keep the readout C of the original fit so all distortions are measured in the same neural space.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Bool, Float

from neurodyn.validation import fail, finite_array, positive_int
from neurodyn.models.stim_lvm.likelihood import rectify
from neurodyn.models.stim_lvm.metrics import distortion
from neurodyn.models.stim_lvm.model import StimLVM
from neurodyn.progress import progress

__all__ = ["shuffle_labels", "poisson_null_data", "refit", "null_distortions"]


def _trial_list(name, trials):
    if isinstance(trials, np.ndarray) and trials.ndim == 4:
        return [finite_array(name, tr) for tr in trials]
    out = [finite_array(f"{name}[{i}]", tr, ndim=3) for i, tr in enumerate(trials)]
    if not out:
        fail(name, trials, "single trials per condition ((conditions, trials, time, neurons) or a list of (trials_c, time, neurons))")
    return out


def shuffle_labels(x_trials: Float[np.ndarray, "conditions trials time neurons"] | list, y_trials: Float[np.ndarray, "conditions trials time neurons"] | list, seed: int = 0) -> dict:
    """One label shuffle (§8.3). ``x_trials``/``y_trials``: per condition (trials_c, time, neurons)
    single-trial rates.

    Returns ``xhat``, ``yhat`` (conditions, time, neurons) averages of the shuffled sets, trial counts
    ``n_x``, ``n_y`` (conditions,) and the tracked stimulated fractions ``phi_x``, ``phi_y`` (conditions,).
    """
    xs = _trial_list("x_trials", x_trials)
    ys = _trial_list("y_trials", y_trials)
    if len(xs) != len(ys):
        fail("y_trials", len(ys), f"{len(xs)} conditions like x_trials")
    rng = np.random.default_rng(seed)
    out = {k: [] for k in ("xhat", "yhat", "n_x", "n_y", "phi_x", "phi_y")}
    for xc, yc in zip(xs, ys):
        pooled = np.concatenate([xc, yc])
        stim = np.r_[np.zeros(len(xc)), np.ones(len(yc))]
        p = rng.permutation(len(pooled))
        ix, iy = p[:len(xc)], p[len(xc):]
        out["xhat"].append(pooled[ix].mean(0))
        out["yhat"].append(pooled[iy].mean(0))
        out["n_x"].append(len(ix))
        out["n_y"].append(len(iy))
        out["phi_x"].append(stim[ix].mean())
        out["phi_y"].append(stim[iy].mean())
    return {k: np.asarray(v, float) for k, v in out.items()}


def poisson_null_data(model: StimLVM, seed: int = 0) -> dict:
    """Synthetic data under z~ = z from a fitted unconstrained model (§8.3 Poisson null)."""
    if not isinstance(model, StimLVM) or not hasattr(model, "z_"):
        fail("model", type(model).__name__, "a fitted StimLVM")
    C, d, z, delta = model.readout_, model.offset_, model.z_, model.delta_
    x = z @ C.T + d + model.phi_x_ * delta
    y = z @ C.T + d + model.phi_y_ * delta
    dt = model.bin_ms_ / 1000.0
    rng = np.random.default_rng(seed)
    out = {}
    for name, rate, n in (("xhat", x, model.n_x_), ("yhat", y, model.n_y_)):
        lam = n * dt * np.asarray(rectify(rate, model.kappa_hz, model.eps))
        k = rng.poisson(lam)
        out[name] = np.where(n > 0, k / np.maximum(n * dt, 1e-300), 0.0)
    out["n_x"], out["n_y"] = model.n_x_, model.n_y_
    out["phi_x"], out["phi_y"] = model.phi_x_, model.phi_y_
    return out


def refit(model: StimLVM, data: dict) -> StimLVM:
    """Refit a model of the same settings and readout to ``data`` (keys of `shuffle_labels`)."""
    phi_x = np.asarray(data.get("phi_x", 0.0))
    phi_y = np.asarray(data.get("phi_y", 1.0))
    new = StimLVM(**model.get_params())
    return new.fit(data["xhat"], data["yhat"], data["n_x"], data["n_y"], model.t_ms_, model.stim_on_ms_,
                   model.stim_off_ms_, bin_ms=model.bin_ms_, phi_x=phi_x, phi_y=phi_y,
                   readout=model.readout_, offset=model.offset_)


def null_distortions(model: StimLVM, kind: str, n: int, *, x_trials: Float[np.ndarray, "conditions trials time neurons"] | list | None = None,
                     y_trials: Float[np.ndarray, "conditions trials time neurons"] | list | None = None, window: Bool[np.ndarray, "time"] | None = None,
                     seed: int = 0) -> Float[np.ndarray, "draws"]:
    """Distortions (§8.6) of ``n`` refits under the ``"shuffle"`` or ``"poisson"`` null (§8.3)."""
    if kind not in ("shuffle", "poisson"):
        fail("kind", kind, "'shuffle' or 'poisson'")
    if model.variant != "unconstrained":
        fail("model.variant", model.variant, "'unconstrained' (the nulls refit independent z and z~)")
    n = positive_int("n", n)
    if kind == "shuffle" and (x_trials is None or y_trials is None):
        fail("x_trials", None, "single trials of both data sets for the shuffle null")
    win = model.window_mask(None) if window is None else np.asarray(window, bool)
    out = np.empty(n)
    for i in progress(range(n), n, f"{kind} null refits"):
        data = (shuffle_labels(x_trials, y_trials, seed + i) if kind == "shuffle"
                else poisson_null_data(model, seed + i))
        m = refit(model, data)
        out[i] = distortion(m.z_, m.z_stim_, m.readout_, win)
    return out
