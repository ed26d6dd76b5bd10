"""Sample-level audio models (LPCNet-style): linear prediction, frame features, the LPC
synthesis filter, the linear vocoder, the sample RNN (:class:`AudioRNN`) and its compiled
CPU generator (:func:`synthesize`). The public names are each module's ``__all__`` (the
modules are imported under private names, so the function :func:`features` may share its
module's name).

>>> import numpy as np
>>> from dsp_rnn.audio import features, vocode
>>> t = np.arange(1600) / 16000
>>> feats = features(0.3 * np.sin(2 * np.pi * 220 * t), 16000)
>>> feats.lpc.shape, vocode(feats).shape
((10, 17), torch.Size([1600]))
"""

from dsp_rnn.audio import cache as _cache
from dsp_rnn.audio import copy_synthesis as _copy_synthesis
from dsp_rnn.audio import features as _features
from dsp_rnn.audio import frame_tier as _frame_tier
from dsp_rnn.audio import generator as _generator
from dsp_rnn.audio import lpc as _lpc
from dsp_rnn.audio import metrics as _metrics
from dsp_rnn.audio import model as _model
from dsp_rnn.audio import scoring as _scoring
from dsp_rnn.audio import synthesis as _synthesis
from dsp_rnn.audio import task as _task
from dsp_rnn.audio import vocoder as _vocoder
from dsp_rnn.audio import voice_stream as _voice_stream
from dsp_rnn.audio.cache import *  # noqa: F403
from dsp_rnn.audio.copy_synthesis import *  # noqa: F403
from dsp_rnn.audio.features import *  # noqa: F403
from dsp_rnn.audio.frame_tier import *  # noqa: F403
from dsp_rnn.audio.generator import *  # noqa: F403
from dsp_rnn.audio.lpc import *  # noqa: F403
from dsp_rnn.audio.metrics import *  # noqa: F403
from dsp_rnn.audio.model import *  # noqa: F403
from dsp_rnn.audio.scoring import *  # noqa: F403
from dsp_rnn.audio.synthesis import *  # noqa: F403
from dsp_rnn.audio.task import *  # noqa: F403
from dsp_rnn.audio.vocoder import *  # noqa: F403
from dsp_rnn.audio.voice_stream import *  # noqa: F403

__all__ = [
    *_lpc.__all__,
    *_synthesis.__all__,
    *_features.__all__,
    *_cache.__all__,
    *_vocoder.__all__,
    *_model.__all__,
    *_task.__all__,
    *_frame_tier.__all__,
    *_generator.__all__,
    *_metrics.__all__,
    *_copy_synthesis.__all__,
    *_scoring.__all__,
    *_voice_stream.__all__,
]
