"""The renderer: streaming == one shot, onsets, silence, files, CLI (reverb: test_synth_reverb)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dsp_rnn.cli import main
from dsp_rnn.errors import AudioError, InputError
from dsp_rnn.music.grid import NoteGrid
from dsp_rnn.music.midi import Note, Score, read_midi, write_midi
from dsp_rnn.synth import Reverb, gm_voice_name, plan_notes, render, render_blocks, render_file

SR = 22_050


def _note(pitch: int, start_s: float, end_s: float, *, velocity: int = 100, program: int = 0,
          channel: int = 0, track: int = 0) -> Note:  # fmt: skip
    ticks = (round(start_s * 960), round(end_s * 960))  # 480 per beat at 120 bpm
    return Note(pitch, velocity, *ticks, start_s, end_s, program, channel, track)


def _chorale() -> list[Note]:
    """Four voices, two bars of quarter notes, one track each."""
    rng = np.random.default_rng(0)
    notes = []
    for voice, base in enumerate((72, 65, 60, 48)):
        for beat in range(8):
            pitch = base + int(rng.integers(-3, 4))
            notes.append(_note(pitch, 0.5 * beat, 0.5 * beat + 0.45, velocity=70 + 5 * voice,
                               track=voice + 1))  # fmt: skip
    return notes


# ----------------------------------------------------------------------------- plan
def test_gm_mapping_and_drums() -> None:
    assert gm_voice_name(0) == "ks"  # acoustic grand
    assert gm_voice_name(19) == "additive"  # church organ
    assert gm_voice_name(48) == "subtractive"  # strings ensemble
    assert gm_voice_name(73) == "sine"  # flute
    assert gm_voice_name(25) == "ks"  # nylon guitar
    assert gm_voice_name(0, drum=True) is None
    notes = [_note(60, 0, 0.5, program=19), _note(36, 0, 0.2, channel=9),
             _note(64, 0.5, 1.0, program=48, track=1)]  # fmt: skip
    plan = plan_notes(notes, sample_rate=SR)
    assert len(plan) == 3 and plan.skipped == {}
    assert sorted(v.name for v in plan.voices) == ["additive", "drums", "subtractive"]
    assert len(plan_notes(notes, sample_rate=SR, voice="ks")) == 3  # drums stay drums
    plan = plan_notes(notes, sample_rate=SR, drums=False)
    assert len(plan) == 2 and plan.skipped == {"drums": 1}
    # two instruments, spread apart in the stereo field
    assert plan.gains[0, 0] > plan.gains[0, 1] and plan.gains[1, 1] > plan.gains[1, 0]
    blip = render([_note(60, 1.0, 1.0)], sample_rate=SR, voice="additive", reverb=None)
    assert np.abs(blip).max() > 0.5  # a zero-length note is held 20 ms, not lost
    high = plan_notes([_note(127, 0, 0.5)], sample_rate=22_050, voice="ks")
    assert len(high) == 0 and high.skipped == {"out of range": 1}


def test_bad_inputs_raise_typed_errors() -> None:
    with pytest.raises(InputError, match="sample_rate"):
        plan_notes(_chorale(), sample_rate=8_000)
    with pytest.raises(InputError, match="channels"):
        plan_notes(_chorale(), sample_rate=SR, channels=3)
    with pytest.raises(InputError, match="voice"):
        plan_notes(_chorale(), sample_rate=SR, voice="theremin")
    with pytest.raises(InputError, match="expected a MIDI path"):
        plan_notes(42, sample_rate=SR)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="notes\\[0\\]"):
        plan_notes([(60, 0, 1)], sample_rate=SR)


# ----------------------------------------------------------------------------- render
def test_streaming_equals_one_shot_for_any_block_size() -> None:
    plan = plan_notes(_chorale(), sample_rate=SR, tail_s=1.5)
    rev = Reverb(sample_rate=SR, rt60_s=1.0)
    ref = np.concatenate(list(render_blocks(plan, reverb=rev, block_size=1 << 20)), 1)
    assert ref.shape == (2, plan.total_samples)
    for block in (1, 777, 4096):
        got = np.concatenate(list(render_blocks(plan, reverb=rev, block_size=block)), 1)
        assert np.array_equal(got, ref), block


def test_onsets_within_1_ms_and_silence_between_notes() -> None:
    times = [(0.1234, 0.3), (0.9001, 1.0), (1.7777, 2.1), (2.6543, 2.7)]
    for voice in ("ks", "subtractive", "additive"):
        for sr in (22_050, 48_000):
            notes = [_note(60 + 5 * i, a, b) for i, (a, b) in enumerate(times)]
            y = render(notes, sample_rate=sr, channels=1, voice=voice, reverb=None)[0]
            plan = plan_notes(notes, sample_rate=sr, voice=voice)
            for (a, _), start, length in zip(times, plan.start, plan.length, strict=True):
                seg = np.abs(y[start - int(0.01 * sr) : start + int(0.01 * sr)])
                onset = int(np.flatnonzero(seg > 1e-4 * np.abs(y).max())[0]) - int(0.01 * sr)
                assert abs((start + onset) / sr - a) <= 0.001, (voice, sr, a)
                # after the release, nothing until the next note
                gap_end = (
                    plan.start[plan.start > start].min() if (plan.start > start).any() else len(y)
                )
                assert np.all(y[start + length : gap_end] == 0.0)
            assert len(y) == int(plan.start[-1] + plan.length[-1])


def test_reverb_tail_is_kept_and_dies_out() -> None:
    rev = Reverb(sample_rate=SR, rt60_s=1.0, channels=2)
    notes = [_note(60, 0.0, 0.5)]
    y = render(notes, sample_rate=SR, voice="additive", reverb=rev)
    plan = plan_notes(notes, sample_rate=SR, voice="additive")
    dry_end = int(plan.length[0])
    assert y.shape[1] == dry_end + int(round(rev.tail_s * SR))
    tail = y[:, dry_end : dry_end + int(0.2 * SR)]
    assert np.sqrt(np.mean(tail**2)) > 1e-3  # the tail rings on after the note
    last = y[:, -int(0.05 * SR) :]
    assert 20 * np.log10(np.abs(last).max() / np.abs(y).max()) < -70


def test_peak_normalisation_never_clips() -> None:
    loud = [_note(48 + i, 0, 1.0, velocity=127) for i in range(0, 36, 3)]  # 12-note cluster
    y = render(loud, sample_rate=SR, voice="subtractive", reverb=None)
    assert np.abs(y).max() == pytest.approx(10 ** (-1 / 20), rel=1e-6)
    raw = np.concatenate(
        list(render_blocks(plan_notes(loud, sample_rate=SR, voice="subtractive"))), 1
    )
    assert np.abs(raw).max() > 1.0  # without normalisation it would clip
    kept = render(loud, sample_rate=SR, voice="subtractive", reverb=None, peak_db=None)
    assert np.abs(kept).max() < 1.0


# ----------------------------------------------------------------------------- files
@pytest.mark.parametrize("subtype,limit", [("PCM_16", 32767), ("PCM_24", 2**23 - 1)])
def test_file_render_no_full_scale_samples(tmp_path: Path, subtype: str, limit: int) -> None:
    out = tmp_path / "c.wav"
    rep = render_file(_chorale(), out, sample_rate=SR, subtype=subtype)
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.subtype) == (SR, 2, subtype)
    ints, _ = sf.read(str(out), dtype="int32")
    ints = ints >> (32 - (16 if subtype == "PCM_16" else 24))
    assert np.abs(ints).max() < limit
    assert rep.peak_dbfs == pytest.approx(-1.0, abs=0.01)
    assert rep.notes == 32 and rep.seconds == pytest.approx(info.frames / SR)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.wav"]  # no scratch files left


def test_file_render_equals_one_shot(tmp_path: Path) -> None:
    out = tmp_path / "f.wav"
    render_file(_chorale(), out, sample_rate=SR, subtype="FLOAT", block_size=1000)
    y, _ = sf.read(str(out), dtype="float32", always_2d=True)
    ref = render(_chorale(), sample_rate=SR)
    assert np.array_equal(y.T, ref)


def test_file_render_mono_48k_from_grid_and_midi(tmp_path: Path) -> None:
    score = Score(notes=_chorale(), ticks_per_beat=480, source="chorale")
    mid = write_midi(score, tmp_path / "c.mid")
    g = NoteGrid.from_score(read_midi(mid), steps_per_quarter=4)
    rep = render_file(g, tmp_path / "g.wav", sample_rate=48_000, channels=1, reverb=False)
    assert sf.info(str(tmp_path / "g.wav")).channels == 1
    assert rep.notes == len(g.to_notes()) > 20 and rep.seconds > 3.9
    rep2 = render_file(mid, tmp_path / "m.flac", sample_rate=48_000, voice="sine", subtype="24")
    assert rep2.notes == 32 and sf.info(str(tmp_path / "m.flac")).format == "FLAC"


def test_file_errors_keep_user_files(tmp_path: Path) -> None:
    out = tmp_path / "keep.wav"
    out.write_bytes(b"precious")
    with pytest.raises(AudioError, match="exists"):
        render_file(_chorale(), out, sample_rate=SR)
    assert out.read_bytes() == b"precious"
    with pytest.raises(AudioError, match="does not exist"):
        render_file(_chorale(), tmp_path / "no" / "x.wav", sample_rate=SR)
    with pytest.raises(InputError, match="ending"):
        render_file(_chorale(), tmp_path / "x.mp4", sample_rate=SR)
    with pytest.raises(InputError, match="subtype"):
        render_file(_chorale(), tmp_path / "x.wav", sample_rate=SR, subtype="8")
    with pytest.raises(InputError, match="max_seconds"):
        render_file(_chorale(), tmp_path / "x.wav", sample_rate=SR, max_seconds=1.0)
    with pytest.raises(InputError, match="nothing to render.*out of range"):
        render_file([_note(127, 0, 1)], tmp_path / "x.wav", sample_rate=SR, voice="ks")
    with pytest.raises(InputError, match="nothing to render.*1 drums"):
        render_file([_note(36, 0, 1, channel=9)], tmp_path / "x.wav", sample_rate=SR, drums=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav"]


def test_renderer_runs_without_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from dsp_rnn.synth import render_file\n"
        "from dsp_rnn.music.midi import Note\n"
        f"render_file([Note(60, 90, 0, 0, 0.0, 0.5)], {str(tmp_path / 'n.wav')!r}, "
        "sample_rate=22050)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert (tmp_path / "n.wav").stat().st_size > 1000


# ----------------------------------------------------------------------------- CLI
def test_cli_render(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mid = write_midi(Score(notes=_chorale(), ticks_per_beat=480), tmp_path / "c.mid")
    out = tmp_path / "c.wav"
    args = ["render", str(mid), str(out), "--sample-rate", "22050", "--quiet"]
    assert main(args + ["--voice", "subtractive", "--reverb", "0.8", "--wet", "0.3"]) == 0
    line = capsys.readouterr().out
    assert "wrote" in line and "32 notes" in line and "peak -1.00 dBFS" in line
    assert sf.info(str(out)).samplerate == 22_050
    before = out.read_bytes()
    assert main(args) == 1
    assert "exists" in capsys.readouterr().err and out.read_bytes() == before
    assert (
        main(args + ["--overwrite", "--channels", "1", "--format", "float", "--reverb", "0"]) == 0
    )
    info = sf.info(str(out))
    assert (info.channels, info.subtype) == (1, "FLOAT")
    drums = write_midi(Score(notes=_chorale() + [_note(36, 0.5 * b, 0.5 * b + 0.1, channel=9,
                                                       track=9) for b in range(8)],
                             ticks_per_beat=480), tmp_path / "d.mid")  # fmt: skip
    assert main(["render", str(drums), str(tmp_path / "d.wav"), "--quiet"]) == 0
    assert "40 notes" in capsys.readouterr().out
    assert main(["render", str(drums), str(tmp_path / "n.wav"), "--quiet", "--no-drums"]) == 0
    assert "32 notes, 8 drums" in capsys.readouterr().out
    assert main(["render", str(mid), str(tmp_path / "x.txt")]) == 1
    assert "audio file" in capsys.readouterr().err
    assert main(["render", str(tmp_path / "none.mid"), str(tmp_path / "y.wav")]) == 1
    with pytest.raises(SystemExit) as exc:  # a range checked at parse time: usage error
        main(["render", str(mid), str(tmp_path / "y.wav"), "--wet", "2"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["render", str(mid), str(tmp_path / "y.wav"), "--sample-rate", "8000"])
    assert exc.value.code == 2


def test_cli_generate_renders_wav_with_the_default_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "g.wav"
    assert main(["generate", "--out", str(out), "--bars", "2", "--sample-rate", "22050"]) == 0
    text = capsys.readouterr().out
    assert "generated" in text and "voices ks" in text
    y, sr = sf.read(str(out))
    assert sr == 22_050 and y.ndim == 2 and 0.8 < np.abs(y).max() < 0.9


def test_cli_soundfont_missing_fluidsynth_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mid = write_midi(Score(notes=_chorale(), ticks_per_beat=480), tmp_path / "c.mid")
    sf2 = tmp_path / "gm.sf2"
    sf2.write_bytes(b"RIFF\x00\x00\x00\x00sfbkLIST" + bytes(64))
    monkeypatch.setenv("DSP_RNN_FLUIDSYNTH", str(tmp_path / "no-such-fluidsynth"))
    assert main(["render", str(mid), str(tmp_path / "s.wav"), "--soundfont", str(sf2)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "FluidSynth not found" in err and "apt install" in err
    assert not (tmp_path / "s.wav").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mid", "gm.sf2"]


def test_soundfont_render_through_fluidsynth(tmp_path: Path, fluidsynth_setup) -> None:
    _, sf2 = fluidsynth_setup
    mid = write_midi(Score(notes=_chorale(), ticks_per_beat=480), tmp_path / "c.mid")
    rep = render_file(mid, tmp_path / "s.wav", sample_rate=SR, channels=1, soundfont=sf2)
    y, sr = sf.read(str(tmp_path / "s.wav"))
    assert sr == SR and y.ndim == 1 and rep.engine.startswith("FluidSynth")
    assert np.abs(y).max() == pytest.approx(10 ** (-1 / 20), abs=1e-4)
    assert rep.seconds >= 4.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mid", "s.wav"]
    grid = NoteGrid.from_score(read_midi(mid), steps_per_quarter=4)
    rep = render_file(grid, tmp_path / "g.wav", sample_rate=SR, soundfont=sf2, reverb=False)
    assert rep.notes == len(grid.to_notes()) > 20 and rep.seconds > 3.9
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_our_pcm_encoding_is_soundfiles_bit_for_bit(subtype: str) -> None:
    import io

    from dsp_rnn.synth.files import encode

    x = np.random.default_rng(0).uniform(-1.05, 1.05, (20_000, 2)).astype(np.float32)
    for gain in (1.0, 0.7071):
        ref, ours = io.BytesIO(), io.BytesIO()
        sf.write(ref, x * np.float32(gain), 44_100, subtype=subtype, format="WAV")
        sf.write(ours, encode(x, gain, subtype), 44_100, subtype=subtype, format="WAV")
        assert ref.getvalue() == ours.getvalue()


def test_long_render_spills_to_disk_and_equals_in_memory(tmp_path: Path) -> None:
    notes = _chorale()
    a = render_file(notes, tmp_path / "a.wav", sample_rate=SR, memory_budget_mb=0.01)
    b = render_file(notes, tmp_path / "b.wav", sample_rate=SR)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert a.peak_dbfs == b.peak_dbfs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav"]


def test_drum_kit_sounds_where_the_gm_map_says() -> None:
    from dsp_rnn.synth import DrumKit

    kit, sr = DrumKit(), 44_100

    def band_share(y: np.ndarray, lo: float, hi: float) -> float:
        spec = np.abs(np.fft.rfft(y)) ** 2
        f = np.fft.rfftfreq(len(y), 1 / sr)
        return float(spec[(f >= lo) & (f < hi)].sum() / spec.sum())

    kick = kit.render_note(36, 110, 0.1, sample_rate=sr, seed=1)
    hat = kit.render_note(42, 110, 0.1, sample_rate=sr, seed=1)
    assert band_share(kick, 20, 250) > 0.8 and band_share(hat, 5000, 20000) > 0.6
    assert len(kit.render_note(46, 110, 0.1, sample_rate=sr)) > 3 * len(hat)  # open vs closed
    for key in range(27, 88):  # every key sounds, from silence to exactly 0
        y = kit.render_note(key, 100, 0.05, sample_rate=sr, seed=key)
        assert np.isfinite(y).all() and np.abs(y).max() > 1e-3, key
        assert abs(y[0]) < 0.05 * np.abs(y).max() and y[-1] == 0.0, key
    a = kit.render_note(38, 100, 0.1, sample_rate=sr, seed=3)
    assert np.array_equal(a, kit.render_note(38, 100, 0.1, sample_rate=sr, seed=3))
    soft = kit.render_note(38, 30, 0.1, sample_rate=sr, seed=3)
    assert np.abs(a).max() > 5 * np.abs(soft).max()
