"""Numba CPU kernels for cascades of direct-form-II-transposed (DF2T) sections.

A cascade has ``S`` sections of order ``N`` (``N = 2`` for SOS, ``S = 1`` for ``lfilter``).
Coefficients are normalised (``a0 == 1``) and laid out per channel as
``coef[c, s] = [b0 .. bN, a1 .. aN]`` (length ``2N + 1``). Signals are ``(C, T)``
(channel-major, contiguous). Channels run in parallel (``prange``); the sections of a
cascade are fused per sample so the signal is read and written once.

The backward kernel is the adjoint of the forward recursion, run backwards in time with
the adjoint state ``lambda = dL/dz``. For one DF2T section at sample ``n``::

    forward                               adjoint (given gy = dL/dy[n], lam = dL/dz[n])
    y     = b0 x + z0'                    gyt   = gy - sum_i a[i+1] lam[i]
    z[i]  = b[i+1] x - a[i+1] y + z[i+1]' dL/dx = b0 gyt + sum_i b[i+1] lam[i]
                                          db0  += gyt x ; db[i+1] += lam[i] x
                                          da[i+1] -= lam[i] y
                                          lam'  = [gyt, lam[0], ..., lam[N-2]]

It starts from ``lam = dL/dzf`` at the last sample and ends with ``lam = dL/dzi``.
No autograd graph is built over samples.
"""

from __future__ import annotations

import types

import numpy as np
from llvmlite import ir
from numba import njit, prange
from numba.core import cgutils
from numba.core import types as nbtypes
from numba.extending import intrinsic

from dsp_rnn import _numba_cache  # noqa: F401  (before any cache=True kernel)

__all__ = [
    "cascade_forward",
    "cascade_backward",
    "biquad_cascade_forward",
    "biquad_backward",
    "biquad4_forward",
    "biquad4_backward",
    "pick",
]


@njit(parallel=True, cache=True)
def cascade_forward(x, coef, zi, y, zf, mid, chk):  # pragma: no cover - compiled
    """General order-N cascade. ``mid`` is (S-1, C, T) to keep section outputs, or (0, 0, 0).

    ``chk[c]`` receives ``sum(x[c] * 0) + sum(y[c] * 0)``: NaN exactly when channel ``c``
    holds NaN or inf in its input or its output (overflow), a finiteness check that costs
    no extra pass over memory.
    """
    n_ch, n_t = x.shape
    n_sec = coef.shape[1]
    order = zi.shape[2]
    keep = mid.shape[0] > 0
    for c in prange(n_ch):
        z = zi[c].copy()
        cf = coef[c]
        nan = 0.0
        for t in range(n_t):
            v = x[c, t]
            nan += v * 0.0
            for s in range(n_sec):
                out = cf[s, 0] * v + z[s, 0]
                for i in range(order - 1):
                    z[s, i] = cf[s, i + 1] * v - cf[s, order + 1 + i] * out + z[s, i + 1]
                z[s, order - 1] = cf[s, order] * v - cf[s, 2 * order] * out
                v = out
                if keep and s < n_sec - 1:
                    mid[s, c, t] = v
            y[c, t] = v
            nan += v * 0.0
        zf[c] = z
        chk[c] = nan


@njit(parallel=True, cache=True)
def cascade_backward(gy, x, y, mid, coef, gzf, gx, gcoef, gzi):  # pragma: no cover - compiled
    """Adjoint of :func:`cascade_forward`; ``gcoef`` accumulates in float64."""
    n_ch, n_t = x.shape
    n_sec = coef.shape[1]
    order = gzf.shape[2]
    for c in prange(n_ch):
        lam = gzf[c].astype(np.float64)
        acc = np.zeros((n_sec, 2 * order + 1))
        cf = coef[c].astype(np.float64)
        for t in range(n_t - 1, -1, -1):
            g = np.float64(gy[c, t])
            for s in range(n_sec - 1, -1, -1):
                xs = x[c, t] if s == 0 else mid[s - 1, c, t]
                ys = y[c, t] if s == n_sec - 1 else mid[s, c, t]
                gyt = g
                gin = 0.0
                for i in range(order):
                    gyt -= cf[s, order + 1 + i] * lam[s, i]
                    gin += cf[s, i + 1] * lam[s, i]
                    acc[s, i + 1] += lam[s, i] * xs
                    acc[s, order + 1 + i] -= lam[s, i] * ys
                gin += cf[s, 0] * gyt
                acc[s, 0] += gyt * xs
                for i in range(order - 1, 0, -1):
                    lam[s, i] = lam[s, i - 1]
                lam[s, 0] = gyt
                g = gin
            gx[c, t] = g
        gcoef[c] = acc
        gzi[c] = lam


@njit(parallel=True, cache=True)
def biquad_cascade_forward(x, coef, zi, y, zf, mid, chk):  # pragma: no cover - compiled
    """Order-2 specialisation of :func:`cascade_forward` (states kept in scalars)."""
    n_ch, n_t = x.shape
    n_sec = coef.shape[1]
    keep = mid.shape[0] > 0
    for c in prange(n_ch):
        z = zi[c].copy()
        cf = coef[c]
        nan = 0.0
        if n_sec == 1:
            b0 = cf[0, 0]
            b1 = cf[0, 1]
            b2 = cf[0, 2]
            a1 = cf[0, 3]
            a2 = cf[0, 4]
            z0 = z[0, 0]
            z1 = z[0, 1]
            for t in range(n_t):
                v = x[c, t]
                nan += v * 0.0
                out = b0 * v + z0
                z0 = b1 * v - a1 * out + z1
                z1 = b2 * v - a2 * out
                y[c, t] = out
                nan += out * 0.0
            z[0, 0] = z0
            z[0, 1] = z1
        else:
            for t in range(n_t):
                v = x[c, t]
                nan += v * 0.0
                for s in range(n_sec):
                    out = cf[s, 0] * v + z[s, 0]
                    z[s, 0] = cf[s, 1] * v - cf[s, 3] * out + z[s, 1]
                    z[s, 1] = cf[s, 2] * v - cf[s, 4] * out
                    v = out
                    if keep and s < n_sec - 1:
                        mid[s, c, t] = v
                y[c, t] = v
                nan += v * 0.0
            nan += v * 0.0
        zf[c] = z
        chk[c] = nan


@njit(parallel=True, cache=True, fastmath={"contract"})
def biquad_backward(gy, x, y, coef, gzf, gx, gcoef, gzi):  # pragma: no cover - compiled
    """Adjoint of one biquad (``coef`` is (C, 1, 5)), every state and sum in a scalar.

    One reversed pass gives ``dL/dx`` and, in float64 registers, the coefficient sums.
    ``gy`` and ``gx`` may be the same array (each sample is read before it is written).
    """
    n_ch, n_t = x.shape
    for c in prange(n_ch):
        b0, b1, b2 = np.float64(coef[c, 0, 0]), np.float64(coef[c, 0, 1]), np.float64(coef[c, 0, 2])
        a1, a2 = np.float64(coef[c, 0, 3]), np.float64(coef[c, 0, 4])
        l0, l1 = np.float64(gzf[c, 0, 0]), np.float64(gzf[c, 0, 1])
        d0 = d1 = d2 = d3 = d4 = 0.0
        for t in range(n_t - 1, -1, -1):
            xs = np.float64(x[c, t])
            ys = np.float64(y[c, t])
            g = (np.float64(gy[c, t]) - a2 * l1) - a1 * l0
            gx[c, t] = b0 * g + b1 * l0 + b2 * l1
            d0 += g * xs
            d1 += l0 * xs
            d2 += l1 * xs
            d3 -= l0 * ys
            d4 -= l1 * ys
            l1 = l0
            l0 = g
        gcoef[c, 0, 0], gcoef[c, 0, 1], gcoef[c, 0, 2] = d0, d1, d2
        gcoef[c, 0, 3], gcoef[c, 0, 4] = d3, d4
        gzi[c, 0, 0], gzi[c, 0, 1] = l0, l1


BLOCK = 4096  # samples per block of the four-biquad backward
PREFETCH_EVERY = 16  # samples between prefetches of a stream (a power of 2; 64 B of float32)


@intrinsic
def _prefetch(typingctx, arr, idx):  # type: ignore[no-untyped-def]
    """``llvm.prefetch`` of ``arr[idx]`` (1-D array): ask for its cache line, no wait."""
    if not (isinstance(arr, nbtypes.Array) and arr.ndim == 1
            and isinstance(idx, nbtypes.Integer)):  # fmt: skip
        return None

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # read access, keep in all cache levels, data cache
        builder.call(fn, [builder.bitcast(ptr, cgutils.voidptr_t), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return nbtypes.void(arr, idx), codegen


@njit(fastmath={"reassoc", "contract"}, cache=True)
def _lag_sums(g, xs, ys, n):  # pragma: no cover - compiled
    """The five coefficient sums of one biquad over a block of ``n`` samples.

    ``g[k]`` is the section's adjoint ``gyt`` at sample ``k`` (``g[n]``, ``g[n + 1]`` its
    first two values after the block), ``xs``/``ys`` the section's input and output:
    ``lam[0]`` at ``k`` is ``g[k + 1]`` and ``lam[1]`` is ``g[k + 2]``. Reassociation lets
    the sums run in SIMD lanes (float64).
    """
    d0 = d1 = d2 = d3 = d4 = 0.0
    for k in range(n):
        xv = np.float64(xs[k])
        yv = np.float64(ys[k])
        g1 = g[k + 1]
        g2 = g[k + 2]
        d0 += g[k] * xv
        d1 += g1 * xv
        d2 += g2 * xv
        d3 += g1 * yv
        d4 += g2 * yv
    return d0, d1, d2, -d3, -d4


@njit(fastmath={"contract"}, cache=True)
def _adjoint_block(hin, g, n, a1, a2, l0, l1):  # pragma: no cover - compiled
    """One biquad's adjoint recursion over a block, backwards: ``g[k] = gyt`` at sample
    ``k`` from the incoming adjoint ``hin``; returns the adjoint state before the block."""
    for k in range(n - 1, -1, -1):
        v = (np.float64(hin[k]) - a2 * l1) - a1 * l0
        g[k] = v
        l1 = l0
        l0 = v
    return l0, l1


@njit(fastmath={"contract"}, cache=True)
def _fir_block(g, n, b0, b1, b2, out):  # pragma: no cover - compiled
    """``dL/d(input)`` of one biquad over a block: ``b0 gyt + b1 lam[0] + b2 lam[1]``, an
    FIR on ``g`` (``lam[0]`` at ``k`` is ``g[k + 1]``, ``lam[1]`` is ``g[k + 2]``)."""
    for k in range(n):
        out[k] = b0 * g[k] + b1 * g[k + 1] + b2 * g[k + 2]


@njit(parallel=True, cache=True, fastmath={"contract"})
def biquad4_backward(gy, x, mid, y, coef, gzf, gx, gcoef, gzi, want_coef):  # pragma: no cover
    """Adjoint of :func:`biquad4_forward`: four biquads, blocks of :data:`BLOCK` samples.

    ``x``, ``mid`` (3, C, T) and ``y`` are the input and the section outputs the forward
    kept. Per section only ``gyt = hin - a1 lam[0] - a2 lam[1]`` depends on the previous
    sample; the section's ``dL/d(input)`` is an FIR on ``gyt`` and its coefficient
    gradients are lagged dot products of ``gyt`` with the section's input and output.
    So the signal runs backwards in blocks, skewed by section: in step ``j`` section ``s``
    runs its recursion on block ``j - 3 + s`` (blocks counted from the end), the four
    recursions interleaved in one loop (four independent dependency chains, scalars in
    registers, FMA); then each section's block goes through the FIR (vectorised), which
    gives the next section down its input for step ``j + 1``, and, when ``want_coef``,
    through the sums (:func:`_lag_sums`, float64). The recursions are compute-bound and
    the sums memory-bound: the recursion loop prefetches the blocks the sums read next.
    ``gy`` and ``gx`` may be the same array (a block is written after it has been read).
    """
    n_ch, n_t = x.shape
    n_blk = -(-n_t // BLOCK)
    for c in prange(n_ch):
        cb = np.empty((4, 5))
        st = np.empty((4, 2))  # adjoint state (lam[0], lam[1]) of each section
        for s in range(4):
            for i in range(5):
                cb[s, i] = coef[c, s, i]
            st[s, 0] = gzf[c, s, 0]
            st[s, 1] = gzf[c, s, 1]
        acc = np.zeros((4, 5))
        g = np.empty((4, BLOCK + 2))  # each section's gyt on its block, then its state
        hb = np.empty((3, BLOCK))  # hb[s]: the adjoint entering section s on its block
        for j in range(n_blk + 3):
            for s in range(4):
                i = j - 3 + s
                if 0 <= i < n_blk:
                    n = min(BLOCK, n_t - i * BLOCK)
                    g[s, n], g[s, n + 1] = st[s, 0], st[s, 1]
            if j >= 3 and (j < n_blk - 1 or (j == n_blk - 1 and n_t % BLOCK == 0)):
                # all four sections on full blocks: the interleaved recursions
                p3, p4, q3, q4 = cb[0, 3], cb[0, 4], cb[1, 3], cb[1, 4]
                r3, r4, s3, s4 = cb[2, 3], cb[2, 4], cb[3, 3], cb[3, 4]
                u0, u1, v0, v1 = st[0, 0], st[0, 1], st[1, 0], st[1, 1]
                w0, w1, e0, e1 = st[2, 0], st[2, 1], st[3, 0], st[3, 1]
                lo3 = n_t - (j + 1) * BLOCK
                lo2, lo1, lo0 = lo3 + BLOCK, lo3 + 2 * BLOCK, lo3 + 3 * BLOCK
                gin, h2, h1, h0 = gy[c, lo3 : lo3 + BLOCK], hb[2], hb[1], hb[0]
                # the sums' operands: each section's input and output on its block
                f0, f1 = x[c, lo0 : lo0 + BLOCK], mid[0, c, lo0 : lo0 + BLOCK]
                f2, f3 = mid[0, c, lo1 : lo1 + BLOCK], mid[1, c, lo1 : lo1 + BLOCK]
                f4, f5 = mid[1, c, lo2 : lo2 + BLOCK], mid[2, c, lo2 : lo2 + BLOCK]
                f6, f7 = mid[2, c, lo3 : lo3 + BLOCK], y[c, lo3 : lo3 + BLOCK]
                for k in range(BLOCK - 1, -1, -1):
                    if want_coef and (k & (PREFETCH_EVERY - 1)) == 0:
                        _prefetch(f0, k)
                        _prefetch(f1, k)
                        _prefetch(f2, k)
                        _prefetch(f3, k)
                        _prefetch(f4, k)
                        _prefetch(f5, k)
                        _prefetch(f6, k)
                        _prefetch(f7, k)
                    t3 = (np.float64(gin[k]) - s4 * e1) - s3 * e0
                    e1 = e0
                    e0 = t3
                    g[3, k] = t3
                    t2 = (h2[k] - r4 * w1) - r3 * w0
                    w1 = w0
                    w0 = t2
                    g[2, k] = t2
                    t1 = (h1[k] - q4 * v1) - q3 * v0
                    v1 = v0
                    v0 = t1
                    g[1, k] = t1
                    t0 = (h0[k] - p4 * u1) - p3 * u0
                    u1 = u0
                    u0 = t0
                    g[0, k] = t0
                st[0, 0], st[0, 1], st[1, 0], st[1, 1] = u0, u1, v0, v1
                st[2, 0], st[2, 1], st[3, 0], st[3, 1] = w0, w1, e0, e1
            else:  # the first and last steps, short signals: one section at a time
                for s in range(4):
                    i = j - 3 + s
                    if 0 <= i < n_blk:
                        hi = n_t - i * BLOCK
                        lo = max(hi - BLOCK, 0)
                        a1, a2, l0, l1 = cb[s, 3], cb[s, 4], st[s, 0], st[s, 1]
                        if s == 3:  # gy and hb may differ in dtype: two calls
                            l0, l1 = _adjoint_block(gy[c, lo:hi], g[s], hi - lo, a1, a2, l0, l1)
                        else:
                            l0, l1 = _adjoint_block(hb[s], g[s], hi - lo, a1, a2, l0, l1)
                        st[s, 0], st[s, 1] = l0, l1
            for s in range(4):
                i = j - 3 + s
                if 0 <= i < n_blk:
                    hi = n_t - i * BLOCK
                    lo = max(hi - BLOCK, 0)
                    n = hi - lo
                    if s == 0:
                        _fir_block(g[0], n, cb[0, 0], cb[0, 1], cb[0, 2], gx[c, lo:hi])
                    else:
                        _fir_block(g[s], n, cb[s, 0], cb[s, 1], cb[s, 2], hb[s - 1])
                    if want_coef:
                        xs = x[c, lo:hi] if s == 0 else mid[s - 1, c, lo:hi]
                        ys = y[c, lo:hi] if s == 3 else mid[s, c, lo:hi]
                        d0, d1, d2, d3, d4 = _lag_sums(g[s], xs, ys, n)
                        acc[s, 0] += d0
                        acc[s, 1] += d1
                        acc[s, 2] += d2
                        acc[s, 3] += d3
                        acc[s, 4] += d4
        gcoef[c] = acc
        gzi[c] = st


@njit(parallel=True, cache=True)
def biquad4_forward(x, coef, zi, y, zf, mid, chk):  # pragma: no cover - compiled
    """Exactly four fused biquads with every state in a scalar (register).

    Keeping the 8 states out of memory lets the CPU overlap the four sections' recursions
    across samples (software pipelining by the out-of-order core); longer cascades run in
    chunks of four, shorter ones are padded with identity sections. ``mid`` is (3, C, T)
    to keep the outputs of the first three sections, or (0, 0, 0).
    """
    n_ch, n_t = x.shape
    keep = mid.shape[0] > 0
    for c in prange(n_ch):
        cf = coef[c]
        p0, p1, p2, p3, p4 = cf[0, 0], cf[0, 1], cf[0, 2], cf[0, 3], cf[0, 4]
        q0, q1, q2, q3, q4 = cf[1, 0], cf[1, 1], cf[1, 2], cf[1, 3], cf[1, 4]
        r0, r1, r2, r3, r4 = cf[2, 0], cf[2, 1], cf[2, 2], cf[2, 3], cf[2, 4]
        s0, s1, s2, s3, s4 = cf[3, 0], cf[3, 1], cf[3, 2], cf[3, 3], cf[3, 4]
        u0, u1 = zi[c, 0, 0], zi[c, 0, 1]
        v0, v1 = zi[c, 1, 0], zi[c, 1, 1]
        w0, w1 = zi[c, 2, 0], zi[c, 2, 1]
        e0, e1 = zi[c, 3, 0], zi[c, 3, 1]
        nan = 0.0
        for t in range(n_t):
            a = x[c, t]
            nan += a * 0.0
            b = p0 * a + u0
            u0 = p1 * a - p3 * b + u1
            u1 = p2 * a - p4 * b
            d = q0 * b + v0
            v0 = q1 * b - q3 * d + v1
            v1 = q2 * b - q4 * d
            f = r0 * d + w0
            w0 = r1 * d - r3 * f + w1
            w1 = r2 * d - r4 * f
            g = s0 * f + e0
            e0 = s1 * f - s3 * g + e1
            e1 = s2 * f - s4 * g
            y[c, t] = g
            nan += g * 0.0
            if keep:
                mid[0, c, t] = b
                mid[1, c, t] = d
                mid[2, c, t] = f
        zf[c, 0, 0], zf[c, 0, 1] = u0, u1
        zf[c, 1, 0], zf[c, 1, 1] = v0, v1
        zf[c, 2, 0], zf[c, 2, 1] = w0, w1
        zf[c, 3, 0], zf[c, 3, 1] = e0, e1
        chk[c] = nan


# ----------------------------------------------------------------------------- serial twins
def _serial_twin(kernel):  # type: ignore[no-untyped-def]
    """The same kernel compiled without ``parallel`` (``prange`` runs as ``range``).

    Waking numba's thread pool costs tens of microseconds, hundreds on a busy machine: for
    one channel or a small block (block-wise streaming) the serial twin is much faster.
    The twin gets its own name, so numba's on-disk cache keeps the two apart.
    """
    fn = kernel.py_func
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial",
                              fn.__defaults__, fn.__closure__)  # fmt: skip
    twin.__qualname__ = fn.__qualname__ + "_serial"
    twin.__doc__ = fn.__doc__
    fastmath = kernel.targetoptions.get("fastmath", False)  # the same arithmetic, bit for bit
    return njit(cache=True, fastmath=fastmath)(twin)


cascade_forward_serial = _serial_twin(cascade_forward)
cascade_backward_serial = _serial_twin(cascade_backward)
biquad_cascade_forward_serial = _serial_twin(biquad_cascade_forward)
biquad_backward_serial = _serial_twin(biquad_backward)
biquad4_forward_serial = _serial_twin(biquad4_forward)
biquad4_backward_serial = _serial_twin(biquad4_backward)
_SERIAL = {
    cascade_forward: cascade_forward_serial,
    cascade_backward: cascade_backward_serial,
    biquad_cascade_forward: biquad_cascade_forward_serial,
    biquad_backward: biquad_backward_serial,
    biquad4_forward: biquad4_forward_serial,
    biquad4_backward: biquad4_backward_serial,
}
SERIAL_BELOW = 1 << 16  # samples (channels x time) under which one thread does the work


def pick(kernel, n_ch: int, n_t: int):  # type: ignore[no-untyped-def]
    """``kernel`` or its serial twin: serial for one channel or fewer than
    :data:`SERIAL_BELOW` samples in all."""
    return _SERIAL[kernel] if n_ch == 1 or n_ch * n_t < SERIAL_BELOW else kernel
