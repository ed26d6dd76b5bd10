"""Linear systems: design, differentiable filtering, allpass/FDN networks, analysis."""

from dsp_rnn.filters.filtering import lfilter, sosfilt

__all__ = ["lfilter", "sosfilt"]
