"""Render a MIDI file through a SoundFont with the FluidSynth command-line program.

A thin wrapper around ``fluidsynth -F`` (fast render to a file): it checks its inputs,
runs the program without a shell, and checks that the WAV it wrote is real audio at the
rate asked for, because FluidSynth exits with status 0 after many failures (an unreadable
MIDI file, an output folder that does not exist). No torch: the renderer runs without it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import soundfile

from dsp_rnn._atomic import atomic_path, check_target
from dsp_rnn._validate import check_int
from dsp_rnn.errors import FluidSynthNotFoundError, InputError, MidiError, RenderError

__all__ = ["find_fluidsynth", "check_soundfont", "render_soundfont", "fluidsynth_version"]

ENV_EXECUTABLE = "DSP_RNN_FLUIDSYNTH"
_HINT = (
    "--soundfont needs the fluidsynth program (Debian/Ubuntu: apt install fluidsynth; "
    "macOS: brew install fluid-synth), or render with our own voices "
    "(--voice ks|subtractive|additive)"
)
# FluidSynth writes one 64-frame block when its player cannot load the MIDI file; a file it
# could read renders at least its 2 s tail. Anything shorter than this is a failed render.
_MIN_FRAMES = 1024


def find_fluidsynth(executable: str | None = None) -> str:
    """Locate the fluidsynth program.

    Args:
        executable: program name or path; default ``None`` uses the environment variable
            ``DSP_RNN_FLUIDSYNTH`` when set and non-empty, else ``fluidsynth`` on ``PATH``.

    Returns:
        The path of the executable.

    Raises:
        FluidSynthNotFoundError: the program is not there or not executable; the one-line
            message says how to install it and which option avoids it.
    """
    source = "executable"
    if executable is None and os.environ.get(ENV_EXECUTABLE):
        executable, source = os.environ[ENV_EXECUTABLE], ENV_EXECUTABLE
    if executable is None:
        found = shutil.which("fluidsynth")
        if found is None:
            raise FluidSynthNotFoundError(f"FluidSynth not found on PATH: {_HINT}")
        return found
    found = shutil.which(os.fspath(executable))
    if found is None:
        raise FluidSynthNotFoundError(
            f"FluidSynth not found ({source}={executable!r} is not an executable program): {_HINT}"
        )
    return found


def _file_head(
    path: str | os.PathLike[str], what: str, read_error: type[InputError]
) -> tuple[Path, bytes]:
    """The file as a Path and its first 12 bytes; InputError when it is missing or not a
    file, ``read_error`` when it cannot be read."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} not found: {p}")
    if not p.is_file():
        raise InputError(f"{what} is not a file: {p}")
    try:
        with p.open("rb") as f:
            return p, f.read(12)
    except OSError as e:
        raise read_error(f"{p}: cannot read the {what}: {e}") from e


def check_soundfont(path: str | os.PathLike[str]) -> Path:
    """Check that a file is a SoundFont (SF2, or SF3 which has the same header).

    Args:
        path: the ``.sf2``/``.sf3`` file.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        InputError: the file is missing, a folder, unreadable, or has no ``RIFF``/``sfbk``
            header; the message names the file and the bytes found.

    Example:
        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "x.sf2")
        >>> _ = open(p, "w").write("hello")
        >>> try:
        ...     check_soundfont(p)
        ... except InputError as e:
        ...     print(str(e).split(": ", 1)[1])
        not a SoundFont 2 file: expected RIFF/sfbk header, found b'hello'
    """
    p, head = _file_head(path, "SoundFont", InputError)
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise InputError(f"{p}: not a SoundFont 2 file: expected RIFF/sfbk header, found {head!r}")
    return p


def _check_midi(path: str | os.PathLike[str]) -> Path:
    p, head = _file_head(path, "MIDI file", MidiError)
    if head[:4] != b"MThd" and not (head[:4] == b"RIFF" and head[8:12] == b"RMID"):
        raise MidiError(f"{p}: not a Standard MIDI File: expected an MThd header, found {head!r}")
    return p


def render_soundfont(
    midi_path: str | os.PathLike[str],
    soundfont: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    sample_rate: int,
    reverb: bool = True,
    chorus: bool = True,
    gain: float = 0.5,
    executable: str | None = None,
    timeout_s: float | None = None,
) -> Path:
    """Render a MIDI file through a SoundFont to a stereo 32-bit float WAV with FluidSynth.

    Runs ``fluidsynth -n -i -q -g GAIN -r RATE -R 0|1 -C 0|1 -F TMP -T wav -O float SF2 MIDI``
    with ``TMP`` a fresh name beside ``out_path``, which the checked result is renamed to:
    ``out_path`` never holds a partial render.
    The output keeps FluidSynth's levels and its release tail (about 2 s after the last
    note); normalising, mixing down and converting are the caller's job.

    Args:
        midi_path: the Standard MIDI File to play.
        soundfont: the SoundFont (SF2/SF3) whose instruments play it.
        out_path: WAV file to write (its folder must exist); an existing file is replaced.
        sample_rate: output rate in Hz, an integer in 8000..192000 (FluidSynth 2.3 itself
            stops at 96000 and the error says so).
        reverb: FluidSynth's reverb on (default) or off.
        chorus: FluidSynth's chorus on (default) or off.
        gain: FluidSynth's master gain, linear, 0..10 (default 0.5; FluidSynth's own is 0.2).
        executable: the fluidsynth program (see :func:`find_fluidsynth`).
        timeout_s: stop FluidSynth after this many seconds (default ``None``: no limit). Set
            it for untrusted files: a note ending hours after the start renders hours of
            audio (FluidSynth 2.3 wrote 5 GB a minute of 44.1 kHz float WAV here).

    Returns:
        ``out_path`` as a :class:`~pathlib.Path`.

    Raises:
        InputError: a bad ``sample_rate``, ``gain`` or ``timeout_s``; a missing MIDI file,
            SoundFont or output folder, a read-only output folder, an output path that is a
            folder; a file that is not a SoundFont (names the file).
        MidiError: the MIDI file has no MIDI header (an :class:`InputError`).
        FluidSynthNotFoundError: fluidsynth is not installed.
        RenderError: FluidSynth failed, timed out, rendered nothing (a MIDI file it could
            not read) or wrote another sample rate; no output file is left behind. The
            message has FluidSynth's last error line and names the files. The other errors
            come before FluidSynth runs and leave ``out_path`` as it was.
    """
    sample_rate = check_int(sample_rate, "sample_rate", minimum=8000, maximum=192000)
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not 0 <= gain <= 10:
        raise InputError(f"gain: expected a number in 0..10, got {gain!r}")
    if timeout_s is not None and not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
        raise InputError(f"timeout_s: expected None or a number of seconds > 0, got {timeout_s!r}")
    midi = _check_midi(midi_path)
    sf2 = check_soundfont(soundfont)
    out = Path(out_path)
    check_target(out, True, InputError)  # an existing, writable folder; not a folder itself
    exe = find_fluidsynth(executable)
    # FluidSynth writes a fresh temporary file beside ``out``; only a checked result
    # replaces ``out``, and a failed render removes ``out`` (a stale file must not pass for
    # this run's output)
    try:
        with atomic_path(out, True, RenderError) as tmp:
            _run_fluidsynth(exe, tmp, out, sf2, midi, gain=gain, sample_rate=sample_rate,
                            reverb=reverb, chorus=chorus, timeout_s=timeout_s)  # fmt: skip
    except RenderError:
        out.unlink(missing_ok=True)
        raise
    return out


def _run_fluidsynth(exe: str, tmp: Path, out: Path, sf2: Path, midi: Path, *, gain: float,
                    sample_rate: int, reverb: bool, chorus: bool,
                    timeout_s: float | None) -> None:  # fmt: skip
    """Run FluidSynth into ``tmp`` and check what it wrote (``out`` names it in messages)."""
    # absolute paths: a file name starting with "-" would be read as an option
    cmd = [
        exe, "-n", "-i", "-q", "-g", repr(float(gain)), "-r", str(sample_rate),
        "-R", "1" if reverb else "0", "-C", "1" if chorus else "0",
        "-F", os.path.abspath(tmp), "-T", "wav", "-O", "float",
        os.path.abspath(sf2), os.path.abspath(midi),
    ]  # fmt: skip
    files = f"MIDI {midi}, SoundFont {sf2}, output {out}"

    def fail(message: str) -> RenderError:
        return RenderError(f"{message} ({files})")

    try:
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
            timeout=timeout_s, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise fail(
            f"FluidSynth did not finish within {timeout_s:g} s; a MIDI file whose notes span "
            "hours renders that long"
        ) from None
    except OSError as e:
        raise fail(f"could not run FluidSynth ({exe}): {e}") from e
    lines = [s.strip() for s in (proc.stderr + "\n" + proc.stdout).splitlines() if s.strip()]
    errors = [s for s in lines if "error" in s.lower()]  # e.g. "fluidsynth: error: ..."
    said = f": {(errors or lines)[-1]}" if lines else ""
    if proc.returncode != 0:
        raise fail(f"FluidSynth exited with status {proc.returncode}{said}")
    if not tmp.is_file() or tmp.stat().st_size == 0:
        raise fail(f"FluidSynth wrote no audio file{said}")
    try:
        info = soundfile.info(str(tmp))
    except RuntimeError as e:
        raise fail(f"FluidSynth wrote an unreadable audio file: {e}") from e
    if info.frames < _MIN_FRAMES:
        raise fail(
            f"FluidSynth rendered nothing ({info.frames} frames): it could not play the MIDI "
            f"file{said or ' (no message; the file is probably damaged)'}"
        )
    if info.samplerate != sample_rate:
        raise fail(f"FluidSynth wrote {info.samplerate} Hz instead of the {sample_rate} Hz asked")


def fluidsynth_version(executable: str | None = None) -> str | None:
    """The version of the fluidsynth program, e.g. ``"2.3.1"``.

    Args:
        executable: the fluidsynth program (see :func:`find_fluidsynth`).

    Returns:
        The version from ``fluidsynth --version`` (the runtime library's), or ``None`` when
        the program is missing, fails or prints no version.
    """
    try:
        exe = find_fluidsynth(executable)
        proc = subprocess.run(
            [exe, "--version"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
            errors="replace", timeout=30, check=False,
        )  # fmt: skip
    except (FluidSynthNotFoundError, OSError, subprocess.SubprocessError):
        return None
    text = proc.stdout + proc.stderr
    m = re.search(r"runtime version (\d+(?:\.\d+)+)", text) or re.search(
        r"version (\d+(?:\.\d+)+)", text
    )
    return m.group(1) if m else None
