#!/usr/bin/env python3
"""librosa MFCC mean + std (20 coefficients, 22.05 kHz, on the DSP embedder's excerpts: the
`mfcc` of ears_embed.py) for every audio file below a labelled set, for speed_score.py --mfcc.

    python3 scripts/eval/mfcc_dump.py $SCRATCH/sets/h1 $SCRATCH/mfcc/h1.npz
"""
import sys
from pathlib import Path

import librosa
import numpy as np

from ears_embed import SR, decode, windows

AUDIO = {".ogg", ".mp3", ".wav", ".flac", ".m4a", ".aiff", ".aif"}


def main():
    base, out = Path(sys.argv[1]), Path(sys.argv[2])
    files = sorted(p for p in base.rglob("*") if p.suffix.lower() in AUDIO)
    paths, rows = [], []
    for f in files:
        y = decode(f)
        segs = [y[s:e] for s, e in windows(len(y))]
        s22 = [librosa.resample(s.astype(np.float32), orig_sr=SR, target_sr=22050, res_type="soxr_hq") for s in segs]
        mf = np.concatenate([librosa.feature.mfcc(y=s, sr=22050, n_mfcc=20) for s in s22 if len(s) > 0], axis=1)
        rows.append(np.concatenate([mf.mean(1), mf.std(1)]))
        paths.append(str(f.relative_to(base)))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, paths=np.array(paths), mfcc=np.array(rows))
    print(f"{out}: {len(paths)} files")


if __name__ == "__main__":
    main()
