"""Experiment `reservoir-vs-subspace`: SOC reservoir against the self-contained subspace network (seed 001 §13).

Hypotheses of seed 001: H1, motor cortex is a reservoir whose task activity lives in the amplified modes of
the whole network (a stability-optimised circuit, SOC); H2, the task dynamics are confined to a
self-contained low-dimensional subspace of a balanced E/I network; H3, activity merely follows an input
path. Under H1 an E-targeted stimulation excites the same slow, amplified modes the task uses and lasts;
under H2 it misses the task-dynamics space by chance and decays fast (§11, §14).

SOC (§13, following Hennequin et al. 2014): equal numbers of E and I units, p = 0.25, initial spectral
radius R = 10, optimised to spectral abscissa 0.5 (`neurodyn.connectivity.soc.soc`), ``tau dx/dt = -x + W x
+ h`` with tau = 200 ms. Targets ``x*_c = a_c1 g_1 + a_c2 g_2`` for c = 1..4 with ``a_ci = s_ci u_ci``,
``u ~ Uniform[0.5, 1]``, s a random sign, and g_1, g_2 the leading eigenvectors of the Gramian solving
``(W - I)^T G + G (W - I) = -2 I`` (the lost equation of §13; `neurodyn.analysis.preferred_initial_conditions`).
The preparatory input ramps linearly to the value that holds x*_c at steady state,
``h(t) = (t / T_prep) (I - W) x*_c`` (derived: ``0 = -x* + W x* + h``), and is switched off at the go cue;
the network then evolves autonomously. Its task activity space is the PCA subspace with 95% of the
post-go variance (§6, §13).

Stimulation: the same E-targeted vector family (`OptogeneticStimulation`, 200 ms) is applied to both
models; for the linear SOC the response difference is input-driven only,
``tau dDelta/dt = -Delta + W Delta + s 1[t in window]``. The subspace network is an `EISubspaceNetwork`
fit to the bundled M1 data (discrete 10-ms steps). Metrics: ``decay_time_soc_ms`` and
``decay_time_subspace_ms`` (1/e time of ``||Delta||`` after offset), each model's response projection on
its task activity space against chance ``sqrt(k/N)``, and ``h2_supported`` (subspace decays faster).

Why the two decay times differ, and what the comparison needs. In the SOC, E-targeted input excites the
amplified, slow modes that carry the task (alpha = 0.5 gives a slowest time constant
``tau / (1 - alpha) = 400 ms``). In the subspace network the response splits into a part outside the
task-dynamics space, which decays with the random E/I bulk (``|lambda| <= 0.85`` per 10-ms step, i.e. a time
constant ``-10 ms / ln 0.85 ~ 60 ms``), and a part inside it, of relative size about ``sqrt(K/N)`` (§11,
§14), which follows the task dynamics A. The 1/e time of ``||Delta nu||`` therefore measures the fast
part as long as ``sqrt(K/N) < 1/e`` (0.14 at the quick scale, K = 4, N = 200; 0.10 by default) *and*
the task dynamics are stable. An unconstrained fit to the M1 data gives ``rho(A) ~ 1.01`` per bin: the
constant 200-ms input is then integrated by the unstable task mode and the in-subspace part grows after
offset, so ``||Delta nu||`` never falls to 1/e and the decay time is censored at the window length
(600 ms at the quick scale: the reversed result). The fit therefore uses the spectral-radius bound of
`EISubspaceNetwork` (``max_spectral_radius``, 0.99 per bin), under which the quick run gives 87 ms
(subspace) against 360 ms (SOC, 60 units at the quick scale; 408 ms with 100 units); without the bound
(``--set max_spectral_radius=null``) the subspace decay time is the censored 600 ms.

Because the text states no such bound, the run fits the subspace network both ways (``compare_bound``,
default on) and reports ``h2_supported_bounded`` and ``h2_supported_unbounded`` with the decay times and
``max |lambda(A)|`` of each; ``h2_supported`` is the configured fit's. The text's claim (fast decay under
H2, §11, §14) needs stable task dynamics, i.e. the bounded fit: without the bound the M1 data's slightly
expanding task mode integrates the stimulus and the claim fails for that reason, not because of the
reservoir/subspace distinction. The SOC is built with `soc`'s default step schedule (the bold driver).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from pydantic import Field

from neurodyn.analysis import preferred_initial_conditions, spectral_abscissa
from neurodyn.connectivity.soc import soc
from neurodyn.data.prepare import prepare_fit_data
from neurodyn.dynamics import Linear, simulate
from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.models.ei_subspace import EISubspaceNetwork
from neurodyn.perturb import OptogeneticStimulation, decay_time, manifold_basis
from neurodyn.report.figures import new_figure


class ReservoirConfig(ExperimentConfig):
    soc_units: int = Field(200, ge=4, description="SOC size (even)")
    soc_p: float = Field(0.25, gt=0, lt=1, description="initial connection probability")
    soc_R: float = Field(10.0, gt=0, description="initial spectral radius")
    soc_gamma: float = Field(1.0, gt=0, description="I/E weight ratio of the initial matrix")
    soc_target: float = Field(0.5, gt=0, description="target spectral abscissa")
    tau_ms: float = Field(200.0, gt=0, description="SOC time constant")
    prep_ms: float = Field(1000.0, gt=0, description="ramp duration before the go cue")
    move_ms: float = Field(800.0, gt=0, description="autonomous period after the go cue")
    stim_ms: float = Field(200.0, gt=0, description="stimulation window")
    gamma_soc: float = Field(0.05, gt=0, description="stimulation amplitude in the SOC")
    subspace_units: int = Field(1000, ge=4, description="units of the fitted subspace network")
    subspace_latents: int = Field(10, ge=1, description="K of the fitted subspace network")
    gamma_subspace: float = Field(0.05, gt=0, description="stimulation amplitude in the subspace network")
    max_iter: int = Field(20, ge=1, description="EM iterations of the subspace fit")
    max_spectral_radius: float | None = Field(0.99, gt=0, description="bound on rho(A) of the subspace fit "
                                                                         "(None: unconstrained)")
    n_stim: int = Field(5, ge=1, description="stimulation vectors")
    compare_bound: bool = Field(True, description="also fit the subspace network with the other bound setting "
                                                  "(None if bounded, 0.99 if not) and report both")


@experiment("reservoir-vs-subspace", ReservoirConfig,
            "Seed 001 §13: SOC reservoir (H1) vs self-contained subspace E/I network (H2): decay of "
            "E-targeted stimulation responses and task-space projections side by side.",
            quick={"soc_units": 60, "subspace_units": 200, "subspace_latents": 4, "max_iter": 5, "n_stim": 3,
                   "prep_ms": 600.0, "move_ms": 600.0})
def run_reservoir(cfg: ReservoirConfig, run: Run) -> dict:
    if cfg.soc_units % 2:
        raise ValueError(f"soc_units={cfg.soc_units}: expected an even number (equal E and I)")
    res = soc(cfg.soc_units, cfg.soc_p, cfg.soc_R, cfg.soc_gamma, cfg.soc_target, seed=cfg.seed, tau=cfg.tau_ms)
    net = res.network
    W = np.asarray(net.W)
    N = W.shape[0]
    _, G = preferred_initial_conditions(W)
    g = G[:, :2]
    rng = np.random.default_rng(cfg.seed + 1)
    a = rng.uniform(0.5, 1.0, (4, 2)) * rng.choice([-1.0, 1.0], (4, 2))
    xstar = a @ g.T                                                   # (4, N)
    hstar = xstar @ (np.eye(N) - W).T                                 # (I - W) x*
    dt_out = 10.0
    t = np.arange(0.0, cfg.prep_ms + cfg.move_ms + 1e-9, dt_out)
    T_prep = cfg.prep_ms
    hs = jnp.asarray(hstar)

    def h(tt):                                       # (4, N): all conditions in one batched run
        return jnp.clip(tt / T_prep, 0.0, 1.0) * jnp.where(tt < T_prep, 1.0, 0.0) * hs

    traj = np.asarray(simulate(net, np.zeros((4, N)), t, dt=1.0, gain_fn=Linear(), h=h))
    go = int(np.searchsorted(t, T_prep))
    basis_soc = manifold_basis(traj[:, go:], threshold=0.95)
    k_soc = basis_soc.shape[1]
    opto = OptogeneticStimulation(cfg.gamma_soc, onset_ms=0.0, duration_ms=cfg.stim_ms)
    svec = opto.vectors(net.is_excitatory, cfg.n_stim, seed=cfg.seed + 2)
    ts = np.arange(0.0, cfg.stim_ms + cfg.move_ms + 1e-9, dt_out)
    dsoc = np.asarray(simulate(net, np.zeros((cfg.n_stim, N)), ts, dt=1.0, gain_fn=Linear(),
                               h=opto.input_fn(svec)))         # (n_stim, T, N), one batched run
    off_soc = int(np.searchsorted(ts, cfg.stim_ms - dt_out))
    dist_soc = np.linalg.norm(dsoc, axis=-1).mean(0)
    tau_soc = decay_time(dist_soc[off_soc:], dt_out)
    d_end = dsoc[:, off_soc]
    proj_soc = float((np.linalg.norm(d_end @ basis_soc, axis=-1) / np.linalg.norm(d_end, axis=-1)).mean())
    # subspace model fit to the bundled data, stimulated in the same way (10-ms steps); with the configured
    # spectral-radius bound and (compare_bound) without it, since the text states no bound
    prep = prepare_fit_data(None, bundled_window_ms=(-200.0, 300.0), echo=None)
    data, Y, tb = prep.data, prep.Y, prep.transition_bin
    fits = {"main": _subspace_response(cfg, cfg.max_spectral_radius, Y, tb)}
    if cfg.compare_bound:
        other = None if cfg.max_spectral_radius is not None else 0.99
        fits["other"] = _subspace_response(cfg, other, Y, tb)
    sub = fits["main"]
    tau_sub, proj_sub, k_sub, dist_sub, m = sub["tau"], sub["proj"], sub["k"], sub["dist"], sub["model"]
    run.save_array("soc_W", W)
    run.save_array("soc_task", traj)
    run.save_array("dist_soc", dist_soc)
    run.save_array("dist_subspace", dist_sub)
    fig, ax = new_figure(3)
    for c in range(4):
        z = (traj[c] - traj.reshape(-1, N).mean(0)) @ basis_soc[:, :2]
        ax[0].plot(z[:, 0], z[:, 1], lw=1)
    ax[0].set_title("SOC task trajectories (top 2 PCs)")
    tt = np.arange(dist_soc.size) * dt_out
    ax[1].plot(tt, dist_soc / dist_soc.max(), "C3-", label=f"SOC (1/e: {tau_soc:.0f} ms)")
    ax[1].plot(np.arange(dist_sub.size) * dt_out, dist_sub / dist_sub.max(), "C0-",
               label=f"subspace E/I (1/e: {tau_sub:.0f} ms)")
    if "other" in fits:
        o = fits["other"]
        run.save_array("dist_subspace_other_bound", o["dist"])
        setting = "no bound" if o["r_max"] is None else f"bound {o['r_max']:g}"
        ax[1].plot(np.arange(o["dist"].size) * dt_out, o["dist"] / o["dist"].max(), "C0--",
                   label=f"subspace, {setting} (1/e: {o['tau']:.0f} ms)")
    ax[1].axvspan(0, cfg.stim_ms, color="0.85")
    ax[1].set_xlabel("time from stimulation onset (ms)")
    ax[1].set_ylabel("||Δ|| (normalised)")
    ax[1].legend(frameon=False, fontsize=8)
    ax[1].set_title("response to E-targeted stimulation")
    ax[2].bar(range(4), [proj_soc, np.sqrt(k_soc / N), proj_sub, np.sqrt(k_sub / m.n_units)],
              color=["C3", "0.6", "C0", "0.6"])
    ax[2].set_xticks(range(4), ["SOC", "chance", "subspace", "chance"], fontsize=8)
    ax[2].set_ylabel("projection on task activity space")
    run.save_figure(fig, "reservoir_vs_subspace", "Seed 001 Ext. Data Fig. 3: SOC reservoir vs self-contained "
                                                  "subspace network under E-targeted stimulation")
    run.table("hypothesis test (seed 001): stimulation response", ["model", "decay 1/e (ms)",
                                                                   "task-space projection", "chance"],
              [["SOC reservoir (H1)", f"{tau_soc:.0f}", f"{proj_soc:.3f}", f"{np.sqrt(k_soc / N):.3f}"],
               ["subspace E/I (H2)", f"{tau_sub:.0f}", f"{proj_sub:.3f}", f"{np.sqrt(k_sub / m.n_units):.3f}"]])
    run.note(f"SOC (alpha = {spectral_abscissa(W):.2f}): stimulation decays with 1/e time {tau_soc:.0f} ms; "
             f"subspace network: {tau_sub:.0f} ms. H2 (fast decay) is "
             f"{'supported' if tau_sub < tau_soc else 'not supported'} by this comparison.")
    metrics = {"decay_time_subspace_ms": tau_sub, "decay_time_soc_ms": tau_soc,
            "activity_space_projection_soc": proj_soc, "activity_space_chance_soc": float(np.sqrt(k_soc / N)),
            "activity_space_projection_subspace": proj_sub,
            "activity_space_chance_subspace": float(np.sqrt(k_sub / m.n_units)),
            "soc_alpha": float(spectral_abscissa(W)), "h2_supported": bool(tau_sub < tau_soc),
            "subspace_eig_max_abs": float(np.max(np.abs(m.eigenvalues())))}
    for key, fit in fits.items():
        tag = "bounded" if fit["r_max"] is not None else "unbounded"
        metrics[f"decay_time_subspace_{tag}_ms"] = fit["tau"]
        metrics[f"h2_supported_{tag}"] = bool(fit["tau"] < tau_soc)
        metrics[f"subspace_eig_max_abs_{tag}"] = float(np.max(np.abs(fit["model"].eigenvalues())))
        if key == "other":
            bound = "without the spectral-radius bound" if fit["r_max"] is None else f"with the bound {fit['r_max']:g}"
            run.note(f"Subspace network fit {bound}: 1/e time {fit['tau']:.0f} ms, max |lambda(A)| = "
                     f"{metrics[f'subspace_eig_max_abs_{tag}']:.3f}; H2 (fast decay) is "
                     f"{'supported' if fit['tau'] < tau_soc else 'not supported'} that way.")
    return metrics


def _subspace_response(cfg, r_max, Y, tb) -> dict:
    """Fit the subspace network with spectral-radius bound ``r_max`` (None: none); E-targeted response."""
    m = EISubspaceNetwork(cfg.subspace_units, cfg.subspace_latents, tb, max_iter=cfg.max_iter, w_iter=150,
                          lds_iter=50, max_spectral_radius=r_max, seed=cfg.seed).fit(Y)
    n_steps = int(round((cfg.stim_ms + cfg.move_ms) / 10.0)) + 1
    stim_bins = int(round(cfg.stim_ms / 10.0))
    win = np.zeros(n_steps, bool)
    win[1:stim_bins + 1] = True
    U0 = np.zeros((1, n_steps, m.B_.shape[1]))
    opto_m = OptogeneticStimulation(cfg.gamma_subspace, duration_ms=cfg.stim_ms)
    sv_m = opto_m.vectors(m.is_excitatory_, cfg.n_stim, seed=cfg.seed + 3)
    nu0 = np.zeros((1, m.n_units))
    dsub = np.stack([m.simulate_network(nu0, U0, s, win)[0] for s in sv_m])   # linear: response = difference
    dist = np.linalg.norm(dsub, axis=-1).mean(0)
    nu_task = m.simulate_network(np.atleast_2d(m.m0_) @ m.J_pinv_.T, m.condition_inputs())
    basis = manifold_basis(nu_task, threshold=0.95)
    de = dsub[:, stim_bins]
    proj = float((np.linalg.norm(de @ basis, axis=-1) / np.linalg.norm(de, axis=-1)).mean())
    return {"model": m, "r_max": r_max, "tau": decay_time(dist[stim_bins:], 10.0), "dist": dist,
            "proj": proj, "k": basis.shape[1]}


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import Reference, describe  # noqa: E402

describe(
    "reservoir-vs-subspace",
    metrics={
        "decay_time_subspace_ms": ("1/e decay time of ||response|| after stimulation offset, subspace E/I network",
                                   "ms"),
        "decay_time_soc_ms": ("1/e decay time of ||response|| after stimulation offset, SOC reservoir", "ms"),
        "activity_space_projection_soc": ("norm fraction of the SOC response in its task activity space",
                                          "fraction of norm"),
        "activity_space_chance_soc": ("chance level sqrt(k/N) for the SOC activity space", "fraction of norm"),
        "activity_space_projection_subspace": ("norm fraction of the subspace network's response in its task "
                                               "activity space", "fraction of norm"),
        "activity_space_chance_subspace": ("chance level sqrt(k/N) for the subspace network", "fraction of norm"),
        "soc_alpha": ("spectral abscissa of the SOC", ""),
        "h2_supported": ("the subspace network's response decays faster than the SOC's (H2 over H1)", ""),
        "subspace_eig_max_abs": ("largest eigenvalue modulus of the fitted subspace network (per 10-ms step)", ""),
        "decay_time_subspace_*_ms": ("1/e decay time of the subspace network fitted with (bounded) or without "
                                     "(unbounded) the spectral-radius bound on its task dynamics", "ms"),
        "h2_supported_*": ("H2 over H1 for the subspace network fitted with (bounded) or without (unbounded) the "
                           "spectral-radius bound; the text states no bound, so its claim needs the unbounded one",
                           ""),
        "subspace_eig_max_abs_*": ("largest eigenvalue modulus of the subspace network fitted with (bounded) or "
                                   "without (unbounded) the bound (per 10-ms step)", ""),
    },
    references=[
        Reference("decay_time_subspace_ms", "decay_time_soc_ms", "seed 001 Methods §13, Extended Data Fig. 3",
                  "random E perturbations trigger long-lasting effects in the reservoir (SOC) but decay rapidly "
                  "in the subspace network", relation="below"),
        Reference("h2_supported", True, "seed 001 Results (Rapid decay of optogenetic stimulation), §13",
                  "the rapid decay argues against reservoir dynamics (H1)", relation="equal"),
    ],
)
