"""The names of the filter designs, in a module that imports nothing.

Their home is here rather than in :mod:`dsp_rnn.filters.kinds` (which re-exports them)
because importing anything under ``dsp_rnn.filters`` loads torch, and the command line
builds its parser from these names without loading torch (``dsp-rnn render`` stays light).
"""

from __future__ import annotations

__all__ = ["BIQUAD_KINDS", "CLASSIC_KINDS", "FILTER_KINDS", "BTYPES"]

#: Audio EQ Cookbook biquads, ``kind`` -> :func:`dsp_rnn.filters.biquad_<kind>`.
BIQUAD_KINDS = (
    "lowpass",
    "highpass",
    "bandpass",
    "notch",
    "peaking",
    "lowshelf",
    "highshelf",
    "allpass",
)
#: Classic IIR designs (scipy), ``kind`` -> :func:`dsp_rnn.filters.<kind>`.
CLASSIC_KINDS = ("butter", "cheby1", "cheby2", "ellip")
#: Every name :func:`dsp_rnn.filters.design_filter` accepts.
FILTER_KINDS = BIQUAD_KINDS + CLASSIC_KINDS
#: Band types of the classic designs.
BTYPES = ("lowpass", "highpass", "bandpass", "bandstop")
