"""The flagship demonstration (`make demo`, `neurodyn demo`): one report that tells the story.

On the bundled CC0 macaque M1 center-out recordings (8 reach directions, 141 units):

1. **Recordings**: trial-averaged rates and their task activity space (PCA, seed 001 §6).
2. **Latent LDS** (seed 001 §9, seed 000): fitted by EM with hold/go inputs; eigenvalues, Henrici.
3. **Self-contained E/I subspace network** (seed 001 §10): a balanced Dale network whose K-dimensional
   task-dynamics space is self-contained, fitted to the same recordings; Dale violations and constraint
   residuals.
4. **Optogenetic stimulation of the fitted network** (seed 001 §11, §14): E-targeted stimulation for
   200 ms; the response decays fast after offset, projects on the task-dynamics space only at chance
   (sqrt(K/N)) but well above chance on the task activity space, as the E/I co-activation mode predicts.
5. **A stability-optimised circuit** (thesis Appendix C.1) and its preferred initial condition
   (Appendix C.2), which evokes far more energy than random initial conditions.
6. **Learning a novel movement by gain modulation** (thesis §3.4): the SOC's readout is fit to one
   EMG-like target; only the neurons' gains then change, by the reward-based rule (3.5)-(3.6), until the
   network produces a different target movement.

The held-out scores are co-smoothing of held-out reach directions (`neurodyn.models.heldout`): every
neuron of a direction that no fit has seen is predicted from the other neurons, against ridge
regression on the top-K principal components of the held-in neurons (the baseline).

Measured on 2 CPU cores (seed 0), idle: 1 min 46 s, 55 s of it the K grid search. K = 10 for both
models, chosen on the 6 training directions (`latent_grid`, 4 condition folds). LDS: held-out R^2 0.608 against the baseline's
0.596 (+0.012 +- 0.011); an eigenvalue of modulus 1.056 per bin makes its noise-free forward prediction
diverge (-311%, as the report says). E/I network (N = 600, spectral radius bounded by 0.99): 76% train,
held-out 0.605 against 0.596 (+0.009 +- 0.011), 0 Dale violations; optogenetic response 1/e in about
30 ms, task-dynamics projection 0.14 at chance 0.13; SOC alpha 11.1 -> 0.149 in 298 iterations (5 s);
gain learning 4.82 -> 0.19 (mean of 4 sessions of 6,000 iterations). ``--quick`` (K = 5 and 4, a
50-neuron SOC, 2 sessions of 5,000 iterations) runs in under a minute.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Literal

import numpy as np
from pydantic import Field
from sklearn.decomposition import PCA

from neurodyn.analysis import evoked_energy, henrici, observability_gramian, preferred_initial_conditions
from neurodyn.data.prepare import transition_bin
from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.report.figures import new_figure, plot_spectrum


class DemoConfig(ExperimentConfig):
    t_min_ms: float = Field(-400.0, description="first M1 time bin used (ms from movement onset)")
    t_max_ms: float = Field(400.0, description="last M1 time bin used (ms)")
    transition_ms: float = Field(-150.0, description="hold->go input transition of the LDS / E/I models (ms)")
    lds_latents: int | Literal["auto"] = Field("auto", description="latent dimension of the LDS (auto: chosen "
                                               "on the training directions by `select_latent_dimension`)")
    lds_iter: int = Field(100, ge=1, description="EM iterations of the LDS")
    ei_units: int = Field(600, ge=20, description="units N of the E/I subspace network")
    ei_latents: int | Literal["auto"] = Field("auto", description="task-dynamics dimension K (auto: the LDS's "
                                              "chosen K; seed 001: N/100)")
    ei_iter: int = Field(12, ge=1, description="EM iterations of the E/I network fit")
    ei_w_iter: int = Field(150, ge=1, description="projected-gradient steps per W update")
    stim_amplitude: float = Field(0.05, gt=0, description="optogenetic amplitude gamma (§11)")
    stim_onset_ms: float = Field(-300.0, description="stimulation onset (ms); 200 ms long")
    n_stim: int = Field(8, ge=1, description="random stimulation vectors")
    soc_n: int = Field(200, ge=4, description="neurons of the stability-optimised circuit")
    soc_target: float = Field(0.15, gt=0, description="spectral abscissa the SOC stops below")
    sessions: int = Field(4, ge=1, description="independent gain-learning sessions")
    iterations: int = Field(6000, ge=1, description="iterations of the reward-based gain rule")


def _recordings(cfg, run: Run, out: dict):
    from neurodyn.data import load_example, soft_normalize

    data = load_example("hatsopoulos2007").select_time(cfg.t_min_ms, cfg.t_max_ms)
    Y = soft_normalize(data.rates, 5.0)
    C, T, N = Y.shape
    pca = PCA(svd_solver="full").fit(Y.reshape(-1, N))
    cum = np.cumsum(pca.explained_variance_ratio_)
    dim = int(np.searchsorted(cum, 0.95) + 1)
    proj = (Y.reshape(-1, N) - pca.mean_) @ pca.components_[:2].T
    proj = proj.reshape(C, T, 2)
    fig, ax = new_figure(3)
    top = np.argsort(-data.rates.reshape(-1, N).var(0))[:3]
    for k, n in enumerate(top):
        for c in range(C):
            ax[k].plot(data.t_ms, data.rates[c, :, n], color=f"C{c}", lw=1)
        ax[k].axvline(0, color="0.6", ls=":")
        ax[k].set_xlabel("time from movement onset (ms)")
        ax[k].set_ylabel("rate (spikes/s)")
        ax[k].set_title(f"unit {n}, 8 reach directions")
    run.save_figure(fig, "1_recordings", "Bundled M1 recordings: three of 141 units, colour = reach direction")
    fig, ax = new_figure(2)
    ax[0].plot(np.arange(1, cum.size + 1), cum, "k.-")
    ax[0].axhline(0.95, color="r", ls="--", lw=1)
    ax[0].set_xlim(0, 30)
    ax[0].set_xlabel("principal components")
    ax[0].set_ylabel("cumulative variance")
    ax[0].set_title(f"task activity space: {dim} dims hold 95%")
    for c in range(C):
        ax[1].plot(proj[c, :, 0], proj[c, :, 1], color=f"C{c}", lw=1.2)
        ax[1].plot(proj[c, 0, 0], proj[c, 0, 1], "o", color=f"C{c}", ms=3)
    ax[1].set_xlabel("PC 1")
    ax[1].set_ylabel("PC 2")
    ax[1].set_title("population trajectories")
    run.save_figure(fig, "1_task_space", "PCA of the soft-normalised trial averages (seed 001 §6)")
    out.update(data_conditions=C, data_time_bins=T, data_neurons=N, data_task_space_dim=dim)
    return data, Y


def _heldout_panel(ax, t_ms, Y_test, cv, title):
    """Data, model and baseline for the most variable held-out neuron of the first held-out condition."""
    n = int(np.argmax(Y_test[0].var(0)))
    ax.plot(t_ms, Y_test[0, :, n], "k-", lw=1.5, label="data")
    ax.plot(t_ms, cv["prediction"][0, :, n], "C3--", lw=1.2, label=f"model (R² {cv['heldout_neuron_r2']:.2f})")
    ax.plot(t_ms, cv["prediction_baseline"][0, :, n], "C0:", lw=1.2,
            label=f"PCA ridge (R² {cv['heldout_neuron_r2_baseline']:.2f})")
    ax.set(xlabel="time from movement onset (ms)", ylabel="soft-normalised rate", title=title)
    ax.legend(frameon=False, fontsize=7)


def _choose_K(cfg, run: Run, data, Y, state) -> int:
    """K chosen once on the training directions (held-out directions never seen)."""
    if getattr(state, "K", None) is None:
        from neurodyn.models.lds import select_latent_dimension
        sel = select_latent_dimension(Y[np.arange(Y.shape[0]) % 4 != 1], transition_bin(data.t_ms, cfg.transition_ms),
                                      max_iter=min(cfg.lds_iter, 100), seed=cfg.seed)
        state.K = sel["best_K"]
        run.table("K chosen on the training directions: co-smoothing R² of held-out neurons (LDS, condition folds)",
                  ["K", "R²"], [[k, f"{v:.4g}"] for k, v in zip(sel["K_grid"], sel["heldout_neuron_r2"])])
    return state.K


def _lds(cfg, run: Run, data, Y, out: dict, K: int):
    from neurodyn.analysis import signal_variance_explained
    from neurodyn.models.heldout import score_new_conditions
    from neurodyn.models.lds import LDS

    C = Y.shape[0]
    tb = transition_bin(data.t_ms, cfg.transition_ms)
    test = np.arange(C) % 4 == 1
    model = LDS(K, transition=tb, max_iter=cfg.lds_iter).fit(Y[~test])
    model.save(run.out / "lds_model.npz")
    sve_train = signal_variance_explained(Y[~test], model.predict())
    cv = score_new_conditions(model, Y[~test], Y[test], seed=cfg.seed)
    lam = model.eigenvalues()
    fig, ax = new_figure(3)
    th = np.linspace(0, 2 * np.pi, 200)
    ax[0].plot(np.cos(th), np.sin(th), color="0.7", lw=0.8)
    plot_spectrum(ax[0], lam, s=25)
    ax[0].set_aspect("equal")
    ax[0].set_title(f"LDS dynamics eigenvalues (K={K})")
    ax[1].plot(model.loglik_, "k.-")
    ax[1].set_xlabel("EM iteration")
    ax[1].set_ylabel("log-likelihood (nats)")
    ax[1].set_title("EM never decreases the likelihood")
    _heldout_panel(ax[2], data.t_ms, Y[test], cv, "held-out direction, neuron predicted\nfrom the others")
    run.save_figure(fig, "2_lds", "Latent LDS fit by EM (seed 001 §9): eigenvalues, likelihood, and a neuron of a "
                                  "held-out reach direction predicted from the other neurons (co-smoothing), "
                                  "against ridge regression on the top-K PCs")
    out.update(lds_K=K, lds_signal_var_explained_train=float(sve_train),
               lds_heldout_neuron_r2=float(cv["heldout_neuron_r2"]),
               lds_heldout_neuron_r2_baseline=float(cv["heldout_neuron_r2_baseline"]),
               lds_heldout_neuron_r2_minus_baseline=float(cv["heldout_neuron_r2_minus_baseline"]),
               lds_heldout_neuron_r2_minus_baseline_se=float(cv["heldout_neuron_r2_minus_baseline_se"]),
               lds_eig_max_abs=float(np.max(np.abs(lam))), lds_henrici=float(henrici(model.A_)),
               lds_em_converged=model.stop_reason_ == "converged")
    return model


def _ei_subspace(cfg, run: Run, data, Y, out: dict, K: int):
    from neurodyn.analysis import signal_variance_explained
    from neurodyn.models.ei_subspace import EISubspaceNetwork
    from neurodyn.models.heldout import score_new_conditions

    C = Y.shape[0]
    tb = transition_bin(data.t_ms, cfg.transition_ms)
    test = np.arange(C) % 4 == 1
    model = EISubspaceNetwork(cfg.ei_units, K, tb, max_iter=cfg.ei_iter, w_iter=cfg.ei_w_iter,
                              seed=cfg.seed, dt_ms=float(np.median(np.diff(data.t_ms)))).fit(Y[~test])
    model.save(run.out / "ei_model.npz")
    sve_train = signal_variance_explained(Y[~test], model.predict())
    cv = score_new_conditions(model, Y[~test], Y[test], seed=cfg.seed)
    lam = model.eigenvalues()
    fig, ax = new_figure(3)
    th = np.linspace(0, 2 * np.pi, 200)
    ax[0].plot(np.cos(th), np.sin(th), color="0.7", lw=0.8)
    plot_spectrum(ax[0], lam, s=25, label="A = J W J⁺")
    ax[0].set_aspect("equal")
    ax[0].set_title(f"task dynamics (K={K})")
    plot_spectrum(ax[1], np.linalg.eigvals(model.W_), s=3)
    ax[1].set_title(f"spectrum of the Dale W (N={cfg.ei_units})")
    _heldout_panel(ax[2], data.t_ms, Y[test], cv, "held-out direction, neuron predicted\nfrom the others")
    run.save_figure(fig, "3_ei_subspace", "Balanced Dale E/I network with a self-contained task-dynamics "
                                          "space, fitted to the M1 recordings (seed 001 §10); co-smoothing of a "
                                          "held-out reach direction")
    out.update(ei_N=cfg.ei_units, ei_K=K, ei_signal_var_explained_train=float(sve_train),
               ei_heldout_neuron_r2=float(cv["heldout_neuron_r2"]),
               ei_heldout_neuron_r2_baseline=float(cv["heldout_neuron_r2_baseline"]),
               ei_heldout_neuron_r2_minus_baseline=float(cv["heldout_neuron_r2_minus_baseline"]),
               ei_heldout_neuron_r2_minus_baseline_se=float(cv["heldout_neuron_r2_minus_baseline_se"]),
               ei_self_containment_residual=float(model.self_containment_residual()),
               ei_balance_residual=float(model.balance_residual()),
               ei_dale_violations=int(model.dale_violations()), ei_eig_max_abs=float(np.max(np.abs(lam))))
    return model, test


def _optogenetic(cfg, run: Run, data, model, out: dict):
    from neurodyn.models.ei_subspace import chance_projection, projection_fraction
    from neurodyn.perturb import OptogeneticStimulation, decay_time, manifold_basis, stimulated_response

    T = data.t_ms.size
    dt = float(np.median(np.diff(data.t_ms)))
    onset = int(np.searchsorted(data.t_ms, cfg.stim_onset_ms))
    n_bins = int(round(200.0 / dt))
    if onset < 1 or onset + n_bins >= T - 5:
        raise ValueError(f"stim_onset_ms={cfg.stim_onset_ms}: expected a 200 ms window inside "
                         f"[{data.t_ms[1]:.0f}, {data.t_ms[-1] - 250:.0f}] ms")
    window = np.zeros(T, bool)
    window[onset:onset + n_bins] = True
    off = onset + n_bins - 1
    nu0 = np.atleast_2d(model.m0_) @ model.J_pinv_.T
    U = model.condition_inputs()

    def net_run(s, win):
        return model.simulate_network(nu0, U, s, win)

    svec = OptogeneticStimulation(cfg.stim_amplitude, noise_sd=0.3).vectors(model.is_excitatory_, cfg.n_stim,
                                                                          seed=cfg.seed + 4)
    base, dnu = stimulated_response(net_run, svec, window)
    d_end = dnu[:, :, off]
    N, K = model.W_.shape[0], model.J_.shape[0]
    dyn_proj = float(projection_fraction(d_end, model.J_).mean())
    basis = manifold_basis(base, threshold=0.95)
    act_proj = float((np.linalg.norm(d_end @ basis, axis=-1) / np.linalg.norm(d_end, axis=-1)).mean())
    dist = np.linalg.norm(dnu, axis=-1).mean((0, 1))
    tau = decay_time(dist[off:], dt)
    x_dist = np.linalg.norm(dnu @ model.J_.T, axis=-1).mean((0, 1))
    fig, ax = new_figure(2)
    ax[0].plot(data.t_ms, dist / dist.max(), "k-", label="network ||Δν||")
    ax[0].plot(data.t_ms, x_dist / dist.max(), "C1-", label="task-dynamics space ||J Δν||")
    ax[0].axvspan(data.t_ms[onset], data.t_ms[off], color="C0", alpha=0.15, label="stimulation")
    ax[0].set_xlabel("time (ms)")
    ax[0].set_ylabel("distance (normalised)")
    ax[0].set_title(f"response decays: 1/e in {tau:.0f} ms")
    ax[0].legend(frameon=False, fontsize=8)
    k_act = basis.shape[1]
    vals = [dyn_proj, chance_projection(K, N), act_proj, np.sqrt(k_act / N)]
    ax[1].bar(range(4), vals, color=["C1", "0.6", "C0", "0.6"])
    ax[1].set_xticks(range(4), ["task dynamics", "chance", "task activity", "chance"], fontsize=8)
    ax[1].set_ylabel("projection at stimulation end")
    ax[1].set_title("where the stimulation response lies")
    run.save_figure(fig, "4_optogenetic", "E-targeted optogenetic stimulation of the fitted network (seed 001 "
                                          "§11, §14): fast decay; chance-level projection on the task-"
                                          "dynamics space, above-chance on the task activity space")
    run.note(f"Optogenetic stimulation of E units of the fitted network decays to 1/e within {tau:.0f} ms of "
             f"offset. Its projection on the task-dynamics space is {dyn_proj:.3f} (chance "
             f"{chance_projection(K, N):.3f}); on the {k_act}-dimensional task activity space {act_proj:.3f} "
             f"(chance {np.sqrt(k_act / N):.3f}).")
    out.update(opto_decay_time_ms=tau, opto_dynamics_space_projection=dyn_proj,
               opto_dynamics_space_chance=float(np.sqrt(K / N)), opto_activity_space_projection=act_proj,
               opto_activity_space_chance=float(np.sqrt(k_act / N)))


def _soc(cfg, run: Run, out: dict):
    from neurodyn.connectivity.soc import soc

    t0 = time.perf_counter()
    res = soc(cfg.soc_n, target=cfg.soc_target, seed=cfg.seed)
    secs = time.perf_counter() - t0
    W = res.network.W
    lam, V = preferred_initial_conditions(W)
    rng = np.random.default_rng(cfg.seed + 11)
    xr = rng.normal(size=(100, W.shape[0]))
    xr /= np.linalg.norm(xr, axis=1, keepdims=True)
    ratio = float(lam[0] / evoked_energy(observability_gramian(W), xr).mean())
    fig, ax = new_figure(2)
    plot_spectrum(ax[0], np.linalg.eigvals(res.initial_W), color="C0", label="initial", s=6)
    plot_spectrum(ax[0], np.linalg.eigvals(W), color="k", label="optimised", s=6)
    ax[0].axvline(1.0, color="r", ls="--", lw=1, label="stability bound")
    ax[0].legend(frameon=False, fontsize=8)
    ax[0].set_title("SOC spectrum (thesis Fig. 1.6a)")
    ax[1].semilogy(res.alpha_history, "k-")
    ax[1].axhline(cfg.soc_target, color="r", ls="--", lw=1)
    ax[1].set_xlabel("iteration")
    ax[1].set_ylabel("spectral abscissa α(W)")
    ax[1].set_title(f"{res.iterations} iterations, {secs:.0f} s")
    run.save_figure(fig, "5_soc", "Stability-optimised circuit: only inhibitory weights change until α(W) < "
                                  f"{cfg.soc_target} (thesis Appendix C.1)")
    out.update(soc_alpha_initial=float(res.alpha_history[0]), soc_alpha_final=float(res.alpha),
               soc_iterations=int(res.iterations), soc_seconds=secs, soc_energy_ratio_a1_vs_random=ratio,
               soc_converged=bool(res.converged))
    return res.network


def _gain_learning(cfg, run: Run, net, out: dict):
    from neurodyn.learning import GainTask, emg_targets, fit_readout_on_trials, learn_gains, rate_amplitude
    from neurodyn.learning.movement import soc_dynamics

    dyn = soc_dynamics(network=net)
    amp = rate_amplitude(dyn)
    _, Y = emg_targets(2, seed=cfg.seed, amplitude=amp)
    readout = fit_readout_on_trials(dyn, Y[0], n_trials=100, snr_db=30.0, seed=cfg.seed)
    task = GainTask(dyn, readout, Y[1])
    res = learn_gains(task, cfg.sessions, cfg.iterations, seed=cfg.seed)
    errors = res.errors[0]
    gains = res.gains[0]
    z_before = np.asarray(task.output())[..., 0]
    best = int(np.argmin(errors[:, -1]))
    z_after = np.asarray(task.output(gains[best][None]))[0, :, 0]
    t = dyn.t_ms
    fig, ax = new_figure(3)
    it = np.arange(errors.shape[1])
    ax[0].plot(it, errors.mean(0), "r-")
    ax[0].fill_between(it, errors.min(0), errors.max(0), color="r", alpha=0.2, lw=0)
    ax[0].set_xlabel("iteration")
    ax[0].set_ylabel("error 1 - R²")
    ax[0].set_title(f"learning by gains only ({cfg.sessions} sessions)")
    ax[1].plot(t, Y[1], "k-", lw=2, label="novel target")
    ax[1].plot(t, z_before, "C0--", label="before (gains 1)")
    ax[1].plot(t, z_after, "r-", label="after learning")
    ax[1].set_xlabel("time (ms)")
    ax[1].set_ylabel("output")
    ax[1].legend(frameon=False, fontsize=8)
    ax[1].set_title("network output")
    ax[2].hist(gains.ravel(), bins=30, color="0.6")
    ax[2].set_xlabel("learned gain")
    ax[2].set_title("gain distribution")
    run.save_figure(fig, "6_gain_learning", "A novel EMG-like movement learned by changing only neuronal gains "
                                            "(thesis §3.4, rule 3.5-3.6)")
    out.update(learning_error_initial=float(errors[0, 0]), learning_error_final_mean=float(errors[:, -1].mean()),
               learning_gain_mean=float(gains.mean()), learning_gain_sd=float(gains.std()))


@experiment("demo", DemoConfig,
            "The flagship demonstration on the bundled M1 recordings: LDS and self-contained E/I network fits, "
            "optogenetic stimulation of the fitted network, a stability-optimised circuit and a movement "
            "learned by gain modulation.",
            quick={"lds_iter": 20, "lds_latents": 5, "ei_units": 200, "ei_latents": 4, "ei_iter": 3, "ei_w_iter": 50,
                   "n_stim": 3, "soc_n": 50, "soc_target": 0.3, "sessions": 2, "iterations": 5000,
                   "t_min_ms": -400.0, "t_max_ms": 300.0})
def run_demo(cfg: DemoConfig, run: Run) -> dict:
    out: dict = {}
    steps = ["recordings", "LDS", "E/I subspace network", "optogenetic stimulation", "SOC", "gain learning"]
    state = SimpleNamespace()
    for name in run.progress(steps, description="demo"):
        t0 = time.perf_counter()
        if name == "recordings":
            state.data, state.Y = _recordings(cfg, run, out)
        elif name == "LDS":
            K = cfg.lds_latents if cfg.lds_latents != "auto" else _choose_K(cfg, run, state.data, state.Y, state)
            _lds(cfg, run, state.data, state.Y, out, int(K))
        elif name == "E/I subspace network":
            K = cfg.ei_latents if cfg.ei_latents != "auto" else _choose_K(cfg, run, state.data, state.Y, state)
            state.ei, _ = _ei_subspace(cfg, run, state.data, state.Y, out, int(K))
        elif name == "optogenetic stimulation":
            _optogenetic(cfg, run, state.data, state.ei, out)
        elif name == "SOC":
            state.soc = _soc(cfg, run, out)
        else:
            _gain_learning(cfg, run, state.soc, out)
        out[f"seconds_{name.split()[0].lower().replace('/', '')}"] = time.perf_counter() - t0
    run.note(f"Recordings: {out['data_conditions']} reach directions x {out['data_time_bins']} bins x "
             f"{out['data_neurons']} units; 95% of their variance lies in {out['data_task_space_dim']} dimensions.")
    run.note(f"LDS (K={out['lds_K']}): {out['lds_signal_var_explained_train']:.0%} of the training conditions' "
             f"variance explained forward from their initial states (max |eigenvalue| {out['lds_eig_max_abs']:.3f} "
             f"per bin{': above 1, so the noise-free forward prediction grows' if out['lds_eig_max_abs'] > 1 else ''})."
             f" On held-out reach directions, each neuron predicted from the others (co-smoothing, never seen in the "
             f"fit) reaches R² {out['lds_heldout_neuron_r2']:.3f}, against {out['lds_heldout_neuron_r2_baseline']:.3f} "
             f"for ridge regression on the top-{out['lds_K']} PCs (difference "
             f"{out['lds_heldout_neuron_r2_minus_baseline']:+.3f} ± {out['lds_heldout_neuron_r2_minus_baseline_se']:.3f}).")
    run.note(f"E/I network (N={out['ei_N']}, K={out['ei_K']}, spectral radius bounded by 0.99): "
             f"{out['ei_signal_var_explained_train']:.0%} train; "
             f"held-out co-smoothing R² {out['ei_heldout_neuron_r2']:.3f} (baseline "
             f"{out['ei_heldout_neuron_r2_baseline']:.3f}, difference {out['ei_heldout_neuron_r2_minus_baseline']:+.3f} "
             f"± {out['ei_heldout_neuron_r2_minus_baseline_se']:.3f}), with {out['ei_dale_violations']} Dale "
             f"violations and self-containment residual {out['ei_self_containment_residual']:.1e}.")
    run.note(f"SOC: α(W) from {out['soc_alpha_initial']:.1f} to {out['soc_alpha_final']:.3f} in "
             f"{out['soc_iterations']} iterations; its preferred initial condition evokes "
             f"{out['soc_energy_ratio_a1_vs_random']:.1f}x the energy of random ones.")
    run.note(f"Gain learning: error 1 - R² from {out['learning_error_initial']:.2f} to "
             f"{out['learning_error_final_mean']:.2f} (mean of {cfg.sessions} sessions) with the connectivity "
             f"fixed; learned gains {out['learning_gain_mean']:.3f} ± {out['learning_gain_sd']:.3f}.")
    return out


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import Reference, describe  # noqa: E402

describe(
    "demo",
    metrics={
        "data_conditions": ("reach directions of the recording", "count"),
        "data_time_bins": ("time bins in the window", "count"),
        "data_neurons": ("units of the recording", "count"),
        "data_task_space_dim": ("principal components holding 95% of the trial-averaged variance (seed 001 §6)",
                                "count"),
        "lds_K": ("latent dimension of the LDS", "count"),
        "lds_signal_var_explained_train": ("variance of the training directions explained by noise-free forward "
                                           "prediction (seed 001 §12)", "fraction"),
        "lds_heldout_neuron_r2": ("co-smoothing R^2: each neuron of held-out directions predicted from the other "
                                  "neurons by the LDS (never seen in the fit)", "fraction"),
        "lds_heldout_neuron_r2_minus_baseline": ("lds_heldout_neuron_r2 minus its baseline's (above 0: the LDS "
                                                 "predicts held-out neurons better)", "fraction"),
        "lds_heldout_neuron_r2_minus_baseline_se": ("jackknife standard error of that difference", "fraction"),
        "lds_heldout_neuron_r2_baseline": ("the same neurons predicted by ridge regression on the top-K PCs of the "
                                           "held-in neurons", "fraction"),
        "lds_eig_max_abs": ("largest |eigenvalue| of the LDS dynamics, per 10-ms bin", "per bin"),
        "lds_henrici": ("normalised Henrici departure from normality of A (seed 001 §9.2)", ""),
        "lds_em_converged": ("EM met its tolerance before max_iter", ""),
        "ei_N": ("units of the E/I subspace network", "count"),
        "ei_K": ("task-dynamics dimension", "count"),
        "ei_signal_var_explained_train": ("variance of the training directions explained (seed 001 §12)",
                                          "fraction"),
        "ei_heldout_neuron_r2": ("co-smoothing R^2 of held-out directions by the E/I network", "fraction"),
        "ei_heldout_neuron_r2_minus_baseline": ("ei_heldout_neuron_r2 minus its baseline's (above 0: the E/I "
                                                "network predicts held-out neurons better)", "fraction"),
        "ei_heldout_neuron_r2_minus_baseline_se": ("jackknife standard error of that difference", "fraction"),
        "ei_heldout_neuron_r2_baseline": ("the same neurons by the PCA-ridge baseline", "fraction"),
        "ei_self_containment_residual": ("||J W (I - J^+ J)|| / ||J W|| (seed 001 §10.1)", "ratio"),
        "ei_balance_residual": ("||W 1|| / || |W| 1 || (seed 001 §10.1)", "ratio"),
        "ei_dale_violations": ("weights of the wrong sign", "count"),
        "ei_eig_max_abs": ("largest |eigenvalue| of the task dynamics J W J^+, per bin", "per bin"),
        "opto_decay_time_ms": ("1/e decay time of the stimulation response after offset (seed 001 §11)", "ms"),
        "opto_dynamics_space_projection": ("norm fraction of the response in the task-dynamics space", "fraction"),
        "opto_dynamics_space_chance": ("chance level sqrt(K/N)", "fraction"),
        "opto_activity_space_projection": ("norm fraction of the response in the task activity space", "fraction"),
        "opto_activity_space_chance": ("chance level sqrt(k/N) of the activity space", "fraction"),
        "soc_alpha_initial": ("spectral abscissa of the initial random E/I network", ""),
        "soc_alpha_final": ("spectral abscissa after optimisation (thesis App. C.1)", ""),
        "soc_iterations": ("SOC iterations to the target", "count"),
        "soc_seconds": ("wall time of the SOC optimisation", "s"),
        "soc_energy_ratio_a1_vs_random": ("energy evoked by the preferred initial condition a1 over the mean of "
                                          "random ones (thesis App. C.2)", "ratio"),
        "soc_converged": ("the SOC reached its target", ""),
        "learning_error_initial": ("error 1 - R^2 of the output against the novel target before learning", ""),
        "learning_error_final_mean": ("error 1 - R^2 after learning, mean over sessions", ""),
        "learning_gain_mean": ("mean learned gain", "gain"),
        "learning_gain_sd": ("standard deviation of the learned gains", "gain"),
        "seconds_*": ("wall time of one part of the demo", "s"),
    },
    references=[
        Reference("soc_alpha_final", 0.15, "thesis App. C.1 (step 9), §1.2.4, Fig. 1.6a",
                  "repeat until α(W) < 0.15", relation="below", scale="N = 200, target 0.15"),
        Reference("opto_dynamics_space_projection", "opto_dynamics_space_chance", "seed 001 §14, Fig. 4",
                  "optogenetic stimulation projects onto the task-dynamics space at chance level sqrt(K/N)",
                  relation="ratio", tol=1.5),
        Reference("learning_error_final_mean", "learning_error_initial", "thesis §3.5, Fig. 3.3b",
                  "the error decreases during training", relation="below"),
    ],
)
