"""The model registry and the library generate(): dispatch on the saved family, old folders
without one, a family registered from outside, errors that name the file and the kinds."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from dsp_rnn.errors import CheckpointError, InputError, OutputError
from dsp_rnn.gridrnn import GridRNN, GridRNNConfig
from dsp_rnn.training import (
    Family,
    Generated,
    families,
    generate,
    load_model,
    register,
    registry,
    save_model,
    unregister,
)
from dsp_rnn.training.generate import GenerateRequest

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = GridRNNConfig(time_hidden=8, time_layers=1, pitch_hidden=6, pitch_layers=1)


@pytest.fixture
def folder(tmp_path):
    torch.manual_seed(0)
    return save_model(tmp_path / "m", GridRNN(TINY), {"note": "tiny"})


def test_a_saved_model_names_its_family_and_an_old_folder_is_a_note_grid_model(folder):
    doc = json.loads((folder / "config.json").read_text())
    assert doc["family"] == "gridrnn" and doc["metadata"]["model"] == "GridRNN"
    model, meta = load_model(folder)
    assert isinstance(model, GridRNN) and meta["family"] == "gridrnn" and meta["note"] == "tiny"
    del doc["family"]  # as written before families existed (the shipped default is one)
    (folder / "config.json").write_text(json.dumps(doc))
    old, _ = load_model(folder)
    assert all(torch.equal(v, old.state_dict()[k]) for k, v in model.state_dict().items())


def test_an_unknown_family_is_named_with_the_file_and_the_known_ones(folder):
    doc = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(doc | {"family": "wavetable"}))
    with pytest.raises(CheckpointError) as info:
        load_model(folder)
    message = str(info.value)
    assert str(folder / "config.json") in message and "'wavetable'" in message
    assert "knows audio, gridrnn" in message


class Gain(nn.Module):
    def __init__(self, gain: float) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.tensor([gain]))


def test_a_family_registered_from_outside_loads_and_generates(tmp_path):
    written: list[GenerateRequest] = []

    def gen(model: Gain, request: GenerateRequest) -> Generated:
        written.append(request)
        request.out.write_bytes(b"RIFF")
        return Generated(request.out, request.seed, steps=4, seconds=0.5)

    family = Family("gain", (Gain,), load=lambda config, meta, tensors, source: _gain(tensors),
                    parts=lambda m: ({"size": 1}, {"model": "Gain"}), generate=gen)  # fmt: skip
    register(family)
    try:
        with pytest.raises(InputError, match="already registered"):
            register(family)
        save_model(tmp_path / "g", Gain(0.5), {})
        model, meta = load_model(tmp_path / "g")
        assert isinstance(model, Gain) and model.gain.item() == 0.5 and meta["family"] == "gain"
        made = generate(tmp_path / "g", tmp_path / "out.wav", seconds=0.5, seed=9)
        assert made.path == tmp_path / "out.wav" and made.seed == 9 and written[0].seconds == 0.5
        with pytest.raises(InputError, match="not a model of a registered family"):
            save_model(tmp_path / "x", nn.Linear(1, 1), {})
    finally:
        removed = unregister("gain")
    assert removed is family and sorted(families()) == ["audio", "gridrnn", "srnn", "voice"]
    with pytest.raises(InputError, match="'gain' is not registered; registered: audio, gridrnn"):
        unregister("gain")


def _gain(tensors: dict[str, torch.Tensor]) -> Gain:
    model = Gain(0.0)
    model.load_state_dict(tensors)
    return model


def test_generate_writes_midi_and_refuses_before_loading(folder, tmp_path, monkeypatch):
    out = tmp_path / "piece.mid"
    made = generate(folder, out, steps=6, seed=4, temperature=1.5)
    assert made.path == out and made.seed == 4 and made.steps == 6 and made.tempo_bpm == 90
    assert made.notes == sum(1 for _ in _notes(out)) and out.read_bytes()[:4] == b"MThd"
    again = generate(folder, tmp_path / "again.mid", steps=6, seed=4, temperature=1.5)
    assert again.path.read_bytes() == out.read_bytes()  # the same seed, the same piece

    def forbidden(*args, **kwargs):
        raise AssertionError("loaded a model before checking the request")

    monkeypatch.setattr(registry, "load_model", forbidden)
    with pytest.raises(OutputError, match="exists; pass overwrite=True"):
        generate(folder, out, steps=6)
    with pytest.raises(InputError, match="expected a .mid output path"):
        generate(folder, tmp_path / "piece.txt")
    with pytest.raises(InputError, match="at most one of steps, bars, seconds"):
        generate(folder, tmp_path / "b.mid", steps=4, bars=1)
    with pytest.raises(InputError, match=r"steps=50: 50 new steps, more than max_steps=10"):
        generate(folder, tmp_path / "c.mid", steps=50, max_steps=10)


def _notes(path):
    from dsp_rnn.music.midi import read_midi

    return read_midi(path).notes


@pytest.mark.parametrize(("name", "value"), [("steps", 5), ("seed", 3), ("min_notes", 1),
                                             ("max_notes", 2), ("max_steps", 20)])  # fmt: skip
def test_generate_takes_numpy_integers_and_refuses_bools_before_loading(
    name, value, folder, tmp_path, monkeypatch
):
    kw = {"steps": 5, "seed": 3} | {name: value}
    made = generate(folder, tmp_path / "a.mid", **kw)
    again = generate(folder, tmp_path / "b.mid", **(kw | {name: np.int64(value)}))
    assert again.seed == made.seed and type(again.seed) is int
    assert again.path.read_bytes() == made.path.read_bytes()

    def forbidden(*args, **kwargs):
        raise AssertionError("loaded a model before checking the request")

    monkeypatch.setattr(registry, "load_model", forbidden)
    for flag in (True, np.bool_(True)):
        with pytest.raises(InputError, match=rf"{name}: expected an integer"):
            generate(folder, tmp_path / "c.mid", **(kw | {name: flag}))
