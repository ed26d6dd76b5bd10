"""The one rule for integers, seeds, dtypes and real parameters (dsp_rnn._validate)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from dsp_rnn._validate import as_tensor, check_float_dtype, check_int, check_seed
from dsp_rnn.errors import InputError


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_check_int_accepts_python_and_numpy_integers(value):
    out = check_int(value, "n", minimum=1)
    assert out == 3 and type(out) is int


@pytest.mark.parametrize("value", [True, np.bool_(True), 3.0, "3", None, np.float64(3.0)])
def test_check_int_refuses_bools_floats_and_others(value):
    with pytest.raises(InputError, match=r"n: expected an integer >= 1, got n="):
        check_int(value, "n", minimum=1)


def test_check_int_bounds_are_inclusive_and_echoed():
    assert check_int(2, "k", minimum=2, maximum=4) == 2
    assert check_int(4, "k", minimum=2, maximum=4) == 4
    with pytest.raises(InputError, match=r"k: expected an integer 2 <= k <= 4, got k=5"):
        check_int(5, "k", minimum=2, maximum=4)
    with pytest.raises(InputError, match=r"k: expected an integer <= 4, got k=5"):
        check_int(5, "k", maximum=4)


def test_check_seed():
    assert check_seed(np.int64(7)) == 7
    for bad in (-1, True, 1.0, 2**63):
        with pytest.raises(InputError, match="seed"):
            check_seed(bad)


def test_check_float_dtype():
    assert check_float_dtype(torch.float64) is torch.float64
    with pytest.raises(InputError, match=r"dtype: expected torch.float32 or torch.float64"):
        check_float_dtype(torch.int64)


@pytest.mark.parametrize(
    ("value", "dtype"),
    [
        (0.5, torch.float32),  # Python numbers: the library default
        ([0.5, 0.25], torch.float32),  # lists too
        (np.float64(0.5), torch.float32),  # numpy scalars are numbers
        (np.array([0.5]), torch.float64),  # numpy float64 arrays keep their precision
        (np.array([1, 2]), torch.float32),  # integer arrays become the default
        (torch.tensor([0.5], dtype=torch.float64), torch.float64),  # tensors keep theirs
    ],
)
def test_as_tensor_dtype_rule(value, dtype):
    t = as_tensor(value, "x")
    assert t.dtype == dtype and tuple(t.shape) == np.shape(value)


@pytest.mark.parametrize("value", [True, [True, False], np.array([1 + 2j]), "a"])
def test_as_tensor_refuses_bools_complex_and_text(value):
    with pytest.raises(InputError, match="x: expected"):
        as_tensor(value, "x")


def test_every_public_integer_argument_follows_the_rule():
    """numpy integers pass and bools fail at public boundaries across subpackages."""
    from dsp_rnn.cells import GRUCell
    from dsp_rnn.filters import butter, freqz, householder_matrix, impulse_response

    assert butter(np.int64(2), 100.0, sample_rate=1000).shape == (1, 6)
    assert freqz([1.0], n_freqs=np.int32(4))[1].shape == (4,)
    assert householder_matrix(np.int64(2)).shape == (2, 2)
    assert impulse_response(([1.0], [1.0]), np.int16(3)).shape == (3,)
    assert GRUCell(np.int64(2), np.int64(3)).hidden_size == 3
    for call in (
        lambda: butter(True, 100.0, sample_rate=1000),
        lambda: freqz([1.0], n_freqs=True),
        lambda: householder_matrix(True),
        lambda: impulse_response(([1.0], [1.0]), True),
        lambda: GRUCell(True, 3),
    ):
        with pytest.raises(InputError, match="expected an integer"):
            call()


def test_validate_imports_without_torch():
    code = "import sys, dsp_rnn._validate; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
