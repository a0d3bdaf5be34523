"""Coupled multi-area linear dynamical system, fitted by EM with its block structure (seed 000).

Seed 000 (section "Models of large scale, brain-wide neural population dynamics") writes the didactic
two-area model

    x1(t+1) = A1 x1(t) + B1 u1(t) + B_{2->1} x2(t)
    x2(t+1) = A2 x2(t) + B2 u2(t) + B_{1->2} x1(t)

where ``B_{1->2}`` "can be thought of as a communication subspace (CS) that selectively extracts
features of x1 to propagate to x2", and asks for "systems identification techniques to learn parameters
of coupled dynamical systems from multi-area neural recordings". Here, for areas a = 1..n with latent
dimensions k_a, observed neurons p_a and inputs m_a, with the LDS of seed 000 Fig. 1a per area
(``y = C x + d``) and Gaussian noise::

    x_a(t) = A_a x_a(t-1) + sum_{b != a} B_{b->a} x_b(t-1) + B_a u_a(t) + w_a(t),  w_a ~ N(0, Q_a)
    y_a(t) = C_a x_a(t) + d_a + v_a(t),                                          v_a ~ N(0, diag R_a)

i.e. one joint LDS ``x(t) = A x(t-1) + B u(t) + w`` with a full block matrix ``A`` (diagonal blocks
A_a, off-diagonal blocks ``A[a, b] = B_{b->a}``), block-diagonal ``B = diag(B_a)``, ``Q = diag(Q_a)``,
``C = diag(C_a)`` and diagonal R (inputs are indexed as in `neurodyn.models.lds.inference`: u(t) drives
the step into t, seed 000's x(t+1) = A x(t) + B u(t) with the index shifted by one).

The joint parameters and simulation are in `params`, the EM steps (derived here for this block
structure) in `em`, the communication subspace (potent and output-null spaces in neuron space) in
`subspace` and the estimator in `model`.
"""

from neurodyn.models.multi_area_lds.model import MultiAreaLDS
from neurodyn.models.multi_area_lds.params import (
    block_offsets,
    multi_area_lds_params,
    random_two_area_params,
    simulate_multi_area_lds,
)
from neurodyn.models.multi_area_lds.subspace import CommunicationSubspace, communication_subspace

__all__ = ["CommunicationSubspace", "MultiAreaLDS", "block_offsets", "communication_subspace",
           "multi_area_lds_params", "random_two_area_params", "simulate_multi_area_lds"]
