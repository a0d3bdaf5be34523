import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn import Network
from neurodyn.network import cell_types_ei


def test_validation_messages_name_argument():
    with pytest.raises(ValueError, match=r"W=array of shape \(2, 3\): expected a square"):
        Network(W=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="W=.*expected finite values, found 1 NaN"):
        Network(W=np.array([[0.0, np.nan], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="cell_types=.*3 labels"):
        Network(W=np.zeros((2, 2)), cell_types=["E", "I", "E"])
    with pytest.raises(ValueError, match="tau=.*values > 0"):
        Network(W=np.zeros((2, 2)), tau=0.0)
    with pytest.raises(ValueError, match="gains=.*length 2"):
        Network(W=np.zeros((2, 2)), gains=np.ones(3))
    with pytest.raises(ValueError, match="only 'E' and 'I'"):
        Network(W=np.zeros((2, 2)), cell_types=["E", "X"])


def test_dale_violation_names_columns():
    W = np.array([[0.0, -1.0, 0.5], [0.2, 0.0, -0.1], [-0.3, -0.2, 0.0]])
    with pytest.raises(ValueError, match=r"E columns with negative weights \[0\]; I columns with positive weights \[2\]"):
        Network(W=W, cell_types=["E", "I", "I"])
    # declared without Dale's law it is accepted
    net = Network(W=W, cell_types=["E", "I", "I"], dale=False)
    assert not net.dale


def test_pytree_roundtrip_and_jit():
    W = np.array([[0.0, -0.5], [0.3, 0.0]])
    net = Network(W=W, cell_types=cell_types_ei(1, 1), tau=20.0)
    leaves, treedef = jax.tree_util.tree_flatten(net)
    assert len(leaves) == 3
    net2 = jax.tree_util.tree_unflatten(treedef, leaves)
    assert net2.cell_types == ("E", "I") and net2.dale

    @jax.jit
    def drive(n, x):
        return (n.W @ x) / n.tau

    out = drive(net, jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(out, W @ np.array([1.0, 2.0]) / 20.0)
    # a gradient with respect to the weights flows through the pytree
    g = jax.grad(lambda n: jnp.sum(n.W**2))(net)
    np.testing.assert_allclose(g.W, 2 * W)


def test_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    W = np.abs(rng.normal(size=(4, 4)))
    W[:, 2:] *= -1
    net = Network(W=W, cell_types=cell_types_ei(2, 2), tau=np.array([10.0, 20, 30, 40]),
                  gains=np.array([1.0, 2, 3, 4]), areas=["a", "a", "b", "b"])
    path = net.save(tmp_path / "net.npz")
    back = Network.load(path)
    np.testing.assert_array_equal(back.W, net.W)
    np.testing.assert_array_equal(back.tau, net.tau)
    np.testing.assert_array_equal(back.gains, net.gains)
    assert back.cell_types == net.cell_types and back.areas == net.areas and back.dale
    np.testing.assert_array_equal(back.area_indices("b"), [2, 3])


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="path="):
        Network.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="readable .npz"):
        Network.load(bad)
    np.savez(tmp_path / "nokey.npz", X=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="key 'W'"):
        Network.load(tmp_path / "nokey.npz")


def test_replace_validates():
    net = Network(W=np.zeros((3, 3)))
    assert net.replace(tau=50.0).tau == 50.0
    with pytest.raises(ValueError, match="tau"):
        net.replace(tau=-1.0)
    with pytest.raises(ValueError, match="field names"):
        net.replace(foo=1)
