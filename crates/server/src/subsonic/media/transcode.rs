//! `stream` with `format`: the song re-encoded by an `ffmpeg` found on `PATH`, only when the
//! client asks for a format other than the file's own (`format=raw`, no `format`, or the file's
//! own format: the original bytes), or for the file from a `timeOffset` (re-encoded from there
//! to its own format, [`own_target`]; with `format=raw` that is error 10). `maxBitRate` sets
//! the bit rate of a re-encoding (192 kbit/s when absent or 0, within 32..=320) and alone asks
//! for nothing; `timeOffset` starts a re-encoding that many seconds in. A re-encoding is
//! streamed as ffmpeg writes it: no `Content-Length`, no `Range` (a range asked is ignored: the
//! answer is `200` from the start). Each runs in a turn of its own ([`super::MediaState`]): a
//! call waits for one at most `transcode_wait`, and an answer left unread for `transcode_idle`
//! gives its turn up ([`answer`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::sync::OwnedSemaphorePermit;

use crate::subsonic_core::error::Fail;
use crate::subsonic_core::params::Params;

/// Bit rate of a re-encoding when the client names none (kbit/s).
pub const DEFAULT_KBPS: u32 = 192;
/// The bit rates a re-encoding may have (kbit/s).
pub const KBPS: (u32, u32) = (32, 320);

/// A format songrec re-encodes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The name clients ask for and the answer's suffix.
    pub suffix: &'static str,
    /// The answer's content type.
    pub mime: &'static str,
    /// ffmpeg's encoder and container.
    codec: &'static str,
    container: &'static str,
    /// Whether the bit rate applies (not to lossless FLAC).
    lossy: bool,
}

/// The formats songrec re-encodes to (the fields in [`Target`]'s order).
pub const TARGETS: &[Target] = &[
    Target::new("mp3", "audio/mpeg", "libmp3lame", "mp3", true),
    Target::new("opus", "audio/ogg", "libopus", "ogg", true),
    Target::new("ogg", "audio/ogg", "libvorbis", "ogg", true),
    Target::new("aac", "audio/aac", "aac", "adts", true),
    Target::new("flac", "audio/flac", "flac", "flac", false),
];

impl Target {
    const fn new(
        suffix: &'static str,
        mime: &'static str,
        codec: &'static str,
        container: &'static str,
        lossy: bool,
    ) -> Self {
        Self {
            suffix,
            mime,
            codec,
            container,
            lossy,
        }
    }
}

/// What a `stream` call asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// The file's own bytes.
    Original,
    /// A re-encoding.
    Transcode {
        target: Target,
        kbps: u32,
        offset: u32,
        /// Whether the client asked for this format (else the re-encoding only serves a
        /// `timeOffset` into a file asked as it is).
        asked: bool,
    },
}

/// The names a file's suffix goes by, for "the file's own format".
fn same_format(asked: &str, suffix: &str) -> bool {
    let norm = |s: &str| match s {
        "oga" | "vorbis" => "ogg".to_owned(),
        s => s.to_owned(),
    };
    norm(asked) == norm(suffix)
}

/// The longest `timeOffset` taken (seconds): a week.
pub const MAX_OFFSET: u32 = 7 * 24 * 3600;

/// What a file with this suffix is re-encoded to when a client asks for it from a
/// `timeOffset` without naming a format: its own format where songrec makes it, FLAC for
/// other lossless files, else MP3.
pub fn own_target(suffix: &str) -> Target {
    let name = match suffix {
        "wav" | "wave" | "aif" | "aiff" | "aifc" | "alac" | "ape" | "wv" => "flac",
        s => TARGETS
            .iter()
            .find(|t| same_format(s, t.suffix))
            .map_or("mp3", |t| t.suffix),
    };
    TARGETS
        .iter()
        .find(|t| t.suffix == name)
        .copied()
        .unwrap_or(TARGETS[0])
}

/// A number parameter, or error 10 naming what it may be (a value out of range or not a whole
/// number is as good as missing).
fn number(p: &Params, name: &str, hi: u32) -> Result<u32, Fail> {
    p.number(name, 0u32, 0, hi).map_err(|f| Fail {
        code: 10,
        message: f.message,
    })
}

/// What `stream` serves for these parameters and a file with this suffix.
pub fn plan(p: &Params, suffix: &str) -> Result<Plan, Fail> {
    let asked = p
        .get("format")
        .map(|f| f.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let suffix = suffix.to_ascii_lowercase();
    let kbps = match number(p, "maxBitRate", 100_000)? {
        0 => DEFAULT_KBPS,
        k => k.clamp(KBPS.0, KBPS.1),
    };
    let offset = number(p, "timeOffset", MAX_OFFSET)?;
    if asked == "raw" {
        if offset > 0 {
            return Err(Fail {
                code: 10,
                message: format!(
                    "timeOffset {offset} cannot be honoured with format=raw (the file as it is, from its start); leave format out to get the song from {offset} s on"
                ),
            });
        }
        return Ok(Plan::Original);
    }
    if asked.is_empty() || same_format(&asked, &suffix) {
        if offset == 0 {
            return Ok(Plan::Original);
        }
        // The file's own bytes cannot start mid-song: a re-encoding from the offset can.
        return Ok(Plan::Transcode {
            target: own_target(&suffix),
            kbps,
            offset,
            asked: false,
        });
    }
    let Some(target) = TARGETS
        .iter()
        .find(|t| same_format(&asked, t.suffix))
        .copied()
    else {
        let names: Vec<&str> = TARGETS.iter().map(|t| t.suffix).collect();
        return Err(Fail::other(format!(
            "songrec does not stream format {asked:?}; it re-encodes to {} (with an ffmpeg on the server's PATH), and format=raw is the file as it is",
            names.join(", ")
        )));
    };
    Ok(Plan::Transcode {
        target,
        kbps,
        offset,
        asked: true,
    })
}

/// The `ffmpeg` on `PATH`, looked for once.
pub fn ffmpeg() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .map(|d| d.join("ffmpeg"))
                .find(|p| p.is_file())
        })
        .as_deref()
}

/// ffmpeg's arguments for re-encoding `input` (a path on this machine) to `target`.
pub fn arguments(input: &Path, target: &Target, kbps: u32, offset: u32) -> Vec<std::ffi::OsString> {
    let mut a: Vec<std::ffi::OsString> = ["-nostdin", "-hide_banner", "-loglevel", "error"]
        .iter()
        .map(Into::into)
        .collect();
    if offset > 0 {
        a.extend(["-ss".into(), offset.to_string().into()]);
    }
    // `file:` keeps a name from being read as another protocol or an option.
    let mut file = std::ffi::OsString::from("file:");
    file.push(input.as_os_str());
    a.extend(["-i".into(), file]);
    // The first audio stream; no picture, subtitle or data stream.
    a.extend(["-map", "0:a:0", "-vn", "-sn", "-dn", "-c:a", target.codec].map(Into::into));
    if target.lossy {
        a.extend(["-b:a".into(), format!("{kbps}k").into()]);
    }
    a.extend(["-f", target.container, "pipe:1"].map(Into::into));
    a
}

/// A re-encoding's process, turn and input, held while its answer is being sent.
struct Running {
    child: Child,
    _slot: OwnedSemaphorePermit,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

impl Running {
    /// Kills ffmpeg (when it still runs) and waits for it off the caller, so that no zombie is
    /// left; the turn is freed at once.
    fn end(self) {
        let Running { mut child, .. } = self;
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = child.kill().await;
            });
        }
    }
}

/// What the answer's body and its watchdog share: the running re-encoding (taken by the
/// watchdog when the body sits unread for too long) and when the body last moved.
struct Shared {
    running: Mutex<Option<Running>>,
    started: Instant,
    /// Milliseconds from `started` to the last chunk handed to the connection.
    moved: AtomicU64,
}

impl Shared {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.moved.store(ms, Ordering::Relaxed);
    }

    fn last_moved(&self) -> Instant {
        self.started + Duration::from_millis(self.moved.load(Ordering::Relaxed))
    }

    fn stopped(&self) -> bool {
        self.running.lock().map_or(true, |r| r.is_none())
    }

    /// The running re-encoding, taken out (`None` when it was already).
    fn take(&self) -> Option<Running> {
        self.running.lock().ok().and_then(|mut r| r.take())
    }
}

impl Drop for Shared {
    /// The answer is gone (sent whole, or dropped when the client went away): ffmpeg ends.
    fn drop(&mut self) {
        if let Some(r) = self.take() {
            r.end();
        }
    }
}

/// Stops the re-encoding when its answer has not moved for `idle`: ffmpeg is killed and reaped
/// and the slot freed. Ends by itself when the answer is gone (sent or dropped).
async fn watchdog(shared: Weak<Shared>, idle: Duration, suffix: &'static str) {
    loop {
        let Some(due) = shared.upgrade().map(|s| s.last_moved() + idle) else {
            return;
        };
        tokio::time::sleep_until(due.into()).await;
        let Some(s) = shared.upgrade() else { return };
        if s.last_moved() + idle > Instant::now() {
            continue;
        }
        if let Some(r) = s.take() {
            tracing::info!(
                "subsonic: a re-encoding to {suffix} was not read for {} s (a paused player?): stopped, its slot freed",
                idle.as_secs()
            );
            r.end();
        }
        return;
    }
}

/// The error that ends a body whose re-encoding was stopped (the connection is cut, so the
/// player does not take the cut-off song for a whole one).
fn stalled() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the re-encoding was stopped: its answer was not read",
    )
}

/// The re-encoding of `input` as an answer, in the turn `slot`; `keep` lives as long as the
/// stream (the spooled input). Waits for ffmpeg's first bytes (at most `idle`), so a failure
/// to start is an error, not an empty answer. An answer not read for `idle` is cut and its
/// slot freed ([`watchdog`]).
#[allow(clippy::too_many_arguments)]
pub async fn answer<K: Send + Sync + 'static>(
    slot: OwnedSemaphorePermit,
    idle: Duration,
    ffmpeg: &Path,
    input: &Path,
    keep: K,
    target: Target,
    kbps: u32,
    offset: u32,
) -> Result<Response, Fail> {
    // Logs `why`; the client is told only that re-encoding failed.
    let failed = |why: String| {
        tracing::warn!("subsonic: {why}");
        let suffix = target.suffix;
        Fail::other(format!(
            "re-encoding to {suffix} failed; the server log has more"
        ))
    };
    let mut child = Command::new(ffmpeg)
        .args(arguments(input, &target, kbps, offset))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("starting ffmpeg failed: {e}")))?;
    let (Some(mut out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(failed("ffmpeg's output could not be read".into()));
    };
    tokio::spawn(log_errors(err, target.suffix));
    let mut first = vec![0u8; 64 * 1024];
    let read = tokio::time::timeout(idle, out.read(&mut first)).await;
    let n = match read {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => return Err(failed(format!("reading ffmpeg's output failed: {e}"))),
        Err(_) => {
            let _ = child.kill().await;
            return Err(failed(format!(
                "ffmpeg wrote nothing in {} s",
                idle.as_secs()
            )));
        }
    };
    if n == 0 {
        let failed = failed(format!("ffmpeg wrote no audio ({:?})", child.wait().await));
        return Err(if offset > 0 {
            Fail::other(format!(
                "nothing to play from {offset} s on (timeOffset), or re-encoding failed"
            ))
        } else {
            failed
        });
    }
    first.truncate(n);
    let shared = Arc::new(Shared {
        running: Mutex::new(Some(Running {
            child,
            _slot: slot,
            _keep: Box::new(keep),
        })),
        started: Instant::now(),
        moved: AtomicU64::new(0),
    });
    tokio::spawn(watchdog(Arc::downgrade(&shared), idle, target.suffix));
    // The body: the first bytes, then ffmpeg's output as it comes; each chunk handed to the
    // connection is a sign of life. The body holds the process, its turn and its input: when
    // the answer is sent or dropped they go (the process killed on drop).
    struct Body {
        first: Option<Vec<u8>>,
        out: tokio::process::ChildStdout,
        shared: Arc<Shared>,
        ended: bool,
    }
    let body = futures::stream::unfold(
        Body {
            first: Some(first),
            out,
            shared,
            ended: false,
        },
        |mut b| async move {
            if b.ended {
                return None;
            }
            if b.shared.stopped() {
                b.ended = true;
                return Some((Err(stalled()), b));
            }
            b.shared.touch();
            if let Some(first) = b.first.take() {
                return Some((Ok(Bytes::from(first)), b));
            }
            let mut buf = bytes::BytesMut::with_capacity(32 * 1024);
            match b.out.read_buf(&mut buf).await {
                Ok(0) if b.shared.stopped() => {
                    b.ended = true;
                    Some((Err(stalled()), b))
                }
                Ok(0) => None,
                Ok(_) => {
                    b.shared.touch();
                    Some((Ok(buf.freeze()), b))
                }
                Err(e) => {
                    b.ended = true;
                    Some((Err(e), b))
                }
            }
        },
    );
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(target.mime)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::ACCEPT_RANGES, HeaderValue::from_static("none")),
    ];
    Ok((headers, axum::body::Body::from_stream(body)).into_response())
}

/// Logs what ffmpeg says on its error output (at most 16 KiB of it).
async fn log_errors(err: impl AsyncRead + Unpin, suffix: &'static str) {
    let mut said = Vec::new();
    let _ = err.take(16 * 1024).read_to_end(&mut said).await;
    let said = String::from_utf8_lossy(&said);
    let said = said.trim();
    if !said.is_empty() {
        tracing::warn!("subsonic: ffmpeg re-encoding to {suffix}: {said}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_rates_are_kept_within_bounds() {
        let p = |q: &str| plan(&Params::parse(Some(q)), "wav").unwrap();
        let kbps = |q: &str| match p(q) {
            Plan::Transcode { kbps, .. } => kbps,
            Plan::Original => panic!("{q}"),
        };
        assert_eq!(kbps("format=mp3"), DEFAULT_KBPS);
        assert_eq!(kbps("format=mp3&maxBitRate=0"), DEFAULT_KBPS);
        assert_eq!(kbps("format=mp3&maxBitRate=8"), 32);
        assert_eq!(kbps("format=opus&maxBitRate=1411"), 320);
        assert_eq!(p("format=oga"), p("format=ogg"));
        let plan_of = |q: &str, suffix: &str| plan(&Params::parse(Some(q)), suffix);
        for (q, suffix) in [
            ("id=1", "flac"),
            ("format=raw&maxBitRate=96", "flac"),
            ("maxBitRate=96", "flac"),
            ("format=MP3", "mp3"),
        ] {
            assert_eq!(plan_of(q, suffix).unwrap(), Plan::Original, "{q}");
        }
        let Ok(Plan::Transcode {
            target,
            kbps,
            offset,
            asked: true,
        }) = plan_of("format=mp3&maxBitRate=96&timeOffset=30", "flac")
        else {
            panic!("a re-encoding");
        };
        assert_eq!((target.suffix, kbps, offset), ("mp3", 96, 30));
        assert_eq!(plan_of("format=wma", "flac").unwrap_err().code, 0);
        // A bad number is error 10, whether or not anything is re-encoded.
        for q in ["format=mp3&maxBitRate=x", "maxBitRate=-1", "timeOffset=1e3"] {
            assert_eq!(plan_of(q, "wav").unwrap_err().code, 10, "{q}");
        }
    }

    #[test]
    fn a_time_offset_into_the_file_as_it_is_is_a_re_encoding_from_there() {
        let plan_of = |q: &str, suffix: &str| plan(&Params::parse(Some(q)), suffix);
        for (suffix, q, to) in [
            ("mp3", "timeOffset=30", "mp3"),
            ("MP3", "format=mp3&timeOffset=30", "mp3"),
            ("oga", "timeOffset=5", "ogg"),
            ("wav", "timeOffset=5", "flac"),
            ("m4a", "timeOffset=5", "mp3"),
        ] {
            let Ok(Plan::Transcode {
                target,
                offset,
                asked: false,
                ..
            }) = plan_of(q, suffix)
            else {
                panic!("{suffix} {q}");
            };
            assert_eq!((target.suffix, offset), (to, offset), "{suffix} {q}");
        }
        assert_eq!(plan_of("timeOffset=0", "mp3").unwrap(), Plan::Original);
        let f = plan_of("format=raw&timeOffset=30", "mp3").unwrap_err();
        assert_eq!(f.code, 10);
        assert!(f.message.contains("format=raw"), "{f}");
    }

    #[test]
    fn arguments_name_the_input_as_a_file() {
        let t = TARGETS[0];
        let a = arguments(Path::new("-weird name.flac"), &t, 128, 0);
        let a: Vec<String> = a.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        assert!(a.contains(&"file:-weird name.flac".to_owned()), "{a:?}");
        assert!(a.contains(&"128k".to_owned()));
        assert!(!a.contains(&"-ss".to_owned()));
        assert_eq!(a.last().map(String::as_str), Some("pipe:1"));
        let flac = TARGETS.iter().find(|t| t.suffix == "flac").unwrap();
        let a = arguments(Path::new("x.wav"), flac, 128, 7);
        let a: Vec<String> = a.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        assert!(!a.iter().any(|s| s == "-b:a"), "{a:?}");
        assert!(a.windows(2).any(|w| w == ["-ss", "7"]));
    }
}
