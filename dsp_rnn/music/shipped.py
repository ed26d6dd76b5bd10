"""Where a checkout of the repository keeps the data it ships.

A module that imports only :mod:`pathlib`, so the command line names the default data file
in its parser without loading numpy or torch. An installed wheel does not carry the data:
:func:`dsp_rnn.music.default_jsb_path` says so.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SHIPPED_JSB"]

SHIPPED_JSB = Path(__file__).resolve().parents[2] / "data" / "jsb" / "jsb-chorales-quarter.json"
"""The JSB Chorales quarter-note file: ``<repository>/data/jsb/`` beside the package."""
