"""Rollout, node-perturbation rules and back-propagation of neurodyn.learning (thesis seed 003 §3.4-3.6)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn.connectivity import random_ei
from neurodyn.dynamics import Tanh, simulate
from neurodyn.learning import (
    GainTask, NodePerturbation, RampInput, Readout, TrialDynamics, check_stability, learn_gains,
    perturbation_noise, sample_times, train_backprop,
)
from neurodyn.learning.backprop import backprop_cost

N = 12


@pytest.fixture(scope="module")
def setup():
    net = random_ei(N, 0.3, 0.6, 1.0, seed=4)
    t = sample_times(50.0, 200.0)  # 10 samples every 5 ms
    rng = np.random.default_rng(0)
    x0 = 3.0 * rng.normal(size=N)
    dyn = TrialDynamics(net, x0, t, dt=2.5)
    ro = Readout(rng.normal(size=(2, N // 2)), rng.normal(size=2))
    targets = rng.normal(size=(2, t.size, 2))  # P = 2 problems, 2 readouts
    return net, dyn, GainTask(dyn, ro, targets)


def test_rollout_equals_simulate(setup):
    net, dyn, _ = setup
    g = np.linspace(0.5, 2.0, N)
    ours = np.asarray(dyn.states(g))
    ref = np.asarray(simulate(net, dyn.x0, dyn.t_ms, dt=2.5, gains=g))
    assert np.allclose(ours, ref, rtol=1e-12, atol=1e-12)
    eul = TrialDynamics(net, dyn.x0, dyn.t_ms, dt=1.0, method="euler")
    ref_e = np.asarray(simulate(net, dyn.x0, dyn.t_ms, dt=1.0, gains=g, method="euler"))
    assert np.allclose(np.asarray(eul.states(g)), ref_e, rtol=1e-12, atol=1e-12)


def test_ramp_rollout_equals_simulate_with_input(setup):
    net, dyn, _ = setup
    ramp = RampInput(t_prep_ms=100.0)
    rd = TrialDynamics(net, dyn.x0, dyn.t_ms, dt=2.5, ramp=ramp)
    c = dyn.x0 - np.asarray(Tanh()(dyn.x0, 1.0)) @ net.W.T  # x0 is a fixed point at gains 1
    ref = simulate(net, np.zeros(N), dyn.t_ms, dt=2.5, h=lambda t: ramp(t) * jnp.asarray(c), t0=-100.0)
    assert np.allclose(np.asarray(rd.states()), np.asarray(ref), rtol=1e-12, atol=1e-12)


def _numpy_rollout(W, tau, g, x0, dt, n_steps, stride, r0=20.0, rmax=100.0):
    def f(x):
        return np.where(x < 0, r0 * np.tanh(g * x / r0), (rmax - r0) * np.tanh(g * x / (rmax - r0)))

    def rhs(x):
        return (-x + W @ f(x)) / tau

    x = x0.copy()
    out = [x.copy()]
    for k in range(1, n_steps * stride + 1):
        k1 = rhs(x)
        k2 = rhs(x + 0.5 * dt * k1)
        k3 = rhs(x + 0.5 * dt * k2)
        k4 = rhs(x + dt * k3)
        x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        if k % stride == 0:
            out.append(x.copy())
    X = np.array(out)
    return f(X)


@pytest.mark.parametrize("rule", ["reward", "alternative"])
def test_batched_rule_equals_numpy_loop(setup, rule):
    """Reference: the text's update order (§3.4), one session at a time, same noise draws."""
    net, dyn, task = setup
    S, I = 2, 6
    params = NodePerturbation(rule)
    res = learn_gains(task, S, I, seed=5, rule=params, trace_neurons=(0, 3), n_chunks=3)
    key = jax.random.PRNGKey(5)
    m, b = np.asarray(task.readout.m), np.asarray(task.readout.b)
    W = np.asarray(net.W)

    def error(g, y):
        rates = _numpy_rollout(W, 200.0, g, dyn.x0, 2.5, dyn.t_ms.size - 1, 2)[:, : N // 2]
        z = rates @ m.T + b                                   # (T, readouts)
        return np.mean(np.sum((z - y) ** 2, 0) / np.sum((y - y.mean(0, keepdims=True)) ** 2, 0))

    for p in range(2):
        for s in range(S):
            y = task.targets[p]
            g = np.ones(N)
            gbar = g.copy()
            e = error(g, y)
            ebar, R = e, params.initial_signal
            errs = [e]
            for n in range(1, I + 1):
                xi = np.asarray(perturbation_noise(key, p * S + s, n, N, 0.001))
                if rule == "reward":
                    g = g + R * (g - gbar) + xi
                else:
                    g = g + R * (g - gbar + xi)
                e = error(g, y)
                R = np.sign(ebar - e) if rule == "reward" else np.tanh(5e4 * (ebar - e))
                ebar = 0.3 * ebar + 0.7 * e
                gbar = 0.3 * gbar + 0.7 * g
                errs.append(e)
            assert np.allclose(res.errors[p, s], errs, rtol=1e-10, atol=1e-12)
            assert np.allclose(res.gains[p, s], g, rtol=1e-12, atol=1e-12)
            assert np.allclose(res.traces[p, s, -1], g[[0, 3]])


def test_reward_rule_reduces_error(setup):
    """A target the network can produce (its own output at other gains) is learned from gains 1."""
    _, dyn, task = setup
    g_star = 1.0 + 0.05 * np.random.default_rng(7).normal(size=N)
    y = np.asarray(task.output(g_star))
    reachable = GainTask(dyn, task.readout, y)
    res = learn_gains(reachable, sessions=3, iterations=300, seed=0)
    start = res.errors[0, :, 0]
    assert np.all(res.errors[0, :, -1] < 0.5 * start)
    assert np.all(res.errors[0, :, -30:].mean(axis=1) < 0.5 * start)


def test_backprop_gradients_match_finite_differences(setup):
    _, dyn, task = setup
    y = jnp.asarray(task.targets[0])
    rng = np.random.default_rng(3)
    cases = {"gains": {"gains": jnp.asarray(1.0 + 0.1 * rng.normal(size=N))},
             "x0": {"x0": jnp.asarray(dyn.x0)},
             "W": {"W": jnp.asarray(dyn.network.W)},
             "rank1": {"u": jnp.asarray(0.05 * rng.normal(size=N)), "v": jnp.asarray(0.05 * rng.normal(size=N))}}
    h, idx = 1e-6, np.array([0, 5, 11, 31])  # flat indices into the first leaf
    for name, params in cases.items():
        leaf = next(iter(params))
        size = params[leaf].size
        # one jitted evaluation: the gradient and central differences along 4 coordinates
        grad = jax.jit(jax.grad(lambda p: backprop_cost(task, p, y)))(params)
        steps = np.zeros((8, size))
        steps[np.arange(4), idx % size] = h
        steps[4 + np.arange(4), idx % size] = -h
        batch = {k: jnp.broadcast_to(v, (8,) + v.shape) + (steps.reshape((8,) + v.shape) if k == leaf else 0.0)
                 for k, v in params.items()}
        costs = np.asarray(jax.jit(jax.vmap(lambda p: backprop_cost(task, p, y)))(batch))
        fd = (costs[:4] - costs[4:]) / (2 * h)
        assert np.allclose(np.asarray(grad[leaf]).ravel()[idx % size], fd, rtol=1e-5, atol=1e-9), name


def test_backprop_training_lowers_cost(setup):
    _, _, task = setup
    res = train_backprop(task, "gains", max_iterations=30, learning_rate=0.05)
    assert res.error_initial.shape == (2,)
    assert np.all(res.error_final < res.error_initial)
    assert np.allclose(res.history[0], np.asarray(task.errors()))


def test_unstable_network_warns():
    net = random_ei(20, 0.2, 10.0, 3.0, seed=0)
    with pytest.warns(RuntimeWarning, match="critical gain"):
        check_stability(net.W, np.ones(20))
    with pytest.raises(ValueError, match="rule"):
        NodePerturbation("hebbian")


def test_trial_dynamics_needs_excitatory_neurons_first():
    """The readout reads the excitatory rates (eq. 3.4): unlabelled networks and E/I labels that do not
    put the excitatory neurons first are refused instead of guessing "the first N/2"."""
    import pytest

    from neurodyn import Network
    from neurodyn.learning import TrialDynamics

    W = 0.1 * np.eye(4)
    with pytest.raises(ValueError, match="cell_types"):
        TrialDynamics(Network(W), np.ones(4), np.arange(0.0, 50.0, 10.0))
    with pytest.raises(ValueError, match="cell_types"):
        TrialDynamics(Network(W, cell_types=("I", "E", "E", "I"), dale=False), np.ones(4), np.arange(0.0, 50.0, 10.0))
    ok = TrialDynamics(Network(W, cell_types=("E", "E", "E", "I"), dale=False), np.ones(4), np.arange(0.0, 50.0, 10.0))
    assert ok.n_excitatory == 3
