//! A bound on one client's writes (`scrobble`, `star`, `unstar` and the playlist calls): each
//! client (its address and its name `c`) has a bucket of [`SubsonicOptions::write_burst`] writes
//! that refills at [`SubsonicOptions::writes_per_second`]; a write with the bucket empty is
//! answered error 0 ("too many writes") and changes nothing, so a player flooding scrobbles
//! cannot rewrite the library without end. A player's real use (a play every few minutes, a
//! burst of starred songs or queued offline plays up to the burst) never meets it.
//!
//! [`SubsonicOptions::write_burst`]: super::auth::SubsonicOptions::write_burst
//! [`SubsonicOptions::writes_per_second`]: super::auth::SubsonicOptions::writes_per_second

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use super::auth::{MAX_NAME_CHARS, MAX_TRACKED};
use super::error::Fail;

/// The calls that write the library (or the server's memory) and count against the budget.
pub const WRITES: &[&str] = &[
    "scrobble",
    "star",
    "unstar",
    "createPlaylist",
    "updatePlaylist",
    "deletePlaylist",
];

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by client; at most [`MAX_TRACKED`] clients remembered (full buckets go first,
/// then the oldest).
pub struct WriteBudget {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<(IpAddr, String), Bucket>>,
}

impl WriteBudget {
    /// `burst` writes at once (at least 1), refilled at `per_second` (0: never refilled).
    pub fn new(burst: u32, per_second: u32) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            per_second: f64::from(per_second),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refilled(&self, b: Bucket, now: Instant) -> f64 {
        let secs = now.saturating_duration_since(b.at).as_secs_f64();
        (b.tokens + secs * self.per_second).min(self.burst)
    }

    /// Takes one write for the client `client` at `ip`, or error 0 saying when to try again.
    pub fn take(&self, ip: IpAddr, client: Option<&str>) -> Result<(), Fail> {
        let name: String = client.unwrap_or("").chars().take(MAX_NAME_CHARS).collect();
        let key = (ip, name);
        let now = Instant::now();
        // Counters only: a table left by a panicking thread is still usable.
        let mut t = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if t.len() >= MAX_TRACKED && !t.contains_key(&key) {
            t.retain(|_, b| self.refilled(*b, now) < self.burst);
            if t.len() >= MAX_TRACKED
                && let Some(oldest) = t.iter().min_by_key(|(_, b)| b.at).map(|(k, _)| k.clone())
            {
                t.remove(&oldest);
            }
        }
        let full = Bucket {
            tokens: self.burst,
            at: now,
        };
        let b = t.entry(key).or_insert(full);
        let tokens = self.refilled(*b, now);
        if tokens >= 1.0 {
            *b = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            return Ok(());
        }
        *b = Bucket { tokens, at: now };
        let wait = if self.per_second > 0.0 {
            format!(
                "try again in {} s",
                ((1.0 - tokens) / self.per_second).ceil().max(1.0)
            )
        } else {
            "this server takes no more from this client".to_owned()
        };
        Err(Fail::other(format!(
            "too many requests: at most {} writes (plays, stars, playlist changes) at once from one client, then {} a second; {wait}",
            self.burst, self.per_second
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refused_per_client() {
        let w = WriteBudget::new(3, 0);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            w.take(ip, Some("flood")).unwrap();
        }
        let e = w.take(ip, Some("flood")).unwrap_err();
        assert_eq!(e.code, 0);
        assert!(e.message.contains("too many requests"), "{e}");
        // Another client, or the same name elsewhere, has its own bucket.
        w.take(ip, Some("player")).unwrap();
        w.take("10.0.0.2".parse().unwrap(), Some("flood")).unwrap();
        // Bounded.
        for i in 0..(MAX_TRACKED as u32 + 10) {
            w.take(IpAddr::from(i.to_be_bytes()), None).unwrap();
        }
        assert!(w.buckets.lock().unwrap().len() <= MAX_TRACKED);
    }
}
