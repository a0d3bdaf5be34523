"""Modulatory groups of thesis (seed 003) §4.1.1 and group-tied reward-based learning."""

import numpy as np
import pytest

from neurodyn.connectivity import random_ei
from neurodyn.learning import GainTask, Readout, TrialDynamics, learn_gains, sample_times
from neurodyn.learning.groups import (learn_group_gains, membership_matrix, random_groups,
                                      specialised_groups)

from gain_reference import reference_error

N = 12


@pytest.fixture(scope="module")
def task():
    net = random_ei(N, 0.3, 0.6, 1.0, seed=4)
    t = sample_times(50.0, 200.0)
    rng = np.random.default_rng(0)
    dyn = TrialDynamics(net, 3.0 * rng.normal(size=N), t, dt=2.5)
    ro = Readout(rng.normal(size=(1, N // 2)), rng.normal(size=1))
    return GainTask(dyn, ro, rng.normal(size=(2, t.size, 1)))


def test_random_groups_sizes():
    # 23 neurons in 5 groups: floor(23/5) = 4 each, the 3 left over join random groups -> sizes >= 4, sum 23
    lab = random_groups(23, 5, seed=1)
    counts = np.bincount(lab, minlength=5)
    assert counts.sum() == 23 and counts.min() >= 4 and counts.max() <= 4 + 3
    assert np.sum(counts - 4) == 3
    assert np.array_equal(np.sort(np.bincount(random_groups(20, 5, seed=2))), [4] * 5)  # divides: exact
    with pytest.raises(ValueError, match="n_groups"):
        random_groups(4, 5)


def test_membership_matrix():
    M = membership_matrix(np.array([0, 2, 1, 2]))
    assert M.shape == (4, 3) and np.array_equal(M.sum(1), np.ones(4))
    assert np.array_equal(M @ np.array([1.0, 2.0, 3.0]), [1.0, 3.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="labels"):
        membership_matrix(np.array([0.5, 1.0]))


def test_gain_parameters_map_to_neuron_gains():
    # the three parametrisations of the reward rule against the maps written out: g = theta,
    # g = M_b gamma (one membership matrix per session) and g_s = B_s c (shared or per-problem bases)
    from neurodyn.learning import CoefficientGains, GroupGains, NeuronGains

    rng = np.random.default_rng(3)
    theta = rng.normal(size=N)
    assert np.array_equal(np.asarray(NeuronGains().gains(theta, 0, 0)), theta)
    labels = [random_groups(N, 3, seed=s) for s in range(2)]
    Ms = np.stack([membership_matrix(lab, 3) for lab in labels])            # (sessions, N, 3)
    gam = rng.normal(size=(2, 3))
    groups = GroupGains(Ms)
    for b in range(2):
        assert np.allclose(np.asarray(groups.gains(gam[b], b, 0)), gam[b][labels[b]], rtol=1e-15)
    assert np.allclose(groups.neuron_gains(gam), np.stack([gam[b][labels[b]] for b in range(2)]), rtol=1e-15)
    bases = rng.normal(size=(2, 2, N, 4))                                   # (problems, conditions, N, Q)
    c = rng.normal(size=(3, 4))
    coef = CoefficientGains(bases)
    problems = np.array([0, 1, 1])                                          # session -> problem
    for b, p in enumerate(problems):
        assert np.allclose(np.asarray(coef.gains(c[b], b, p)), bases[p] @ c[b], rtol=1e-12)
    assert np.allclose(coef.neuron_gains(c, problems), np.stack([bases[p] @ c[b] for b, p in enumerate(problems)]))
    shared = CoefficientGains(bases[:1])
    assert np.allclose(np.asarray(shared.gains(c[2], 2, 1)), bases[0] @ c[2], rtol=1e-12)


def test_specialised_groups_match_sklearn_kmeans():
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(3)
    G = 1.0 + 0.15 * rng.normal(size=(40, 10))  # N x 10 gain patterns from 10 sessions
    lab = specialised_groups(G, 4, seed=7)
    ref = KMeans(n_clusters=4, n_init=10, random_state=7).fit(G).labels_
    assert np.array_equal(lab, ref)
    # two well-separated clusters are recovered exactly (up to label names)
    G2 = np.vstack([np.full((5, 10), 0.8), np.full((7, 10), 1.2)]) + 1e-3 * rng.normal(size=(12, 10))
    lab2 = specialised_groups(G2, 2)
    assert len(set(lab2[:5])) == 1 and len(set(lab2[5:])) == 1 and lab2[0] != lab2[5]


def test_singleton_groups_equal_neuron_specific_learning(task):
    # M = I: the group rule is the neuron rule of eqs. (3.5)-(3.6) with the same noise draws
    ref = learn_gains(task, sessions=2, iterations=30, seed=5, n_chunks=3)
    ours = learn_group_gains(task, np.arange(N), sessions=2, iterations=30, seed=5, n_chunks=2)
    assert np.allclose(ours.errors, ref.errors, rtol=1e-12, atol=1e-14)
    assert np.allclose(ours.gains, ref.gains, rtol=1e-12, atol=1e-14)
    # best_gains reproduce the minimum error of each session
    best = np.asarray(task.errors(ours.best_gains))  # (P, S, P)
    for p in range(2):
        assert np.allclose(best[p, :, p], ours.errors[p, :, 1:].min(-1), rtol=1e-10)


def test_group_gains_stay_tied(task):
    lab = random_groups(N, 3, seed=0)
    res = learn_group_gains(task, lab, sessions=2, iterations=25, seed=1)
    for k in range(3):
        g = res.gains[..., lab == k]
        assert np.allclose(g, g[..., :1])  # equal within a group
    assert np.allclose(res.gains, np.einsum("nk,psk->psn", membership_matrix(lab, 3), res.group_gains))
    # one group = one uniform gain: the error depends on the single scalar only
    one = learn_group_gains(task, np.zeros(N, int), sessions=1, iterations=10, seed=2)
    assert np.ptp(one.gains, axis=-1).max() == 0.0
    with pytest.raises(ValueError, match="labels"):
        learn_group_gains(task, np.zeros(N + 1, int), sessions=1, iterations=2)


def test_groups_experiment_quick(tmp_path):
    from neurodyn.runner import run_experiment

    cfg = {"n": 10, "soc_target": 0.5, "sessions": 2, "iterations": 5, "group_counts": [2, 5, 10],
           "multi_targets": 0, "multi_groups": 4, "n_trials": 2}
    m = run_experiment("groups", tmp_path / "run", quick=True, config=cfg)
    a = np.load(tmp_path / "run" / "arrays.npz")
    y = a["targets"][0]
    # independent route: the saved network integrated by SciPy, error by scikit-learn
    assert m["error_initial"] == pytest.approx(reference_error(a, np.ones(10), y), rel=1e-4)
    for name in ("neuron_specific", "random_2", "random_5", "specialised_2", "specialised_5"):
        g = a[f"final_gains_{name}"]                                     # (sessions, N)
        ref = np.mean([reference_error(a, gs, y) for gs in g])
        assert m[f"final_error_{name}"] == pytest.approx(ref, rel=1e-4), name
        if name != "neuron_specific":                                   # tied within the c groups
            c = int(name.split("_")[1])
            assert all(np.unique(gs).size <= c for gs in g), name


def test_per_target_labels_group_each_target_by_its_own_row(task):
    """(P, N) labels: row p groups target p in every session (each gain pattern stays tied within the
    groups of its own target's row, and a row count other than P is refused)."""
    P = task.targets.shape[0]
    lab = np.stack([random_groups(N, 2 + p, seed=p) for p in range(P)])          # (P, N)
    res = learn_group_gains(task, lab, sessions=3, iterations=10, seed=4)
    for p in range(P):
        for k in range(2 + p):
            g = res.gains[p][:, lab[p] == k]                                      # (S, members)
            assert np.allclose(g, g[:, :1])
    with pytest.raises(ValueError, match="labels"):
        learn_group_gains(task, np.zeros((P + 1, N), int), sessions=1, iterations=2)
