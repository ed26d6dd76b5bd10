"""Linear systems: design, differentiable filtering, allpass/FDN networks, analysis.

The public names are each submodule's ``__all__`` (one list per module, nothing repeated
here; the modules are imported under private names so that a public name may equal a
module's): filtering (:func:`lfilter`, :func:`sosfilt`), initial states and zero phase,
pre-/de-emphasis, design (cookbook biquads, classic designs, :func:`design_filter`),
coercion (:func:`as_sos`, :func:`as_tf`), conversions (``<from>2<to>``, state space in a
module of its own), analysis (:func:`freqz`, :func:`sosfreqz`, :func:`group_delay`, poles,
zeros, stability, :func:`frequency_grid`), allpass filters (first/second order, Schroeder and
nested, their modules), feedback delay network design (feedback matrices, line gains) and
the networks (FDN, Gerzon); the Kalman filter and smoother of a linear-Gaussian model and
its learning (EM, gradient).
"""

from dsp_rnn.filters import allpass as _allpass
from dsp_rnn.filters import allpass_modules as _allpass_modules
from dsp_rnn.filters import analysis as _analysis
from dsp_rnn.filters import classic as _classic
from dsp_rnn.filters import coerce as _coerce
from dsp_rnn.filters import convert as _convert
from dsp_rnn.filters import design as _design
from dsp_rnn.filters import emphasis as _emphasis
from dsp_rnn.filters import fdn_design as _fdn_design
from dsp_rnn.filters import filtering as _filtering
from dsp_rnn.filters import kalman as _kalman
from dsp_rnn.filters import kalman_learn as _kalman_learn
from dsp_rnn.filters import kinds as _kinds
from dsp_rnn.filters import networks as _networks
from dsp_rnn.filters import schroeder as _schroeder
from dsp_rnn.filters import state_space as _state_space
from dsp_rnn.filters import zero_phase as _zero_phase
from dsp_rnn.filters.allpass import *  # noqa: F403
from dsp_rnn.filters.allpass_modules import *  # noqa: F403
from dsp_rnn.filters.analysis import *  # noqa: F403
from dsp_rnn.filters.classic import *  # noqa: F403
from dsp_rnn.filters.coerce import *  # noqa: F403
from dsp_rnn.filters.convert import *  # noqa: F403
from dsp_rnn.filters.design import *  # noqa: F403
from dsp_rnn.filters.emphasis import *  # noqa: F403
from dsp_rnn.filters.fdn_design import *  # noqa: F403
from dsp_rnn.filters.filtering import *  # noqa: F403
from dsp_rnn.filters.kalman import *  # noqa: F403
from dsp_rnn.filters.kalman_learn import *  # noqa: F403
from dsp_rnn.filters.kinds import *  # noqa: F403
from dsp_rnn.filters.networks import *  # noqa: F403
from dsp_rnn.filters.schroeder import *  # noqa: F403
from dsp_rnn.filters.state_space import *  # noqa: F403
from dsp_rnn.filters.zero_phase import *  # noqa: F403

__all__ = [
    *_filtering.__all__,
    *_zero_phase.__all__,
    *_emphasis.__all__,
    *_design.__all__,
    *_classic.__all__,
    *_kinds.__all__,
    *_coerce.__all__,
    *_convert.__all__,
    *_state_space.__all__,
    *_analysis.__all__,
    *_allpass.__all__,
    *_schroeder.__all__,
    *_allpass_modules.__all__,
    *_fdn_design.__all__,
    *_networks.__all__,
    *_kalman.__all__,
    *_kalman_learn.__all__,
]
