"""The compiled filters leave torch's thread count alone: numba's parallel kernels share
torch's OpenMP runtime and would otherwise reset it to every core."""

from __future__ import annotations

import torch

from dsp_rnn.filters import LinearGaussian, kalman_smoother, sosfilt


def test_parallel_kernels_keep_torch_thread_count():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        sos = torch.tensor([[1.0, 0.0, 0.0, 1.0, -0.5, 0.0]], dtype=torch.float64)
        sosfilt(sos, torch.randn(64, 10_000, dtype=torch.float64))  # the parallel kernel
        assert torch.get_num_threads() == 1
        eye = torch.eye(2, dtype=torch.float64)
        model = LinearGaussian(0.9 * eye, eye, eye, eye, torch.zeros(2, dtype=torch.float64), eye)
        kalman_smoother(torch.randn(16, 200, 2, dtype=torch.float64), model)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
