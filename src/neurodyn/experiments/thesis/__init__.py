"""Experiments reproducing the thesis (seed 003): non-normal amplification, gain control and learning."""
