"""CLI ``compare`` and ``fit``: files written, never overwritten, one-line errors, reloadable."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.signal
import soundfile as sf
import torch

from dsp_rnn.cells import LSTMCell, StateSpaceCell
from dsp_rnn.cli import main
from dsp_rnn.compare import load_cell, run_cell, save_cell
from dsp_rnn.errors import CheckpointError

SR = 16_000
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _restore_threads():
    """``compare``/``fit`` set torch's and numba's thread counts (``--threads``): restore."""
    import numba

    torch_threads, numba_threads = torch.get_num_threads(), numba.get_num_threads()
    yield
    torch.set_num_threads(torch_threads)
    numba.set_num_threads(numba_threads)


def _one_line_error(capsys, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    return err


def test_compare_exact_twin_writes_plot_and_summary(tmp_path, capsys):
    out = tmp_path / "cmp"
    rc = main(["compare", "butter", "--order", "4", "--f0-hz", "1000", "--against",
               "statespace", "--out", str(out)])  # fmt: skip
    assert rc == 0
    text = (out / "compare.txt").read_text()
    esr_value = float(text.split("ESR")[1].split()[0])
    assert esr_value < 1e-20  # float64 twin of float64 SOS: equal to rounding
    assert "StateSpaceCell.from_filter" in text and "exact" in text
    assert (out / "compare.png").read_bytes()[:8] == PNG
    assert "wrote" in capsys.readouterr().out
    before = (out / "compare.txt").read_bytes()
    rc = main(["compare", "butter", "--f0-hz", "500", "--against", "iir", "--out", str(out)])
    _one_line_error(capsys, "compare.png", "exists", "--overwrite")
    assert rc == 1 and (out / "compare.txt").read_bytes() == before
    rc = main(["compare", "butter", "--f0-hz", "500", "--against", "iir", "--out", str(out),
               "--overwrite"])  # fmt: skip
    assert rc == 0 and "IIRCell.from_sos" in (out / "compare.txt").read_text()


def test_compare_against_a_fitted_lstm(tmp_path):
    out = tmp_path / "lstm"
    rc = main(["compare", "lowpass", "--f0-hz", "2000", "--sample-rate", "8000", "--against",
               "lstm", "--hidden", "4", "--steps", "5", "--window", "128", "--batch-size",
               "4", "--quiet", "--out", str(out)])  # fmt: skip
    assert rc == 0
    text = (out / "compare.txt").read_text()
    assert "LSTMCell (fitted, 5 steps)" in text and "estimated" in text
    assert (out / "fit_curve.png").read_bytes()[:8] == PNG
    assert 0 < float(text.split("ESR")[1].split()[0]) < 10


def _pair(tmp_path, n=8000, sr=SR):
    rng = np.random.default_rng(0)
    dry = 0.3 * rng.standard_normal(n)
    wet = scipy.signal.lfilter([0.2, 0.1], [1.0, -0.7], dry)  # a one-pole "effect"
    sf.write(tmp_path / "dry.wav", dry, sr, subtype="FLOAT")
    sf.write(tmp_path / "wet.wav", wet, sr, subtype="FLOAT")
    return tmp_path / "dry.wav", tmp_path / "wet.wav"


def test_fit_writes_model_curve_audio_and_reloads(tmp_path, capsys):
    dry, wet = _pair(tmp_path)
    out = tmp_path / "model"
    args = ["fit", "--input", str(dry), "--target", str(wet), "--cell", "statespace",
            "--hidden", "1", "--steps", "150", "--lr", "0.05", "--window", "256",
            "--batch-size", "4", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    stdout = capsys.readouterr().out
    esr_file = float(stdout.split("ESR ")[1].split()[0])
    assert esr_file < 1e-4
    names = sorted(p.name for p in out.iterdir())
    assert names == ["config.json", "curve.png", "processed.wav", "weights.safetensors"]
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"] == {"cell": "StateSpaceCell", "dtype": "float32",
                               "kwargs": {"state_size": 1}}  # fmt: skip
    assert saved["metadata"]["esr_whole_file"] == pytest.approx(esr_file, rel=1e-3)
    cell, _ = load_cell(out)
    processed, sr = sf.read(out / "processed.wav")
    x = torch.from_numpy(sf.read(dry)[0])
    with torch.no_grad():
        again = run_cell(cell, x.float()).double().numpy()
    assert sr == SR and np.abs(again - processed).max() < 1e-6  # same model, same output
    assert np.allclose(cell.to_filter()[0, [0, 1, 4]].tolist(), [0.2, 0.1, -0.7], atol=1e-2)
    stamp = (out / "weights.safetensors").read_bytes()
    assert main(args) == 1  # refuses to overwrite anything
    _one_line_error(capsys, "exists", "--overwrite")
    assert (out / "weights.safetensors").read_bytes() == stamp


def test_fit_audio_errors_are_one_line(tmp_path, capsys):
    dry, wet = _pair(tmp_path)
    base = ["fit", "--cell", "lstm", "--steps", "1", "--quiet", "--out", str(tmp_path / "o")]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    assert main(base + ["--input", str(bad), "--target", str(wet)]) == 1
    _one_line_error(capsys, "bad.wav", "cannot read audio")
    other_rate = tmp_path / "wet44.wav"
    sf.write(other_rate, sf.read(wet)[0], 44_100, subtype="FLOAT")
    assert main(base + ["--input", str(dry), "--target", str(other_rate)]) == 1
    _one_line_error(capsys, "wet44.wav", "44100 Hz", "16000 Hz")
    short = tmp_path / "short.wav"
    sf.write(short, sf.read(wet)[0][:5000], SR, subtype="FLOAT")
    assert main(base + ["--input", str(dry), "--target", str(short)]) == 1
    _one_line_error(capsys, "short.wav", "5000 samples", "8000")
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.stack([sf.read(wet)[0]] * 2, 1), SR, subtype="FLOAT")
    assert main(base + ["--input", str(dry), "--target", str(stereo)]) == 1
    _one_line_error(capsys, "2 channel(s)")
    assert not (tmp_path / "o").exists()  # nothing written on failure
    with pytest.raises(SystemExit) as info:  # usage error: exit 2
        main(["fit", "--input", str(dry), "--target", str(wet), "--cell", "transformer",
              "--out", str(tmp_path / "o")])  # fmt: skip
    assert info.value.code == 2


def test_saved_models_reload_without_pickle_and_damage_is_reported(tmp_path):
    torch.manual_seed(0)
    cell = LSTMCell(1, 6, output_size=1)
    kwargs = {"input_size": 1, "hidden_size": 6, "output_size": 1}
    save_cell(cell, tmp_path / "m", kwargs, metadata={"esr": 0.01})
    back, config = load_cell(tmp_path / "m")
    x = torch.randn(2, 100, 1)
    assert torch.equal(back(x)[0], cell(x)[0]) and config["metadata"]["esr"] == 0.01
    assert not list((tmp_path / "m").glob("*.part"))  # temp files renamed away
    assert (tmp_path / "m" / "weights.safetensors").read_bytes()[:1] != b"\x80"  # not a pickle
    with pytest.raises(Exception, match="exists"):
        save_cell(cell, tmp_path / "m", kwargs)
    good = json.loads((tmp_path / "m" / "config.json").read_text())

    def damage(**config):
        data = {**good, "config": {**good["config"], **config}}
        (tmp_path / "m" / "config.json").write_text(json.dumps(data))

    damage(kwargs={**kwargs, "hidden_size": 7})
    with pytest.raises(CheckpointError, match="do not fit"):
        load_cell(tmp_path / "m")
    damage(cell="os.system")
    with pytest.raises(CheckpointError, match="unknown cell class"):
        load_cell(tmp_path / "m")
    damage()
    (tmp_path / "m" / "weights.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_cell(tmp_path / "m")
    with pytest.raises(CheckpointError, match="missing"):
        load_cell(tmp_path / "nothing")
    twin = StateSpaceCell.from_filter((torch.tensor([1.0, 0.5]), torch.tensor([1.0, -0.5])))
    save_cell(twin, tmp_path / "ss", {"state_size": 1})
    assert torch.equal(load_cell(tmp_path / "ss")[0].to_filter(), twin.to_filter())
