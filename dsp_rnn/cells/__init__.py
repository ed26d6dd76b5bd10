"""Learned RNN cells under one protocol, each with its linear-systems twin where one exists.

``y, state = cell(x, state=None)`` over a whole sequence ``x (batch, time, features)``;
``y_t, state = cell.step(x_t, state)`` for one step. Truncated BPTT (:func:`tbptt_step`) is
shared by every cell and by the trainers. Linear cells follow :class:`FilterTwin`
(``from_filter`` / ``to_filter``). The public names are each submodule's ``__all__``.
"""

from dsp_rnn.cells import base as _base
from dsp_rnn.cells import iir as _iir
from dsp_rnn.cells import kalman as _kalman
from dsp_rnn.cells import orthogonal as _orthogonal
from dsp_rnn.cells import phased_lstm as _phased_lstm
from dsp_rnn.cells import recurrent as _recurrent
from dsp_rnn.cells import state_space as _state_space
from dsp_rnn.cells import stochastic as _stochastic
from dsp_rnn.cells.base import *  # noqa: F403
from dsp_rnn.cells.iir import *  # noqa: F403
from dsp_rnn.cells.kalman import *  # noqa: F403
from dsp_rnn.cells.orthogonal import *  # noqa: F403
from dsp_rnn.cells.phased_lstm import *  # noqa: F403
from dsp_rnn.cells.recurrent import *  # noqa: F403
from dsp_rnn.cells.state_space import *  # noqa: F403
from dsp_rnn.cells.stochastic import *  # noqa: F403

__all__ = [
    *_base.__all__,
    *_state_space.__all__,
    *_iir.__all__,
    *_kalman.__all__,
    *_orthogonal.__all__,
    *_phased_lstm.__all__,
    *_recurrent.__all__,
    *_stochastic.__all__,
]
