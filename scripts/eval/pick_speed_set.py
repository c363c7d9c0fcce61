#!/usr/bin/env python3
"""Picks a speed set: one Ogg track per game from labelled sets, of lengths within a range,
whose mean length is as close as possible to a target (20,000 seeded random draws), copied into
OUT as `GAME-FILE`. The `speed132` set of docs/quality.md ("The same vectors and records for
less CPU"):

    python3 scripts/eval/pick_speed_set.py --sets $SCRATCH/sets/{g1,g2,g3,h1} --out $SCRATCH/speed132 \\
        --mean 132 --exclude $SCRATCH/speedmid $SCRATCH/speed12f

(`--exclude`: folders whose file names are skipped, compared with the sets' own file names.)
Needs `soundfile` for the lengths."""
import argparse
import os
import random
import shutil

import soundfile as sf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", nargs="+", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mean", type=float, default=132.0)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--shortest", type=float, default=95.0)
    ap.add_argument("--longest", type=float, default=175.0)
    ap.add_argument("--exclude", nargs="*", default=[])
    ap.add_argument("--seed", type=int, default=132)
    a = ap.parse_args()
    used = {n for d in a.exclude for n in os.listdir(d)}
    by_game = {}
    for s in a.sets:
        for game in sorted(os.listdir(s)):
            d = os.path.join(s, game)
            if not os.path.isdir(d):
                continue
            for f in sorted(os.listdir(d)):
                p = os.path.join(d, f)
                if not f.endswith(".ogg") or f in used:
                    continue
                try:
                    secs = sf.info(p).duration
                except Exception:  # noqa: BLE001 (an unreadable file is not a candidate)
                    continue
                if a.shortest <= secs <= a.longest:
                    by_game.setdefault((s, game), []).append((p, secs))
    games = sorted(by_game)
    rng = random.Random(a.seed)
    best = None
    for _ in range(20000):
        pick = rng.sample(games, a.count)
        tracks = [rng.choice(by_game[g]) for g in pick]
        mean = sum(secs for _, secs in tracks) / a.count
        if best is None or abs(mean - a.mean) < abs(best[0] - a.mean):
            best = (mean, tracks)
    os.makedirs(a.out, exist_ok=True)
    for p, secs in best[1]:
        name = f"{os.path.basename(os.path.dirname(p))}-{os.path.basename(p)}"
        shutil.copy(p, os.path.join(a.out, name))
        print(f"{secs:6.1f} s  {name}")
    print(f"{len(best[1])} tracks, mean {best[0]:.1f} s")


if __name__ == "__main__":
    main()
