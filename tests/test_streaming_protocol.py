"""The streaming protocol ``y, state = f(x, state)``, once for every stateful processor.

Properties, each checked for every processor in :data:`PROCESSORS` that has it:

- block-wise processing (block sizes 1 and 3, uneven cuts, empty blocks) equals one shot,
  outputs and final state, in float64 and float32 (bit for bit where the processor says so);
- a batch equals each of its items processed alone, from the zero state and from a
  non-zero one;
- gradcheck in float64 (``x``, the initial state and every parameter; fast mode, small
  sizes) where the processor is differentiable, and the gradient of a block chain equals
  the one-shot gradient.

Adding a processor is one line in :data:`PROCESSORS`: how to build it (float64, seeded) and
the shape of its input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from dsp_rnn.cells import (
    ElmanCell,
    GRUCell,
    IIRCell,
    LSTMCell,
    OrthogonalCell,
    PhasedLSTMCell,
    StateSpaceCell,
)
from dsp_rnn.filters import (
    FDN,
    Allpass1,
    Allpass2,
    GerzonAllpass,
    NestedAllpass,
    SchroederAllpass,
    allpass1,
    allpass2,
    deemphasis,
    fdn,
    gerzon_allpass,
    hadamard_matrix,
    householder_matrix,
    lfilter,
    nested_allpass,
    preemphasis,
    random_orthogonal,
    random_unitary,
    schroeder_allpass,
    sosfilt,
)
from dsp_rnn.synth import Reverb

from .conftest import (
    flat,
    map_state,
    random_stable_ba,
    random_stable_sos,
    rebuild_state,
    rel_err,
    state_leaves,
)

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


# ----------------------------------------------------------------------------- adapters
class Functional(nn.Module):
    """A filter function under the module protocol; its coefficients become parameters.

    ``fn(x, state, **params, **fixed)`` returns ``(y, state)``; ``fixed`` tensors are buffers
    (cast with the module, not differentiated). ``state=None`` is replaced by zeros of shape
    ``x.shape[:-1] + state_shape`` when ``state_shape`` is given (functions that need an
    explicit ``zi`` to return their state), else passed through.
    """

    def __init__(
        self,
        fn: Callable,
        state_shape: tuple[int, ...] | None = None,
        fixed: dict[str, torch.Tensor] | None = None,
        **params: Any,
    ):
        super().__init__()
        self.fn, self.state_shape = fn, state_shape
        self.names = [*params, *(fixed or {})]
        for name, value in params.items():
            setattr(self, name, nn.Parameter(torch.as_tensor(value, dtype=F64).clone()))
        for name, value in (fixed or {}).items():
            self.register_buffer(name, value.clone())

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        if state is None and self.state_shape is not None:
            state = x.new_zeros(x.shape[:-1] + self.state_shape)
        return self.fn(x, state, **{n: getattr(self, n) for n in self.names})


class WithTimes(nn.Module):
    """A timestamped cell whose timestamps ride in the input's last feature, so that
    slicing the input by blocks or batch items slices the timestamps with it."""

    def __init__(self, cell: nn.Module):
        super().__init__()
        self.cell = cell

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        return self.cell(x[..., :-1], state, times=x[..., -1])


class NumpyProcessor:
    """A numpy processor (the synth's) seen through torch tensors; no gradients."""

    def __init__(self, proc: Callable):
        self.proc = proc

    def __call__(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        y, state = self.proc(x.numpy(), state)
        return torch.from_numpy(np.ascontiguousarray(y)), state


@dataclass(frozen=True)
class Processor:
    """How to build one processor (float64, seeded) and feed it.

    Attributes:
        build: () -> the processor, ``y, state = p(x, state)``.
        shape: (batch, time) -> the input's shape.
        time: the time axis of input and output.
        state_batch: the batch axis of every state tensor (``None``: no batch axis, the
            batch tests are not run).
        n_t: samples per test signal (longer than the longest delay, so blocks cross it).
        grad: differentiable (gradcheck, gradient of a block chain).
        exact: block-wise equals one shot bit for bit (not just to rounding).
        timestamps: the last input feature holds timestamps (increasing).
    """

    build: Callable[[], Any]
    shape: Callable[[int, int], tuple[int, ...]]
    time: int = -1
    state_batch: int | None = 0
    n_t: int = 40
    grad: bool = True
    exact: bool = False
    timestamps: bool = False


def signal(*features: int) -> Callable[[int, int], tuple[int, ...]]:
    """Filters: ``(batch, *features, time)``."""
    return lambda b, t: (b, *features, t)


def sequence(features: int) -> Callable[[int, int], tuple[int, ...]]:
    """Cells: ``(batch, time, features)``."""
    return lambda b, t: (b, t, features)


def _sos(n_sections: int):
    return random_stable_sos(np.random.default_rng(n_sections), 2 * n_sections, 0.9)


def _ba(order: int):
    return random_stable_ba(np.random.default_rng(order), order, 0.8)


def _sosfilt(n_sections: int) -> Functional:
    return Functional(lambda x, s, sos: sosfilt(sos, x, s), (n_sections, 2), sos=_sos(n_sections))


def _lfilter(order: int) -> Functional:
    b, a = _ba(order)
    return Functional(lambda x, s, b, a: lfilter(b, a, x, s), (order,), b=b, a=a)


def _coeff_first(fn: Callable, coeff: float) -> Functional:
    """``fn(x, coeff, state)``: pre/de-emphasis, the first-order allpass."""
    return Functional(lambda x, s, coeff: fn(x, coeff, s), (1,), coeff=coeff)


def _allpass2() -> Functional:
    def fn(x, s, f0, q):
        return allpass2(x, f0, sample_rate=48000.0, q=q, zi=s)

    return Functional(fn, (2,), f0=2500.0, q=0.8)


def _schroeder(m: float) -> Functional:
    order = int(m) + (m != int(m))

    def fn(x, s, gain):
        return schroeder_allpass(x, delay_samples=m, gain=gain, zi=s)

    return Functional(fn, (order,), gain=0.6)


def _nested() -> Functional:
    def fn(x, s, gains):
        return nested_allpass(x, [(5, gains[0]), (2.5, gains[1]), (1, gains[2])], zi=s)

    return Functional(fn, (5 + 3 + 1,), gains=[0.6, -0.4, 0.3])


def _fdn_mimo() -> Functional:
    def fn(x, s, b, c, d, gamma, a):
        gains = {"input_gains": b, "output_gains": c, "direct_gain": d, "line_gains": gamma}
        return fdn(x, delays_samples=[2, 3, 5], feedback_matrix=a, **gains, state=s, block_size=2)

    rng = np.random.default_rng(14)
    return Functional(
        fn,
        fixed={"a": random_orthogonal(3, seed=0, dtype=F64)},
        b=rng.standard_normal((3, 2)),
        c=rng.standard_normal((3, 3)),
        d=[[0.3], [-0.2], [0.1]],
        gamma=[0.9, 0.8, 0.95],
    )


def _fdn_rt60() -> FDN:
    # built in float32 (the default Householder matrix), then cast by .double()
    return FDN.from_rt60([3, 5, 7], 0.01, sample_rate=8e3)


def _fdn_hadamard() -> FDN:
    # a float32 matrix given by the user, cast by .double()
    return FDN([2, 3, 5, 7], hadamard_matrix(4), line_gains=[0.9, 0.8, 0.7, 0.6])


def _fdn_unitary() -> FDN:
    u = random_unitary(3, seed=1, dtype=torch.complex128)
    return FDN([2, 3, 4], u, line_gains=[0.9, 0.8, 0.7])


def _gerzon_block1() -> Functional:
    def fn(x, s, gain, u):
        return gerzon_allpass(
            x, delays_samples=[2, 3], feedback_matrix=u, gain=gain, state=s, block_size=1
        )

    return Functional(fn, fixed={"u": householder_matrix(2, dtype=F64)}, gain=[0.4, -0.3])


def _seeded(factory: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    def build():
        torch.manual_seed(0)
        return factory().double()

    return build


def _reverb() -> NumpyProcessor:
    # 1 kHz and size 0.25: delay lines of 7 to 19 samples, so 200 samples cross them
    return NumpyProcessor(Reverb(sample_rate=1000, rt60_s=0.3, size=0.25, channels=2))


PROCESSORS: dict[str, Processor] = {
    # filters (dsp_rnn.filters): time last, state batch axis 0
    "sosfilt_1_section": Processor(lambda: _sosfilt(1), signal(), exact=True),
    "sosfilt_5_sections": Processor(lambda: _sosfilt(5), signal(), exact=True),
    "lfilter_order_1": Processor(lambda: _lfilter(1), signal(), exact=True),
    "lfilter_order_2": Processor(lambda: _lfilter(2), signal(), exact=True),
    "lfilter_order_6": Processor(lambda: _lfilter(6), signal(), exact=True),
    "preemphasis": Processor(lambda: _coeff_first(preemphasis, 0.9), signal()),
    "deemphasis": Processor(lambda: _coeff_first(deemphasis, 0.9), signal()),
    "allpass1": Processor(lambda: _coeff_first(allpass1, -0.4), signal()),
    "allpass2": Processor(_allpass2, signal()),
    "schroeder_integer": Processor(lambda: _schroeder(3), signal()),
    "schroeder_fractional": Processor(lambda: _schroeder(2.5), signal()),
    "schroeder_long": Processor(lambda: _schroeder(130.5), signal(), n_t=300),
    "nested_allpass": Processor(_nested, signal()),
    "Allpass1": Processor(_seeded(lambda: Allpass1(0.3, learnable=True)), signal()),
    "Allpass2": Processor(_seeded(lambda: Allpass2(1e3, sample_rate=48e3, radius=0.9)), signal()),
    "SchroederAllpass": Processor(
        _seeded(lambda: SchroederAllpass(4, 0.7, learnable=True)), signal()
    ),
    "NestedAllpass": Processor(
        _seeded(lambda: NestedAllpass([(11, 0.5), (3.5, -0.6)], learnable=True)), signal()
    ),
    "fdn_mimo_block_size_2": Processor(_fdn_mimo, signal(2)),
    "FDN": Processor(_seeded(_fdn_rt60), signal()),
    "FDN_hadamard": Processor(_seeded(_fdn_hadamard), signal()),
    "FDN_unitary": Processor(_fdn_unitary, signal()),
    "gerzon_block_size_1": Processor(_gerzon_block1, signal(2)),
    "GerzonAllpass": Processor(
        lambda: GerzonAllpass([2, 3, 5], random_orthogonal(3, seed=2, dtype=F64), gain=0.5),
        signal(3),
    ),
    # synth (numpy): (channels, time), no batch axis, no gradients
    "Reverb": Processor(
        _reverb, lambda b, t: (2, t), state_batch=None, n_t=200, grad=False, exact=True
    ),
    # cells (dsp_rnn.cells): (batch, time, features)
    "StateSpaceCell_odd": Processor(_seeded(lambda: StateSpaceCell(5)), sequence(1), time=1),
    "StateSpaceCell_mimo": Processor(_seeded(lambda: StateSpaceCell(6, 2, 1)), sequence(2), time=1),
    "IIRCell_triangle": Processor(_seeded(lambda: IIRCell(3)), sequence(1), time=1),
    "IIRCell_polar": Processor(
        _seeded(lambda: IIRCell(2, parameterization="polar")), sequence(1), time=1
    ),
    "OrthogonalCell_identity": Processor(_seeded(lambda: OrthogonalCell(4)), sequence(1), time=1),
    "OrthogonalCell_tanh": Processor(
        _seeded(lambda: OrthogonalCell(6, 2, 2, "tanh")), sequence(2), time=1
    ),
    "UnitaryCell_modrelu": Processor(
        _seeded(lambda: OrthogonalCell(4, 2, 1, "modrelu", unitary=True)), sequence(2), time=1
    ),
    "PhasedLSTMCell": Processor(
        _seeded(lambda: PhasedLSTMCell(2, 5, 3, period_range=(2.0, 10.0), r_on=0.3)),
        sequence(2),
        time=1,
    ),
    "PhasedLSTMCell_times": Processor(
        _seeded(lambda: WithTimes(PhasedLSTMCell(2, 4, period_range=(1.0, 5.0), r_on=0.4))),
        sequence(3),
        time=1,
        timestamps=True,
    ),
    "ElmanCell": Processor(_seeded(lambda: ElmanCell(2, 4, 3)), sequence(2), time=1, state_batch=1),
    "LSTMCell": Processor(
        _seeded(lambda: LSTMCell(2, 4, 3, num_layers=2)), sequence(2), time=1, state_batch=1
    ),
    "GRUCell": Processor(_seeded(lambda: GRUCell(2, 4)), sequence(2), time=1, state_batch=1),
}

# Known library bugs, (processor, split or None for every test) -> (exception, what):
# strict xfails, so the suite says so when they are fixed.
KNOWN_BUGS: dict[tuple[str, str | None], tuple[type[Exception], str]] = {}


def _cases(names, splits=(None,)):
    """pytest params (name[, split]), known bugs marked as strict xfails."""
    out = []
    for name in names:
        for split in splits:
            bug = KNOWN_BUGS.get((name, None)) or KNOWN_BUGS.get((name, split))
            marks = [pytest.mark.xfail(raises=bug[0], reason=bug[1], strict=True)] if bug else []
            values = (name,) if split is None else (name, split)
            out.append(pytest.param(*values, marks=marks, id="-".join(values)))
    return out


BATCHED = [name for name, p in PROCESSORS.items() if p.state_batch is not None]
DIFFERENTIABLE = [name for name, p in PROCESSORS.items() if p.grad]


# ----------------------------------------------------------------------------- helpers
def _input(p: Processor, batch: int, n_t: int, seed: int, dtype=F64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(p.shape(batch, n_t), generator=gen, dtype=F64)
    if p.timestamps:  # irregular, increasing, starting after the zero state's clock (-1)
        x[..., -1] = torch.cumsum(0.1 + torch.rand(x.shape[:-1], generator=gen, dtype=F64), 1)
    return x.to(dtype)


def _cast(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if t.is_complex():
        return t.to(torch.complex64 if dtype == torch.float32 else torch.complex128)
    return t.to(dtype) if t.is_floating_point() else t


def _build(name: str, dtype=F64):
    proc = PROCESSORS[name].build()
    if isinstance(proc, nn.Module):  # module.to(float) would drop imaginary parts
        proc._apply(lambda t: _cast(t, dtype))
    return proc


def _run_blocks(proc, x: torch.Tensor, axis: int, edges: list[int], state=None):
    ys = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        y, state = proc(x.narrow(axis, a, b - a), state)
        ys.append(y)
    return torch.cat(ys, axis), state


SPLITS: dict[str, Callable[[int], list[int]]] = {
    "size_1": lambda n: list(range(n + 1)),
    "size_3": lambda n: [*range(0, n, 3), n],
    "uneven": lambda n: sorted({0, 7, 8, n // 2 + 3, n - 1, n}),
    "empty_blocks": lambda n: [0, 0, 5, 5, n],
}


def _assert_same(got, want, exact: bool, tol: float, what: str) -> None:
    got_l, want_l = state_leaves(got), state_leaves(want)
    assert [t.shape for t in got_l] == [t.shape for t in want_l], what
    if exact:
        assert all(torch.equal(g, w) for g, w in zip(got_l, want_l, strict=True)), what
    else:
        assert rel_err(flat(got), flat(want)) <= tol, what


# ----------------------------------------------------------------------------- properties
@pytest.mark.parametrize(("name", "split"), _cases(PROCESSORS, SPLITS))
def test_blocks_equal_one_shot(name, split):
    p = PROCESSORS[name]
    proc = _build(name)
    x = _input(p, 2, p.n_t, seed=1)
    y, state = proc(x)
    y_b, state_b = _run_blocks(proc, x, p.time, SPLITS[split](p.n_t))
    _assert_same(y_b, y, p.exact, 1e-13, "y")
    _assert_same(state_b, state, p.exact, 1e-13, "state")
    # and on from the state: a second signal continues the first
    x2 = _input(p, 2, p.n_t, seed=2)
    if p.timestamps:
        x2[..., -1] += x[:, -1:, -1]
    y2, _ = proc(x2, state)
    y2_b, _ = _run_blocks(proc, x2, p.time, SPLITS[split](p.n_t), state_b)
    _assert_same(y2_b, y2, p.exact, 1e-13, "y after the state")


@pytest.mark.parametrize("name", _cases(PROCESSORS))
def test_float32_blocks_equal_one_shot_and_keep_the_dtype(name):
    p = PROCESSORS[name]
    proc = _build(name, torch.float32)
    x = _input(p, 2, p.n_t, seed=3, dtype=torch.float32)
    y, state = proc(x)
    assert y.dtype in (torch.float32, torch.complex64)
    y_b, state_b = _run_blocks(proc, x, p.time, SPLITS["uneven"](p.n_t))
    _assert_same(y_b, y, p.exact, 1e-5, "y")
    _assert_same(state_b, state, p.exact, 1e-5, "state")


@pytest.mark.parametrize("name", _cases(BATCHED))
def test_batch_equals_each_item_alone(name):
    p = PROCESSORS[name]
    proc = _build(name)
    x = _input(p, 3, p.n_t, seed=4)
    y, state = proc(x)
    x2 = _input(p, 3, p.n_t, seed=5)
    if p.timestamps:
        x2[..., -1] += x[:, -1:, -1]
    y2, _ = proc(x2, state)  # from a non-zero state
    for i in range(3):
        y_i, state_i = proc(x[i : i + 1])
        _assert_same(y_i, y[i : i + 1], False, 1e-13, f"y[{i}]")
        want = map_state(lambda t, i=i: t.narrow(p.state_batch, i, 1), state)
        _assert_same(state_i, want, False, 1e-13, f"state[{i}]")
        y2_i, _ = proc(x2[i : i + 1], state_i)
        _assert_same(y2_i, y2[i : i + 1], False, 1e-13, f"y[{i}] from the state")


def _inputs_for_grad(name: str):
    """(module, x, initial state) in float64: a non-zero state from a first signal."""
    p = PROCESSORS[name]
    proc = _build(name)
    n_t = p.n_t if p.n_t > 40 else 12
    with torch.no_grad():
        _, state = proc(_input(p, 2, n_t, seed=6))
    x = _input(p, 2, n_t, seed=7)
    if p.timestamps:
        x[..., -1] += state[2][:, None]  # after the state's clock
    return p, proc, x, state


@pytest.mark.parametrize("name", _cases(DIFFERENTIABLE))
def test_gradcheck_x_state_and_parameters(name):
    p, proc, x, state = _inputs_for_grad(name)
    names = [n for n, _ in proc.named_parameters()]
    params = [t.detach().clone().requires_grad_() for _, t in proc.named_parameters()]
    leaves = [t.detach().clone().requires_grad_() for t in state_leaves(state)]
    n_s = len(leaves)

    def f(x, *args):
        s = rebuild_state(state, args[:n_s])
        y, s = torch.func.functional_call(proc, dict(zip(names, args[n_s:], strict=True)), (x, s))
        return (y, *state_leaves(s))

    inputs = (x.requires_grad_(), *leaves, *params)
    fast = sum(t.numel() for t in inputs) > 150  # full Jacobians for small problems only
    assert torch.autograd.gradcheck(f, inputs, fast_mode=fast)


@pytest.mark.parametrize("name", _cases(DIFFERENTIABLE))
def test_gradient_of_a_block_chain_equals_one_shot(name):
    p, proc, x, state = _inputs_for_grad(name)
    x.requires_grad_()
    state = map_state(lambda t: t.detach().requires_grad_(), state)
    wrt = [x, *state_leaves(state), *proc.parameters()]

    def outputs(y, s) -> torch.Tensor:  # y and the final state as one real vector, in the graph
        parts = [torch.view_as_real(t) if t.is_complex() else t for t in [y, *state_leaves(s)]]
        return torch.cat([t.flatten() for t in parts])

    out = outputs(*proc(x, state))
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(8), dtype=F64)
    grads = torch.autograd.grad((out * weights).sum(), wrt, allow_unused=True)
    out_b = outputs(*_run_blocks(proc, x, p.time, SPLITS["uneven"](x.shape[p.time]), state))
    grads_b = torch.autograd.grad((out_b * weights).sum(), wrt, allow_unused=True)
    for g_b, g in zip(grads_b, grads, strict=True):
        assert (g_b is None) == (g is None)
        if g is not None:
            assert rel_err(flat(g_b), flat(g)) < 1e-12
