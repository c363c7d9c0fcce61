//! The edges of a real collection (issue 50), through the binary on real recordings: each test
//! is one way a song, an edit or its audio was lost or foreign bytes were served, and failed on
//! the code before the fix.

use std::path::{Path, PathBuf};

use songrec_local::LocalBackend;
use songrec_storage::prelude::*;
use songrec_storage::{SongMetadata, StorageError};
use songrec_testkit::audio::ffmpeg;
use songrec_testkit::cli::{ok, text};
use songrec_testkit::fixtures::real_recording;

use crate::in_place::{
    LAYOUT, audio_of, audio_sized_files, library_of_copies, music_folder, songrec, songs,
};

/// A temporary folder with a home, a library path and a music folder of real recordings.
fn collection() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (home, lib) = (dir.path().join("home"), dir.path().join("lib"));
    let music = music_folder(dir.path());
    (dir, home, lib, music)
}

/// Unmounts a file system the test mounted, when dropped.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

fn ingest(home: &Path, lib: &Path, args: &[&str]) -> String {
    let mut all = vec!["ingest", "--embedder", "dsp"];
    all.extend_from_slice(args);
    ok(&songrec(home, lib, &all))
}

/// An ingest that reports files it did not take (a refused prune): exit code 3, its words.
fn ingest_partly(home: &Path, lib: &Path, args: &[&str]) -> String {
    let mut all = vec!["ingest", "--embedder", "dsp"];
    all.extend_from_slice(args);
    songrec_testkit::cli::expect_code(&songrec(home, lib, &all), 3)
}

/// The file the library would stream as the song's audio (what `serve` sends, unread).
fn streamed(lib: &Path, m: &SongMetadata) -> Result<String, StorageError> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        LocalBackend::open(lib)
            .unwrap()
            .audio_url(&m.audio_key(), std::time::Duration::from_secs(60))
            .await
    })
}

/// The bytes the library serves as the song's audio.
fn served(lib: &Path, m: &SongMetadata) -> Result<Vec<u8>, StorageError> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let b = LocalBackend::open(lib).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("a");
        b.get_audio(&m.audio_key(), &dest).await?;
        Ok(std::fs::read(dest).unwrap())
    })
}

#[test]
fn relink_of_a_folder_holding_the_library_keeps_the_only_copy() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let music = dir.path().join("Music");
    // The library lies inside the music folder, and holds a copy of a song whose file is
    // nowhere else (a song downloaded from another machine).
    let lib = music.join("songrec-library");
    let elsewhere = dir.path().join("gone");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let only = elsewhere.join("bell.oga");
    std::fs::copy(real_recording("freedesktop", "bell.oga"), &only).unwrap();
    library_of_copies(&lib, std::slice::from_ref(&only));
    std::fs::remove_file(&only).unwrap();
    let song = songs(&lib).into_values().next().unwrap();
    let bytes = std::fs::read(real_recording("freedesktop", "bell.oga")).unwrap();
    assert_eq!(served(&lib, &song).unwrap(), bytes);

    let out = text(&songrec(&home, &lib, &["relink", music.to_str().unwrap()]));
    assert!(out.contains("relinked 0 songs"), "{out}");
    assert_eq!(
        audio_sized_files(&lib).len(),
        1,
        "the library's own copy is not a user's file"
    );
    assert_eq!(
        served(&lib, &song).expect("the audio is still there"),
        bytes
    );
}

#[test]
fn a_reference_never_serves_a_file_outside_its_folder() {
    let (dir, home, lib, music) = collection();
    ingest(&home, &lib, &[music.to_str().unwrap()]);
    let song = songs(&lib).remove("01 Bell.oga").unwrap();
    let pointer = lib
        .join("data")
        .join("audio")
        .join(format!("{}.ref.json", song.audio_key()));
    let honest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&pointer).unwrap()).unwrap();
    // A file outside the music folder, and the reference edited to name it with its own
    // size, times and inode: however the path is spelled, its bytes are not served.
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, b"not audio: a private file").unwrap();
    let st = songrec_fs::stamp(&secret).unwrap();
    let with_stamp = |mut v: serde_json::Value| {
        v["size"] = st.size.into();
        v["mtime_ns"] = serde_json::json!(st.mtime_ns as u64);
        v["ctime_ns"] = serde_json::json!(st.ctime_ns as u64);
        v["ino"] = st.ino.into();
        v
    };
    let forged = [
        serde_json::json!({"music": "../secret.txt"}),
        serde_json::json!({"root": music.to_str().unwrap(), "music": "../secret.txt"}),
        serde_json::json!({"root": dir.path().to_str().unwrap(), "music": "secret.txt"}),
        serde_json::json!({"path": secret.to_str().unwrap()}),
    ];
    for f in forged {
        let v = with_stamp(f.clone());
        std::fs::write(&pointer, serde_json::to_vec(&v).unwrap()).unwrap();
        let r = served(&lib, &song);
        assert!(r.is_err(), "{f}: served {:?}", r.map(String::from_utf8));
        let r = streamed(&lib, &song);
        assert!(r.is_err(), "{f}: streamed {r:?}");
    }
    // The honest reference still serves the song.
    std::fs::write(&pointer, serde_json::to_vec(&honest).unwrap()).unwrap();
    assert_eq!(
        served(&lib, &song).unwrap(),
        std::fs::read(music.join(LAYOUT[3].0)).unwrap()
    );
}

/// Two WAV files of the same size and different audio: a real recording, and the same with
/// every sample of its second half changed.
fn same_size_twins(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let a = dir.join("a.wav");
    ffmpeg(&[
        "-i",
        real_recording("freedesktop", "complete.oga")
            .to_str()
            .unwrap(),
        "-c:a",
        "pcm_s16le",
        a.to_str().unwrap(),
    ]);
    let mut bytes = std::fs::read(&a).unwrap();
    let half = bytes.len() / 2;
    for b in &mut bytes[half..] {
        *b ^= 0x55;
    }
    let b = dir.join("b.wav");
    std::fs::write(&b, bytes).unwrap();
    (a, b)
}

#[test]
fn a_file_swapped_under_preserved_times_is_never_served_as_the_song() {
    let dir = tempfile::tempdir().unwrap();
    let (home, lib) = (dir.path().join("home"), dir.path().join("lib"));
    let music = dir.path().join("Music");
    let (a, b) = same_size_twins(&music.join("Album"));
    let other = dir.path().join("b.wav");
    std::fs::rename(&b, &other).unwrap();
    let out = ingest(&home, &lib, &[music.to_str().unwrap()]);
    assert!(out.contains("ingested 1 new"), "{out}");
    let song = songs(&lib).into_values().next().unwrap();
    let original = std::fs::read(&a).unwrap();

    // `cp other a; touch -r a.old a`: the same size and modification time, other audio.
    let t = std::fs::metadata(&a).unwrap().modified().unwrap();
    std::fs::File::options()
        .write(true)
        .open(&other)
        .unwrap()
        .set_modified(t)
        .unwrap();
    std::fs::rename(&other, &a).unwrap();
    assert_eq!(
        songrec_fs::size_and_mtime(&a).unwrap().0,
        original.len() as u64
    );
    assert!(
        matches!(served(&lib, &song), Err(StorageError::Stale { .. })),
        "other audio is never served under the song's name"
    );
    assert!(
        matches!(streamed(&lib, &song), Err(StorageError::Stale { .. })),
        "nor streamed"
    );
    // The next ingest reads the file again: a new song, not "unchanged".
    let out = ingest(&home, &lib, &[music.to_str().unwrap()]);
    assert!(out.contains("ingested 1 new"), "{out}");
}

#[cfg(unix)]
#[test]
fn a_file_name_in_any_encoding_keeps_the_ingest_state() {
    use std::os::unix::ffi::OsStrExt as _;
    let (_dir, home, lib, music) = collection();
    // A Latin-1 name, as an old Windows share or a CD ripper leaves them.
    let odd = music.join(std::ffi::OsStr::from_bytes(b"Caf\xe9 del Mar.oga"));
    std::fs::copy(real_recording("freedesktop", "message.oga"), &odd).unwrap();
    let out = ingest(&home, &lib, &[music.to_str().unwrap()]);
    assert!(out.contains("ingested 6 new"), "{out}");
    // The state was saved: the next run knows every file, and a deletion is noticed.
    std::fs::remove_file(&odd).unwrap();
    let out = ingest(&home, &lib, &[music.to_str().unwrap()]);
    assert!(
        out.contains("ingested 0 new, 5 already in the library") && out.contains("1 missing"),
        "{out}"
    );
}

/// Runs `cmd` as an unprivileged user when the tests run as root (root enters any folder,
/// whatever its mode), giving that user the tree below `dir`.
#[cfg(unix)]
fn unprivileged(cmd: &mut std::process::Command, dir: &Path) {
    use std::os::unix::fs::MetadataExt as _;
    use std::os::unix::process::CommandExt as _;
    if std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        != 0
    {
        return;
    }
    const NOBODY: u32 = 65534;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        std::os::unix::fs::lchown(&d, Some(NOBODY), Some(NOBODY)).unwrap();
        if d.is_dir() && !d.is_symlink() {
            stack.extend(std::fs::read_dir(&d).unwrap().flatten().map(|e| e.path()));
        }
    }
    cmd.uid(NOBODY).gid(NOBODY);
}

#[cfg(unix)]
#[test]
fn prune_never_takes_a_folder_it_cannot_enter_for_gone_files() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let (home, lib) = (dir.path().join("home"), dir.path().join("lib"));
    std::fs::create_dir_all(&home).unwrap();
    let music = music_folder(dir.path());
    let run = |args: &[&str]| {
        let mut cmd = crate::bin().at_home(&home);
        cmd.args([
            "--library",
            lib.to_str().unwrap(),
            "ingest",
            "--embedder",
            "dsp",
        ]);
        cmd.args(args).arg(&music);
        unprivileged(&mut cmd, dir.path());
        cmd.output().unwrap()
    };
    ok(&run(&[]));
    assert_eq!(songs(&lib).len(), 5);
    // The folder can be listed but not entered.
    let sounds = music.join("Desktop").join("Sounds");
    std::fs::set_permissions(&sounds, std::fs::Permissions::from_mode(0o444)).unwrap();
    let o = run(&["--prune"]);
    std::fs::set_permissions(&sounds, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = text(&o);
    assert!(
        out.contains("0 removed") || !out.contains("removed"),
        "{out}"
    );
    assert!(out.contains("cannot read folder"), "{out}");
    assert_eq!(songs(&lib).len(), 5, "nothing pruned: {out}");
}

#[test]
fn prune_keeps_songs_of_an_emptied_subfolder_and_of_a_mount_point() {
    let (dir, home, lib, music) = collection();
    let m = music.to_str().unwrap();
    ingest(&home, &lib, &[m]);
    // A disk below the music folder that is not there now: its folder is, empty.
    let disk = music.join("ASC");
    let away = dir.path().join("away");
    std::fs::rename(&disk, &away).unwrap();
    std::fs::create_dir(&disk).unwrap();
    let out = ingest_partly(&home, &lib, &["--prune", m]);
    assert!(out.contains("is it mounted?"), "{out}");
    assert_eq!(songs(&lib).len(), 5, "nothing pruned: {out}");
    std::fs::remove_dir(&disk).unwrap();
    std::fs::rename(&away, &disk).unwrap();
    let out = ingest(&home, &lib, &[m]);
    assert!(out.contains("0 new") && !out.contains("missing"), "{out}");

    // A real mount point (where the machine lets the tests mount): a file gone below it is
    // not pruned by an ingest of the folder above it.
    let mnt = music.join("Mounted");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "songrec-test", mnt.to_str().unwrap()])
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("this machine does not let the tests mount: the mount point case is not run");
        return;
    }
    let guard = Unmount(mnt.clone());
    for name in ["a.oga", "b.oga"] {
        std::fs::copy(
            real_recording(
                "freedesktop",
                if name == "a.oga" {
                    "dialog-information.oga"
                } else {
                    "dialog-warning.oga"
                },
            ),
            mnt.join(name),
        )
        .unwrap();
    }
    let out = ingest(&home, &lib, &[m]);
    assert!(out.contains("ingested 2 new"), "{out}");
    std::fs::remove_file(mnt.join("a.oga")).unwrap();
    let out = ingest_partly(&home, &lib, &["--prune", m]);
    assert!(out.contains("is a mount point"), "{out}");
    assert_eq!(songs(&lib).len(), 7, "{out}");
    // Unmounted: the folder is there and empty.
    drop(guard);
    let out = ingest_partly(&home, &lib, &["--prune", m]);
    assert!(out.contains("is it mounted?"), "{out}");
    assert_eq!(songs(&lib).len(), 7, "{out}");
}

#[test]
fn prune_keeps_a_song_whose_file_is_still_at_another_tracked_path() {
    let (dir, home, lib, music) = collection();
    // The same song in a second folder, ingested on its own.
    let other = dir.path().join("Other");
    std::fs::create_dir_all(&other).unwrap();
    let twin = other.join("bell twin.oga");
    std::fs::copy(music.join(LAYOUT[3].0), &twin).unwrap();
    ingest(&home, &lib, &[music.to_str().unwrap()]);
    ingest(&home, &lib, &[other.to_str().unwrap()]);
    let before = songs(&lib);
    assert_eq!(before.len(), 5);
    std::fs::remove_file(music.join(LAYOUT[3].0)).unwrap();
    let out = ingest(&home, &lib, &["--prune", music.to_str().unwrap()]);
    assert!(!out.contains("1 removed"), "{out}");
    assert_eq!(
        songs(&lib).len(),
        5,
        "the song's file is still there: {out}"
    );
}

#[test]
fn dupes_reports_a_changed_file_and_goes_on() {
    let (_dir, home, lib, music) = collection();
    ingest(&home, &lib, &[music.to_str().unwrap()]);
    // Two songs without a stored fingerprint (as songs of earlier versions), one of whose
    // files was retagged since: only its audio is unreadable as the song's.
    let mut all = songs(&lib);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let b = LocalBackend::open(&lib).unwrap();
        for name in ["01 Bell.oga", "02 Complete.oga"] {
            let mut m = all.remove(name).unwrap();
            m.extra.remove(songrec_identity::fingerprint::EXTRA_KEY);
            b.put_metadata(&m).await.unwrap();
        }
        b.flush().await.unwrap();
    });
    crate::in_place::retag(&music.join(LAYOUT[3].0), "Bell (retagged)");
    let o = songrec(&home, &lib, &["dupes"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("not checked:") && l.contains("changed")),
        "{out}"
    );
    let list = songs(&lib);
    let complete = &list["02 Complete.oga"];
    assert!(
        complete
            .extra
            .contains_key(songrec_identity::fingerprint::EXTRA_KEY),
        "the other song was fingerprinted: {out}"
    );
}

#[test]
fn a_song_deleted_while_its_file_stays_is_not_added_back() {
    let (_dir, home, lib, music) = collection();
    let m = music.to_str().unwrap();
    ingest(&home, &lib, &[m]);
    let bell = songs(&lib).remove("01 Bell.oga").unwrap();
    let out = ok(&songrec(&home, &lib, &["delete", bell.id.as_str()]));
    assert!(songs(&lib).len() == 4, "{out}");
    let out = ingest(&home, &lib, &[m]);
    assert!(out.contains("1 kept out"), "{out}");
    assert_eq!(songs(&lib).len(), 4, "the deletion sticks: {out}");
    let out = ingest(&home, &lib, &["--readd", m]);
    assert!(out.contains("ingested 1 new"), "{out}");
    assert!(songs(&lib).values().any(|s| s.id == bell.id), "{out}");
}

#[test]
fn a_deleted_file_with_a_tracked_twin_keeps_its_song_playing() {
    let (_dir, home, lib, music) = collection();
    let m = music.to_str().unwrap();
    let twin = music.join("Backup").join("Bell (copy).oga");
    std::fs::create_dir_all(twin.parent().unwrap()).unwrap();
    std::fs::copy(music.join(LAYOUT[3].0), &twin).unwrap();
    ingest(&home, &lib, &[m]);
    let bell = songs(&lib)
        .into_values()
        .find(|s| s.title.contains("ell") || s.file_name.contains("Bell"))
        .unwrap();
    let first = audio_of(&lib, &bell).unwrap();
    std::fs::remove_file(&first).unwrap();
    let out = ingest(&home, &lib, &["--prune", m]);
    assert!(!out.contains("removed"), "{out}");
    let now = audio_of(&lib, &bell).expect("the twin's bytes are the song's audio");
    assert_ne!(now, first);
    assert!(now.exists(), "{now:?}");
}

fn songrec_with_music(home: &Path, lib: &Path, music: &Path, args: &[&str]) -> String {
    std::fs::create_dir_all(home).unwrap();
    ok(&crate::bin()
        .at_home(home)
        .env("SONGREC_MUSIC", music)
        .args(["--library", lib.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap())
}

#[cfg(unix)]
#[test]
fn a_music_folder_reached_through_a_link_is_referenced_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let (home, lib) = (dir.path().join("home"), dir.path().join("lib"));
    let real = music_folder(&dir.path().join("disk1"));
    let link = dir.path().join("Music");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    songrec_with_music(
        &home,
        &lib,
        &link,
        &["ingest", "--embedder", "dsp", link.to_str().unwrap()],
    );
    // The collection moves to another disk; the link follows it.
    let moved = dir.path().join("disk2");
    std::fs::rename(real.parent().unwrap(), &moved).unwrap();
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(moved.join("My Music"), &link).unwrap();
    for s in songs(&lib).values() {
        let f = audio_of(&lib, s).unwrap_or_else(|e| panic!("{}: {e}", s.file_name));
        assert!(f.starts_with(&link), "{f:?}");
    }
}

#[test]
fn relinking_a_second_folder_keeps_the_first_folders_references() {
    let dir = tempfile::tempdir().unwrap();
    let (home, lib) = (dir.path().join("home"), dir.path().join("lib"));
    let first = music_folder(&dir.path().join("one"));
    songrec_with_music(
        &home,
        &lib,
        &first,
        &["ingest", "--embedder", "dsp", first.to_str().unwrap()],
    );
    // A second folder with one more song, relinked without a configured music folder.
    let second = dir.path().join("two");
    std::fs::create_dir_all(&second).unwrap();
    std::fs::copy(
        real_recording("freedesktop", "message.oga"),
        second.join("message.oga"),
    )
    .unwrap();
    ingest(&home, &lib, &[second.to_str().unwrap()]);
    ok(&songrec(&home, &lib, &["relink", second.to_str().unwrap()]));
    let all = songs(&lib);
    assert_eq!(all.len(), 6);
    for s in all.values() {
        audio_of(&lib, s).unwrap_or_else(|e| panic!("{}: {e}", s.file_name));
    }
}

#[test]
fn a_hand_edit_comes_back_with_a_pruned_song() {
    let (dir, home, lib, music) = collection();
    let m = music.to_str().unwrap();
    ingest(&home, &lib, &[m]);
    let bell = songs(&lib).remove("01 Bell.oga").unwrap();
    ok(&songrec(
        &home,
        &lib,
        &[
            "edit",
            bell.id.as_str(),
            "--set",
            "genre=Chiptune",
            "--set",
            "mood=calm",
        ],
    ));
    // The file goes away and the song is pruned; the file comes back.
    let file = music.join(LAYOUT[3].0);
    let aside = dir.path().join("bell.oga");
    std::fs::rename(&file, &aside).unwrap();
    let out = ingest(&home, &lib, &["--prune", m]);
    assert!(out.contains("1 removed"), "{out}");
    std::fs::rename(&aside, &file).unwrap();
    let out = ingest(&home, &lib, &[m]);
    assert!(out.contains("ingested 1 new"), "{out}");
    let back = songs(&lib).remove("01 Bell.oga").unwrap();
    assert_eq!(back.id, bell.id);
    assert_eq!(back.genre.as_deref(), Some("Chiptune"), "{back:?}");
    assert_eq!(back.extra["mood"], "calm");
}

#[test]
fn a_file_that_appears_later_replaces_the_downloaded_copy_at_the_next_sync() {
    let cloud = songrec_testkit::LocalCloud::start_blocking();
    let dir = tempfile::tempdir().unwrap();
    let run = |home: &Path, args: &[&str]| -> String {
        std::fs::create_dir_all(home).unwrap();
        let lib = home.join("library");
        let o = crate::bin()
            .at_home(home)
            .envs(cloud.env())
            .args(["--library", lib.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        ok(&o)
    };
    let o = crate::bin()
        .at_home(cloud.dir())
        .envs(cloud.env())
        .args(["--storage-backend", "astra", "init-astra"])
        .output()
        .unwrap();
    ok(&o);
    let music_a = music_folder(&dir.path().join("a"));
    let (home_a, home_b) = (dir.path().join("home-a"), dir.path().join("home-b"));
    run(
        &home_a,
        &["ingest", "--embedder", "dsp", music_a.to_str().unwrap()],
    );
    run(&home_a, &["sync"]);
    // B has four of the five files: the fifth is downloaded.
    let music_b = dir.path().join("b").join("Music");
    for (rel, _) in &LAYOUT[..4] {
        let p = music_b.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(music_a.join(rel), &p).unwrap();
    }
    let m = music_b.to_str().unwrap();
    let out = run(&home_b, &["sync", "--music", m]);
    assert!(out.contains("4 songs linked"), "{out}");
    let lib_b = home_b.join("library");
    assert_eq!(audio_sized_files(&lib_b).len(), 1);
    // The fifth file arrives on B: the next sync plays it from there and drops the copy.
    let fifth = music_b.join(LAYOUT[4].0);
    std::fs::create_dir_all(fifth.parent().unwrap()).unwrap();
    std::fs::copy(music_a.join(LAYOUT[4].0), &fifth).unwrap();
    let out = run(&home_b, &["sync", "--music", m]);
    assert!(out.contains("1 song linked"), "{out}");
    assert!(
        audio_sized_files(&lib_b).is_empty(),
        "{:?}",
        audio_sized_files(&lib_b)
    );
    let complete = songs(&lib_b).remove("02 Complete.oga").unwrap();
    assert_eq!(audio_of(&lib_b, &complete).unwrap(), fifth);
}

/// Bytes used on the file system holding `dir`.
fn used_bytes(dir: &Path) -> u64 {
    let o = std::process::Command::new("df")
        .args(["--output=used", "-B1"])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap()
}

#[test]
fn reflink_clones_on_a_real_xfs_and_the_clone_outlives_a_change_of_the_file() {
    // A loop-mounted XFS image (reflink is on by default since xfsprogs 5.1), where the machine
    // lets the tests make and mount one; the note of the change says where it ran.
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("xfs.img");
    let mnt = dir.path().join("xfs");
    std::fs::create_dir_all(&mnt).unwrap();
    std::fs::File::create(&image)
        .unwrap()
        .set_len(320 << 20)
        .unwrap();
    let made = std::process::Command::new("mkfs.xfs")
        .args(["-q"])
        .arg(&image)
        .status()
        .is_ok_and(|s| s.success())
        && std::process::Command::new("mount")
            .args(["-o", "loop"])
            .arg(&image)
            .arg(&mnt)
            .status()
            .is_ok_and(|s| s.success());
    if !made {
        eprintln!(
            "no XFS here (mkfs.xfs from xfsprogs, and mounting a loop device as root): the reflink case is not run"
        );
        return;
    }
    let _guard = Unmount(mnt.clone());
    let (home, lib) = (dir.path().join("home"), mnt.join("lib"));
    let music = music_folder(&mnt);
    let audio: u64 = LAYOUT
        .iter()
        .map(|(rel, _)| std::fs::metadata(music.join(rel)).unwrap().len())
        .sum();
    let before = used_bytes(&mnt);
    let out = ingest(
        &home,
        &lib,
        &["--audio", "reflink", music.to_str().unwrap()],
    );
    assert!(!out.contains("cannot clone"), "{out}");
    let after = used_bytes(&mnt);
    assert_eq!(audio_sized_files(&lib).len(), 5, "clones in the library");
    assert!(
        after.saturating_sub(before) < audio / 2,
        "clones share the files' blocks: {} bytes used for {audio} bytes of audio",
        after - before
    );
    // The user's file changes (a tagger writing in place): the library's clone keeps the
    // audio that was analysed, and the song plays it.
    let file = music.join(LAYOUT[0].0);
    let original = std::fs::read(&file).unwrap();
    let mut f = std::fs::File::options().append(true).open(&file).unwrap();
    std::io::Write::write_all(&mut f, b"TAG appended by a tagger").unwrap();
    drop(f);
    let song = songs(&lib).remove("01 Frontiers.mp3").unwrap();
    assert_eq!(served(&lib, &song).unwrap(), original);
}

#[test]
fn after_a_full_sync_the_offline_copy_answers_for_the_whole_library() {
    let mut cloud = songrec_testkit::LocalCloud::start_blocking();
    let dir = tempfile::tempdir().unwrap();
    let music = music_folder(dir.path());
    let run = |cloud: &songrec_testkit::LocalCloud, home: &Path, args: &[&str]| {
        std::fs::create_dir_all(home).unwrap();
        let lib = home.join("library");
        crate::bin()
            .at_home(home)
            .envs(cloud.env())
            .args(["--library", lib.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    };
    let (home_a, home_b) = (dir.path().join("home-a"), dir.path().join("home-b"));
    ok(&run(
        &cloud,
        &home_a,
        &["--storage-backend", "astra", "init-astra"],
    ));
    ok(&run(
        &cloud,
        &home_a,
        &["ingest", "--embedder", "dsp", music.to_str().unwrap()],
    ));
    ok(&run(&cloud, &home_a, &["sync"]));
    // Machine B's first sync is a full one; it has never read the cloud library itself.
    let out = ok(&run(&cloud, &home_b, &["sync"]));
    assert!(out.contains("offline copy of the"), "{out}");
    cloud.runtime().block_on(cloud.stop());
    // Offline, the cloud library answers from the copy, for every song.
    let o = run(
        &cloud,
        &home_b,
        &[
            "--storage-backend",
            "astra",
            "similar",
            "Time to Strike",
            "-k",
            "4",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("Frontiers"), "{out}");
}
