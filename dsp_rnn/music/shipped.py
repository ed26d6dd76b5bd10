"""Where a checkout of the repository keeps the data it ships, and the learned voices
shipped inside the package.

A module that imports only the standard library (:mod:`pathlib`, :mod:`json`), so the
command line names the default data file in its parser, and resolves ``--voice NAME``,
without loading numpy or torch. An installed wheel does not carry the JSB data
(:func:`dsp_rnn.music.default_jsb_path` says so); it does carry the shipped voices.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["SHIPPED_JSB", "SHIPPED_MODELS", "shipped_voices", "shipped_voice", "find_voice"]

SHIPPED_JSB = Path(__file__).resolve().parents[2] / "data" / "jsb" / "jsb-chorales-quarter.json"
"""The JSB Chorales quarter-note file: ``<repository>/data/jsb/`` beside the package."""

SHIPPED_MODELS = Path(__file__).resolve().parents[1] / "_models"
"""The models shipped inside the package (``dsp_rnn/_models/<name>/``)."""

_VOICE_FAMILY = "voice"  # the ``family`` of a voice folder's config.json


def shipped_voices() -> dict[str, Path]:
    """The learned voices shipped inside the package, by name (sorted): each folder of
    :data:`SHIPPED_MODELS` whose ``config.json`` names the voice family.

    Example:
        >>> "learned" in shipped_voices()
        True
    """
    found: dict[str, Path] = {}
    if not SHIPPED_MODELS.is_dir():
        return found
    for folder in sorted(SHIPPED_MODELS.iterdir()):
        try:
            doc = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(doc, dict) and doc.get("family") == _VOICE_FAMILY:
            found[folder.name] = folder
    return found


def shipped_voice(name: str | os.PathLike[str]) -> Path | None:
    """The folder of the shipped voice ``name``, or None.

    A folder of that name (relative to the current directory, or a path) always wins: the
    result is None then, and the caller loads the folder. Only a bare name (no folder
    separator) can name a shipped voice.

    Example:
        >>> shipped_voice("learned").name
        'learned'
        >>> shipped_voice("no-such-voice") is None
        True
    """
    text = os.fspath(name)
    if not text or Path(text).exists() or Path(text).name != text or text in (".", ".."):
        return None
    return shipped_voices().get(text)


def find_voice(name: str | os.PathLike[str]) -> Path | None:
    """Where the learned voice ``name`` lives: ``name`` itself when it is a folder, else
    the shipped voice of that name (:func:`shipped_voice`); None when neither. Nothing is
    loaded.

    Example:
        >>> find_voice("learned").name, find_voice("no-such-voice")
        ('learned', None)
    """
    path = Path(name)
    return path if path.is_dir() else shipped_voice(name)
