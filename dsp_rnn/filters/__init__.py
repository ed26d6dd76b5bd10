"""Linear systems: design, differentiable filtering, allpass/FDN networks, analysis."""

from dsp_rnn.filters.allpass import (
    Allpass1,
    Allpass2,
    NestedAllpass,
    SchroederAllpass,
    allpass1,
    allpass1_coeff,
    allpass1_tf,
    allpass2,
    allpass2_tf,
    nested_allpass,
    nested_allpass_tf,
    schroeder_allpass,
    schroeder_allpass_tf,
    thiran1_coeff,
)
from dsp_rnn.filters.analysis import (
    check_stable,
    freqz,
    group_delay,
    impulse_response,
    is_stable,
    poles,
    sosfreqz,
    zeros,
)
from dsp_rnn.filters.convert import (
    sos2ss,
    sos2tf,
    sos2zpk,
    ss2sos,
    ss2tf,
    tf2sos,
    tf2ss,
    tf2zpk,
    zpk2sos,
    zpk2tf,
)
from dsp_rnn.filters.design import (
    biquad_allpass,
    biquad_bandpass,
    biquad_highpass,
    biquad_highshelf,
    biquad_lowpass,
    biquad_lowshelf,
    biquad_notch,
    biquad_peaking,
    butter,
    cheby1,
    cheby2,
    ellip,
)
from dsp_rnn.filters.emphasis import deemphasis, preemphasis
from dsp_rnn.filters.filtering import lfilter, sosfilt
from dsp_rnn.filters.kinds import FILTER_KINDS, design_filter
from dsp_rnn.filters.networks import (
    FDN,
    GerzonAllpass,
    fdn,
    fdn_freqz,
    gerzon_allpass,
    gerzon_freqz,
    hadamard_matrix,
    householder_matrix,
    random_orthogonal,
    random_unitary,
    rt60_to_gains,
)
from dsp_rnn.filters.zero_phase import filtfilt, lfilter_zi, lfiltic, sosfilt_zi, sosfiltfilt

__all__ = ["lfilter", "sosfilt"]
__all__ += [  # initial states, zero phase, emphasis
    "lfilter_zi",
    "sosfilt_zi",
    "lfiltic",
    "filtfilt",
    "sosfiltfilt",
    "preemphasis",
    "deemphasis",
]
__all__ += [  # design
    "biquad_lowpass",
    "biquad_highpass",
    "biquad_bandpass",
    "biquad_notch",
    "biquad_peaking",
    "biquad_lowshelf",
    "biquad_highshelf",
    "biquad_allpass",
    "butter",
    "cheby1",
    "cheby2",
    "ellip",
    "design_filter",
    "FILTER_KINDS",
]
__all__ += [  # convert
    "tf2sos",
    "sos2tf",
    "tf2zpk",
    "zpk2tf",
    "zpk2sos",
    "sos2zpk",
    "tf2ss",
    "ss2tf",
    "sos2ss",
    "ss2sos",
]
__all__ += [  # analysis
    "freqz",
    "sosfreqz",
    "group_delay",
    "impulse_response",
    "poles",
    "zeros",
    "is_stable",
    "check_stable",
]
__all__ += [  # allpass
    "allpass1_coeff",
    "allpass1_tf",
    "allpass1",
    "allpass2_tf",
    "allpass2",
    "thiran1_coeff",
    "schroeder_allpass_tf",
    "schroeder_allpass",
    "nested_allpass_tf",
    "nested_allpass",
    "Allpass1",
    "Allpass2",
    "SchroederAllpass",
    "NestedAllpass",
]
__all__ += [  # networks
    "householder_matrix",
    "hadamard_matrix",
    "random_orthogonal",
    "random_unitary",
    "rt60_to_gains",
    "fdn",
    "fdn_freqz",
    "gerzon_allpass",
    "gerzon_freqz",
    "FDN",
    "GerzonAllpass",
]
