"""Learned voices: play notes in a timbre learned from audio.

A learned voice is a note-to-feature network (:class:`VoiceNet`: a causal GRU from the
piano roll at the frame rate, :mod:`dsp_rnn.voice.roll`, to the frame vectors of the audio
features) feeding a sample model (:class:`~dsp_rnn.audio.AudioRNN`, one for the whole
mix). It is trained on a folder of audio files with same-stem MIDI files
(:func:`~dsp_rnn.music.pair_folder`) in two stages: the sample model as an ordinary audio
run, the network by :class:`VoiceTask` through the shared trainer. :func:`load_voice`
reads a voice folder, :func:`render_voice` and :func:`render_voice_file` play a piece with
it, streamed block by block. The public names are each module's ``__all__``.
"""

from dsp_rnn.voice import files as _files
from dsp_rnn.voice import mix as _mix
from dsp_rnn.voice import model as _model
from dsp_rnn.voice import render as _render
from dsp_rnn.voice import roll as _roll
from dsp_rnn.voice import source as _source
from dsp_rnn.voice import task as _task
from dsp_rnn.voice import tune as _tune
from dsp_rnn.voice.files import *  # noqa: F403
from dsp_rnn.voice.mix import *  # noqa: F403
from dsp_rnn.voice.model import *  # noqa: F403
from dsp_rnn.voice.render import *  # noqa: F403
from dsp_rnn.voice.roll import *  # noqa: F403
from dsp_rnn.voice.source import *  # noqa: F403
from dsp_rnn.voice.task import *  # noqa: F403
from dsp_rnn.voice.tune import *  # noqa: F403

__all__ = [
    *_roll.__all__,
    *_source.__all__,
    *_model.__all__,
    *_task.__all__,
    *_files.__all__,
    *_mix.__all__,
    *_render.__all__,
    *_tune.__all__,
]
