"""The dsp_rnn exception family.

Every error the library raises on purpose derives from :class:`DspRnnError`.
Errors caused by what the user passed in also derive from :class:`ValueError`, so
``except ValueError`` keeps working for code that does not know this package.
Messages say what was expected and what was found (values, shapes, file names).
"""

from __future__ import annotations

__all__ = [
    "DspRnnError",
    "InputError",
    "ShapeError",
    "NonFiniteError",
    "UnstableFilterError",
    "MidiError",
    "AudioError",
    "CheckpointError",
    "FluidSynthNotFoundError",
    "RenderError",
    "OutputError",
]


class DspRnnError(Exception):
    """Base class of every error raised on purpose by dsp_rnn."""


class InputError(DspRnnError, ValueError):
    """A value passed to a public function is outside what it accepts."""


class ShapeError(InputError):
    """A tensor or array has the wrong number of dimensions or the wrong size."""


class NonFiniteError(InputError):
    """A signal or coefficient holds NaN or infinity."""


class UnstableFilterError(InputError):
    """A recursive filter has a pole on or outside the unit circle."""


class MidiError(InputError):
    """A MIDI file cannot be read (damaged, truncated, unsupported)."""


class AudioError(InputError):
    """An audio file cannot be read or holds unusable samples."""


class CheckpointError(DspRnnError):
    """A checkpoint or model folder is missing, damaged or of another version."""


class FluidSynthNotFoundError(DspRnnError):
    """The fluidsynth program, needed to render through a SoundFont, is not installed."""


class RenderError(DspRnnError):
    """An external renderer (FluidSynth) failed or produced no usable audio."""


class OutputError(DspRnnError, ValueError):
    """An output file or folder cannot be written: its folder is missing, is a file or is
    read-only, or it exists and replacing it was not asked for."""
