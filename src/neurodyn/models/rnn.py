"""Dale-constrained (multi-area) rate RNNs trained by backpropagation through time (seed 000, Fig. 2b).

Seed 000 (section "Models of large scale, brain-wide neural population dynamics"): "RNNs can be
straightforwardly extended to incorporate multiple areas at a resolution that enables incorporation of
anatomical constraints, including E-I cell types, proportion of connectivity between areas, and Dale's
law"; they are optimised "with backpropagation-through-time", and training may need "regularizing neural
population trajectories of each RNN area to resemble cortical areas". The text gives no equations; the
model below is the one of its refs. 30 and 37 (Song, Yang & Wang 2016; Kleinman, Chandrasekaran &
Kao 2021), written in the notation of thesis (seed 003) eq. 2.1.

Dynamics (``tau_i`` per area, forward Euler with step dt; identical to `neurodyn.dynamics.simulate`
with ``method="euler"``, ``gain_fn=Relu()`` on `to_network`)::

    x(t + dt) = x(t) + (dt / tau) (-x(t) + W r(t) + W_in u(t) + b) + sigma sqrt(dt) / tau xi(t)
    r(t)      = [x(t)]_+                      (rates >= 0, so signs of W are signs of synapses)
    z(t)      = W_out r(t)                    (readout of the output area's E units)

Dale's law and anatomy by fixed masks (Song et al. 2016, eq. 8; `neurodyn.models.rnn_structure`):
``W = |W_free| * M * S`` with a 0/1 connection mask M and ``S_ij = +1`` for E columns j, ``-1`` for I
columns; inter-area projections come from E units only. Because ``|.|``, M and S are applied in the
forward pass, no gradient step can produce a sign violation (`dale_violations` counts them; it is 0 by
construction).

Loss (BPTT through `jax.lax.scan`, Adam from optax, gradient clipping)::

    L = mean_mask ||z - z*||^2 / var(z*)                        (task error, 1 - R^2 form, thesis App. D)
      + lambda_psth * (1 - R^2_psth)                            (seed 000's regularisation toward data)
      + lambda_r mean r^2 + lambda_w mean W^2

with ``R^2_psth`` the fit of the recorded PSTHs P (conditions x time x recorded neurons, reduced to its
top principal components) by a linear map of the area's rates, refitted inside every loss evaluation by
ridge regression ``M = (R^T R + alpha I)^{-1} R^T P`` (centred R and P), so gradients flow through M.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxtyping import Array, Float

from neurodyn.validation import fail, finite_array, in_range, positive, positive_int
from neurodyn.models.base import NeurodynEstimator
from neurodyn.models.rnn_structure import RNNStructure, Relu, dale_rnn_structure
from neurodyn.models.tasks import DelayedReachTask
from neurodyn.network import Network
from neurodyn.progress import progress

__all__ = ["DaleRNN", "RNNStructure", "Relu", "dale_rnn_structure", "psth_fit"]


def _check_task(X):
    for f in ("inputs", "targets", "mask", "t_ms"):
        if not hasattr(X, f):
            fail("X", type(X).__name__, "a task with inputs, targets, mask and t_ms (e.g. DelayedReachTask)",
                 TypeError)
    return X


def _effective_W(W_free, mask, sign):
    return jnp.abs(W_free) * mask * sign[None, :]


@partial(jax.jit, static_argnames=("noisy",))
def _run(params, mask, sign, in_mask, out_mask, tau, inputs, key, noise_sd, dt, *, noisy):
    W = _effective_W(params["W"], mask, sign)
    W_in = params["W_in"] * in_mask
    W_out = params["W_out"] * out_mask
    drive = inputs @ W_in.T + params["b"]                        # (conditions, time, neurons)
    x0 = jnp.broadcast_to(params["x0"], drive.shape[:1] + params["x0"].shape)

    def step(x, inp):
        h, k = inp
        r = jnp.maximum(x, 0.0)
        xn = x + dt / tau * (-x + r @ W.T + h)
        if noisy:
            xn = xn + noise_sd * jnp.sqrt(dt) / tau * jax.random.normal(jax.random.fold_in(key, k), x.shape)
        return xn, x

    T = inputs.shape[1]
    _, xs = jax.lax.scan(step, x0, (jnp.swapaxes(drive, 0, 1), jnp.arange(T)))
    x = jnp.swapaxes(xs, 0, 1)                                   # (conditions, time, neurons): at the grid times
    r = jnp.maximum(x, 0.0)
    return x, r, r @ W_out.T


def psth_fit(rates: Float[Array, "conditions time neurons"], psth: Float[Array, "conditions time readouts"],
             ridge: float = 1e-2) -> tuple[Float[Array, ""], Float[Array, "neurons readouts"]]:
    """R^2 of the ridge map from rates to PSTHs, both centred; also the map (neurons x readouts).

    ``M = (R^T R + ridge * tr(R^T R)/n I)^{-1} R^T P``; ``R^2 = 1 - ||P - R M||^2 / ||P||^2`` (JAX, differentiable).
    """
    R = rates.reshape(-1, rates.shape[-1])
    P = psth.reshape(-1, psth.shape[-1])
    R = R - R.mean(0)
    P = P - P.mean(0)
    G = R.T @ R
    lam = ridge * (jnp.trace(G) / G.shape[0] + 1e-12)
    M = jnp.linalg.solve(G + lam * jnp.eye(G.shape[0]), R.T @ P)
    return 1.0 - jnp.sum((P - R @ M) ** 2) / jnp.sum(P**2), M


class DaleRNN(NeurodynEstimator):
    """Dale-constrained single- or multi-area rate RNN trained by BPTT (module docstring).

    Parameters
    ----------
    area_sizes : sequence of int
        Units per area (one entry: a single-area RNN).
    e_fraction, p_local, proportions, input_areas, output_area, taus_ms : architecture (`dale_rnn_structure`).
    dt_ms : Euler step (ms), the task's time step.
    n_iter, learning_rate : Adam iterations and step size.
    noise_sd : recurrent noise amplitude during training.
    rate_reg, weight_reg : L2 penalties on rates and weights.
    psth_weight, psth_area, psth_ridge : weight of the PSTH term, area matched to the PSTHs, ridge of its map.
    spectral_radius : spectral radius of the initial effective W.
    seed : masks, initial weights and noise.

    Contract (`neurodyn.models.base`). ``X`` is a task (an object with ``inputs`` (conditions, time, inputs),
    ``targets`` (conditions, time, outputs), ``mask`` (conditions, time) and ``t_ms``, e.g. `DelayedReachTask`) or, for the methods that only
    need inputs, an input array (conditions, time, inputs). ``fit(X, psth)`` returns self. The RNN has no posterior
    over latents: ``transform(X)`` is its unit activity, the rates ``r = [x]_+`` (conditions, time, neurons), of the
    noise-free network driven by the inputs; ``predict(X)`` its outputs ``z = W_out r`` (conditions, time, outputs);
    `simulate` returns ``(x, r, z)`` with optional recurrent noise. Noise model (fitted in ``fit``):
    the targets are the noise-free outputs plus Gaussian noise, ``z* ~ N(z, diag(s^2))`` on the masked
    bins, ``s^2`` the per-output mean squared training residual (its maximum-likelihood estimate), so
    ``score(X)`` is the mean Gaussian log-likelihood per observed (masked) bin::

        score = 1/|mask| sum_{(c,t) in mask} sum_j [ -1/2 log(2 pi s_j^2) - (z*_{c,t,j} - z_{c,t,j})^2 / (2 s_j^2) ]

    (higher is better), and ``sample(X, seed)`` draws targets from that model.

    Attributes after `fit`: ``structure_``, ``params_``, ``loss_history_``, ``task_error_`` (1 - R^2 of
    the noise-free outputs), ``psth_r2_`` (of the noise-free rates; None without PSTHs),
    ``noise_variance_`` (n_out,).
    """

    def __init__(self, area_sizes=(100, 100), *, e_fraction: float = 0.8, p_local: float = 1.0, proportions=None,
                 input_areas=(0,), output_area: int = -1, taus_ms=50.0, dt_ms: float = 10.0, n_iter: int = 1000,
                 learning_rate: float = 1e-3, noise_sd: float = 0.0, rate_reg: float = 1e-4,
                 weight_reg: float = 1e-4, psth_weight: float = 1.0, psth_area: int = 0, psth_ridge: float = 1e-2,
                 spectral_radius: float = 1.0, seed: int = 0):
        self.area_sizes = area_sizes
        self.e_fraction, self.p_local, self.proportions = e_fraction, p_local, proportions
        self.input_areas, self.output_area, self.taus_ms = input_areas, output_area, taus_ms
        self.dt_ms = dt_ms
        self.n_iter = n_iter
        self.learning_rate = learning_rate
        self.noise_sd = noise_sd
        self.rate_reg = rate_reg
        self.weight_reg = weight_reg
        self.psth_weight = psth_weight
        self.psth_area = psth_area
        self.psth_ridge = psth_ridge
        self.spectral_radius = spectral_radius
        self.seed = seed

    def _validate_params(self) -> None:
        positive("dt_ms", self.dt_ms)
        positive_int("n_iter", self.n_iter, 0)
        positive("learning_rate", self.learning_rate)
        in_range("noise_sd", self.noise_sd, 0.0, np.inf)
        in_range("rate_reg", self.rate_reg, 0.0, np.inf)
        in_range("weight_reg", self.weight_reg, 0.0, np.inf)
        in_range("psth_weight", self.psth_weight, 0.0, np.inf)
        positive_int("psth_area", self.psth_area, -len(tuple(self.area_sizes)))
        positive("psth_ridge", self.psth_ridge)
        positive("spectral_radius", self.spectral_radius)
        positive_int("seed", self.seed, 0)
        positive_int("output_area", self.output_area, -len(tuple(self.area_sizes)))

    def _init_params(self, st: RNNStructure, n_in: int, n_out: int) -> dict:
        rng = np.random.default_rng([self.seed, 1])
        n = st.n
        n_e = int(np.sum(st.sign > 0))
        mag = np.abs(rng.standard_normal((n, n)))
        mag[:, st.sign < 0] *= n_e / max(n - n_e, 1)          # balance mean E and I input
        W = mag * st.mask * st.sign[None, :]
        rad = np.max(np.abs(np.linalg.eigvals(W)))
        mag *= self.spectral_radius / rad
        return {"W": jnp.asarray(mag), "W_in": jnp.asarray(rng.standard_normal((n, n_in)) / np.sqrt(n_in)),
                "b": jnp.zeros(n), "W_out": jnp.asarray(rng.standard_normal((n_out, n)) * 0.1 / np.sqrt(n_e)),
                "x0": jnp.asarray(0.1 * rng.standard_normal(n))}

    def _arrays(self):
        st = self.structure_
        return (jnp.asarray(st.mask), jnp.asarray(st.sign), jnp.asarray(st.input_mask), jnp.asarray(st.output_mask),
                jnp.asarray(st.tau))

    def fit(self, X: DelayedReachTask, psth: Float[np.ndarray, "conditions time readouts"] | None = None,
            y=None) -> "DaleRNN":
        """Train on a task ``X`` (a `DelayedReachTask` or any object with ``inputs``, ``targets``, ``mask``,
        ``t_ms``).

        ``psth``: (conditions, time, k) recorded activity of the same conditions and times for the PSTH term (e.g.
        the top principal components of soft-normalised firing rates), or None.
        """
        self._validate_params()
        task = _check_task(X)
        U = finite_array("task.inputs", task.inputs, ndim=3)
        Z = finite_array("task.targets", task.targets, ndim=3)
        mask = np.asarray(task.mask, bool)
        if Z.shape[:2] != U.shape[:2] or mask.shape != U.shape[:2]:
            fail("task.targets", Z, f"shape ({U.shape[0]}, {U.shape[1]}, outputs) with a matching mask")
        dt = float(np.diff(task.t_ms)[0])
        if abs(dt - self.dt_ms) > 1e-9:
            fail("task.t_ms", task.t_ms, f"a time step equal to dt_ms={self.dt_ms}")
        st = dale_rnn_structure(tuple(self.area_sizes), U.shape[2], Z.shape[2], e_fraction=self.e_fraction,
                                p_local=self.p_local, proportions=self.proportions,
                                input_areas=tuple(self.input_areas),
                                output_area=self.output_area, taus_ms=self.taus_ms, seed=self.seed)
        if np.any(self.dt_ms >= st.tau):
            fail("dt_ms", self.dt_ms, f"a step smaller than every tau (min {st.tau.min():g} ms)")
        self.structure_ = st
        P = None
        if psth is not None:
            P = finite_array("psth", psth, ndim=3)
            if P.shape[:2] != U.shape[:2]:
                fail("psth", P, f"shape ({U.shape[0]}, {U.shape[1]}, neurons): the task's conditions and times")
            if not -len(st.area_sizes) <= self.psth_area < len(st.area_sizes):
                fail("psth_area", self.psth_area, f"an area index in [0, {len(st.area_sizes) - 1}]")
        psth_idx = jnp.asarray(st.area_index(self.psth_area % len(st.area_sizes)))
        arrs = self._arrays()
        Uj, Zj, Mj = jnp.asarray(U), jnp.asarray(Z), jnp.asarray(mask, float)[..., None]
        zvar = float(np.sum(((Z - (Z * mask[..., None]).sum((0, 1)) / mask.sum()) ** 2) * mask[..., None]))
        Pj = None if P is None else jnp.asarray(P)
        noisy = self.noise_sd > 0
        lam_p = self.psth_weight if P is not None else 0.0

        def losses(params, key):
            x, r, z = _run(params, *arrs, Uj, key, self.noise_sd, self.dt_ms, noisy=noisy)
            task_err = jnp.sum(Mj * (z - Zj) ** 2) / zvar
            terms = {"task": task_err, "rate": jnp.mean(r**2), "weight": jnp.mean(params["W"] ** 2)}
            if Pj is not None:
                terms["psth_r2"] = psth_fit(r[..., psth_idx], Pj, self.psth_ridge)[0]
            return terms

        def loss_fn(params, key):
            t = losses(params, key)
            total = t["task"] + self.rate_reg * t["rate"] + self.weight_reg * t["weight"]
            if Pj is not None:
                total = total + lam_p * (1.0 - t["psth_r2"])
            return total, t

        opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(self.learning_rate))

        @jax.jit
        def update(params, state, key):
            (val, _), g = jax.value_and_grad(loss_fn, has_aux=True)(params, key)
            upd, state = opt.update(g, state, params)
            return optax.apply_updates(params, upd), state, val

        params = self._init_params(st, U.shape[2], Z.shape[2])
        state = opt.init(params)
        key = jax.random.PRNGKey(self.seed)
        hist = []
        for i in progress(range(int(self.n_iter)), int(self.n_iter), "training Dale RNN (BPTT)"):
            params, state, val = update(params, state, jax.random.fold_in(key, i))
            hist.append(float(val))
            if not np.isfinite(hist[-1]):
                raise FloatingPointError(f"DaleRNN.fit: loss became non-finite at iteration {i}")
        self.params_ = {k: np.asarray(v) for k, v in params.items()}
        self.loss_history_ = np.asarray(hist)
        # summaries of the trained, noise-free network (deterministic given the parameters)
        _, r, z = self.simulate(U)
        m = mask.astype(bool)
        self.task_error_ = float(np.sum((z[m] - Z[m]) ** 2) / zvar)
        self.psth_r2_ = (float(psth_fit(jnp.asarray(r[..., np.asarray(psth_idx)]), Pj, self.psth_ridge)[0])
                         if Pj is not None else None)
        self.noise_variance_ = np.maximum(np.mean((z[m] - Z[m]) ** 2, 0), 1e-12 * max(float(np.var(Z[m])), 1e-300))
        return self

    def _fitted(self):
        self._check_fitted("params_")

    def _inputs(self, X):
        U = finite_array("inputs", X.inputs if hasattr(X, "inputs") else X, ndim=3)
        if U.shape[2] != self.structure_.input_mask.shape[1]:
            fail("inputs", U, f"{self.structure_.input_mask.shape[1]} input channels")
        return U

    def simulate(self, X: Float[np.ndarray, "conditions time inputs"], *, noise_sd: float = 0.0,
                 seed: int = 0) -> tuple[Float[np.ndarray, "conditions time neurons"],
                                         Float[np.ndarray, "conditions time neurons"],
                                         Float[np.ndarray, "conditions time readouts"]]:
        """``(x, r, z)``: states, rates (conditions, time, neurons) and outputs (conditions, time, outputs)
        for a task or inputs (conditions, time, inputs), with recurrent noise of SD ``noise_sd`` (module docstring) when it is > 0."""
        self._fitted()
        U = self._inputs(X)
        noise_sd = in_range("noise_sd", noise_sd, 0.0, np.inf)
        params = {k: jnp.asarray(v) for k, v in self.params_.items()}
        x, r, z = _run(params, *self._arrays(), jnp.asarray(U), jax.random.PRNGKey(seed), float(noise_sd),
                       float(self.dt_ms), noisy=noise_sd > 0)
        return np.asarray(x), np.asarray(r), np.asarray(z)

    def transform(self, X: Float[np.ndarray, "conditions time inputs"]) -> Float[np.ndarray, "conditions time neurons"]:
        """Unit activity: the rates ``r = [x]_+`` (conditions, time, neurons) of the noise-free network (class docstring)."""
        return self.simulate(X)[1]

    def predict(self, X: Float[np.ndarray, "conditions time inputs"]) -> Float[np.ndarray, "conditions time readouts"]:
        """Outputs ``z = W_out r`` (conditions, time, outputs) of the noise-free network."""
        return self.simulate(X)[2]

    def score(self, X: DelayedReachTask, y=None) -> float:
        """Mean Gaussian log-likelihood per observed (masked) bin of the task's targets (class docstring)."""
        task = _check_task(X)
        z = self.predict(task)
        Z = finite_array("task.targets", task.targets, ndim=3)
        m = np.asarray(task.mask, bool)
        if Z.shape != z.shape or m.shape != z.shape[:2]:
            fail("task.targets", Z, f"shape {z.shape} with a ({z.shape[0]}, {z.shape[1]}) mask")
        s2 = self.noise_variance_
        ll = -0.5 * np.log(2 * np.pi * s2) - 0.5 * (Z[m] - z[m]) ** 2 / s2
        return float(np.sum(ll) / max(int(m.sum()), 1))

    def sample(self, X: Float[np.ndarray, "conditions time inputs"], seed: int = 0) -> Float[np.ndarray, "conditions time readouts"]:
        """Targets (conditions, time, outputs) drawn from the noise model: ``z + N(0, diag(noise_variance_))``."""
        z = self.predict(X)
        rng = np.random.default_rng(seed)
        return z + rng.standard_normal(z.shape) * np.sqrt(self.noise_variance_)

    # ---- model files: parameters (dict of arrays) and the fixed structure
    def _extra_state(self):
        st = self.structure_
        arrays = {f"params_.{k}": np.asarray(v) for k, v in self.params_.items()}
        for f in ("sign", "mask", "input_mask", "output_mask", "tau"):
            arrays[f"structure_.{f}"] = np.asarray(getattr(st, f))
        values = {"params_": sorted(self.params_),
                  "structure_": {"area_sizes": list(st.area_sizes), "area_names": list(st.area_names),
                                 "cell_types": list(st.cell_types), "areas": list(st.areas)}}
        return arrays, values

    def _restore_extra(self, arrays, values):
        self.params_ = {k: arrays[f"params_.{k}"] for k in values["params_"]}
        sv = values["structure_"]
        self.structure_ = RNNStructure(tuple(sv["area_sizes"]), tuple(sv["area_names"]), tuple(sv["cell_types"]),
                                       tuple(sv["areas"]), *(arrays[f"structure_.{f}"] for f in
                                                             ("sign", "mask", "input_mask", "output_mask", "tau")))

    @property
    def W_(self) -> Float[np.ndarray, "neurons neurons"]:
        """Effective recurrent weights ``|W_free| * M * S`` (neurons x neurons)."""
        self._fitted()
        st = self.structure_
        return np.asarray(_effective_W(self.params_["W"], jnp.asarray(st.mask), jnp.asarray(st.sign)))

    @property
    def W_in_(self) -> Float[np.ndarray, "neurons inputs"]:
        """Effective input weights ``W_in * input_mask`` (neurons x inputs)."""
        self._fitted()
        return np.asarray(self.params_["W_in"]) * self.structure_.input_mask

    @property
    def W_out_(self) -> Float[np.ndarray, "readouts neurons"]:
        """Effective readout weights ``W_out * output_mask`` (outputs x neurons)."""
        self._fitted()
        return np.asarray(self.params_["W_out"]) * self.structure_.output_mask

    def input_drive(self, inputs: Float[np.ndarray, "conditions time inputs"]) -> Float[np.ndarray, "conditions time neurons"]:
        """``h = W_in u + b`` (conditions, time, neurons): the external input of the equivalent `Network`."""
        return np.asarray(self._inputs(inputs)) @ self.W_in_.T + np.asarray(self.params_["b"])

    def dale_violations(self) -> int:
        """Entries whose sign contradicts the presynaptic cell type, plus nonzero entries outside the mask."""
        W = self.W_
        st = self.structure_
        wrong_sign = np.sum((W * st.sign[None, :]) < 0)
        off_mask = np.sum((W != 0) & (st.mask == 0))
        return int(wrong_sign + off_mask)

    def to_network(self) -> Network:
        """The trained recurrent circuit as a validated Dale `Network` (areas, cell types, per-unit tau)."""
        st = self.structure_
        return Network(W=self.W_, cell_types=st.cell_types, tau=st.tau, areas=st.areas, dale=True)
