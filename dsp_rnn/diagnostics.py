"""Gradient-stability diagnostics; they live in :mod:`dsp_rnn.compare.diagnostics` (this
path stays for code written against it)."""

from dsp_rnn.compare.diagnostics import GradientNorms, gradient_norms, plot_gradient_stability

__all__ = ["GradientNorms", "gradient_norms", "plot_gradient_stability"]
