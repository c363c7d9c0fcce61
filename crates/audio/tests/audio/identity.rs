//! The audio identity on real recordings: the same under every retag (a tagger writing in
//! place, ffmpeg rewriting the tags around the same stream), different for another encode or
//! a trim.

use std::path::{Path, PathBuf};

use songrec_audio::identity::identify;
use songrec_testkit::audio::{convert, ffmpeg};
use songrec_testkit::fixtures::real_recording;

fn file_hash(p: &Path) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(p).expect("read")).to_vec()
}

/// The same stream with other tags, by ffmpeg (stream copy: a new file around the packets).
fn retag_ffmpeg(src: &Path, dst: &Path, title: &str) -> PathBuf {
    let t = format!("title={title}");
    ffmpeg(&[
        "-i",
        src.to_str().expect("utf8"),
        "-map",
        "0:a",
        "-c",
        "copy",
        "-map_metadata",
        "-1",
        "-metadata",
        &t,
        "-metadata",
        "artist=Someone Else",
        dst.to_str().expect("utf8"),
    ]);
    dst.to_path_buf()
}

/// The same file retagged in place by lofty (as mutagen and TagLib do: same inode, tag block
/// grown or shrunk around the audio).
fn retag_in_place(path: &Path, title: &str) {
    use lofty::config::WriteOptions;
    use lofty::file::{AudioFile, TaggedFileExt};
    use lofty::tag::{Accessor, Tag};
    let mut f = lofty::read_from_path(path).expect("lofty reads it");
    if f.primary_tag().is_none() {
        f.insert_tag(Tag::new(f.primary_tag_type()));
    }
    let tag = f.primary_tag_mut().expect("a tag");
    tag.set_title(title.to_owned());
    tag.set_album("A much longer album name than before, to move the audio".repeat(20));
    f.save_to_path(path, WriteOptions::default())
        .expect("lofty writes it");
}

#[test]
fn identity_survives_retags_and_changes_with_the_audio() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mp3 = d.join("frontiers.mp3");
    std::fs::copy(real_recording("asc", "frontiers.mp3"), &mp3).expect("copy");
    let ogg = d.join("bell.ogg");
    std::fs::copy(real_recording("freedesktop", "bell.oga"), &ogg).expect("copy");
    // Lossless and PCM forms of the real recording, each its own stream.
    let flac = convert(&mp3, &d.join("frontiers.flac"), &["-c:a", "flac"]);
    let m4a = convert(
        &mp3,
        &d.join("frontiers.m4a"),
        &["-c:a", "aac", "-b:a", "128k"],
    );
    let wav = convert(&mp3, &d.join("frontiers.wav"), &["-t", "20"]);
    let mut ids = Vec::new();
    for src in [&mp3, &ogg, &flac, &m4a, &wav] {
        let name = src.file_name().expect("name").to_string_lossy().to_string();
        let before = identify(src).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(before.audio_bytes > 1000, "{name}: packets hashed");

        let ext = src.extension().expect("ext").to_string_lossy().to_string();
        let copy = retag_ffmpeg(src, &d.join(format!("retagged-{name}.{ext}")), "New Title");
        assert_ne!(file_hash(src), file_hash(&copy), "{name}: the bytes differ");
        let after = identify(&copy).expect("retagged");
        assert_eq!(
            after.audio, before.audio,
            "{name}: retag by ffmpeg keeps the identity"
        );
        assert_eq!(
            after.tags.title.as_deref(),
            Some("New Title"),
            "{name}: tags read"
        );

        if ext != "wav" {
            let in_place = d.join(format!("in-place-{name}"));
            std::fs::copy(src, &in_place).expect("copy");
            let bytes = file_hash(&in_place);
            retag_in_place(&in_place, "Tagged In Place");
            assert_ne!(
                bytes,
                file_hash(&in_place),
                "{name}: lofty rewrote the file"
            );
            let after = identify(&in_place).expect("retagged in place");
            assert_eq!(
                after.audio, before.audio,
                "{name}: in-place retag keeps the identity"
            );
            assert_eq!(after.tags.title.as_deref(), Some("Tagged In Place"));
        }
        ids.push((name, before.audio));
    }
    // Other audio, other identity: every file above, a re-encode and a trim of the MP3.
    let reencoded = convert(
        &mp3,
        &d.join("re.mp3"),
        &["-c:a", "libmp3lame", "-b:a", "96k"],
    );
    let trimmed = convert(&mp3, &d.join("trim.mp3"), &["-t", "30", "-c", "copy"]);
    for p in [&reencoded, &trimmed] {
        ids.push((
            p.display().to_string(),
            identify(p).expect("identify").audio,
        ));
    }
    for (i, (a, x)) in ids.iter().enumerate() {
        for (b, y) in &ids[i + 1..] {
            assert_ne!(x, y, "{a} and {b} are different audio");
        }
    }
    // Never the SHA-256 of the file's bytes (the old ids): the scheme is inside the hash.
    assert_ne!(identify(&mp3).expect("mp3").audio.to_vec(), file_hash(&mp3));
}

#[test]
fn damaged_and_empty_files_are_errors_not_identities() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.mp3");
    std::fs::write(&empty, b"").expect("write");
    assert_eq!(identify(&empty).expect_err("empty").kind(), "empty");
    let text = dir.path().join("notes.mp3");
    std::fs::write(&text, "not audio at all\n".repeat(100)).expect("write");
    assert!(identify(&text).is_err());
}

#[test]
fn chained_ogg_files_that_share_their_first_section_differ() {
    let dir = tempfile::tempdir().unwrap();
    let read = |name: &str| std::fs::read(real_recording("freedesktop", name)).unwrap();
    let chain = |out: &str, parts: &[&str]| {
        let p = dir.path().join(out);
        let bytes: Vec<u8> = parts.iter().flat_map(|n| read(n)).collect();
        std::fs::write(&p, bytes).unwrap();
        identify(&p).unwrap()
    };
    let one = chain("one.oga", &["bell.oga"]);
    let a = chain("a.oga", &["bell.oga", "complete.oga"]);
    let b = chain("b.oga", &["bell.oga", "message.oga"]);
    assert_ne!(a.audio, b.audio, "the second section is audio too");
    assert_ne!(a.audio, one.audio);
    assert!(a.audio_bytes > one.audio_bytes, "both sections hashed");
    // A single section keeps the identity it always had.
    assert_eq!(
        one.audio,
        identify(&real_recording("freedesktop", "bell.oga"))
            .unwrap()
            .audio
    );
}
