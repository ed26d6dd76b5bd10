"""Frame features of audio files, cached on disk by content hash and settings.

A file's features are kept in ``<cache_dir>/<key>.npz``, ``key`` the SHA-1 of the file's
SHA-1, :data:`FEATURES_VERSION` and every :class:`~dsp_rnn.audio.FeatureConfig` setting,
so renaming or moving a file keeps its entry and any change of content or settings makes
a new one. Entries are plain ``.npz`` archives without object arrays (read with
``allow_pickle=False``), written atomically through :mod:`dsp_rnn._atomic` as the MIDI
grid cache is (:class:`dsp_rnn.music.MidiFolder`); a damaged entry is computed again.
Files are read by :func:`dsp_rnn.music.load_audio` (mono, resampled to the config's rate
with soxr).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
import torch

from dsp_rnn._atomic import write_bytes
from dsp_rnn.audio.features import FeatureConfig, Features, features
from dsp_rnn.errors import AudioError, DspRnnError
from dsp_rnn.music.audio import load_audio

__all__ = ["FEATURES_VERSION", "default_feature_cache_dir", "feature_cache_key", "cached_features"]

FEATURES_VERSION = 1  # bumped whenever features() computes something different


def default_feature_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/dsp_rnn/audio_features`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dsp_rnn" / "audio_features"


def feature_cache_key(digest: str, config: FeatureConfig) -> str:
    """The cache key of a file's SHA-1 hex ``digest`` under ``config`` (a SHA-1 hex).

    Example:
        >>> a = feature_cache_key("00" * 20, FeatureConfig())
        >>> a == feature_cache_key("00" * 20, FeatureConfig(n_bands=18)), len(a)
        (False, 40)
    """
    settings = {"version": FEATURES_VERSION, "sha1": digest, **dataclasses.asdict(config)}
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _read_entry(path: Path, config: FeatureConfig) -> Features | None:
    """The cached features at ``path``, or None when missing, damaged or of other settings."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            feats = Features.from_arrays(data)
    except Exception:  # a damaged or foreign entry: compute again
        return None
    return feats if feats.config == config else None


def cached_features(
    path: str | os.PathLike[str],
    *,
    config: FeatureConfig | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
) -> Features:
    """The frame features of an audio file, from the cache when it holds them.

    Args:
        path: an audio file (any format :func:`dsp_rnn.music.read_audio` reads); read
            only, never modified.
        config: feature settings (default :class:`~dsp_rnn.audio.FeatureConfig`).
        cache_dir: the cache folder (made when missing); default
            :func:`default_feature_cache_dir`.
        use_cache: ``False`` computes without reading or writing the cache.

    Returns:
        :class:`~dsp_rnn.audio.Features` of the file mixed to mono and resampled to
        ``config.sample_rate``.

    Raises:
        AudioError: the file is missing, a folder, or unreadable as audio (names the file).
        DspRnnError: the cache folder cannot be written.

    Example:
        >>> import tempfile, os
        >>> from dsp_rnn.music import write_audio
        >>> d = tempfile.mkdtemp()
        >>> x = 0.3 * torch.sin(torch.arange(8000) * 2 * torch.pi * 220 / 16000)
        >>> p = write_audio(os.path.join(d, "a.wav"), x, sample_rate=16000)
        >>> f = cached_features(p, cache_dir=os.path.join(d, "cache"))
        >>> f.n_frames, len(os.listdir(os.path.join(d, "cache")))
        (50, 1)
    """
    cfg = config or FeatureConfig()
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        load_audio(file)  # raises the reader's own message for missing files and folders
        raise AudioError(f"{file}: cannot read ({exc.strerror or exc})") from exc
    entry = None
    if use_cache:
        folder = Path(cache_dir) if cache_dir is not None else default_feature_cache_dir()
        entry = folder / f"{feature_cache_key(hashlib.sha1(data).hexdigest(), cfg)}.npz"
        cached = _read_entry(entry, cfg)
        if cached is not None:
            return cached
    audio, rate, _ = load_audio(file, sample_rate=cfg.sample_rate, dtype=torch.float64)
    feats = features(audio, rate, config=cfg)
    if entry is not None:
        buffer = io.BytesIO()
        np.savez(buffer, **feats.arrays())
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DspRnnError(f"{entry.parent}: cannot make the feature cache folder "
                              f"({exc.strerror or exc})") from exc  # fmt: skip
        write_bytes(entry, buffer.getvalue(), overwrite=True, error=DspRnnError, sync=False)
    return feats
