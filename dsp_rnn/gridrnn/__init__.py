"""Note-grid models: the biaxial GridRNN, its features, data windows, the sampler and its
training task (:class:`GridTask`, for :func:`dsp_rnn.training.train`).

>>> from dsp_rnn.gridrnn import GridRNN, GridRNNConfig
>>> GridRNN(GridRNNConfig(time_hidden=8, pitch_hidden=8)).config.kind
'biaxial'
"""

from dsp_rnn.gridrnn.config import MODEL_KINDS, GridRNNConfig
from dsp_rnn.gridrnn.data import Corpus, load_corpus
from dsp_rnn.gridrnn.ensemble import GridEnsemble
from dsp_rnn.gridrnn.model import GridRNN, GridState
from dsp_rnn.gridrnn.sampler import sample, steps_for
from dsp_rnn.gridrnn.task import GridTask

__all__ = [
    "MODEL_KINDS",
    "Corpus",
    "GridEnsemble",
    "GridRNN",
    "GridRNNConfig",
    "GridState",
    "GridTask",
    "load_corpus",
    "sample",
    "steps_for",
]
