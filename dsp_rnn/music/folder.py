"""MidiFolder: a folder of real, messy MIDI files as NoteGrids, with a content-hash cache.

Every file is either used (maybe read tolerantly, with its warnings kept) or skipped with a
one-line reason; a bad file never stops the load. Parsed grids are cached on disk keyed by
the file's content hash, the parser version and the grid options (a binary record, no
pickle); a per-folder pack holds every result in one file while the files' sizes and
modification times are unchanged, so a reload reads one file. Parsing spreads over worker
processes.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import stat
import struct
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from dsp_rnn._atomic import write_bytes
from dsp_rnn.errors import DspRnnError, InputError
from dsp_rnn.music.grid import PIANO_KEYS, PIANO_LOW, NoteGrid
from dsp_rnn.music.midi import parse_midi_bytes

__all__ = [
    "MidiFolder",
    "Skipped",
    "PARSER_VERSION",
    "split_of",
    "split_position",
    "default_cache_dir",
    "MIDI_EXTENSIONS",
]

PARSER_VERSION = 2  # bumped whenever parsing changes what a file reads as
_PACK_MAGIC = b"DSPKv3\0\0"  # 8 bytes; older packs are rebuilt from the per-file cache
MIDI_EXTENSIONS = (".mid", ".midi", ".kar", ".smf")
"""File name endings read as MIDI (lower case) by :class:`MidiFolder` and the folder tools."""


class Skipped(NamedTuple):
    """A file or folder that was not used (by :class:`MidiFolder` or
    :class:`~dsp_rnn.music.AudioFolder`): unpacks as ``(path, reason)``, prints as
    ``path: reason``."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dsp_rnn" / "grids"


def split_position(digest: str) -> float:
    """Where a SHA-1 hex digest falls in ``[0, 1]`` (its first 32 bits): the rule of
    :func:`split_of`.

    Example:
        >>> split_position("00000000"), split_position("ffffffff")
        (0.0, 1.0)
    """
    return int(digest[:8], 16) / 0xFFFFFFFF


def split_of(digest: str, valid_fraction: float) -> str:
    """Deterministic split from a content hash: the same bytes always land in one split
    (``"valid"`` when :func:`split_position` ``< valid_fraction``, else ``"train"``)."""
    return "valid" if split_position(digest) < valid_fraction else "train"


def _is_midi_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in MIDI_EXTENSIONS


def _options_key(spq: int, low: int, n: int, sustain: bool, drums: bool) -> str:
    return f"v{PARSER_VERSION}-spq{spq}-lo{low}-n{n}-sus{int(sustain)}-dr{int(drums)}"


def _entry(grid: bytes, warnings: list[str]) -> bytes:
    meta = json.dumps(warnings).encode()
    return struct.pack("<I", len(meta)) + meta + grid


def _read_entry(data: bytes | memoryview) -> tuple[memoryview, list[str]]:
    (n,) = struct.unpack_from("<I", data, 0)
    return memoryview(data)[4 + n :], json.loads(bytes(data[4 : 4 + n]))


def _atomic_write(path: Path, data: bytes) -> None:
    """A cache file: the cache's own folder is made here; not synced (a lost entry is
    parsed again)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, data, overwrite=True, error=DspRnnError, sync=False)


def _parse_one(args: tuple) -> tuple[str, str, bytes | None, list[str], str | None]:
    """Worker: (path, digest, grid record or None, warnings, error)."""
    path, spq, low, n, sustain, drums, cache = args
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return path, "", None, [], f"cannot read ({exc.strerror or exc})"
    digest = hashlib.sha1(data).hexdigest()
    cfile = Path(cache) / f"{digest}.grid" if cache else None
    if cfile is not None and cfile.exists():
        try:
            cached, warnings = _read_entry(cfile.read_bytes())
            NoteGrid.from_bytes(cached)  # validates the record
            return path, digest, bytes(cached), warnings, None
        except Exception:  # damaged cache entry: parse again
            pass
    try:
        score = parse_midi_bytes(data, source=path, sustain=sustain,
                                 drums="keep" if drums else "drop")  # fmt: skip
        grid = NoteGrid.from_score(score, steps_per_quarter=spq, low_pitch=low, n_pitches=n,
                                   include_drums=False)  # fmt: skip
    except DspRnnError as exc:
        return path, digest, None, [], str(exc).removeprefix(f"{path}: ")
    except Exception as exc:  # pragma: no cover - last line of defence, never stop a folder
        return path, digest, None, [], f"unexpected {type(exc).__name__}: {exc}"
    if grid.n_steps == 0 or not grid.play.any():
        return path, digest, None, score.warnings, "no notes in the pitch range"
    record = grid.to_bytes()
    if cfile is not None:
        _atomic_write(cfile, _entry(record, score.warnings))
    return path, digest, record, score.warnings, None


@dataclass
class MidiFolder:
    """All MIDI files under ``root`` (recursive) as NoteGrids.

    Args:
        root: a folder (or a single file).
        steps_per_quarter: grid resolution (default 4, sixteenth notes).
        low_pitch, n_pitches: pitch range (default the 88 piano keys).
        sustain: extend notes under the sustain pedal.
        drums: keep drum notes in the grids (default False: they are not pitches).
        valid_fraction: share of files (by content hash) in the validation split.
        cache_dir: where parsed grids are kept (None = no cache); default
            ``$XDG_CACHE_HOME/dsp_rnn/grids``.
        jobs: worker processes for parsing (1 = in this process).

    Attributes:
        grids, paths (property), splits, warnings (per used file), skipped (``Skipped``
        list).
    """

    root: str | Path
    steps_per_quarter: int = 4
    low_pitch: int = PIANO_LOW
    n_pitches: int = PIANO_KEYS
    sustain: bool = False
    drums: bool = False
    valid_fraction: float = 0.1
    cache_dir: str | Path | None = field(default_factory=default_cache_dir)
    jobs: int = 1
    progress: bool = False
    grids: list[NoteGrid] = field(init=False, default_factory=list)
    _path_names: list[str] = field(init=False, default_factory=list, repr=False)
    _paths: list[Path] = field(init=False, default_factory=list, repr=False)
    splits: list[str] = field(init=False, default_factory=list)
    warnings: dict[Path, list[str]] = field(init=False, default_factory=dict)
    skipped: list[Skipped] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        root = Path(self.root)
        if not root.exists():
            raise InputError(f"{root}: no such file or folder")
        candidates = self._scan(root)
        stats = [(p, st.st_size, st.st_mtime_ns) for p, st in candidates]
        key = _options_key(self.steps_per_quarter, self.low_pitch, self.n_pitches,
                           self.sustain, self.drums)  # fmt: skip
        cache = Path(self.cache_dir) / key if self.cache_dir else None
        pack = (cache / "folders" / f"{hashlib.sha1(str(root.resolve()).encode()).hexdigest()}"
                ".pack") if cache else None  # fmt: skip
        results = self._from_pack(pack, stats) if pack is not None else None
        if results is None:
            tasks = [(p, self.steps_per_quarter, self.low_pitch, self.n_pitches, self.sustain,
                      self.drums, str(cache) if cache else "") for p, _, _ in stats]  # fmt: skip
            if self.jobs > 1 and len(tasks) > 1:
                with ProcessPoolExecutor(self.jobs) as pool:
                    results = list(pool.map(_parse_one, tasks, chunksize=8))
            else:
                results = [_parse_one(t) for t in self._progress(tasks)]
            # records parsed now or read from the per-file cache: decode each once
            results = [
                (path, digest, rec if rec is None else NoteGrid.from_bytes(rec, source=path),
                 warns, error)
                for path, digest, rec, warns, error in results
            ]  # fmt: skip
            if pack is not None:
                self._write_pack(pack, stats, results)
        for (p, _), (_, digest, grid, warns, error) in zip(candidates, results, strict=True):
            if error is not None:
                self.skipped.append(Skipped(Path(p), error))
                continue
            self.grids.append(grid)
            self._path_names.append(p)
            self.splits.append(split_of(digest, self.valid_fraction))
            if warns:
                self.warnings[Path(p)] = warns

    @property
    def paths(self) -> list[Path]:
        """The used files, one per grid (made on first use from the scan's names)."""
        if len(self._paths) != len(self._path_names):
            self._paths = [Path(p) for p in self._path_names]
        return self._paths

    def _write_pack(self, pack: Path, stats: list, results: list) -> None:
        """One file with every result (grids decoded) of this folder, valid while sizes and
        mtimes hold: a JSON index (path, size, mtime, digest, error, warnings, grid header
        per file), then every grid's bit-packed play and onset rows as one array, then every
        velocity row as another, so a reload unpacks the whole folder in one call."""
        rows, bits, vels = [], [], []
        for (path, size, mtime), (_, digest, g, warns, error) in zip(stats, results, strict=True):
            head = None
            if g is not None:
                if g.n_pitches != self.n_pitches:  # pragma: no cover - from_score guarantees it
                    return
                head = [g.low_pitch, g.steps_per_quarter, *g.time_signature, g.n_steps,
                        g.tempo_bpm]  # fmt: skip
                bits += [np.packbits(g.play, axis=1), np.packbits(g.onset, axis=1)]
                vels.append(g.velocity)
            rows.append([path, size, mtime, digest, error, warns, head])
        index = json.dumps({"n_pitches": self.n_pitches, "files": rows}).encode()
        blob_bits = np.concatenate(bits).tobytes() if bits else b""
        blob_vel = np.concatenate(vels).tobytes() if vels else b""
        _atomic_write(pack, _PACK_MAGIC + struct.pack("<Q", len(index)) + index + blob_bits
                      + blob_vel)  # fmt: skip

    @staticmethod
    def _from_pack(pack: Path, stats: list) -> list | None:
        """The pack's results (with NoteGrids in place of records), or None when it is
        missing, damaged or out of date. The file is memory-mapped copy-on-write, the play
        and onset planes of the whole folder are unpacked in one call, and every grid's
        arrays are views (writable, private to this load)."""
        try:
            with open(pack, "rb") as fh:
                data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
            if data[:8] != _PACK_MAGIC:
                return None
            (n,) = struct.unpack_from("<Q", data, 8)
            head = json.loads(data[16 : 16 + n])
            rows, n_p = head["files"], int(head["n_pitches"])
            if [tuple(r[:3]) for r in rows] != stats:
                return None  # a file was added, removed or changed: parse (per-file cache)
            steps = sum(r[6][4] for r in rows if r[6] is not None)
            packed = (n_p + 7) // 8
            start = 16 + n
            if len(data) != start + 2 * steps * packed + steps * n_p:
                return None
            bits = np.frombuffer(data, np.uint8, 2 * steps * packed, start)
            planes = np.unpackbits(bits.reshape(-1, packed), axis=1, count=n_p).view(bool)
            vel = np.frombuffer(data, np.uint8, steps * n_p, start + 2 * steps * packed)
            vel = vel.reshape(steps, n_p)
        except (OSError, ValueError, KeyError, TypeError, struct.error):
            return None
        results: list = []
        r2 = r1 = 0
        for path, _, _, digest, error, warns, g in rows:
            if g is None:
                results.append((path, digest, None, warns, error))
                continue
            low, spq, num, den, n_t, tempo = g
            grid = NoteGrid(planes[r2 : r2 + n_t], planes[r2 + n_t : r2 + 2 * n_t],
                            vel[r1 : r1 + n_t], low, spq, tempo, (num, den), path)  # fmt: skip
            results.append((path, digest, grid, warns, None))
            r2 += 2 * n_t
            r1 += n_t
        return results

    def _progress(self, tasks):
        if not self.progress:
            return tasks
        from tqdm import tqdm

        return tqdm(tasks, desc="reading MIDI", unit="file")

    def _scan(self, root: Path) -> list[tuple[str, os.stat_result]]:
        """MIDI-named files under ``root``, depth first in name order (``os.scandir``:
        one ``stat`` per candidate, no Path objects)."""
        if root.is_file():
            return [(str(root), root.stat())]
        found = []
        stack = [str(root)]
        while stack:
            with os.scandir(stack.pop()) as it:
                entries = sorted(it, key=lambda e: e.name)
            subdirs = []
            for e in entries:
                midi = _is_midi_name(e.name)
                if not midi:
                    if e.is_dir(follow_symlinks=False):  # as os.walk: no symlink loops
                        subdirs.append(e.path)
                    continue
                st = e.stat()
                if not stat.S_ISREG(st.st_mode):
                    self.skipped.append(Skipped(Path(e.path), "not a regular file"))
                    continue
                found.append((e.path, st))
            stack.extend(reversed(subdirs))
        return found

    def __len__(self) -> int:
        return len(self.grids)

    def split(self, name: str) -> list[NoteGrid]:
        """The grids of one split, ``"train"`` or ``"valid"``."""
        if name not in ("train", "valid"):
            raise InputError(f"split must be 'train' or 'valid', got {name!r}")
        return [g for g, s in zip(self.grids, self.splits, strict=True) if s == name]

    def windows(self, *, split: str, length: int, batch_size: int, seed: int = 0,
                transpose: int = 0) -> Iterator[np.ndarray]:  # fmt: skip
        """Random windows for TBPTT: uint8 batches ``(batch, length, n_pitches, 2)`` of
        (play, onset), each window transposed by a random shift in ``[-transpose, transpose]``
        when that keeps it in range. Endless; seeded."""
        grids = [g for g in self.split(split) if g.n_steps >= 2]
        if not grids:
            raise InputError(f"no {split} pieces with at least 2 steps")
        rng = np.random.default_rng(seed)
        while True:
            batch = np.zeros((batch_size, length, self.n_pitches, 2), np.uint8)
            for b in range(batch_size):
                g = grids[int(rng.integers(len(grids)))]
                start = int(rng.integers(max(1, g.n_steps - length + 1)))
                play = g.play[start : start + length]
                onset = g.onset[start : start + length]
                shift = int(rng.integers(-transpose, transpose + 1)) if transpose else 0
                cols = np.flatnonzero(play.any(0))
                if (
                    shift
                    and len(cols)
                    and 0 <= cols[0] + shift
                    and cols[-1] + shift < self.n_pitches
                ):
                    play, onset = np.roll(play, shift, 1), np.roll(onset, shift, 1)
                batch[b, : len(play), :, 0] = play
                batch[b, : len(play), :, 1] = onset
            yield batch

    def summary(self) -> str:
        steps = sum(g.n_steps for g in self.grids)
        n_valid = self.splits.count("valid")
        return (f"{len(self.grids)} usable file(s) ({len(self.grids) - n_valid} train, "
                f"{n_valid} valid), {steps} steps; {len(self.skipped)} skipped, "
                f"{len(self.warnings)} read with repairs")  # fmt: skip
