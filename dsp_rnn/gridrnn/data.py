"""Training data for GridRNNs: pieces as uint8 arrays, seeded TBPTT windows, padded batches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dsp_rnn.errors import InputError
from dsp_rnn.music.grid import NoteGrid

__all__ = ["Corpus", "load_corpus", "grid_to_array", "sample_windows", "padded_batches"]


def grid_to_array(grid: NoteGrid, *, low_pitch: int, n_pitches: int) -> np.ndarray:
    """``(steps, n_pitches, 2)`` uint8 (play, onset) over the given pitch range.

    >>> g = NoteGrid.empty(3); g.play[1, 39] = g.onset[1, 39] = True
    >>> grid_to_array(g, low_pitch=21, n_pitches=88)[1, 39].tolist()
    [1, 1]
    """
    if grid.low_pitch != low_pitch or grid.n_pitches != n_pitches:
        grid = grid.with_range(low_pitch, n_pitches)
    return np.stack([grid.play, grid.onset], -1).astype(np.uint8)


@dataclass
class Corpus:
    """Train and validation pieces plus where they came from.

    Attributes:
        train, valid: lists of ``(steps, pitch, 2)`` uint8 arrays.
        steps_per_quarter: the grid resolution.
        articulation: whether onsets carry information beyond play (False for JSB).
        summary: one line for logs and model cards.
        skipped: lines naming the files that could not be used, with reasons.
    """

    train: list[np.ndarray]
    valid: list[np.ndarray]
    steps_per_quarter: int
    articulation: bool
    summary: str
    skipped: list[str]


def load_corpus(
    path: str | Path,
    *,
    low_pitch: int = 21,
    n_pitches: int = 88,
    steps_per_quarter: int | None = None,
    valid_split: str = "valid",
    cache_dir: str | Path | None = None,
) -> Corpus:
    """A JSB JSON file (``*.json``) or a folder of MIDI files as a :class:`Corpus`.

    A MIDI folder is split by content hash (see :class:`~dsp_rnn.music.folder.MidiFolder`);
    broken files are skipped and listed. Raises :class:`InputError` when nothing is usable.
    """
    from dsp_rnn.music.folder import MidiFolder
    from dsp_rnn.music.jsb import jsb_steps_per_quarter, load_jsb

    p = Path(path)
    if p.suffix.lower() == ".json":
        spq = steps_per_quarter or jsb_steps_per_quarter(p)
        jsb_train = load_jsb(p, "train", steps_per_quarter=spq)
        jsb_valid = load_jsb(p, valid_split, steps_per_quarter=spq)
        arr = [grid_to_array(g, low_pitch=low_pitch, n_pitches=n_pitches) for g in jsb_train]
        val = [grid_to_array(g, low_pitch=low_pitch, n_pitches=n_pitches) for g in jsb_valid]
        summary = (f"JSB {p.name}: {len(arr)} train pieces ({sum(map(len, arr))} steps), "
                   f"{len(val)} {valid_split} pieces")  # fmt: skip
        return Corpus(arr, val, spq, False, summary, [])
    folder = MidiFolder(p, steps_per_quarter=steps_per_quarter or 4, low_pitch=low_pitch,
                        n_pitches=n_pitches, cache_dir=cache_dir)  # fmt: skip
    train = [grid_to_array(g, low_pitch=low_pitch, n_pitches=n_pitches)
             for g in folder.split("train")]  # fmt: skip
    valid = [grid_to_array(g, low_pitch=low_pitch, n_pitches=n_pitches)
             for g in folder.split("valid")]  # fmt: skip
    if not train and valid:  # tiny folders: train on everything rather than nothing
        train, valid = valid, []
    if not train:
        raise InputError(f"{p}: no usable MIDI files ({len(folder.skipped)} skipped)")
    return Corpus(
        train,
        valid,
        folder.steps_per_quarter,
        True,
        f"MIDI folder {p}: {folder.summary()}",
        [str(s) for s in folder.skipped],
    )


def sample_windows(
    pieces: list[np.ndarray],
    rng: np.random.Generator,
    *,
    batch_size: int,
    window: int,
    transpose: int = 0,
    start_share: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A batch of random windows for truncated BPTT.

    Each window is a random piece from a random start (so every step can be drawn),
    transposed by a random shift in ``[-transpose, transpose]`` when that keeps the notes in
    range. With ``start_share > 0`` that share of the windows starts at the piece's first
    step (from silence), so the model learns how pieces open: with uniform starts only about
    one window in ``len(piece)`` does, and a sampler that starts from silence draws its
    opening chord, and with it the register of the whole piece, from that little evidence.
    Draws the same random numbers whatever the content, so a batch is a function of
    the generator state alone (and ``start_share=0`` draws exactly what it always drew).

    Returns:
        ``grid (B, window, P, 2)`` uint8, ``mask (B, window)`` bool, ``previous (B, P, 2)``
        uint8 (the step before each window), ``t0 (B,)`` int64 (each window's start).
    """
    p = pieces[0].shape[1]
    grid = np.zeros((batch_size, window, p, 2), np.uint8)
    mask = np.zeros((batch_size, window), bool)
    prev = np.zeros((batch_size, p, 2), np.uint8)
    t0 = np.zeros(batch_size, np.int64)
    for b in range(batch_size):
        piece = pieces[int(rng.integers(len(pieces)))]
        start = int(rng.integers(max(1, len(piece) - window // 2)))
        if start_share > 0 and rng.random() < start_share:
            start = 0
        shift = int(rng.integers(-transpose, transpose + 1)) if transpose else 0
        part = piece[start : start + window]
        before = piece[start - 1] if start > 0 else np.zeros((p, 2), np.uint8)
        if shift:
            cols = np.flatnonzero(piece[..., 0].any(0))
            if len(cols) and 0 <= cols[0] + shift and cols[-1] + shift < p:
                part, before = np.roll(part, shift, 1), np.roll(before, shift, 0)
        grid[b, : len(part)] = part
        mask[b, : len(part)] = True
        prev[b] = before
        t0[b] = start
    return grid, mask, prev, t0


def padded_batches(
    pieces: list[np.ndarray], *, max_steps: int = 4096
) -> list[tuple[torch.Tensor, torch.Tensor, list[int]]]:
    """Whole pieces grouped by length into padded batches (about ``max_steps`` steps each).

    Returns:
        a list of ``(grid (B, T, P, 2) float32, mask (B, T) bool, indices)``.
    """
    order = sorted(range(len(pieces)), key=lambda i: len(pieces[i]))
    batches: list[tuple[torch.Tensor, torch.Tensor, list[int]]] = []
    group: list[int] = []
    for i in [*order, None]:
        if i is not None and (not group or (len(group) + 1) * len(pieces[i]) <= max_steps):
            group.append(i)
            continue
        if group:
            t = max(len(pieces[j]) for j in group)
            g = np.zeros((len(group), t) + pieces[group[0]].shape[1:], np.float32)
            m = np.zeros((len(group), t), bool)
            for k, j in enumerate(group):
                g[k, : len(pieces[j])] = pieces[j]
                m[k, : len(pieces[j])] = True
            batches.append((torch.from_numpy(g), torch.from_numpy(m), list(group)))
        group = [i] if i is not None else []
    return batches
