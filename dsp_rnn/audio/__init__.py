"""Sample-level audio models (LPCNet-style): linear prediction, frame features, the LPC
synthesis filter and the linear vocoder. The public names are each module's ``__all__``.
"""

from dsp_rnn.audio import cache as _cache
from dsp_rnn.audio import features as _features
from dsp_rnn.audio import lpc as _lpc
from dsp_rnn.audio import synthesis as _synthesis
from dsp_rnn.audio import vocoder as _vocoder
from dsp_rnn.audio.cache import *  # noqa: F403
from dsp_rnn.audio.features import *  # noqa: F403
from dsp_rnn.audio.lpc import *  # noqa: F403
from dsp_rnn.audio.synthesis import *  # noqa: F403
from dsp_rnn.audio.vocoder import *  # noqa: F403

__all__ = [
    *_lpc.__all__,
    *_synthesis.__all__,
    *_features.__all__,
    *_cache.__all__,
    *_vocoder.__all__,
]
