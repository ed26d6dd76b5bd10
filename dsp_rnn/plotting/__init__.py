"""Plots (matplotlib, headless): the shared figure setup, a filter's response, a recording's
spectrogram. torch loads only where a plot needs it.

Every plot writes its file atomically into an existing folder (:func:`save_figure`); the
comparison and fit plots live with :mod:`dsp_rnn.compare`, the sample-statistics plot with
:mod:`dsp_rnn.gridrnn.report`.
"""

from __future__ import annotations

from dsp_rnn.plotting.figure import DPI, pyplot, save_figure
from dsp_rnn.plotting.response import plot_sos_response
from dsp_rnn.plotting.spectrogram import plot_spectrogram

__all__ = ["pyplot", "save_figure", "DPI", "plot_sos_response", "plot_spectrogram"]
