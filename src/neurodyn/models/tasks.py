"""The delayed-reach task used to train (multi-area) RNNs (seed 000: RNNs of motor cortex, refs. 6, 30, 37).

Seed 000 (section "Models of large scale, brain-wide neural population dynamics") trains RNNs "with
backpropagation-through-time" on motor tasks and regularises each area toward recorded activity. Its
task is the instructed-delay center-out reach of the motor-cortex RNN studies it cites (Sussillo et al.
2015; Michaels et al. 2020; Kleinman et al. 2021): a target appears, the subject waits, and reaches after
a go cue. Inputs per condition c (reach direction theta_c) and time t (ms)::

    u_1(t) = cos(theta_c) [t >= t_target],   u_2(t) = sin(theta_c) [t >= t_target],
    u_3(t) = [t >= t_go]                      (go cue as a step; `go_duration_ms` makes it a pulse)

Outputs:

* ``"velocity"``: hand velocity (v_x, v_y). Given recorded kinematics (e.g. the bundled M1 data's
  normalised hand velocity) they are used as is; otherwise a minimum-jerk reach of duration D starting
  at movement onset t_m: ``v(t) = (cos theta, sin theta) 30 s^2 (1 - s)^2``, ``s = (t - t_m)/D`` in [0, 1].
* ``"emg"``: EMG-like signals of ``n_muscles`` cosine-tuned muscles with preferred directions
  ``phi_m = 2 pi m / n_muscles``: ``e_m(t) = max(cos(theta - phi_m), 0) * speed(t) + 0.1 speed(t)``
  (rectified, non-negative, co-contraction 0.1), with speed ``||v(t)||``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Bool, Float

from neurodyn.validation import fail, finite_array, positive, positive_int

__all__ = ["DelayedReachTask", "delayed_reach_task", "minimum_jerk_velocity"]


@dataclass(frozen=True, eq=False)
class DelayedReachTask:
    """Inputs ``(conditions, time, 3)``, targets ``(conditions, time, outputs)``, loss mask
    ``(conditions, time)`` on the grid ``t_ms``."""

    t_ms: Float[np.ndarray, "time"]
    inputs: Float[np.ndarray, "conditions time inputs"]
    targets: Float[np.ndarray, "conditions time readouts"]
    mask: Bool[np.ndarray, "conditions time"]
    directions_deg: Float[np.ndarray, "conditions"]
    target_on_ms: float
    go_ms: float
    output: str

    @property
    def dt_ms(self) -> float:
        """Time step of the grid (ms)."""
        return float(self.t_ms[1] - self.t_ms[0])

    @property
    def n_conditions(self) -> int:
        """Number of conditions (reach directions)."""
        return int(self.inputs.shape[0])


def minimum_jerk_velocity(t_ms: Float[np.ndarray, "time"], directions_deg: Float[np.ndarray, "conditions"],
                          onset_ms: float = 0.0, duration_ms: float = 400.0) -> Float[np.ndarray, "conditions time 2"]:
    """``(conditions, time, 2)`` minimum-jerk velocity profiles (peak 1.875, unit displacement / duration)."""
    t = finite_array("t_ms", t_ms, ndim=1)
    th = np.radians(finite_array("directions_deg", directions_deg, ndim=1))
    s = np.clip((t - onset_ms) / positive("duration_ms", duration_ms), 0.0, 1.0)
    prof = 30.0 * s**2 * (1.0 - s) ** 2
    return prof[None, :, None] * np.stack([np.cos(th), np.sin(th)], axis=1)[:, None, :]


def delayed_reach_task(directions_deg: Float[np.ndarray, "conditions"] | None = None, *,
                       t_ms: Float[np.ndarray, "time"] | None = None, target_on_ms: float = -700.0, go_ms: float = -300.0,
                       go_duration_ms: float | None = None, movement_onset_ms: float = 0.0,
                       reach_duration_ms: float = 400.0, output: str = "velocity",
                       velocity: Float[np.ndarray, "conditions time 2"] | None = None,
                       n_muscles: int = 6, mask_from_ms: float | None = None) -> DelayedReachTask:
    """Build the delayed-reach task (module docstring).

    Parameters
    ----------
    directions_deg : (conditions,) array, optional
        Reach directions (default the 8 center-out directions 0, 45, ..., 315).
    t_ms : (time,) array, optional
        Uniform time grid (default -800 .. 400 ms in 10-ms bins, the grid of the bundled M1 data, aligned
        to movement onset).
    velocity : (conditions, time, 2) array, optional
        Recorded hand velocity to use as the target (else minimum-jerk profiles).
    mask_from_ms : float, optional
        Score the output only from this time on (default: the whole trial).
    """
    if directions_deg is None:
        dirs = np.arange(0.0, 360.0, 45.0)
    else:
        dirs = finite_array("directions_deg", directions_deg, ndim=1)
    t = np.arange(-800.0, 400.0 + 1e-9, 10.0) if t_ms is None else finite_array("t_ms", t_ms, ndim=1)
    if t.size < 2 or np.any(np.diff(t) <= 0) or not np.allclose(np.diff(t), t[1] - t[0]):
        fail("t_ms", t, "an increasing, uniformly spaced time grid (ms)")
    if not t[0] <= target_on_ms <= go_ms <= t[-1]:
        fail("go_ms", go_ms, f"t_ms[0]={t[0]} <= target_on_ms={target_on_ms} <= go_ms <= t_ms[-1]={t[-1]}")
    if output not in ("velocity", "emg"):
        fail("output", output, "'velocity' or 'emg'")
    n_cond, T = dirs.size, t.size
    th = np.radians(dirs)
    on = (t >= target_on_ms).astype(float)
    go = (t >= go_ms).astype(float)
    if go_duration_ms is not None:
        go = go * (t < go_ms + positive("go_duration_ms", go_duration_ms))
    inputs = np.zeros((n_cond, T, 3))
    inputs[:, :, 0] = np.cos(th)[:, None] * on
    inputs[:, :, 1] = np.sin(th)[:, None] * on
    inputs[:, :, 2] = go
    if velocity is None:
        v = minimum_jerk_velocity(t, dirs, movement_onset_ms, reach_duration_ms)
    else:
        v = finite_array("velocity", velocity)
        if v.shape != (n_cond, T, 2):
            fail("velocity", v, f"shape ({n_cond}, {T}, 2) (conditions, time, [vx, vy])")
    if output == "velocity":
        targets = v
    else:
        n_muscles = positive_int("n_muscles", n_muscles)
        phi = 2 * np.pi * np.arange(n_muscles) / n_muscles
        speed = np.linalg.norm(v, axis=-1)
        tuning = np.maximum(np.cos(th[:, None] - phi[None, :]), 0.0)
        targets = speed[:, :, None] * (tuning[:, None, :] + 0.1)
    mask = (np.ones((n_cond, T), bool) if mask_from_ms is None
            else np.broadcast_to(t >= mask_from_ms, (n_cond, T)).copy())
    return DelayedReachTask(t_ms=t, inputs=inputs, targets=targets, mask=mask, directions_deg=dirs,
                            target_on_ms=float(target_on_ms), go_ms=float(go_ms), output=output)
