#!/usr/bin/env python3
"""Builds the musicnn normalisation reference corpus from Debian game packages.

The corpus is DISJOINT from every evaluation set: none of its packages is used by
build_realmusic.py (0ad, wesnoth, supertux, supertuxkart, warzone2100, hedgewars, openclonk,
xmoto, extremetuxracer) or build_sets.py (sonic-pi-samples, fluid-soundfont-gm, asc-music).
It has two halves, weighted equally by musicnn_norm.py:

  ref_music/<package>/  music tracks of at least 20 s, at most --per-package per package
  ref_clips/<package>/  sound effects shorter than 5 s, at most --per-package per package

Selection is deterministic (sorted by path, evenly spread). The audio is never committed:

    python3 scripts/eval/build_reference.py --scratch target/scratch/ref

Needs apt-get (download only, nothing is installed), dpkg, ffprobe. About 800 MB of .deb
files are downloaded; each is deleted after extraction and everything but audio is pruned.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

# Same folder: the duration probe and the even spread are the real-music set builder's.
from build_realmusic import duration, pick

PACKAGES = [
    "freedroidrpg-data",
    "frozen-bubble-data",
    "pingus-data",
    "lincity-ng-data",
    "flare-game",
    "megaglest-data",
    "lugaru-data",
    "enigma-data",
    "ri-li-data",
    "powermanga-data",
]
# Also tried, no audio symphonia decodes: neverball-data (a stub), openttd-opensfx (.cat),
# teeworlds-data, trigger-rally-data.
# Formats symphonia decodes (tracker modules are skipped).
AUDIO = (".ogg", ".mp3", ".wav", ".flac")
MUSIC_MIN_SECS = 20.0
CLIP_MAX_SECS = 5.0


def fetch(pkg, debs: Path, root: Path):
    dest = root / pkg
    if dest.is_dir():
        return dest
    debs.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["apt-get", "download", pkg], cwd=debs, capture_output=True)
    found = sorted(debs.glob(f"{pkg}_*.deb"))
    if r.returncode != 0 or not found:
        print(f"{pkg}: unavailable, skipped", file=sys.stderr)
        return None
    dest.mkdir(parents=True)
    subprocess.run(["dpkg", "-x", str(found[-1]), str(dest)], check=True)
    for d in found:
        d.unlink()
    for f in dest.rglob("*"):
        if f.is_file() and f.suffix.lower() not in AUDIO:
            f.unlink()
    return dest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scratch", default="target/scratch/ref")
    ap.add_argument("--per-package", type=int, default=20)
    a = ap.parse_args()
    scratch = Path(a.scratch)
    debs, root = scratch / "debs", scratch / "pkgroot"
    for pkg in PACKAGES:
        base = fetch(pkg, debs, root)
        if base is None:
            continue
        files = sorted(f for f in base.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO)
        durs = {f: duration(f) for f in files}
        music = pick([f for f in files if durs[f] >= MUSIC_MIN_SECS], a.per_package)
        clips = pick([f for f in files if 0.0 < durs[f] < CLIP_MAX_SECS], a.per_package)
        for kind, chosen in (("ref_music", music), ("ref_clips", clips)):
            d = scratch / "sets" / kind / pkg
            d.mkdir(parents=True, exist_ok=True)
            for i, f in enumerate(chosen):
                target = d / f"{i:03d}_{f.name}"
                if not target.exists():
                    os.symlink(f.resolve(), target)
        print(f"{pkg:20s} music {len(music):3d}  clips {len(clips):3d}", file=sys.stderr)
    print(scratch / "sets")


if __name__ == "__main__":
    main()
