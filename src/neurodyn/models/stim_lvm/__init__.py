"""Stimulation latent variable model (seed 001 Methods §8): additive versus distorting effects of stimulation.

`StimLVM` fits non-stimulated and stimulated trial-averaged rates with GP-prior latents read out through
a fixed factor-analysis readout, a low-rank additive stimulation term and a rectified, shaped Poisson
likelihood (§8.1, §8.2, §8.4): `prior` (GP priors, rotation), `initial` (readout, initial values),
`inputs` (data checks), `objective`, `optimize` (L-BFGS), `posterior` (Laplace) and `model` (the
estimator); `nulls` builds the §8.3 null fits, `metrics` the contraction factor,
distortion, deviance and single-trial covariance tests (§8.5-§8.8), and `simulate` the validation
datasets of §8.5.
"""

from neurodyn.models.stim_lvm.likelihood import (
    poisson_deviance,
    poisson_gradient,
    rectify,
    shaped_gradient,
    shaped_loglik,
    steepest_point,
    total_loglik,
)
from neurodyn.models.stim_lvm.metrics import (
    contraction_factor,
    contraction_factor_ci,
    correlation_matrix_distance,
    deviance_per_observation,
    distortion,
    gen_chi2_cdf,
    gen_chi2_params,
    gen_chi2_ppf,
    null_threshold,
    procrustes_align,
    single_trial_covariance_tests,
)
from neurodyn.models.stim_lvm.initial import fa_readout
from neurodyn.models.stim_lvm.model import StimLVM
from neurodyn.models.stim_lvm.prior import gp_cholesky, rotation_from_params, segment_labels
from neurodyn.models.stim_lvm.nulls import null_distortions, poisson_null_data, refit, shuffle_labels
from neurodyn.models.stim_lvm.simulate import (
    additive_delta,
    from_fitted,
    gp_latents,
    stimulated_dataset,
    synthetic_population,
)

__all__ = ["StimLVM", "additive_delta", "contraction_factor", "contraction_factor_ci",
           "correlation_matrix_distance", "deviance_per_observation", "distortion", "fa_readout",
           "from_fitted", "gen_chi2_cdf", "gen_chi2_params", "gen_chi2_ppf", "gp_cholesky", "gp_latents",
           "null_distortions", "null_threshold", "poisson_deviance", "poisson_gradient", "poisson_null_data",
           "procrustes_align", "rectify", "refit", "rotation_from_params", "segment_labels", "shaped_gradient",
           "shaped_loglik", "shuffle_labels", "single_trial_covariance_tests", "steepest_point",
           "stimulated_dataset", "synthetic_population", "total_loglik"]
