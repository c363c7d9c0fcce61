"""songrec serve's Subsonic API (/rest/) driven by two real client libraries from PyPI:
py-sonic (module libsonic, the classic API: POST forms, token and enc: password sign-in) and
py-opensonic (module libopensonic: OpenSubsonic extensions, sonic similarity, API keys).

Run by crates/server/tests/server/subsonic.rs with a server already listening; configured by
the environment:
  SUBSONIC_BASE      http://127.0.0.1
  SUBSONIC_PORT      the server's port
  SUBSONIC_USER, SUBSONIC_PASSWORD, SUBSONIC_API_KEY
  SUBSONIC_MUSIC     the folder the library's files were ingested from (streams are compared
                     with these files byte for byte)
  SUBSONIC_SONGS     how many songs the library holds
Prints one line per check; exits non-zero on the first failure.
"""

import os
import sys

import libopensonic
import libsonic
from libsonic import errors as sonic_errors


def check(ok, what):
    if not ok:
        print(f"FAILED: {what}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def files_by_name(root):
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            out[n] = os.path.join(d, n)
    return out


def classic(base, port, user, password, music, total):
    c = libsonic.Connection(base, user, password, port=port)
    check(c.ping() is True, "py-sonic: ping (token sign-in, POST form)")
    legacy = libsonic.Connection(base, user, password, port=port, legacyAuth=True)
    check(legacy.ping() is True, "py-sonic: ping (enc: password)")
    wrong = libsonic.Connection(base, user, password + "x", port=port)
    try:
        wrong.ping()
        check(False, "py-sonic: a wrong password is refused")
    except sonic_errors.CredentialError:
        check(True, "py-sonic: a wrong password is refused (error 40)")

    arts = c.getArtists()
    artists = [a for idx in arts["artists"]["index"] for a in idx["artist"]]
    check(len(artists) >= 3, f"py-sonic: getArtists lists {len(artists)} artists")
    songs = []
    for a in artists:
        artist = c.getArtist(a["id"])["artist"]
        for al in artist["album"]:
            album = c.getAlbum(al["id"])["album"]
            songs.extend(album["song"])
    check(len(songs) == total, f"py-sonic: every song reached through artists and albums ({len(songs)} of {total})")

    files = files_by_name(music)
    song = next(s for s in songs if s["suffix"] == "mp3")
    got = c.getSong(song["id"])["song"]
    check(got["id"] == song["id"] and got["title"] == song["title"], "py-sonic: getSong")
    name = song["path"].rsplit("/", 1)[-1]
    with open(files[name], "rb") as f:
        local = f.read()
    streamed = c.stream(song["id"]).read()
    check(streamed == local, f"py-sonic: stream gives the file's {len(local)} bytes")

    everything = c.search3("", artistCount=0, albumCount=0, songCount=500)["searchResult3"]
    check(len(everything.get("song", [])) == total, "py-sonic: search3 with an empty query lists every song")
    word = song["title"].split()[0]
    found = c.search3(word)["searchResult3"].get("song", [])
    check(any(s["id"] == song["id"] for s in found), f"py-sonic: search3 finds {word!r}")

    similar = c.getSimilarSongs(song["id"], count=5)["similarSongs"]["song"]
    check(len(similar) == 5 and all(s["id"] != song["id"] for s in similar),
          "py-sonic: getSimilarSongs gives 5 other songs")
    return songs


def opensubsonic(base, port, user, password, api_key, songs):
    o = libopensonic.Connection(base, user, password, port=port)
    try:
        names = {e.name for e in o.get_open_subsonic_extensions()}
        check({"sonicSimilarity", "formPost", "apiKeyAuthentication"} <= names,
              f"py-opensonic: extensions {sorted(names)}")
        seed = songs[0]["id"]
        matches = o.get_sonic_similar_tracks(seed, count=5)
        sims = [m.similarity for m in matches]
        check(len(matches) == 5, "py-opensonic: get_sonic_similar_tracks gives 5 matches")
        check(all(0.0 <= s <= 1.0 for s in sims), f"py-opensonic: similarities in 0..1 {sims}")
        check(sims == sorted(sims, reverse=True), "py-opensonic: best match first")
        check(all(m.entry.id != seed for m in matches), "py-opensonic: never the seed")
        start, end = songs[0]["id"], songs[-1]["id"]
        path = o.find_sonic_path(start, end, count=6)
        check(3 <= len(path) <= 6, f"py-opensonic: find_sonic_path gives at most 6 songs ({len(path)})")
        check(path[0].entry.id == start and path[-1].entry.id == end,
              "py-opensonic: the path starts and ends on the asked songs")
        # Playlists: made, changed, listed and deleted as a player does.
        ids = [s["id"] for s in songs[:3]]
        check(o.create_playlist(name="py-opensonic mix", song_ids=ids) is True,
              "py-opensonic: create_playlist")
        made = [p for p in o.get_playlists() if p.name == "py-opensonic mix"]
        check(len(made) == 1 and made[0].song_count == 3,
              "py-opensonic: get_playlists lists it with 3 songs")
        pid = made[0].id
        check(o.update_playlist(pid, name="renamed", comment="from a client",
                                song_ids_to_add=[ids[0]], song_indices_to_remove=[1]) is True,
              "py-opensonic: update_playlist")
        got = o.get_playlist(pid)
        check([e.id for e in got.entry] == [ids[0], ids[2], ids[0]],
              f"py-opensonic: get_playlist keeps the order {[e.id for e in got.entry]}")
        check(got.name == "renamed" and got.comment == "from a client",
              "py-opensonic: name and comment changed")
        check(o.delete_playlist(pid) is True, "py-opensonic: delete_playlist")
        check(all(p.id != pid for p in o.get_playlists()), "py-opensonic: deleted")
    finally:
        o.cleanup()
    k = libopensonic.Connection(base, port=port, api_key=api_key)
    try:
        check(k.ping() is True, "py-opensonic: ping with an API key")
    finally:
        k.cleanup()


def main():
    env = os.environ
    base, port = env["SUBSONIC_BASE"], int(env["SUBSONIC_PORT"])
    user, password = env["SUBSONIC_USER"], env["SUBSONIC_PASSWORD"]
    songs = classic(base, port, user, password, env["SUBSONIC_MUSIC"], int(env["SUBSONIC_SONGS"]))
    opensubsonic(base, port, user, password, env["SUBSONIC_API_KEY"], songs)
    print("all client checks passed", flush=True)


if __name__ == "__main__":
    main()
