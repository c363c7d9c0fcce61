#!/usr/bin/env python3
"""A fifth labelled game-soundtrack set, `h1` (label = game), from Debian packages that no other
set and no reference corpus uses (build_sets.py, build_realmusic.py, build_reference.py,
build_gamesets.py, build_mixref.py): widelands-data, unknown-horizons, starfighter-data,
redeclipse-data. Chosen because they are the only further packages whose music symphonia
decodes and that hold at least 10 music tracks of at least 20 s (checked: 7kaa-data,
openarena-data, scorched3d-data, armagetronad-common, triplea, holotz-castle-data,
tecnoballz-data, mirrormagic-data, alienblaster-data, pokerth-data, freedroid-data and
fb-music-high have none or fewer than 4). At most 20 tracks per game, evenly spread over the
alphabetical list (build_realmusic.pick), variants dropped as there.

    python3 scripts/eval/build_heldout.py --scratch $SCRATCH/heldout --out $SCRATCH/sets

About 1.2 GB of .deb files (redeclipse-data is 860 MB). Files are symlinks into SCRATCH/pkgroot.
Writes OUT/h1/<game>/<track> and OUT/h1.manifest.json.
"""
import argparse
import json
import os
from pathlib import Path

from build_realmusic import VARIANT_MARKERS, duration, fetch, pick

GAMES = {
    "widelands": ("widelands-data", "usr/share/games/widelands/data/music"),
    "unknown-horizons": ("unknown-horizons", "usr/share/unknown-horizons/content/audio/music"),
    "starfighter": ("starfighter-data", "usr/share/starfighter/music"),
    "redeclipse": ("redeclipse-data", "usr/share/games/redeclipse/data"),
}
AUDIO = {".ogg", ".wav", ".mp3", ".flac"}
MIN_SECS = 20.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scratch", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-label", type=int, default=20)
    a = ap.parse_args()
    scratch, out = Path(a.scratch), Path(a.out)
    manifest = {}
    for game, (pkg, sub) in GAMES.items():
        base = fetch(pkg, scratch / "debs", scratch / "pkgroot") / sub
        files = sorted((f for f in base.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO
                        and "music" in str(f.relative_to(base.parent)).lower()
                        and not any(m in f.stem.lower() for m in VARIANT_MARKERS)),
                       key=lambda p: (p.name.lower(), str(p)))
        files = [f for f in files if duration(f) >= MIN_SECS]
        chosen = pick(files, a.per_label)
        d = out / "h1" / game
        d.mkdir(parents=True, exist_ok=True)
        for f in chosen:
            link = d / f.name
            if not link.exists():
                os.symlink(f.resolve(), link)
        manifest[game] = {"package": pkg, "available": len(files), "tracks": [f.name for f in chosen]}
        print(f"h1 {game:18s} {len(chosen):3d} of {len(files):3d} tracks ({pkg})")
    (out / "h1.manifest.json").write_text(json.dumps(manifest, indent=1))


if __name__ == "__main__":
    main()
