"""What the package writes when it makes music: the file endings of MIDI and of rendered
audio, and the longest piece :func:`dsp_rnn.training.generate` makes unless told more.

Plain constants in a module that imports nothing, so the command line builds its parser
and checks its arguments from them without loading numpy or torch.
"""

from __future__ import annotations

__all__ = ["MIDI_SUFFIXES", "AUDIO_FORMATS", "AUDIO_SUFFIXES", "MAX_STEPS"]

MIDI_SUFFIXES = (".mid", ".midi")
"""Endings of a MIDI output (``generate``'s ``out``)."""

AUDIO_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".aiff": "AIFF", ".aif": "AIFF"}
"""The audio files the renderer writes (:func:`dsp_rnn.synth.render_file`): ending -> the
libsndfile container it is written in."""

AUDIO_SUFFIXES = tuple(AUDIO_FORMATS)
"""Endings of the audio files the renderer writes (the keys of :data:`AUDIO_FORMATS`)."""

MAX_STEPS = 10_000
"""Longest piece, in new grid steps, that ``generate`` makes unless ``max_steps`` (the CLI's
``--max-steps``) says more: minutes of sampling."""
