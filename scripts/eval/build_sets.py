#!/usr/bin/env python3
"""Build labelled evaluation sets for songrec-audio under an output folder (default
target/scratch/sets). Every set is a folder whose sub-folder names are the labels.

Sets:
  sonicpi/   Debian sonic-pi-samples one-shots and loops, label = name prefix (bd, tabla, ...)
  gm/        General MIDI instrument families rendered with tinysoundfont + FluidR3_GM
             (random program in family, pitch, velocity, note length incl. 50 ms notes)
  styles/    20 s generated "songs" in 9 styles (drum pattern, tempo range, instrument palette,
             harmony), random key/tempo/instruments per song; half encoded to mp3, some to ogg
  styles_b/  same styles, different random seed (held-out check against over-tuning)
  realmp3/   8 excerpts (15 s) of each of the 3 real MP3s in Debian asc-music, label = track
  bench3min/ 3-minute generated songs (mp3 + flac) for the ingest benchmark
  drums/     drum one-shots by instrument (kick, snare, clap, hihat, cymbal, tom): the GM drum
             kits of FluidR3 (standard, room, power, electronic, 808, jazz, brush, orchestra)
             at several velocities and lengths (some under 0.4 s), plus the matching real
             sonic-pi samples

Inputs (extract without installing):
  apt-get download sonic-pi-samples fluid-soundfont-gm asc-music
  for f in *.deb; do dpkg -x $f target/scratch/pkgroot; done
Python deps (venv): numpy soundfile, and `pip install --no-deps tinysoundfont`; ffmpeg on PATH.

Usage: build_sets.py [--root target/scratch/pkgroot] [--out target/scratch/sets] [--only NAME ...]
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100

# ----------------------------------------------------------------------------- rendering


class Renderer:
    def __init__(self, sf2):
        import tinysoundfont

        # Loading the 141 MB SoundFont is slow: one synth, reset between renders.
        self.synth = tinysoundfont.Synth(samplerate=SR, gain=-3)
        self.sfid = self.synth.sfload(sf2)

    def render(self, events, programs, secs, drums=True):
        """events: list of (t_on, chan, key, vel, dur). programs: {chan: program}."""
        synth, sfid = self.synth, self.sfid
        for ch in range(16):
            synth.sounds_off(ch)
        synth.generate(SR // 10)  # let released voices die
        for ch, prog in programs.items():
            synth.program_select(ch, sfid, 0, prog)
        if drums:
            synth.program_select(9, sfid, 128, 0, is_drums=True)
        ev = []
        for t, ch, key, vel, dur in events:
            if t >= secs:
                continue
            ev.append((t, 1, ch, key, vel))
            ev.append((min(t + dur, secs), 0, ch, key, 0))
        ev.sort(key=lambda e: (e[0], e[1]))
        total = int(secs * SR)
        out = np.zeros((total, 2), dtype=np.float32)
        pos = 0
        for t, on, ch, key, vel in ev:
            s = min(int(t * SR), total)
            if s > pos:
                out[pos:s] = np.frombuffer(synth.generate(s - pos), dtype=np.float32).reshape(-1, 2)
                pos = s
            if on:
                synth.noteon(ch, int(key), int(max(1, min(127, vel))))
            else:
                synth.noteoff(ch, int(key))
        if total > pos:
            out[pos:] = np.frombuffer(synth.generate(total - pos), dtype=np.float32).reshape(-1, 2)
        peak = np.abs(out).max()
        if peak > 0.99:
            out *= 0.99 / peak
        return out


def write_audio(path, audio, fmt):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "flac":
        sf.write(str(path.with_suffix(".flac")), audio, SR, subtype="PCM_16")
        return
    tmp = path.with_suffix(".tmp.wav")
    sf.write(str(tmp), audio, SR, subtype="PCM_16")
    codec = {"mp3": ["-c:a", "libmp3lame", "-b:a", "192k"], "ogg": ["-c:a", "libvorbis", "-q:a", "5"]}[fmt]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(tmp), *codec, str(path.with_suffix("." + fmt))], check=True)
    tmp.unlink()


# ----------------------------------------------------------------------------- sets


def build_sonicpi(root, out):
    src = Path(root) / "usr/share/sonic-pi/samples"
    files = sorted(src.glob("*.flac"))
    by = {}
    for f in files:
        by.setdefault(f.name.split("_")[0], []).append(f)
    n = 0
    for label, fs in sorted(by.items()):
        if len(fs) < 4:  # too few for precision@5
            continue
        d = out / label
        d.mkdir(parents=True, exist_ok=True)
        for f in fs:
            shutil.copy(f, d / f.name)
            n += 1
    print(f"sonicpi: {n} files")


FAMILIES = ["piano", "chromatic_perc", "organ", "guitar", "bass", "strings", "ensemble", "brass",
            "reed", "pipe", "synth_lead", "synth_pad", "synth_fx", "ethnic", "percussive", "sound_fx"]


def build_gm(rend, out, per_family=10, seed=1):
    rng = random.Random(seed)
    n = 0
    for fam, name in enumerate(FAMILIES):
        for i in range(per_family):
            prog = fam * 8 + rng.randrange(8)
            lo, hi = (28, 52) if name == "bass" else (45, 84)
            note_len = rng.choice([0.05, 0.1, 0.25, 0.5, 1.0, 2.0])
            n_notes = rng.choice([1, 1, 1, 2, 3])
            vel = rng.randint(45, 127)
            ev = []
            t = 0.0
            for _ in range(n_notes):
                ev.append((t, 0, rng.randint(lo, hi), vel, note_len))
                t += note_len + rng.choice([0.0, 0.05])
            secs = t + (0.1 if note_len <= 0.1 else 0.4)
            audio = rend.render(ev, {0: prog}, secs, drums=False)
            write_audio(out / name / f"{name}_{i:02d}_p{prog}", audio, "flac")
            n += 1
    print(f"gm: {n} files")


KICK, SNARE, STICK, CLAP, CHH, PHH, OHH, CRASH, RIDE = 36, 38, 37, 39, 42, 44, 46, 49, 51
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]


def triad(tonic, scale, degree, octave=60, seventh=False):
    notes = []
    for k in ([0, 2, 4, 6] if seventh else [0, 2, 4]):
        d = degree + k
        notes.append(octave + tonic + scale[d % 7] + 12 * (d // 7))
    return notes


STYLES = {
    # name: (bpm range, minor?, palette dict, progression options)
    "rock": ((100, 145), False, {"chords": [29, 30, 27], "bass": [33, 34], "lead": [29, 30, 81]},
             [[0, 4, 5, 3], [0, 3, 4, 3], [5, 3, 0, 4]]),
    "house": ((118, 128), True, {"chords": [81, 89, 4, 90], "bass": [38, 39, 87], "lead": [80, 81]},
              [[0, 5, 2, 6], [0, 3, 4, 0], [0, 6, 5, 6]]),
    "jazz": ((100, 180), False, {"chords": [0, 4, 1], "bass": [32], "lead": [65, 66, 56, 11]},
             [[1, 4, 0, 0], [0, 5, 1, 4], [2, 5, 1, 4]]),
    "ambient": ((60, 80), False, {"chords": [88, 89, 91, 92, 94, 95, 49], "bass": [89, 48], "lead": [14, 8, 98, 11]},
                [[0, 3, 5, 3], [0, 4, 5, 3], [5, 3, 0, 0]]),
    "hiphop": ((80, 96), True, {"chords": [4, 5, 0, 11], "bass": [33, 38, 35], "lead": [4, 80, 48]},
               [[0, 5, 3, 4], [0, 0, 5, 5], [0, 3, 0, 4]]),
    "bossa": ((120, 145), False, {"chords": [24], "bass": [32, 33], "lead": [73, 65, 71]},
              [[1, 4, 0, 0], [0, 1, 4, 0], [3, 4, 0, 5]]),
    "classical": ((60, 100), False, {"chords": [48, 49, 46, 0], "bass": [42, 43], "lead": [40, 73, 68, 71]},
                  [[0, 3, 4, 0], [0, 5, 3, 4], [0, 4, 5, 3]]),
    "reggae": ((68, 84), False, {"chords": [16, 17, 27, 28], "bass": [33, 32], "lead": [16, 56, 65]},
               [[0, 3, 0, 4], [0, 5, 3, 4], [0, 3, 4, 3]]),
    "dnb": ((164, 176), True, {"chords": [89, 90, 50], "bass": [38, 39, 87], "lead": [81, 84]},
            [[0, 5, 6, 4], [0, 0, 5, 6], [0, 3, 5, 4]]),
}


def drum_pattern(style, rng):
    """Returns list of (step16, note, vel) for one bar of 16 steps; and swing amount."""
    p = []
    if style == "rock":
        kicks = rng.choice([[0, 8], [0, 6, 8], [0, 8, 10], [0, 3, 8]])
        p += [(s, KICK, 110) for s in kicks] + [(4, SNARE, 115), (12, SNARE, 115)]
        p += [(s, CHH if rng.random() < 0.8 else RIDE, 80) for s in range(0, 16, 2)]
        return p, 0.0
    if style == "house":
        p += [(s, KICK, 120) for s in (0, 4, 8, 12)] + [(s, OHH, 85) for s in (2, 6, 10, 14)]
        p += [(4, CLAP, 100), (12, CLAP, 100)] + [(s, CHH, 60) for s in range(1, 16, 2) if rng.random() < 0.5]
        return p, 0.0
    if style == "jazz":
        p += [(s, RIDE, 85) for s in (0, 4, 6, 8, 12, 14)] + [(4, PHH, 70), (12, PHH, 70)]
        p += [(s, KICK, 45) for s in (0, 8) if rng.random() < 0.5] + [(s, SNARE, 40) for s in (6, 11) if rng.random() < 0.4]
        return p, 0.33
    if style == "hiphop":
        p += [(s, KICK, 115) for s in rng.choice([[0, 7, 10], [0, 3, 10], [0, 8, 9]])]
        p += [(4, SNARE, 110), (12, SNARE, 110)] + [(s, CHH, 70) for s in range(0, 16, 2)]
        return p, 0.2
    if style == "bossa":
        p += [(s, KICK, 80) for s in (0, 3, 4, 7, 8, 11, 12, 15)] + [(s, STICK, 85) for s in (0, 3, 6, 10, 13)]
        p += [(s, 70, 60) for s in range(16)]  # maracas
        return p, 0.0
    if style == "reggae":
        p += [(8, KICK, 110), (8, STICK, 100)] + [(s, CHH, 70) for s in range(0, 16, 2)]
        return p, 0.25
    if style == "dnb":
        p += [(s, KICK, 115) for s in rng.choice([[0, 10], [0, 6, 10], [0, 10, 11]])]
        p += [(4, SNARE, 118), (12, SNARE, 118), (7, SNARE, 60)] + [(s, CHH, 70) for s in range(0, 16, 2)]
        return p, 0.0
    return [], 0.0  # ambient, classical


def make_song(style, rng, secs=20.0):
    (blo, bhi), minor, pal, progs = STYLES[style]
    bpm = rng.uniform(blo, bhi)
    tonic = rng.randrange(12)
    scale = MINOR if minor or rng.random() < 0.25 else MAJOR
    prog = rng.choice(progs)
    progs_ch = {0: rng.choice(pal["chords"]), 1: rng.choice(pal["bass"]), 2: rng.choice(pal["lead"])}
    beat = 60.0 / bpm
    step = beat / 4
    bar = 4 * beat
    ev = []
    pattern, swing = drum_pattern(style, rng)
    n_bars = int(secs / bar) + 1
    melody_on = rng.random() < 0.7
    for b in range(n_bars):
        t0 = b * bar
        deg = prog[b % len(prog)]
        seventh = style in ("jazz", "bossa")
        ch = triad(tonic, scale, deg, octave=rng.choice([48, 60]) if style != "bass" else 48, seventh=seventh)
        root = 36 + tonic + scale[deg % 7]
        # chords
        if style in ("ambient", "classical"):
            for n in ch:
                ev.append((t0, 0, n, rng.randint(60, 90), bar * 0.98))
            if style == "classical":  # arpeggio
                for i in range(8):
                    ev.append((t0 + i * beat / 2, 2, ch[i % len(ch)] + 12, rng.randint(55, 85), beat / 2))
        elif style in ("reggae",):
            for s in (2, 6, 10, 14):
                for n in ch:
                    ev.append((t0 + s * step, 0, n, 80, step))
        elif style in ("house", "dnb"):
            for s in rng.choice([[0], [2, 6, 10, 14], [0, 6, 12]]):
                for n in ch:
                    ev.append((t0 + s * step, 0, n, 85, step * 2))
        elif style == "bossa":
            for s in (0, 3, 6, 10, 13):
                for n in ch:
                    ev.append((t0 + s * step, 0, n, 75, step * 2))
        elif style == "jazz":
            for s in rng.sample([0, 3, 6, 8, 11, 14], 3):
                for n in ch:
                    ev.append((t0 + s * step, 0, n, 65, step * 2))
        elif style == "rock":
            for s in range(0, 16, 2):
                for n in (ch[0], ch[0] + 7, ch[0] + 12):
                    ev.append((t0 + s * step, 0, n - 12, 95, step * 1.8))
        else:  # hiphop
            for n in ch:
                ev.append((t0, 0, n, 70, bar * 0.5))
        # bass
        if style == "jazz":
            walk = [root, root + scale[2], root + 7, root + scale[5] - 12 + 12]
            for i in range(4):
                ev.append((t0 + i * beat, 1, walk[i], 90, beat * 0.9))
        elif style in ("ambient", "classical"):
            ev.append((t0, 1, root, 70, bar))
        elif style == "house":
            for s in (2, 6, 10, 14):
                ev.append((t0 + s * step, 1, root, 100, step * 1.5))
        elif style == "rock":
            for s in range(0, 16, 2):
                ev.append((t0 + s * step, 1, root, 100, step * 1.8))
        elif style == "reggae":
            for s, off in ((0, 0), (3, 0), (6, 7), (10, 12), (12, 7)):
                ev.append((t0 + s * step, 1, root + off, 105, step * 1.5))
        elif style == "dnb":
            ev.append((t0, 1, root, 110, bar * 0.45))
            ev.append((t0 + bar / 2, 1, root + rng.choice([0, 3, 5]), 110, bar * 0.45))
        else:
            for s, off in ((0, 0), (6, 0), (8, 7), (12, 0)):
                ev.append((t0 + s * step, 1, root + off, 100, step * 2.5))
        # drums
        for s, note, vel in pattern:
            sw = swing * step if s % 2 == 1 else 0.0
            ev.append((t0 + s * step + sw + rng.uniform(-0.006, 0.006), 9, note, vel + rng.randint(-10, 6), 0.1))
        if b % 4 == 0 and style in ("rock", "house", "dnb"):
            ev.append((t0, 9, CRASH, 95, 0.5))
        # melody
        if melody_on and style != "classical":
            for i in range(rng.choice([2, 4, 6, 8])):
                s = rng.randrange(16)
                n = 72 + tonic + scale[rng.randrange(7)] - (12 if rng.random() < 0.5 else 0)
                ev.append((t0 + s * step, 2, n, rng.randint(60, 100), step * rng.choice([1, 2, 4])))
    return ev, progs_ch, bpm, tonic


def build_styles(rend, out, per_style=12, seed=7, secs=20.0):
    rng = random.Random(seed)
    n = 0
    for style in STYLES:
        for i in range(per_style):
            ev, progs, bpm, tonic = make_song(style, rng, secs)
            audio = rend.render(ev, progs, secs, drums=True)
            fmt = ["mp3", "flac", "mp3", "ogg"][i % 4]
            write_audio(out / style / f"{style}_{i:02d}_{int(bpm)}bpm", audio, fmt)
            n += 1
    print(f"styles: {n} files in {out}")


def build_realmp3(root, out, per_track=8, secs=15):
    src = Path(root) / "usr/share/games/asc/music"
    n = 0
    for f in sorted(src.glob("*.mp3")):
        dur = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(f)],
                                   check=True, capture_output=True, text=True).stdout.strip())
        d = out / f.stem
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_track):
            start = (i + 0.5) * dur / per_track - secs / 2
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", f"{max(0, start):.2f}", "-t", str(secs), "-i", str(f),
                            "-c:a", "libmp3lame", "-b:a", "160k", str(d / f"{f.stem}_{i}.mp3")], check=True)
            n += 1
    print(f"realmp3: {n} files")


def build_bench(rend, out, n=6, seed=99):
    rng = random.Random(seed)
    styles = list(STYLES)
    for i in range(n):
        style = styles[i % len(styles)]
        ev, progs, bpm, tonic = make_song(style, rng, 180.0)
        audio = rend.render(ev, progs, 180.0, drums=True)
        write_audio(out / f"bench_{i:02d}_{style}", audio, "mp3" if i % 2 == 0 else "flac")
    print(f"bench3min: {n} files")


DRUM_KEYS = {
    "kick": [35, 36],
    "snare": [38, 40],
    "clap": [39],
    "hihat": [42, 44, 46],
    "cymbal": [49, 51, 52, 55, 57, 59],
    "tom": [41, 43, 45, 47, 48, 50],
}
DRUM_KITS = [0, 8, 16, 24, 25, 32, 40, 48]
SONICPI_DRUMS = {
    "kick": ["bd_", "drum_bass_", "drum_heavy_kick", "elec_hollow_kick", "elec_soft_kick"],
    "snare": ["sn_", "drum_snare_", "elec_filt_snare", "elec_hi_snare", "elec_lo_snare",
              "elec_mid_snare", "elec_snare"],
    "cymbal": ["drum_cymbal_hard", "drum_cymbal_open", "drum_cymbal_soft", "drum_splash_",
               "elec_cymbal"],
    "hihat": ["drum_cymbal_closed", "drum_cymbal_pedal"],
    "tom": ["drum_tom_", "elec_fuzz_tom"],
}


def build_drums(rend, root, out, seed=5):
    rng = random.Random(seed)
    synth, sfid = rend.synth, rend.sfid
    n = 0
    for label, keys in DRUM_KEYS.items():
        for kit in DRUM_KITS:
            for key in keys:
                if rng.random() < 0.35:
                    continue
                vel = rng.choice([60, 90, 120])
                secs = rng.choice([0.15, 0.3, 0.6, 1.0])
                for ch in range(16):
                    synth.sounds_off(ch)
                synth.generate(SR // 10)
                synth.program_select(9, sfid, 128, kit, is_drums=True)
                synth.noteon(9, key, vel)
                audio = np.frombuffer(synth.generate(int(secs * SR)), dtype=np.float32).reshape(-1, 2).copy()
                synth.noteoff(9, key)
                peak = np.abs(audio).max()
                if peak < 1e-4:
                    continue
                audio *= 0.9 / peak
                write_audio(out / label / f"gm_kit{kit}_{key}_v{vel}", audio, rng.choice(["flac", "ogg", "mp3"]))
                n += 1
    src = Path(root) / "usr/share/sonic-pi/samples"
    for label, prefixes in SONICPI_DRUMS.items():
        for f in sorted(src.glob("*.flac")):
            if any(f.name.startswith(p) for p in prefixes):
                (out / label).mkdir(parents=True, exist_ok=True)
                shutil.copy(f, out / label / f.name)
                n += 1
    print(f"drums: {n} files")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="target/scratch/pkgroot")
    ap.add_argument("--out", default="target/scratch/sets")
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    out = Path(a.out)
    want = lambda s: not a.only or s in a.only
    sf2 = str(Path(a.root) / "usr/share/sounds/sf2/FluidR3_GM.sf2")
    rend = Renderer(sf2) if any(want(s) for s in ("gm", "styles", "styles_b", "bench3min", "drums")) else None
    for name, fn in [
        ("sonicpi", lambda d: build_sonicpi(a.root, d)),
        ("gm", lambda d: build_gm(rend, d)),
        ("styles", lambda d: build_styles(rend, d, seed=7)),
        ("styles_b", lambda d: build_styles(rend, d, seed=1234, per_style=8)),
        ("realmp3", lambda d: build_realmp3(a.root, d)),
        ("bench3min", lambda d: build_bench(rend, d)),
        ("drums", lambda d: build_drums(rend, a.root, d)),
    ]:
        if want(name):
            d = out / name
            if d.exists():
                shutil.rmtree(d)
            d.mkdir(parents=True)
            fn(d)


if __name__ == "__main__":
    sys.exit(main())
