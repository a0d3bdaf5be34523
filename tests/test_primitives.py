"""Gain-pattern primitives (thesis, seed 003, §6.6, Appendix 6.A.4) and the `primitives` experiment."""

import json

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize, stats

from neurodyn.connectivity import random_ei
from neurodyn.learning import GainTask, NodePerturbation, Readout, TrialDynamics, sample_times
from neurodyn.learning.groups import learn_group_gains, membership_matrix, random_groups
from neurodyn.learning.primitives import combination_errors, learn_combination, pair_correlations, primitive_bases

N = 12


@pytest.fixture(scope="module")
def small():
    net = random_ei(N, 0.3, 0.6, 1.0, seed=4)
    t = sample_times(50.0, 200.0)
    rng = np.random.default_rng(0)
    dyn = TrialDynamics(net, 3.0 * rng.normal(size=N), t, dt=2.5)
    ro = Readout(rng.normal(size=(1, N // 2)), rng.normal(size=1))
    return dyn, ro, rng.normal(size=(2, t.size, 1))


def test_membership_bases_reproduce_the_group_rule(small):
    # second implementation: with bases = membership matrices (a new random grouping per session) and
    # c(t_0) = 1, the coefficient rule is the group rule of eqs. (3.5)-(3.6) with identical draws
    dyn, ro, Y = small
    S, k = 2, 4
    labels = np.stack([[random_groups(N, k, seed=10 * p + s) for s in range(S)] for p in range(2)])  # (P, S, N)
    ref = learn_group_gains(GainTask(dyn, ro, Y), labels, sessions=S, iterations=30, seed=5, n_chunks=3)
    bases = np.stack([membership_matrix(lab, k)[None] for lab in labels.reshape(-1, N)])               # (P*S, 1, N, k)
    ours = learn_combination(dyn, ro, bases, np.repeat(Y, S, axis=0)[:, None], 1, 30, c0=np.ones(k), seed=5,
                             n_chunks=7)
    assert np.allclose(ours.errors.reshape(2, S, -1), ref.errors, rtol=1e-12, atol=1e-14)
    assert np.allclose(ours.coefficients.reshape(2, S, k), ref.group_gains, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="bases"):
        learn_combination(dyn, ro, np.ones((1, N + 1, 3)), Y[:, None], 1, 2)
    with pytest.raises(ValueError, match="c0"):
        learn_combination(dyn, ro, bases[:1, 0], Y[:1, None], 1, 2, c0=np.ones(k + 1))


def test_primitive_bases_and_per_problem_readouts(small):
    from neurodyn.learning.speed import shape_speed_outputs

    dyn, ro, Y = small
    rng = np.random.default_rng(2)
    labels = np.arange(N) % 3
    shapes = 1.0 + 0.2 * rng.normal(size=(4, 3))                  # Q = 4 shape patterns of n = 3 groups
    gf, gs = 1.0 + 0.1 * rng.normal(size=3), 1.0 + 0.1 * rng.normal(size=3)
    B = primitive_bases(labels, shapes, np.stack([gf, gs]))       # (2, N, 4)
    c = rng.random(4)
    # eq. (1) written out: g_s = M (gamma_s * sum_j c_j Gamma_j)
    M = membership_matrix(labels)
    assert np.allclose(B[0] @ c, M @ (gf * (c @ shapes))) and np.allclose(B[1] @ c, M @ (gs * (c @ shapes)))
    # the same outputs through the shape x speed route of Appendix 6.A.3 (lam = 1: fast, 0: slow)
    z = np.asarray(shape_speed_outputs(dyn, jnp.asarray(M), jnp.asarray((c @ shapes)[None]), jnp.asarray(gf),
                                       jnp.asarray(gs), jnp.asarray([1.0, 0.0]), jnp.asarray(ro.m[0]),
                                       float(ro.b[0])))[0]       # (2, T)
    y2 = np.stack([Y[0, :, 0], Y[1, :, 0]])                             # a different target at each speed
    # problem 0: readout ro, coefficients c; problem 1: its own readout (2 m, b + 1) and coefficients c2
    c2 = rng.random(4)
    ro2 = Readout(np.stack([ro.m, 2.0 * ro.m]), np.stack([ro.b, ro.b + 1.0]))
    e = combination_errors(dyn, ro2, B, np.stack([y2, y2]), np.stack([c, c2]))       # (P=2, 2 conditions)
    ref = np.sum((z - y2) ** 2, -1) / np.sum((y2 - y2.mean(-1, keepdims=True)) ** 2, -1)
    assert np.allclose(e[0], ref, rtol=1e-10)
    # ... and each problem's error equals GainTask's with that readout alone
    other = GainTask(dyn, Readout(2.0 * ro.m, ro.b + 1.0), y2[:, :, None])
    assert np.allclose(e[1], np.diag(np.asarray(other.errors(np.stack([B[0] @ c2, B[1] @ c2])))), rtol=1e-12)
    with pytest.raises(ValueError, match="speed_gains"):
        primitive_bases(labels, shapes, np.ones((2, 5)))


def test_learned_coefficients_beat_permuted_ones(small):
    # seeded fixture: targets are outputs of known coefficients c*_p on 3 primitives at two "speeds";
    # 300 iterations (noise sd 0.01) bring every error to <= 1/20 of the error with another target's
    # learned coefficients (measured once: learned 4e-4..0.2, permuted 60..7e4; asserted ratio 20)
    dyn, ro, _ = small
    labels = np.arange(N) % 4
    shapes = 1.0 + 0.3 * np.random.default_rng(1).normal(size=(3, 4))
    B = primitive_bases(labels, shapes, np.stack([np.ones(4), 0.8 + 0.4 * np.random.default_rng(2).random(4)]))
    cstar = 1.0 / 3.0 + 0.3 * np.random.default_rng(3).normal(size=(4, 3))
    g = np.einsum("snq,pq->psn", B, cstar)
    Z = np.asarray(GainTask(dyn, ro, dyn.t_ms[None, :, None]).output(g))[..., 0]  # (4, 2, T)
    assert np.allclose(combination_errors(dyn, ro, B, Z, cstar), 0.0, atol=1e-20)  # c* solves it exactly
    res = learn_combination(dyn, ro, B, Z, 1, 300, seed=0, rule=NodePerturbation(noise_sd=0.01))
    c = res.best_coefficients[:, 0]
    learned = combination_errors(dyn, ro, B, Z, c).mean(1)
    permuted = combination_errors(dyn, ro, B, Z, np.roll(c, 1, axis=0)).mean(1)
    assert np.allclose(learned, res.errors[:, 0, 1:].min(-1), rtol=1e-12)
    assert np.all(learned < res.errors[:, 0, 0] / 10)              # learning reduced every error tenfold
    assert np.all(20.0 * learned < permuted)


def test_pair_correlations_match_scipy():
    rng = np.random.default_rng(4)
    Y, C = rng.normal(size=(5, 2, 7)), rng.normal(size=(5, 3))
    ry, rc = pair_correlations(Y, C)
    assert ry.shape == rc.shape == (10,)
    for k, (p, q) in enumerate(zip(*np.triu_indices(5, 1))):
        assert np.isclose(ry[k], stats.pearsonr(Y[p].ravel(), Y[q].ravel())[0], rtol=1e-12)
        assert np.isclose(rc[k], stats.pearsonr(C[p], C[q])[0], rtol=1e-12)
    with pytest.raises(ValueError, match="coefficients"):
        pair_correlations(Y, C[:4])


def test_primitives_experiment_quick(tmp_path):
    from neurodyn.runner import run_experiment

    # small explicit scale (not the --quick settings, which learn for longer): a 20-neuron SOC, 4 groups
    small_cfg = {"n": 20, "soc_target": 0.5, "n_groups": 4, "shapes": 3, "speeds": 3, "shape_iterations": 10,
                 "novel_targets": 3, "iterations": 40, "durations": 3}
    run_experiment("primitives", tmp_path / "run", quick=True, config=small_cfg)
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    a = np.load(tmp_path / "run" / "arrays.npz")
    assert (tmp_path / "run" / "primitives.png").exists() and m["seconds"] > 0
    for name in ("learned", "least_squares", "permuted"):
        e = a[f"errors_{name}"]                                     # (P, durations): fast first, slow last
        assert np.isclose(m[f"{name}_error_fast_median"], np.median(e[:, 0]))
        assert np.isclose(m[f"{name}_error_slow_median"], np.median(e[:, -1]))
    # two routes to the same errors: the learning rule's bases (eq. 1) and the shape x speed outputs
    # evaluated at lam = 1 (fast) and 0 (slow): at c(t_0) = 1/Q and at the kept coefficients
    curves = a["learning_curves"][:, 0]
    assert np.allclose(a["errors_initial"][:, [0, -1]].mean(1), curves[:, 0], rtol=1e-9)
    assert np.allclose(a["errors_learned"][:, [0, -1]].mean(1), curves[:, 1:].min(-1), rtol=1e-9)
    assert np.array_equal(np.sort(a["permutation"]), np.arange(3))
    # constrained least squares: feasible and optimal (KKT certificate) and no worse than SciPy's SLSQP
    F, Yc, C = a["library_outputs_fast_slow"], a["novel_targets_fast_slow"], a["coefficients_least_squares"]
    A = F.reshape(F.shape[0], -1)
    for p in range(C.shape[0]):
        c, y = C[p], Yc[p].ravel()
        assert np.all(c >= 0) and np.isclose(c.sum(), 1.0)
        grad = A @ (A.T @ c - y)
        on = c > 1e-9
        mu = grad[on].mean()
        assert np.allclose(grad[on], mu, atol=1e-6 * np.abs(grad).max())
        assert np.all(grad[~on] >= mu - 1e-6 * np.abs(grad).max())
        ref = optimize.minimize(lambda x: np.sum((A.T @ x - y) ** 2), np.full(c.size, 1 / c.size), method="SLSQP",
                                bounds=[(0, 1)] * c.size, constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1}],
                                options={"ftol": 1e-14, "maxiter": 500})
        assert np.sum((A.T @ c - y) ** 2) <= ref.fun * (1 + 1e-6) + 1e-12
    # Fig. 6.5d: the correlation of the pair correlations, recomputed with SciPy from the raw arrays
    ry = np.array([stats.pearsonr(Yc[p, 1], Yc[q, 1])[0] for p, q in zip(*np.triu_indices(3, 1))])
    assert np.allclose(ry, a["pair_correlation_targets"], rtol=1e-10)
    r = stats.pearsonr(a["pair_correlation_targets"], a["pair_correlation_coefficients"])[0]
    assert np.isclose(m["pair_correlation_learned"], r, rtol=1e-10)
