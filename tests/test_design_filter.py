"""dsp_rnn.filters.design_filter: the same sections as each design function it names."""

from __future__ import annotations

import pytest
import torch

from dsp_rnn import filters
from dsp_rnn.errors import InputError
from dsp_rnn.filters import design_filter
from dsp_rnn.filters.kinds import BIQUAD_KINDS, BTYPES, CLASSIC_KINDS

SR = 48_000.0


@pytest.mark.parametrize("kind", BIQUAD_KINDS)
@pytest.mark.parametrize("dtype", [None, torch.float64])
def test_biquads_match_their_design_function(kind, dtype):
    gain = {"gain_db": -4.5} if kind in ("peaking", "lowshelf", "highshelf") else {}
    want = getattr(filters, f"biquad_{kind}")(1234.0, q=1.3, sample_rate=SR, dtype=dtype, **gain)
    got = design_filter(kind, 1234.0, q=1.3, gain_db=-4.5, sample_rate=SR, dtype=dtype)
    assert got.dtype == want.dtype and torch.equal(got, want)


def test_biquad_keeps_batch_dims_and_gradients():
    f0 = torch.tensor([500.0, 2000.0], dtype=torch.float64, requires_grad=True)
    sos = design_filter("peaking", f0, gain_db=6.0, sample_rate=SR)
    assert sos.shape == (2, 1, 6) and sos.dtype == torch.float64
    sos[..., :3].sum().backward()
    assert f0.grad is not None and torch.isfinite(f0.grad).all() and (f0.grad != 0).all()


@pytest.mark.parametrize("btype", BTYPES)
def test_classic_designs_match_their_design_function(btype):
    band = btype in ("bandpass", "bandstop")
    cutoff = (300.0, 3000.0) if band else 1000.0
    f1 = 3000.0 if band else None
    f0 = 300.0 if band else 1000.0
    common = {"btype": btype, "sample_rate": SR, "dtype": torch.float64}
    want = {
        "butter": filters.butter(5, cutoff, **common),
        "cheby1": filters.cheby1(5, 0.5, cutoff, **common),
        "cheby2": filters.cheby2(5, 50.0, cutoff, **common),
        "ellip": filters.ellip(5, 0.5, 50.0, cutoff, **common),
    }
    for kind in CLASSIC_KINDS:
        got = design_filter(kind, f0, f1_hz=f1, order=5, ripple_db=0.5, attenuation_db=50.0,
                            **common)  # fmt: skip
        assert torch.equal(got, want[kind]), kind


def test_classic_default_dtype_is_the_design_functions():
    assert (
        design_filter("butter", 1000.0, sample_rate=SR).dtype
        == filters.butter(4, 1000.0, sample_rate=SR).dtype
    )


def test_refusals_name_the_parameter():
    with pytest.raises(InputError, match=r"kind: expected one of .*got kind='lowpas'"):
        design_filter("lowpas", 1000.0, sample_rate=SR)
    with pytest.raises(InputError, match="f1_hz: only the classic designs"):
        design_filter("lowpass", 1000.0, f1_hz=2000.0, sample_rate=SR)
    with pytest.raises(InputError, match="f0_hz"):
        design_filter("lowpass", 30_000.0, sample_rate=SR)
    with pytest.raises(InputError, match="cutoff_hz"):
        design_filter("butter", 3000.0, f1_hz=300.0, btype="bandpass", sample_rate=SR)
