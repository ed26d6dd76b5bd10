"""dsp_rnn: filters and recurrent networks for audio and music.

The parts, from the bottom up (docs/architecture.md has the layering and the conventions):

- ``dsp_rnn.errors``: the exceptions, all ``DspRnnError`` (most also ``ValueError``).
- ``dsp_rnn.filters``: differentiable IIR/SOS filtering, design, analysis, allpass and FDN.
- ``dsp_rnn.music``: MIDI and audio files, note grids, folder datasets, the JSB chorales.
- ``dsp_rnn.cells``: RNN cells under one protocol, with their filter twins.
- ``dsp_rnn.plotting``: headless matplotlib figures, written atomically.
- ``dsp_rnn.synth``: notes to audio with numpy/numba voices and reverb (no torch).
- ``dsp_rnn.compare``: compare, fit and diagnose filters and cells; save and load cells.
- ``dsp_rnn.gridrnn``: the note-grid GridRNN, its sampler and its training task.
- ``dsp_rnn.training``: the trainer, checkpoints, the model registry, ``generate``.
- ``dsp_rnn.cli``: the ``dsp-rnn`` command line.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dsp-rnn")
except PackageNotFoundError:  # pragma: no cover - a checkout that was never installed
    __version__ = "0+unknown"
