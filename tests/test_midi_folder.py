"""MidiFolder (music.folder): damaged files, the grid cache, content splits, windows, scans."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dsp_rnn.errors import DspRnnError, InputError, MidiError
from dsp_rnn.music.demo_midi import make_demo_midi
from dsp_rnn.music.folder import MidiFolder
from dsp_rnn.music.midi import parse_midi_bytes

from .midi_factory import NOTE, clean_midi, raw_midi, write_damaged_folder


def test_folder_with_damaged_files_loads_the_good_ones(tmp_path):
    good = [clean_midi(tempo_bpm=t) for t in (80, 100, 120)]
    expect = write_damaged_folder(tmp_path / "messy", good)
    folder = MidiFolder(tmp_path / "messy", cache_dir=None)
    used = {p.name for p in folder.paths}
    skipped = {s.path.name: s.reason for s in folder.skipped}
    assert {n for n, e in expect.items() if e in ("used", "repaired")} == used
    assert {n for n, e in expect.items() if e == "skipped"} == set(skipped)
    assert len(skipped) >= 10 and all(len(r) > 5 for r in skipped.values())
    assert "no MThd" in skipped["text.mid"] and "RIFF" in skipped["wave_named_mid.mid"]
    assert "type 2" in skipped["type2.mid"] and "limit" in skipped["huge_ticks.mid"]
    assert {p.name for p in folder.warnings} >= {"truncated_track.mid", "data_byte_above_127.mid"}


def test_cache_reload_equals_first_load_and_survives_damage(tmp_path):
    make_demo_midi(tmp_path / "corpus", n_pieces=6, seed=1)
    first = MidiFolder(tmp_path / "corpus", cache_dir=tmp_path / "cache")
    entries = sorted((tmp_path / "cache").rglob("*.grid"))
    (pack,) = (tmp_path / "cache").rglob("*.pack")
    assert len(entries) == 6
    again = MidiFolder(tmp_path / "corpus", cache_dir=tmp_path / "cache")  # from the pack
    assert again.grids == first.grids and again.splits == first.splits
    assert again.paths == first.paths and again.warnings == first.warnings
    # reloaded grids are views of one memory-mapped pack: writable, private, independent
    before = pack.read_bytes()
    g0, g1 = again.grids[0], again.grids[1]
    g0.play[:] = True
    g0.velocity[:] = 1
    assert g1 == first.grids[1] and pack.read_bytes() == before
    assert MidiFolder(tmp_path / "corpus", cache_dir=tmp_path / "cache").grids == first.grids
    pack.write_bytes(b"garbage")  # damaged pack and entry: parsed again, same result
    entries[0].write_bytes(b"garbage")
    second = MidiFolder(tmp_path / "corpus", cache_dir=tmp_path / "cache")
    assert second.grids == first.grids and second.splits == first.splits
    # a changed file is noticed: the pack no longer matches, that file is parsed again
    path = first.paths[2]
    (other,) = make_demo_midi(tmp_path / "other", n_pieces=1, seed=9)
    path.write_bytes(other.read_bytes())
    third = MidiFolder(tmp_path / "corpus", cache_dir=tmp_path / "cache")
    assert third.grids[2] != first.grids[2] and third.grids[3] == first.grids[3]
    parallel = MidiFolder(tmp_path / "corpus", cache_dir=None, jobs=2)
    assert parallel.grids == third.grids


def test_split_follows_content_not_names(tmp_path):
    paths = make_demo_midi(tmp_path / "a", n_pieces=12, seed=2)
    folder = MidiFolder(tmp_path / "a", cache_dir=None, valid_fraction=0.3)
    by_content = {p.read_bytes(): s for p, s in zip(folder.paths, folder.splits, strict=True)}
    for i, p in enumerate(paths):  # rename everything, shuffle the order
        p.rename(p.with_name(f"zz_{(7 * i) % 12:02d}.mid"))
    renamed = MidiFolder(tmp_path / "a", cache_dir=None, valid_fraction=0.3)
    assert {
        p.read_bytes(): s for p, s in zip(renamed.paths, renamed.splits, strict=True)
    } == by_content
    assert 0 < renamed.splits.count("valid") < 12


def test_windows_are_seeded_and_shaped(tmp_path):
    make_demo_midi(tmp_path, n_pieces=4, seed=4)
    folder = MidiFolder(tmp_path, cache_dir=None, valid_fraction=0.0)
    a = next(folder.windows(split="train", length=32, batch_size=3, seed=5, transpose=3))
    b = next(folder.windows(split="train", length=32, batch_size=3, seed=5, transpose=3))
    assert a.shape == (3, 32, 88, 2) and np.array_equal(a, b)
    assert a[..., 0].sum() > 0 and np.all(a[..., 1] <= a[..., 0])


def test_missing_folder_and_limits_are_clear(tmp_path):
    with pytest.raises(InputError, match="no such"):
        MidiFolder(tmp_path / "nope", cache_dir=None)
    with pytest.raises(MidiError, match="limit"):
        parse_midi_bytes(raw_midi([NOTE * 50 + b"\x00\xff\x2f\x00"]),
                         limits=__import__("dsp_rnn.music.midi", fromlist=["Limits"]).Limits(
                             max_notes=10))  # fmt: skip
    assert issubclass(MidiError, DspRnnError) and issubclass(MidiError, ValueError)


def test_scan_skips_symlinked_folders_and_orders_depth_first(tmp_path):
    make_demo_midi(tmp_path / "corpus" / "b", n_pieces=2, seed=1)
    make_demo_midi(tmp_path / "corpus" / "a", n_pieces=2, seed=2)
    (tmp_path / "corpus" / "a" / "loop").symlink_to(tmp_path / "corpus")  # would never end
    folder = MidiFolder(tmp_path / "corpus", cache_dir=None)
    names = [p.relative_to(tmp_path / "corpus").as_posix() for p in folder.paths]
    assert names == sorted(names) and len(names) == 4
    assert all(isinstance(p, Path) for p in folder.paths) and folder.paths is folder.paths
