"""Synth voices: tuning, envelopes, and each voice against the filters it is made of."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dsp_rnn.errors import InputError
from dsp_rnn.filters import allpass1, allpass1_tf, biquad_lowpass, freqz, lfilter, sosfilt
from dsp_rnn.synth import ADSR, Additive, KarplusStrong, Subtractive, ks_tuning, midi_to_hz
from dsp_rnn.synth import _kernels as k


def _cents(f: float, ref: float) -> float:
    return 1200.0 * math.log2(f / ref)


def estimate_f0(y: np.ndarray, sample_rate: float, guess_hz: float) -> float:
    """Frequency of the strongest line near ``guess_hz``: the maximum of the windowed DTFT
    magnitude (coarse zero-padded FFT, then golden-section search). For a decaying partial
    the maximum sits exactly at its frequency: the windowed envelope is real."""
    n = len(y)
    w = np.blackman(n)
    yw = y * w
    nfft = 1 << (8 * n - 1).bit_length()
    spec = np.abs(np.fft.rfft(yw, nfft))
    freqs = np.fft.rfftfreq(nfft, 1.0 / sample_rate)
    band = (freqs > guess_hz * 0.9) & (freqs < guess_hz * 1.1)
    f_peak = freqs[band][np.argmax(spec[band])]
    t = np.arange(n) / sample_rate

    def mag(f: float) -> float:
        return abs(np.dot(yw, np.exp(-2j * np.pi * f * t)))

    lo, hi = f_peak - sample_rate / nfft, f_peak + sample_rate / nfft
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = mag(a), mag(b)
    for _ in range(40):
        if fa > fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = mag(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = mag(b)
    return 0.5 * (lo + hi)


def test_estimator_resolves_a_tenth_of_a_cent() -> None:
    sr = 44_100
    for f in (65.4, 440.0, 2093.0):
        f_true = f * 2 ** (0.37 / 1200)
        t = np.arange(int(0.4 * sr)) / sr
        y = np.exp(-3 * t) * np.sin(2 * np.pi * f_true * t) + 0.3 * np.sin(
            2 * np.pi * 2 * f_true * t
        )
        assert abs(_cents(estimate_f0(y, sr, f), f_true)) < 0.01


@pytest.mark.parametrize("sample_rate", [22_050, 44_100, 48_000])
def test_every_ks_note_36_to_96_is_within_one_cent(sample_rate: int) -> None:
    ks = KarplusStrong()
    worst = 0.0
    for pitch in range(36, 97):
        f0 = midi_to_hz(pitch)
        y = ks.render_note(pitch, 100, 2.0, sample_rate=sample_rate, seed=pitch)
        start = int(0.02 * sample_rate)
        seg = y[start : start + max(int(0.25 * sample_rate), int(30 * sample_rate / f0))]
        cents = _cents(estimate_f0(seg, sample_rate, f0), f0)
        worst = max(worst, abs(cents))
        assert abs(cents) < 1.0, f"MIDI {pitch} at {sample_rate} Hz is {cents:+.3f} cents off"
    assert worst < 0.5  # measured: 0.18 (22.05 kHz), 0.011 (44.1 kHz), 0.008 (48 kHz)


def test_without_the_tuning_allpass_high_notes_would_be_far_off() -> None:
    """The 1-cent test can fail: rounding the loop to whole samples misses by cents."""
    sr, pitch = 44_100, 96
    f0 = midi_to_hz(pitch)
    delay, _, d = ks_tuning(f0, sr)
    period_rounded = delay + 0.5 + round(d)
    assert abs(_cents(sr / period_rounded, f0)) > 10


def test_ks_tuning_loop_is_one_period_by_our_allpass_response() -> None:
    for sr in (22_050, 48_000):
        for pitch in (36, 60, 96):
            f0 = midi_to_hz(pitch)
            delay, coeff, d = ks_tuning(f0, sr)
            assert 0.5 <= d < 1.5 and abs(coeff) < 1
            w = 2 * math.pi * f0 / sr
            b, a = allpass1_tf(torch.tensor(coeff, dtype=torch.float64))
            _, h = freqz(b, a, freqs=torch.tensor([w], dtype=torch.float64))
            assert abs(float(h.abs()[0]) - 1) < 1e-12
            phase_delay = -float(torch.angle(h)[0]) / w
            assert delay + 0.5 + phase_delay == pytest.approx(sr / f0, abs=1e-6)


def test_ks_kernel_is_the_loop_of_our_filters() -> None:
    """y - e == g * A(L(y delayed by N)), with L and A run by dsp_rnn.filters."""
    sr, pitch, n = 44_100, 57, 6000
    delay, coeff, _ = ks_tuning(midi_to_hz(pitch), sr)
    exc = k.noise(delay + 1, 7)
    env = np.array([1, 1, 1, 1, n], np.float64)  # flat: attack 1 sample, sustain 1
    ring = np.zeros((1, 8192))
    k.karplus_strong(ring, 0, np.ones(1), n, env, exc, delay, coeff, 0.995)
    y = torch.from_numpy(ring[0, :n])
    delayed = torch.cat([torch.zeros(delay, dtype=torch.float64), y[:-delay]])
    lp = lfilter(torch.tensor([0.5, 0.5], dtype=torch.float64),
                 torch.tensor([1.0, 0.0], dtype=torch.float64), delayed)  # fmt: skip
    loop = 0.995 * allpass1(lp, torch.tensor(coeff, dtype=torch.float64))
    e = torch.zeros(n, dtype=torch.float64)
    e[: len(exc)] = torch.from_numpy(exc)
    torch.testing.assert_close(y - e, loop, rtol=0, atol=1e-12)


def test_ks_decay_follows_t60_and_note_off_damps() -> None:
    sr, pitch = 44_100, 48
    ks = KarplusStrong()
    y = ks.render_note(pitch, 127, 3.0, sample_rate=sr, seed=1)

    f0 = midi_to_hz(pitch)

    def level_db(t0: float) -> float:  # the fundamental's level in a 0.1 s window
        seg = y[int(t0 * sr) : int((t0 + 0.1) * sr)]
        t = np.arange(len(seg)) / sr
        return 20 * math.log10(
            abs(np.dot(seg * np.hanning(len(seg)), np.exp(-2j * np.pi * f0 * t)))
        )

    slope = (level_db(2.0) - level_db(0.5)) / 1.5  # dB per second
    t60 = ks.t60(pitch, 127)
    assert slope == pytest.approx(-60 / t60, rel=0.05)
    short = ks.render_note(pitch, 127, 0.3, sample_rate=sr, seed=1)
    assert len(short) == int(0.3 * sr) + ks.envelope.release_samples(sr)
    assert short[-1] == 0.0


def test_ks_velocity_sets_level_and_brightness() -> None:
    sr = 44_100
    ks = KarplusStrong()
    loud = ks.render_note(60, 120, 0.5, sample_rate=sr, seed=3)
    soft = ks.render_note(60, 30, 0.5, sample_rate=sr, seed=3)
    assert np.sqrt(np.mean(loud**2)) > 8 * np.sqrt(np.mean(soft**2))

    def centroid(y: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(y[: sr // 10]))
        f = np.fft.rfftfreq(sr // 10, 1 / sr)
        return float((spec * f).sum() / spec.sum())

    assert centroid(loud) > 1.2 * centroid(soft)


def test_subtractive_filter_is_the_cookbook_biquad() -> None:
    """At a fixed cutoff the voice's SVF equals biquad_lowpass + sosfilt on the PolyBLEP."""
    sr, n, f0, cutoff, q = 48_000, 4000, 110.0, 1500.0, 3.0
    for square in (False, True):
        env = np.array([1, 1, 1, 1, n], np.float64)
        ring = np.zeros((1, 4096))
        k.subtractive(ring, 0, np.ones(1), n, env, f0, float(sr), square, q, env, cutoff, 0.0)
        osc = torch.from_numpy(k.polyblep(n, f0, float(sr), square))
        sos = biquad_lowpass(torch.tensor(cutoff, dtype=torch.float64), q=q, sample_rate=sr)
        ref = sosfilt(sos.reshape(1, 6), osc)
        torch.testing.assert_close(torch.from_numpy(ring[0, :n]), ref, rtol=0, atol=1e-9)


def test_polyblep_has_less_aliasing_than_a_naive_saw() -> None:
    sr, f0, n = 44_100, 3520.0, 1 << 15  # A7: harmonics fold back hard
    blep = k.polyblep(n, f0, float(sr), False)
    naive = 2.0 * ((np.arange(n) * f0 / sr) % 1.0) - 1.0

    def alias_ratio(y: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(y * np.hanning(n))) ** 2
        f = np.fft.rfftfreq(n, 1 / sr)
        harmonic = np.abs(((f / f0 + 0.5) % 1.0) - 0.5) * f0 < 30
        return spec[~harmonic].sum() / spec[harmonic].sum()

    assert 10 * math.log10(alias_ratio(naive) / alias_ratio(blep)) > 8


def test_additive_partials_and_sine_reference() -> None:
    sr = 48_000
    sine = Additive(harmonics=(1.0,), amplitudes=(1.0,))
    y = sine.render_note(69, 127, 2.0, sample_rate=sr, seed=0)
    env = sine.envelope.gain(len(y), int(2.0 * sr), sr)
    ref = env * np.sin(2 * np.pi * 440.0 * np.arange(len(y)) / sr)
    np.testing.assert_allclose(y, ref, atol=1e-9)
    organ = Additive()
    y = organ.render_note(45, 127, 1.0, sample_rate=sr, seed=0)  # A2, 110 Hz
    for h in organ.harmonics:
        assert abs(_cents(estimate_f0(y[2000:30000], sr, 110.0 * h), 110.0 * h)) < 0.5
    high = organ.render_note(100, 127, 0.2, sample_rate=22_050, seed=0)  # partials >0.45fs dropped
    spec = np.abs(np.fft.rfft(high))
    f = np.fft.rfftfreq(len(high), 1 / 22_050)
    assert spec[f > 0.46 * 22_050].max() < 1e-3 * spec.max()


VOICES = [KarplusStrong(), Subtractive(), Subtractive(waveform="square"), Additive()]


@pytest.mark.parametrize("voice", VOICES, ids=lambda v: f"{v.name}")
@pytest.mark.parametrize("pitch", [40, 64, 88])
def test_notes_start_from_silence_and_end_at_exactly_zero(voice, pitch: int) -> None:
    sr = 44_100
    y = voice.render_note(pitch, 100, 0.4, sample_rate=sr, seed=5)
    assert len(y) == voice.note_samples(0.4, pitch, sr)
    peak = np.abs(y).max()
    assert abs(y[0]) < 0.05 * peak  # the attack ramps from 0
    assert y[-1] == 0.0  # the release fades to exactly 0
    ms = sr // 1000
    jumps = np.abs(np.diff(y))
    body = jumps[5 * ms : -voice.envelope.release_samples(sr)].max()
    assert jumps[: 2 * ms].max() <= 1.01 * body or voice.name == "ks"  # a pluck is its noise
    assert jumps[-2 * ms :].max() <= 1.01 * body


def test_adsr_shape_and_bad_values() -> None:
    env = ADSR(attack_s=0.01, decay_s=0.02, sustain=0.5, release_s=0.05)
    g = env.gain(6000, 2000, 44_100)
    attack = 441
    assert np.all(np.diff(g[:attack]) > 0) and g[attack - 1] == pytest.approx(1.0)
    assert g[1500] == pytest.approx(0.5)
    assert g[2000 + env.release_samples(44_100) - 1] == 0.0
    assert np.all(np.diff(g[2000:]) <= 1e-15)
    with pytest.raises(InputError, match="sustain"):
        ADSR(sustain=1.5)
    with pytest.raises(InputError, match="attack_s"):
        ADSR(attack_s=-1)
    with pytest.raises(InputError, match="f0_hz"):
        ks_tuning(30_000.0, 44_100)
    with pytest.raises(InputError, match="waveform"):
        Subtractive(waveform="triangle")
