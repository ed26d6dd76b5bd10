"""The synth and renderer: voices built from our filters, an FDN reverb, notes to audio.

Needs numpy, numba and soundfile only (no torch), so ``dsp-rnn render`` starts fast and
stays small. FluidSynth (``--soundfont``) is optional: :mod:`dsp_rnn.synth.fluidsynth`.
"""

from dsp_rnn.synth.drums import DrumKit
from dsp_rnn.synth.files import SUBTYPES, RenderReport, render_file
from dsp_rnn.synth.render import SAMPLE_RATES, NotePlan, plan_notes, render, render_blocks
from dsp_rnn.synth.reverb import Reverb, ReverbState
from dsp_rnn.synth.voices import (
    ADSR,
    VOICE_NAMES,
    Additive,
    KarplusStrong,
    Subtractive,
    Voice,
    gm_voice_name,
    ks_tuning,
    make_voice,
    midi_to_hz,
)

__all__ = [
    "ADSR",
    "Additive",
    "DrumKit",
    "KarplusStrong",
    "NotePlan",
    "RenderReport",
    "Reverb",
    "ReverbState",
    "SAMPLE_RATES",
    "SUBTYPES",
    "Subtractive",
    "VOICE_NAMES",
    "Voice",
    "gm_voice_name",
    "ks_tuning",
    "make_voice",
    "midi_to_hz",
    "plan_notes",
    "render",
    "render_blocks",
    "render_file",
]
