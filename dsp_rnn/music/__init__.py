"""MIDI and audio pipeline: readers/writers, note grids, folder datasets, demo corpora."""

from dsp_rnn.music.audio import (
    AUDIO_EXTENSIONS,
    frame_windows,
    mu_law_decode,
    mu_law_encode,
    read_audio,
    write_audio,
)
from dsp_rnn.music.audio_folder import AudioFolder, SkippedFile
from dsp_rnn.music.demo_audio import make_demo_audio
from dsp_rnn.music.demo_midi import make_demo_midi
from dsp_rnn.music.folder import MidiFolder, Skipped
from dsp_rnn.music.grid import GridNote, NoteGrid
from dsp_rnn.music.jsb import load_jsb
from dsp_rnn.music.midi import Limits, Note, Score, parse_midi_bytes, read_midi

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioFolder",
    "SkippedFile",
    "frame_windows",
    "make_demo_audio",
    "mu_law_decode",
    "mu_law_encode",
    "read_audio",
    "write_audio",
    "GridNote",
    "Limits",
    "MidiFolder",
    "Note",
    "NoteGrid",
    "Score",
    "Skipped",
    "load_jsb",
    "make_demo_midi",
    "parse_midi_bytes",
    "read_midi",
]
