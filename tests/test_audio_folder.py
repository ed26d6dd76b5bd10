"""AudioFolder (music.audio_folder): loading, bad files, content splits, batches, streams."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from dsp_rnn.errors import AudioError, InputError
from dsp_rnn.music.audio import read_audio
from dsp_rnn.music.audio_folder import AudioFolder
from dsp_rnn.music.folder import split_of

from .conftest import audio_signal, bad_audio_files, sha1_of, write_sound


# ------------------------------------------------------------------------------- AudioFolder
def _good_files(folder: Path) -> dict[str, Path]:
    (folder / "sub" / "deeper").mkdir(parents=True)
    return {
        "a": write_sound(folder / "a.wav", audio_signal(20, 16000), 16000),
        "b": write_sound(folder / "sub" / "b.FLAC", audio_signal(21, 11025, 2), 22050),
        "c": write_sound(
            folder / "sub" / "deeper" / "c.wav", audio_signal(22, 44100), 44100, "FLOAT"
        ),
        "d": write_sound(folder / "d.ogg", audio_signal(23, 8000), 16000, None),
    }


def test_folder_loads_good_files_and_lists_every_bad_one(tmp_path):
    good = _good_files(tmp_path)
    expected = bad_audio_files(tmp_path / "sub")
    expected = {f"sub/{k}": v for k, v in expected.items()}
    (tmp_path / "notes.txt").write_text("hello")
    expected["notes.txt"] = "file ending '.txt' is not one of"
    write_sound(tmp_path / "short.wav", audio_signal(24, 100), 16000)
    expected["short.wav"] = "shorter than one window (100 samples at 16000 Hz < window=1024)"
    shutil.copy(good["a"], tmp_path / "sub" / "zz_copy.wav")
    expected["sub/zz_copy.wav"] = f"same content as {good['a']}"
    before = {p: sha1_of(p) for p in tmp_path.rglob("*") if p.is_file()}

    ds = AudioFolder(tmp_path, sample_rate=16000, window=1024, hop=512)

    assert set(ds.files) == set(good.values()) and len(ds) == 4
    reasons = {str(p.relative_to(tmp_path)): r for p, r in ds.skipped}
    assert set(reasons) == set(expected)
    for name, word in expected.items():
        assert word in reasons[name], (name, reasons[name])
        assert "\n" not in reasons[name] and not reasons[name].startswith(str(tmp_path))
    assert all(str(s) == f"{s.path}: {s.reason}" for s in ds.skipped)
    # nothing the user made was changed
    assert before == {p: sha1_of(p) for p in tmp_path.rglob("*") if p.is_file()}
    # audio is resampled to 16 kHz and windowed
    lengths = {k: ds.audio(p).shape[-1] for k, p in good.items()}
    assert lengths == {"a": 16000, "b": 8000, "c": 16000, "d": 8000}
    s = ds.stats()
    assert s["files"] == 4 and s["skipped"] == len(expected)
    assert s["seconds"] == pytest.approx(3.0)
    assert s["native_sample_rates"] == {16000: 2, 22050: 1, 44100: 1}
    n_windows = sum((n - 1024) // 512 + 1 for n in lengths.values())
    assert s["train_windows"] + s["valid_windows"] == n_windows
    assert ds.summary().startswith(f"4 usable file(s) ({s['train_files']} train")
    torch.testing.assert_close(ds.audio(good["b"]), read_audio(good["b"], sample_rate=16000)[0])


def test_folder_with_no_usable_file_says_why(tmp_path):
    expected = bad_audio_files(tmp_path)
    with pytest.raises(AudioError) as info:
        AudioFolder(tmp_path, sample_rate=16000, window=256)
    msg = str(info.value)
    assert msg.startswith(f"{tmp_path}: no usable audio file") and "8 skipped" in msg
    for name in sorted(expected):
        assert f"{tmp_path / name}: " in msg
    with pytest.raises(InputError, match="does not exist"):
        AudioFolder(tmp_path / "nope", sample_rate=16000, window=256)
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(AudioError, match="found nothing"):
        AudioFolder(empty, sample_rate=16000, window=256)


def _many_files(folder: Path, names: list[str], seed: int) -> dict[str, Path]:
    """One distinct file per name (content fixed by its position), written under folder."""
    out = {}
    for i, name in enumerate(names):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        out[name] = write_sound(path, audio_signal(seed + i, 1200), 8000)
    return out


def test_split_is_by_content_not_by_name_or_order(tmp_path):
    names = [f"f{i:02d}.wav" for i in range(24)]
    a = _many_files(tmp_path / "a", names, seed=100)
    # the same contents, renamed and scattered over subfolders in another order
    renamed = [f"{'xyz'[i % 3]}/{(97 * i) % 31:02d}_renamed.wav" for i in range(24)]
    b = _many_files(tmp_path / "b", renamed, seed=100)
    ds_a = AudioFolder(tmp_path / "a", sample_rate=8000, window=256, valid_fraction=0.3)
    ds_b = AudioFolder(tmp_path / "b", sample_rate=8000, window=256, valid_fraction=0.3)
    valid_a = {ds_a.hashes[p] for p in ds_a.split("valid")}
    valid_b = {ds_b.hashes[p] for p in ds_b.split("valid")}
    assert valid_a == valid_b and 0 < len(valid_a) < 24
    for p in ds_a.files:  # the MIDI folders' rule, file by file
        assert (p in ds_a.split("valid")) == (split_of(sha1_of(p), 0.3) == "valid")
    assert sorted(ds_a.split("train") + ds_a.split("valid")) == sorted(a.values())
    assert len(ds_b.split("train")) + len(ds_b.split("valid")) == len(b)
    with pytest.raises(InputError):
        ds_a.split("test")


def test_small_folder_still_gets_both_splits(tmp_path):
    files = _many_files(tmp_path, ["one.wav", "two.wav", "three.wav"], seed=7)
    ds = AudioFolder(tmp_path, sample_rate=8000, window=256, valid_fraction=0.1)
    assert len(ds.split("valid")) == 1 and len(ds.split("train")) == 2
    buckets = {p: int(sha1_of(p)[:8], 16) for p in files.values()}
    natural = [p for p, b in buckets.items() if b / 0xFFFFFFFF < 0.1]
    assert ds.split("valid") == (natural or [min(buckets, key=buckets.get)])
    only_train = AudioFolder(tmp_path, sample_rate=8000, window=256, valid_fraction=0.0)
    assert only_train.split("valid") == [] and only_train.stats()["valid_windows"] == 0
    with pytest.raises(InputError, match="no windows"):
        next(only_train.iter_batches(2, split="valid"))


def test_batches_cover_each_window_once_and_repeat_under_a_seed(tmp_path):
    _many_files(tmp_path, [f"{i}.wav" for i in range(5)], seed=40)
    ds = AudioFolder(tmp_path, sample_rate=8000, window=300, hop=200, valid_fraction=0.2)
    n = ds.n_windows("train")
    assert n == len(ds.split("train")) * ((1200 - 300) // 200 + 1)
    batches = list(ds.iter_batches(4, split="train", seed=3))
    assert [b.shape for b in batches] == [(4, 300)] * (n // 4) + ([(n % 4, 300)] if n % 4 else [])
    assert all(b.dtype == torch.float32 for b in batches)
    again = list(ds.iter_batches(4, split="train", seed=3))
    assert all(torch.equal(x, y) for x, y in zip(batches, again, strict=True))
    other = torch.cat(list(ds.iter_batches(4, split="train", seed=4)))
    ordered = torch.cat(list(ds.iter_batches(4, split="train", shuffle=False)))
    assert not torch.equal(torch.cat(batches), ordered)

    # the same multiset of windows in every order: compare sorted rows
    def rows(t):
        return sorted(map(tuple, t.tolist()))

    assert rows(torch.cat(batches)) == rows(other) == rows(ordered)
    first = ds.audio(ds.split("train")[0])
    assert torch.equal(ordered[0], first[:300]) and torch.equal(ordered[1], first[200:500])
    dropped = list(ds.iter_batches(4, split="train", seed=3, drop_last=True))
    assert len(dropped) == n // 4 and all(b.shape[0] == 4 for b in dropped)


def test_streams_continue_row_by_row_for_tbptt(tmp_path):
    _many_files(tmp_path, [f"{i}.wav" for i in range(4)], seed=60)
    ds = AudioFolder(tmp_path, sample_rate=8000, window=100, valid_fraction=0.0)
    chunks = list(ds.iter_streams(3, seed=1))
    lane = (4 * 1200 // 3) // 100 * 100
    assert len(chunks) == lane // 100 and all(c.shape == (3, 100) for c in chunks)
    lanes = torch.cat(chunks, dim=1)  # (3, lane): each row is one contiguous stream
    order = torch.randperm(4, generator=torch.Generator().manual_seed(1)).tolist()
    joined = torch.cat([ds.audio(ds.files[i]) for i in order])
    assert torch.equal(lanes, joined[: 3 * lane].reshape(3, lane))
    with pytest.raises(InputError, match="too few"):
        next(ds.iter_streams(100))


def test_folder_without_mixdown_keeps_channels(tmp_path):
    write_sound(tmp_path / "a.wav", audio_signal(70, 2000, 2), 8000)
    write_sound(tmp_path / "b.wav", audio_signal(71, 2000, 2), 8000)
    write_sound(tmp_path / "c.wav", audio_signal(72, 2000, 1), 8000)
    ds = AudioFolder(tmp_path, sample_rate=8000, window=500, mono=False, valid_fraction=0.0)
    assert [p.name for p in ds.files] == ["a.wav", "b.wav"]
    assert ds.skipped[0].reason.startswith("has 1 channel(s), expected 2")
    batch = next(ds.iter_batches(3, shuffle=False))
    assert batch.shape == (3, 2, 500)
    assert torch.equal(batch[1], ds.audio(tmp_path / "a.wav")[:, 500:1000])
