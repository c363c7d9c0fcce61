//! The connection to MPD: songrec's own small client for the few commands it sends (`status`,
//! `playlistinfo`, `addid`, `delete`, `config`, `idle`, `password`), one command at a time over
//! TCP or a Unix socket. It hands the rest of the crate songrec's own types ([`Player`],
//! [`Entry`]) and [`MpdError`]s.
//!
//! **What it sends**: every argument in double quotes, with `\` and `"` escaped by a backslash,
//! which is how MPD's tokenizer reads any character (an unquoted argument may not hold `'`, `"`
//! or `\`). An argument with a line break or a NUL byte cannot be carried (MPD ends a command at
//! the line break and reads C strings): it is refused before anything is sent
//! ([`MpdError::Unsendable`]), never a panic.
//!
//! **What it reads**, and its limits, so that a server that is not a well-behaved MPD costs
//! bounded memory and time: a line of at most [`MAX_LINE`] bytes, an answer of at most
//! [`MAX_ANSWER`] (each line counted with [`LINE_COST`] more, what holding it costs), text
//! (UTF-8) of `key: value` lines ending with `OK` or an `ACK` line, and no `binary:` data (songrec
//! asks for none). Past any of these the connection is dropped and the error is
//! [`MpdError::Malformed`], which ends the radio instead of reconnecting. The queue is read in
//! pages of [`QUEUE_PAGE`] songs, so a long queue stays within the answer limit. Every command
//! has [`COMMAND_TIMEOUT`] to be answered; `idle` waits as long as MPD does.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::address::{Address, Endpoint};
use crate::error::{MpdError, MpdResult};

/// How long connecting (and MPD's greeting) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long MPD may take to answer a command; past it the connection counts as lost.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest line read. MPD's lines are a tag or a path (at most 4 KiB on Linux); 1 MiB leaves
/// room for long comment tags.
pub const MAX_LINE: usize = 1 << 20;
/// The largest answer read, its lines weighed with [`LINE_COST`]: twice MPD's own default limit
/// on an answer (`max_output_buffer_size`, 8 MiB). A page of the queue ([`QUEUE_PAGE`] songs of
/// some 15 lines each) weighs about 2.5 MiB.
pub const MAX_ANSWER: usize = 16 << 20;
/// What each line of an answer weighs beyond its bytes: holding a short line as a key and a
/// value costs about this much, so many short lines are bounded as surely as a few long ones.
pub const LINE_COST: usize = 128;
/// Songs of the queue asked for per `playlistinfo`.
pub const QUEUE_PAGE: usize = 1000;

/// One song of MPD's queue.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub position: usize,
    /// The queue entry's id (MPD's `Id`).
    pub id: u64,
    pub uri: String,
    pub length: Option<Duration>,
}

/// What the player is doing.
#[derive(Clone, Debug, PartialEq)]
pub struct Player {
    /// The current song's position and entry id.
    pub current: Option<(usize, u64)>,
    pub elapsed: Duration,
    pub playing: bool,
}

/// A byte stream to MPD.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Why reading an answer stopped.
#[derive(Debug)]
enum Fail {
    /// The connection ended or failed.
    Gone(String),
    /// The server broke the protocol (or a limit).
    Broke(String),
    /// A complete answer was an error line.
    Ack { code: u64, message: String },
    /// A complete error line songrec cannot read.
    BadAck(String),
}

/// A command's text: `name` and each argument quoted, `\` and `"` escaped; `None` when an
/// argument holds a line break or a NUL byte, which MPD's protocol cannot carry.
///
/// ```
/// use songrec_mpd::client::encode;
/// assert_eq!(encode("addid", &["Don't.wav"]).unwrap(), b"addid \"Don't.wav\"\n");
/// assert_eq!(
///     encode("addid", &[r#"say "hi"\x.wav"#]).unwrap(),
///     br#"addid "say \"hi\"\\x.wav""#.iter().chain(b"\n").copied().collect::<Vec<u8>>()
/// );
/// assert_eq!(encode("addid", &["a\nb.wav"]), None);
/// ```
pub fn encode(name: &str, args: &[&str]) -> Option<Vec<u8>> {
    debug_assert!(
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
        "a command name of songrec's own"
    );
    let mut out =
        Vec::with_capacity(name.len() + 1 + args.iter().map(|a| a.len() + 3).sum::<usize>());
    out.extend_from_slice(name.as_bytes());
    for a in args {
        if !can_carry(a) {
            return None;
        }
        out.extend_from_slice(b" \"");
        for b in a.bytes() {
            if b == b'\\' || b == b'"' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    }
    out.push(b'\n');
    Some(out)
}

/// Whether MPD's protocol can carry `arg` as an argument (no line break, no NUL byte).
pub fn can_carry(arg: &str) -> bool {
    !arg.contains(['\n', '\0'])
}

/// A connection to one MPD server.
pub struct Mpd {
    io: BufReader<Box<dyn Stream>>,
    addr: Address,
    /// Set when an answer was cut off (a timeout): what comes next cannot be matched to a
    /// command, so the connection is not used again.
    broken: bool,
}

impl std::fmt::Debug for Mpd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mpd").field("addr", &self.addr).finish()
    }
}

impl Mpd {
    /// Connects, reads MPD's greeting and sends the password (if the address has one).
    pub async fn connect(addr: &Address) -> MpdResult<Mpd> {
        let unreachable = |why: String| MpdError::Unreachable {
            addr: addr.to_string(),
            why,
        };
        let attempt = async {
            let io: Box<dyn Stream> = match &addr.endpoint {
                Endpoint::Socket(p) => Box::new(
                    tokio::net::UnixStream::connect(p)
                        .await
                        .map_err(|e| unreachable(e.to_string()))?,
                ),
                Endpoint::Tcp { host, port } => Box::new(
                    tokio::net::TcpStream::connect((host.as_str(), *port))
                        .await
                        .map_err(|e| unreachable(e.to_string()))?,
                ),
            };
            let mut mpd = Mpd {
                io: BufReader::new(io),
                addr: addr.clone(),
                broken: false,
            };
            mpd.greeting().await?;
            if let Some(pw) = &addr.password {
                mpd.password(pw).await?;
            }
            Ok(mpd)
        };
        tokio::time::timeout(CONNECT_TIMEOUT, attempt)
            .await
            .map_err(|_| unreachable(format!("no answer in {} s", CONNECT_TIMEOUT.as_secs())))?
    }

    /// Connects and checks that MPD lets this client work: a server that wants a password
    /// refuses `status` without one.
    pub async fn open(addr: &Address) -> MpdResult<Mpd> {
        let mut mpd = Mpd::connect(addr).await?;
        mpd.player().await?;
        Ok(mpd)
    }

    pub fn address(&self) -> &Address {
        &self.addr
    }

    /// `OK MPD <version>`.
    async fn greeting(&mut self) -> MpdResult<()> {
        let mut line = Vec::new();
        let addr = self.addr.to_string();
        let not_mpd = |what: &str| MpdError::Unreachable {
            addr: addr.clone(),
            why: format!("it did not answer as MPD does ({what})"),
        };
        match self.read_line(&mut line).await {
            Ok(()) if line.starts_with(b"OK MPD ") => Ok(()),
            Ok(()) => Err(not_mpd(&format!(
                "its greeting was {:?}",
                String::from_utf8_lossy(&line[..line.len().min(80)])
            ))),
            Err(Fail::Broke(why)) => Err(self.malformed(why)),
            Err(Fail::Gone(why)) => Err(not_mpd(&why)),
            Err(Fail::Ack { message, .. }) | Err(Fail::BadAck(message)) => Err(not_mpd(&message)),
        }
    }

    /// Sends the password; MPD answers `OK` or an error.
    async fn password(&mut self, pw: &str) -> MpdResult<()> {
        let addr = self.addr.to_string();
        match self.run("password", &[pw]).await {
            Ok(_) => Ok(()),
            Err(MpdError::Refused { .. } | MpdError::NoPermission { .. }) => {
                Err(MpdError::WrongPassword { addr })
            }
            // The password itself is never shown.
            Err(MpdError::Unsendable { .. }) => Err(MpdError::Address {
                spec: addr,
                why: "the password holds a line break, which MPD's protocol cannot carry".into(),
            }),
            Err(e) => Err(e),
        }
    }

    fn malformed(&mut self, detail: String) -> MpdError {
        self.broken = true;
        MpdError::Malformed {
            addr: self.addr.to_string(),
            detail,
        }
    }

    fn closed(&mut self, why: &str) -> MpdError {
        self.broken = true;
        tracing::debug!(why, "MPD connection lost");
        MpdError::Closed {
            addr: self.addr.to_string(),
        }
    }

    /// Reads one line (without its `\n`) of at most [`MAX_LINE`] bytes.
    async fn read_line(&mut self, line: &mut Vec<u8>) -> Result<(), Fail> {
        line.clear();
        loop {
            let buf = self
                .io
                .fill_buf()
                .await
                .map_err(|e| Fail::Gone(e.to_string()))?;
            if buf.is_empty() {
                return Err(Fail::Gone("the connection ended".into()));
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            if line.len() + take > MAX_LINE {
                return Err(Fail::Broke(format!(
                    "a line longer than {} MiB",
                    MAX_LINE >> 20
                )));
            }
            line.extend_from_slice(&buf[..take]);
            self.io.consume(take + usize::from(done));
            if done {
                return Ok(());
            }
        }
    }

    /// Reads one answer: its `key: value` lines up to `OK`, or the error line that ends it.
    async fn answer(&mut self) -> Result<Vec<(String, String)>, Fail> {
        let mut fields = Vec::new();
        let mut weight = 0usize;
        let mut line = Vec::new();
        loop {
            self.read_line(&mut line).await?;
            weight += line.len() + LINE_COST;
            if weight > MAX_ANSWER {
                return Err(Fail::Broke(format!(
                    "an answer larger than {} MiB",
                    MAX_ANSWER >> 20
                )));
            }
            let text = std::str::from_utf8(&line)
                .map_err(|_| Fail::Broke("a line that is not UTF-8 text".into()))?;
            if text == "OK" {
                return Ok(fields);
            }
            if let Some(ack) = text.strip_prefix("ACK ") {
                return Err(parse_ack(ack));
            }
            let Some((key, value)) = text.split_once(": ") else {
                return Err(Fail::Broke(format!(
                    "a line that is not `key: value`: {:?}",
                    short(text)
                )));
            };
            if key == "binary" {
                return Err(Fail::Broke("binary data songrec did not ask for".into()));
            }
            fields.push((key.to_owned(), value.to_owned()));
        }
    }

    /// Sends `name` with `args` and reads its answer, within [`COMMAND_TIMEOUT`].
    async fn run(&mut self, name: &str, args: &[&str]) -> MpdResult<Vec<(String, String)>> {
        let Some(bytes) = encode(name, args) else {
            return Err(MpdError::Unsendable {
                what: args
                    .iter()
                    .find(|a| !can_carry(a))
                    .map(|a| format!("{a:?}"))
                    .unwrap_or_default(),
            });
        };
        match tokio::time::timeout(COMMAND_TIMEOUT, self.exchange(name, &bytes)).await {
            Ok(r) => r,
            Err(_) => {
                self.broken = true;
                Err(MpdError::Unreachable {
                    addr: self.addr.to_string(),
                    why: format!("no answer to `{name}` in {} s", COMMAND_TIMEOUT.as_secs()),
                })
            }
        }
    }

    /// Writes a command and reads its answer (no time limit: `idle`'s answer may take hours).
    async fn exchange(&mut self, name: &str, bytes: &[u8]) -> MpdResult<Vec<(String, String)>> {
        if self.broken {
            return Err(MpdError::Closed {
                addr: self.addr.to_string(),
            });
        }
        let io = self.io.get_mut();
        if let Err(e) = async {
            io.write_all(bytes).await?;
            io.flush().await
        }
        .await
        {
            return Err(self.closed(&e.to_string()));
        }
        match self.answer().await {
            Ok(fields) => Ok(fields),
            Err(Fail::Gone(why)) => Err(self.closed(&why)),
            Err(Fail::Broke(why)) => Err(self.malformed(why)),
            // 4: permission denied (a password is needed).
            Err(Fail::Ack { code: 4, .. }) => Err(MpdError::NoPermission {
                addr: self.addr.to_string(),
                command: name.to_owned(),
            }),
            Err(Fail::Ack { code, message }) => Err(MpdError::Refused {
                addr: self.addr.to_string(),
                command: name.to_owned(),
                code,
                message,
            }),
            Err(Fail::BadAck(line)) => Err(self.protocol(name, format!("an error line {line:?}"))),
        }
    }

    fn protocol(&self, command: &str, what: String) -> MpdError {
        MpdError::Protocol {
            addr: self.addr.to_string(),
            detail: format!("{command}: {what}"),
        }
    }

    pub async fn player(&mut self) -> MpdResult<Player> {
        let fields = self.run("status", &[]).await?;
        let get = |k: &str| {
            fields
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let bad = |k: &str, v: &str| self.protocol("status", format!("{k} {v:?}"));
        let playing = match get("state") {
            Some("play") => true,
            Some("pause" | "stop") => false,
            Some(v) => return Err(bad("state", v)),
            None => return Err(self.protocol("status", "no state".into())),
        };
        let number = |k: &str| -> MpdResult<Option<u64>> {
            get(k)
                .map(|v| v.parse::<u64>().map_err(|_| bad(k, v)))
                .transpose()
        };
        let current = match (number("song")?, number("songid")?) {
            (Some(pos), Some(id)) => Some((usize::try_from(pos).map_err(|_| bad("song", ""))?, id)),
            _ => None,
        };
        let elapsed = match get("elapsed") {
            Some(v) => seconds(v).ok_or_else(|| bad("elapsed", v))?,
            None => Duration::ZERO,
        };
        Ok(Player {
            current,
            elapsed,
            playing,
        })
    }

    /// The whole queue, in order, read [`QUEUE_PAGE`] songs at a time.
    pub async fn queue(&mut self) -> MpdResult<Vec<Entry>> {
        let mut out: Vec<Entry> = Vec::new();
        loop {
            let from = out.len();
            let range = format!("{from}:{}", from + QUEUE_PAGE);
            let fields = self.run("playlistinfo", &[&range]).await?;
            let page = self.entries(fields)?;
            let n = page.len();
            out.extend(page);
            if n < QUEUE_PAGE {
                return Ok(out);
            }
        }
    }

    /// The songs of a `playlistinfo` answer (each begins with its `file` line).
    fn entries(&self, fields: Vec<(String, String)>) -> MpdResult<Vec<Entry>> {
        struct Part {
            uri: String,
            position: Option<usize>,
            id: Option<u64>,
            length: Option<Duration>,
        }
        let mut parts: Vec<Part> = Vec::new();
        for (k, v) in fields {
            let bad = || self.protocol("playlistinfo", format!("{k} {v:?}"));
            if k == "file" {
                parts.push(Part {
                    uri: v,
                    position: None,
                    id: None,
                    length: None,
                });
                continue;
            }
            let Some(p) = parts.last_mut() else {
                return Err(self.protocol("playlistinfo", format!("{k} before any file")));
            };
            match k.as_str() {
                "Pos" => p.position = Some(v.parse().map_err(|_| bad())?),
                "Id" => p.id = Some(v.parse().map_err(|_| bad())?),
                "duration" => p.length = Some(seconds(&v).ok_or_else(bad)?),
                // The older, whole-second length, when `duration` is not given.
                "Time" if p.length.is_none() => p.length = seconds(&v),
                _ => {}
            }
        }
        parts
            .into_iter()
            .map(|p| match (p.position, p.id) {
                (Some(position), Some(id)) => Ok(Entry {
                    position,
                    id,
                    uri: p.uri,
                    length: p.length,
                }),
                _ => Err(self.protocol("playlistinfo", format!("no Pos or Id for {}", p.uri))),
            })
            .collect()
    }

    /// Appends `uri` to the queue; returns its entry id. A URI MPD's protocol cannot carry (a
    /// line break) is [`MpdError::Unsendable`].
    pub async fn add(&mut self, uri: &str) -> MpdResult<u64> {
        let fields = self.run("addid", &[uri]).await?;
        let id = fields.iter().find(|(k, _)| k == "Id").map(|(_, v)| v);
        id.and_then(|v| v.parse().ok())
            .ok_or_else(|| self.protocol("addid", format!("no Id for {uri}")))
    }

    /// Deletes the queue from `position` to its end.
    pub async fn delete_from(&mut self, position: usize) -> MpdResult<()> {
        self.run("delete", &[&format!("{position}:")]).await?;
        Ok(())
    }

    /// MPD's `music_directory`, which it tells only over a local socket (`None` otherwise).
    pub async fn music_directory(&mut self) -> MpdResult<Option<PathBuf>> {
        match self.run("config", &[]).await {
            Ok(fields) => Ok(fields
                .into_iter()
                .find(|(k, _)| k == "music_directory")
                .map(|(_, v)| PathBuf::from(v))),
            // Permission denied: not a local client.
            Err(MpdError::NoPermission { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits for the player or the queue to change (MPD's `idle`: no polling; changes made
    /// since the last wait, ours included, answer at once). An error when the connection
    /// drops.
    pub async fn changed(&mut self) -> MpdResult<()> {
        let bytes = encode("idle", &["player", "playlist"]).unwrap_or_default();
        self.exchange("idle", &bytes).await.map(drop)
    }
}

/// An error line's `[code@index] {command} message`.
fn parse_ack(ack: &str) -> Fail {
    let parsed = (|| {
        let rest = ack.strip_prefix('[')?;
        let (code, rest) = rest.split_once('@')?;
        let (_, rest) = rest.split_once("] {")?;
        let (_, message) = rest.split_once("} ").or_else(|| rest.split_once('}'))?;
        Some((code.parse().ok()?, message.trim().to_owned()))
    })();
    match parsed {
        Some((code, message)) => Fail::Ack { code, message },
        None => Fail::BadAck(short(ack).to_owned()),
    }
}

/// A duration in (fractional) seconds, as MPD writes them; `None` for anything else.
fn seconds(v: &str) -> Option<Duration> {
    v.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

/// At most 80 bytes of `s` (on a character boundary), for a message.
fn short(s: &str) -> &str {
    let mut end = s.len().min(80);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_argument_is_quoted_and_escaped() {
        assert_eq!(encode("status", &[]).unwrap(), b"status\n");
        assert_eq!(
            encode("addid", &[r#"Guns_N'_Roses/a "b" \c.flac"#]).unwrap(),
            br#"addid "Guns_N'_Roses/a \"b\" \\c.flac""#
                .iter()
                .chain(b"\n")
                .copied()
                .collect::<Vec<_>>()
        );
        assert_eq!(encode("delete", &["5:"]).unwrap(), b"delete \"5:\"\n");
        for bad in ["a\nb", "a\0b", "\n"] {
            assert_eq!(encode("addid", &[bad]), None, "{bad:?}");
        }
        assert!(can_carry("tab\tand\rreturn"));
    }

    #[test]
    fn error_lines() {
        match parse_ack("[50@0] {addid} No such song") {
            Fail::Ack { code, message } => {
                assert_eq!((code, message.as_str()), (50, "No such song"))
            }
            f => panic!("{f:?}"),
        }
        assert!(matches!(parse_ack("[x@y] nonsense"), Fail::BadAck(_)));
        assert_eq!(seconds("-1"), None);
        assert_eq!(seconds("1e400"), None);
        assert_eq!(seconds("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(short("ééé"), "ééé");
    }
}
