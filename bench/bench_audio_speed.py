"""Speed of AudioRNN generation on one CPU thread: real-time factors (seconds of compute
per second of audio; below 1 is faster than real time).

Rows: the compiled per-sample loop (dsp_rnn.audio.synthesize) with 1 and with 16 streams
in one call (factor per stream and per call), for the LPC model and the plain mu-law GRU
of the same size, and the torch LPC model stepped per sample
(embeddings, one nn.GRU step, output layer, softmax draw and the LPC prediction in torch;
timed on a shorter stretch and scaled). Random weights at the given sizes (default: the
AudioRNNConfig defaults); features of a 2 s synthetic vowel.

Run: python bench/bench_audio_speed.py [--seconds 2] [--torch-seconds 0.25] [--repeats 3]
     [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import machine_line, median_seconds  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from dsp_rnn.audio import AudioRNN, AudioRNNConfig, export_weights, features, synthesize  # noqa: E402
from dsp_rnn.audio.model import conditioning_inputs, mu_law_codes  # noqa: E402


def _vowel(seconds: float, sr: int) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 30))
    return 0.2 * x / np.abs(x).max() + 1e-3 * np.random.default_rng(0).standard_normal(t.size)


@torch.no_grad()
def torch_stepped(model: AudioRNN, feats, n_samples: int, seed: int) -> np.ndarray:
    """Generate ``n_samples`` with the torch modules, one GRU step per sample."""
    c = model.config
    gen = torch.Generator().manual_seed(seed)
    cond = model.conditioning(torch.from_numpy(conditioning_inputs(feats)))  # (F, C)
    a = torch.from_numpy(feats.lpc).float()  # (F, p + 1)
    past = torch.zeros(c.lpc_order)
    prev_e = torch.zeros(())
    h = torch.zeros(1, 1, c.gru_units)
    out = np.zeros(n_samples, np.float32)
    for t in range(n_samples):
        f = t // c.hop_samples
        pred = -(a[f, 1:] * past.flip(0)).sum()
        bits = c.mu_law_bits
        parts = [model.embed_signal(mu_law_codes(past[-1:], bits))]
        if c.lpc:
            parts += [model.embed_prediction(mu_law_codes(pred[None], bits)),
                      model.embed_excitation(mu_law_codes(prev_e[None], bits))]  # fmt: skip
        x = torch.cat([*parts, cond[f : f + 1]], -1)[None]  # (1, 1, n_in)
        y, h = model.gru(x, h)
        probs = torch.softmax(model.out(y[0, 0]), -1)
        code = torch.multinomial(probs, 1, generator=gen)
        value = model.decode(code)[0]
        s = (pred + value if c.lpc else value).clamp(-1.0, 1.0)
        prev_e = s - pred
        past = torch.cat([past[1:], s[None]])
        out[t] = float(s)
    return out


def _generator_flops(model: AudioRNN) -> float:
    """FLOPs per second of audio of the compiled loop: the GRU's hidden product and the
    output layer per sample (the input products are table lookups there)."""
    c = model.config
    return 2.0 * (3 * c.gru_units * c.gru_units + c.gru_units * c.n_codes) * c.sample_rate


def _row(name: str, streams: int, sec: float, audio_s: float, torch_rtf: float | None) -> dict:
    rtf = sec / audio_s / streams
    return {"path": name, "streams": streams, "seconds_per_call": sec, "rtf_per_stream": rtf,
            "rtf_per_call": sec / audio_s, "x_real_time_aggregate": streams * audio_s / sec,
            "speedup_vs_torch_stepped": None if torch_rtf is None else torch_rtf / rtf}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--torch-seconds", type=float, default=0.25)
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    models = {}
    for lpc in (True, False):
        torch.manual_seed(0)
        models[lpc] = AudioRNN(AudioRNNConfig(lpc=lpc)).eval()
    model = models[True]
    sr = model.config.sample_rate
    feats = features(_vowel(args.seconds, sr), sr)
    audio_s = feats.n_frames * feats.hop_samples / sr
    timed = []
    with threadpool_limits(1):
        n = int(args.torch_seconds * sr)
        t0 = time.perf_counter()
        torch_stepped(model, feats, n, seed=0)
        torch_sec = (time.perf_counter() - t0) * (audio_s * sr / n)
        for lpc, label in ((True, "LPC + GRU"), (False, "plain mu-law GRU")):
            w = export_weights(models[lpc])
            synthesize(w, feats, seed=0, streams=1)  # compile / load the cached kernel
            for k in (1, args.streams):
                sec = median_seconds(lambda w=w, k=k: synthesize(w, feats, seed=0, streams=k),
                                     repeats=args.repeats, warmup=1)  # fmt: skip
                timed.append((f"{label}, numba loop", k, sec))
    torch_rtf = torch_sec / audio_s
    rows = [_row(name, k, sec, audio_s, torch_rtf) for name, k, sec in timed]
    rows.append(_row("LPC + GRU, torch stepped per sample", 1, torch_sec, audio_s, torch_rtf))
    size = {"parameters": model.count_parameters(), "gru_units": model.config.gru_units,
            "gflops_per_audio_second": model.flops_per_second() / 1e9,
            "plain_gflops_per_audio_second": models[False].flops_per_second() / 1e9,
            "generator_gflops_per_audio_second": _generator_flops(model) / 1e9}  # fmt: skip
    if args.json:
        print(json.dumps({"audio_seconds": audio_s, "size": size, "rows": rows}))
        return 0
    print(machine_line(("numpy", "numba", "torch")))
    print(f"AudioRNN defaults: {size['parameters']} parameters (GRU {size['gru_units']} units), "
          f"{size['gflops_per_audio_second']:.2f} GFLOP per second of audio teacher-forced "
          f"({size['plain_gflops_per_audio_second']:.2f} without LPC), "
          f"{size['generator_gflops_per_audio_second']:.2f} in the compiled loop (its input "
          f"products are table lookups); {audio_s:.2f} s of audio "
          f"at {sr} Hz; one thread; the torch row timed on {args.torch_seconds:g} s and "
          "scaled\n")  # fmt: skip
    print("| path | streams | RTF per stream | x real time (all streams) | vs torch stepped |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        ratio = r["speedup_vs_torch_stepped"]
        print(f"| {r['path']} | {r['streams']} | {r['rtf_per_stream']:.3f} | "
              f"{r['x_real_time_aggregate']:.1f} | {ratio:.0f}x |")  # fmt: skip
    print("\nRTF: seconds of compute per second of audio (below 1 is faster than real time).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
