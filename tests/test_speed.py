"""Speed control by time rescaling, speed manifold and shape x speed gains (thesis, seed 003, ch. 6)."""

import numpy as np
import pytest

from neurodyn.connectivity import random_ei
from neurodyn.dynamics import linear_solution
from neurodyn.learning.speed import shape_speed_gains, speed_manifold_gains, time_rescaled


def test_time_rescaled_linear_network_plays_rescaled_output():
    # exact linear solution x(t) = expm(t (W - I) / tau) x0: the rescaled network at t equals the original
    # at speed * t, for a slower (0.2) and a faster (2.5) speed
    net = random_ei(16, 0.3, 0.6, 1.0, seed=2)
    x0 = np.random.default_rng(0).normal(size=16)
    t = np.linspace(0.0, 400.0, 41)
    readout = np.random.default_rng(1).normal(size=16)
    for s in (0.2, 2.5):
        fast = np.asarray(linear_solution(time_rescaled(net, s), x0, t))
        ref = np.asarray(linear_solution(net, x0, s * t))
        assert np.allclose(fast @ readout, ref @ readout, rtol=1e-9, atol=1e-9)
    assert np.allclose(time_rescaled(net, 4.0).tau, np.asarray(net.tau) / 4.0)
    with pytest.raises(ValueError, match="speed"):
        time_rescaled(net, 0.0)


def test_speed_manifold_and_shape_products():
    gf, gs = np.array([1.2, 0.8, 1.0]), np.array([0.9, 1.1, 1.3])
    G = speed_manifold_gains(gf, gs, np.linspace(1, 0, 7))
    assert np.allclose(G[0], gf) and np.allclose(G[-1], gs)
    assert np.allclose(G[3], 0.5 * (gf + gs))          # midpoint of the segment
    assert np.allclose(np.diff(G, 2, axis=0), 0.0)      # evenly spaced on a line
    P = shape_speed_gains(np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]]), G)
    assert P.shape == (2, 7, 3) and np.allclose(P[0, 3], [1.0, 2.0, 3.0] * G[3])
    with pytest.raises(ValueError, match="lam"):
        speed_manifold_gains(gf, gs, [1.5])


def test_speed_backprop_cost_and_training():
    import jax.numpy as jnp

    from neurodyn.learning import Readout, TrialDynamics, sample_times
    from neurodyn.learning.groups import membership_matrix
    from neurodyn.learning.speed import speed_cost, train_speed_backprop

    N = 8
    net = random_ei(N, 0.3, 0.6, 1.0, seed=4)
    t = sample_times(60.0, 200.0)
    rng = np.random.default_rng(0)
    dyn = TrialDynamics(net, 3.0 * rng.normal(size=N), t, dt=2.5)
    ro = Readout(rng.normal(size=(1, N // 2)), np.array([0.1]))
    yf, ys = rng.normal(size=t.size), rng.normal(size=t.size)
    labels = np.arange(N) % 2
    M = membership_matrix(labels)
    gam = np.array([1.1, 0.9])
    # cost recomputed by hand from the two rollouts (gains 1 and M gamma)
    zf = np.asarray(dyn.rates_e(np.ones(N))) @ ro.m[0] + 0.1
    zs = np.asarray(dyn.rates_e(M @ gam)) @ ro.m[0] + 0.1
    ref = np.sum((zf - yf) ** 2) + np.sum((zs - ys) ** 2) + 0.01 * np.sum(ro.m**2)
    c = float(speed_cost(dyn, jnp.asarray(M), jnp.asarray(gam), jnp.asarray(ro.m[0]), 0.1, yf, ys, 0.01))
    assert np.isclose(c, ref, rtol=1e-12)
    res = train_speed_backprop(dyn, labels, yf, ys, ro, iterations=15, learning_rate=0.05)
    assert res.history[-1] < res.history[0]
    assert np.allclose(res.gains, M @ res.group_gains)


def test_speed_variants_reproduce_fast_targets():
    from neurodyn.learning import slow_fast_targets
    from neurodyn.learning.speed import speed_variants

    t, slow, fast = slow_fast_targets(2, seed=3)
    V = speed_variants(t, slow, [5.0, 1.0, 2.5])
    assert np.allclose(V[0], fast, atol=1e-12)       # factor 5 on the 200 Hz grid = the fast variant
    assert np.allclose(V[1], slow)                   # factor 1 = the slow variant
    # factor 2.5: even samples of the 2.5x variant are slow samples 5k/2 -> every 5th slow sample at k even
    assert np.allclose(V[2][:, ::2][:, :100], slow[:, ::5][:, :100], atol=1e-12)
    assert np.all(V[2][:, 200:] == 0.0)


def test_manifold_and_shape_outputs_match_explicit_gains():
    import jax.numpy as jnp

    from neurodyn.learning import TrialDynamics, sample_times
    from neurodyn.learning.groups import membership_matrix
    from neurodyn.learning.speed import manifold_outputs, shape_speed_outputs

    N = 8
    net = random_ei(N, 0.3, 0.6, 1.0, seed=4)
    t = sample_times(40.0, 200.0)
    rng = np.random.default_rng(2)
    dyn = TrialDynamics(net, 3.0 * rng.normal(size=N), t, dt=2.5)
    M = membership_matrix(np.arange(N) % 3)
    gf, gs = 1 + 0.1 * rng.normal(size=3), 1 + 0.1 * rng.normal(size=3)
    shapes = 1 + 0.1 * rng.normal(size=(2, 3))
    lam = np.array([1.0, 0.4, 0.0])
    m, b = rng.normal(size=N // 2), 0.3
    x0s = rng.normal(size=(2, N))
    # explicit route: neuronal gains from speed_manifold_gains / shape_speed_gains, one rollout at a time
    G = speed_manifold_gains(gf, gs, lam) @ M.T                                    # (3, N)
    z = manifold_outputs(dyn, jnp.asarray(M), gf, gs, jnp.asarray(lam), jnp.asarray(x0s), m, b)
    for i in range(3):
        for c in range(2):
            ref = np.asarray(dyn.rates_e(G[i], x0s[c])) @ m + b
            assert np.allclose(z[i, c], ref, rtol=1e-12)
    P = shape_speed_gains(shapes, speed_manifold_gains(gf, gs, lam)) @ M.T           # (2, 3, N)
    z2 = shape_speed_outputs(dyn, jnp.asarray(M), shapes, gf, gs, jnp.asarray(lam), m, b)
    assert np.allclose(z2[1, 2], np.asarray(dyn.rates_e(P[1, 2])) @ m + b, rtol=1e-12)
