"""Every command that writes refuses bad outputs the same way, before any work; every numeric
flag is range-checked at parse time; help shows defaults; generate's seed and length limit.

Each refusal: exit 1 (failure) or 2 (usage), exactly one line on stderr, no traceback, and
nothing created or changed on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dsp_rnn.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- fixtures and helpers
def _make_inputs(base: Path) -> dict[str, str]:
    """A short wav, a MIDI file, a folder holding the MIDI file, and a plain file."""
    from dsp_rnn.music.demo_midi import make_demo_piece

    base.mkdir(parents=True, exist_ok=True)
    wav = base / "in.wav"
    sf.write(wav, 0.1 * np.sin(np.arange(1600) / 5.0), 16_000, subtype="FLOAT")
    data = base / "data"
    data.mkdir()
    mid = make_demo_piece(1, bars=2).to_midi(data / "in.mid")
    (base / "afile").write_bytes(b"a file, not a folder")
    return {"wav": str(wav), "mid": str(mid), "data": str(data)}


@pytest.fixture
def work(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return tmp_path, _make_inputs(tmp_path)


@pytest.fixture(autouse=True)
def _no_heavy_work(monkeypatch):
    """Refusals must come before any model is loaded, data read, cell fitted or piece
    sampled: these raise a non-DspRnnError, which would surface as a test failure."""
    import dsp_rnn.compare
    import dsp_rnn.gridrnn.data
    import dsp_rnn.gridrnn.sampler
    import dsp_rnn.training.registry

    def forbidden(*args, **kwargs):
        raise AssertionError("heavy work started before the outputs were checked")

    monkeypatch.setattr(dsp_rnn.training.registry, "load_model", forbidden)
    monkeypatch.setattr(dsp_rnn.gridrnn.data, "load_corpus", forbidden)
    monkeypatch.setattr(dsp_rnn.compare, "fit", forbidden)
    monkeypatch.setattr(dsp_rnn.gridrnn.sampler, "sample", forbidden)


@pytest.fixture(autouse=True)
def _restore_threads():
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _snapshot(root: Path) -> dict[str, object]:
    return {
        str(p.relative_to(root)): ("dir" if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ------------------------------------------------------------ every writer, every bad case
# name -> (argv with {T} for the target and {wav}/{mid}/{data} for inputs, target name, kind)
# kind "file": one file; "empty": a folder that must be new or empty; "files": a folder
# whose named files must be new; "cache": a folder that may hold entries already
WRITERS = {
    "design --plot": (["design", "lowpass", "--f0-hz", "1000", "--plot", "{T}"], "r.png", "file"),
    "filter": (["filter", "{wav}", "{T}", "lowpass", "--f0-hz", "1000"], "o.wav", "file"),
    "data grid": (["data", "grid", "{mid}", "--out", "{T}"], "roll.png", "file"),
    "generate .mid": (["generate", "--out", "{T}", "--steps", "4"], "g.mid", "file"),
    "generate .wav": (["generate", "--out", "{T}", "--steps", "4"], "g.wav", "file"),
    "render": (["render", "{mid}", "{T}", "--quiet"], "r.wav", "file"),
    "train --out": (["train", "{data}", "--out", "{T}", "--steps", "1"], "run", "empty"),
    "ensemble --out": (["ensemble", "m1", "m2", "--out", "{T}"], "mix", "empty"),
    "compare --out": (
        ["compare", "butter", "--f0-hz", "1000", "--against", "iir", "--out", "{T}"],
        "cmp",
        "files",
    ),  # fmt: skip
    "fit --out": (
        ["fit", "--input", "{wav}", "--target", "{wav}", "--steps", "1", "--out", "{T}"],
        "fx",
        "files",
    ),  # fmt: skip
    "data inspect --cache-dir": (
        ["data", "inspect", "{data}", "--quiet", "--cache-dir", "{T}"],
        "cache",
        "cache",
    ),  # fmt: skip
}
EXISTING_FILE = {"compare --out": "compare.png", "fit --out": "weights.safetensors"}


def _argv(name: str, target: Path, inputs: dict[str, str]) -> list[str]:
    argv, _, _ = WRITERS[name]
    return [a.format(T=target, **inputs) for a in argv]


def _case_target(base: Path, name: str, case: str) -> tuple[Path, str]:
    """The target for ``case`` (made ready on disk) and a word the error must hold."""
    _, leaf, kind = WRITERS[name]
    if case == "missing parent":
        return base / "nodir" / leaf, "does not exist; create it first"
    if case == "parent is a file":
        return base / "afile" / leaf, "afile is a file, not a folder"
    target = base / leaf
    if kind == "file":
        target.write_bytes(b"keep me")
        return target, "exists; pass --overwrite"
    if kind == "cache":
        target.write_bytes(b"a file where a folder should be")
        return target, "is a file, expected a folder"
    target.mkdir()
    (target / EXISTING_FILE.get(name, "notes.txt")).write_bytes(b"keep me")
    if kind == "empty":
        return target, "not empty"
    return target, "exists; pass --overwrite"


@pytest.mark.parametrize("case", ["missing parent", "parent is a file", "exists"])
@pytest.mark.parametrize("name", list(WRITERS))
def test_every_writer_refuses_bad_outputs_before_any_work(name, case, work, capsys):
    base, inputs = work
    target, words = _case_target(base, name, case)
    before = _snapshot(base)
    assert main(_argv(name, target, inputs)) == 1
    line = _one_line(capsys.readouterr().err)
    assert words in line and str(target) in line, line
    assert _snapshot(base) == before  # nothing created, nothing overwritten


_AS_NOBODY = r"""
import contextlib, io, json, sys
from dsp_rnn.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code
    results.append([rc, err.getvalue()])
print(json.dumps(results))
"""


def _drop_privileges() -> None:  # pragma: no cover - runs in the child
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def test_every_writer_refuses_a_read_only_folder():
    """As root, file modes do not stop writes: the commands run as the user 'nobody'
    (uid 65534) in one subprocess (through setpriv where installed); as another user, the
    folder is made read-only. The check itself runs in that process, for real."""
    root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="dsp-rnn-ro-"))
    try:
        base.chmod(0o755)
        inputs = _make_inputs(base)
        ro = base / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        runs = [_argv(name, ro / WRITERS[name][1], inputs) for name in WRITERS]
        home = base / "home"  # caches (numba, matplotlib) that the child may write
        home.mkdir(mode=0o777)
        home.chmod(0o777)
        env = {**os.environ, "HOME": str(home), "MPLCONFIGDIR": str(home)}
        before = _snapshot(base)
        command = [sys.executable, "-c", _AS_NOBODY, json.dumps(runs)]
        drop = None
        if root and shutil.which("setpriv"):  # also reaches an interpreter under /root
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        elif root:
            drop = _drop_privileges
        proc = subprocess.run(command, capture_output=True, text=True, cwd=base, env=env,
                              check=False, preexec_fn=drop)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        results = json.loads(proc.stdout)
        for name, (rc, err) in zip(WRITERS, results, strict=True):
            assert rc == 1, (name, err)
            line = _one_line(err)
            assert "ro" in line and "not writable (permission denied)" in line, (name, line)
        after = _snapshot(base)
        assert {k: v for k, v in after.items() if not k.startswith("home")} == {
            k: v for k, v in before.items() if not k.startswith("home")
        }
    finally:
        (base / "ro").chmod(stat.S_IRWXU)
        shutil.rmtree(base)


def test_a_folder_given_where_a_file_is_written(work, capsys):
    base, inputs = work
    folder = base / "x.wav"
    folder.mkdir()
    before = _snapshot(base)
    for argv in (["render", inputs["mid"], str(folder)],
                 ["filter", inputs["wav"], str(folder), "lowpass", "--f0-hz", "99"],
                 ["generate", "--out", str(folder)]):  # fmt: skip
        assert main(argv) == 1
        assert "is a folder, expected a file name" in _one_line(capsys.readouterr().err)
    assert _snapshot(base) == before


def test_output_folders_are_made_only_inside_an_existing_folder(work, capsys):
    """The last folder is created, never a tree: compare writes into a new folder whose
    parent exists."""
    base, _ = work
    out = base / "new"
    assert main(["compare", "butter", "--f0-hz", "1000", "--against", "iir", "--out",
                 str(out)]) == 0  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["compare.png", "compare.txt"]
    capsys.readouterr()


# ----------------------------------------------------------------- inputs that are missing
@pytest.mark.parametrize(
    "argv",
    [
        ["filter", "{base}/none.wav", "{base}/o.wav", "lowpass", "--f0-hz", "100"],
        ["fit", "--input", "{base}/none.wav", "--target", "{wav}", "--out", "{base}/fx"],
        ["fit", "--input", "{wav}", "--target", "{base}/none.wav", "--out", "{base}/fx"],
        ["render", "{base}/none.wav", "{base}/o.wav"],
        ["data", "grid", "{base}/none.wav", "--out", "{base}/o.png"],
        ["generate", "--out", "{base}/o.mid", "--primer", "{base}/none.wav"],
        ["train", "{base}/none.wav", "--out", "{base}/run"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_missing_inputs_say_no_such_file(argv, work, capsys):
    base, inputs = work
    before = _snapshot(base)
    assert main([a.format(base=base, **inputs) for a in argv]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "none.wav: no such file" in line, line
    assert _snapshot(base) == before


# ------------------------------------------------------------- numeric flags at parse time
_BASES = {
    "design": ["design", "lowpass", "--f0-hz", "1000"],
    "filter": ["filter", "{wav}", "{base}/o.wav", "lowpass", "--f0-hz", "100"],
    "inspect": ["data", "inspect", "{data}", "--no-cache", "--quiet"],
    "grid": ["data", "grid", "{mid}", "--out", "{base}/o.png"],
    "compare": ["compare", "butter", "--f0-hz", "1000", "--against", "lstm", "--out", "{base}/c"],
    "fit": ["fit", "--input", "{wav}", "--target", "{wav}", "--out", "{base}/f"],
    "train": ["train", "{data}", "--out", "{base}/run"],
    "generate": ["generate", "--out", "{base}/g.mid"],
    "render": ["render", "{mid}", "{base}/r.wav"],
    "eval": ["eval", "default"],
}
BAD_FLAGS = [
    ("design", "--f0-hz", "0"), ("design", "--f0-hz", "nan"), ("design", "--f1-hz", "-1"),
    ("design", "--sample-rate", "0"), ("design", "--q", "0"), ("design", "--gain-db", "inf"),
    ("design", "--order", "0"), ("design", "--order", "2.5"), ("design", "--btype", "sideways"),
    ("design", "--ripple-db", "0"), ("design", "--attenuation-db", "-3"),
    ("filter", "--sample-rate", "8000"),  # the file's own rate is used: no such flag
    ("filter", "--q", "-1"),
    ("inspect", "--steps-per-quarter", "0"), ("inspect", "--jobs", "0"),
    ("grid", "--steps-per-quarter", "0"),
    ("compare", "--hidden", "0"), ("compare", "--steps", "-1"), ("compare", "--lr", "0"),
    ("compare", "--window", "0"), ("compare", "--warmup", "-1"),
    ("compare", "--batch-size", "0"), ("compare", "--seed", "-1"), ("compare", "--threads", "0"),
    ("fit", "--hidden", "0"), ("fit", "--steps", "0"), ("fit", "--pre-emphasis", "1"),
    ("fit", "--lr", "-1e-3"), ("fit", "--threads", "0"),
    ("train", "--steps", "0"), ("train", "--epochs", "0"), ("train", "--max-minutes", "0"),
    ("train", "--seed", "-1"), ("train", "--time-hidden", "0"), ("train", "--time-layers", "0"),
    ("train", "--pitch-hidden", "0"), ("train", "--pitch-layers", "0"),
    ("train", "--dropout", "1"), ("train", "--dropout", "-0.1"), ("train", "--beat-period", "0"),
    ("train", "--steps-per-quarter", "0"), ("train", "--batch-size", "0"),
    ("train", "--window", "0"), ("train", "--lr", "0"), ("train", "--weight-decay", "-1"),
    ("train", "--lr-decay-steps", "0"), ("train", "--clip", "0"), ("train", "--transpose", "13"),
    ("train", "--transpose", "-1"), ("train", "--patience", "0"),
    ("train", "--checkpoint-every", "0"), ("train", "--checkpoint-minutes", "-1"),
    ("train", "--tempo", "0"), ("train", "--threads", "0"),
    ("generate", "--steps", "0"), ("generate", "--bars", "0"), ("generate", "--seconds", "-1"),
    ("generate", "--max-steps", "0"), ("generate", "--temperature", "0"),
    ("generate", "--temperature", "-1"), ("generate", "--seed", "-1"),
    ("generate", "--min-notes", "-1"), ("generate", "--max-notes", "0"),
    ("generate", "--tempo", "0"), ("generate", "--tempo", "-50"), ("generate", "--threads", "0"),
    ("generate", "--reverb", "-1"), ("generate", "--reverb", "0.01"), ("generate", "--wet", "1.5"),
    ("generate", "--sample-rate", "8000"), ("generate", "--channels", "3"),
    ("generate", "--peak-db", "0"), ("generate", "--max-seconds", "0"),
    ("render", "--wet", "-0.1"), ("render", "--reverb", "31"), ("render", "--peak-db", "-61"),
    ("render", "--max-seconds", "-1"), ("render", "--channels", "0"),
    ("render", "--format", "8"),
    ("eval", "--threads", "0"),
]  # fmt: skip


@pytest.mark.parametrize("command, flag, value", BAD_FLAGS, ids=lambda v: str(v))
def test_out_of_range_flags_are_usage_errors(command, flag, value, work, capsys):
    base, inputs = work
    argv = [a.format(base=base, **inputs) for a in _BASES[command]] + [flag, value]
    before = _snapshot(base)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    line = _one_line(capsys.readouterr().err)
    assert flag in line and "--help" in line, line
    assert _snapshot(base) == before


@pytest.mark.parametrize(
    "argv, words",
    [
        (["design", "lowpass", "--f0-hz", "30000", "--sample-rate", "44100"], "--f0-hz 30000"),
        (["design", "lowpass", "--f0-hz", "300", "--f1-hz", "900"], "--f1-hz"),
        (["design", "butter", "--f0-hz", "900", "--f1-hz", "300", "--btype", "bandpass"],
         "--f1-hz 300: expected above --f0-hz 900"),
        (["generate", "--out", "{base}/g.mid", "--min-notes", "3", "--max-notes", "2"],
         "--max-notes 2: expected at least --min-notes 3"),
        (["generate", "--out", "{base}/g.mid", "--steps", "50", "--max-steps", "10"],
         "--steps 50: 50 new steps, more than --max-steps 10; pass --max-steps 50"),
        (["generate", "--out", "{base}/g.flac", "--format", "float"], "--format"),
        (["generate", "--out", "{base}/g.txt"], "expected a .mid output path"),
        (["design", "lowpass", "--f0-hz", "100", "--plot", "{base}/r"], "expected an image"),
        (["data", "grid", "{mid}", "--out", "{base}/r.xyz"], "expected an image"),
        (["render", "{mid}", "{base}/r.txt"], "expected an audio file name"),
        (["compare", "butter", "--f0-hz", "100", "--against", "lstm", "--steps", "0", "--out",
          "{base}/c"], "--steps 0"),
    ],
)  # fmt: skip
def test_flags_checked_together_fail_before_any_work(argv, words, work, capsys):
    base, inputs = work
    before = _snapshot(base)
    assert main([a.format(base=base, **inputs) for a in argv]) == 1
    assert words in _one_line(capsys.readouterr().err)
    assert _snapshot(base) == before


# ---------------------------------------------------------------------- help and version
def _subparsers(parser):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for sub in action.choices.values():
                yield sub
                yield from _subparsers(sub)


def test_help_shows_every_default_and_no_markup():
    parser = build_parser()
    for p in [parser, *_subparsers(parser)]:
        text = p.format_help()
        assert "``" not in text and ":class:" not in text and ":func:" not in text, p.prog
        formatter = p._get_formatter()
        for action in p._actions:
            if not action.option_strings or action.dest in ("help", "version"):
                continue
            shown = formatter._get_help_string(action) or ""
            assert "default" in shown, f"{p.prog} {action.option_strings[0]}: {shown!r}"


def test_version(capsys):
    import dsp_rnn

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"dsp-rnn {dsp_rnn.__version__}"


# ------------------------------------------------------------- generate: seed, length, bar
@pytest.fixture
def tiny_model(tmp_path, monkeypatch):
    import torch

    import dsp_rnn.training
    from dsp_rnn.gridrnn import GridRNN, GridRNNConfig

    monkeypatch.undo()  # the real loader and sampler
    torch.manual_seed(0)
    model = GridRNN(GridRNNConfig(time_hidden=8, time_layers=1, pitch_hidden=6, pitch_layers=1))
    return dsp_rnn.training.save_model(tmp_path / "m", model, {})


def test_generate_seed_is_random_printed_and_reproducible(tiny_model, tmp_path, capsys):
    base = ["generate", "--model", str(tiny_model), "--steps", "6", "--temperature", "2"]
    assert main(base + ["--out", str(tmp_path / "a.mid")]) == 0
    out = capsys.readouterr().out
    (line,) = [ln for ln in out.splitlines() if ln.startswith("seed ")]
    seed = int(line.split()[1].rstrip(":"))
    assert f"pass --seed {seed} to make this piece again" in line
    assert main(base + ["--out", str(tmp_path / "b.mid"), "--seed", str(seed)]) == 0
    assert "seed " not in capsys.readouterr().out  # a given seed is not repeated back
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()


def test_generate_refuses_long_pieces_before_sampling(tiny_model, tmp_path, capsys, monkeypatch):
    import dsp_rnn.gridrnn.sampler

    def forbidden(*args, **kwargs):
        raise AssertionError("sampled")

    monkeypatch.setattr(dsp_rnn.gridrnn.sampler, "sample", forbidden)
    out = tmp_path / "long.mid"
    argv = ["generate", "--model", str(tiny_model), "--out", str(out), "--bars", "100000"]
    assert main(argv) == 1
    line = _one_line(capsys.readouterr().err)
    assert "--bars 100000: 400000 new steps, more than --max-steps 10000" in line, line
    assert not out.exists()


def test_sampler_reports_progress_per_step(tiny_model):
    from dsp_rnn.gridrnn.sampler import sample
    from dsp_rnn.training import load_model

    model, _ = load_model(tiny_model)
    seen: list[tuple[int, int]] = []
    (grid,) = sample(model, 5, seed=1, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 5) for i in range(1, 6)] and grid.n_steps == 5


# --------------------------------------------------------------- a fresh process, for real
@pytest.mark.parametrize(
    "args, code",
    [
        (["generate", "--tempo", "-50", "--out", "x.mid"], 2),
        (["generate", "--out", "nodir/x.wav"], 1),
        (["filter", "none.wav", "o.wav", "lowpass", "--f0-hz", "100"], 1),
    ],
)
def test_a_fresh_process_prints_one_line_and_exits(args, code, tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True,
                          text=True, cwd=tmp_path, check=False)  # fmt: skip
    assert proc.returncode == code and proc.stdout == ""
    _one_line(proc.stderr)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_in_any_command_is_one_line_and_exit_130(monkeypatch, capsys):
    import dsp_rnn.cli as cli
    import dsp_rnn.cli.filters

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(dsp_rnn.cli.filters, "design_from_args", interrupted)  # mid-command
    assert cli.main(["design", "lowpass", "--f0-hz", "1000"]) == 130
    assert _one_line(capsys.readouterr().err) == "dsp-rnn design: interrupted"
