"""A two-area Dale RNN trained on delayed reaching against recorded M1 activity (seed 000, Fig. 2b).

Seed 000 (section "Models of large scale, brain-wide neural population dynamics") trains multi-area
RNNs by BPTT with "regularizing neural population trajectories of each RNN area to resemble cortical
areas". `train_reach_rnn` builds that setting from the bundled M1 center-out recording
(`load_m1_reaching`): the delayed-reach task on the recording's time grid with the recorded hand
velocity as output (`neurodyn.models.tasks`), the PSTH term matched to the top principal components of
the soft-normalised rates ``rate / (range + 5)`` (the data's SOURCE.md advice; `psth_targets`), and a
`neurodyn.models.rnn.DaleRNN` fitted to both. `task_r2` is the output's fit, ``R^2 = 1 - SSE / SST`` on
the masked bins (thesis App. D reports the task error 1 - R^2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from jaxtyping import Bool, Float
from sklearn.decomposition import PCA

from neurodyn.models.rnn import DaleRNN
from neurodyn.models.tasks import DelayedReachTask, delayed_reach_task

__all__ = ["load_m1_reaching", "psth_targets", "task_r2", "train_reach_rnn"]


def load_m1_reaching(path: str | None = None) -> dict:
    """Bundled M1 center-out data: ``rates`` (conditions, time, neurons) spikes/s, ``t_ms``,
    ``directions_deg``, ``velocity`` (conditions, time, 2).

    Uses `neurodyn.data.load_example("hatsopoulos2007")`, or the ``.npz`` at ``path`` when given.
    """
    if path is None:
        from neurodyn.data import load_example

        d = load_example("hatsopoulos2007")
        kin = d.meta["kinematics"]
        return {"rates": np.asarray(d.rates, float), "t_ms": np.asarray(d.t_ms, float),
                "directions_deg": np.asarray(d.conditions, float),
                "velocity": np.stack([kin["xhandspeed"], kin["yhandspeed"]], axis=-1)}
    try:
        with np.load(path, allow_pickle=False) as z:
            return {"rates": np.transpose(np.asarray(z["firing_rate"], float), (2, 1, 0)),
                    "t_ms": np.asarray(z["t_ms"], float), "directions_deg": np.asarray(z["direction_deg"], float),
                    "velocity": np.stack([z["xhandspeed"], z["yhandspeed"]], axis=-1).astype(float)}
    except (OSError, KeyError) as exc:
        raise ValueError(f"m1_data={path!r}: expected the hatsopoulos2007 .npz ({exc})") from None


def psth_targets(rates: Float[np.ndarray, "conditions time neurons"],
                 n_pcs: int) -> tuple[Float[np.ndarray, "conditions time readouts"], float]:
    """Top ``n_pcs`` PCs of soft-normalised rates and the variance share they keep (module docstring)."""
    n_cond, T, N = rates.shape
    soft = rates / (rates.max((0, 1)) - rates.min((0, 1)) + 5.0)
    pca = PCA(n_components=min(n_pcs, N), svd_solver="full").fit(soft.reshape(-1, N))
    return pca.transform(soft.reshape(-1, N)).reshape(n_cond, T, -1), float(pca.explained_variance_ratio_.sum())


def task_r2(z: Float[np.ndarray, "conditions time readouts"], targets: Float[np.ndarray, "conditions time readouts"],
            mask: Bool[np.ndarray, "conditions time"]) -> float:
    """``R^2 = 1 - sum (z - z*)^2 / sum (z* - mean z*)^2`` over the masked bins, pooled over outputs."""
    m = np.asarray(mask, bool)
    zt, tt = z[m], targets[m]
    return 1.0 - float(np.sum((zt - tt) ** 2) / np.sum((tt - tt.mean(0)) ** 2))


def train_reach_rnn(cfg, area_sizes: Sequence[int], *, psth_weight: float,
                    psth_area: int) -> tuple[DaleRNN, DelayedReachTask, Float[np.ndarray, "conditions time readouts"],
                                             float]:
    """Train the two-area Dale RNN on the M1 reaching data; returns (model, task, psth, kept variance).

    ``cfg`` carries the settings (as the experiments' configurations do): ``m1_data`` (path or None for
    the bundled recording), ``output`` ('velocity' or 'emg'), ``n_pcs``, ``tau_ms``, ``n_iter``,
    ``learning_rate``, ``noise_sd`` and ``seed``; ``psth_area`` is the 0-based area matched to the PSTHs
    with weight ``psth_weight`` (0: no PSTH term).
    """
    data = load_m1_reaching(cfg.m1_data)
    task = delayed_reach_task(data["directions_deg"], t_ms=data["t_ms"], velocity=data["velocity"],
                              output=cfg.output)
    psth, kept = psth_targets(data["rates"], cfg.n_pcs)
    model = DaleRNN(area_sizes, taus_ms=cfg.tau_ms, dt_ms=task.dt_ms, n_iter=cfg.n_iter,
                    learning_rate=cfg.learning_rate, noise_sd=cfg.noise_sd, psth_weight=psth_weight,
                    psth_area=psth_area, seed=cfg.seed)
    model.fit(task, psth if psth_weight > 0 else None)
    return model, task, psth, kept
