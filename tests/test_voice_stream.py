"""synthesize_stream: the compiled generator with its state carried across blocks."""

from __future__ import annotations

import numpy as np
import pytest

from dsp_rnn.audio import features, slice_features, synthesize, synthesize_stream
from dsp_rnn.errors import InputError
from tests.conftest import tiny_audio_rnn


@pytest.fixture(scope="module")
def feats():
    t = np.arange(4800) / 16000
    return features(0.3 * np.sin(2 * np.pi * 220 * t) * (t < 0.15), 16000)


@pytest.mark.parametrize("lpc", [True, False])
def test_one_block_equals_synthesize(feats, lpc):
    model = tiny_audio_rnn(lpc=lpc)
    y, state = synthesize_stream(model, feats, seed=5, streams=2)
    ref = synthesize(model, feats, seed=5, streams=2)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-5 * float(np.abs(ref).max()))
    assert state.samples == feats.n_frames * 160 and state.streams == 2


@pytest.mark.parametrize("size", [1, 4, 13])
def test_block_size_does_not_change_the_samples(feats, size):
    model = tiny_audio_rnn()
    whole, _ = synthesize_stream(model, feats, seed=9)
    parts, state = [], None
    for f0 in range(0, feats.n_frames, size):
        f1 = min(f0 + size, feats.n_frames)
        y, state = synthesize_stream(model, slice_features(feats, f0, f1), state, seed=9)
        parts.append(y)
    assert np.array_equal(np.concatenate(parts, axis=1), whole)


def test_temperature_zero_is_deterministic_and_seed_matters(feats):
    model = tiny_audio_rnn()
    a, _ = synthesize_stream(model, feats, seed=1, temperature=0.0)
    b, _ = synthesize_stream(model, feats, seed=2, temperature=0.0)
    c, _ = synthesize_stream(model, feats, seed=2)
    assert np.array_equal(a, b) and not np.array_equal(b, c)


def test_bad_arguments(feats):
    model = tiny_audio_rnn()
    with pytest.raises(InputError, match="temperature"):
        synthesize_stream(model, feats, temperature=-1.0)
    _, state = synthesize_stream(tiny_audio_rnn(), slice_features(feats, 0, 2))
    from dsp_rnn.audio import AudioRNN, AudioRNNConfig

    other = AudioRNN(AudioRNNConfig(gru_units=8, embedding_size=4, conditioning_size=4))
    with pytest.raises(InputError, match="GRU units"):
        synthesize_stream(other, slice_features(feats, 2, 4), state)
    with pytest.raises(InputError, match="start"):
        slice_features(feats, 3, 3)
