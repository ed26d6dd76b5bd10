"""Shared test helpers: random stable filters and seeded generators."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import strategies as st


def random_stable_zpk(rng: np.random.Generator, order: int, max_radius: float = 0.95):
    """Zeros/poles of a real filter of the given order, every pole inside ``max_radius``."""

    def roots(r_max):
        out = []
        while len(out) < order:
            if order - len(out) >= 2 and rng.random() < 0.7:
                r = r_max * np.sqrt(rng.random())
                w = rng.uniform(0.05, np.pi - 0.05)
                out += [r * np.exp(1j * w), r * np.exp(-1j * w)]
            else:
                out.append(rng.uniform(-r_max, r_max))
        return np.array(out)

    return roots(1.2), roots(max_radius), float(rng.uniform(0.2, 2.0))


def random_stable_sos(rng: np.random.Generator, order: int, max_radius: float = 0.95):
    z, p, k = random_stable_zpk(rng, order, max_radius)
    return scipy.signal.zpk2sos(z, p, k)


def random_stable_ba(rng: np.random.Generator, order: int, max_radius: float = 0.9):
    z, p, k = random_stable_zpk(rng, order, max_radius)
    b, a = scipy.signal.zpk2tf(z, p, k)
    return np.real(b), np.real(a)


def check_sos(sos) -> None:
    """Every row is a valid section for sosfilt: ``(n, 6)``, ``a0 == 1`` exactly."""
    from dsp_rnn.filters import sosfilt

    sos = torch.as_tensor(sos)
    assert sos.ndim == 2 and sos.shape[1] == 6
    assert bool((sos[:, 3] == 1).all()), sos
    sosfilt(sos, torch.ones(4, dtype=sos.dtype), check_stable=False)  # accepted as it is


def sos_response_np(sos, w) -> np.ndarray:
    """Product of the rows' responses at ``w`` (rad/sample) in numpy, for rows with
    ``a0 == 0`` too (scipy's minimal pairing)."""
    e = np.exp(-1j * np.asarray(w))[:, None] ** np.arange(3)  # (n_w, 3): 1, z^-1, z^-2
    sos = np.asarray(sos, dtype=float)
    return np.prod((e @ sos[:, :3].T) / (e @ sos[:, 3:].T), -1)


orders = st.integers(min_value=1, max_value=12)
seeds = st.integers(min_value=0, max_value=2**31 - 1)


def rel_err(a, b) -> float:
    """``|a - b| / |b|`` in double precision (complex responses keep their phase)."""
    a = torch.as_tensor(a).detach()
    b = torch.as_tensor(b).detach()
    dtype = torch.complex128 if a.is_complex() or b.is_complex() else torch.float64
    a, b = a.to(dtype), b.to(dtype)
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


@pytest.fixture
def one_thread():
    """One torch thread (modules opt in with ``pytestmark``): per-step loops and tiny
    models run small matmuls, where extra BLAS threads only add synchronisation."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SF2_FOLDER = Path("/usr/share/sounds/sf2")
SF2_NAMES = ("TimGM6mb.sf2", "default-GM.sf2", "FluidR3_GM.sf2")


@pytest.fixture(scope="session")
def fluidsynth_setup() -> tuple[str, Path]:
    """(fluidsynth executable, SoundFont path); skip when missing, fail when CI requires."""
    from dsp_rnn.errors import FluidSynthNotFoundError
    from dsp_rnn.synth.fluidsynth import find_fluidsynth

    problems = []
    try:
        exe = find_fluidsynth()
    except FluidSynthNotFoundError as e:
        exe = ""
        problems.append(str(e))
    env_sf2 = os.environ.get("DSP_RNN_TEST_SOUNDFONT")
    candidates = [Path(env_sf2)] if env_sf2 else [SF2_FOLDER / n for n in SF2_NAMES]
    sf2 = next((p for p in candidates if p.is_file()), None)
    if sf2 is None:
        problems.append(f"no SoundFont at {', '.join(map(str, candidates))}")
    if problems:
        message = "; ".join(problems)
        if os.environ.get("DSP_RNN_REQUIRE_FLUIDSYNTH") == "1":
            pytest.fail(f"DSP_RNN_REQUIRE_FLUIDSYNTH=1 but {message}")
        pytest.skip(message)
    return exe, sf2


def free_port() -> int:
    """A free TCP port on the loopback (for torch.distributed tests)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- streaming states
def state_leaves(state) -> list[torch.Tensor]:
    """The tensors of a processor's state, in order: a tensor, a tuple/list of states, or a
    dataclass of numpy arrays (the synth's) -> a flat list of tensors."""
    if state is None:
        return []
    if isinstance(state, torch.Tensor):
        return [state]
    if isinstance(state, np.ndarray):
        return [torch.from_numpy(state)]
    if isinstance(state, (tuple, list)):
        return [t for s in state for t in state_leaves(s)]
    if dataclasses.is_dataclass(state):
        return [t for f in dataclasses.fields(state) for t in state_leaves(getattr(state, f.name))]
    raise TypeError(f"state_leaves: unsupported state {type(state).__name__}")


def rebuild_state(template, leaves):
    """The inverse of :func:`state_leaves` for torch states: ``template``'s structure, filled
    from ``leaves`` (an iterator or a list)."""
    leaves = iter(leaves)
    if isinstance(template, torch.Tensor):
        return next(leaves)
    return type(template)(rebuild_state(s, leaves) for s in template)


def map_state(fn, state):
    """Apply ``fn`` to every tensor of a torch state, keeping its structure."""
    return rebuild_state(state, [fn(t) for t in state_leaves(state)])


def flat(value) -> torch.Tensor:
    """A state or an output as one real float64 vector (complex parts side by side)."""
    leaves = state_leaves(value)
    parts = [torch.view_as_real(t) if t.is_complex() else t for t in leaves]
    return torch.cat([p.detach().double().flatten() for p in parts]) if parts else torch.zeros(0)


# ----------------------------------------------------------------------------- audio files
def audio_signal(seed: int, n: int, channels: int = 1, peak: float = 0.9) -> np.ndarray:
    """(time, channels) float64: two sines plus noise, scaled to ``peak``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    f = rng.uniform(0.005, 0.05, size=(1, channels))
    x = np.sin(2 * np.pi * f * t) + 0.5 * np.sin(2 * np.pi * 3.1 * f * t)
    x = x + 0.2 * rng.standard_normal((n, channels))
    return peak * x / np.abs(x).max()


def write_sound(path: Path, data: np.ndarray, sr: int, subtype: str | None = "PCM_16") -> Path:
    import soundfile as sf

    sf.write(path, data, sr, subtype=subtype)
    return path


def sha1_of(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def bad_audio_files(folder: Path) -> dict[str, str]:
    """Write one damaged file per kind; return {name: a word its reason must contain}."""
    good = folder / "_good.tmp.wav"
    write_sound(good, audio_signal(9, 2000), 16000)
    blob = good.read_bytes()
    good.unlink()
    (folder / "text.wav").write_text("this is not audio\n")
    (folder / "empty.wav").write_bytes(b"")
    write_sound(folder / "zero.wav", np.zeros((0, 1)), 16000)
    write_sound(folder / "nan.wav", np.array([0.1, np.nan, 0.2, np.inf]), 16000, "FLOAT")
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


def kill_training_at_step(code: str, run: Path, at_step: int, timeout_s: float = 120.0) -> int:
    """Run ``code`` (a training script) in a fresh Python from the repository root, SIGKILL it
    once the run's saved state reaches ``at_step``, and return the saved state's step."""
    import signal
    import subprocess
    import sys
    import time

    from dsp_rnn.errors import CheckpointError
    from dsp_rnn.training import STATE_FILE
    from dsp_rnn.training.checkpoint import read_metadata

    def saved_step() -> int | None:
        try:
            return int(read_metadata(run / STATE_FILE)["counters"]["step"])
        except CheckpointError:  # not written yet
            return None

    proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1])
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and (saved_step() or 0) < at_step:
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    step = saved_step()
    assert step is not None, f"{run}: no saved state after {timeout_s:g} s"
    return step


def tiny_audio_rnn(lpc: bool = True, seed: int = 0):
    """A small untrained :class:`~dsp_rnn.audio.AudioRNN` in eval mode, seeded."""
    from dsp_rnn.audio import AudioRNN, AudioRNNConfig

    torch.manual_seed(seed)
    cfg = AudioRNNConfig(gru_units=16, embedding_size=8, conditioning_size=8, lpc=lpc)
    return AudioRNN(cfg).eval()
