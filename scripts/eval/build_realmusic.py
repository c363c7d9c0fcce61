#!/usr/bin/env python3
"""Builds the labelled real-music evaluation set from Debian game-soundtrack packages.

Label = the game (one soundtrack: one composer or a small team, one production style). The
audio is not committed; this script rebuilds the set from the Debian archive:

    python3 scripts/eval/build_realmusic.py --scratch target/scratch/neural --out target/scratch/neural/sets

Needs apt-get (download only, nothing is installed), dpkg-deb, unzip, ffmpeg/ffprobe. About
1.7 GB of .deb files are downloaded (0ad-data alone is 1.4 GB; its music is inside a zip).
Opus tracks (warzone2100) are converted to Ogg Vorbis q6 because symphonia cannot decode Opus.

Selection: tracks of at least 20 s; obvious variants of another track are dropped (the
"_fast" copies in supertuxkart, "-old"/"_old" versions, "_sd" versions); at most
--per-label tracks per label, evenly spread over the alphabetical list (deterministic).
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

# label -> (package, glob patterns relative to the extracted package root)
SOURCES = {
    "0ad": ("0ad-data", ["audio/music/*.ogg"]),
    "wesnoth": ("wesnoth-1.16-music", ["usr/share/games/wesnoth/1.16/data/core/music/*.ogg"]),
    "supertux": ("supertux-data", ["usr/share/games/supertux2/music/*/*.ogg"]),
    "supertuxkart": ("supertuxkart-data", ["usr/share/games/supertuxkart/data/music/*.ogg"]),
    "warzone2100": ("warzone2100-music", ["usr/share/games/warzone2100/music/albums/*/*.opus"]),
    "hedgewars": ("hedgewars-data", ["usr/share/games/hedgewars/Data/Music/*.ogg"]),
    "openclonk": ("openclonk-data", ["usr/share/games/openclonk/Music.ocg/*.ogg"]),
    "xmoto": ("xmoto-data", ["usr/share/games/xmoto/Textures/Musics/*.ogg"]),
    "extremetuxracer": ("extremetuxracer-data", ["usr/share/games/etr/music/*.ogg"]),
}
VARIANT_MARKERS = ("_fast", "-old", "_old", "_sd")
MIN_SECS = 20.0


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def fetch(pkg, debs: Path, root: Path) -> Path:
    dest = root / pkg
    if dest.is_dir() and any(dest.iterdir()):
        return dest
    debs.mkdir(parents=True, exist_ok=True)
    if not list(debs.glob(f"{pkg}_*.deb")):
        run(["apt-get", "download", pkg], cwd=debs)
    deb = sorted(debs.glob(f"{pkg}_*.deb"))[-1]
    dest.mkdir(parents=True, exist_ok=True)
    if pkg == "0ad-data":
        # The music is inside a 3 GB zip: extract only that zip, then only the music.
        tmp = root / "_0ad_tmp"
        tmp.mkdir(exist_ok=True)
        p1 = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        run(["tar", "-x", "-C", str(tmp), "./usr/share/games/0ad/mods/public/public.zip"], stdin=p1.stdout)
        p1.wait()
        run(["unzip", "-q", "-o", str(tmp / "usr/share/games/0ad/mods/public/public.zip"),
             "audio/music/*.ogg", "-d", str(dest)])
        run(["rm", "-rf", str(tmp)])
    else:
        run(["dpkg", "-x", str(deb), str(dest)])
    return dest


def duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "csv=p=0", str(path)], capture_output=True, text=True)
    try:
        return float(out.stdout.strip())
    except ValueError:
        return 0.0


def pick(items, n):
    if len(items) <= n:
        return items
    return [items[(2 * k + 1) * len(items) // (2 * n)] for k in range(n)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scratch", default="target/scratch/neural")
    ap.add_argument("--out", default=None, help="default: SCRATCH/sets")
    ap.add_argument("--per-label", type=int, default=24)
    ap.add_argument("--name", default="realmusic")
    a = ap.parse_args()
    scratch = Path(a.scratch)
    out = Path(a.out or scratch / "sets") / a.name
    debs, root = scratch / "debs", scratch / "pkgroot"
    manifest = {}
    for label, (pkg, globs) in SOURCES.items():
        base = fetch(pkg, debs, root)
        files = sorted({f for g in globs for f in base.glob(g)}, key=lambda p: p.name.lower())
        files = [f for f in files if not any(m in f.stem.lower() for m in VARIANT_MARKERS)]
        files = [f for f in files if duration(f) >= MIN_SECS]
        chosen = pick(files, a.per_label)
        d = out / label
        d.mkdir(parents=True, exist_ok=True)
        for f in chosen:
            name = f"{f.parent.name}_{f.stem}" if label == "warzone2100" else f.stem
            if f.suffix == ".opus":
                target = d / f"{name}.ogg"
                if not target.exists():
                    run(["ffmpeg", "-v", "error", "-y", "-i", str(f), "-c:a", "libvorbis", "-q:a", "6",
                         str(target)])
            else:
                target = d / f"{name}{f.suffix}"
                if not target.exists():
                    os.symlink(f.resolve(), target)
        manifest[label] = {"package": pkg, "available": len(files), "chosen": [c.name for c in chosen]}
        print(f"{label:16s} {len(chosen):3d} of {len(files):3d} tracks ({pkg})", file=sys.stderr)
    (out.parent / f"{a.name}.manifest.json").write_text(json.dumps(manifest, indent=1))
    print(out)


if __name__ == "__main__":
    main()
