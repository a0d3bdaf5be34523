"""Experiment `manifold-perturbation`: state and dynamics perturbations of a trained two-area Dale RNN.

Seed 000, Fig. 1d-e and section "Manipulating neural dynamics": perturbing the neural state x(t)
"within-manifold" (along the activity's natural low-dimensional manifold) versus "outside-manifold", and
perturbing the dynamics A itself: "cooling appears to slow down trajectories within-manifold, while
lesioning may change the manifold and its dynamics by permanently removing neurons", and (multi-area
section) cutting the inter-area connections that implement a communication subspace.

The network is the two-area Dale RNN of `multi-area-rnn` (delayed reach, area 1 regularised toward the
bundled M1 PSTHs), converted to a `Network` and run with `neurodyn.dynamics.simulate` (Euler, the
training discretisation). Measured:

* state perturbations (`neurodyn.perturb.state`) of equal size s at time ``perturb_ms`` in the delay
  epoch, within the top-k PC manifold of the states or orthogonal to it: the effect on the output
  (RMS change of z(t) after the perturbation, relative to the RMS of the unperturbed output during the
  movement) and the decay time (first time ||x_pert - x|| falls below s/e);
* cooling by c (`Cooling`: tau -> c tau) from the state at the go cue with the go-epoch input: the
  fitted time-warp factor (`slowing_factor`) between cooled and original trajectories
  (``cooling_speed_ratio``, about c: the exact value for a time-invariant flow is c, the Euler steps
  differ slightly) and the share of the cooled trajectory's variance inside the original manifold;
  also the task error of a whole cooled trial;
* a lesion of a fraction of area-1 units (`Lesion`) and silencing the area 1 -> area 2 projection
  (`SilenceProjection`): task error and, for the lesion, the largest principal angle between the
  manifolds before and after (on the remaining units).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from pydantic import Field
from sklearn.decomposition import PCA

from neurodyn.dynamics import piecewise_constant_input, simulate
from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.models.reach_rnn import task_r2, train_reach_rnn
from neurodyn.models.rnn import Relu
from neurodyn.perturb import (Cooling, Lesion, SilenceProjection, manifold_basis, outside_manifold_displacement,
                              slowing_factor, within_manifold_displacement)
from neurodyn.report.figures import new_figure


class ManifoldPerturbationConfig(ExperimentConfig):
    area_size: int = Field(60, ge=4, description="units per area of the trained RNN (80% E)")
    n_iter: int = Field(800, ge=1, description="training iterations")
    learning_rate: float = Field(1e-2, gt=0, description="Adam step size")
    tau_ms: list[float] = Field([50.0, 50.0], description="time constant per area (ms)")
    psth_weight: float = Field(1.0, ge=0, description="weight of the M1 PSTH term on area 1")
    n_pcs: int = Field(10, ge=1, description="M1 principal components matched by area 1")
    noise_sd: float = Field(0.0, ge=0, description="recurrent noise during training")
    output: str = Field("velocity", description="'velocity' or 'emg'")
    m1_data: str | None = Field(None, description="path of the hatsopoulos2007 .npz (default: bundled dataset)")
    manifold_dim: int = Field(6, ge=1, description="dimension k of the state manifold (top PCs)")
    perturb_ms: float = Field(-500.0, description="time of the state displacement (ms from movement onset)")
    size_fraction: float = Field(0.5, gt=0, description="displacement size / RMS spread of the states")
    n_draws: int = Field(5, ge=1, description="random displacements per condition and kind")
    cooling_factor: float = Field(2.0, gt=0, description="cooling: tau multiplied by c")
    lesion_fraction: float = Field(0.1, gt=0, lt=1, description="share of area-1 units removed")


def _decay_time(t, dist, size) -> float:
    """First time (after t[0]) at which dist falls below size / e (linear interpolation); t[-1]-t[0] if never."""
    thr = size / np.e
    below = np.where(dist < thr)[0]
    if below.size == 0:
        return float(t[-1] - t[0])
    i = int(below[0])
    if i == 0:
        return 0.0
    f = (dist[i - 1] - thr) / (dist[i - 1] - dist[i])
    return float(t[i - 1] + f * (t[i] - t[i - 1]) - t[0])


@experiment("manifold-perturbation", ManifoldPerturbationConfig,
            "Seed 000 Fig. 1d-e: within- vs outside-manifold state displacements, cooling, lesion and a "
            "silenced projection in a trained two-area Dale RNN.",
            quick={"area_size": 30, "n_iter": 150, "n_pcs": 6, "n_draws": 2})
def run_manifold_perturbation(cfg: ManifoldPerturbationConfig, run: Run) -> dict:
    if len(cfg.tau_ms) != 2:
        raise ValueError(f"tau_ms={cfg.tau_ms}: expected two time constants (one per area)")
    model, task, _, _ = train_reach_rnn(cfg, (cfg.area_size, cfg.area_size), psth_weight=cfg.psth_weight,
                                        psth_area=0)
    net = model.to_network()
    t = task.t_ms
    dt = task.dt_ms
    if not t[0] < cfg.perturb_ms < task.go_ms:
        raise ValueError(f"perturb_ms={cfg.perturb_ms}: expected a time in the trial before the go cue ({task.go_ms})")
    drive = model.input_drive(task.inputs)                       # (C, T, N)
    edges = np.append(t, t[-1] + dt)
    h = piecewise_constant_input(drive, edges)
    W_out = model.W_out_
    x0 = np.broadcast_to(np.asarray(model.params_["x0"]), (task.n_conditions, net.n))
    gain = Relu()

    def sim(network, x_init, times, hin, t0):
        return np.asarray(simulate(network, x_init, times, dt=dt, gain_fn=gain, h=hin, method="euler", t0=t0))

    def out(x, W=W_out):
        return np.maximum(x, 0.0) @ W.T

    x = sim(net, x0, t, h, t[0])
    z = out(x)
    base_err = 1.0 - task_r2(z, task.targets, task.mask)
    # ---- state perturbations -------------------------------------------------------------
    M = manifold_basis(x, cfg.manifold_dim)
    spread = float(np.sqrt(np.mean(np.sum((x.reshape(-1, net.n) - x.reshape(-1, net.n).mean(0)) ** 2, axis=1))))
    size = cfg.size_fraction * spread
    kp = int(np.argmin(np.abs(t - cfg.perturb_ms)))
    tp = t[kp:]
    move = t >= 0
    z_rms = float(np.sqrt(np.mean(z[:, move] ** 2)))
    effects = {"within": [], "outside": []}
    decays = {"within": [], "outside": []}
    example = {}
    for kind, make in (("within", within_manifold_displacement), ("outside", outside_manifold_displacement)):
        for d in run.progress(range(cfg.n_draws), cfg.n_draws, f"{kind}-manifold displacements"):
            pert = make(M, size, seed=cfg.seed * 1000 + d)
            xs = sim(net, pert.apply(x[:, kp]), tp, h, tp[0])
            dist = np.linalg.norm(xs - x[:, kp:], axis=-1)           # (C, T')
            effects[kind].append(np.sqrt(np.mean((out(xs) - z[:, kp:]) ** 2, axis=(1, 2))) / z_rms)
            decays[kind] += [_decay_time(tp, dist[c], size) for c in range(task.n_conditions)]
            if d == 0:
                example[kind] = dist[0]
    eff = {k: float(np.mean(v)) for k, v in effects.items()}
    dec = {k: float(np.median(v)) for k, v in decays.items()}
    # ---- cooling --------------------------------------------------------------------------
    c = cfg.cooling_factor
    cooled = Cooling(c).apply(net)
    kg = int(np.argmin(np.abs(t - task.go_ms)))
    span = np.ceil(max(c, 1.0) * (t[-1] - t[kg]) / dt) * dt
    tw = t[kg] + np.arange(0.0, span + dt / 2, dt)
    h_go = drive[:, -1]                                          # go-epoch input is constant after the go step
    ref = sim(net, x[:, kg], tw, h_go, tw[0])
    cool = sim(cooled, x[:, kg], tw, h_go, tw[0])
    ratios = [slowing_factor(tw, ref[ci], cool[ci], bounds=(0.2 * c, 5.0 * c)) for ci in range(task.n_conditions)]
    speed_ratio = float(np.mean(ratios))
    cool_dev = cool - cool.reshape(-1, net.n).mean(0)
    in_manifold = float(np.sum((cool_dev @ M) ** 2) / np.sum(cool_dev**2))
    ref_dev = ref - ref.reshape(-1, net.n).mean(0)
    in_manifold_ref = float(np.sum((ref_dev @ M) ** 2) / np.sum(ref_dev**2))
    x_cool = sim(cooled, x0, t, h, t[0])
    cooled_err = 1.0 - task_r2(out(x_cool), task.targets, task.mask)
    # ---- lesion ---------------------------------------------------------------------------
    a1 = model.structure_.area_index(0)
    rng = np.random.default_rng(cfg.seed + 17)
    units = rng.choice(a1, size=max(1, int(round(cfg.lesion_fraction * a1.size))), replace=False)
    lesion = Lesion(tuple(int(u) for u in units))
    keep = lesion.kept_indices(net.n)
    lesioned = lesion.apply(net)
    h_les = piecewise_constant_input(drive[..., keep], edges)
    x_les = sim(lesioned, x0[:, keep], t, h_les, t[0])
    les_err = 1.0 - task_r2(out(x_les, W_out[:, keep]), task.targets, task.mask)
    M_keep = np.linalg.qr(M[keep])[0]
    M_les = PCA(cfg.manifold_dim, svd_solver="full").fit(x_les.reshape(-1, keep.size)).components_.T
    les_angle = float(np.degrees(scipy.linalg.subspace_angles(M_keep, M_les)).max())
    # ---- silenced projection ----------------------------------------------------------------
    names = model.structure_.area_names
    silenced = SilenceProjection(names[0], names[1]).apply(net)
    x_sil = sim(silenced, x0, t, h, t[0])
    sil_err = 1.0 - task_r2(out(x_sil), task.targets, task.mask)
    # ---- report -----------------------------------------------------------------------------
    run.save_array("t_ms", t)
    run.save_array("within_distance_example", example["within"])
    run.save_array("outside_distance_example", example["outside"])
    run.save_array("cooling_ratios", np.asarray(ratios))
    fig, ax = new_figure(3)
    ax[0].plot(tp, example["within"], "b-", label="within manifold")
    ax[0].plot(tp, example["outside"], "r-", label="outside manifold")
    ax[0].axhline(size / np.e, color="0.6", ls=":", label="s/e")
    ax[0].set_xlabel("time from movement onset (ms)")
    ax[0].set_ylabel("||x_perturbed - x||")
    ax[0].legend(frameon=False, fontsize=8)
    ax[0].set_title("state displacements of equal size")
    pc = PCA(2, svd_solver="full").fit(ref.reshape(-1, net.n))
    for arr, style, lab in ((ref, "k-", "original"), (cool, "c--", f"cooled ×{c:g}")):
        p = (arr[0] - pc.mean_) @ pc.components_.T
        ax[1].plot(p[:, 0], p[:, 1], style, label=lab)
    ax[1].set_xlabel("PC 1")
    ax[1].set_ylabel("PC 2")
    ax[1].legend(frameon=False, fontsize=8)
    ax[1].set_title(f"after the go cue: cooled ×{c:g} is slowed {speed_ratio:.2f}×")
    ax[2].plot(t, z[0, :, 0], "k-", label="intact")
    ax[2].plot(t, out(x_cool)[0, :, 0], "c--", label="cooled")
    ax[2].plot(t, out(x_les, W_out[:, keep])[0, :, 0], "m-", label="lesion")
    ax[2].plot(t, out(x_sil)[0, :, 0], "y-", label="A1→A2 silenced")
    ax[2].set_xlabel("time from movement onset (ms)")
    ax[2].set_ylabel("v_x output, condition 1")
    ax[2].legend(frameon=False, fontsize=8)
    ax[2].set_title("dynamics perturbations")
    run.save_figure(fig, "manifold_perturbation", "State displacements within vs outside the manifold, cooling "
                                                  "and lesion/silencing effects (seed 000 Fig. 1d-e)")
    run.table("Perturbation effects", ["perturbation", "output effect / task error", "decay time (ms)"],
              [["within-manifold displacement", f"{eff['within']:.3f}", f"{dec['within']:.0f}"],
               ["outside-manifold displacement", f"{eff['outside']:.3f}", f"{dec['outside']:.0f}"],
               [f"cooling x{c:g}", f"{cooled_err:.3f}", "-"],
               [f"lesion {len(units)} area-1 units", f"{les_err:.3f}", "-"],
               ["silence A1→A2", f"{sil_err:.3f}", "-"]])
    return {"cooling_factor": c, "cooling_speed_ratio": speed_ratio,
            "cooled_manifold_variance_fraction": in_manifold, "original_manifold_variance_fraction": in_manifold_ref,
            "within_output_effect": eff["within"], "outside_output_effect": eff["outside"],
            "within_decay_ms": dec["within"], "outside_decay_ms": dec["outside"],
            "displacement_size": size, "baseline_task_error": base_err, "cooled_task_error": cooled_err,
            "lesion_task_error": les_err, "lesion_manifold_max_angle_deg": les_angle,
            "n_lesioned_units": int(len(units)), "silenced_projection_task_error": sil_err,
            "dale_violations": model.dale_violations()}


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import Reference, describe  # noqa: E402

describe(
    "manifold-perturbation",
    metrics={
        "cooling_factor": ("cooling factor c: tau multiplied by c", ""),
        "cooling_speed_ratio": ("fitted time-warp factor between cooled and original trajectories (> 1: slower)",
                                "ratio"),
        "cooled_manifold_variance_fraction": ("share of the cooled trajectory's variance inside the original "
                                              "manifold", "fraction"),
        "original_manifold_variance_fraction": ("share of the original trajectory's variance inside its manifold",
                                                "fraction"),
        "within_output_effect": ("RMS output change after a within-manifold state displacement over the RMS "
                                 "output during movement", "ratio"),
        "outside_output_effect": ("the same after an outside-manifold displacement of equal size", "ratio"),
        "within_decay_ms": ("time for a within-manifold displacement to fall below size/e", "ms"),
        "outside_decay_ms": ("time for an outside-manifold displacement to fall below size/e", "ms"),
        "displacement_size": ("norm s of the state displacements", ""),
        "baseline_task_error": ("task error 1 - R^2 of the unperturbed network", ""),
        "cooled_task_error": ("task error of a whole cooled trial", ""),
        "lesion_task_error": ("task error after the lesion", ""),
        "lesion_manifold_max_angle_deg": ("largest principal angle between manifolds before and after the lesion",
                                          "degrees"),
        "n_lesioned_units": ("area-1 units removed", "count"),
        "silenced_projection_task_error": ("task error with the area 1 -> area 2 projection silenced", ""),
        "dale_violations": ("weights with the wrong sign for Dale's law", "count"),
    },
    references=[
        Reference("cooling_speed_ratio", 1.0, "seed 000, Manipulating neural dynamics (Fig. 1e)",
                  "cooling appears to slow down trajectories within-manifold", relation="above"),
    ],
)
