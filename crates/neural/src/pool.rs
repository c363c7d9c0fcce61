//! The ONNX Runtime session pool: one session per concurrent caller, created on first need.

use std::sync::{Condvar, Mutex};

use ort::session::Session;

use crate::error::NeuralResult;

/// A small pool of sessions: `Session::run` needs `&mut`, and tract serialises runs of one
/// session anyway, so parallel callers each get their own session (created on first need, at
/// most `max`), instead of queueing on one mutex.
pub(crate) struct Pool {
    state: Mutex<PoolState>,
    cv: Condvar,
    max: usize,
}

struct PoolState {
    free: Vec<Session>,
    created: usize,
}

pub(crate) struct Lease<'a> {
    pool: &'a Pool,
    session: Option<Session>,
}

impl Lease<'_> {
    pub(crate) fn session(&mut self) -> &mut Session {
        self.session
            .as_mut()
            .expect("a lease holds its session until dropped")
    }

    /// Throws the session away (after a panic inside the runtime).
    pub(crate) fn discard(mut self) {
        if self.session.take().is_some() {
            let mut st = self.pool.lock();
            st.created -= 1;
            self.pool.cv.notify_one();
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            self.pool.lock().free.push(s);
            self.pool.cv.notify_one();
        }
    }
}

impl Pool {
    /// An empty pool that creates at most `max` sessions.
    pub(crate) fn new(max: usize) -> Self {
        Pool {
            state: Mutex::new(PoolState {
                free: Vec::new(),
                created: 0,
            }),
            cv: Condvar::new(),
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn acquire(
        &self,
        make: impl Fn() -> NeuralResult<Session>,
    ) -> NeuralResult<Lease<'_>> {
        let mut st = self.lock();
        loop {
            if let Some(s) = st.free.pop() {
                return Ok(Lease {
                    pool: self,
                    session: Some(s),
                });
            }
            if st.created < self.max {
                st.created += 1;
                drop(st);
                return match make() {
                    Ok(s) => Ok(Lease {
                        pool: self,
                        session: Some(s),
                    }),
                    Err(e) => {
                        self.lock().created -= 1;
                        self.cv.notify_one();
                        Err(e)
                    }
                };
            }
            st = self.cv.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    pub(crate) fn sessions(&self) -> usize {
        self.lock().created
    }
}
