"""Shared pieces of the int8 quantization scripts (scripts/models/quantize_*.py): decoding audio
with ffmpeg, the aisfx front end in numpy (crates/neural/models/aisfx/PROVENANCE.md, "Front end") and the
musicnn patch cut, and calibration readers for onnxruntime.quantization."""
import subprocess

import numpy as np

AISFX_SR, N_FFT, HOP, N_MELS, BLOCK, LOG_MAX = 44100, 2048, 1024, 96, 100, 9.457798957824707
MUSICNN_SR, PATCH = 16000, 48128


def decode(path, sr, seconds=None):
    """Mono float32 at `sr` (ffmpeg), at most `seconds` from the start."""
    cmd = ["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(sr)]
    if seconds:
        cmd += ["-t", str(seconds)]
    cmd += ["-f", "f32le", "-"]
    return np.frombuffer(subprocess.run(cmd, check=True, capture_output=True).stdout, dtype=np.float32)


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_bank():
    """librosa.filters.mel(sr=44100, n_fft=2048, n_mels=96, fmin=0, fmax=22050, htk=True, norm=1)."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(AISFX_SR / 2), N_MELS + 2))
    bins = np.arange(N_FFT // 2 + 1) * AISFX_SR / N_FFT
    w = np.zeros((N_MELS, bins.size))
    for m in range(N_MELS):
        a, b, c = edges[m:m + 3]
        w[m] = np.maximum(0, np.minimum((bins - a) / (b - a), (c - bins) / (c - b)))
        w[m] /= w[m].sum()
    return w


_BANK = None


def aisfx_blocks(x, count):
    """`count` evenly spaced blocks [count, 100, 96] of aisfx's log-mel of `x` (44.1 kHz)."""
    global _BANK
    if _BANK is None:
        _BANK = mel_bank()
    peak = np.abs(x).max()
    if peak > 0:
        x = x / peak
    frames = 1 + len(x) // HOP
    pad = np.concatenate([np.zeros(HOP), x.astype(np.float64), np.zeros(N_FFT + BLOCK * HOP)])
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    n = max(1, min(count, frames // BLOCK))
    starts = [((2 * k + 1) * max(frames - BLOCK + 1, 1)) // (2 * n) for k in range(n)]
    out = []
    for s in starts:
        fr = np.stack([pad[(s + j) * HOP:(s + j) * HOP + N_FFT] * win for j in range(BLOCK)])
        p = np.abs(np.fft.rfft(fr, axis=1)) ** 2
        out.append((np.log10(1 + 1e4 * (p @ _BANK.T)) / LOG_MAX).astype(np.float32))
    return np.stack(out)


def musicnn_patches(x, count):
    """`count` evenly spaced 3.008 s patches [count, 48128] of `x` (16 kHz)."""
    if len(x) < PATCH:
        x = np.concatenate([x, np.zeros(PATCH - len(x), np.float32)])
    total = len(x) - PATCH + 1
    n = max(1, min(count, -(-len(x) // PATCH)))
    return np.stack([x[((2 * k + 1) * total) // (2 * n):][:PATCH] for k in range(n)]).astype(np.float32)


class Reader:
    """An onnxruntime.quantization CalibrationDataReader over items of one input."""

    def __init__(self, name, items):
        self.name, self.items, self.i = name, items, 0

    def get_next(self):
        if self.i >= len(self.items):
            return None
        self.i += 1
        return {self.name: self.items[self.i - 1][None]}

    def rewind(self):
        self.i = 0
