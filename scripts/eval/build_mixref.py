#!/usr/bin/env python3
"""Builds the mixed reference corpus ("mixref") behind the shipped per-dimension
standardisation table (mean/std of every feature dimension).

Purpose: the standardisation table is fixed and ships with the product, so it must be computed
on real audio that no evaluation ever scores. This script rebuilds that audio from the Debian
archive, deterministically:

  SCRATCH/music/<package>/NN_<name>.<ext>   music tracks of at least 20 s, at most
                                            --per-package per package, evenly spread over the
                                            path-sorted candidates (build_realmusic.pick)
  SCRATCH/clips/<source>/NN_<name>.<ext>    one-shots of 50 ms to 5 s (drum hits from
                                            hydrogen-drumkits kits, sound effects), at most
                                            --per-package per package or kit
  SCRATCH/manifest.json                     every file: path, kind, package, version, file in
                                            the package, sha256, duration, codec

The clips are about a quarter of the corpus by count: their total is a third of the music
count, dealt evenly over the clip sources (each capped at --per-package). Files whose bytes
repeat an earlier file (same sha256) are skipped. A copy of the manifest (paths and hashes
only, never audio) is written to scripts/eval/mixref.manifest.json next to this script.

Disjointness: no package is shared with any evaluation set, nor derived from one. Excluded
(and rejected by a guard below): 0ad-data, wesnoth*, supertux*, supertuxkart*, warzone2100*,
hedgewars*, openclonk*, xmoto*, extremetuxracer*, freedroidrpg*, frozen-bubble*, pingus*,
lincity-ng*, flare*, megaglest*, lugaru*, enigma*, ri-li*, powermanga* (build_realmusic.py,
build_reference.py, build_gamesets.py), sonic-pi-samples, fluid-soundfont-gm, asc-music
(build_sets.py), hydrogen-data (its GMRockKit) and sound-theme-freedesktop: the last three
are also the test suite's real recordings (scripts/test-deps.sh: $SONGREC_TEST_AUDIO), which
tests score. hydrogen-drumkits is a separate package of other kits. Files byte-identical to a
file under any --block folder are skipped too (default: the repo's target/test-audio when it
exists; oxygen-sounds, for one, ships a copy of a freedesktop sound); pass the extracted
evaluation packages to check those as well:

    python3 scripts/eval/build_mixref.py --block target/test-audio target/scratch/pkgroot

Licences: every package is from Debian main, so its data is DFSG-free (see each package's
/usr/share/doc/<package>/copyright). The audio is only extracted to the scratch folder and is
never committed.

Run (download only, nothing is installed; about 1.4 GB of .deb files, each deleted after
extraction unless --keep-debs; re-running skips packages already extracted):

    python3 scripts/eval/build_mixref.py --scratch target/scratch/mixref

Needs apt-get, dpkg-deb, unzip (the .pk3 archives of nexuiz-music and ufoai-music are zips),
ffprobe and ffmpeg (the fretsonfire songs ship as separate stems that the game plays together:
they are mixed with ffmpeg amix, which scales each stem by 1/n so that the already loud stems
do not clip, and encoded to Ogg Vorbis q6; Opus, which symphonia cannot decode, would be
converted to Vorbis q6 the same way). Every chosen file is checked with
ffprobe: it must report a duration and a codec among vorbis, mp3, pcm_*, flac.
"""
import argparse
import fnmatch
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

# Same folder: the duration probe, the even spread and the variant markers of the real-music set.
from build_realmusic import VARIANT_MARKERS, duration, pick

EXCLUDED = ["0ad*", "wesnoth*", "supertux*", "supertuxkart*", "warzone2100*",
            "hedgewars*", "openclonk*", "xmoto*", "extremetuxracer*", "freedroidrpg*",
            "frozen-bubble*", "pingus*", "lincity-ng*", "flare*", "megaglest*", "lugaru*",
            "enigma*", "ri-li*", "powermanga*", "sonic-pi-samples", "fluid-soundfont-gm",
            "asc-music", "hydrogen-data", "sound-theme-freedesktop"]

# Music: package -> globs relative to the extracted package (archives unpacked under _pk3/).
MUSIC = {
    "ufoai-music": ["_pk3/*/music/*.ogg"],
    "naev-data": ["usr/share/naev/dat/snd/music/*.ogg"],
    "nexuiz-music": ["_pk3/*/sound/cdtracks/*.ogg"],
    "colobot-common-sounds": ["usr/share/games/colobot/music/*.ogg"],
    "drascula-music": ["usr/share/scummvm/drascula/audio/*.ogg"],
    "hyperrogue-music": ["usr/share/hyperrogue/music/*.ogg"],
    "warmux-data": ["usr/share/games/warmux/music/*/*.ogg"],
    "planetblupi-music-ogg": ["usr/share/planetblupi/music/*.ogg"],
    "pushover-data": ["usr/share/pushover/themes/*.ogg"],
    "singularity-music": ["usr/share/games/singularity/music/*.ogg"],
    "gigalomania-data": ["usr/share/gigalomania/music/*.ogg"],
}
# Music shipped as stems played together: package -> glob of the song folders.
STEMS = {
    "fretsonfire-songs-muldjord": "usr/share/games/fretsonfire/data/songs/*/*",
    "fretsonfire-songs-sectoid": "usr/share/games/fretsonfire/data/songs/*/*",
}
STEM_FILES = ("song.ogg", "guitar.ogg", "rhythm.ogg", "drums.ogg")
# Clips: source name -> (package, globs).
KITS = "usr/share/hydrogen/data/drumkits/"
CLIPS = {
    "hydrogen-ColomboAcousticDrumkit": ("hydrogen-drumkits", [KITS + "ColomboAcousticDrumkit/*"]),
    "hydrogen-Millo-Drums_v.1": ("hydrogen-drumkits", [KITS + "Millo-Drums_v.1/*"]),
    "hydrogen-ElectricEmpireKit": ("hydrogen-drumkits", [KITS + "ElectricEmpireKit/*"]),
    "hydrogen-HardElectro1": ("hydrogen-drumkits", [KITS + "HardElectro1/*"]),
    "warmux-data": ("warmux-data", ["usr/share/games/warmux/sound/**/*"]),
    "hyperrogue-music": ("hyperrogue-music", ["usr/share/hyperrogue/sounds/*"]),
    "naev-data": ("naev-data", ["usr/share/naev/dat/snd/sounds/*"]),
    "colobot-common-sounds": ("colobot-common-sounds", ["usr/share/games/colobot/sounds/*"]),
    "freeorion-data": ("freeorion-data", ["usr/share/games/freeorion/default/data/sound/**/*"]),
    "oxygen-sounds": ("oxygen-sounds", ["usr/share/sounds/**/*"]),
}
# Tried and rejected (kept here, and in the manifest, so nobody tries them again).
REJECTED = {
    "neverball-data": "a stub, no audio",
    "openttd-opensfx": "sounds in a .cat archive",
    "teeworlds-data": "no audio symphonia decodes",
    "trigger-rally-data": "no audio symphonia decodes",
    "tomatoes-data": "music is one Impulse Tracker module (.it)",
    "xblast-tnt-musics": "music is raw PCM (.raw) without a header",
    "cataclysm-dda-data": "only 2 short .ogg files",
    "tuxfootball": "no music, a dozen .wav effects only",
    "boswars-data": "one .ogg track; its .wav unit voices are not needed",
    "sound-theme-freedesktop": "the test suite's real recordings (scripts/test-deps.sh)",
}

# Extensions kept after extraction; .oga is Ogg (Vorbis) and is linked as .ogg, .opus is
# converted to Vorbis.
AUDIO = (".ogg", ".oga", ".mp3", ".wav", ".flac", ".opus")
ARCHIVES = (".pk3", ".zip")
CODECS_OK = ("vorbis", "mp3", "flac")
MUSIC_MIN_SECS = 20.0
CLIP_MAX_SECS = 5.0
CLIP_MIN_SECS = 0.05  # shorter "hits" (a 20 ms click) are not one-shots
VERSION_FILE = ".mixref-version"


def excluded(pkg):
    return any(fnmatch.fnmatch(pkg, pat) for pat in EXCLUDED)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def fetch(pkg, debs: Path, root: Path, keep_debs=False):
    """Extracts the audio of PKG under ROOT/PKG (once) and returns (folder, version)."""
    assert not excluded(pkg), pkg
    dest = root / pkg
    if (dest / VERSION_FILE).is_file():
        return dest, (dest / VERSION_FILE).read_text().strip()
    if dest.exists():
        shutil.rmtree(dest)  # an interrupted extraction
    debs.mkdir(parents=True, exist_ok=True)
    if not list(debs.glob(f"{pkg}_*.deb")):
        r = subprocess.run(["apt-get", "download", pkg], cwd=debs, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{pkg}: apt-get download failed: {r.stderr.strip()}", file=sys.stderr)
            return None, None
    deb = sorted(debs.glob(f"{pkg}_*.deb"))[-1]
    version = run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True).stdout.strip()
    dest.mkdir(parents=True)
    run(["dpkg-deb", "-x", str(deb), str(dest)])
    for arc in sorted(f for f in dest.rglob("*") if f.is_file() and f.suffix.lower() in ARCHIVES):
        out = dest / "_pk3" / arc.stem
        out.mkdir(parents=True, exist_ok=True)
        # unzip exits 11 when no member matches: that is not an error here.
        subprocess.run(["unzip", "-qq", "-o", "-C", str(arc)] + [f"*{e}" for e in AUDIO] + ["-d", str(out)],
                       check=False)
    for f in dest.rglob("*"):
        if (f.is_file() or f.is_symlink()) and f.suffix.lower() not in AUDIO:
            f.unlink()
    if not keep_debs:
        deb.unlink()
    (dest / VERSION_FILE).write_text(version + "\n")
    return dest, version


def probe_codec(path: Path) -> str:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                          "stream=codec_name", "-of", "json", str(path)], capture_output=True, text=True)
    try:
        return json.loads(out.stdout)["streams"][0]["codec_name"]
    except (ValueError, KeyError, IndexError):
        return ""


def codec_ok(codec):
    return codec in CODECS_OK or codec.startswith("pcm_")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def to_vorbis(inputs, target: Path):
    """Encodes INPUTS (mixed at 1/n each when several) to Ogg Vorbis q6 at TARGET, once."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp.ogg")
    cmd = ["ffmpeg", "-v", "error", "-y"]
    for i in inputs:
        cmd += ["-i", str(i)]
    if len(inputs) > 1:
        cmd += ["-filter_complex", f"amix=inputs={len(inputs)}:duration=longest"]
    run(cmd + ["-c:a", "libvorbis", "-q:a", "6", str(tmp)])
    tmp.rename(target)
    return target


class Corpus:
    def __init__(self, scratch: Path, block=()):
        self.scratch = scratch
        self.root = scratch / "pkgroot"
        self.derived = scratch / "derived"
        self.seen = {}  # source sha256 -> first path
        self.files = []
        self.dupes = 0
        self.blocked = set()  # sha256 of the files under the --block folders
        for d in block:
            for f in Path(d).rglob("*"):
                if f.is_file() and f.suffix.lower() in AUDIO:
                    self.blocked.add(sha256(f))
        self.blocked_skipped = 0

    def candidates(self, base: Path, globs):
        """Audio files matching GLOBS, sorted by path, first copy of each content only."""
        found = sorted({f for g in globs for f in base.glob(g)
                        if f.is_file() and f.suffix.lower() in AUDIO})
        out = []
        for f in found:
            h = sha256(f)
            if h in self.blocked:
                self.blocked_skipped += 1
                continue
            if h in self.seen:
                self.dupes += 1
                continue
            self.seen[h] = f
            out.append((f, h))
        return out

    def playable(self, f: Path, pkg: str, stem: str):
        """(file to link, codec) with Opus converted to Vorbis, or None if undecodable."""
        codec = probe_codec(f)
        if codec == "opus":
            f = to_vorbis([f], self.derived / pkg / f"{stem}.ogg")
            codec = probe_codec(f)
        return (f, codec) if codec_ok(codec) else None

    def add(self, kind, source, pkg, version, i, f, src_rel, src_sha, extra=None):
        ext = ".ogg" if f.suffix.lower() in (".oga", ".opus") else f.suffix.lower()
        link = self.scratch / kind / source / f"{i:02d}_{Path(src_rel).stem}{ext}"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(f.resolve())
        codec = probe_codec(link)
        d = duration(link)
        assert codec_ok(codec) and d > 0, (link, codec, d)
        entry = {"path": str(link.relative_to(self.scratch)), "kind": kind, "source": source,
                 "package": pkg, "version": version, "file": src_rel, "sha256": sha256(link),
                 "duration": round(d, 3), "codec": codec}
        if extra:
            entry.update(extra)
        if entry["sha256"] != src_sha and "stems_sha256" not in entry:
            entry["source_sha256"] = src_sha
        self.files.append(entry)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scratch", default="target/scratch/mixref")
    ap.add_argument("--per-package", type=int, default=20)
    ap.add_argument("--clip-ratio", type=float, default=1 / 3, help="clips per music track")
    ap.add_argument("--keep-debs", action="store_true")
    ap.add_argument("--repo-manifest", default=str(Path(__file__).with_name("mixref.manifest.json")))
    fixtures = Path(__file__).resolve().parents[2] / "target" / "test-audio"
    ap.add_argument("--block", nargs="*", default=[str(fixtures)] if fixtures.is_dir() else [],
                    help="folders whose audio files (by sha256) are never taken")
    a = ap.parse_args()
    scratch = Path(a.scratch)
    debs = scratch / "debs"
    for d in a.block:
        if not Path(d).is_dir():
            ap.error(f"--block {d}: not a folder")
    c = Corpus(scratch, a.block)
    print(f"{len(c.blocked)} blocked hashes from {len(a.block)} folder(s)", file=sys.stderr)
    for kind in ("music", "clips"):
        if (scratch / kind).exists():
            shutil.rmtree(scratch / kind)
    versions, summary, bad = {}, {}, {}  # bad: files ffprobe cannot read or decode

    def get(pkg):
        if pkg not in versions:
            versions[pkg] = fetch(pkg, debs, c.root, a.keep_debs)
        return versions[pkg]

    # Music, one package at a time (sorted by path, variants dropped, at least 20 s).
    for pkg, globs in list(MUSIC.items()) + [(p, None) for p in STEMS]:
        base, version = get(pkg)
        if base is None:
            summary[pkg] = {"error": "download failed"}
            continue
        ok = []
        if globs is not None:
            for f, h in c.candidates(base, globs):
                if any(m in f.stem.lower() for m in VARIANT_MARKERS):
                    continue
                p = c.playable(f, pkg, f.stem)
                if not p or duration(p[0]) <= 0.0:
                    bad[f"music/{pkg}"] = bad.get(f"music/{pkg}", 0) + 1
                elif duration(p[0]) >= MUSIC_MIN_SECS:
                    ok.append((p[0], str(f.relative_to(base)), h, None))
        else:
            for song in sorted(d for d in base.glob(STEMS[pkg]) if d.is_dir()):
                stems = [song / s for s in STEM_FILES if (song / s).is_file()]
                if not stems:
                    continue
                h = hashlib.sha256("".join(sha256(s) for s in stems).encode()).hexdigest()
                if h in c.seen:
                    c.dupes += 1
                    continue
                c.seen[h] = song
                out = to_vorbis(stems, c.derived / pkg / f"{song.name}.ogg")
                if codec_ok(probe_codec(out)) and duration(out) >= MUSIC_MIN_SECS:
                    extra = {"derived": "mix of stems " + "+".join(s.name for s in stems)
                             + " (ffmpeg amix, each stem x 1/n), Ogg Vorbis q6",
                             "stems_sha256": {s.name: sha256(s) for s in stems}}
                    ok.append((out, str(song.relative_to(base)), h, extra))
        chosen = pick(ok, a.per_package)
        for i, (f, rel, h, extra) in enumerate(chosen):
            c.add("music", pkg, pkg, version, i, f, rel, h, extra)
        summary.setdefault(pkg, {"version": version})["music"] = f"{len(chosen)} of {len(ok)}"

    # Clips: a third of the music count, dealt evenly over the sources (water-filling).
    n_music = len(c.files)
    pools = {}
    for source, (pkg, globs) in CLIPS.items():
        base, version = get(pkg)
        if base is None:
            summary[source] = {"error": "download failed"}
            continue
        ok = []
        for f, h in c.candidates(base, globs):
            p = c.playable(f, pkg, f.stem)
            d = duration(p[0]) if p else 0.0
            if d <= 0.0:
                bad[f"clips/{source}"] = bad.get(f"clips/{source}", 0) + 1
            elif CLIP_MIN_SECS <= d < CLIP_MAX_SECS:
                ok.append((p[0], str(f.relative_to(base)), h))
        pools[source] = (pkg, version, ok)
    target = round(n_music * a.clip_ratio)
    quota = {s: 0 for s in pools}
    while sum(quota.values()) < target:
        open_ = [s for s in pools if quota[s] < min(a.per_package, len(pools[s][2]))]
        if not open_:
            break
        for s in open_:
            if sum(quota.values()) < target:
                quota[s] += 1
    for source, (pkg, version, ok) in pools.items():
        chosen = pick(ok, quota[source]) if quota[source] else []
        for i, (f, rel, h) in enumerate(chosen):
            c.add("clips", source, pkg, version, i, f, rel, h)
        summary.setdefault(source, {"version": version})["clips"] = f"{len(chosen)} of {len(ok)}"

    music = [e for e in c.files if e["kind"] == "music"]
    clips = [e for e in c.files if e["kind"] == "clips"]
    totals = {"music": len(music), "clips": len(clips),
              "music_packages": len({e["package"] for e in music}),
              "clip_sources": len({e["source"] for e in clips}),
              "music_seconds": round(sum(e["duration"] for e in music), 1),
              "clip_seconds": round(sum(e["duration"] for e in clips), 1),
              "duplicates_skipped": c.dupes, "blocked_skipped": c.blocked_skipped,
              "blocked_hashes": len(c.blocked), "undecodable_skipped": bad}
    manifest = {
        "purpose": "reference corpus for the shipped per-dimension standardisation table; "
                   "disjoint from every evaluation set (see scripts/eval/build_mixref.py)",
        "excluded_packages": EXCLUDED,
        "rejected_packages": REJECTED,
        "packages": {p: v for p, (_, v) in sorted(versions.items())},
        "totals": totals,
        "files": c.files,
    }
    text = json.dumps(manifest, indent=1) + "\n"
    (scratch / "manifest.json").write_text(text)
    if a.repo_manifest:
        Path(a.repo_manifest).write_text(text)
    for name, s in summary.items():
        n = bad.get(f"music/{name}", 0) + bad.get(f"clips/{name}", 0)
        note = f"{n} undecodable skipped" if n else ""
        print(f"{name:34s} {s.get('version', ''):22s} music {s.get('music', '-'):9s} "
              f"clips {s.get('clips', '-'):9s} {s.get('error', note)}", file=sys.stderr)
    print(json.dumps(totals), file=sys.stderr)
    unmet = []
    if totals["music"] < 100 or totals["music_packages"] < 6:
        unmet.append("music: need >= 100 tracks from >= 6 packages")
    if totals["clips"] < 40 or totals["clip_sources"] < 3:
        unmet.append("clips: need >= 40 from >= 3 sources")
    for u in unmet:
        print("NOT MET: " + u, file=sys.stderr)
    print(scratch)
    return 1 if unmet else 0


if __name__ == "__main__":
    sys.exit(main())
