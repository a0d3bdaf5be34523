"""Experiment `perturbation-design`: E-only, non-negative stimulation designed to reach the task-dynamics space.

Seed 000 asks for stimulation patterns that perturb the circuit "within-manifold"; seed 001 (§10.1, §11,
§14) explains why random optogenetic excitation does not: its projection on the task-dynamics space
(the row space of the random K x N projection J of the self-contained-subspace E/I network) is at chance,
about ``sqrt(K/N)`` of its norm. Here patterns are *designed* with `neurodyn.perturb.design` under the
constraints of the experiment (excitatory opsin: inputs >= 0, only on the E cells that express it, a random
mask holding 25%, 50% or 75% of them; optionally a per-cell amplitude bound) and compared with random
patterns under the same constraints and of the same norm (the §11 stimulation model
``s_i = gamma o_i max(0, 1 + sigma xi_i)`` on the expressing cells, rescaled).

Network: the ground-truth subspace E/I network (`neurodyn.models.ei_subspace.simulate`, ``nu_{t+1} = W nu_t + s``,
10-ms steps) or, with ``model=RUN`` (a run folder of ``ei-subspace-fit`` / ``neurodyn fit ei-subspace``, or
its ``model.npz``), the fitted network read by `neurodyn.models.load_model`; nothing else is read. The
input is held for ``stim_bins`` steps (200 ms, §11) and released. For each expression level, ``n_masks``
expression masks; per mask, the designed pattern maximises ``||Q^T Delta nu||`` at stimulation offset
(`maximize_subspace_effect`), the outside design is the nearest pattern to a random one with no
displacement there (`minimize_subspace_effect`), and ``n_random`` random patterns form the baseline
distribution. Metrics per level (suffix ``_25``, ``_50``, ``_75``):

* ``dynamics_space_gain_designed_over_random``: mean ``||Q^T Delta nu||`` at offset of the designed patterns
  over that of the random ones (equal input norm);
* ``readout_effect_designed_over_random``: the same for the change of the readout ``||C J Delta nu_t||``
  averaged over the post-offset window (the behavioural effect; C maps task coordinates to recorded rates);
* ``outside_design_dynamics_leak``: ``||Q^T Delta nu|| / ||Delta nu||`` at offset for the outside designs
  (mean over masks); ``outside_design_post_offset_leak``: ``max_t ||Q^T Delta nu_t|| / max_t ||Delta nu_t||``
  over the whole run (zero when the network is exactly self-contained; a fitted network is so only to
  penalty precision, so activity outside the space can leak in after offset);
* context: ``designed/random_input_projection``, ``||Q^T u|| / ||u||`` of the input patterns themselves
  (the quantity whose chance level is ``sqrt(K/N)``, §14); ``designed/random_dynamics_fraction``, the
  same for the response at offset (slow task modes accumulate during the window, so it exceeds the
  input's); the share of
  random draws the designed pattern beats, the decay times after offset (the window length
  ``post_bins * dt`` when the response has not decayed to 1/e by the end: a lower bound).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.models import EISubspaceNetwork, load_model
from neurodyn.models.ei_subspace.simulate import make_ground_truth
from neurodyn.perturb import manifold_basis
from neurodyn.perturb.design import (
    FeasibleSet,
    LinearResponseModel,
    OptogeneticExcitation,
    maximize_subspace_effect,
    minimize_subspace_effect,
    predict_effects,
)
from neurodyn.report.figures import new_figure


class PerturbationDesignConfig(ExperimentConfig):
    model: str | None = Field(None, description="ei-subspace-fit run folder or its model.npz (None: ground truth)")
    truth_units: int = Field(200, ge=20, description="units of the ground-truth network")
    truth_latents: int = Field(4, ge=2, description="task-dynamics dimension K of the truth")
    n_neurons: int = Field(40, ge=2, description="recorded neurons read out from the truth (C)")
    n_conditions: int = Field(8, ge=2, description="conditions of the truth (task activity space)")
    n_times: int = Field(70, ge=10, description="time bins of the truth's trials (10 ms)")
    transition: int = Field(20, ge=2, description="hold->go bin of the truth")
    expressions: list[float] = Field([0.25, 0.5, 0.75], description="fractions of E cells expressing the opsin")
    stim_bins: int = Field(20, ge=1, description="stimulated steps (20 x 10 ms = 200 ms, seed 001 §11)")
    post_bins: int = Field(30, ge=1, description="steps simulated after offset")
    n_masks: int = Field(5, ge=1, description="expression masks drawn per level")
    n_random: int = Field(200, ge=2, description="random patterns per mask (baseline distribution)")
    n_full: int = Field(20, ge=1, description="random patterns per mask simulated in full (fractions, decay)")
    gamma: float = Field(0.05, gt=0, description="random-pattern amplitude (§11); sets the common norm")
    noise_sd: float = Field(0.3, ge=0, description="expression noise sigma of the random patterns (§11)")
    max_amplitude: float | None = Field(None, gt=0, description="per-cell input bound (None: unbounded)")
    n_restarts: int = Field(16, ge=1, description="restarts of the constrained designer")


def _suffix(level: float) -> str:
    return f"_{int(round(100 * level))}"


def _fitted_activity(fit: EISubspaceNetwork):
    """Unperturbed trajectories of a fitted network (for its task activity space, seed 001 §6): the fitted
    conditions run forward without noise from ``J^+ m0`` with their inputs."""
    nu = fit.simulate_network(np.atleast_2d(fit.m0_) @ fit.J_pinv_.T, fit.condition_inputs())
    return nu, f"fitted conditions ({fit.n_conditions_}) run forward from their initial states"


@experiment("perturbation-design", PerturbationDesignConfig,
            "Seed 000 within-manifold perturbation / seed 001 §11, §14: designed E-only non-negative stimulation "
            "reaches the task-dynamics space many times better than random patterns of equal norm.",
            quick={"n_masks": 3, "n_random": 100, "n_full": 10, "n_restarts": 8})
def run_perturbation_design(cfg: PerturbationDesignConfig, run: Run) -> dict:
    if not cfg.expressions or any(not (0 < f <= 1) for f in cfg.expressions):
        raise ValueError(f"expressions={cfg.expressions!r}: expected fractions in (0, 1]")
    if cfg.model is None:
        gt = make_ground_truth(cfg.truth_units, cfg.truth_latents, cfg.n_neurons, cfg.n_conditions, cfg.n_times,
                               cfg.transition, seed=cfg.seed)
        model = LinearResponseModel.discrete(gt.W, gt.J, gt.C, gt.is_excitatory, gt.dt_ms)
        base, how = gt.run(), "ground truth, unperturbed conditions"
        source = f"ground-truth subspace E/I network (N={gt.W.shape[0]}, K={gt.J.shape[0]})"
    else:
        fit = load_model(cfg.model)
        if not isinstance(fit, EISubspaceNetwork):
            raise ValueError(f"model={cfg.model!r}: expected a fitted EISubspaceNetwork (an ei-subspace-fit run); "
                             f"the file holds a {type(fit).__name__}")
        model = LinearResponseModel.from_fit(fit)
        base, how = _fitted_activity(fit)
        source = f"fitted network {cfg.model} (N={model.n}, K={model.J.shape[0]})"
    N, K = model.n, model.J.shape[0]
    activity = manifold_basis(base, threshold=0.95) if base is not None else None
    run.note(f"Network: {source}; task activity space: {how}"
             + (f", {activity.shape[1]} dimensions." if activity is not None else "."))
    L = model.window_operator(cfg.stim_bins)
    chance = float(np.sqrt(K / N))
    # unconstrained reference: any signed input on any unit (the best any actuator could do)
    free = FeasibleSet(np.eye(N), -np.inf, np.inf, None, np.arange(N))
    unc = maximize_subspace_effect(L, free, norm=1.0)
    metrics: dict = {"n_units": N, "n_latents": K, "chance_sqrt_K_over_N": chance,
                     "unconstrained_dynamics_gain": float(unc.objective)}
    rows, hist, traj = [], {}, {}
    for li, level in enumerate(cfg.expressions):
        sfx = _suffix(level)
        des_p, rnd_p, out_p, des_r, rnd_r, des_f, rnd_f, out_f, out_post = ([] for _ in range(9))
        des_in, rnd_in = [], []
        beats, des_tau, rnd_tau, des_taud, rnd_taud = [], [], [], [], []
        designs, outsides, masks = [], [], []
        for j in run.progress(range(cfg.n_masks), cfg.n_masks, f"expression {level:.0%}"):
            act = OptogeneticExcitation(level, np.inf if cfg.max_amplitude is None else cfg.max_amplitude,
                                        "E", seed=cfg.seed * 7919 + 1000 * li + j)
            fs = act.feasible_set(model.is_excitatory)
            norm = cfg.gamma * np.sqrt(fs.n_controls)
            rnd = fs.random(cfg.n_random, norm, seed=cfg.seed + 17 * j + 3 + 1000 * li, noise_sd=cfg.noise_sd)
            des = maximize_subspace_effect(L, fs, norm=norm, n_restarts=cfg.n_restarts, seed=cfg.seed + j)
            out = minimize_subspace_effect(L, fs, norm=norm, seed=cfg.seed + 10_000 + j, noise_sd=cfg.noise_sd)
            U = np.vstack([des.inputs, out.inputs, fs.inputs(rnd)])
            frac_in = np.linalg.norm(U @ model.basis, axis=1) / np.linalg.norm(U, axis=1)
            des_in.append(frac_in[0])
            rnd_in.append(frac_in[2:])
            eff = predict_effects(model, U, cfg.stim_bins, cfg.post_bins, full=False)
            nf = 2 + min(cfg.n_full, cfg.n_random)
            full = predict_effects(model, U[:nf], cfg.stim_bins, cfg.post_bins, activity_basis=activity)
            des_p.append(eff.dynamics_projection[0])
            out_p.append(eff.dynamics_projection[1])
            rnd_p.append(eff.dynamics_projection[2:])
            des_r.append(eff.readout_change[0])
            rnd_r.append(eff.readout_change[2:])
            des_f.append(full.dynamics_fraction[0])
            out_f.append(full.dynamics_fraction[1])
            out_post.append(eff.dynamics_norm[1].max() / max(full.response_norm[1].max(), 1e-300))
            rnd_f.append(full.dynamics_fraction[2:])
            des_tau.append(full.decay_time_ms[0])
            rnd_tau.append(full.decay_time_ms[2:])
            des_taud.append(eff.dynamics_decay_time_ms[0])
            rnd_taud.append(eff.dynamics_decay_time_ms[2:])
            beats.append(float(np.mean(eff.dynamics_projection[2:] < eff.dynamics_projection[0])))
            designs.append(des.inputs)
            outsides.append(out.inputs)
            masks.append(fs.inputs(np.ones(fs.n_controls)) > 0)
            if j == 0:
                traj[level] = {"dyn": eff.dynamics_norm[[0, 1]], "dyn_rnd": eff.dynamics_norm[2:],
                               "read": eff.readout_norm[[0, 1]], "read_rnd": eff.readout_norm[2:],
                               "resp": full.response_norm, "des": des.inputs, "rnd": fs.inputs(rnd[0]),
                               "out": out.inputs, "norm": norm}
        rnd_all = np.concatenate(rnd_p)
        gain = float(np.mean(des_p) / np.mean(rnd_all))
        readout = float(np.mean(des_r) / np.mean(np.concatenate(rnd_r)))
        leak = float(np.mean(out_f))
        metrics.update({
            f"dynamics_space_gain_designed_over_random{sfx}": gain,
            f"readout_effect_designed_over_random{sfx}": readout,
            f"outside_design_dynamics_leak{sfx}": leak,
            f"outside_design_dynamics_leak_max{sfx}": float(np.max(out_f)),
            f"outside_design_post_offset_leak{sfx}": float(np.max(out_post)),
            f"designed_dynamics_fraction{sfx}": float(np.mean(des_f)),
            f"random_dynamics_fraction{sfx}": float(np.mean(np.concatenate(rnd_f))),
            f"designed_input_projection{sfx}": float(np.mean(des_in)),
            f"random_input_projection{sfx}": float(np.mean(np.concatenate(rnd_in))),
            f"designed_beats_random_share{sfx}": float(np.min(beats)),
            f"designed_decay_time_ms{sfx}": float(np.mean(des_tau)),
            f"random_decay_time_ms{sfx}": float(np.mean(np.concatenate(rnd_tau))),
            f"designed_dynamics_decay_time_ms{sfx}": float(np.mean(des_taud)),
            f"random_dynamics_decay_time_ms{sfx}": float(np.mean(np.concatenate(rnd_taud))),
            f"designed_gain_over_unconstrained{sfx}": float(np.mean(np.asarray(des_p) / np.asarray(
                [np.sqrt(m.sum()) * cfg.gamma for m in masks])) / unc.objective),
        })
        hist[level] = (rnd_all / np.repeat([cfg.gamma * np.sqrt(m.sum()) for m in masks], cfg.n_random),
                       np.asarray(des_p) / np.array([cfg.gamma * np.sqrt(m.sum()) for m in masks]),
                       np.asarray(out_p) / np.array([cfg.gamma * np.sqrt(m.sum()) for m in masks]))
        run.save_array(f"designed_patterns{sfx}", np.asarray(designs))
        run.save_array(f"outside_patterns{sfx}", np.asarray(outsides))
        run.save_array(f"expression_masks{sfx}", np.asarray(masks))
        run.save_array(f"random_dynamics_projection{sfx}", rnd_all)
        run.save_array(f"designed_dynamics_projection{sfx}", np.asarray(des_p))
        rows.append([f"{level:.0%}", f"{gain:.2f}", f"{readout:.2f}", f"{leak:.1e}",
                     f"{np.mean(des_f):.3f}", f"{np.mean(np.concatenate(rnd_f)):.3f}", f"{np.min(beats):.3f}"])
    run.save_array("is_excitatory", model.is_excitatory)
    run.table("Designed vs random E-only non-negative patterns (equal norm)",
              ["expression", "dyn. space gain", "readout effect", "outside leak", "designed fraction",
               "random fraction", "share of random beaten"], rows)
    # figures
    lv = cfg.expressions[len(cfg.expressions) // 2]
    tr = traj[lv]
    fig, ax = new_figure(3)
    e_idx = np.flatnonzero(model.is_excitatory)
    order = np.argsort(-tr["des"][e_idx])
    ax[0].plot(tr["des"][e_idx][order], "C3-", lw=1.5, label="designed (max)")
    ax[0].plot(tr["out"][e_idx][order], "C2-", lw=1, label="designed (outside)")
    ax[0].plot(tr["rnd"][e_idx][order], "0.5", lw=1, label="random")
    ax[0].set_xlabel("E cell (sorted by designed input)")
    ax[0].set_ylabel("input")
    ax[0].set_title(f"patterns, {lv:.0%} expression, equal norm")
    ax[0].legend(frameon=False, fontsize=8)
    t = np.arange(cfg.stim_bins + cfg.post_bins + 1) * model.dt_ms
    q = np.percentile(tr["dyn_rnd"], [5, 50, 95], axis=0)
    ax[1].fill_between(t, q[0], q[2], color="0.8", label="random 5-95%")
    ax[1].plot(t, q[1], "0.4", lw=1)
    ax[1].plot(t, tr["dyn"][0], "C3-", lw=1.5, label="designed (max)")
    ax[1].plot(t, tr["dyn"][1], "C2-", lw=1, label="designed (outside)")
    ax[1].axvspan(0, cfg.stim_bins * model.dt_ms, color="C0", alpha=0.1)
    ax[1].set_xlabel("time from onset (ms)")
    ax[1].set_ylabel("||Q^T Δν|| (task-dynamics space)")
    ax[1].set_title("responses in the task-dynamics space")
    ax[1].legend(frameon=False, fontsize=8)
    for k, level in enumerate(cfg.expressions):
        r, d, _ = hist[level]
        ax[2].hist(r, bins=30, color=f"C{k}", alpha=0.35, density=True, label=f"random {level:.0%}")
        for x in d:
            ax[2].axvline(x, color=f"C{k}", lw=1.2)
    ax[2].set_xlabel("||Q^T Δν|| at offset / input norm")
    ax[2].set_ylabel("density (random); lines: designed")
    ax[2].set_title("projection distributions")
    ax[2].legend(frameon=False, fontsize=8)
    run.save_figure(fig, "perturbation_design", "Designed E-only non-negative patterns against random ones of "
                                                "equal norm: patterns, task-dynamics responses, distributions")
    if tr["resp"] is not None:
        fig, ax = new_figure(2)
        ax[0].plot(t, tr["resp"][0], "C3-", label="designed (max)")
        ax[0].plot(t, tr["resp"][1], "C2-", label="designed (outside)")
        ax[0].plot(t, tr["resp"][2:].mean(0), "0.4", label="random (mean)")
        ax[0].set_xlabel("time from onset (ms)")
        ax[0].set_ylabel("||Δν|| (full network)")
        ax[0].legend(frameon=False, fontsize=8)
        ax[0].set_title("response norm and decay")
        qr = np.percentile(tr["read_rnd"], [5, 50, 95], axis=0)
        ax[1].fill_between(t, qr[0], qr[2], color="0.8", label="random 5-95%")
        ax[1].plot(t, tr["read"][0], "C3-", label="designed (max)")
        ax[1].plot(t, tr["read"][1], "C2-", label="designed (outside)")
        ax[1].set_xlabel("time from onset (ms)")
        ax[1].set_ylabel("||C J Δν|| (readout change)")
        ax[1].legend(frameon=False, fontsize=8)
        ax[1].set_title("predicted readout (behavioural) effect")
        run.save_figure(fig, "perturbation_design_responses", "Full-network response and readout change "
                                                              f"({lv:.0%} expression)")
    g = [metrics[f"dynamics_space_gain_designed_over_random{_suffix(v)}"] for v in cfg.expressions]
    run.note("Designed patterns move the task-dynamics space " + ", ".join(
        f"{x:.1f}x ({v:.0%})" for x, v in zip(g, cfg.expressions)) + " more than random patterns of the same "
             f"norm under the same sign and expression constraints; chance fraction sqrt(K/N) = {chance:.3f}. "
             "Designed patterns are saved as designed_patterns_XX (masks x N) in arrays.npz.")
    return metrics


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import describe  # noqa: E402

describe(
    "perturbation-design",
    metrics={
        "n_units": ("network units N", "count"),
        "n_latents": ("task-dynamics dimension K", "count"),
        "chance_sqrt_K_over_N": ("chance projection sqrt(K/N) of a random pattern on the task-dynamics space "
                                 "(seed 001 §14)", "fraction of norm"),
        "unconstrained_dynamics_gain": ("largest ||Q^T dnu|| at offset per unit input norm without the opsin "
                                        "constraints", ""),
        "dynamics_space_gain_designed_over_random_*": ("mean ||Q^T dnu|| at offset, designed over random patterns "
                                                       "of equal norm; suffix: % of E cells expressing", "ratio"),
        "readout_effect_designed_over_random_*": ("readout change after offset, designed over random patterns",
                                                  "ratio"),
        "outside_design_dynamics_leak_*": ("||Q^T dnu|| / ||dnu|| at offset for the outside designs, mean over "
                                           "masks", "fraction of norm"),
        "outside_design_dynamics_leak_max_*": ("the same, largest over masks", "fraction of norm"),
        "outside_design_post_offset_leak_*": ("max_t ||Q^T dnu_t|| / max_t ||dnu_t|| over the whole run, outside "
                                              "designs", "fraction of norm"),
        "designed_dynamics_fraction_*": ("||Q^T dnu|| / ||dnu|| at offset, designed patterns", "fraction of norm"),
        "random_dynamics_fraction_*": ("||Q^T dnu|| / ||dnu|| at offset, random patterns", "fraction of norm"),
        "designed_input_projection_*": ("||Q^T u|| / ||u|| of the designed input patterns", "fraction of norm"),
        "random_input_projection_*": ("||Q^T u|| / ||u|| of the random input patterns", "fraction of norm"),
        "designed_beats_random_share_*": ("smallest share over masks of random patterns the designed one beats",
                                          "fraction"),
        "designed_decay_time_ms_*": ("1/e decay time of ||dnu|| after offset, designed patterns", "ms"),
        "random_decay_time_ms_*": ("1/e decay time of ||dnu|| after offset, random patterns", "ms"),
        "designed_dynamics_decay_time_ms_*": ("1/e decay time of ||Q^T dnu|| after offset, designed patterns", "ms"),
        "random_dynamics_decay_time_ms_*": ("1/e decay time of ||Q^T dnu|| after offset, random patterns", "ms"),
        "designed_gain_over_unconstrained_*": ("designed gain per unit norm over the unconstrained optimum",
                                               "ratio"),
    },
)
