"""The synth and renderer: voices built from our filters, an FDN reverb, notes to audio.

Needs numpy, numba and soundfile only (no torch), so ``dsp-rnn render`` starts fast and
stays small. FluidSynth (``--soundfont``) is optional: :mod:`dsp_rnn.synth.fluidsynth`
runs the external program when it is installed. The public names are each submodule's
``__all__``.
"""

from dsp_rnn.synth import drums as _drums
from dsp_rnn.synth import files as _files
from dsp_rnn.synth import fluidsynth as _fluidsynth
from dsp_rnn.synth import folder as _folder
from dsp_rnn.synth import render as _render
from dsp_rnn.synth import reverb as _reverb
from dsp_rnn.synth import voices as _voices
from dsp_rnn.synth.drums import *  # noqa: F403
from dsp_rnn.synth.files import *  # noqa: F403
from dsp_rnn.synth.fluidsynth import *  # noqa: F403
from dsp_rnn.synth.folder import *  # noqa: F403
from dsp_rnn.synth.render import *  # noqa: F403
from dsp_rnn.synth.reverb import *  # noqa: F403
from dsp_rnn.synth.voices import *  # noqa: F403

__all__ = [
    *_voices.__all__,
    *_drums.__all__,
    *_reverb.__all__,
    *_render.__all__,
    *_files.__all__,
    *_folder.__all__,
    *_fluidsynth.__all__,
]
