"""Fixed points and flow fields against analytic solutions of linear and 2-D nonlinear systems."""

import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn import Network
from neurodyn.analysis import find_fixed_points, flow_field, sample_initial_states
from neurodyn.dynamics import Linear


def test_linear_system_unique_stable_fixed_point():
    rng = np.random.default_rng(0)
    n = 6
    A = -np.eye(n) + 0.4 * rng.standard_normal((n, n)) / np.sqrt(n)
    b = rng.standard_normal(n)
    F = lambda x: jnp.asarray(A) @ x + jnp.asarray(b)  # noqa: E731
    fp = find_fixed_points(F, rng.standard_normal((20, n)) * 3, n_steps=500)
    assert fp.points.shape[0] == 1
    np.testing.assert_allclose(fp.points[0], np.linalg.solve(A, -b), rtol=1e-9, atol=1e-10)
    assert fp.is_fixed[0] and fp.stability == ("stable",)
    ev = np.sort_complex(np.linalg.eigvals(A))
    np.testing.assert_allclose(np.sort_complex(fp.eigenvalues[0]), ev, atol=1e-10)


def test_bistable_2d_system_saddle_and_two_stable_points():
    # dx1/dt = x1 - x1^3, dx2/dt = -x2: fixed points (0,0) saddle (eigs 1, -1), (+-1, 0) stable (eigs -2, -1)
    F = lambda x: jnp.array([x[0] - x[0] ** 3, -x[1]])  # noqa: E731
    g = np.linspace(-1.5, 1.5, 7)
    starts = np.array([[a, b] for a in g for b in g])
    fp = find_fixed_points(F, starts, n_steps=1500, learning_rate=0.02)
    fixed = fp.points[fp.is_fixed]
    assert fixed.shape[0] == 3
    order = np.argsort(fixed[:, 0])
    np.testing.assert_allclose(fixed[order], [[-1, 0], [0, 0], [1, 0]], atol=1e-8)
    labels = np.array(fp.stability)[fp.is_fixed][order]
    assert list(labels) == ["stable", "saddle", "stable"]
    eig_saddle = fp.eigenvalues[fp.is_fixed][order][1]
    np.testing.assert_allclose(eig_saddle.real, [1.0, -1.0], atol=1e-8)
    assert fp.count("stable") == 2 and fp.count("saddle") == 1


def test_network_linear_fixed_point_and_slow_point():
    rng = np.random.default_rng(1)
    n = 8
    W = 0.5 * rng.standard_normal((n, n)) / np.sqrt(n)
    h = rng.standard_normal(n)
    net = Network(W=W, tau=50.0)
    fp = find_fixed_points(net, rng.standard_normal((10, n)), gain_fn=Linear(), h=h, n_steps=300)
    assert fp.points.shape[0] == 1
    np.testing.assert_allclose(fp.points[0], np.linalg.solve(np.eye(n) - W, h), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(np.sort_complex(fp.eigenvalues[0]),
                               np.sort_complex(np.linalg.eigvals((W - np.eye(n)) / 50.0)), atol=1e-12)
    # 1-D slow point: dx/dt = x^2 + 0.01 has no zero; q has its minimum 0.5e-4 at x = 0.
    slow = find_fixed_points(lambda x: x ** 2 + 0.01, np.array([[0.5], [-0.3]]), n_steps=3000,
                             learning_rate=0.01, dedup_tol=1e-2)
    assert slow.points.shape[0] == 1 and not slow.is_fixed[0]
    assert slow.points[0, 0] == pytest.approx(0.0, abs=1e-3)
    assert slow.q[0] == pytest.approx(0.5e-4, rel=1e-3)


def test_discrete_map_and_flow_field():
    G = lambda x: 0.5 * x + 1.0  # noqa: E731  fixed point x* = 2, multiplier 0.5
    fp = find_fixed_points(G, np.array([[0.0, 5.0], [-3.0, 1.0]]), discrete=True, n_steps=200)
    assert fp.points.shape[0] == 1
    np.testing.assert_allclose(fp.points[0], [2.0, 2.0], atol=1e-10)
    np.testing.assert_allclose(np.abs(fp.eigenvalues[0]), [0.5, 0.5], atol=1e-12)
    assert fp.stability == ("stable",)
    # flow field of a linear 3-D system on the (e1, e2) plane: da = (A x)_1, db = (A x)_2
    A = np.array([[-1.0, 2.0, 0.5], [-2.0, -1.0, 0.0], [0.0, 0.3, -0.5]])
    ff = flow_field(lambda x: jnp.asarray(A) @ x, np.eye(3)[:, :2], np.zeros(3), extent=2.0, n_grid=5)
    a, b = np.meshgrid(ff["a"], ff["b"])
    np.testing.assert_allclose(ff["da"], -a + 2 * b, atol=1e-12)
    np.testing.assert_allclose(ff["db"], -2 * a - b, atol=1e-12)
    np.testing.assert_allclose(ff["speed"], np.sqrt((-a + 2 * b) ** 2 + (-2 * a - b) ** 2 + (0.3 * b) ** 2),
                               atol=1e-12)
    starts = sample_initial_states(np.zeros((2, 4, 3)), 5, noise_sd=1.0, seed=0)
    assert starts.shape == (5, 3)


def test_errors():
    with pytest.raises(TypeError, match="system"):
        find_fixed_points(3.0, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="initial_states"):
        find_fixed_points(lambda x: x, np.zeros(3))
    with pytest.raises(ValueError, match="discrete"):
        find_fixed_points(Network(W=np.zeros((2, 2))), np.zeros((1, 2)), discrete=True)
