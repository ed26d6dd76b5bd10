"""SoundFont rendering through the FluidSynth CLI: real renders, input checks, failures.

Tests that need the real fluidsynth and a SoundFont skip when either is missing, unless
DSP_RNN_REQUIRE_FLUIDSYNTH=1 (CI), where they fail instead. The failure branches that
FluidSynth cannot be made to hit on demand use small fake programs written in Python.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile

from dsp_rnn.errors import (
    DspRnnError,
    FluidSynthNotFoundError,
    InputError,
    MidiError,
    RenderError,
)
from dsp_rnn.synth.fluidsynth import (
    check_soundfont,
    find_fluidsynth,
    fluidsynth_version,
    render_soundfont,
)

SF2_FOLDER = Path("/usr/share/sounds/sf2")
SF2_NAMES = ("TimGM6mb.sf2", "default-GM.sf2", "FluidR3_GM.sf2")
CHORD = (60, 64, 67)  # C4 E4 G4
C4_HZ = 440.0 * 2 ** ((60 - 69) / 12)  # 261.63

posix_only = pytest.mark.skipif(os.name != "posix", reason="fake programs use a #! line")


def _midi_hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


# ------------------------------------------------------------------------------- fixtures
@pytest.fixture
def chord_midi(tmp_path: Path) -> Path:
    """A C major chord (C4 E4 G4), piano (program 0), held for 1 s at 120 bpm."""
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120)),
        mido.Message("program_change", program=0, channel=0),
    ])  # fmt: skip
    track += [mido.Message("note_on", note=n, velocity=100) for n in CHORD]
    track += [
        mido.Message("note_off", note=n, time=960 if i == 0 else 0) for i, n in enumerate(CHORD)
    ]
    mid.tracks.append(track)
    path = tmp_path / "chord.mid"
    mid.save(path)
    return path


@pytest.fixture
def fake_sf2(tmp_path: Path) -> Path:
    """A file with a SoundFont header only: passes the header check, never played."""
    path = tmp_path / "fake.sf2"
    path.write_bytes(b"RIFF" + struct.pack("<I", 4) + b"sfbk")
    return path


def _fake_fluidsynth(tmp_path: Path, body: str) -> str:
    """A Python program standing in for fluidsynth; ``out`` is the path after -F."""
    path = tmp_path / "fake-fluidsynth"
    path.write_text(
        f"#!{sys.executable}\n"
        "import sys, time\n"
        "argv = sys.argv[1:]\n"
        "out = argv[argv.index('-F') + 1] if '-F' in argv else None\n" + body
    )
    path.chmod(0o755)
    return str(path)


# ------------------------------------------------------------------------------ real renders
@pytest.mark.parametrize("sample_rate", [44100, 22050])
def test_render_chord(fluidsynth_setup, chord_midi, tmp_path, sample_rate):
    exe, sf2 = fluidsynth_setup
    out = tmp_path / "out.wav"
    t0 = time.perf_counter()
    got = render_soundfont(chord_midi, sf2, out, sample_rate=sample_rate, executable=exe)
    assert time.perf_counter() - t0 < 60
    assert got == out and out.is_file()
    info = soundfile.info(str(out))
    assert (info.channels, info.samplerate, info.subtype) == (2, sample_rate, "FLOAT")
    x, rate = soundfile.read(str(out), dtype="float64")
    assert rate == sample_rate and x.shape[1] == 2
    assert x.shape[0] >= sample_rate  # the 1 s chord (plus FluidSynth's tail)
    assert np.isfinite(x).all()
    assert np.abs(x).max() > 1e-3
    # spectrum of the held chord: the strongest line in 200..1000 Hz is a chord pitch
    # (C, E or G in some octave: the piano's 2nd harmonic of C4 may win), and C4 is there
    seg = x[:sample_rate].mean(axis=1)
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size)))
    freqs = np.fft.rfftfreq(seg.size, 1.0 / sample_rate)
    band = (freqs >= 200) & (freqs <= 1000)
    peak_hz = freqs[band][np.argmax(spec[band])]
    chord_hz = [_midi_hz(n + 12 * k) for n in CHORD for k in (0, 1)]
    assert min(abs(peak_hz / f - 1) for f in chord_hz) < 0.03, peak_hz
    near_c4 = np.abs(freqs - C4_HZ) < 0.03 * C4_HZ
    assert spec[near_c4].max() > 100 * np.median(spec[band])


def test_render_options_reach_fluidsynth(fluidsynth_setup, chord_midi, tmp_path):
    """Gain is linear and renders are repeatable with reverb and chorus off."""
    exe, sf2 = fluidsynth_setup
    kw = dict(sample_rate=22050, reverb=False, chorus=False, executable=exe)
    a = soundfile.read(str(render_soundfont(chord_midi, sf2, tmp_path / "a.wav", gain=0.25, **kw)))
    b = soundfile.read(str(render_soundfont(chord_midi, sf2, tmp_path / "b.wav", gain=0.5, **kw)))
    c = soundfile.read(str(render_soundfont(chord_midi, sf2, tmp_path / "c.wav", gain=0.5, **kw)))
    np.testing.assert_array_equal(b[0], c[0])
    np.testing.assert_allclose(b[0], 2 * a[0], atol=1e-6)
    assert np.abs(b[0]).max() > 1e-3


def test_fluidsynth_version_real(fluidsynth_setup):
    exe, _ = fluidsynth_setup
    version = fluidsynth_version(exe)
    assert version is not None and version.split(".")[0].isdigit(), version
    assert int(version.split(".")[0]) >= 2


@pytest.mark.parametrize("kind", ["random_bytes", "header_then_garbage", "truncated"])
def test_garbage_midi_raises(fluidsynth_setup, chord_midi, tmp_path, kind):
    exe, sf2 = fluidsynth_setup
    rng = np.random.default_rng(1234)
    junk = rng.integers(0, 256, 300, dtype=np.uint8).tobytes()
    if kind == "random_bytes":
        data = junk
    elif kind == "header_then_garbage":
        data = (
            b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", 300) + junk
        )
    else:
        data = chord_midi.read_bytes()[:30]
    bad = tmp_path / "garbage.mid"
    bad.write_bytes(data)
    out = tmp_path / "out.wav"
    out.write_bytes(b"stale output from an earlier run")
    t0 = time.perf_counter()
    with pytest.raises(DspRnnError, match="garbage.mid") as info:
        render_soundfont(bad, sf2, out, sample_rate=22050, executable=exe, timeout_s=60)
    assert time.perf_counter() - t0 < 30  # it did not run to the timeout
    if kind == "random_bytes":  # refused before FluidSynth runs: the output is not touched
        assert isinstance(info.value, MidiError) and "MThd" in str(info.value)
        assert out.read_bytes() == b"stale output from an earlier run"
    else:  # FluidSynth exits 0 after one 64-frame block: caught by the frame count
        assert isinstance(info.value, RenderError) and "rendered nothing" in str(info.value)
        assert not out.exists()  # no stale or empty file left behind
        assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_timeout_stops_a_runaway_render(fluidsynth_setup, tmp_path):
    """A note-off 2**28 ticks away renders ~80 MB/s for hours; the timeout kills it."""
    exe, sf2 = fluidsynth_setup
    body = b"\x00\x90\x3c\x50\xff\xff\xff\x7f\x80\x3c\x00\x00\xff\x2f\x00"
    midi = tmp_path / "huge_ticks.mid"
    midi.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk"
                     + struct.pack(">I", len(body)) + body)  # fmt: skip
    out = tmp_path / "out.wav"
    t0 = time.perf_counter()
    with pytest.raises(RenderError, match="did not finish within 0.5 s"):
        render_soundfont(midi, sf2, out, sample_rate=8000, executable=exe, timeout_s=0.5)
    assert time.perf_counter() - t0 < 10
    assert not out.exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary


# --------------------------------------------------------------------------- finding the CLI
def test_missing_executable_from_env(monkeypatch, tmp_path, chord_midi, fake_sf2):
    missing = str(tmp_path / "no" / "fluidsynth")
    monkeypatch.setenv("DSP_RNN_FLUIDSYNTH", missing)
    with pytest.raises(FluidSynthNotFoundError, match="apt install fluidsynth") as info:
        find_fluidsynth()
    message = str(info.value)
    assert "DSP_RNN_FLUIDSYNTH" in message and missing in message and "\n" not in message
    assert "--voice" in message and "brew install fluid-synth" in message
    with pytest.raises(FluidSynthNotFoundError, match="apt install fluidsynth"):
        render_soundfont(chord_midi, fake_sf2, tmp_path / "o.wav", sample_rate=44100)
    assert not (tmp_path / "o.wav").exists()
    assert fluidsynth_version() is None


def test_missing_executable_on_empty_path(monkeypatch, tmp_path):
    monkeypatch.delenv("DSP_RNN_FLUIDSYNTH", raising=False)
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(FluidSynthNotFoundError, match="not found on PATH.*apt install fluidsynth"):
        find_fluidsynth()
    assert fluidsynth_version() is None


def test_missing_explicit_executable(monkeypatch, tmp_path, chord_midi, fake_sf2):
    monkeypatch.setenv("DSP_RNN_FLUIDSYNTH", sys.executable)  # an explicit one wins over env
    missing = str(tmp_path / "fluidsynth-nope")
    with pytest.raises(FluidSynthNotFoundError, match="apt install fluidsynth"):
        find_fluidsynth(missing)
    with pytest.raises(FluidSynthNotFoundError, match="fluidsynth-nope"):
        render_soundfont(chord_midi, fake_sf2, tmp_path / "o.wav", sample_rate=44100,
                         executable=missing)  # fmt: skip
    with pytest.raises(FluidSynthNotFoundError):
        find_fluidsynth(str(tmp_path))  # a folder is not a program
    assert fluidsynth_version(missing) is None


def test_find_order(monkeypatch, tmp_path):
    """explicit argument, then DSP_RNN_FLUIDSYNTH, then PATH; empty env counts as unset."""
    fake = _fake_fluidsynth(tmp_path, "")
    monkeypatch.setenv("DSP_RNN_FLUIDSYNTH", fake)
    assert Path(find_fluidsynth()) == Path(fake)
    assert Path(find_fluidsynth(sys.executable)) == Path(sys.executable)
    monkeypatch.setenv("DSP_RNN_FLUIDSYNTH", "")
    monkeypatch.setenv("PATH", str(tmp_path))
    (tmp_path / "fluidsynth").symlink_to(fake)
    assert Path(find_fluidsynth()) == tmp_path / "fluidsynth"


# ------------------------------------------------------------------------------ bad inputs
def test_bad_soundfont(tmp_path, chord_midi):
    text = tmp_path / "x.sf2"
    text.write_text("this is not a SoundFont\n")
    with pytest.raises(InputError, match=r"x\.sf2: not a SoundFont 2 file.*found b'this is not '"):
        check_soundfont(text)
    with pytest.raises(InputError, match=r"x\.sf2"):
        render_soundfont(chord_midi, text, tmp_path / "o.wav", sample_rate=44100)
    missing = tmp_path / "missing.sf2"
    with pytest.raises(InputError, match=r"SoundFont not found: .*missing\.sf2"):
        check_soundfont(missing)
    with pytest.raises(InputError, match=r"missing\.sf2"):
        render_soundfont(chord_midi, missing, tmp_path / "o.wav", sample_rate=44100)
    with pytest.raises(InputError, match="is not a file"):
        check_soundfont(tmp_path)
    wav = tmp_path / "riff.sf2"  # a RIFF file of another kind
    wav.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    with pytest.raises(InputError, match="found b'RIFF\\$\\\\x00\\\\x00\\\\x00WAVE'"):
        check_soundfont(wav)
    assert not (tmp_path / "o.wav").exists()


def test_soundfont_header_accepted(fake_sf2, tmp_path):
    assert check_soundfont(fake_sf2) == fake_sf2
    sf3 = tmp_path / "a.sf3"  # SF3 (Ogg-compressed samples) has the same RIFF/sfbk header
    sf3.write_bytes(b"RIFF" + struct.pack("<I", 1000) + b"sfbkLIST")
    assert check_soundfont(str(sf3)) == sf3


def test_installed_soundfont_accepted(fluidsynth_setup):
    _, sf2 = fluidsynth_setup
    assert check_soundfont(str(sf2)) == sf2


def test_missing_midi(tmp_path, fake_sf2):
    with pytest.raises(InputError, match=r"MIDI file not found: .*nope\.mid"):
        render_soundfont(tmp_path / "nope.mid", fake_sf2, tmp_path / "o.wav", sample_rate=44100)
    with pytest.raises(InputError, match="MIDI file is not a file"):
        render_soundfont(tmp_path, fake_sf2, tmp_path / "o.wav", sample_rate=44100)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sample_rate=7999), "sample_rate"),
        (dict(sample_rate=192001), "sample_rate"),
        (dict(sample_rate=44100.0), "sample_rate"),
        (dict(sample_rate=True), "sample_rate"),
        (dict(sample_rate=44100, gain=-0.1), "gain"),
        (dict(sample_rate=44100, gain=float("nan")), "gain"),
        (dict(sample_rate=44100, gain=10.5), "gain"),
        (dict(sample_rate=44100, timeout_s=0), "timeout_s"),
    ],
)
def test_bad_numbers(tmp_path, chord_midi, fake_sf2, kwargs, match):
    with pytest.raises(InputError, match=match):
        render_soundfont(chord_midi, fake_sf2, tmp_path / "o.wav", **kwargs)


def test_missing_output_folder(tmp_path, chord_midi, fake_sf2):
    with pytest.raises(InputError, match=r"folder .*no does not exist; create it first"):
        render_soundfont(chord_midi, fake_sf2, tmp_path / "no" / "o.wav", sample_rate=44100)
    with pytest.raises(InputError, match="is a folder, expected a file name"):
        render_soundfont(chord_midi, fake_sf2, tmp_path, sample_rate=44100)


# ------------------------------------------------------------ failures, with fake programs
@posix_only
@pytest.mark.parametrize(
    "body, match, timeout_s",
    [
        (
            "sys.stderr.write('fluidsynth: warning: x\\nfluidsynth: error: boom happened\\n')\n"
            "sys.exit(255)\n",
            "exited with status 255: fluidsynth: error: boom happened",
            60,
        ),
        ("sys.stderr.write('Failed to open audio file\\n')\n", "wrote no audio file: Fail", 60),
        ("open(out, 'wb').close()\n", "wrote no audio file", 60),
        ("open(out, 'wb').write(b'RIFF junk junk junk')\n", "unreadable audio file", 60),
        (
            "import numpy, soundfile\n"
            "soundfile.write(out, numpy.zeros((4000, 2)), 16000, subtype='FLOAT')\n",
            "wrote 16000 Hz instead of the 44100 Hz asked",
            60,
        ),
        ("open(out, 'wb').write(b'x')\ntime.sleep(30)\n", "did not finish within 1 s", 1),
    ],
    ids=["exit_255", "no_file", "empty_file", "not_audio", "wrong_rate", "hangs"],
)
def test_fluidsynth_failures(tmp_path, chord_midi, fake_sf2, body, match, timeout_s):
    exe = _fake_fluidsynth(tmp_path, body)
    out = tmp_path / "o.wav"
    t0 = time.perf_counter()
    with pytest.raises(RenderError, match=match) as info:
        render_soundfont(
            chord_midi, fake_sf2, out, sample_rate=44100, executable=exe, timeout_s=timeout_s
        )
    assert time.perf_counter() - t0 < 30
    assert "chord.mid" in str(info.value) and "fake.sf2" in str(info.value)
    assert not out.exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary


@posix_only
def test_command_line(monkeypatch, tmp_path, chord_midi, fake_sf2):
    """The argv FluidSynth gets: no shell, absolute paths, flags from the arguments. It
    writes a temporary name beside the output; the output keeps its earlier content while
    FluidSynth runs and is replaced, by a rename, only by the checked result."""
    exe = _fake_fluidsynth(
        tmp_path,
        "import json, os, numpy, soundfile\n"
        "final = os.path.join(os.path.dirname(out), 'o.wav')\n"
        "seen = open(final).read() if os.path.exists(final) else None\n"
        "soundfile.write(out, numpy.zeros((48000, 2)), 48000, subtype='FLOAT')\n"
        "with open(os.path.join(os.path.dirname(out), 'run.json'), 'w') as f:\n"
        "    json.dump({'argv': argv, 'seen': seen, 'inode': os.stat(out).st_ino}, f)\n",
    )
    monkeypatch.chdir(tmp_path)  # a relative output path becomes absolute
    (tmp_path / "o.wav").write_text("an earlier render")
    got = render_soundfont(chord_midi, fake_sf2, "o.wav", sample_rate=48000, reverb=False,
                           gain=0.25, executable=exe)  # fmt: skip
    assert got == Path("o.wav")
    run = json.loads((tmp_path / "run.json").read_text())
    argv = run["argv"]
    written = Path(argv[argv.index("-F") + 1])
    assert written.parent == tmp_path and written.name.startswith(".o.")
    assert written.suffix == ".wav" and written.name != "o.wav"
    assert argv == [
        "-n", "-i", "-q", "-g", "0.25", "-r", "48000", "-R", "0", "-C", "1",
        "-F", str(written), "-T", "wav", "-O", "float",
        str(fake_sf2), str(chord_midi),
    ]  # fmt: skip
    assert run["seen"] == "an earlier render"  # untouched while FluidSynth ran
    # the file FluidSynth wrote became o.wav by a rename (the same inode), nothing is left
    assert (tmp_path / "o.wav").stat().st_ino == run["inode"]
    assert soundfile.info(str(tmp_path / "o.wav")).frames == 48000
    assert not written.exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


@posix_only
def test_fluidsynth_version_parsing(tmp_path):
    exe = _fake_fluidsynth(
        tmp_path,
        "print('FluidSynth runtime version 9.8.7\\nCopyright\\n\\n"
        "FluidSynth executable version 9.8.6')\n",
    )
    assert fluidsynth_version(exe) == "9.8.7"
    silent = _fake_fluidsynth(tmp_path, "print('hello')\n")
    assert fluidsynth_version(silent) is None


def test_no_torch_import():
    code = (
        "import sys; import dsp_rnn.synth.fluidsynth; sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
