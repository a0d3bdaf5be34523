"""Experiments reproducing seed 000: multi-area dynamics, communication subspaces and manifold perturbations."""
