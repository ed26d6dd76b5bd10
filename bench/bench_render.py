"""Render speed and memory: our Karplus-Strong + reverb against pretty_midi and FluidSynth.

Measured on one core (thread counts forced to 1 before numpy/numba load; the engines run one
at a time):

1. Speed on one JSB chorale (4 voices, quarter-note steps, 120 bpm) at 44.1 kHz: ours in
   process (MIDI file -> 16-bit stereo WAV, and synthesis only), ours as a cold
   ``dsp-rnn render`` process, pretty_midi ``synthesize()`` (sines) and the FluidSynth CLI,
   as wall time and as a multiple of real time.
2. Peak memory (the process's peak RSS, from ``/usr/bin/time``) of one 10-minute 4-voice render
   (the chorale repeated end to end), ours CLI against pretty_midi and FluidSynth. The
   output WAV is read back in blocks to check its length and peak.

Run: python bench/bench_render.py [--quick] [--repeats 5] [--jsb F.json --piece N | --midi F.mid]
     [--soundfont F.sf2]      (--quick: 1 repeat, no 10-minute part)
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):  # fmt: skip
    os.environ[_var] = "1"  # before numpy/numba load; inherited by the child processes

import argparse  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, median_seconds  # noqa: E402

from dsp_rnn.music.jsb import load_jsb  # noqa: E402
from dsp_rnn.music.midi import Score, read_midi, write_midi  # noqa: E402
from dsp_rnn.synth import render, render_file  # noqa: E402

SR = 44_100
REPO = Path(__file__).resolve().parents[1]
DEFAULT_JSB = REPO / "data" / "jsb" / "jsb-chorales-quarter.json"  # shipped in the checkout
PM_CHILD = (
    "import sys, numpy as np, pretty_midi, soundfile as sf\n"
    "y = pretty_midi.PrettyMIDI(sys.argv[1]).synthesize(fs=44100)\n"
    "sf.write(sys.argv[2], y * (0.89 / max(np.abs(y).max(), 1e-12)), 44100, subtype='PCM_16')\n"
)


def ours_cli() -> list[str]:
    """``python -m dsp_rnn.cli`` when it runs, else the ``dsp-rnn`` entry point."""
    cmd = [sys.executable, "-m", "dsp_rnn.cli"]
    if subprocess.run([*cmd, "--help"], capture_output=True).returncode == 0:
        return cmd
    return [str(Path(sys.executable).with_name("dsp-rnn"))]


def run_child(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-500:]}")


def peak_rss(cmd: list[str], work: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB = 10^6 bytes) of ``cmd``, started from a small parent:
    a child forked from this big process would inherit our RSS as its ru_maxrss floor."""
    kib = work / "maxrss.txt"
    if Path("/usr/bin/time").is_file():
        wrap = ["/usr/bin/time", "-f", "%M", "-o", str(kib)]
    else:  # a bare Python as the parent (~10 MB floor)
        wrap = [sys.executable, "-c", "import os, subprocess, sys; p = subprocess.Popen("
                "sys.argv[2:]); _, s, u = os.wait4(p.pid, 0); open(sys.argv[1], 'w').write("
                "str(u.ru_maxrss)); sys.exit(os.waitstatus_to_exitcode(s))", str(kib)]  # fmt: skip
    t0 = time.perf_counter()
    run_child([*wrap, *cmd])
    wall = time.perf_counter() - t0
    return wall, int(kib.read_text().split()[-1]) * 1024 / 1e6  # KiB on Linux


def repeat_score(score: Score, min_seconds: float) -> Score:
    """The score's notes repeated end to end (whole beats, first tempo) until >= min_seconds."""
    tpb, us = score.ticks_per_beat, score.tempos[0][1]
    span = -(-max(n.end_tick for n in score.notes) // tpb) * tpb
    copies = math.ceil(min_seconds / (span / tpb * us / 1e6))
    notes = [n._replace(start_tick=n.start_tick + k * span, end_tick=n.end_tick + k * span)
             for k in range(copies) for n in score.notes]  # fmt: skip
    return Score(notes=notes, ticks_per_beat=tpb, tempos=[(0, us)],
                 time_signatures=score.time_signatures[:1], source="repeated")  # fmt: skip


def wav_check(path: Path) -> tuple[float, float]:
    """(seconds, peak dBFS) of a WAV, read back in blocks."""
    info = sf.info(str(path))
    peak = 0.0
    for b in sf.blocks(str(path), blocksize=1 << 18, dtype="float32"):
        peak = max(peak, float(np.abs(b).max()))
    return info.frames / info.samplerate, 20 * math.log10(peak) if peak > 0 else -math.inf


def speed_table(midi: Path, work: Path, args: argparse.Namespace, fluid: str | None) -> float:
    """Print table 1; return ours a)'s x real time."""
    import pretty_midi

    score = read_midi(midi)
    dur = score.duration_s
    edges = sorted([(n.start_s, 1) for n in score.notes] + [(n.end_s, -1) for n in score.notes])
    voices = max(np.cumsum([d for _, d in edges]), default=0)  # ends sort before starts
    print(f"piece: {args.label}; {dur:.1f} s, {len(score.notes)} notes, at most {voices} at "
          f"once; 44.1 kHz; median of {args.repeats} after 1 warm-up\n")  # fmt: skip
    out = work / "out.wav"
    cli = ours_cli()

    def pm_synth():
        return pretty_midi.PrettyMIDI(str(midi)).synthesize(fs=SR)

    def pm_write():
        y = pm_synth()
        sf.write(str(work / "pm.wav"), y * (0.89 / np.abs(y).max()), SR, subtype="PCM_16")

    rows = [
        ("ours a) render_file: MIDI -> KS + reverb -> 16-bit WAV",
         lambda: render_file(midi, out, voice="ks", reverb=True, sample_rate=SR, overwrite=True)),
        ("ours b) render(): KS + reverb to an array (no parse, no file)",
         lambda: render(score, voice="ks", reverb=True, sample_rate=SR)),
        ("ours e) `dsp-rnn render --voice ks` process, cold",
         lambda: run_child([*cli, "render", str(midi), str(out), "--voice", "ks",
                            "--overwrite", "--quiet"])),
        ("pretty_midi synthesize() (sines)", pm_synth),
        ("pretty_midi synthesize() + 16-bit WAV", pm_write),
    ]  # fmt: skip
    if fluid:
        rows.append(("FluidSynth CLI (process)", lambda: run_child(
            [fluid, "-ni", "-F", str(work / "fs.wav"), "-r", str(SR), "-T", "wav",
             str(args.soundfont), str(midi)])))  # fmt: skip
    times = {name: median_seconds(fn, repeats=args.repeats, warmup=1) for name, fn in rows}
    t_pm = times["pretty_midi synthesize() + 16-bit WAV"]
    t_fs = times.get("FluidSynth CLI (process)")
    print("| engine | wall s | x real time | vs pretty_midi | vs FluidSynth |")
    print("|---|---|---|---|---|")
    for name, t in times.items():
        vs_fs = f"{t_fs / t:.2f}" if t_fs else "n/a"
        print(f"| {name} | {t:.4f} | {dur / t:.0f}x | {t_pm / t:.2f} | {vs_fs} |")
    print(f"\nx real time = the piece's musical duration ({dur:.2f} s, last note end; the same "
          "for every row) / wall time.\nratio = their time / this row's time; >1 means this "
          "row is faster. 'vs pretty_midi' is against synthesize() + 16-bit WAV.")  # fmt: skip
    if not fluid:
        print(f"FluidSynth row skipped: no fluidsynth program or no SoundFont {args.soundfont}")
    return dur / times[rows[0][0]]


def memory_table(midi: Path, work: Path, args: argparse.Namespace, fluid: str | None) -> float:
    """Print table 2 for a >= 10-minute repeat of the piece; return ours' peak RSS MB."""
    long_mid = write_midi(repeat_score(read_midi(midi), 600.0), work / "long.mid")
    long = read_midi(long_mid)
    dur = long.duration_s
    print(f"\n10-minute file: the piece repeated end to end, {dur:.1f} s, {len(long.notes)} "
          f"notes; one run each, peak RSS of each process (MB = 10^6 bytes)\n")  # fmt: skip
    out = work / "long.wav"
    pm_out = work / "long_pm.wav"
    runs = [("ours `dsp-rnn render --voice ks` (KS + reverb, stereo 16-bit)",
             [*ours_cli(), "render", str(long_mid), str(out), "--voice", "ks", "--quiet"]),
            ("pretty_midi synthesize() + 16-bit WAV (mono)",
             [sys.executable, "-c", PM_CHILD, str(long_mid), str(pm_out)])]  # fmt: skip
    if fluid:
        runs.append(("FluidSynth CLI (stereo 16-bit)",
                     [fluid, "-ni", "-F", str(work / "long_fs.wav"), "-r", str(SR), "-T", "wav",
                      str(args.soundfont), str(long_mid)]))  # fmt: skip
    results = [(name, *peak_rss(cmd, work)) for name, cmd in runs]
    print("| engine | peak RSS MB | wall s | x real time |")
    print("|---|---|---|---|")
    for name, wall, rss in results:
        print(f"| {name} | {rss:.0f} | {wall:.2f} | {dur / wall:.0f}x |")
    secs, peak_db = wav_check(out)
    ch = sf.info(str(out)).channels
    ok = secs >= dur and peak_db <= -0.9
    print(f"\nours' WAV: {secs:.2f} s ({secs - dur:.2f} s of reverb tail after the last note), "
          f"{ch} ch, peak {peak_db:.2f} dBFS -> {'OK' if ok else 'WRONG'} "
          "(want >= the notes' length and peak <= -0.9 dBFS)")  # fmt: skip
    return results[0][2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jsb", type=Path, default=DEFAULT_JSB)
    parser.add_argument("--piece", type=int, default=0, help="index in the test split")
    parser.add_argument("--midi", type=Path, help="bench this MIDI file instead of a chorale")
    sf2 = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
    parser.add_argument("--soundfont", type=Path, default=sf2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 repeat, no 10-minute part")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
    fluid = shutil.which("fluidsynth") if args.soundfont.is_file() else None
    print(machine_line(("numpy", "numba", "soundfile", "mido", "pretty_midi")))
    print(f"one core: NUMBA_NUM_THREADS=OMP_NUM_THREADS=1 etc.; FluidSynth: "
          f"{fluid or 'not found'} with {args.soundfont.name}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench_render_") as tmp:
        work = Path(tmp)
        if args.midi:
            midi, args.label = args.midi, str(args.midi)
        else:
            grid = load_jsb(args.jsb, "test")[args.piece]
            midi, args.label = grid.to_midi(work / "chorale.mid"), grid.source
        speed = speed_table(midi, work, args, fluid)
        rss = None if args.quick else memory_table(midi, work, args, fluid)
    print(f"\nours, render_file to a 16-bit WAV: {speed:.0f}x real time on one core")
    if rss is None:
        print("peak RSS of a 10-minute render: not measured (--quick)")
    else:
        print(f"peak RSS of a 10-minute render: ours {rss:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
