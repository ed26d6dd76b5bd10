"""Audio in and out: read/write with soundfile, resample with librosa (soxr), mu-law, windows.

Signals are torch tensors shaped ``(time,)`` (mono) or ``(channels, time)``, float32 by
default (float64 honoured), scaled so that full scale is ``[-1, 1]``.

- :func:`read_audio` reads wav, flac, ogg/vorbis, aiff and mp3 (what the installed
  libsndfile supports), mixes down to mono, resamples, normalises, and refuses files that
  are empty, zero-length, non-audio, damaged or hold NaN/inf samples with an
  :class:`~dsp_rnn.errors.AudioError` naming the file.
- :func:`write_audio` writes atomically (a temporary file in the same folder, then a
  rename), never overwrites unless asked, and never clips silently.
- :func:`mu_law_encode` / :func:`mu_law_decode` match ``torchaudio.functional``'s
  ``mu_law_encoding`` / ``mu_law_decoding`` exactly.
- :func:`frame_windows` cuts a signal into training windows.

The user's files are only ever read; nothing here modifies an existing file unless
``write_audio(..., overwrite=True)`` is called on it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile as sf
import torch

from dsp_rnn._atomic import atomic_file, check_target
from dsp_rnn._validate import as_tensor, check_finite, check_float_dtype, check_int
from dsp_rnn.errors import AudioError, InputError, ShapeError

__all__ = [
    "AUDIO_EXTENSIONS",
    "read_audio",
    "load_audio",
    "write_audio",
    "mu_law_encode",
    "mu_law_decode",
    "frame_windows",
]

#: File name endings read by default (lower case); libsndfile decides by content, not name.
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")

_FORMATS = {
    ".wav": "WAV",
    ".flac": "FLAC",
    ".ogg": "OGG",
    ".oga": "OGG",
    ".mp3": "MP3",
    ".aif": "AIFF",
    ".aiff": "AIFF",
}
_SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")
_BLOCK_FRAMES = 1 << 16  # frames decoded per read
_FLOATS = {torch.float32: "float32", torch.float64: "float64"}
Normalize = Literal["peak", "rms"] | None


# ------------------------------------------------------------------------------- validation
def _check_dtype(dtype: Any) -> str:
    return _FLOATS[check_float_dtype(dtype)]


def _check_normalize(normalize: Any, level_db: float | None) -> float | None:
    """Return the target level as a linear amplitude (None when not normalising)."""
    if normalize not in (None, "peak", "rms"):
        raise InputError(f"normalize: expected None, 'peak' or 'rms', got {normalize!r}")
    if normalize is None:
        if level_db is not None:
            raise InputError(f"level_db={level_db!r} needs normalize='peak' or 'rms'")
        return None
    if level_db is None:
        level_db = 0.0 if normalize == "peak" else -20.0
    if (
        isinstance(level_db, bool)
        or not isinstance(level_db, (int, float))
        or not math.isfinite(level_db)
    ):
        raise InputError(f"level_db: expected a finite number in dBFS, got {level_db!r}")
    if normalize == "peak" and level_db > 0.0:
        raise InputError(f"level_db: expected <= 0 dBFS for a peak level, got level_db={level_db}")
    return 10.0 ** (level_db / 20.0)


def _normalized(x: torch.Tensor, normalize: Normalize, level: float | None) -> torch.Tensor:
    if normalize is None or level is None:
        return x
    if normalize == "peak":
        ref = x.abs().max()
    else:
        ref = x.pow(2).mean().sqrt()
    if float(ref) == 0.0:  # digital silence stays silence
        return x
    return x * (level / ref)


# ----------------------------------------------------------------------------------- reading
def read_audio(
    path: str | os.PathLike[str],
    *,
    sample_rate: int | None = None,
    mono: bool = True,
    normalize: Normalize = None,
    level_db: float | None = None,
    dtype: torch.dtype = torch.float32,
    max_seconds: float | None = None,
) -> tuple[torch.Tensor, int]:
    """Read an audio file into a tensor, optionally mixed to mono, resampled and normalised.

    The steps and their order are those of ``librosa.load(path, sr=sample_rate, mono=mono)``
    (soundfile decode to float, mean of the channels, ``librosa.resample`` with
    ``res_type="soxr_hq"``), so the samples agree with librosa's to float rounding;
    normalisation comes last. Integer PCM is scaled by ``1 / 2**(bits-1)`` (libsndfile).

    Args:
        path: file to read: wav, flac, ogg/vorbis, aiff, mp3, or any format the installed
            libsndfile recognises from the content. The file is never modified.
        sample_rate: target sample rate in Hz (integer > 0); default ``None`` keeps the
            file's own rate. Resampling uses soxr's high-quality mode.
        mono: ``True`` (default) averages the channels into one signal of shape ``(time,)``;
            ``False`` keeps ``(channels, time)`` (also for a one-channel file).
        normalize: ``None`` (default, samples as stored), ``"peak"`` (scale so that
            ``max |x|`` equals ``level_db``, default 0 dBFS = 1.0) or ``"rms"`` (scale so
            that the RMS over all channels equals ``level_db``, default -20 dBFS = 0.1;
            peaks may then exceed 1). Digital silence is returned unchanged.
        level_db: target level in dBFS for ``normalize``; ``<= 0`` for ``"peak"``.
        dtype: ``torch.float32`` (default) or ``torch.float64``; decoding is done in it.
        max_seconds: refuse files longer than this many seconds (default ``None``: no
            limit). Memory follows the audio that actually decodes, whatever a damaged
            header claims, so this only guards against files that are really that long.

    Shape:
        Returns ``(time,)`` when ``mono`` else ``(channels, time)``.

    Returns:
        ``(audio, sample_rate)``: the samples and their rate in Hz (the target rate when
        ``sample_rate`` is given, else the file's).

    Raises:
        AudioError: the path is missing or a folder; the file is empty (0 bytes), not
            audio, damaged (a malformed header), holds no samples, holds NaN/inf samples,
            or is longer than ``max_seconds``. The message names the file and what was
            found.
        InputError: a bad ``sample_rate``, ``normalize``, ``level_db``, ``dtype`` or
            ``max_seconds``.

    Properties: not differentiable (file I/O); returns CPU tensors.

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> t = torch.arange(8000) / 8000
        >>> stereo = torch.stack([0.5 * torch.sin(2 * math.pi * 440 * t), 0.25 * t])
        >>> p = write_audio(os.path.join(d, "a.wav"), stereo, sample_rate=8000)
        >>> x, sr = read_audio(p, sample_rate=16000)
        >>> tuple(x.shape), sr, x.dtype
        ((16000,), 16000, torch.float32)
        >>> read_audio(p, mono=False)[0].shape
        torch.Size([2, 8000])
    """
    audio, rate, _ = load_audio(
        path, sample_rate=sample_rate, mono=mono, normalize=normalize, level_db=level_db,
        dtype=dtype, max_seconds=max_seconds,
    )  # fmt: skip
    return audio, rate


def load_audio(
    path: str | os.PathLike[str],
    *,
    sample_rate: int | None = None,
    mono: bool = True,
    normalize: Normalize = None,
    level_db: float | None = None,
    dtype: torch.dtype = torch.float32,
    max_seconds: float | None = None,
) -> tuple[torch.Tensor, int, int]:
    """:func:`read_audio`, also returning the file's own sample rate:
    ``(audio, sample_rate, file_sample_rate)``."""
    np_dtype = _check_dtype(dtype)
    if sample_rate is not None:
        check_int(sample_rate, "sample_rate", minimum=1)
    level = _check_normalize(normalize, level_db)
    if not isinstance(mono, bool):
        raise InputError(f"mono: expected True or False, got {mono!r}")
    if max_seconds is not None and (
        isinstance(max_seconds, bool)
        or not isinstance(max_seconds, (int, float))
        or not (max_seconds > 0 and math.isfinite(max_seconds))
    ):
        raise InputError(f"max_seconds: expected None or a number > 0, got {max_seconds!r}")
    try:
        path = Path(path)
    except TypeError as exc:
        raise InputError(f"path: expected a file path, got {type(path).__name__}") from exc
    data, native_rate = _decode(path, np_dtype, max_seconds)
    y = data.T  # (channels, time)
    if mono:
        y = y.mean(axis=0, dtype=y.dtype)  # (time,)
    rate = native_rate
    if sample_rate is not None and int(sample_rate) != native_rate:
        import librosa

        y = librosa.resample(
            np.ascontiguousarray(y), orig_sr=native_rate, target_sr=int(sample_rate),
            res_type="soxr_hq",
        )  # fmt: skip
        rate = int(sample_rate)
    out = torch.from_numpy(np.ascontiguousarray(y)).to(dtype)
    return _normalized(out, normalize, level), rate, native_rate


def _decode(path: Path, np_dtype: str, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """Decode ``path`` to ``(time, channels)`` samples, or raise an AudioError naming it.

    Reads block by block: a damaged header may claim billions of frames, so memory follows
    what actually decodes, never the header's frame count.
    """
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, expected an audio file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if size == 0:
        raise AudioError(f"{path}: empty file (0 bytes), expected audio")
    blocks: list[np.ndarray] = []
    total = 0
    try:
        with sf.SoundFile(path) as f:
            rate, fmt = int(f.samplerate), f.format
            limit = None if max_seconds is None else int(max_seconds * rate)
            while True:
                block = f.read(frames=_BLOCK_FRAMES, dtype=np_dtype, always_2d=True)
                if block.shape[0] == 0:
                    break
                blocks.append(block)
                total += block.shape[0]
                if limit is not None and total > limit:
                    raise AudioError(
                        f"{path}: longer than max_seconds={max_seconds:g} "
                        f"(more than {total} frames at {rate} Hz)"
                    )
                if block.shape[0] < _BLOCK_FRAMES:
                    break
    except AudioError:
        raise
    except (sf.SoundFileError, RuntimeError, OSError, TypeError, ValueError) as exc:
        raise AudioError(f"{path}: not readable as audio ({_one_line(exc, path)})") from exc
    if total == 0:
        raise AudioError(f"{path}: zero-length audio ({fmt}, 0 frames)")
    data = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    finite = np.isfinite(data)
    if not finite.all():
        n_bad = int(data.size - np.count_nonzero(finite))
        t, c = (int(i) for i in np.argwhere(~finite)[0])
        raise AudioError(
            f"{path}: expected finite samples, found {n_bad} NaN/inf sample(s), "
            f"first at frame {t}, channel {c} (= {data[t, c]})"
        )
    return data, int(rate)


def _one_line(exc: BaseException, path: Path) -> str:
    """libsndfile's message without the repeated file name, on one line."""
    msg = " ".join(str(exc).split())
    for prefix in (f"Error opening {str(path)!r}: ", f"Error opening {path.name!r}: "):
        msg = msg.replace(prefix, "")
    return msg or type(exc).__name__


# ----------------------------------------------------------------------------------- writing
def write_audio(
    path: str | os.PathLike[str],
    audio: Any,
    *,
    sample_rate: int,
    subtype: Literal["PCM_16", "PCM_24", "FLOAT"] = "PCM_16",
    overwrite: bool = False,
    normalize: Literal["peak"] | None = None,
) -> Path:
    """Write audio to a file atomically: a temporary file in the same folder, then a rename.

    The container comes from the file name ending (``.wav``, ``.flac``, ``.ogg``, ``.aiff``,
    ``.mp3``). A reader never sees a half-written file, a failed write leaves nothing
    behind, and an existing file is kept unless ``overwrite=True``. Samples are never
    clipped silently: with an integer ``subtype``, a peak above 1.0 raises unless
    ``normalize="peak"`` scales the signal to peak 1.0 first. On integer subtypes the value
    1.0 is stored as the largest code (``32767`` for PCM_16), -1.0 as the smallest.

    Args:
        path: file to write; its folder must exist.
        audio: tensor or array, float samples in ``[-1, 1]`` for integer subtypes.
        sample_rate: sample rate in Hz, an integer > 0.
        subtype: ``"PCM_16"`` (default), ``"PCM_24"`` or ``"FLOAT"`` (32-bit float, which
            may exceed 1.0); must suit the container (FLAC holds no FLOAT). Ogg (Vorbis)
            and mp3 are lossy: leave the default and the codec is used (peak <= 1.0).
        overwrite: replace an existing file (default ``False``: refuse).
        normalize: ``"peak"`` scales to a peak of 1.0 (0 dBFS) before writing; default
            ``None`` writes the samples as given.

    Shape:
        ``audio``: ``(time,)`` (mono) or ``(channels, time)``.

    Returns:
        The path written, as a :class:`~pathlib.Path`.

    Raises:
        AudioError: the file exists and ``overwrite`` is False; the folder is missing; the
            path is a folder; the peak exceeds 1.0 for an integer subtype; the write failed.
        NonFiniteError: NaN or inf in ``audio``.
        ShapeError: ``audio`` is not 1-D or 2-D, or holds no samples.
        InputError: a bad ``sample_rate``, ``subtype`` (or one the container cannot hold),
            ``normalize`` or file name ending.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "tone.wav")
        >>> x = 0.5 * torch.sin(2 * math.pi * 440 * torch.arange(16000) / 16000)
        >>> write_audio(p, x, sample_rate=16000).name
        'tone.wav'
        >>> y, sr = read_audio(p)
        >>> bool((y - x).abs().max() < 2**-15), sr
        (True, 16000)
        >>> write_audio(p, x, sample_rate=16000)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dsp_rnn.errors.AudioError: ...tone.wav: exists; pass overwrite=True to replace it
    """
    rate = check_int(sample_rate, "sample_rate", minimum=1)
    if subtype not in _SUBTYPES:
        raise InputError(f"subtype: expected one of {', '.join(_SUBTYPES)}, got {subtype!r}")
    if normalize not in (None, "peak"):
        raise InputError(f"normalize: expected None or 'peak', got {normalize!r}")
    path = Path(path)
    check_target(path, overwrite, AudioError)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: unknown audio file ending {path.suffix!r}, expected one of "
            f"{', '.join(sorted(_FORMATS))}"
        )
    lossy = fmt in ("OGG", "MP3")
    if lossy and subtype != "PCM_16":
        raise InputError(f"{path}: {fmt} is lossy and takes no subtype, got subtype={subtype!r}")
    sf_subtype = None if lossy else subtype
    if sf_subtype is not None and not sf.check_format(fmt, sf_subtype):
        raise InputError(f"{path}: subtype {subtype} cannot be stored in {fmt}")
    x = as_tensor(audio, "audio").detach().cpu()
    if x.ndim not in (1, 2) or x.shape[-1] == 0 or (x.ndim == 2 and x.shape[0] == 0):
        raise ShapeError(
            f"audio: expected (time,) or (channels, time) with at least one sample, "
            f"got shape {tuple(x.shape)}"
        )
    check_finite(x, "audio")
    if normalize == "peak":
        x = _normalized(x, "peak", 1.0)
    peak = float(x.abs().max())
    if (subtype != "FLOAT" or lossy) and peak > 1.0:
        raise AudioError(
            f"{path}: peak {peak:.6g} > 1.0 would clip in {subtype if not lossy else fmt}; "
            f"scale the audio, pass normalize='peak', or write subtype='FLOAT'"
        )
    data = x.numpy().T  # (time, channels) or (time,)
    try:
        with atomic_file(path, overwrite, AudioError) as fh:
            sf.write(fh, data, rate, subtype=sf_subtype, format=fmt)
    except AudioError:
        raise
    except (sf.SoundFileError, RuntimeError, OSError, TypeError, ValueError) as exc:
        raise AudioError(f"{path}: write failed ({' '.join(str(exc).split())})") from exc
    return path


# ------------------------------------------------------------------------------------ mu-law
def _check_channels(quantization_channels: Any) -> int:
    return check_int(quantization_channels, "quantization_channels", minimum=2)


def mu_law_encode(x: Any, quantization_channels: int = 256) -> torch.Tensor:
    """Mu-law companding and quantisation of a signal in ``[-1, 1]`` to integer codes.

    ``q = floor((sign(x) * log1p(mu |x|) / log1p(mu) + 1) / 2 * mu + 0.5)`` with
    ``mu = quantization_channels - 1``: the same operations, in the same order and dtype,
    as ``torchaudio.functional.mu_law_encoding``, so the codes are identical.

    Args:
        x: float samples in ``[-1, 1]`` (tensor, array or list; float32 or float64).
        quantization_channels: number of codes, an integer >= 2 (default 256: 8 bits).

    Shape:
        Any shape ``(...)``; the output has the same shape.

    Returns:
        int64 codes in ``[0, quantization_channels - 1]``.

    Raises:
        InputError: a sample outside ``[-1, 1]`` (the message gives the peak), or a bad
            ``quantization_channels``.
        NonFiniteError: NaN or inf in ``x``.

    Properties: not differentiable (quantised); runs on the device of ``x`` (CPU or CUDA).

    References:
        ITU-T G.711; A. van den Oord et al., "WaveNet: A generative model for raw audio"
        (2016), section 2.2.

    Example:
        >>> mu_law_encode(torch.tensor([-1.0, 0.0, 0.5, 1.0]))
        tensor([  0, 128, 239, 255])
    """
    channels = _check_channels(quantization_channels)
    t = as_tensor(x, "x")
    check_finite(t, "x")
    if t.numel() and float(t.abs().max()) > 1.0:
        raise InputError(
            f"x: expected samples in [-1, 1] for mu-law, got peak {float(t.abs().max()):.6g}; "
            f"scale or clamp the signal first"
        )
    mu = torch.tensor(channels - 1.0, dtype=t.dtype, device=t.device)
    x_mu = torch.sign(t) * torch.log1p(mu * torch.abs(t)) / torch.log1p(mu)
    return ((x_mu + 1) / 2 * mu + 0.5).to(torch.int64)


def mu_law_decode(
    q: Any, quantization_channels: int = 256, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Invert :func:`mu_law_encode`: integer codes back to samples in ``[-1, 1]``.

    ``x = sign(y) * ((1 + mu)**|y| - 1) / mu`` with ``y = 2 q / mu - 1``, computed as
    ``torchaudio.functional.mu_law_decoding`` does (identical float32 results).

    Args:
        q: integer codes in ``[0, quantization_channels - 1]`` (tensor, array or list).
            Float tensors are accepted as they are (torchaudio does the same).
        quantization_channels: number of codes, an integer >= 2 (default 256).
        dtype: output dtype for integer codes, ``torch.float32`` (default) or
            ``torch.float64``.

    Shape:
        Any shape ``(...)``; the output has the same shape.

    Returns:
        Float samples in ``[-1, 1]``; code 0 decodes to -1.0 and the top code to 1.0.

    Raises:
        InputError: a code outside ``[0, quantization_channels - 1]``; a bad
            ``quantization_channels`` or ``dtype``.

    Properties: differentiable w.r.t. float codes; runs on the device of ``q``.

    Example:
        >>> mu_law_decode(torch.tensor([0, 255]))
        tensor([-1.,  1.])
        >>> q = mu_law_encode(torch.tensor([0.3]))
        >>> bool((mu_law_decode(q) - 0.3).abs() < 0.01)
        True
    """
    channels = _check_channels(quantization_channels)
    _check_dtype(dtype)
    t = q if isinstance(q, torch.Tensor) else torch.as_tensor(np.asarray(q))
    if t.is_complex() or t.dtype == torch.bool:
        raise InputError(f"q: expected integer codes, got dtype {t.dtype}")
    if not t.is_floating_point():
        t = t.to(dtype)
    else:
        check_finite(t, "q")
    if t.numel() and (float(t.min()) < 0 or float(t.max()) > channels - 1):
        raise InputError(
            f"q: expected codes in [0, {channels - 1}], got range "
            f"[{float(t.min()):g}, {float(t.max()):g}]"
        )
    mu = torch.tensor(channels - 1.0, dtype=t.dtype, device=t.device)
    y = (t / mu) * 2 - 1.0
    return torch.sign(y) * (torch.exp(torch.abs(y) * torch.log1p(mu)) - 1.0) / mu


# ----------------------------------------------------------------------------------- windows
def frame_windows(x: Any, *, window: int, hop: int, pad_tail: bool = False) -> torch.Tensor:
    """Cut a signal into (possibly overlapping) windows for training.

    Window ``k`` holds samples ``[k * hop, k * hop + window)``. With ``pad_tail=False``
    (default) a final partial window is dropped, so every window is real audio and a signal
    shorter than ``window`` gives no window at all. With ``pad_tail=True`` the signal is
    zero-padded at the end so that every sample lies in at least one window.

    Args:
        x: signal (tensor, array or list), float32 or float64.
        window: window length in samples, an integer >= 1.
        hop: step between window starts in samples, an integer >= 1 (``hop < window``
            overlaps, ``hop > window`` skips samples).
        pad_tail: zero-pad the tail into one last window (default ``False``: drop it).

    Shape:
        ``x``: ``(..., time)`` -> ``(..., n_windows, window)``, with
        ``n_windows = max(0, (time - window) // hop + 1)`` when dropping and
        ``ceil(max(time - window, 0) / hop) + 1`` when padding (``time >= 1``).

    Returns:
        The windows. Without padding they are a view of ``x`` (no copy): clone before
        changing them in place.

    Raises:
        InputError: ``window`` or ``hop`` not an integer >= 1.
        ShapeError: ``x`` has no time axis (0-dim).

    Properties: differentiable (a view / a pad); runs on the device of ``x``.

    Example:
        >>> x = torch.arange(10.0)
        >>> frame_windows(x, window=4, hop=3)
        tensor([[0., 1., 2., 3.],
                [3., 4., 5., 6.],
                [6., 7., 8., 9.]])
        >>> frame_windows(x, window=4, hop=4)  # the tail [8, 9] is dropped
        tensor([[0., 1., 2., 3.],
                [4., 5., 6., 7.]])
        >>> frame_windows(x, window=4, hop=4, pad_tail=True)[-1]
        tensor([8., 9., 0., 0.])
    """
    window = check_int(window, "window", minimum=1)
    hop = check_int(hop, "hop", minimum=1)
    t = as_tensor(x, "x", min_ndim=1)
    n = t.shape[-1]
    if pad_tail and n > 0:
        n_windows = -(-max(n - window, 0) // hop) + 1
        total = (n_windows - 1) * hop + window
        t = torch.nn.functional.pad(t, (0, total - n))
    if t.shape[-1] < window:
        return t.new_zeros((*t.shape[:-1], 0, window))
    return t.unfold(-1, window, hop)  # (..., n_windows, window)
