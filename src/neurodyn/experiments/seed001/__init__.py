"""Experiments reproducing seed 001: E/I subspace dynamics, perturbations and stimulation."""
