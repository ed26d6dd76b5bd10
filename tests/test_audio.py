"""Audio I/O, mu-law, windows, AudioFolder and the demo audio corpus.

References: librosa.load (reading, mixdown, resampling), torchaudio (mu-law), soundfile
(the bytes on disk). Every random source is seeded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
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
from dsp_rnn.music.audio_folder import AudioFolder
from dsp_rnn.music.demo_audio import demo_phrases, make_demo_audio, render_phrase
from dsp_rnn.music.folder import split_of

DATA_AUDIO = Path(__file__).resolve().parents[1] / "data" / "audio"


def _signal(seed: int, n: int, channels: int = 1, peak: float = 0.9) -> np.ndarray:
    """(time, channels) float64: two sines plus noise, scaled to ``peak``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    f = rng.uniform(0.005, 0.05, size=(1, channels))
    x = np.sin(2 * np.pi * f * t) + 0.5 * np.sin(2 * np.pi * 3.1 * f * t)
    x = x + 0.2 * rng.standard_normal((n, channels))
    return peak * x / np.abs(x).max()


def _write(path: Path, data: np.ndarray, sr: int, subtype: str | None = "PCM_16") -> Path:
    sf.write(path, data, sr, subtype=subtype)
    return path


def _sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


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
    path = _write(tmp_path / name, _signal(1, 11025, channels), 22050, subtype)
    ours, sr = read_audio(path)
    ref, ref_sr = librosa.load(path, sr=None, mono=True)
    assert sr == ref_sr == 22050
    assert ours.dtype == torch.float32 and ours.shape == ref.shape
    np.testing.assert_allclose(ours.numpy(), ref, rtol=0, atol=1e-7)


@pytest.mark.parametrize(("native", "target"), [(22050, 16000), (44100, 16000), (8000, 16000)])
def test_read_resampled_matches_librosa(tmp_path, native, target):
    path = _write(tmp_path / "x.wav", _signal(2, native // 2, 2), native, "PCM_24")
    ours, sr = read_audio(path, sample_rate=target)
    ref, _ = librosa.load(path, sr=target, mono=True)
    assert sr == target and ours.shape == ref.shape
    assert abs(ours.shape[0] - native // 2 * target / native) <= 1
    err = np.abs(ours.numpy() - ref).max() / np.abs(ref).max()
    assert err < 1e-6


def test_read_same_rate_is_not_resampled(tmp_path):
    path = _write(tmp_path / "x.wav", _signal(3, 4000), 16000)
    a, sr = read_audio(path, sample_rate=16000)
    b, _ = read_audio(path)
    assert sr == 16000 and torch.equal(a, b)


def test_mono_mixdown_is_the_channel_mean(tmp_path):
    path = _write(tmp_path / "x.wav", _signal(4, 5000, 3), 16000, "PCM_24")
    multi, _ = read_audio(path, mono=False)
    mono, _ = read_audio(path)
    assert multi.shape == (3, 5000) and mono.shape == (5000,)
    torch.testing.assert_close(mono, multi.mean(0), rtol=0, atol=1e-7)
    stored, _ = sf.read(path, dtype="float32", always_2d=True)
    assert torch.equal(multi, torch.from_numpy(stored.T.copy()))
    # a one-channel file keeps a channel axis when mono=False
    one = _write(tmp_path / "one.wav", _signal(5, 100), 16000)
    assert read_audio(one, mono=False)[0].shape == (1, 100)


def test_read_float64_decodes_in_float64(tmp_path):
    path = _write(tmp_path / "x.wav", _signal(6, 3000), 16000, "PCM_24")
    x, _ = read_audio(path, dtype=torch.float64)
    ref, _ = sf.read(path, dtype="float64")
    assert x.dtype == torch.float64 and np.array_equal(x.numpy(), ref)


def test_normalisation_levels(tmp_path):
    path = _write(tmp_path / "x.wav", _signal(7, 8000, 2, peak=0.3), 16000)
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
    silent = _write(tmp_path / "silent.wav", np.zeros(100), 16000)
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
    path = _write(tmp_path / "x.wav", _signal(8, 100), 16000)
    with pytest.raises(InputError):
        read_audio(path, **kwargs)


def test_read_block_by_block_and_length_limit(tmp_path, monkeypatch):
    path = _write(tmp_path / "x.wav", _signal(13, 1000, 2), 8000, "PCM_24")
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


def _bad_files(folder: Path) -> dict[str, str]:
    """Write one damaged file per kind; return {name: a word its reason must contain}."""
    good = folder / "_good.tmp.wav"
    _write(good, _signal(9, 2000), 16000)
    blob = good.read_bytes()
    good.unlink()
    (folder / "text.wav").write_text("this is not audio\n")
    (folder / "empty.wav").write_bytes(b"")
    _write(folder / "zero.wav", np.zeros((0, 1)), 16000)
    _write(folder / "nan.wav", np.array([0.1, np.nan, 0.2, np.inf]), 16000, "FLOAT")
    (folder / "header.wav").write_bytes(blob[:20])  # cut inside the fmt chunk
    (folder / "nodata.wav").write_bytes(blob[:12] + b"\xff" * 24 + blob[36:])
    (folder / "random.flac").write_bytes(np.random.default_rng(0).bytes(3000))
    (folder / "dir.wav").mkdir()
    return {
        "text.wav": "not readable as audio",
        "empty.wav": "empty file (0 bytes)",
        "zero.wav": "zero-length",
        "nan.wav": "NaN/inf",
        "header.wav": "not readable as audio",
        "nodata.wav": "not readable as audio",
        "random.flac": "not readable as audio",
        "dir.wav": "folder",
    }


def test_read_refuses_damaged_files_with_the_file_name(tmp_path):
    expected = _bad_files(tmp_path)
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
        sf.write(buf, _signal(12, 300, 2), 8000, subtype="PCM_16", format="WAV")
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
    x = torch.from_numpy(_signal(10, 6000, 2, peak=1.0).T.copy()).float()
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
    x = torch.from_numpy(_signal(11, 3000, peak=1.7)[:, 0].copy()).float()
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


# ------------------------------------------------------------------------------- AudioFolder
def _good_files(folder: Path) -> dict[str, Path]:
    (folder / "sub" / "deeper").mkdir(parents=True)
    return {
        "a": _write(folder / "a.wav", _signal(20, 16000), 16000),
        "b": _write(folder / "sub" / "b.FLAC", _signal(21, 11025, 2), 22050),
        "c": _write(folder / "sub" / "deeper" / "c.wav", _signal(22, 44100), 44100, "FLOAT"),
        "d": _write(folder / "d.ogg", _signal(23, 8000), 16000, None),
    }


def test_folder_loads_good_files_and_lists_every_bad_one(tmp_path):
    good = _good_files(tmp_path)
    expected = _bad_files(tmp_path / "sub")
    expected = {f"sub/{k}": v for k, v in expected.items()}
    (tmp_path / "notes.txt").write_text("hello")
    expected["notes.txt"] = "file ending '.txt' is not one of"
    _write(tmp_path / "short.wav", _signal(24, 100), 16000)
    expected["short.wav"] = "shorter than one window (100 samples at 16000 Hz < window=1024)"
    shutil.copy(good["a"], tmp_path / "sub" / "zz_copy.wav")
    expected["sub/zz_copy.wav"] = f"same content as {good['a']}"
    before = {p: _sha1(p) for p in tmp_path.rglob("*") if p.is_file()}

    ds = AudioFolder(tmp_path, sample_rate=16000, window=1024, hop=512)

    assert set(ds.files) == set(good.values()) and len(ds) == 4
    reasons = {str(p.relative_to(tmp_path)): r for p, r in ds.skipped}
    assert set(reasons) == set(expected)
    for name, word in expected.items():
        assert word in reasons[name], (name, reasons[name])
        assert "\n" not in reasons[name] and not reasons[name].startswith(str(tmp_path))
    assert all(str(s) == f"{s.path}: {s.reason}" for s in ds.skipped)
    # nothing the user made was changed
    assert before == {p: _sha1(p) for p in tmp_path.rglob("*") if p.is_file()}
    # audio is resampled to 16 kHz and windowed
    lengths = {k: ds.audio(p).shape[-1] for k, p in good.items()}
    assert lengths == {"a": 16000, "b": 8000, "c": 16000, "d": 8000}
    s = ds.stats()
    assert s["files"] == 4 and s["skipped"] == len(expected)
    assert s["seconds"] == pytest.approx(3.0)
    assert s["native_sample_rates"] == {16000: 2, 22050: 1, 44100: 1}
    n_windows = sum((n - 1024) // 512 + 1 for n in lengths.values())
    assert s["train_windows"] + s["valid_windows"] == n_windows
    assert ds.summary().startswith(f"4 usable file(s) ({s['train_files']} train")
    torch.testing.assert_close(ds.audio(good["b"]), read_audio(good["b"], sample_rate=16000)[0])


def test_folder_with_no_usable_file_says_why(tmp_path):
    expected = _bad_files(tmp_path)
    with pytest.raises(AudioError) as info:
        AudioFolder(tmp_path, sample_rate=16000, window=256)
    msg = str(info.value)
    assert msg.startswith(f"{tmp_path}: no usable audio file") and "8 skipped" in msg
    for name in sorted(expected):
        assert f"{tmp_path / name}: " in msg
    with pytest.raises(InputError, match="does not exist"):
        AudioFolder(tmp_path / "nope", sample_rate=16000, window=256)
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(AudioError, match="found nothing"):
        AudioFolder(empty, sample_rate=16000, window=256)


def _many_files(folder: Path, names: list[str], seed: int) -> dict[str, Path]:
    """One distinct file per name (content fixed by its position), written under folder."""
    out = {}
    for i, name in enumerate(names):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        out[name] = _write(path, _signal(seed + i, 1200), 8000)
    return out


def test_split_is_by_content_not_by_name_or_order(tmp_path):
    names = [f"f{i:02d}.wav" for i in range(24)]
    a = _many_files(tmp_path / "a", names, seed=100)
    # the same contents, renamed and scattered over subfolders in another order
    renamed = [f"{'xyz'[i % 3]}/{(97 * i) % 31:02d}_renamed.wav" for i in range(24)]
    b = _many_files(tmp_path / "b", renamed, seed=100)
    ds_a = AudioFolder(tmp_path / "a", sample_rate=8000, window=256, valid_fraction=0.3)
    ds_b = AudioFolder(tmp_path / "b", sample_rate=8000, window=256, valid_fraction=0.3)
    valid_a = {ds_a.hashes[p] for p in ds_a.split("valid")}
    valid_b = {ds_b.hashes[p] for p in ds_b.split("valid")}
    assert valid_a == valid_b and 0 < len(valid_a) < 24
    for p in ds_a.files:  # the MIDI folders' rule, file by file
        assert (p in ds_a.split("valid")) == (split_of(_sha1(p), 0.3) == "valid")
    assert sorted(ds_a.split("train") + ds_a.split("valid")) == sorted(a.values())
    assert len(ds_b.split("train")) + len(ds_b.split("valid")) == len(b)
    with pytest.raises(InputError):
        ds_a.split("test")


def test_small_folder_still_gets_both_splits(tmp_path):
    files = _many_files(tmp_path, ["one.wav", "two.wav", "three.wav"], seed=7)
    ds = AudioFolder(tmp_path, sample_rate=8000, window=256, valid_fraction=0.1)
    assert len(ds.split("valid")) == 1 and len(ds.split("train")) == 2
    buckets = {p: int(_sha1(p)[:8], 16) for p in files.values()}
    natural = [p for p, b in buckets.items() if b / 0xFFFFFFFF < 0.1]
    assert ds.split("valid") == (natural or [min(buckets, key=buckets.get)])
    only_train = AudioFolder(tmp_path, sample_rate=8000, window=256, valid_fraction=0.0)
    assert only_train.split("valid") == [] and only_train.stats()["valid_windows"] == 0
    with pytest.raises(InputError, match="no windows"):
        next(only_train.iter_batches(2, split="valid"))


def test_batches_cover_each_window_once_and_repeat_under_a_seed(tmp_path):
    _many_files(tmp_path, [f"{i}.wav" for i in range(5)], seed=40)
    ds = AudioFolder(tmp_path, sample_rate=8000, window=300, hop=200, valid_fraction=0.2)
    n = ds.n_windows("train")
    assert n == len(ds.split("train")) * ((1200 - 300) // 200 + 1)
    batches = list(ds.iter_batches(4, split="train", seed=3))
    assert [b.shape for b in batches] == [(4, 300)] * (n // 4) + ([(n % 4, 300)] if n % 4 else [])
    assert all(b.dtype == torch.float32 for b in batches)
    again = list(ds.iter_batches(4, split="train", seed=3))
    assert all(torch.equal(x, y) for x, y in zip(batches, again, strict=True))
    other = torch.cat(list(ds.iter_batches(4, split="train", seed=4)))
    ordered = torch.cat(list(ds.iter_batches(4, split="train", shuffle=False)))
    assert not torch.equal(torch.cat(batches), ordered)

    # the same multiset of windows in every order: compare sorted rows
    def rows(t):
        return sorted(map(tuple, t.tolist()))

    assert rows(torch.cat(batches)) == rows(other) == rows(ordered)
    first = ds.audio(ds.split("train")[0])
    assert torch.equal(ordered[0], first[:300]) and torch.equal(ordered[1], first[200:500])
    dropped = list(ds.iter_batches(4, split="train", seed=3, drop_last=True))
    assert len(dropped) == n // 4 and all(b.shape[0] == 4 for b in dropped)


def test_streams_continue_row_by_row_for_tbptt(tmp_path):
    _many_files(tmp_path, [f"{i}.wav" for i in range(4)], seed=60)
    ds = AudioFolder(tmp_path, sample_rate=8000, window=100, valid_fraction=0.0)
    chunks = list(ds.iter_streams(3, seed=1))
    lane = (4 * 1200 // 3) // 100 * 100
    assert len(chunks) == lane // 100 and all(c.shape == (3, 100) for c in chunks)
    lanes = torch.cat(chunks, dim=1)  # (3, lane): each row is one contiguous stream
    order = torch.randperm(4, generator=torch.Generator().manual_seed(1)).tolist()
    joined = torch.cat([ds.audio(ds.files[i]) for i in order])
    assert torch.equal(lanes, joined[: 3 * lane].reshape(3, lane))
    with pytest.raises(InputError, match="too few"):
        next(ds.iter_streams(100))


def test_folder_without_mixdown_keeps_channels(tmp_path):
    _write(tmp_path / "a.wav", _signal(70, 2000, 2), 8000)
    _write(tmp_path / "b.wav", _signal(71, 2000, 2), 8000)
    _write(tmp_path / "c.wav", _signal(72, 2000, 1), 8000)
    ds = AudioFolder(tmp_path, sample_rate=8000, window=500, mono=False, valid_fraction=0.0)
    assert [p.name for p in ds.files] == ["a.wav", "b.wav"]
    assert ds.skipped[0].reason.startswith("has 1 channel(s), expected 2")
    batch = next(ds.iter_batches(3, shuffle=False))
    assert batch.shape == (3, 2, 500)
    assert torch.equal(batch[1], ds.audio(tmp_path / "a.wav")[:, 500:1000])


# ------------------------------------------------------------------------------- demo corpus
def test_demo_corpus_files_are_the_ones_the_script_makes(tmp_path):
    shipped = sorted(DATA_AUDIO.glob("*.wav"))
    assert len(shipped) == 8
    assert sum(p.stat().st_size for p in shipped) < 1_000_000
    phrases = demo_phrases(n_files=8, seed=0)
    assert [p.name for p in shipped] == [f"{ph.name}.wav" for ph in phrases]
    made = make_demo_audio(tmp_path, seed=0, n_files=8)
    for old, new, phrase in zip(shipped, made, phrases, strict=True):
        info = sf.info(old)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert 2.0 <= info.duration <= 4.0 and info.duration == phrase.seconds
        a, _ = sf.read(old, dtype="int16")
        b, _ = sf.read(new, dtype="int16")
        assert np.abs(a.astype(int) - b).max() <= 1  # regenerated within one 16-bit step
        assert abs(np.abs(a).max() / 32768 - 0.8) < 1e-3
    with pytest.raises(AudioError, match="exists"):
        make_demo_audio(tmp_path, seed=0, n_files=1)


def test_demo_notes_sound_at_their_pitch():
    for phrase in demo_phrases(n_files=6, seed=5):
        if phrase.kind == "chords":
            continue  # several pitches at once; the melody and arpeggio notes are alone
        x = render_phrase(phrase, sample_rate=16000).double().numpy()
        first, second = phrase.notes[0], phrase.notes[1]
        seg = x[int(first.onset_s * 16000) : int(second.onset_s * 16000)]
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), n=1 << 16))
        f_peak = np.argmax(spec) * 16000 / (1 << 16)
        f0 = 440 * 2 ** ((first.pitch - 69) / 12)
        assert abs(12 * np.log2(f_peak / f0)) < 0.2, (phrase.name, f_peak, f0)
    assert demo_phrases(n_files=3, seed=5) == demo_phrases(n_files=3, seed=5)
    assert demo_phrases(n_files=3, seed=5) != demo_phrases(n_files=3, seed=6)


def test_demo_corpus_loads_as_a_folder():
    ds = AudioFolder(DATA_AUDIO, sample_rate=16000, window=4000, hop=2000)
    assert len(ds.files) == 8
    assert [(p.name, r.split(" is ")[0]) for p, r in ds.skipped] == [
        ("README.md", "file ending '.md'")
    ]
    assert ds.stats()["seconds"] == pytest.approx(22.0)
    assert len(ds.split("valid")) >= 1 and len(ds.split("train")) >= 1
    assert os.path.commonpath(ds.files) == str(DATA_AUDIO)
