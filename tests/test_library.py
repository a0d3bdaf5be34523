"""Convex combinations of learned movements (thesis, seed 003, ch. 5)."""

import itertools

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import nnls

from neurodyn.connectivity import random_ei
from neurodyn.learning import GainTask, Readout, TrialDynamics, sample_times
from neurodyn.learning.library import combine_library, convex_coefficients


def _nnls_simplex(F, y, w=1e4):
    # independent route: NNLS with a heavily weighted sum-to-one row
    A = np.vstack([F.T, w * np.ones(F.shape[0])])
    return nnls(A, np.append(y, w))[0]


def _brute_force(F, y):
    # active-set enumeration: unconstrained-on-the-support equality-constrained LS for every support
    l, best, best_c = F.shape[0], np.inf, None
    for k in range(1, l + 1):
        for S in itertools.combinations(range(l), k):
            A = F[list(S)].T
            K = np.block([[2 * A.T @ A, np.ones((k, 1))], [np.ones((1, k)), np.zeros((1, 1))]])
            sol = np.linalg.lstsq(K, np.append(2 * A.T @ y, 1.0), rcond=None)[0][:k]
            if np.all(sol >= -1e-12):
                r = np.sum((A @ sol - y) ** 2)
                if r < best:
                    best, best_c = r, np.zeros(l)
                    best_c[list(S)] = sol
    return best_c


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_convex_coefficients_match_independent_solvers(seed):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(4, 30))
    y = rng.normal(size=30) + 0.5 * F[1]
    c = convex_coefficients(F, y)
    assert np.all(c >= 0) and np.isclose(c.sum(), 1.0, atol=1e-12)
    ref = _brute_force(F, y)
    assert np.allclose(c, ref, atol=1e-5)
    assert np.allclose(c, _nnls_simplex(F, y), atol=1e-3)


def test_convex_coefficients_recover_interior_mixture():
    rng = np.random.default_rng(5)
    F = rng.normal(size=(3, 2, 40))          # 2 outputs
    c_true = np.array([0.2, 0.5, 0.3])
    c = convex_coefficients(F, np.einsum("l,lkt->kt", c_true, F))
    assert np.allclose(c, c_true, atol=1e-6)
    with pytest.raises(ValueError, match="outputs"):
        convex_coefficients(F, np.zeros(40))


def test_combine_library_errors():
    N = 10
    net = random_ei(N, 0.3, 0.6, 1.0, seed=4)
    t = sample_times(50.0, 200.0)
    rng = np.random.default_rng(0)
    dyn = TrialDynamics(net, 3.0 * rng.normal(size=N), t, dt=2.5)
    task = GainTask(dyn, Readout(rng.normal(size=(1, N // 2)), np.zeros(1)), rng.normal(size=(1, t.size, 1)))
    G = 1.0 + 0.1 * rng.normal(size=(3, N))
    F = np.asarray(task.output(G))           # (3, T, 1)
    # a target equal to one library output is fit exactly by that vertex; the output then equals the fit
    res = combine_library(task, G, F, F[1])
    assert np.allclose(res.coefficients[0], [0, 1, 0], atol=1e-8)
    assert res.fit_error[0] < 1e-12 and res.output_error[0] < 1e-12 and res.fit_output_error[0] < 1e-12
    # fit error: 1 - R^2 of the convex fit, recomputed by hand
    y = rng.normal(size=(2, t.size, 1))
    res = combine_library(task, G, F, y)
    fit = np.einsum("bl,ltk->btk", res.coefficients, F)
    e = np.sum((fit - y) ** 2, -2)[:, 0] / np.sum((y - y.mean(-2, keepdims=True)) ** 2, -2)[:, 0]
    assert np.allclose(res.fit_error, e, rtol=1e-10)
    out = np.asarray(task.output(res.coefficients @ G))
    assert np.allclose(res.output, out, rtol=1e-10)
    # the compiled output is built once per task and reused by every call (no recompilation per call)
    assert task.output_jit is task.output_jit
    assert np.allclose(np.asarray(task.output_jit(jnp.asarray(G))), F, rtol=1e-12)


def test_batch_solver_matches_brute_force_and_slsqp():
    from neurodyn.learning.library import convex_coefficients_batch, project_simplex

    rng = np.random.default_rng(11)
    F = rng.normal(size=(6, 4, 30))
    Y = rng.normal(size=(6, 30)) + 0.7 * F[:, 2]
    Y[0] = 0.3 * F[0, 0] + 0.7 * F[0, 3]                  # interior of an edge: exact mixture
    for method in ("nnls", "fista"):
        C = convex_coefficients_batch(F, Y, method=method)
        assert np.all(C >= 0) and np.allclose(C.sum(1), 1.0, atol=1e-12)
        for b in range(6):
            assert np.allclose(C[b], _brute_force(F[b], Y[b]), atol=1e-7)
            assert np.allclose(C[b], convex_coefficients(F[b], Y[b]), atol=1e-5)
        assert np.allclose(C[0], [0.3, 0, 0, 0.7], atol=1e-9)
    # projection: a point already on the simplex is fixed; (2, 0) projects to the vertex (1, 0)
    assert np.allclose(project_simplex(np.array([0.2, 0.8])), [0.2, 0.8])
    assert np.allclose(project_simplex(np.array([2.0, 0.0])), [1.0, 0.0])


def test_library_experiment_quick(tmp_path):
    # End-to-end run of the `library` experiment (thesis ch. 5) at the former quick scale. Independent
    # routes: the saved network re-simulated by SciPy (error by scikit-learn) reproduces each library
    # pattern's learned error and, for the largest libraries, the output error of every convex
    # combination of their gain patterns; with a library of one pattern the combination is that
    # pattern (c = 1), so its output is the fitted output (fit-to-output error 0 up to rounding).
    from neurodyn.runner import run_experiment

    from gain_reference import reference_error

    out = tmp_path / "lib"
    cfg = {"n": 20, "soc_target": 0.5, "n_groups": 4, "library_targets": 5, "iterations": 20,
           "max_library_size": 3, "libraries": 2, "novel_targets": 3, "n_trials": 5}
    m = run_experiment("library", out, quick=True, config=cfg)
    z = np.load(out / "arrays.npz")
    G = z["library_gains"]
    for i in range(G.shape[0]):
        assert z["library_errors"][i] == pytest.approx(reference_error(z, G[i], z["library_targets"][i]), rel=1e-4)
    idx, C = z["largest_library_index"], z["largest_library_coefficients"]   # (libraries, l), (libraries, V, l)
    for lib in range(idx.shape[0]):
        for v in range(C.shape[1]):
            ref = reference_error(z, C[lib, v] @ G[idx[lib]], z["novel_targets"][v])
            assert z["output_error"][-1, lib, v] == pytest.approx(ref, rel=1e-4)
    assert int(z["sizes"][0]) == 1
    assert np.abs(z["fit_output_error"][0]).max() < 1e-12
    assert m["median_output_error_l1"] == pytest.approx(m["median_output_error"][0], rel=1e-12)
