#!/usr/bin/env python3
"""Three disjoint labelled game-soundtrack sets (label = game) from Debian packages, for
out-of-sample (leave-one-set-out) choices of the embedding recipe.

Games: the 9 of build_realmusic.py and the 10 of build_reference.py. A game is kept when it has
at least --min-per-label music tracks of at least 20 s (variants dropped as in
build_realmusic.py); at most --per-label tracks are taken per game, evenly spread over the
alphabetical list (build_realmusic.pick). Games are dealt to the sets g1, g2, g3 in a fixed
order (GAMES below, round robin), so each set mixes former "realmusic" and "reference" games.

    python3 scripts/eval/build_gamesets.py --scratch target/scratch/games --out target/scratch/sets

Needs apt-get (download only), dpkg, unzip, ffprobe, ffmpeg (warzone2100's Opus -> Vorbis q6,
as build_realmusic.py). About 3.4 GB of .deb files (0ad-data is 1.4 GB); --skip 0ad leaves it
out. Files are symlinks into SCRATCH/pkgroot. Writes OUT/<set>/<game>/<track> and
OUT/gamesets.manifest.json.
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from build_realmusic import SOURCES as REAL, VARIANT_MARKERS, duration, fetch as fetch_real, pick
from build_reference import AUDIO, fetch as fetch_ref

# fixed dealing order: realmusic and reference games alternate
GAMES = ["wesnoth", "freedroidrpg", "supertux", "frozen-bubble", "supertuxkart", "pingus",
         "warzone2100", "lincity-ng", "hedgewars", "flare", "openclonk", "megaglest", "xmoto",
         "lugaru", "extremetuxracer", "enigma", "0ad", "ri-li", "powermanga"]
REF = {"freedroidrpg": "freedroidrpg-data", "frozen-bubble": "frozen-bubble-data",
       "pingus": "pingus-data", "lincity-ng": "lincity-ng-data", "flare": "flare-game",
       "megaglest": "megaglest-data", "lugaru": "lugaru-data", "enigma": "enigma-data",
       "ri-li": "ri-li-data", "powermanga": "powermanga-data"}
MIN_SECS = 20.0


def tracks(game, scratch):
    if game in REAL:
        pkg, globs = REAL[game]
        base = fetch_real(pkg, scratch / "debs", scratch / "pkgroot")
        files = sorted({f for g in globs for f in base.glob(g)}, key=lambda p: p.name.lower())
    else:
        pkg = REF[game]
        base = fetch_ref(pkg, scratch / "debs", scratch / "pkgroot")
        if base is None:
            return pkg, []
        files = sorted((f for f in base.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO),
                       key=lambda p: (p.name.lower(), str(p)))
    files = [f for f in files if not any(m in f.stem.lower() for m in VARIANT_MARKERS)]
    return pkg, [f for f in files if duration(f) >= MIN_SECS]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scratch", default="target/scratch/games")
    ap.add_argument("--out", default="target/scratch/sets")
    ap.add_argument("--per-label", type=int, default=20)
    ap.add_argument("--min-per-label", type=int, default=6)
    ap.add_argument("--skip", nargs="*", default=[])
    a = ap.parse_args()
    scratch, out = Path(a.scratch), Path(a.out)
    manifest, kept = {}, []
    for game in GAMES:
        if game in a.skip:
            manifest[game] = {"skipped": "--skip"}
            continue
        pkg, files = tracks(game, scratch)
        if len(files) < a.min_per_label:
            manifest[game] = {"package": pkg, "available": len(files), "dropped": "too few tracks >= 20 s"}
            print(f"{game:16s} dropped: {len(files)} tracks >= 20 s", file=sys.stderr)
            continue
        kept.append((game, pkg, files))
    for i, (game, pkg, files) in enumerate(kept):
        s = "g%d" % (i % 3 + 1)
        chosen = pick(files, a.per_label)
        d = out / s / game
        d.mkdir(parents=True, exist_ok=True)
        names = []
        for j, f in enumerate(chosen):
            stem = f"{j:02d}_{f.parent.name}_{f.stem}"
            if f.suffix == ".opus":
                target = d / f"{stem}.ogg"
                if not target.exists():
                    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(f), "-c:a", "libvorbis",
                                    "-q:a", "6", str(target)], check=True)
            else:
                target = d / f"{stem}{f.suffix.lower()}"
                if not target.exists():
                    os.symlink(f.resolve(), target)
            names.append(str(f.relative_to(scratch / "pkgroot")))
        manifest[game] = {"set": s, "package": pkg, "available": len(files), "chosen": names}
        print(f"{s} {game:16s} {len(chosen):3d} of {len(files):3d} tracks ({pkg})", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gamesets.manifest.json").write_text(json.dumps(manifest, indent=1))


if __name__ == "__main__":
    main()
