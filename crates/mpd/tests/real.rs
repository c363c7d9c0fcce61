//! The client against a real MPD (Debian's, started by `songrec_testkit::mpd::MpdServer`) on a
//! music folder of real recordings under names MPD's protocol must quote: `'`, `"`, `\`, a
//! space, and a line break (which no MPD command can carry).

use songrec_mpd::client::Mpd;
use songrec_mpd::{Address, MpdError};
use songrec_testkit::fixtures::real_recording;
use songrec_testkit::mpd::MpdServer;

/// The names queued, each a copy of a real drum recording.
const ODD: &[&str] = &[
    "Don't.wav",
    "say \"hi\".wav",
    r"back\slash.wav",
    "Guns_N'_Roses/it's a \"b\\c\".wav",
];

#[tokio::test]
async fn odd_names_are_queued_and_a_line_break_is_refused_not_sent() {
    let music = tempfile::tempdir().unwrap();
    let drum = real_recording("gmrockkit", "Bell-Soft.wav");
    for name in ODD.iter().chain(&["line\nbreak.wav"]) {
        let to = music.path().join(name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&drum, to).unwrap();
    }
    let server = MpdServer::start(music.path(), None);
    let addr = Address::parse(server.socket().to_str().unwrap(), None).unwrap();
    let mut mpd = Mpd::open(&addr).await.unwrap();
    let mut ids = Vec::new();
    for uri in ODD {
        let id = mpd.add(uri).await.unwrap_or_else(|e| panic!("{uri}: {e}"));
        ids.push(id);
    }
    let e = mpd.add("line\nbreak.wav").await.expect_err("a line break");
    assert!(matches!(e, MpdError::Unsendable { .. }), "{e:?}");
    assert!(e.is_passing(), "the radio steps over it");
    assert!(e.to_string().contains(r#""line\nbreak.wav""#), "{e}");
    // The connection is fine afterwards, and the queue holds each name as it is.
    let q = mpd.queue().await.unwrap();
    let uris: Vec<&str> = q.iter().map(|e| e.uri.as_str()).collect();
    assert_eq!(uris, ODD);
    assert_eq!(q.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
    assert_eq!(server.queue(), ODD);
}

/// A password with a character MPD reads only quoted (`'`).
#[tokio::test]
async fn a_password_with_an_apostrophe() {
    let music = tempfile::tempdir().unwrap();
    let pw = "don't";
    let server = MpdServer::start(music.path(), Some(pw));
    let sock = server.socket().to_string_lossy().into_owned();
    let addr = Address::parse(&format!("{pw}@{sock}"), None).unwrap();
    Mpd::open(&addr).await.unwrap_or_else(|e| panic!("{e}"));
    let wrong = Address::parse(&format!("it's@{sock}"), None).unwrap();
    let e = Mpd::open(&wrong).await.expect_err("a wrong password");
    assert!(matches!(e, MpdError::WrongPassword { .. }), "{e:?}");
}
