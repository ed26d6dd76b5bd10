"""MIDI and audio pipeline: readers/writers, note grids, folder datasets, demo corpora.

Submodules load on first use (PEP 562), so ``dsp_rnn.music.midi`` and the renderer run
without importing torch (about 0.5 GB of memory for a CUDA build).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "AUDIO_EXTENSIONS": "audio",
    "frame_windows": "audio",
    "mu_law_decode": "audio",
    "mu_law_encode": "audio",
    "read_audio": "audio",
    "write_audio": "audio",
    "AudioFolder": "audio_folder",
    "SkippedFile": "audio_folder",
    "make_demo_audio": "demo_audio",
    "make_demo_midi": "demo_midi",
    "MidiFolder": "folder",
    "Skipped": "folder",
    "GridNote": "grid",
    "NoteGrid": "grid",
    "load_jsb": "jsb",
    "Limits": "midi",
    "Note": "midi",
    "Score": "midi",
    "parse_midi_bytes": "midi",
    "read_midi": "midi",
}

__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'dsp_rnn.music' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"dsp_rnn.music.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from dsp_rnn.music.audio import (  # noqa: F401
        AUDIO_EXTENSIONS,
        frame_windows,
        mu_law_decode,
        mu_law_encode,
        read_audio,
        write_audio,
    )
    from dsp_rnn.music.audio_folder import AudioFolder, SkippedFile  # noqa: F401
    from dsp_rnn.music.demo_audio import make_demo_audio  # noqa: F401
    from dsp_rnn.music.demo_midi import make_demo_midi  # noqa: F401
    from dsp_rnn.music.folder import MidiFolder, Skipped  # noqa: F401
    from dsp_rnn.music.grid import GridNote, NoteGrid  # noqa: F401
    from dsp_rnn.music.jsb import load_jsb  # noqa: F401
    from dsp_rnn.music.midi import Limits, Note, Score, parse_midi_bytes, read_midi  # noqa: F401
