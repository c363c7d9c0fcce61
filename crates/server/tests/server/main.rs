//! songrec-server's integration tests, in one test binary: the REST API over a real library on
//! a 127.0.0.1 socket (and over the local cloud), and the web page in headless Chromium.

mod api;
mod e2e;
mod subsonic;
