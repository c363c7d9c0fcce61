//! A real MPD (Debian's `mpd`, installed by `scripts/test-deps.sh`) for the tests: null audio
//! output, a Unix socket in a temporary folder, a music folder given by the test, its database
//! built with `mpc update --wait`. Ended when dropped. A missing `mpd` or `mpc` is a failure
//! that says how to get them, never a skip.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const HOW: &str = "run scripts/test-deps.sh (it installs Debian's mpd and mpc)";

/// How long MPD may take to open its socket.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running MPD.
pub struct MpdServer {
    dir: tempfile::TempDir,
    child: Option<Child>,
    password: Option<String>,
}

fn quoted(p: &Path) -> String {
    format!(
        "\"{}\"",
        p.display()
            .to_string()
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
    )
}

impl MpdServer {
    /// Starts MPD on `music` and builds its database; with `password`, only a client that
    /// gives it may do anything.
    pub fn start(music: &Path, password: Option<&str>) -> MpdServer {
        let extra = match password {
            Some(p) => format!("password \"{p}@read,add,control,admin\"\ndefault_permissions \"\""),
            None => String::new(),
        };
        let dir = tempfile::tempdir().expect("a temporary folder for MPD");
        let d = dir.path();
        let conf = format!(
            "music_directory {}\ndb_file {}\nstate_file {}\npid_file {}\nlog_file {}\n\
             playlist_directory {}\nbind_to_address {}\nzeroconf_enabled \"no\"\n\
             auto_update \"no\"\naudio_output {{\n  type \"null\"\n  name \"null\"\n}}\n{extra}\n",
            quoted(music),
            quoted(&d.join("db")),
            quoted(&d.join("state")),
            quoted(&d.join("pid")),
            quoted(&d.join("log")),
            quoted(&d.join("playlists")),
            quoted(&d.join("socket")),
        );
        std::fs::create_dir_all(d.join("playlists")).expect("MPD's playlist folder");
        std::fs::write(d.join("mpd.conf"), conf).expect("write mpd.conf");
        let mut s = MpdServer {
            dir,
            child: None,
            password: password.map(str::to_owned),
        };
        s.spawn();
        s.mpc(&["update", "--wait"]);
        s
    }

    /// The socket's path (an `--mpd` address).
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("socket")
    }

    /// A path in MPD's folder where nothing listens.
    pub fn nowhere(&self) -> PathBuf {
        self.dir.path().join("no-socket")
    }

    fn spawn(&mut self) {
        let d = self.dir.path();
        let child = Command::new("mpd")
            .arg("--no-daemon")
            .arg(d.join("mpd.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start mpd ({e}); {HOW}"));
        self.child = Some(child);
        self.wait_for_socket();
    }

    /// Connects until MPD greets, in a bounded loop of short waits.
    fn wait_for_socket(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(mut s) = UnixStream::connect(self.socket()) {
                let mut greeting = [0u8; 6];
                if s.read_exact(&mut greeting).is_ok() && &greeting == b"OK MPD" {
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "mpd exited ({status}) before opening its socket: {}",
                    self.log()
                );
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "mpd did not open {} in {START_TIMEOUT:?}: {}",
                self.socket().display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// `mpc --host SOCKET ARGS` (with `password@` before the socket when given).
    pub fn mpc_as(&self, password: Option<&str>, args: &[&str]) -> Output {
        let host = match password {
            Some(p) => format!("{p}@{}", self.socket().display()),
            None => self.socket().display().to_string(),
        };
        Command::new("mpc")
            .env_remove("MPD_HOST")
            .env_remove("MPD_PORT")
            .arg("--host")
            .arg(host)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run mpc ({e}); {HOW}"))
    }

    /// `mpc ARGS` (with the server's password); asserts it worked; returns its output.
    pub fn mpc(&self, args: &[&str]) -> String {
        let o = self.mpc_as(self.password.as_deref(), args);
        assert!(
            o.status.success(),
            "mpc {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The queue's URIs (`mpc playlist -f %file%`).
    pub fn queue(&self) -> Vec<String> {
        self.mpc(&["playlist", "-f", "%file%"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The current song's position in the queue, from 1 (`mpc current -f %position%`).
    pub fn position(&self) -> Option<usize> {
        self.mpc(&["current", "-f", "%position%"])
            .trim()
            .parse()
            .ok()
    }

    /// Stops MPD (SIGTERM, so it saves its state file, then waits).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops MPD and starts it again on the same socket, state and database.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for MpdServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
