"""Copy synthesis: analyse held-out recordings, synthesise them again, measure the distance.

Each file is analysed into its frame features (:func:`~dsp_rnn.audio.features`, at the
model's rate), and synthesised again by:

- ``"model"``: the sample RNN driven by those features (:func:`~dsp_rnn.audio.synthesize`,
  what :func:`~dsp_rnn.audio.resynth` writes);
- ``"lpc_vocoder"``: the linear twin on the same features (:func:`~dsp_rnn.audio.vocode`:
  pulses and noise through the same synthesis filter);
- ``"world"``: the WORLD vocoder (``pyworld``: Harvest f0, CheapTrick envelope, D4C
  aperiodicity, float64), a peer with its own analysis of the same signal, when pyworld
  imports (it is an optional dependency; without it its row says why it is missing).

Every output is compared with the original in the domain the listener hears (the
de-emphasised signal: :func:`~dsp_rnn.audio.synthesize` and :func:`~dsp_rnn.audio.vocode`
return it so), over the original's length, after :func:`~dsp_rnn.audio.level_match`:
:func:`~dsp_rnn.audio.mr_stft_distance` and :func:`~dsp_rnn.audio.log_mel_l1`.

References:
    M. Morise, F. Yokomori and K. Ozawa, "WORLD: a vocoder-based high-quality speech
    synthesis system for real-time applications", IEICE Trans. Inf. Syst. E99-D(7), 2016.

>>> from dsp_rnn.audio import AudioRNN, AudioRNNConfig
>>> torch.manual_seed(0) and None
>>> m = AudioRNN(AudioRNNConfig(gru_units=8, embedding_size=4, conditioning_size=4))
>>> t = np.arange(3200) / 16000
>>> res = resynthesise(m, 0.3 * np.sin(2 * np.pi * 220 * t), seed=0, peers=("lpc_vocoder",))
>>> sorted(res.outputs), res.outputs["model"].shape, res.missing
(['lpc_vocoder', 'model'], (3200,), {})
"""

from __future__ import annotations

import functools
import importlib
import importlib.machinery
import importlib.util
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from dsp_rnn._validate import check_seed
from dsp_rnn.audio.features import FeatureConfig, features
from dsp_rnn.audio.generator import export_weights, synthesize
from dsp_rnn.audio.metrics import log_mel_l1, mr_stft_distance
from dsp_rnn.audio.model import AudioRNN
from dsp_rnn.audio.task import AudioItem
from dsp_rnn.audio.vocoder import vocode
from dsp_rnn.errors import InputError
from dsp_rnn.filters import deemphasis
from dsp_rnn.music.audio import load_audio
from dsp_rnn.plotting.spectrogram import plot_spectrograms

__all__ = [
    "PEERS",
    "FileDistances",
    "CopySynthesisRow",
    "Resynthesis",
    "world_module",
    "world_resynthesis",
    "resynthesise",
    "copy_synthesis",
    "plot_resynthesis",
]

PEERS = ("lpc_vocoder", "world")
"""The peers :func:`copy_synthesis` can run beside the model."""


@dataclass(frozen=True)
class FileDistances:
    """One system's distances on one file.

    Attributes:
        path: the file.
        seconds: the length compared (the file, cut to the time budget).
        mr_stft: :func:`~dsp_rnn.audio.mr_stft_distance` (dimensionless).
        log_mel_l1: :func:`~dsp_rnn.audio.log_mel_l1` (dB).
    """

    path: str
    seconds: float
    mr_stft: float
    log_mel_l1: float


@dataclass(frozen=True)
class CopySynthesisRow:
    """One system's distances, the mean over files and each file's.

    Attributes:
        system: ``"model"``, ``"lpc_vocoder"`` or ``"world"``.
        mr_stft, log_mel_l1: the means over files (None when the system is missing).
        files: each file's :class:`FileDistances`.
        missing: why the system did not run (e.g. pyworld is not installed), else None.
    """

    system: str
    mr_stft: float | None
    log_mel_l1: float | None
    files: tuple[FileDistances, ...] = field(default=())
    missing: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-able values (``files`` as a list of dicts)."""
        return {"system": self.system, "mr_stft": self.mr_stft, "log_mel_l1": self.log_mel_l1,
                "files": [vars(f) for f in self.files], "missing": self.missing}  # fmt: skip


@dataclass(frozen=True)
class Resynthesis:
    """One recording and its resyntheses, float64 ``(time,)`` arrays at ``sample_rate``.

    Attributes:
        path: the file (or ``""`` for a signal given directly).
        sample_rate: Hz.
        original: the recording (mono, at the model's rate, cut to the budget).
        outputs: each system's output, cut to the original's length.
        missing: each system that did not run, with the reason.
    """

    path: str
    sample_rate: int
    original: np.ndarray = field(repr=False)
    outputs: dict[str, np.ndarray] = field(repr=False)
    missing: dict[str, str] = field(default_factory=dict)


@functools.cache
def world_module() -> ModuleType:
    """The compiled WORLD bindings of ``pyworld`` (loaded once).

    pyworld 0.3.5's package ``__init__`` reads its version through ``pkg_resources``,
    which setuptools no longer ships (from version 81); when that import fails, the
    compiled module beside it (``pyworld/pyworld.*.so``, the same functions) is loaded
    directly.

    Raises:
        ImportError: pyworld is not installed, or its compiled module cannot be loaded
            (the message says which).
    """
    try:
        return importlib.import_module("pyworld")
    except ModuleNotFoundError as exc:
        if exc.name != "pkg_resources":
            raise ImportError("pyworld is not installed (pip install pyworld)") from None
    spec = importlib.util.find_spec("pyworld")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        for name in sorted(os.listdir(folder)):
            if name.startswith("pyworld.") and name.endswith(
                tuple(importlib.machinery.EXTENSION_SUFFIXES)
            ):
                loader = importlib.machinery.ExtensionFileLoader(
                    "pyworld.pyworld", os.path.join(folder, name)
                )
                ext_spec = importlib.util.spec_from_loader("pyworld.pyworld", loader)
                if ext_spec is None:  # pragma: no cover - a loader always gives a spec
                    break
                module = importlib.util.module_from_spec(ext_spec)
                loader.exec_module(module)
                return module
    raise ImportError("pyworld is installed but its compiled module cannot be loaded")


def world_resynthesis(signal: Any, sample_rate: int, config: FeatureConfig | None = None,
                      *, world: ModuleType | None = None) -> np.ndarray:  # fmt: skip
    """Analyse and resynthesise ``signal`` with the WORLD vocoder (float64 throughout).

    Harvest f0 between ``config.f0_min_hz`` and ``config.f0_max_hz``, CheapTrick spectral
    envelope, D4C aperiodicity, all at a frame period of ``config.hop_ms``; the output is
    cut or zero-padded to the input's length.

    Args:
        signal: mono samples ``(time,)`` at ``sample_rate``.
        sample_rate: Hz.
        config: the f0 range and frame period (default :class:`FeatureConfig`).
        world: the bindings (default :func:`world_module`).

    Shape:
        ``(time,)`` -> ``(time,)`` float64.

    Raises:
        ImportError: pyworld is missing.
    """
    cfg = config or FeatureConfig()
    pw = world if world is not None else world_module()
    x = np.ascontiguousarray(np.asarray(signal, dtype=np.float64).reshape(-1))
    fs, period = int(sample_rate), float(cfg.hop_ms)
    f0, t = pw.harvest(x, fs, f0_floor=float(cfg.f0_min_hz), f0_ceil=float(cfg.f0_max_hz),
                       frame_period=period)  # fmt: skip
    sp = pw.cheaptrick(x, f0, t, fs)
    ap = pw.d4c(x, f0, t, fs)
    y = np.asarray(pw.synthesize(f0, sp, ap, fs, period), dtype=np.float64)
    return np.pad(y[: x.shape[0]], (0, max(0, x.shape[0] - y.shape[0])))


def _original(source: AudioItem | str | os.PathLike[str], config: FeatureConfig,
              max_samples: float) -> tuple[str, np.ndarray]:  # fmt: skip
    """The recording heard (de-emphasised), mono at the model's rate, cut to the budget."""
    if isinstance(source, AudioItem):
        n = int(min(source.n_samples, max_samples))
        s = torch.from_numpy(source.signal[:n].astype(np.float64))
        x = deemphasis(s, config.preemphasis) if config.preemphasis != 0.0 else s
        return str(source.path), x.numpy()
    audio, _, _ = load_audio(source, sample_rate=config.sample_rate, dtype=torch.float64)
    return str(source), audio.numpy()[: int(min(audio.shape[0], max_samples))]


def _check_peers(peers: Sequence[str]) -> tuple[str, ...]:
    if isinstance(peers, str):
        peers = (peers,)
    bad = [p for p in peers if p not in PEERS]
    if bad:
        raise InputError(f"peers: expected names from {', '.join(PEERS)}, got {bad}")
    return tuple(dict.fromkeys(peers))


def resynthesise(model: Any, signal: Any, *, seed: int,
                 peers: Sequence[str] = PEERS, path: str = "") -> Resynthesis:  # fmt: skip
    """The model's and the peers' copy synthesis of one recording.

    Args:
        model: an :class:`~dsp_rnn.audio.AudioRNN` or its
            :func:`~dsp_rnn.audio.export_weights`.
        signal: the recording, mono ``(time,)`` at the model's sample rate (heard domain,
            not pre-emphasised).
        seed: the model's draws and the LPC vocoder's noise.
        peers: which of :data:`PEERS` to run (default both).
        path: the file's name, for the record.

    Returns:
        :class:`Resynthesis` with ``outputs["model"]`` and each peer that ran.

    Raises:
        InputError: an unknown peer, a bad seed.
    """
    weights = model if not isinstance(model, AudioRNN) else export_weights(model)
    cfg = weights.config.features
    seed = check_seed(seed)
    peers = _check_peers(peers)
    x = np.asarray(signal, dtype=np.float64).reshape(-1)
    n = x.shape[0]
    feats = features(x, cfg.sample_rate, config=cfg)
    outputs = {"model": np.asarray(synthesize(weights, feats, seed=seed)[0], np.float64)[:n]}
    missing: dict[str, str] = {}
    if "lpc_vocoder" in peers:
        outputs["lpc_vocoder"] = vocode(feats, seed=seed).numpy().astype(np.float64)[:n]
    if "world" in peers:
        try:
            outputs["world"] = world_resynthesis(x, cfg.sample_rate, cfg)
        except ImportError as exc:
            missing["world"] = str(exc)
    return Resynthesis(path, cfg.sample_rate, x, outputs, missing)


def copy_synthesis(
    model: AudioRNN,
    items_or_paths: Sequence[AudioItem | str | os.PathLike[str]],
    *,
    seed: int,
    peers: Sequence[str] = PEERS,
    max_seconds: float | None = None,
    on_file: Callable[[Resynthesis], None] | None = None,
) -> list[CopySynthesisRow]:
    """Copy-synthesis distances of the model and its peers on held-out recordings.

    Args:
        model: the :class:`~dsp_rnn.audio.AudioRNN` (its features config sets the rate and
            analysis).
        items_or_paths: the recordings: :class:`~dsp_rnn.audio.AudioItem` (their signal is
            de-emphasised back to the recording) or audio files (mixed to mono,
            resampled), in order.
        seed: the model's draws and the LPC vocoder's noise (the same for every file).
        peers: which of :data:`PEERS` to run beside the model (default both).
        max_seconds: stop after this much audio over all files (the last file cut); None
            = all of it.
        on_file: called with each file's :class:`Resynthesis` (e.g. to keep one for
            :func:`plot_resynthesis`).

    Returns:
        One :class:`CopySynthesisRow` per system, ``"model"`` first, then ``peers`` in
        order; a missing peer (pyworld not installed) has ``missing`` set and no numbers.

    Raises:
        InputError: no recordings, an unknown peer, a bad ``max_seconds`` or seed.
        AudioError: an unreadable file.
    """
    if not isinstance(model, AudioRNN):
        raise InputError(f"model: expected an AudioRNN, got {type(model).__name__}")
    peers = _check_peers(peers)
    sources = list(items_or_paths)
    if not sources:
        raise InputError("items_or_paths: expected at least one recording, got none")
    if max_seconds is not None and (isinstance(max_seconds, bool)
                                    or not isinstance(max_seconds, (int, float))
                                    or not max_seconds > 0):  # fmt: skip
        raise InputError(f"max_seconds: expected a number > 0 or None, got {max_seconds!r}")
    cfg = model.config.features
    budget = math.inf if max_seconds is None else max(1, int(max_seconds * cfg.sample_rate))
    weights = export_weights(model)
    systems = ("model", *peers)
    per_file: dict[str, list[FileDistances]] = {s: [] for s in systems}
    missing: dict[str, str] = {}
    used = 0
    for source in sources:
        if used >= budget:
            break
        path, x = _original(source, cfg, budget - used)
        if x.shape[0] == 0:
            continue
        used += x.shape[0]
        res = resynthesise(weights, x, seed=seed, peers=peers, path=path)
        if on_file is not None:
            on_file(res)
        missing.update(res.missing)
        for name, y in res.outputs.items():
            per_file[name].append(FileDistances(
                path, x.shape[0] / cfg.sample_rate, mr_stft_distance(x, y, cfg.sample_rate),
                log_mel_l1(x, y, cfg.sample_rate)))  # fmt: skip
    rows = []
    for name in systems:
        files = tuple(per_file[name])
        if name in missing or not files:
            rows.append(CopySynthesisRow(name, None, None, files,
                                         missing.get(name, "no audio")))  # fmt: skip
            continue
        rows.append(CopySynthesisRow(name, float(np.mean([f.mr_stft for f in files])),
                                     float(np.mean([f.log_mel_l1 for f in files])),
                                     files))  # fmt: skip
    return rows


def plot_resynthesis(res: Resynthesis, path: str | os.PathLike[str], *, title: str = "",
                     overwrite: bool = True) -> Path:  # fmt: skip
    """Write a PNG of the original's spectrogram over each resynthesis's (one row each, one
    colour scale, :func:`dsp_rnn.plotting.spectrogram.plot_spectrograms`), each row
    labelled with its level-matched distances from the original; the outputs are drawn
    level-matched too, so the rows differ in spectrum, not in level.

    Args:
        res: a :func:`resynthesise` result.
        path: the image file, in an existing folder.
        title: the figure's title (default: the file's name).
        overwrite: replace an existing ``path`` (default True).

    Returns:
        The path written.

    Raises:
        OutputError: ``path`` cannot be written, or exists and ``overwrite`` is False.
    """
    from dsp_rnn.audio.metrics import level_match

    rate = res.sample_rate
    rows: dict[str, np.ndarray] = {"original": res.original}
    for name, y in res.outputs.items():
        label = (f"{name}: MR-STFT {mr_stft_distance(res.original, y, rate):.2f}, log-mel L1 "
                 f"{log_mel_l1(res.original, y, rate):.1f} dB")  # fmt: skip
        rows[label] = level_match(res.original, y)
    for name, why in res.missing.items():
        rows[f"{name}: missing ({why})"] = np.zeros_like(res.original)
    heading = title or f"copy synthesis of {Path(res.path).name or 'a signal'}"
    return plot_spectrograms(rows, Path(path), sample_rate=rate, title=heading,
                             overwrite=overwrite)  # fmt: skip
