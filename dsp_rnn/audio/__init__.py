"""Sample-level audio models (LPCNet-style): linear prediction, frame features, the LPC
synthesis filter and the linear vocoder. The public names are each module's ``__all__``.
"""

from dsp_rnn.audio import lpc as _lpc
from dsp_rnn.audio import synthesis as _synthesis
from dsp_rnn.audio.lpc import *  # noqa: F403
from dsp_rnn.audio.synthesis import *  # noqa: F403

__all__ = [
    *_lpc.__all__,
    *_synthesis.__all__,
]
