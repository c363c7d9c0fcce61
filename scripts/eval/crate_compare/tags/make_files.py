#!/usr/bin/env python3
"""Builds the tagged test set from real recordings (asc-music MP3, freedesktop Ogg).
Tags are written by ffmpeg (libavformat muxers) and mutagen, the two writers most
real-world libraries see. Writes files/*.{ext} and files/expected.json."""
import json, os, shutil, subprocess as sp
from mutagen.id3 import ID3, TIT2, TPE1, TALB, TCON, TRCK, TDRC, TYER, TPE2
from mutagen.apev2 import APEv2
from mutagen.flac import FLAC
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE
from mutagen.mp4 import MP4

TA = os.path.join(os.path.dirname(__file__), "../../../../target/test-audio")
D = "target/compare/tags/files"
os.chdir(D)
for f in os.listdir(D):
    os.remove(os.path.join(D, f))

def ff(*args):
    sp.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)

# 20 s of a real recording (asc-music "Frontiers"), as the source of every encode.
ff("-ss", "30", "-t", "20", "-i", f"{TA}/asc/frontiers.mp3", "-ac", "2", "-ar", "44100", "src.wav")
exp = {}

def meta(d):
    out = []
    for k, v in d.items():
        out += ["-metadata", f"{k}={v}"]
    return out

BASIC = {"title": "Frontiers", "artist": "ASC Team", "album": "ASC Music", "genre": "Soundtrack", "track": "3", "date": "2004"}
BASIC_EXP = dict(title="Frontiers", artist="ASC Team", album="ASC Music", genre="Soundtrack", track=3, year=2004)
MESSY = {"title": "Café 日本語 ", "artist": "Björk / 坂本龍一", "album": "Ålbum  ", "genre": "(17)", "track": "3/12", "date": "2019-05-01"}
MESSY_EXP = dict(title="Café 日本語", artist="Björk / 坂本龍一", album="Ålbum", genre="Rock", track=3, year=2019)

# --- MP3 -----------------------------------------------------------------
ff("-i", "src.wav", "-c:a", "libmp3lame", "-b:a", "128k", "plain.mp3")
def mp3(name, *extra, m=BASIC):
    ff("-i", "plain.mp3", "-c", "copy", *extra, *meta(m), name)
mp3("mp3_id3v24_ffmpeg.mp3", "-id3v2_version", "4"); exp["mp3_id3v24_ffmpeg.mp3"] = BASIC_EXP
mp3("mp3_id3v23_ffmpeg.mp3", "-id3v2_version", "3"); exp["mp3_id3v23_ffmpeg.mp3"] = BASIC_EXP
mp3("mp3_id3v23_messy.mp3", "-id3v2_version", "3", m=MESSY); exp["mp3_id3v23_messy.mp3"] = MESSY_EXP
mp3("mp3_id3v24_messy.mp3", "-id3v2_version", "4", m=MESSY); exp["mp3_id3v24_messy.mp3"] = MESSY_EXP
# ID3v1 only (ffmpeg: no ID3v2, v1 footer; genre becomes the numeric v1 byte).
# (ffmpeg's -write_id3v1 wrote nothing with -c copy, so mutagen writes v2+v1 and the v2 is deleted.)
shutil.copy("plain.mp3", "mp3_id3v1_only.mp3")
t = ID3(); t.add(TIT2(encoding=0, text=["Frontiers"])); t.add(TPE1(encoding=0, text=["ASC Team"])); t.add(TALB(encoding=0, text=["ASC Music"]))
t.add(TCON(encoding=0, text=["Rock"])); t.add(TRCK(encoding=0, text=["3"])); t.add(TDRC(encoding=0, text=["2004"]))
t.save("mp3_id3v1_only.mp3", v1=2, v2_version=3)
from mutagen.id3 import delete as id3_delete
id3_delete("mp3_id3v1_only.mp3", delete_v1=False, delete_v2=True)
exp["mp3_id3v1_only.mp3"] = {**BASIC_EXP, "genre": "Rock"}
# ID3v2.4 written by mutagen: multi-value artist (NUL separated), numeric genre, date, NULs, long.
shutil.copy("plain.mp3", "mp3_id3v24_mutagen_multi.mp3")
t = ID3(); long_title = "Long " + "x" * 4000
t.add(TIT2(encoding=3, text=[long_title])); t.add(TPE1(encoding=3, text=["Artist One", "Artist Two"]))
t.add(TALB(encoding=3, text=["Album\x00\x00"])); t.add(TCON(encoding=3, text=["17"]))
t.add(TRCK(encoding=3, text=["3/12"])); t.add(TDRC(encoding=3, text=["2019-05-01"]))
t.save("mp3_id3v24_mutagen_multi.mp3", v2_version=4)
exp["mp3_id3v24_mutagen_multi.mp3"] = dict(title=long_title, artist="Artist One; Artist Two", album="Album", genre="Rock", track=3, year=2019)
# ID3v2.3 by mutagen: UTF-16 text, "(17)" genre, TYER, album artist only.
shutil.copy("plain.mp3", "mp3_id3v23_mutagen_utf16.mp3")
t = ID3(); t.add(TIT2(encoding=1, text=["日本語のタイトル"])); t.add(TPE2(encoding=1, text=["Album Artist Only"]))
t.add(TALB(encoding=1, text=["Ålbum"])); t.add(TCON(encoding=1, text=["(17)"])); t.add(TRCK(encoding=1, text=["03"]))
t.add(TYER(encoding=1, text=["1999"]))
t.save("mp3_id3v23_mutagen_utf16.mp3", v2_version=3)
exp["mp3_id3v23_mutagen_utf16.mp3"] = dict(title="日本語のタイトル", artist="Album Artist Only", album="Ålbum", genre="Rock", track=3, year=1999)
# APEv2 only on MP3, and APEv2 + ID3v1 (foobar2000's default for MP3 used to be that).
shutil.copy("plain.mp3", "mp3_apev2_only.mp3")
a = APEv2(); a["Title"] = "Frontiers"; a["Artist"] = "ASC Team"; a["Album"] = "ASC Music"; a["Genre"] = "Soundtrack"; a["Track"] = "3/12"; a["Year"] = "2004"
a.save("mp3_apev2_only.mp3"); exp["mp3_apev2_only.mp3"] = BASIC_EXP
# Full-length real file (4.4 MB, 440 s) with ID3v2.4, for timing on a real-size file.
ff("-i", f"{TA}/asc/frontiers.mp3", "-c", "copy", "-id3v2_version", "4", *meta(BASIC), "mp3_fulllength_v24.mp3"); exp["mp3_fulllength_v24.mp3"] = BASIC_EXP
# As shipped by Debian (ID3v1.1 footer with all fields empty).
shutil.copy(f"{TA}/asc/machine_wars.mp3", "mp3_asc_as_shipped.mp3"); exp["mp3_asc_as_shipped.mp3"] = {}

# --- FLAC / Ogg / Opus ---------------------------------------------------
ff("-i", "src.wav", *meta(BASIC), "flac_ffmpeg.flac"); exp["flac_ffmpeg.flac"] = BASIC_EXP
ff("-i", "src.wav", *meta(BASIC), "flac_messy.flac")
f = FLAC("flac_messy.flac"); f.delete()
f["TITLE"] = ["Café 日本語 "]; f["ARTIST"] = ["Björk", "坂本龍一"]; f["ALBUM"] = ["Ålbum\x00"]
f["GENRE"] = ["(17)"]; f["TRACKNUMBER"] = ["3/12"]; f["DATE"] = ["2019-05-01"]; f.save()
exp["flac_messy.flac"] = dict(title="Café 日本語", artist="Björk; 坂本龍一", album="Ålbum", genre="(17)", track=3, year=2019)
ff("-i", "src.wav", "-c:a", "libvorbis", "-q:a", "3", *meta(BASIC), "ogg_vorbis_ffmpeg.ogg"); exp["ogg_vorbis_ffmpeg.ogg"] = BASIC_EXP
ff("-i", "src.wav", "-c:a", "libvorbis", "-q:a", "3", "ogg_vorbis_messy.ogg")
o = OggVorbis("ogg_vorbis_messy.ogg")
o["TITLE"] = ["Café 日本語"]; o["ARTIST"] = ["Björk", "坂本龍一"]; o["ALBUMARTIST"] = ["VA"]; o["ALBUM"] = ["x" * 10000]
o["GENRE"] = ["Rock"]; o["TRACKNUMBER"] = ["03"]; o["TRACKTOTAL"] = ["12"]; o["DATE"] = ["2019-05-01T10:00:00"]; o.save()
exp["ogg_vorbis_messy.ogg"] = dict(title="Café 日本語", artist="Björk; 坂本龍一", album="x" * 10000, genre="Rock", track=3, year=2019)
ff("-i", "src.wav", "-c:a", "libopus", "-b:a", "64k", *meta(MESSY), "opus_messy.opus")
exp["opus_messy.opus"] = {**MESSY_EXP, "genre": "(17)"}
shutil.copy(f"{TA}/freedesktop/complete.oga", "oga_freedesktop_as_shipped.oga"); exp["oga_freedesktop_as_shipped.oga"] = {}
ff("-i", f"{TA}/freedesktop/complete.oga", "-c", "copy", *meta(BASIC), "oga_freedesktop_tagged.oga"); exp["oga_freedesktop_tagged.oga"] = BASIC_EXP

# --- MP4 -----------------------------------------------------------------
ff("-i", "src.wav", "-c:a", "aac", "-b:a", "128k", *meta(BASIC), "m4a_aac_ffmpeg.m4a"); exp["m4a_aac_ffmpeg.m4a"] = BASIC_EXP
ff("-i", "src.wav", "-c:a", "alac", *meta(MESSY), "m4a_alac_messy.m4a"); exp["m4a_alac_messy.m4a"] = {**MESSY_EXP, "genre": "(17)"}
ff("-i", "src.wav", "-c:a", "aac", "-b:a", "128k", "m4a_aac_mutagen.m4a")
m4 = MP4("m4a_aac_mutagen.m4a")
m4["\xa9nam"] = ["日本語"]; m4["\xa9ART"] = ["Artist One", "Artist Two"]; m4["aART"] = ["VA"]; m4["\xa9alb"] = ["Ålbum "]
m4["\xa9gen"] = ["Rock"]; m4["trkn"] = [(3, 12)]; m4["\xa9day"] = ["2019-05-01T07:00:00Z"]; m4.save()
exp["m4a_aac_mutagen.m4a"] = dict(title="日本語", artist="Artist One; Artist Two", album="Ålbum", genre="Rock", track=3, year=2019)
# Raw ADTS AAC with an ID3v2 header (ffmpeg adts muxer).
ff("-i", "src.wav", "-c:a", "aac", "-b:a", "128k", "-write_id3v2", "1", *meta(BASIC), "aac_adts_id3.aac"); exp["aac_adts_id3.aac"] = BASIC_EXP

# --- WAV / AIFF ----------------------------------------------------------
ff("-i", "src.wav", *meta(BASIC), "wav_riff_info.wav"); exp["wav_riff_info.wav"] = BASIC_EXP
ff("-i", "src.wav", *meta(MESSY), "wav_riff_info_messy.wav"); exp["wav_riff_info_messy.wav"] = {**MESSY_EXP, "genre": "(17)"}
ff("-i", "src.wav", "-map_metadata", "-1", "wav_id3_chunk.wav")
w = WAVE("wav_id3_chunk.wav"); w.add_tags()
w.tags.add(TIT2(encoding=3, text=["Frontiers"])); w.tags.add(TPE1(encoding=3, text=["ASC Team"])); w.tags.add(TALB(encoding=3, text=["ASC Music"]))
w.tags.add(TCON(encoding=3, text=["Soundtrack"])); w.tags.add(TRCK(encoding=3, text=["3"])); w.tags.add(TDRC(encoding=3, text=["2004"])); w.save()
exp["wav_id3_chunk.wav"] = BASIC_EXP
ff("-i", "src.wav", "-write_id3v2", "1", *meta(BASIC), "aiff_id3.aiff"); exp["aiff_id3.aiff"] = BASIC_EXP

# --- Matroska / WebM -----------------------------------------------------
ff("-i", "src.wav", "-c:a", "flac", *meta(BASIC), "mka_flac.mka"); exp["mka_flac.mka"] = BASIC_EXP
ff("-i", "src.wav", "-c:a", "libopus", "-b:a", "64k", *meta(BASIC), "webm_opus.webm"); exp["webm_opus.webm"] = BASIC_EXP

for f in ["src.wav", "plain.mp3"]:
    os.remove(f)
json.dump(exp, open("expected.json", "w"), ensure_ascii=False, indent=1)
print(len(exp), "files")
