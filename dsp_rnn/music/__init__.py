"""MIDI and audio pipeline: readers/writers, note grids, folder datasets, demo corpora.

Submodules load on first use (PEP 562), so ``dsp_rnn.music.midi`` and the renderer run
without importing torch (about 0.5 GB of memory for a CUDA build). The public names are
the submodules' ``__all__`` (the table below says where each lives; the test suite checks
that it lists exactly those names).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: every public name of the package -> the submodule that defines it
_WHERE = {
    "AUDIO_EXTENSIONS": "audio",
    "frame_windows": "audio",
    "load_audio": "audio",
    "mu_law_decode": "audio",
    "mu_law_encode": "audio",
    "read_audio": "audio",
    "write_audio": "audio",
    "AudioFolder": "audio_folder",
    "DemoNote": "demo_audio",
    "DemoPhrase": "demo_audio",
    "demo_phrases": "demo_audio",
    "make_demo_audio": "demo_audio",
    "render_phrase": "demo_audio",
    "make_demo_midi": "demo_midi",
    "make_demo_piece": "demo_midi",
    "MIDI_EXTENSIONS": "folder",
    "PARSER_VERSION": "folder",
    "MidiFolder": "folder",
    "Skipped": "folder",
    "default_cache_dir": "folder",
    "split_of": "folder",
    "split_position": "folder",
    "GridNote": "grid",
    "NoteGrid": "grid",
    "PIANO_KEYS": "grid",
    "PIANO_LOW": "grid",
    "JSBNotFoundError": "jsb",
    "default_jsb_path": "jsb",
    "jsb_steps_per_quarter": "jsb",
    "load_jsb": "jsb",
    "WRITTEN_CHORALE_MEAN_PITCH": "jsb",
    "written_register_offset": "jsb",
    "DRUM_CHANNEL": "midi",
    "Limits": "midi",
    "Note": "midi",
    "Score": "midi",
    "bisect_tempo": "midi",
    "events_from_mido": "midi",
    "parse_smf": "midi",
    "NOTE_ON": "midi",
    "NOTE_OFF": "midi",
    "CONTROL": "midi",
    "PROGRAM": "midi",
    "TEMPO": "midi",
    "TIMESIG": "midi",
    "parse_midi_bytes": "midi",
    "read_midi": "midi",
    "score_to_midi_file": "midi",
    "write_midi": "midi",
    "Alignment": "pairs",
    "Pair": "pairs",
    "PairedFolder": "pairs",
    "audio_onset_s": "pairs",
    "pair_folder": "pairs",
    "AUDIO_FORMATS": "outputs",
    "AUDIO_SUFFIXES": "outputs",
    "MAX_STEPS": "outputs",
    "MIDI_SUFFIXES": "outputs",
    "SHIPPED_JSB": "shipped",
    "SHIPPED_MODELS": "shipped",
    "shipped_voices": "shipped",
    "shipped_voice": "shipped",
    "find_voice": "shipped",
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


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs (each module's __all__)
    from dsp_rnn.music.audio import *  # noqa: F403
    from dsp_rnn.music.audio_folder import *  # noqa: F403
    from dsp_rnn.music.demo_audio import *  # noqa: F403
    from dsp_rnn.music.demo_midi import *  # noqa: F403
    from dsp_rnn.music.folder import *  # noqa: F403
    from dsp_rnn.music.grid import *  # noqa: F403
    from dsp_rnn.music.jsb import *  # noqa: F403
    from dsp_rnn.music.midi import *  # noqa: F403
    from dsp_rnn.music.outputs import *  # noqa: F403
    from dsp_rnn.music.pairs import *  # noqa: F403
    from dsp_rnn.music.shipped import *  # noqa: F403
