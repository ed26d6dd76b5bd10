"""Audio I/O, mu-law, windows (music.audio; AudioFolder and the demo corpus: their own files).

References: librosa.load (reading, mixdown, resampling), torchaudio (mu-law), soundfile
(the bytes on disk). Every random source is seeded.
"""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dsp_rnn.music.audio as audio_mod
from dsp_rnn.errors import AudioError, InputError, NonFiniteError, ShapeError
from dsp_rnn.music.audio import (
    frame_windows,
    mu_law_decode,
    mu_law_encode,
    read_audio,
    write_audio,
)

from .conftest import audio_signal, bad_audio_files, write_sound


# ------------------------------------------------------------------------ reading vs librosa
@pytest.mark.parametrize(
    ("name", "subtype", "channels"),
    [
        ("s16.wav", "PCM_16", 2),
        ("s24.wav", "PCM_24", 1),
        ("f32.wav", "FLOAT", 3),
        ("c.flac", "PCM_16", 2),
        ("v.ogg", None, 2),
        ("m.mp3", None, 1),
    ],
)
def test_read_matches_librosa_native_rate(tmp_path, name, subtype, channels):
    path = write_sound(tmp_path / name, audio_signal(1, 11025, channels), 22050, subtype)
    ours, sr = read_audio(path)
    ref, ref_sr = librosa.load(path, sr=None, mono=True)
    assert sr == ref_sr == 22050
    assert ours.dtype == torch.float32 and ours.shape == ref.shape
    np.testing.assert_allclose(ours.numpy(), ref, rtol=0, atol=1e-7)


@pytest.mark.parametrize(("native", "target"), [(22050, 16000), (44100, 16000), (8000, 16000)])
def test_read_resampled_matches_librosa(tmp_path, native, target):
    path = write_sound(tmp_path / "x.wav", audio_signal(2, native // 2, 2), native, "PCM_24")
    ours, sr = read_audio(path, sample_rate=target)
    ref, _ = librosa.load(path, sr=target, mono=True)
    assert sr == target and ours.shape == ref.shape
    assert abs(ours.shape[0] - native // 2 * target / native) <= 1
    err = np.abs(ours.numpy() - ref).max() / np.abs(ref).max()
    assert err < 1e-6


def test_read_same_rate_is_not_resampled(tmp_path):
    path = write_sound(tmp_path / "x.wav", audio_signal(3, 4000), 16000)
    a, sr = read_audio(path, sample_rate=16000)
    b, _ = read_audio(path)
    assert sr == 16000 and torch.equal(a, b)


def test_mono_mixdown_is_the_channel_mean(tmp_path):
    path = write_sound(tmp_path / "x.wav", audio_signal(4, 5000, 3), 16000, "PCM_24")
    multi, _ = read_audio(path, mono=False)
    mono, _ = read_audio(path)
    assert multi.shape == (3, 5000) and mono.shape == (5000,)
    torch.testing.assert_close(mono, multi.mean(0), rtol=0, atol=1e-7)
    stored, _ = sf.read(path, dtype="float32", always_2d=True)
    assert torch.equal(multi, torch.from_numpy(stored.T.copy()))
    # a one-channel file keeps a channel axis when mono=False
    one = write_sound(tmp_path / "one.wav", audio_signal(5, 100), 16000)
    assert read_audio(one, mono=False)[0].shape == (1, 100)


def test_read_float64_decodes_in_float64(tmp_path):
    path = write_sound(tmp_path / "x.wav", audio_signal(6, 3000), 16000, "PCM_24")
    x, _ = read_audio(path, dtype=torch.float64)
    ref, _ = sf.read(path, dtype="float64")
    assert x.dtype == torch.float64 and np.array_equal(x.numpy(), ref)


def test_normalisation_levels(tmp_path):
    path = write_sound(tmp_path / "x.wav", audio_signal(7, 8000, 2, peak=0.3), 16000)
    raw, _ = read_audio(path, mono=False)
    peak, _ = read_audio(path, mono=False, normalize="peak")
    assert abs(float(peak.abs().max()) - 1.0) < 1e-6
    torch.testing.assert_close(peak / raw.abs().max(), raw / raw.abs().max() ** 2)
    quiet, _ = read_audio(path, normalize="peak", level_db=-6.0)
    assert abs(float(quiet.abs().max()) - 10 ** (-6 / 20)) < 1e-6
    rms, _ = read_audio(path, normalize="rms")
    assert abs(float(rms.pow(2).mean().sqrt()) - 0.1) < 1e-6
    rms12, _ = read_audio(path, normalize="rms", level_db=-12.0)
    assert abs(float(rms12.pow(2).mean().sqrt()) - 10 ** (-12 / 20)) < 1e-6
    silent = write_sound(tmp_path / "silent.wav", np.zeros(100), 16000)
    assert torch.equal(read_audio(silent, normalize="peak")[0], torch.zeros(100))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sample_rate": 0},
        {"sample_rate": 16000.5},
        {"normalize": "loud"},
        {"normalize": "peak", "level_db": 3.0},
        {"level_db": -3.0},
        {"dtype": torch.int16},
        {"mono": "yes"},
    ],
)
def test_read_rejects_bad_arguments(tmp_path, kwargs):
    path = write_sound(tmp_path / "x.wav", audio_signal(8, 100), 16000)
    with pytest.raises(InputError):
        read_audio(path, **kwargs)


def test_read_block_by_block_and_length_limit(tmp_path, monkeypatch):
    path = write_sound(tmp_path / "x.wav", audio_signal(13, 1000, 2), 8000, "PCM_24")
    whole, _ = sf.read(path, dtype="float32", always_2d=True)
    monkeypatch.setattr(audio_mod, "_BLOCK_FRAMES", 64)  # 15 full blocks and a partial one
    x, _ = read_audio(path, mono=False)
    assert torch.equal(x, torch.from_numpy(whole.T.copy()))
    assert read_audio(path, max_seconds=0.125)[0].shape == (1000,)  # exactly 1000 frames
    with pytest.raises(AudioError, match=r"longer than max_seconds=0\.1 "):
        read_audio(path, max_seconds=0.1)
    for bad in (0, -1.0, float("inf"), "10"):
        with pytest.raises(InputError):
            read_audio(path, max_seconds=bad)


def test_read_refuses_damaged_files_with_the_file_name(tmp_path):
    expected = bad_audio_files(tmp_path)
    expected["missing.wav"] = "no such file"
    for name, word in expected.items():
        path = tmp_path / name
        with pytest.raises(AudioError) as info:
            read_audio(path)
        msg = str(info.value)
        assert isinstance(info.value, ValueError)
        assert msg.startswith(f"{path}: ") and word in msg and "\n" not in msg, msg
    nan_msg = str(pytest.raises(AudioError, read_audio, tmp_path / "nan.wav").value)
    assert "2 NaN/inf sample(s), first at frame 1, channel 0" in nan_msg


_WAV_BYTES = None


def _valid_wav_bytes() -> bytes:
    global _WAV_BYTES
    if _WAV_BYTES is None:
        import io

        buf = io.BytesIO()
        sf.write(buf, audio_signal(12, 300, 2), 8000, subtype="PCM_16", format="WAV")
        _WAV_BYTES = buf.getvalue()
    return _WAV_BYTES


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(min_value=0, max_value=1300),
    flips=st.lists(st.tuples(st.integers(0, 1299), st.integers(0, 255)), max_size=6),
    ext=st.sampled_from([".wav", ".flac", ".ogg", ".mp3"]),
)
def test_mutated_files_decode_or_raise_audio_error(cut, flips, ext):
    """Truncated or byte-flipped files either decode to finite audio or raise AudioError."""
    import tempfile

    data = bytearray(_valid_wav_bytes()[:cut])
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"m{ext}"
        path.write_bytes(bytes(data))
        try:
            x, sr = read_audio(path, mono=False)
        except AudioError as exc:
            assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
        else:
            assert x.ndim == 2 and x.shape[1] > 0 and sr > 0
            assert bool(torch.isfinite(x).all())
        assert path.read_bytes() == bytes(data)  # never modified


# ------------------------------------------------------------------------------------ writing
@pytest.mark.parametrize(("subtype", "tol"), [("PCM_16", 2**-15), ("PCM_24", 2**-23)])
def test_write_read_round_trip_within_quantisation(tmp_path, subtype, tol):
    x = torch.from_numpy(audio_signal(10, 6000, 2, peak=1.0).T.copy()).float()
    x[0, 0], x[1, 0] = 1.0, -1.0  # full scale both ways
    path = write_audio(tmp_path / "x.wav", x, sample_rate=16000, subtype=subtype)
    y, sr = read_audio(path, mono=False)
    assert sr == 16000 and y.shape == x.shape and sf.info(path).subtype == subtype
    assert float((y - x).abs().max()) <= tol
    bits = int(subtype[-2:])
    codes, _ = sf.read(path, dtype="int32")  # left-aligned in 32 bits
    assert codes.max() == (2 ** (bits - 1) - 1) << (32 - bits) and codes.min() == -(2**31)
    assert y[1, 0] == -1.0 and 1.0 - float(y[0, 0]) <= tol  # -1 exact, +1 = top code


def test_write_float_is_exact_and_may_exceed_one(tmp_path):
    x = torch.from_numpy(audio_signal(11, 3000, peak=1.7)[:, 0].copy()).float()
    path = write_audio(tmp_path / "x.wav", x, sample_rate=22050, subtype="FLOAT")
    y, sr = read_audio(path)
    assert sr == 22050 and torch.equal(x, y)
    flac = write_audio(tmp_path / "x.flac", x / 2, sample_rate=22050, subtype="PCM_24")
    assert float((read_audio(flac)[0] - x / 2).abs().max()) <= 2**-23


@pytest.mark.parametrize("ext", ["ogg", "mp3"])
def test_write_lossy_codecs(tmp_path, ext):
    x = 0.5 * torch.sin(2 * torch.pi * 440 * torch.arange(16000) / 16000)
    path = write_audio(tmp_path / f"x.{ext}", x, sample_rate=16000)
    y, sr = read_audio(path)
    assert sr == 16000 and y.shape == x.shape
    snr_db = 10 * torch.log10(x.pow(2).mean() / (y - x).pow(2).mean())
    assert float(snr_db) > 25.0
    with pytest.raises(InputError, match="lossy"):
        write_audio(tmp_path / f"y.{ext}", x, sample_rate=16000, subtype="FLOAT")


def test_write_never_clips_silently(tmp_path):
    x = torch.tensor([0.0, 0.5, -1.25, 0.3])
    with pytest.raises(AudioError, match=r"peak 1\.25 > 1\.0 would clip in PCM_16"):
        write_audio(tmp_path / "x.wav", x, sample_rate=8000)
    assert list(tmp_path.iterdir()) == []
    path = write_audio(tmp_path / "x.wav", x, sample_rate=8000, normalize="peak")
    y, _ = read_audio(path)
    torch.testing.assert_close(y, x / 1.25, rtol=0, atol=2**-15)


@pytest.mark.parametrize(
    ("name", "audio", "kwargs", "error"),
    [
        ("x.wav", [0.1, float("nan")], {}, NonFiniteError),
        ("x.wav", torch.zeros(1, 2, 3), {}, ShapeError),
        ("x.wav", torch.zeros(0), {}, ShapeError),
        ("x.xyz", [0.1], {}, InputError),
        ("x.flac", [0.1], {"subtype": "FLOAT"}, InputError),
        ("x.wav", [0.1], {"subtype": "PCM_8"}, InputError),
        ("x.wav", [0.1], {"sample_rate": -1}, InputError),
        ("no/such/folder/x.wav", [0.1], {}, AudioError),
    ],
)
def test_write_rejects_bad_input(tmp_path, name, audio, kwargs, error):
    kwargs = {"sample_rate": 8000, **kwargs}
    with pytest.raises(error):
        write_audio(tmp_path / name, audio, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_to_overwrite_and_replaces_only_when_asked(tmp_path):
    path = tmp_path / "x.wav"
    write_audio(path, torch.full((100,), 0.25), sample_rate=8000)
    before = path.read_bytes()
    with pytest.raises(AudioError, match="exists; pass overwrite=True"):
        write_audio(path, torch.full((100,), -0.5), sample_rate=8000)
    assert path.read_bytes() == before
    write_audio(path, torch.full((50,), -0.5), sample_rate=8000, overwrite=True)
    assert torch.equal(read_audio(path)[0], torch.full((50,), -0.5))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.wav"]
    with pytest.raises(AudioError, match="is a folder"):
        write_audio(tmp_path, [0.1], sample_rate=8000, overwrite=True)


def test_write_that_fails_midway_leaves_no_partial_file(tmp_path, monkeypatch):
    def broken_write(file, data, samplerate, **kwargs):
        file.write(b"RIFF\x00\x01")  # a partial header, then the disk "fills up"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(audio_mod.sf, "write", broken_write)
    with pytest.raises(AudioError, match="write failed.*No space left"):
        write_audio(tmp_path / "new.wav", [0.1, 0.2], sample_rate=8000)
    assert list(tmp_path.iterdir()) == []
    keep = tmp_path / "keep.wav"
    keep.write_bytes(b"the user's bytes")
    with pytest.raises(AudioError):
        write_audio(keep, [0.1, 0.2], sample_rate=8000, overwrite=True)
    assert keep.read_bytes() == b"the user's bytes"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]


def test_publish_does_not_overwrite_a_file_that_appeared_meanwhile(tmp_path):
    tmp = tmp_path / ".x.wav.tmp"
    tmp.write_bytes(b"new")
    target = tmp_path / "x.wav"
    target.write_bytes(b"appeared while we were writing")
    from dsp_rnn._atomic import publish  # what write_audio and render_file publish with

    with pytest.raises(AudioError, match="exists"):
        publish(tmp, target, False, AudioError)
    assert target.read_bytes() == b"appeared while we were writing"


# ------------------------------------------------------------------------------------- mu-law
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("channels", [2, 16, 256, 1024, 65536])
def test_mu_law_matches_torchaudio(dtype, channels):
    taf = pytest.importorskip("torchaudio.functional")
    gen = torch.Generator().manual_seed(channels)
    x = torch.rand(3, 4000, generator=gen, dtype=dtype) * 2 - 1
    x = torch.cat([x.flatten(), torch.tensor([-1.0, -0.0, 0.0, 1.0, 1e-9, -1e-9], dtype=dtype)])
    q = mu_law_encode(x, channels)
    ref = taf.mu_law_encoding(x, channels)
    assert q.dtype == torch.int64 and torch.equal(q, ref)
    assert int(q.min()) >= 0 and int(q.max()) <= channels - 1
    codes = torch.arange(channels)
    assert torch.equal(mu_law_decode(codes, channels), taf.mu_law_decoding(codes, channels))
    codes_f = codes.to(dtype)
    assert torch.equal(mu_law_decode(codes_f, channels), taf.mu_law_decoding(codes_f, channels))


@settings(max_examples=200, deadline=None)
@given(
    xs=st.lists(st.floats(-1.0, 1.0, allow_nan=False, width=32), min_size=1, max_size=50),
    channels=st.integers(2, 4096),
)
def test_mu_law_matches_torchaudio_on_any_samples(xs, channels):
    taf = pytest.importorskip("torchaudio.functional")
    x = torch.tensor(xs, dtype=torch.float32)
    q = mu_law_encode(x, channels)
    assert torch.equal(q, taf.mu_law_encoding(x, channels))
    assert torch.equal(mu_law_decode(q, channels), taf.mu_law_decoding(q, channels))


def test_mu_law_round_trip_error_is_within_one_step():
    x = torch.linspace(-1, 1, 20001, dtype=torch.float64)
    y = mu_law_decode(mu_law_encode(x), dtype=torch.float64)
    mu = 255.0
    # codes are spaced dx = 2 (1 + mu |x|) ln(1 + mu) / mu**2 apart (the inverse slope of
    # the compander); rounding errs by at most half the spacing at the outer end
    outer = torch.maximum(x.abs(), y.abs())
    step = 2 * (1 + mu * outer) * np.log1p(mu) / mu**2
    assert bool(((y - x).abs() <= 0.5 * step + 1e-12).all())
    assert abs(float(y[0]) + 1.0) < 1e-15 and abs(float(y[-1]) - 1.0) < 1e-15


def test_mu_law_rejects_out_of_range():
    with pytest.raises(InputError, match=r"\[-1, 1\].*peak 1\.5"):
        mu_law_encode(torch.tensor([0.0, 1.5]))
    with pytest.raises(InputError, match=r"codes in \[0, 255\]"):
        mu_law_decode(torch.tensor([0, 256]))
    with pytest.raises(InputError):
        mu_law_encode([0.1], quantization_channels=1)
    with pytest.raises(NonFiniteError):
        mu_law_encode([float("nan")])


# ------------------------------------------------------------------------------------ windows
def test_frame_windows_shapes_and_contents():
    x = torch.arange(50.0)
    for n in (1, 7, 16, 17, 31, 50):
        for window in (1, 4, 16):
            for hop in (1, 3, 16, 20):
                w = frame_windows(x[:n], window=window, hop=hop)
                assert w.shape == (max(0, (n - window) // hop + 1), window)
                for k in range(w.shape[0]):
                    assert torch.equal(w[k], x[k * hop : k * hop + window])
                p = frame_windows(x[:n], window=window, hop=hop, pad_tail=True)
                n_pad = -(-max(n - window, 0) // hop) + 1
                assert p.shape == (n_pad, window)
                covered = (p.shape[0] - 1) * hop + window
                assert covered >= n and covered - n < max(hop, window)
                flat = torch.cat([x[:n], torch.zeros(covered - n)])
                assert torch.equal(p[-1], flat[(n_pad - 1) * hop :][:window])


def test_frame_windows_keeps_leading_dims_and_dtype():
    x = torch.randn(2, 3, 100, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    w = frame_windows(x, window=10, hop=5)
    assert w.shape == (2, 3, 19, 10) and w.dtype == torch.float64
    assert torch.equal(w[1, 2, 4], x[1, 2, 20:30])
    with pytest.raises(InputError):
        frame_windows(x, window=0, hop=1)
    with pytest.raises(InputError):
        frame_windows(x, window=4, hop=2.5)
