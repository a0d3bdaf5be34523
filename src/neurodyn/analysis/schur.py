"""Ordered real Schur form in lower quasi-triangular orientation (seed 001, Methods §9.2).

``A = Q T Q^T`` with Q orthogonal and T lower quasi-triangular (1x1 blocks for real eigenvalues, 2x2
blocks for complex-conjugate pairs). Entry ``T[i, j]`` below the diagonal is a functionally
feed-forward interaction from Schur dimension j onto dimension i. The form is not unique: the blocks
can be put in any order. Seed 001 sorts them in increasing order of a score (how strongly the
stimulation vector projects on the eigenvector or eigen-plane); here the caller supplies the score.

Construction: LAPACK's real Schur form of ``A^T`` is upper quasi-triangular, ``A^T = Z U Z^T``; then
``A = Z U^T Z^T`` and ``T = U^T`` is lower quasi-triangular with the same diagonal blocks. Blocks are
reordered with LAPACK ``dtrexc`` (orthogonal swaps of adjacent blocks), a selection sort by score.
The "total feedforward input" of row i is ``sqrt(sum_j T[i, j]^2)`` over the entries left of row i's
diagonal block (seed 001 adds the row entries in quadrature).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack
from jaxtyping import Complex, Float

from neurodyn.validation import fail, square_matrix

__all__ = ["OrderedSchur", "ordered_schur"]


@dataclass(frozen=True)
class OrderedSchur:
    """Result of `ordered_schur`: ``A = Q @ T @ Q.T``, T lower quasi-triangular."""

    T: Float[np.ndarray, "neurons neurons"]
    Q: Float[np.ndarray, "neurons neurons"]
    eigenvalues: Complex[np.ndarray, " neurons"]  # one per diagonal position (pairs listed twice, conj order)
    block_starts: tuple[int, ...]  # first index of each diagonal block
    scores: Float[np.ndarray, " blocks"]  # score of each block, increasing
    feedforward_input: Float[np.ndarray, " neurons"]  # per row: sqrt(sum of squared entries left of its block)


def _blocks(U: np.ndarray) -> list[tuple[int, int]]:
    n, i, out = U.shape[0], 0, []
    while i < n:
        size = 2 if i + 1 < n and U[i + 1, i] != 0.0 else 1
        out.append((i, size))
        i += size
    return out


def _block_eig(U: np.ndarray, start: int, size: int) -> complex:
    if size == 1:
        return complex(U[start, start])
    lam = np.linalg.eigvals(U[start:start + 2, start:start + 2])
    return complex(lam[np.argmax(lam.imag)])


def ordered_schur(A: Float[np.ndarray, "neurons neurons"],
                  score: Callable[[complex], float] | None = None) -> OrderedSchur:
    """Real Schur form of A, lower quasi-triangular, blocks in increasing ``score(lambda)``.

    ``score`` maps an eigenvalue (for a pair, the one with positive imaginary part) to a number; the
    default sorts by decreasing real part (slowest modes first) via ``-Re(lambda)``.
    """
    A = square_matrix("A", A)
    if score is None:
        score = lambda lam: -lam.real  # noqa: E731
    elif not callable(score):
        fail("score", score, "a callable eigenvalue -> float", TypeError)
    U, Z = sla.schur(A.T, output="real")
    U, Z = np.array(U, order="F"), np.array(Z, order="F")
    pos = 0
    while True:
        blocks = [b for b in _blocks(U) if b[0] >= pos]
        if not blocks:
            break
        s = [float(score(_block_eig(U, b0, sz))) for b0, sz in blocks]
        k = int(np.argmin(s))
        b0, sz = blocks[k]
        if b0 != pos:
            U, Z, info = lapack.dtrexc(U, Z, b0 + 1, pos + 1, wantq=1)
            if info != 0:
                raise np.linalg.LinAlgError(f"dtrexc failed to reorder the Schur form (info={info})")
            # after a swap a 2x2 block can re-standardise; recompute its size at pos
        blocks_now = _blocks(U)
        size_here = next(sz2 for b, sz2 in blocks_now if b == pos)
        pos += size_here
    T = U.T.copy()
    Q = Z
    blocks = _blocks(U)
    eig, starts, scores = [], [], []
    for b0, sz in blocks:
        lam = _block_eig(U, b0, sz)
        starts.append(b0)
        scores.append(float(score(lam)))
        eig.extend([lam] if sz == 1 else [lam, np.conj(lam)])
    ff = np.zeros(A.shape[0])
    for b0, sz in blocks:
        for i in range(b0, b0 + sz):
            ff[i] = np.sqrt(np.sum(T[i, :b0] ** 2))
    return OrderedSchur(T=T, Q=Q, eigenvalues=np.array(eig), block_starts=tuple(starts),
                        scores=np.array(scores), feedforward_input=ff)
