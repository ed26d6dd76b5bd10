"""The register music is written in: models trained on the JSB JSON write an octave lower."""

from __future__ import annotations

import mido
import numpy as np
import pretty_midi
import pytest

from dsp_rnn.cli import main
from dsp_rnn.errors import InputError
from dsp_rnn.gridrnn import GridRNNConfig
from dsp_rnn.gridrnn.sampler import primer_grid, sample, written_grid
from dsp_rnn.music.grid import GridNote, NoteGrid
from dsp_rnn.music.midi import read_midi
from dsp_rnn.training import load_model

pytestmark = pytest.mark.usefixtures("one_thread")


def _grid() -> NoteGrid:
    notes = [GridNote(21, 0, 2, 70), GridNote(64, 0, 4, 90), GridNote(108, 2, 3, 100)]
    return NoteGrid.from_notes(notes, steps_per_quarter=1)


def test_written_grid_relabels_keys_without_losing_notes():
    g = _grid()
    w = written_grid(g, GridRNNConfig(output_transpose=-12))
    assert np.array_equal(w.play, g.play) and np.array_equal(w.velocity, g.velocity)
    assert [(n.pitch, n.start, n.end) for n in w.to_notes()] == [
        (p - 12, s, e) for p, s, e in ((n.pitch, n.start, n.end) for n in g.to_notes())
    ]  # the lowest key (A0) too: nothing is clipped
    assert written_grid(g, GridRNNConfig()).to_notes() == g.to_notes()


def test_primer_is_read_back_into_the_models_encoding(tmp_path):
    config = GridRNNConfig(output_transpose=-12)
    g = _grid()
    path = tmp_path / "p.mid"
    written_grid(g, config).to_midi(path)
    back = primer_grid(read_midi(path), config)
    assert back.low_pitch == config.low_pitch
    assert np.array_equal(back.play, g.play)


@pytest.mark.parametrize("value", [-22, 20, 1.5, True])
def test_output_transpose_is_checked(value):
    with pytest.raises(InputError, match="output_transpose"):
        GridRNNConfig(output_transpose=value)


def test_old_configs_without_the_field_write_where_they_read():
    assert GridRNNConfig.from_dict(GridRNNConfig().to_dict() | {}).output_transpose == 0
    d = GridRNNConfig().to_dict()
    del d["output_transpose"]
    assert GridRNNConfig.from_dict(d).output_transpose == 0


def test_generate_writes_the_default_model_an_octave_below_its_encoding(tmp_path, capsys):
    model, _ = load_model()
    assert model.config.output_transpose == -12
    out = tmp_path / "s.mid"
    assert main(["generate", "--out", str(out), "--steps", "8", "--seed", "3", "--quiet"]) == 0
    (ref,) = sample(model, 8, seed=3, tempo_bpm=model.config.tempo_bpm)
    want = sorted((n.pitch - 12, n.start) for n in ref.to_notes())
    spq = model.config.steps_per_quarter
    score = read_midi(out)
    steps = sorted((n.pitch, round(n.start_tick / score.ticks_per_beat * spq)) for n in score.notes)
    assert steps == want and want
    pm = pretty_midi.PrettyMIDI(str(out))  # a second reader agrees on the pitches
    assert sorted(n.pitch for i in pm.instruments for n in i.notes) == sorted(p for p, _ in want)
    midi = mido.MidiFile(out)
    on = [m.note for t in midi.tracks for m in t if m.type == "note_on" and m.velocity]
    assert sorted(on) == sorted(p for p, _ in want)
    primer = primer_grid(read_midi(out), model.config)  # read back into the encoding
    assert np.array_equal(primer.play[:8], ref.play)


def test_shipped_sixteenth_note_model_writes_in_the_chorales_register(tmp_path, capsys):
    model, _ = load_model("chorales16")
    assert model.config.steps_per_quarter == 4 and model.config.output_transpose == 0
    out = tmp_path / "c16.mid"
    assert main(["generate", "--model", "chorales16", "--out", str(out), "--bars", "2",
                 "--seed", "4", "--quiet"]) == 0  # fmt: skip
    notes = read_midi(out).notes
    pitches = [n.pitch for n in notes]
    assert notes and 36 <= min(pitches) and max(pitches) <= 84  # bass to soprano, not above
    assert min(n.start_s for n in notes) == 0.0
    pm = pretty_midi.PrettyMIDI(str(out))
    assert sorted(n.pitch for i in pm.instruments for n in i.notes) == sorted(pitches)
