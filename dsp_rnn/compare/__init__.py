"""Compare systems with their RNN twins, fit cells to systems or recordings, measure how far
a cell's gradient reaches, and save fitted cells.

A *system* is a linear filter (SOS or ``(b, a)``), a one-in, one-out cell of
:mod:`dsp_rnn.cells`, or a callable on signals ``(..., time)`` (:mod:`.systems`).

- :func:`compare` (:mod:`.comparison`): responses, impulse responses and metrics of two
  systems on one test signal, as a :class:`Comparison` with a summary and a plot.
- :func:`fit` (:mod:`.fitting`): train a cell to reproduce a system or an (input, output)
  pair by gradient descent on the ESR.
- :mod:`.metrics`: :func:`esr`, :func:`snr_db`, :func:`max_abs_error`,
  :func:`log_spectral_distance` and the training loss :func:`esr_loss`.
- :func:`gradient_norms` (:mod:`.diagnostics`): gradient norm against the lag in time.
- :func:`save_cell` / :func:`load_cell` (:mod:`.cell_io`): safetensors weights and a JSON
  config, never pickle.
- :func:`kalman_estimates` (:mod:`.probabilistic`): a KalmanCell's or linear-Gaussian
  model's state and output estimates with 95 % bands and log-likelihoods, plotted.
- :func:`track_file` / :func:`track_contour` (:mod:`.tracking`): the pitch and loudness
  contour of a recording (pyin f0, frame RMS) smoothed by a Kalman smoother, with
  uncertainty; ``dsp-rnn track``.
- :class:`SRNNTask` (:mod:`.srnn_task`): the stochastic RNN (:class:`dsp_rnn.cells.SRNN`)
  fitted to sequences by its ELBO through the shared trainer.
"""

from dsp_rnn.compare.cell_io import CELL_CLASSES, CONFIG, WEIGHTS, load_cell, save_cell
from dsp_rnn.compare.comparison import Comparison, compare
from dsp_rnn.compare.diagnostics import GradientNorms, gradient_norms, plot_gradient_stability
from dsp_rnn.compare.fitting import FitResult, fit
from dsp_rnn.compare.metrics import (
    esr,
    esr_loss,
    log_spectral_distance,
    max_abs_error,
    pre_emphasis_taps,
    snr_db,
)
from dsp_rnn.compare.probabilistic import (
    KalmanEstimates,
    kalman_estimates,
    plot_kalman_estimates,
)
from dsp_rnn.compare.srnn_task import SequenceCorpus, SRNNTask, sample_linear_gaussian
from dsp_rnn.compare.systems import probe_signal, run_cell
from dsp_rnn.compare.tracking import Contour, NoiseLevels, track_contour, track_file

__all__ = [
    "Comparison",
    "compare",
    "probe_signal",
    "run_cell",
    "fit",
    "FitResult",
    "esr",
    "snr_db",
    "max_abs_error",
    "log_spectral_distance",
    "esr_loss",
    "pre_emphasis_taps",
]
__all__ += ["GradientNorms", "gradient_norms", "plot_gradient_stability"]  # diagnostics
__all__ += ["save_cell", "load_cell", "CELL_CLASSES", "WEIGHTS", "CONFIG"]  # cell files
__all__ += ["KalmanEstimates", "kalman_estimates", "plot_kalman_estimates"]  # probabilistic
__all__ += ["Contour", "NoiseLevels", "track_contour", "track_file"]  # tracking
__all__ += ["SequenceCorpus", "SRNNTask", "sample_linear_gaussian"]  # stochastic RNN training
