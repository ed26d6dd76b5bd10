"""A learned voice on MIDI it never saw, against the reference render of the same MIDI and
against our synth voices, pretty_midi and FluidSynth.

On the first ``--pieces`` pairs of ``--data`` (a folder of MIDI files with same-stem
reference renders, :func:`dsp_rnn.music.pair_folder`; e.g. the JSB test split rendered
through a SoundFont by ``dsp-rnn render``):

1. **Distance to the reference render** of the same MIDI, every system at 16 kHz mono, cut
   to the shorter of the two signals and level-matched (the estimate scaled to the
   reference's RMS): the multi-resolution STFT distance and the log-mel L1
   (:func:`dsp_rnn.audio.mr_stft_distance`, :func:`dsp_rnn.audio.log_mel_l1`), mean over
   the pieces; beside them, whether the right pitches sound: the frame-wise cosine
   similarity of the two chromagrams (``librosa.feature.chroma_stft``), mean over frames
   and pieces. Rows: the learned voice, our ``ks``, ``subtractive`` and ``sine`` voices
   (dry, no drums) and pretty_midi's ``synthesize()`` (sine waves).
2. **Timing, silence and level** of the learned voice's 16-bit WAV (as ``dsp-rnn render``
   writes it), with the reference render beside it: each chord onset of the MIDI (the
   distinct note-on times) is matched to the nearest onset detected in the audio
   (``librosa.onset.onset_detect``, 4 ms hop, backtracked): median and 90th-percentile
   error in ms, the median signed error (detected minus MIDI: the detector's bias and the
   instrument's attack both count) and the share within 10 ms. Silence: the RMS in dBFS
   of every stretch where no note plays, from a note-off plus ``--release-s`` (default:
   the release the voice measured on its recordings, ``voice.source.release_s``) to 20 ms
   before the next note-on (stretches of at least 50 ms), and of the tail after the last
   note-off plus ``--release-s``; the share of stretches below -60 dBFS. Peak in dBFS and
   the count of clipped samples (at full scale).
3. **Render speed** of one four-voice chorale (the first piece) to a WAV file, x real time
   (seconds of audio per second of wall time, median of ``--repeats``), one thread: the
   learned voice at 16 kHz mono and at 44.1 kHz stereo, FluidSynth with ``--soundfont``
   (a process per render, loading the SoundFont each time; reverb and chorus off) and our
   ``ks`` voice at the same two formats.

Run: python bench/bench_voice.py --voice DIR_OR_NAME [--data DIR] [--pieces 8]
     [--soundfont F.sf2] [--repeats 3] [--release-s S] [--seed 0] [--json]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread everywhere, before the imports
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402
from _common import machine_line  # noqa: E402

RATE = 16_000
SYNTH_VOICES = ("ks", "subtractive", "sine")
SILENCE_DB = -60.0
MIN_GAP_S = 0.05
GUARD_S = 0.02  # a silent stretch ends this long before the next note-on
DEFAULT_SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


def _mono16k(path: Path) -> np.ndarray:
    """A file's samples as float64 mono at 16 kHz."""
    import librosa

    y, sr = sf.read(str(path), dtype="float64", always_2d=True)
    y = y.mean(axis=1)
    return librosa.resample(y, orig_sr=sr, target_sr=RATE) if sr != RATE else y


def _chroma_similarity(r: np.ndarray, e: np.ndarray) -> float:
    """Mean over frames of the cosine similarity of the two chromagrams (1: the same
    pitch classes in the same proportions)."""
    import librosa

    cr = librosa.feature.chroma_stft(y=r, sr=RATE, hop_length=512)
    ce = librosa.feature.chroma_stft(y=e, sr=RATE, hop_length=512)
    norms = np.linalg.norm(cr, axis=0) * np.linalg.norm(ce, axis=0)
    keep = norms > 0
    return float(np.mean(np.sum(cr * ce, axis=0)[keep] / norms[keep]))


def _distances(ref: np.ndarray, est: np.ndarray) -> tuple[float, float, float]:
    from dsp_rnn.audio import log_mel_l1, mr_stft_distance

    n = min(len(ref), len(est))
    r, e = ref[:n].astype(np.float32), est[:n].astype(np.float32)
    return mr_stft_distance(r, e, RATE), log_mel_l1(r, e, RATE), _chroma_similarity(r, e)


def _learned(voice, midi: Path, out: Path, *, sample_rate: int, channels: int, seed: int):
    from dsp_rnn.voice import render_voice_file

    return render_voice_file(voice, midi, out, seed=seed, sample_rate=sample_rate,
                             channels=channels, subtype="PCM_16", overwrite=True)  # fmt: skip


def _synth(midi: Path, name: str) -> np.ndarray:
    from dsp_rnn.synth import render

    return render(midi, sample_rate=RATE, channels=1, voice=name, drums=False,
                  reverb=None)[0].astype(np.float64)  # fmt: skip


def _pretty(midi: Path) -> np.ndarray:
    import pretty_midi

    return pretty_midi.PrettyMIDI(str(midi)).synthesize(fs=RATE).astype(np.float64)


def _notes(midi: Path) -> list[tuple[float, float]]:
    from dsp_rnn.music import read_midi

    return [(n.start_s, n.end_s) for n in read_midi(midi).notes if not n.is_drum]


def _onset_errors_ms(y: np.ndarray, notes: list[tuple[float, float]]) -> tuple[np.ndarray, int]:
    """Signed error in ms (detected minus MIDI) from each chord onset (distinct note-on
    time) to the nearest onset detected in ``y``, and the number of onsets detected: the
    measure the voice's tuning uses (:func:`dsp_rnn.voice.chord_onset_errors_s`)."""
    from dsp_rnn.voice import chord_onset_errors_s

    err, detected = chord_onset_errors_s(y, RATE, np.array([s for s, _ in notes]))
    return err * 1000.0, detected


Span = tuple[float, float]


def _silences(notes: list[Span], total_s: float, release_s: float) -> tuple[list[Span], Span]:
    """Stretches where nothing plays once the release has decayed: between notes (from
    the end of a run of overlapping notes plus ``release_s`` to :data:`GUARD_S` before the
    next note-on, at least :data:`MIN_GAP_S`), and the tail (the last note-off plus
    ``release_s`` to the end)."""
    gaps = []
    spans = sorted(notes)
    end = spans[0][1]
    for start, stop in spans[1:]:
        if start - GUARD_S - (end + release_s) >= MIN_GAP_S:
            gaps.append((end + release_s, start - GUARD_S))
        end = max(end, stop)
    return gaps, (end + release_s, total_s)


def _rms_db(y: np.ndarray, span: tuple[float, float]) -> float:
    a, b = round(span[0] * RATE), round(span[1] * RATE)
    part = y[a:b]
    if part.size == 0:
        return float("nan")
    rms = float(np.sqrt(np.mean(np.square(part))))
    return 20 * np.log10(rms) if rms > 0 else -np.inf


def _quality(y: np.ndarray, raw: np.ndarray, notes, release_s: float) -> dict:
    """Onsets, silence and level of one render (``raw``: its int16 samples)."""
    err, detected = _onset_errors_ms(y, notes)
    gaps, tail = _silences(notes, len(y) / RATE, release_s)
    peak = float(np.max(np.abs(y)))
    return {
        "onset_errors_ms": err.tolist(),
        "detected": detected,
        "gap_db": [_rms_db(y, g) for g in gaps],
        "tail_db": _rms_db(y, tail) if tail[1] - tail[0] >= MIN_GAP_S else None,
        "peak_dbfs": 20 * np.log10(peak) if peak > 0 else -np.inf,
        "clipped": int(np.count_nonzero(np.abs(raw.astype(np.int32)) >= 32767)),
    }


def _summary(per_piece: list[dict]) -> dict:
    signed = np.concatenate([np.asarray(p["onset_errors_ms"]) for p in per_piece])
    err = np.abs(signed)
    gaps = [g for p in per_piece for g in p["gap_db"] if np.isfinite(g) or g == -np.inf]
    tails = [p["tail_db"] for p in per_piece if p["tail_db"] is not None]
    quiet = [g for g in gaps + tails if g < SILENCE_DB]
    return {
        "chord_onsets": int(err.size),
        "detected_onsets": sum(p["detected"] for p in per_piece),
        "onset_median_ms": float(np.median(err)),
        "onset_median_signed_ms": float(np.median(signed)),
        "onset_p90_ms": float(np.percentile(err, 90)),
        "onset_within_10ms": float(np.mean(err <= 10.0)),
        "gaps": len(gaps),
        "gap_max_db": max(gaps) if gaps else None,
        "tail_max_db": max(tails) if tails else None,
        "silent_share": len(quiet) / len(gaps + tails) if gaps + tails else None,
        "peak_dbfs": max(p["peak_dbfs"] for p in per_piece),
        "clipped": sum(p["clipped"] for p in per_piece),
    }


def _read_int16(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw, sr = sf.read(str(path), dtype="int16", always_2d=True)
    if sr != RATE:
        raise SystemExit(f"{path}: expected {RATE} Hz, got {sr}")
    return raw[:, 0].astype(np.float64) / 32768.0, raw[:, 0]


def compare(voice, pairs: list, *, seed: int, release_s: float, tmp: Path) -> dict:
    """Tables 1 and 2 on ``pairs``."""
    rows: dict[str, list[tuple[float, float, float]]] = {
        k: [] for k in ("learned", *SYNTH_VOICES, "pretty_midi")
    }
    quality: dict[str, list[dict]] = {"learned": [], "reference": []}
    for i, (audio, midi) in enumerate(pairs):
        t0 = time.perf_counter()
        ref = _mono16k(audio)
        notes = _notes(midi)
        out = tmp / f"learned_{i}.wav"
        _learned(voice, midi, out, sample_rate=RATE, channels=1, seed=seed)
        y, raw = _read_int16(out)
        rows["learned"].append(_distances(ref, y))
        quality["learned"].append(_quality(y, raw, notes, release_s))
        ref_raw = np.clip(np.round(ref * 32768.0), -32768, 32767).astype(np.int16)
        quality["reference"].append(_quality(ref, ref_raw, notes, release_s))
        for name in SYNTH_VOICES:
            rows[name].append(_distances(ref, _synth(midi, name)))
        rows["pretty_midi"].append(_distances(ref, _pretty(midi)))
        print(f"  {midi.name}: {len(ref) / RATE:.1f} s, {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)  # fmt: skip
    table = [{"system": k, "mr_stft": float(np.mean([d[0] for d in v])),
              "log_mel_l1": float(np.mean([d[1] for d in v])),
              "chroma": float(np.mean([d[2] for d in v])), "pieces": len(v)}
             for k, v in rows.items()]  # fmt: skip
    return {"distance": table, "quality": {k: _summary(v) for k, v in quality.items()}}


def speed(voice, midi: Path, *, soundfont: Path | None, repeats: int, seed: int,
          tmp: Path) -> list[dict]:  # fmt: skip
    """Table 3: x real time of one piece per system and format (median of ``repeats``)."""
    from dsp_rnn.synth import render_file, render_soundfont

    def learned(rate: int, channels: int):
        def run() -> float:
            out = tmp / f"speed_learned_{rate}.wav"
            return _learned(voice, midi, out, sample_rate=rate, channels=channels,
                            seed=seed).seconds  # fmt: skip

        return run

    def ks(rate: int, channels: int):
        def run() -> float:
            return render_file(midi, tmp / f"speed_ks_{rate}.wav", sample_rate=rate,
                               channels=channels, voice="ks", drums=False, reverb=None,
                               overwrite=True).seconds  # fmt: skip

        return run

    def fluid(rate: int, channels: int):
        def run() -> float:
            out = render_soundfont(midi, soundfont, tmp / f"speed_fluid_{rate}.wav",
                                   sample_rate=rate, reverb=False, chorus=False)  # fmt: skip
            return sf.info(str(out)).duration

        return run

    cases = [("learned voice", 16_000, 1, learned), ("learned voice", 44_100, 2, learned)]
    if soundfont is not None:
        cases += [("FluidSynth", 16_000, 2, fluid), ("FluidSynth", 44_100, 2, fluid)]
    cases += [("ks voice", 16_000, 1, ks), ("ks voice", 44_100, 2, ks)]
    out = []
    for name, rate, channels, make in cases:
        fn = make(rate, channels)
        fn()  # warm-up: compiled kernels, caches
        times, seconds = [], 0.0
        for _ in range(repeats):
            t0 = time.perf_counter()
            seconds = fn()
            times.append(time.perf_counter() - t0)
        wall = statistics.median(times)
        out.append({"system": name, "sample_rate": rate, "channels": channels,
                    "audio_s": seconds, "wall_s": wall, "x_realtime": seconds / wall})  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--voice", required=True, help="a learned voice folder or shipped name")
    ap.add_argument(
        "--data",
        type=Path,
        default=Path("/work/runs/jsbaudio/test"),
        help="folder of MIDI files with same-stem reference renders",
    )
    ap.add_argument("--pieces", type=int, default=8, help="pairs to compare (default 8)")
    ap.add_argument(
        "--soundfont",
        type=Path,
        default=Path(DEFAULT_SF2),
        help="the SoundFont of the reference (FluidSynth's speed row)",
    )
    ap.add_argument("--repeats", type=int, default=3, help="timed renders per row (median)")
    ap.add_argument(
        "--release-s",
        type=float,
        default=None,
        help="release allowed after a note-off before silence is measured (default: the "
        "voice's measured release)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-speed", action="store_true", help="leave out table 3")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    import numba

    numba.set_num_threads(1)
    from dsp_rnn.music import pair_folder
    from dsp_rnn.voice import load_voice

    voice = load_voice(args.voice)
    if args.release_s is None:
        args.release_s = voice.source.release_s
    paired = pair_folder(args.data)
    pairs = paired.pairs[: args.pieces]
    if not pairs:
        raise SystemExit(f"{args.data}: no pairs ({paired.summary()})")
    sf2 = args.soundfont if args.soundfont.is_file() else None
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_voice_") as tmp:
        result = compare(voice, pairs, seed=args.seed, release_s=args.release_s, tmp=Path(tmp))
        if not args.no_speed:
            result["speed"] = speed(voice, pairs[0].midi, soundfont=sf2, repeats=args.repeats,
                                    seed=args.seed, tmp=Path(tmp))  # fmt: skip
    result.update({"voice": str(voice.path), "source": voice.source.to_dict(),
                   "data": str(args.data), "pieces": len(pairs),
                   "speed_piece": pairs[0].midi.name, "release_s": args.release_s,
                   "seconds": time.perf_counter() - t0,
                   "machine": machine_line(("torch", "numpy", "numba", "librosa",
                                            "pretty_midi"))})  # fmt: skip
    if args.json:
        print(json.dumps(result, default=float))
        return 0
    _print(result)
    return 0


def _db(v) -> str:
    return "-" if v is None else ("-inf" if v == -np.inf else f"{v:.1f}")


def _print(r: dict) -> None:
    print(r["machine"])
    print(f"voice: {r['voice']}; data: {r['data']}, {r['pieces']} pieces; 16 kHz mono; "
          "one thread")  # fmt: skip
    src = r["source"]
    print(
        f"note source: harmonic share {src['harmonic_share']:g}, release "
        f"{src['release_s']:.2f} s, attack {1000 * src['attack_s']:g} ms\n"
    )
    names = {"learned": "learned voice", "ks": "ks voice", "subtractive": "subtractive voice",
             "sine": "sine voice", "pretty_midi": "pretty_midi synthesize()"}  # fmt: skip
    print("Distance to the reference render of the same MIDI (level-matched, mean over the "
          "pieces; lower is better):\n")  # fmt: skip
    print("| system | MR-STFT distance | log-mel L1 (dB) | chroma similarity (higher is closer) |")
    print("|---|---:|---:|---:|")
    for row in r["distance"]:
        print(f"| {names[row['system']]} | {row['mr_stft']:.3f} | {row['log_mel_l1']:.2f} | "
              f"{row['chroma']:.3f} |")  # fmt: skip
    print(f"\nOnsets, silence (after a {r['release_s']:g} s release) and level, the learned "
          "voice's 16-bit WAV beside the reference render:\n")  # fmt: skip
    print("| render | chord onsets | detected | median error (ms) | median signed (ms) | "
          "p90 error (ms) | "
          "within 10 ms | "
          "rests | loudest rest (dBFS) | loudest tail (dBFS) | below -60 dBFS | peak (dBFS) | "
          "clipped samples |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, q in r["quality"].items():
        share = "-" if q["silent_share"] is None else f"{100 * q['silent_share']:.0f}%"
        print(f"| {'learned voice' if key == 'learned' else 'reference'} | "
              f"{q['chord_onsets']} | {q['detected_onsets']} | {q['onset_median_ms']:.1f} | "
              f"{q['onset_median_signed_ms']:+.1f} | {q['onset_p90_ms']:.1f} | "
              f"{100 * q['onset_within_10ms']:.0f}% | {q['gaps']} | {_db(q['gap_max_db'])} | "
              f"{_db(q['tail_max_db'])} | {share} | {q['peak_dbfs']:.2f} | "
              f"{q['clipped']} |")  # fmt: skip
    if "speed" in r:
        print(f"\nRender speed of {r['speed_piece']} to a WAV file, one thread (x real time, "
              "higher is faster):\n")  # fmt: skip
        print("| system | output | audio (s) | wall (s) | x real time |")
        print("|---|---|---:|---:|---:|")
        for row in r["speed"]:
            layout = "mono" if row["channels"] == 1 else "stereo"
            fmt = f"{row['sample_rate'] / 1000:g} kHz {layout}"
            print(f"| {row['system']} | {fmt} | {row['audio_s']:.1f} | {row['wall_s']:.2f} | "
                  f"{row['x_realtime']:.1f} |")  # fmt: skip
    print(f"\n({r['seconds']:.0f} s in all)")


if __name__ == "__main__":
    raise SystemExit(main())
