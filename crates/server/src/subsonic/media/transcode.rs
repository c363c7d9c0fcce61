//! `stream` with `format`: the song re-encoded by an `ffmpeg` found on `PATH`, only when the
//! client asks for a format other than the file's own (`format=raw`, no `format`, or the file's
//! own format: the original bytes). `maxBitRate` sets the bit rate of a re-encoding (192 kbit/s
//! when absent or 0, within 32..=320) and alone asks for nothing; `timeOffset` starts a
//! re-encoding that many seconds in. A re-encoding is streamed as ffmpeg writes it: no
//! `Content-Length`, no `Range` (a range asked is ignored: the answer is `200` from the start).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::Semaphore;
use tokio_util::io::ReaderStream;

use super::super::{Fail, Params};

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

/// What `stream` serves for these parameters and a file with this suffix.
pub fn plan(p: &Params, suffix: &str) -> Result<Plan, Fail> {
    let asked = p
        .get("format")
        .map(|f| f.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if asked.is_empty() || asked == "raw" || same_format(&asked, &suffix.to_ascii_lowercase()) {
        return Ok(Plan::Original);
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
    let kbps = match p.number("maxBitRate", 0u32, 0, 100_000)? {
        0 => DEFAULT_KBPS,
        k => k.clamp(KBPS.0, KBPS.1),
    };
    let offset = p.number("timeOffset", 0u32, 0, 7 * 24 * 3600)?;
    Ok(Plan::Transcode {
        target,
        kbps,
        offset,
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

/// At most one re-encoding per core runs at once; others wait their turn.
fn slots() -> Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS
        .get_or_init(|| {
            let n = std::thread::available_parallelism().map_or(2, |n| n.get());
            Arc::new(Semaphore::new(n))
        })
        .clone()
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

/// The re-encoding of `input` as an answer; `keep` lives as long as the stream (the spooled
/// input). Waits for ffmpeg's first bytes, so a failure to start is an error, not an empty
/// answer.
pub async fn answer<K: Send + Sync + 'static>(
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
    let slot = slots()
        .acquire_owned()
        .await
        .map_err(|_| Fail::other("the server is shutting down"))?;
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
    let read = out.read(&mut first).await;
    let n = read.map_err(|e| failed(format!("reading ffmpeg's output failed: {e}")))?;
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
    // Held until the answer is sent or dropped: the process (killed when dropped), its turn,
    // and whatever keeps its input.
    let running = (child, slot, keep);
    let body =
        futures::stream::once(async move { Ok::<Bytes, std::io::Error>(Bytes::from(first)) })
            .chain(ReaderStream::new(out))
            .map(move |chunk| {
                let _ = &running;
                chunk
            });
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(target.mime)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::ACCEPT_RANGES, HeaderValue::from_static("none")),
    ];
    Ok((headers, Body::from_stream(body)).into_response())
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
        }) = plan_of("format=mp3&maxBitRate=96&timeOffset=30", "flac")
        else {
            panic!("a re-encoding");
        };
        assert_eq!((target.suffix, kbps, offset), ("mp3", 96, 30));
        assert_eq!(plan_of("format=wma", "flac").unwrap_err().code, 0);
        assert_eq!(
            plan(&Params::parse(Some("format=mp3&maxBitRate=x")), "wav")
                .unwrap_err()
                .code,
            0
        );
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
