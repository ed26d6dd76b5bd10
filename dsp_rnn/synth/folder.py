"""Render a folder of MIDI files into a paired folder: each piece's audio beside its MIDI.

``render_folder(MIDI_DIR, OUT_DIR)`` renders every MIDI file under ``MIDI_DIR`` (searched
recursively) to ``OUT_DIR/<relative stem>.wav`` with :func:`~dsp_rnn.synth.render_file`
(our voices or a SoundFont) and copies the MIDI file beside it as ``<relative stem>.mid``,
so the output is a folder of audio files with same-stem MIDI files: training pairs for a
learned voice (:func:`dsp_rnn.music.pairs.pair_folder` checks them). A file that cannot be
rendered is skipped with its reason; nothing existing is replaced without ``overwrite``;
every file is written atomically. No torch.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsp_rnn._atomic import atomic_path, check_folder_target
from dsp_rnn.errors import DspRnnError, FluidSynthNotFoundError, InputError, OutputError
from dsp_rnn.music.folder import MIDI_EXTENSIONS, Skipped
from dsp_rnn.music.outputs import AUDIO_FORMATS
from dsp_rnn.synth.files import RenderReport, render_file
from dsp_rnn.synth.fluidsynth import check_soundfont, find_fluidsynth

__all__ = ["FolderRenderReport", "render_folder", "midi_files"]


@dataclass
class FolderRenderReport:
    """What :func:`render_folder` wrote and skipped.

    Attributes:
        out_dir: the paired folder.
        rendered: one :class:`~dsp_rnn.synth.RenderReport` per audio file written, in the
            order of the MIDI files.
        skipped: the MIDI files not rendered, each with its reason (prints as
            ``path: reason``).
        elapsed_s: wall-clock seconds for the whole folder.
    """

    out_dir: Path
    rendered: list[RenderReport] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def seconds(self) -> float:
        """Seconds of audio written, all files together."""
        return sum(r.seconds for r in self.rendered)

    def summary(self) -> str:
        """One line: files rendered and skipped, audio length, time taken."""
        done, total = len(self.rendered), len(self.rendered) + len(self.skipped)
        what = ""
        if self.rendered:
            r = self.rendered[0]
            what = f" ({r.sample_rate} Hz, {r.channels} ch, {r.engine})"
        speed = self.seconds / self.elapsed_s if self.elapsed_s > 0 else 0.0
        per_file = self.elapsed_s / total if total else 0.0
        return (
            f"rendered {done} of {total} MIDI files to {self.out_dir}{what}: "
            f"{self.seconds / 60:.1f} min of audio in {self.elapsed_s:.1f} s "
            f"({per_file:.2f} s per file, {speed:.0f}x real time); "
            f"{len(self.skipped)} skipped"
        )


def midi_files(root: str | os.PathLike[str]) -> list[Path]:
    """The MIDI files under ``root`` (endings ``.mid``, ``.midi``, ``.kar``, ``.smf``, any
    case), searched recursively without following links to folders, in name order."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        found += [Path(folder, n) for n in sorted(names)
                  if os.path.splitext(n)[1].lower() in MIDI_EXTENSIONS]  # fmt: skip
    return found


def _reason(exc: BaseException, path: Path) -> str:
    """The error's message without the file name it usually starts with."""
    text = str(exc)
    for prefix in (f"{path}: ", f"{path.resolve()}: "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def render_folder(
    midi_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    suffix: str = ".wav",
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    renderer: Callable[[Path, Path, bool], RenderReport] | None = None,
    **options: Any,
) -> FolderRenderReport:
    """Render every MIDI file of a folder tree into a paired folder of audio and MIDI.

    ``midi_dir/a/b.mid`` becomes ``out_dir/a/b.wav`` (rendered by
    :func:`~dsp_rnn.synth.render_file`) and ``out_dir/a/b.mid`` (a byte copy of the MIDI
    file, made once the audio is written; ``.midi``, ``.kar`` and ``.smf`` files are
    copied to ``.mid`` too). ``out_dir`` may be ``midi_dir`` itself (the audio goes beside
    the MIDI, which stays as it is) but not a folder inside it.

    Args:
        midi_dir: the folder of MIDI files, searched recursively (:func:`midi_files`).
        out_dir: the folder to fill; created when missing (its parent must exist), and its
            sub-folders as the MIDI files need them.
        suffix: audio file ending, ``".wav"`` (default), ``".flac"`` or ``".aiff"``.
        overwrite: replace existing output files. Without it (default) an existing output
            file stops the call before anything is rendered (the error names it).
        progress: called as ``progress(files_done, files_total)`` after each file.
        renderer: renders one file instead of :func:`~dsp_rnn.synth.render_file`, called as
            ``renderer(midi_path, audio_path, overwrite)`` (e.g. a learned voice's
            :func:`dsp_rnn.voice.render_voice_file` with its options bound); then no
            ``options`` may be given.
        **options: keyword arguments of :func:`~dsp_rnn.synth.render_file`
            (``sample_rate``, ``channels``, ``soundfont``, ``voice``, ``reverb``, ...).

    Returns:
        A :class:`FolderRenderReport`: the files rendered and those skipped with reasons.

    Raises:
        InputError: ``midi_dir`` is not a folder or holds no MIDI file; ``out_dir`` lies
            inside it; bad render options or SoundFont.
        OutputError: ``out_dir`` cannot be made or written; an output file exists (without
            ``overwrite``). Both come before any file is rendered.
        FluidSynthNotFoundError: ``soundfont`` given and fluidsynth missing.

    A MIDI file that cannot be read or rendered (damaged, no notes, too long, FluidSynth
    failing on it) is skipped with its reason and the rest go on.
    """
    t_start = time.perf_counter()
    root, out = Path(midi_dir), Path(out_dir)
    if not root.is_dir():
        raise InputError(f"{root}: expected a folder of MIDI files")
    if suffix.lower() not in AUDIO_FORMATS:
        raise InputError(f"suffix: expected one of {', '.join(AUDIO_FORMATS)}, got {suffix!r}")
    if "path" in options or "source" in options:
        raise InputError("render_folder names the files itself: pass no path or source")
    options.pop("progress", None)
    if renderer is not None and options:
        raise InputError(f"render_folder: a renderer renders the files itself; got options "
                         f"{', '.join(sorted(options))} too")  # fmt: skip
    check_folder_target(out, OutputError, must_be_empty=False)
    if out.resolve() != root.resolve() and out.resolve().is_relative_to(root.resolve()):
        raise InputError(f"{out}: inside the MIDI folder {root}, where its copies would be "
                         "read as input next time; choose a folder outside it (or the same "
                         "one)")  # fmt: skip
    sources = midi_files(root)
    if not sources:
        raise InputError(f"{root}: no MIDI files ({', '.join(MIDI_EXTENSIONS)}) in the folder "
                         "or below")  # fmt: skip
    if options.get("soundfont") is not None:
        check_soundfont(options["soundfont"])
        find_fluidsynth()
    report = FolderRenderReport(out_dir=out)
    jobs, claimed = _plan(root, out, sources, suffix, report)
    if not overwrite:
        _refuse_existing(jobs)
    out.mkdir(exist_ok=True)
    for done, (src, audio, midi) in enumerate(jobs, 1):
        try:
            audio.parent.mkdir(parents=True, exist_ok=True)
            if renderer is not None:
                report.rendered.append(renderer(src, audio, overwrite))
            else:
                report.rendered.append(render_file(src, audio, overwrite=overwrite, **options))
            if not _same_file(src, midi):
                try:
                    with atomic_path(midi, overwrite, OutputError, "--overwrite") as tmp:
                        shutil.copyfile(src, tmp)
                except (OSError, DspRnnError):
                    audio.unlink(missing_ok=True)
                    report.rendered.pop()
                    raise
        except FluidSynthNotFoundError:
            raise
        except (DspRnnError, OSError) as exc:
            report.skipped.append(Skipped(src, _reason(exc, src)))
        if progress is not None:
            progress(done + claimed, len(sources))
    report.elapsed_s = time.perf_counter() - t_start
    return report


def _plan(root: Path, out: Path, sources: list[Path], suffix: str,
          report: FolderRenderReport) -> tuple[list[tuple[Path, Path, Path]], int]:  # fmt: skip
    """(MIDI file, audio target, MIDI copy target) per file; a file whose stem another
    file in its folder already claimed is skipped. Returns the jobs and the skips."""
    jobs: list[tuple[Path, Path, Path]] = []
    owner: dict[Path, Path] = {}
    for src in sources:
        stem = out / src.relative_to(root).with_suffix("")
        first = owner.setdefault(stem, src)
        if first is not src:
            report.skipped.append(Skipped(src, f"same stem as {first.name}, whose audio "
                                               f"would be {stem.name}{suffix} too"))  # fmt: skip
            continue
        jobs.append((src, stem.with_name(stem.name + suffix), stem.with_name(stem.name + ".mid")))
    return jobs, len(sources) - len(jobs)


def _refuse_existing(jobs: list[tuple[Path, Path, Path]]) -> None:
    existing = [a for _, a, _ in jobs if a.exists()]
    existing += [m for src, _, m in jobs if m.exists() and not _same_file(src, m)]
    if existing:
        raise OutputError(
            f"{existing[0]}: exists ({len(existing)} output files do); nothing was rendered; "
            "pass --overwrite (overwrite=True) to replace them"
        )
