"""The fused adjoint (backward) kernels of lfilter / sosfilt against autograd references.

The references differentiate other implementations with autograd: the torch block method
(:func:`_cascade_torch`) in float64 and torchaudio's ``lfilter`` section by section. Signals
are longer than the four-biquad backward's block so that block edges are crossed, and
cascades long enough to need several chunks of four sections.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
import torchaudio.functional as taf

from dsp_rnn.filters import _kernels, lfilter, sosfilt
from dsp_rnn.filters.filtering import _Cascade, _cascade_torch

from .conftest import random_stable_ba, random_stable_sos, rel_err

F64 = torch.float64


def _coef(sos, n_ch):
    coef = np.concatenate([sos[:, :3], sos[:, 4:]], 1) / sos[:, 3:4]
    return torch.from_numpy(np.broadcast_to(coef, (n_ch,) + coef.shape).copy())


def _grads(fn, x, coef, zi, w, wz):
    y, zf = fn(x, coef, zi)
    loss = (y * w).sum() + (zf * wz).sum()
    wrt = [t for t in (x, coef, zi) if t.requires_grad]
    return torch.autograd.grad(loss, wrt)


B = _kernels.BLOCK


# lengths: blocks of the four-biquad backward (skewed by section, so the interleaved loop
# runs from 5 blocks on), a partial block, an exact multiple, and shorter than one block
@pytest.mark.parametrize(
    ("n_sec", "n_t"),
    [(1, 6 * B + 123), (3, 6 * B + 123), (4, 6 * B + 123), (6, 6 * B + 123), (9, 6 * B + 123),
     (4, 5 * B), (4, 2 * B + 1), (6, 100), (4, 1)],
)  # fmt: skip
def test_sos_backward_equals_autograd_of_the_torch_path(n_sec, n_t):
    # one section; 1, 2 and 3 chunks of four sections
    rng = np.random.default_rng(n_sec + n_t)
    n_ch = 2
    coef = _coef(random_stable_sos(rng, 2 * n_sec, max_radius=0.9), n_ch).requires_grad_()
    x = torch.from_numpy(rng.standard_normal((n_ch, n_t))).requires_grad_()
    zi = torch.from_numpy(rng.standard_normal((n_ch, n_sec, 2))).requires_grad_()
    w = torch.from_numpy(rng.standard_normal((n_ch, n_t)))
    wz = torch.from_numpy(rng.standard_normal((n_ch, n_sec, 2)))
    ours = _grads(_Cascade.apply, x, coef, zi, w, wz)
    ref = _grads(lambda *a: _cascade_torch(*a, block=128), x, coef, zi, w, wz)
    for name, g, r in zip(("x", "coef", "zi"), ours, ref, strict=True):
        assert rel_err(g, r) < 1e-9, name


def test_lfilter_backward_equals_autograd_of_the_torch_path():
    rng = np.random.default_rng(3)
    b, a = random_stable_ba(rng, 3, max_radius=0.85)
    coef = torch.from_numpy(np.concatenate([b, a[1:]]))[None, None].expand(2, 1, 7)
    coef = coef.contiguous().requires_grad_()
    x = torch.from_numpy(rng.standard_normal((2, 5000))).requires_grad_()
    zi = torch.from_numpy(rng.standard_normal((2, 1, 3))).requires_grad_()
    w = torch.from_numpy(rng.standard_normal((2, 5000)))
    wz = torch.from_numpy(rng.standard_normal((2, 1, 3)))
    ours = _grads(_Cascade.apply, x, coef, zi, w, wz)
    ref = _grads(lambda *a: _cascade_torch(*a, block=64), x, coef, zi, w, wz)
    for g, r in zip(ours, ref, strict=True):
        assert rel_err(g, r) < 1e-9


@pytest.mark.parametrize("n_sec", [1, 4, 6])
def test_backward_computes_only_what_is_asked_and_the_same_values(n_sec):
    rng = np.random.default_rng(10 + n_sec)
    n_ch, n_t = 3, 5 * B + 500
    coef0 = _coef(random_stable_sos(rng, 2 * n_sec), n_ch)
    x0 = torch.from_numpy(rng.standard_normal((n_ch, n_t)))
    zi0 = torch.from_numpy(rng.standard_normal((n_ch, n_sec, 2)))
    w = torch.from_numpy(rng.standard_normal((n_ch, n_t)))
    wz = torch.from_numpy(rng.standard_normal((n_ch, n_sec, 2)))
    full = _grads(_Cascade.apply, *(t.clone().requires_grad_() for t in (x0, coef0, zi0)), w, wz)
    for k in range(3):
        inputs = [t.clone().requires_grad_(i == k) for i, t in enumerate((x0, coef0, zi0))]
        y, zf = _Cascade.apply(*inputs)
        ((y * w).sum() + (zf * wz).sum()).backward()
        for i, t in enumerate(inputs):
            if i == k:
                assert torch.equal(t.grad, full[k])  # the same kernels, the same sums
            else:
                assert t.grad is None


def test_float32_gradients_match_torchaudio_and_a_float64_reference():
    # 8th-order Butterworth as four sections (one fused chunk), gradients to x and sos
    sos64 = torch.from_numpy(scipy.signal.butter(8, 0.05, output="sos"))
    rng = np.random.default_rng(4)
    x64 = torch.from_numpy(rng.standard_normal((2, 6 * B + 7)))
    w64 = torch.from_numpy(rng.standard_normal(x64.shape))

    def grads(fn, sos, x, w):
        sos = sos.clone().requires_grad_()
        x = x.clone().requires_grad_()
        (fn(sos, x) * w).sum().backward()
        return x.grad, sos.grad

    def ta_cascade(sos, x):
        y = x
        for row in sos:
            y = taf.lfilter(y, row[3:], row[:3], clamp=False)
        return y

    ref = grads(sosfilt, sos64, x64, w64)
    ta64 = grads(ta_cascade, sos64, x64, w64)
    f32 = [t.float() for t in (sos64, x64, w64)]
    ours32 = grads(sosfilt, *f32)
    ta32 = grads(ta_cascade, *f32)
    for r, t64, o32, t32 in zip(ref, ta64, ours32, ta32, strict=True):
        assert rel_err(t64, r) < 1e-9  # torchaudio's autograd agrees in float64
        assert o32.dtype == torch.float32
        # float32: ours no further from the float64 reference than torchaudio's float32
        assert rel_err(o32, r) < max(1e-4, 2 * rel_err(t32, r))


def test_lfilter_biquad_gradients_cross_blocks():
    rng = np.random.default_rng(8)
    b, a = random_stable_ba(rng, 2, max_radius=0.95)
    bt = torch.from_numpy(b).requires_grad_()
    at = torch.from_numpy(a).requires_grad_()
    x = torch.from_numpy(rng.standard_normal((2, 2 * B + 1))).requires_grad_()
    w = torch.from_numpy(rng.standard_normal(x.shape))
    (lfilter(bt, at, x) * w).sum().backward()
    grads = (x.grad, bt.grad, at.grad)
    bt2, at2, x2 = (t.detach().clone().requires_grad_() for t in (bt, at, x))
    (taf.lfilter(x2, at2, bt2, clamp=False) * w).sum().backward()
    for g, r in zip(grads, (x2.grad, bt2.grad, at2.grad), strict=True):
        assert rel_err(g, r) < 1e-9
