"""Learned voices: the piano roll and the note-to-feature network are causal in time, a tiny
network overfits one short pair, a voice folder loads back, and rendering streams (the block
size does not change the samples, given the seed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.music import Note
from dsp_rnn.voice import (
    LearnedVoice,
    NoteArray,
    RollConfig,
    VoiceNet,
    VoiceNetConfig,
    load_voice,
    note_roll,
    render_voice,
    save_voice,
    score_notes,
)
from tests.conftest import tiny_audio_rnn

HOP_S = 0.01
NOTES = [Note(60, 100, 0, 0, 0.10, 0.40), Note(64, 80, 0, 0, 0.30, 0.60),
         Note(36, 90, 0, 0, 0.05, 0.20, channel=9)]  # fmt: skip


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: small GRUs on a shared machine run several times faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _tiny_voice(seed: int = 0) -> LearnedVoice:
    torch.manual_seed(seed)
    net = VoiceNet(VoiceNetConfig(hidden=8, projection=8)).eval()
    return LearnedVoice(net, tiny_audio_rnn(seed=seed))


def _roll(notes, n_frames: int) -> np.ndarray:
    arr = score_notes(notes).notes
    return note_roll(arr, 0, n_frames, RollConfig()).reshape(n_frames, -1)


def test_the_roll_marks_play_onset_offset_and_leaves_out_drums():
    picked = score_notes(NOTES)
    assert picked.skipped == {"drums": 1} and len(picked.notes) == 2
    roll = note_roll(picked.notes, 0, 80, RollConfig())  # (frames, keys, channels)
    key = 60 - 21
    play, onset, offset = roll[:, key, 0], roll[:, key, 1], roll[:, key, 2]
    assert np.flatnonzero(play).tolist() == list(range(10, 40))
    assert np.flatnonzero(onset).tolist() == [10] and np.flatnonzero(offset).tolist() == [40]
    np.testing.assert_allclose(roll[10:40, key, 3], 100 / 127)
    assert roll[10, key, 4] == 1.0 and 0 < roll[39, key, 4] < roll[11, key, 4]
    assert roll[39, key, 5] == 0 and roll[41, key, 5] < roll[40, key, 5] <= 1
    # any block of frames gives the same rows as the whole roll
    parts = [note_roll(picked.notes, f0, 7, RollConfig()) for f0 in range(0, 77, 7)]
    assert np.array_equal(np.concatenate(parts)[:77], roll[:77])


def test_a_note_at_frame_t_leaves_the_earlier_frames_unchanged():
    """Causal in time: adding (or moving) a note that starts at frame 30 changes neither
    the roll nor the network's output before frame 30."""
    net = _tiny_voice().net
    later = [*NOTES, Note(67, 110, 0, 0, 30 * HOP_S + 1e-4, 0.7)]
    a, b = _roll(NOTES, 60), _roll(later, 60)
    assert np.array_equal(a[:30], b[:30]) and not np.array_equal(a[30], b[30])
    with torch.no_grad():
        ya, _ = net(torch.from_numpy(a)[None])
        yb, _ = net(torch.from_numpy(b)[None])
    assert torch.equal(ya[0, :30], yb[0, :30]) and not torch.equal(ya[0, 30], yb[0, 30])
    # the same at the level of the inputs: noise from frame 30 on
    x = torch.randn(1, 60, net.config.roll_config.input_size)
    y = x.clone()
    y[:, 30:] += torch.randn(1, 30, x.shape[2])
    with torch.no_grad():
        assert torch.equal(net(x)[0][0, :30], net(y)[0][0, :30])


def test_a_tiny_network_overfits_one_short_pair():
    """Roll and frame vectors of one 1-second piece: the L1 loss falls well below its
    start (a fifth of it) in 150 Adam steps."""
    torch.manual_seed(0)
    from dsp_rnn.audio import features, frame_vectors

    t = np.arange(16000) / 16000
    x = np.zeros_like(t)
    for n in NOTES[:2]:
        on = (t >= n.start_s) & (t < n.end_s)
        x += on * 0.2 * np.sin(2 * np.pi * 440 * 2 ** ((n.pitch - 69) / 12) * t)
    target = torch.from_numpy(frame_vectors(features(x, 16000))).float()[None]  # (1, F, 23)
    roll = torch.from_numpy(_roll(NOTES, target.shape[1]))[None]
    net = VoiceNet(VoiceNetConfig(hidden=32, projection=16))
    net.set_normalisation(target[0].double().mean(0), target[0].double().std(0).clamp(min=1e-3))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(150):
        y, _ = net(roll)
        loss = (y - net.normalise(target)).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.2 * losses[0], (losses[0], losses[-1])


def test_a_voice_folder_round_trips(tmp_path):
    voice = _tiny_voice(3)
    save_voice(tmp_path / "v", voice)
    back = load_voice(tmp_path / "v")
    assert back.net.config == voice.net.config and back.path == tmp_path / "v"
    for name, t in voice.net.state_dict().items():
        assert torch.equal(t, back.net.state_dict()[name])
    (tmp_path / "v" / "sample_model" / "config.json").unlink()
    with pytest.raises(CheckpointError, match="--sample-model RUN"):
        load_voice(tmp_path / "v")
    with pytest.raises(CheckpointError, match="no such voice folder"):
        load_voice(tmp_path / "missing")


@pytest.mark.parametrize("rate,channels,decays", [(16000, 1, False), (44100, 2, False),
                                                  (16000, 1, True)])  # fmt: skip
def test_block_size_does_not_change_the_samples(rate, channels, decays):
    voice = _tiny_voice()
    if decays:  # the note source's decays and a release that ends inside a block
        from dataclasses import replace

        from dsp_rnn.voice import SourceConfig

        voice = replace(voice, source=SourceConfig(harmonic_share=0.6, decay_s=0.5,
                                                   noise_decay_s=0.2, release_s=0.13))  # fmt: skip
    options = {"seed": 4, "sample_rate": rate, "channels": channels, "tail_s": 0.2}
    a = render_voice(voice, NOTES, block_frames=200, **options)
    b = render_voice(voice, NOTES, block_frames=7, **options)
    assert a.shape == (channels, round(0.8 * rate)) and np.array_equal(a, b)
    assert abs(float(np.abs(a).max()) - 10 ** (-1 / 20)) < 1e-6  # peak at -1 dBFS
    c = render_voice(voice, NOTES, block_frames=7, **{**options, "seed": 5})
    assert not np.array_equal(a, c)


def test_bad_sources_and_options():
    voice = _tiny_voice()
    with pytest.raises(InputError, match="nothing to play"):
        render_voice(voice, [NOTES[2]])
    with pytest.raises(InputError, match="sample_rate"):
        render_voice(voice, NOTES, sample_rate=8000)
    with pytest.raises(InputError, match="LearnedVoice"):
        render_voice(object(), NOTES)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="times"):
        score_notes([Note(60, 100, 0, 0, float("nan"), 1.0)])
    assert len(NoteArray(*(np.zeros(0),) * 4)) == 0


def test_the_gate_mutes_frames_predicted_silent():
    """A network that predicts -100 dB everywhere: the gate mutes the sample model's
    output; without the gate the sample model's noise is there."""
    from dsp_rnn.voice import voice_blocks

    voice = _tiny_voice()
    d = voice.net.config.vector_size
    mean, std = np.zeros(d), np.full(d, 1e-3)
    mean[-1] = -100.0  # energy_db
    voice.net.set_normalisation(mean, std)
    notes = score_notes(NOTES).notes
    gated = np.concatenate(list(voice_blocks(voice, notes, seed=1, tail_s=0.1)))
    open_ = np.concatenate(list(voice_blocks(voice, notes, seed=1, tail_s=0.1, gate_db=None)))
    assert gated.shape == open_.shape and not gated.any() and np.abs(open_).max() > 1e-3
    with pytest.raises(InputError, match="gate_db"):
        next(voice_blocks(voice, notes, seed=1, gate_db=float("nan")))


def test_the_renderers_play_a_piece_with_a_learned_voice(tmp_path):
    """``render(..., voice=load_voice(...))`` and ``render_file`` hand the piece to the voice:
    the samples are render_voice's, a NoteGrid plays too, and a SoundFont is refused."""
    import soundfile as sf

    from dsp_rnn.music.grid import GridNote, NoteGrid
    from dsp_rnn.synth import NotePlayer, Reverb, render, render_file

    voice = _tiny_voice()
    assert isinstance(voice, NotePlayer)
    options = {"sample_rate": 16_000, "channels": 1, "seed": 3}
    y = render(NOTES, voice=voice, reverb=None, **options)
    assert np.array_equal(y, render_voice(voice, NOTES, **options))
    wet = render(NOTES, voice=voice, reverb=Reverb(sample_rate=16_000, channels=1), **options)
    assert wet.shape[1] > y.shape[1]  # the room's tail follows the voice's
    grid = NoteGrid.from_notes([GridNote(60, 0, 2), GridNote(64, 2, 4)], n_steps=4,
                               tempo_bpm=120.0, steps_per_quarter=1)  # fmt: skip
    g = render(grid, voice=voice, reverb=None, **options)
    assert abs(g.shape[1] / 16_000 - (2.0 + 1.5)) < 0.02  # 4 quarters at 120 bpm + the tail
    report = render_file(NOTES, tmp_path / "v.wav", voice=voice, reverb=None, subtype="FLOAT",
                         **options)  # fmt: skip
    written, rate = sf.read(str(report.path), dtype="float32", always_2d=True)
    assert rate == 16_000 and np.allclose(written[:, 0], y[0], atol=1e-6)
    assert "learned voice" in report.engine
    with pytest.raises(InputError, match="soundfont and a learned voice"):
        render_file(NOTES, tmp_path / "w.wav", voice=voice, soundfont=tmp_path / "x.sf2")
    assert not (tmp_path / "w.wav").exists()


def test_the_sustain_pedal_holds_notes_for_the_voice_and_the_synth(tmp_path):
    """A note released while the pedal (CC64) is down sounds until the pedal lifts, for a
    learned voice and for our synth, as on a piano (and in FluidSynth)."""
    import mido

    from dsp_rnn.synth import plan_notes

    ticks = 960  # per second at 120 bpm, 480 per beat
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000)])
    pedal = [mido.Message("control_change", control=64, value=v) for v in (127, 0)]
    events = [(0, mido.Message("note_on", note=60, velocity=90)),
              (round(0.1 * ticks), pedal[0]),
              (round(0.3 * ticks), mido.Message("note_off", note=60, velocity=0)),
              (round(0.4 * ticks), mido.Message("note_on", note=64, velocity=90)),
              (round(0.5 * ticks), mido.Message("note_off", note=64, velocity=0)),
              (round(1.0 * ticks), pedal[1])]  # fmt: skip
    now = 0
    for tick, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(track)
    path = tmp_path / "pedal.mid"
    mid.save(path)
    notes = score_notes(path).notes
    np.testing.assert_allclose(notes.start_s, [0.0, 0.4])
    np.testing.assert_allclose(notes.end_s, [1.0, 1.0])  # held until the pedal lifts
    plan = plan_notes(path, sample_rate=16_000, channels=1, voice="ks")
    np.testing.assert_allclose(sorted(plan.duration_s), [0.6, 1.0], atol=1e-6)
