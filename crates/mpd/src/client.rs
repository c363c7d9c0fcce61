//! The connection to MPD: the only module that speaks to [`mpd_client`]. It hands the rest of
//! the crate songrec's own small types ([`Player`], [`Entry`]) and [`MpdError`]s.

use std::path::PathBuf;
use std::time::Duration;

use mpd_client::Client;
use mpd_client::client::{
    CommandError, ConnectWithPasswordError, ConnectionError, ConnectionEvent, ConnectionEvents,
    Subsystem,
};
use mpd_client::commands::{self, Command, SongPosition};
use mpd_client::protocol::command::Command as RawCommand;
use mpd_client::responses::PlayState;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::address::{Address, Endpoint};
use crate::error::{MpdError, MpdResult};

/// How long connecting (and MPD's greeting) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long MPD may take to answer a command; past it the connection counts as lost.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

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

/// A connection to one MPD server.
#[derive(Debug)]
pub struct Mpd {
    client: Client,
    events: ConnectionEvents,
    addr: Address,
}

impl Mpd {
    /// Connects (and sends the password, if the address has one).
    pub async fn connect(addr: &Address) -> MpdResult<Mpd> {
        let attempt = async {
            match &addr.endpoint {
                Endpoint::Socket(p) => {
                    handshake(tokio::net::UnixStream::connect(p).await, addr).await
                }
                Endpoint::Tcp { host, port } => {
                    let tcp = tokio::net::TcpStream::connect((host.as_str(), *port)).await;
                    handshake(tcp, addr).await
                }
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, attempt)
            .await
            .map_err(|_| MpdError::Unreachable {
                addr: addr.to_string(),
                why: format!("no answer in {} s", CONNECT_TIMEOUT.as_secs()),
            })?
    }

    /// Connects and checks that MPD lets this client work: a server that wants a password
    /// refuses the client's background `idle`, which ends the connection; that is told apart
    /// from MPD going away and reported as a missing (or too weak) password.
    pub async fn open(addr: &Address) -> MpdResult<Mpd> {
        let mut mpd = Mpd::connect(addr).await?;
        match mpd.player().await {
            Ok(_) => Ok(mpd),
            Err(MpdError::Closed { .. }) if mpd.idle_refused().await => {
                Err(MpdError::NoPermission {
                    addr: addr.to_string(),
                    command: "idle".into(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the connection ended because MPD answered `idle` with an error.
    async fn idle_refused(&mut self) -> bool {
        let next = tokio::time::timeout(Duration::from_secs(1), self.events.next()).await;
        matches!(
            next,
            Ok(Some(ConnectionEvent::ConnectionClosed(
                ConnectionError::InvalidResponse
            )))
        )
    }

    pub fn address(&self) -> &Address {
        &self.addr
    }

    fn fail(&self, command: &str, e: CommandError) -> MpdError {
        let addr = self.addr.to_string();
        match e {
            e @ (CommandError::ConnectionClosed | CommandError::Protocol(_)) => {
                tracing::debug!(error = ?e, "MPD connection lost");
                MpdError::Closed { addr }
            }
            // 4: permission denied (a password is needed).
            CommandError::ErrorResponse { error, .. } if error.code == 4 => {
                MpdError::NoPermission {
                    addr,
                    command: command.to_owned(),
                }
            }
            CommandError::ErrorResponse { error, .. } => MpdError::Refused {
                addr,
                command: command.to_owned(),
                code: error.code,
                message: error.message.to_string(),
            },
            CommandError::InvalidTypedResponse(t) => MpdError::Protocol {
                addr,
                detail: format!("{command}: {t}"),
            },
        }
    }

    /// A command that got no answer in time: the connection counts as lost.
    fn no_answer(&self, name: &str) -> MpdError {
        MpdError::Unreachable {
            addr: self.addr.to_string(),
            why: format!("no answer to `{name}` in {} s", COMMAND_TIMEOUT.as_secs()),
        }
    }

    /// Sends a typed command, within [`COMMAND_TIMEOUT`].
    async fn command<C: Command>(&self, name: &str, cmd: C) -> MpdResult<C::Response> {
        let answer = self.client.command(cmd);
        match tokio::time::timeout(COMMAND_TIMEOUT, answer).await {
            Ok(r) => r.map_err(|e| self.fail(name, e)),
            Err(_) => Err(self.no_answer(name)),
        }
    }

    pub async fn player(&self) -> MpdResult<Player> {
        let s = self.command("status", commands::Status).await?;
        Ok(Player {
            current: s.current_song.map(|(p, id)| (p.0, id.0)),
            elapsed: s.elapsed.unwrap_or_default(),
            playing: s.state == PlayState::Playing,
        })
    }

    /// The whole queue, in order.
    pub async fn queue(&self) -> MpdResult<Vec<Entry>> {
        let q = self.command("playlistinfo", commands::Queue).await?;
        Ok(q.into_iter()
            .map(|s| Entry {
                position: s.position.0,
                id: s.id.0,
                uri: s.song.url,
                length: s.song.duration,
            })
            .collect())
    }

    /// Appends `uri` to the queue; returns its entry id.
    pub async fn add(&self, uri: &str) -> MpdResult<u64> {
        let add = commands::Add::uri(uri);
        Ok(self.command(&format!("addid {uri}"), add).await?.0)
    }

    /// Deletes the queue from `position` to its end.
    pub async fn delete_from(&self, position: usize) -> MpdResult<()> {
        let range = commands::Delete::range(SongPosition(position)..);
        self.command("delete", range).await
    }

    /// MPD's `music_directory`, which it tells only over a local socket (`None` otherwise).
    pub async fn music_directory(&self) -> MpdResult<Option<PathBuf>> {
        let answer = self.client.raw_command(RawCommand::new("config"));
        match tokio::time::timeout(COMMAND_TIMEOUT, answer).await {
            Ok(Ok(mut frame)) => Ok(frame.get("music_directory").map(PathBuf::from)),
            // 4: permission denied (not a local client).
            Ok(Err(CommandError::ErrorResponse { error, .. })) if error.code == 4 => Ok(None),
            Ok(Err(e)) => Err(self.fail("config", e)),
            Err(_) => Err(self.no_answer("config")),
        }
    }

    /// Waits for the player or the queue to change (MPD's `idle`: no polling). Returns an error
    /// when the connection drops.
    pub async fn changed(&mut self) -> MpdResult<()> {
        loop {
            match self.events.next().await {
                Some(ConnectionEvent::SubsystemChange(Subsystem::Player | Subsystem::Queue)) => {
                    return Ok(());
                }
                Some(ConnectionEvent::SubsystemChange(_)) => {}
                // `ConnectionClosed`, or the events ended.
                end => {
                    tracing::debug!(?end, "MPD connection closed");
                    return Err(MpdError::Closed {
                        addr: self.addr.to_string(),
                    });
                }
            }
        }
    }
}

/// Greets MPD over a stream just opened (or the error opening it) and sends the password.
async fn handshake<C>(io: std::io::Result<C>, addr: &Address) -> MpdResult<Mpd>
where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = io.map_err(|e| MpdError::Unreachable {
        addr: addr.to_string(),
        why: e.to_string(),
    })?;
    match Client::connect_with_password_opt(io, addr.password.as_deref()).await {
        Ok((client, events)) => Ok(Mpd {
            client,
            events,
            addr: addr.clone(),
        }),
        Err(ConnectWithPasswordError::IncorrectPassword) => Err(MpdError::WrongPassword {
            addr: addr.to_string(),
        }),
        Err(ConnectWithPasswordError::ProtocolError(e)) => Err(MpdError::Unreachable {
            addr: addr.to_string(),
            why: format!("it did not answer as MPD does ({e})"),
        }),
    }
}
