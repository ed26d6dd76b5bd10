"""What the linear part buys, on audio the models never saw: the LPC + GRU model (LPCNet-
style) against the plain mu-law GRU of the same size and the linear twin alone.

Trains both models side by side with ``dsp-rnn train`` on ``--train`` (one thread each, the
same minutes, seed and sizes; the LPC run also fits its frame tier), then on the files of
``--held-out``:

1. **NLL**, bits per sample, every row on the same variable: the 8-bit mu-law code of the
   pre-emphasised signal (:mod:`dsp_rnn.audio.scoring`). Rows: the LPC model, the plain
   GRU, the linear twin (the LPC predictor with a per-frame Laplace residual), and the
   uniform code distribution (8 bits). Each model's bits on its own target are given too.
2. **Copy synthesis** (features of the held-out audio, signal by the model):
   level-matched multi-resolution STFT distance and log-mel L1 of the LPC model, the LPC
   vocoder and the WORLD vocoder (pyworld) (:func:`dsp_rnn.audio.copy_synthesis`).
3. **Unconditional generation**: the Fréchet distance between Gaussians fitted to the
   log-mel frames of generated audio and of the held-out audio
   (:func:`dsp_rnn.audio.metrics.frechet_distance`). Rows: the LPC model through its
   frame tier, the LPC vocoder driven by the same drawn features, the untrained model
   (same size, random weights) on the same features, white noise, and, as the floor, the
   training audio itself. Every clip is matched to the held-out audio's RMS level first,
   so the distance is about spectra and their movement, not gain.

Use ``--runs DIR`` to keep the trained runs (a second call with the same DIR reuses
finished runs instead of training again).

Run: python bench/bench_audio_quality.py --train DIR --held-out DIR [--minutes 30]
     [--runs DIR] [--seconds 60] [--clips 8] [--clip-seconds 4] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import machine_line  # noqa: E402

RUNS = (
    ("LPC + GRU", "lpc", []),
    ("plain mu-law GRU", "plain", ["--no-lpc", "--frame-tier-steps", "0"]),
)


def _train(train: Path, runs: Path, minutes: float, seed: int) -> dict[str, Path]:
    """Train every row not already finished in ``runs`` (side by side, one thread each)."""
    out: dict[str, Path] = {}
    procs = []
    for _, key, flags in RUNS:
        run = runs / key
        out[key] = run
        if (run / "model.safetensors").is_file() and (run / "config.json").is_file():
            continue
        cmd = [sys.executable, "-m", "dsp_rnn.cli", "train", str(train), "--out", str(run),
               "--model", "audio", "--max-minutes", f"{minutes:g}", "--threads", "1",
               "--seed", str(seed), "--quiet", *flags]  # fmt: skip
        procs.append((key, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                            text=True)))  # fmt: skip
    for key, p in procs:
        log, _ = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"training {key} failed (exit {p.returncode}):\n{log}")
    return out


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _frames(clips: list[np.ndarray], sr: int, level: float) -> np.ndarray:
    from dsp_rnn.audio.metrics import log_mel_frames

    out = []
    for c in clips:
        c = np.asarray(c, np.float64)
        r = _rms(c)
        if r > 0:
            c = c * (level / r)
        out.append(log_mel_frames(c, sr))
    return np.concatenate(out, 0)


def _nll_rows(models: dict, items: list, seconds: float) -> list[dict]:
    from dsp_rnn.audio import evaluate_nll, linear_twin_nll, signal_code_nll

    rows = []
    for name, key, _ in RUNS:
        m = models[key]
        row = signal_code_nll(m, items, max_seconds=seconds)
        own = evaluate_nll(m, items, max_seconds=seconds)
        target = "excitation" if m.config.lpc else "signal"
        rows.append({"model": name, "bits_signal_code": row["nll_bits_per_sample"],
                     "bits_own_target": own["nll_bits_per_sample"], "own_target": target,
                     "samples": row["samples"], "parameters": m.count_parameters()})  # fmt: skip
    twin = linear_twin_nll(items, models["lpc"].config.features, max_seconds=seconds)
    rows.append({"model": "linear twin (LPC predictor + Laplace residual)",
                 "bits_signal_code": twin["nll_bits_per_sample"], "bits_own_target": None,
                 "own_target": None, "samples": twin["samples"], "parameters": 0})  # fmt: skip
    rows.append({"model": "uniform over the 256 codes", "bits_signal_code": 8.0,
                 "bits_own_target": None, "own_target": None, "samples": twin["samples"],
                 "parameters": 0})  # fmt: skip
    return rows


def _copy_rows(model, items: list, seconds: float, seed: int) -> list[dict]:
    from dsp_rnn.audio import copy_synthesis

    rows = copy_synthesis(model, items, seed=seed, max_seconds=seconds)
    return [r.to_dict() for r in rows]


def _generation_rows(model, train_items: list, held_items: list, clips: int,
                     clip_seconds: float, seed: int) -> list[dict]:  # fmt: skip
    from dsp_rnn.audio import AudioRNN, features_from_vectors, synthesize, vocode
    from dsp_rnn.audio.metrics import frechet_distance
    from dsp_rnn.filters import deemphasis

    c = model.config
    sr, hop = c.sample_rate, c.hop_samples
    coeff = c.features.preemphasis

    def audio(item) -> np.ndarray:  # the held-out signal, de-emphasised back
        return deemphasis(torch.from_numpy(item.signal.astype(np.float64)), coeff).numpy()

    real = [audio(it) for it in held_items]
    level = _rms(np.concatenate(real))
    ref = _frames(real, sr, level)
    n_frames = max(1, round(clip_seconds * sr / hop))
    feats = []
    for k in range(clips):
        vec, _ = model.frame_tier.sample_vectors(n_frames, seed=seed + k)
        feats.append(features_from_vectors(vec, c.features, n_samples=n_frames * hop))
    t0 = time.perf_counter()
    generated = list(synthesize(model, feats, seed=seed, streams=len(feats)))
    gen_s = time.perf_counter() - t0
    torch.manual_seed(seed)
    untrained = AudioRNN(c).eval()
    rows = {
        "LPC + GRU through its frame tier": generated,
        "LPC vocoder on the frame tier's features": [vocode(f, seed=seed + k).numpy()
                                                    for k, f in enumerate(feats)],
        "untrained model (same size) on the same features": list(
            synthesize(untrained, feats, seed=seed, streams=len(feats))),
        "white noise": [np.random.default_rng(seed + k).standard_normal(n_frames * hop)
                        for k in range(clips)],
        "training audio (real, other files)": [audio(it) for it in train_items],
    }  # fmt: skip
    out = []
    for name, sigs in rows.items():
        fd = frechet_distance(_frames(sigs, sr, level), ref)
        out.append({"source": name, "frechet_log_mel": fd,
                    "seconds": sum(len(s) for s in sigs) / sr})  # fmt: skip
    out[0]["generation_seconds"] = gen_s
    return out


def _items(folder: Path, features, max_seconds: float | None):
    from dsp_rnn.audio import AudioCorpus

    corpus = AudioCorpus.from_folder(folder, features, valid_fraction=0.0,
                                     max_seconds=max_seconds)  # fmt: skip
    return corpus.train


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", required=True, help="audio folder to train on")
    ap.add_argument("--held-out", required=True, help="audio folder never trained on")
    ap.add_argument("--minutes", type=float, default=30.0, help="training time per model")
    ap.add_argument("--runs", default=None, help="keep (and reuse) the trained runs here")
    ap.add_argument("--seconds", type=float, default=60.0,
                    help="held-out audio scored for NLL and copy synthesis")  # fmt: skip
    ap.add_argument("--clips", type=int, default=8, help="generated clips")
    ap.add_argument("--clip-seconds", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from dsp_rnn.training import load_model

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(args.runs) if args.runs else Path(tmp)
        paths = _train(Path(args.train), runs, args.minutes, args.seed)
        train_s = time.perf_counter() - t0
        models = {k: load_model(p)[0].eval() for k, p in paths.items()}
        feats_cfg = models["lpc"].config.features
        held = _items(Path(args.held_out), feats_cfg, None)
        train_items = _items(Path(args.train), feats_cfg, None)
        nll = _nll_rows(models, held, args.seconds)
        copy = _copy_rows(models["lpc"], held, args.seconds, args.seed)
        real_s = args.clips * args.clip_seconds
        pick = _take(held, real_s, models["lpc"].config.sample_rate)
        pick_train = _take(train_items, real_s, models["lpc"].config.sample_rate)
        gen = _generation_rows(models["lpc"], pick_train, pick, args.clips, args.clip_seconds,
                               args.seed)  # fmt: skip
    result = {"train": args.train, "held_out": args.held_out, "minutes": args.minutes,
              "train_wall_seconds": train_s, "nll": nll, "copy_synthesis": copy,
              "generation": gen, "seconds": time.perf_counter() - t0}  # fmt: skip
    if args.json:
        print(json.dumps(result, default=_jsonable))
        return 0
    _print(result, args)
    return 0


def _take(items: list, seconds: float, sr: int) -> list:
    out, left = [], seconds * sr
    for it in items:
        if left <= 0:
            break
        out.append(it)
        left -= it.n_samples
    return out


def _jsonable(x):
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if hasattr(x, "__dict__"):
        return {k: v for k, v in vars(x).items() if not k.startswith("_")}
    return str(x)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def _print(r: dict, args) -> None:
    print(machine_line(("torch", "numpy", "numba", "librosa")))
    print(f"train: {args.train}; held out: {args.held_out}; {args.minutes:g} min of training "
          "per model, one thread each, side by side\n")  # fmt: skip
    print("NLL on the held-out files, bits per sample of the pre-emphasised signal's 8-bit "
          "mu-law code (lower is better):\n")  # fmt: skip
    print("| model | bits (signal code) | bits (own target) | parameters |")
    print("|---|---:|---:|---:|")
    for row in r["nll"]:
        own = _fmt(row["bits_own_target"])
        if row["own_target"]:
            own += f" ({row['own_target']})"
        print(f"| {row['model']} | {_fmt(row['bits_signal_code'])} | {own} | "
              f"{row['parameters']} |")  # fmt: skip
    print("\nCopy synthesis on the held-out files (level-matched; lower is better):\n")
    names = {"model": "LPC + GRU", "lpc_vocoder": "LPC vocoder (linear twin)",
             "world": "WORLD vocoder (pyworld)"}  # fmt: skip
    print("| system | MR-STFT distance | log-mel L1 (dB) | files |")
    print("|---|---:|---:|---:|")
    for row in r["copy_synthesis"]:
        if row["missing"]:
            print(f"| {names.get(row['system'], row['system'])} | - | - | {row['missing']} |")
            continue
        print(f"| {names.get(row['system'], row['system'])} | {row['mr_stft']:.3f} | "
              f"{row['log_mel_l1']:.2f} | {len(row['files'])} |")  # fmt: skip
    print("\nUnconditional generation, Fréchet distance of log-mel frame statistics to the "
          "held-out audio (lower is better):\n")  # fmt: skip
    print("| source | Fréchet (log-mel) | seconds |")
    print("|---|---:|---:|")
    for row in r["generation"]:
        print(f"| {row['source']} | {row['frechet_log_mel']:.1f} | {row['seconds']:.1f} |")
    print(f"\n({r['seconds']:.0f} s in all)")


if __name__ == "__main__":
    raise SystemExit(main())
