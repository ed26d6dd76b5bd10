"""Learned RNN cells under one protocol, each with its linear-systems twin where one exists.

``y, state = cell(x, state=None)`` over a whole sequence ``x (batch, time, features)``;
``y_t, state = cell.step(x_t, state)`` for one step. Truncated BPTT (:func:`tbptt_step`) is
shared by every cell and by the trainers.
"""

from dsp_rnn.cells.base import (
    Cell,
    State,
    TBPTTConfig,
    check_sequence,
    check_step,
    detach_state,
    tbptt_step,
    tbptt_windows,
)
from dsp_rnn.cells.iir import IIRCell
from dsp_rnn.cells.orthogonal import OrthogonalCell
from dsp_rnn.cells.phased_lstm import PhasedLSTMCell
from dsp_rnn.cells.recurrent import ElmanCell, GRUCell, LSTMCell
from dsp_rnn.cells.state_space import StateSpaceCell

__all__ = [
    "Cell",
    "State",
    "StateSpaceCell",
    "IIRCell",
    "OrthogonalCell",
    "PhasedLSTMCell",
    "ElmanCell",
    "LSTMCell",
    "GRUCell",
    "TBPTTConfig",
    "tbptt_step",
    "tbptt_windows",
    "check_sequence",
    "check_step",
    "detach_state",
]
