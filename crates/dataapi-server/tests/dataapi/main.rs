//! The Data API server's integration tests (raw HTTP + JSON, and the astrapy client), in one test binary.

mod astrapy;
mod documents;
mod limits;
mod persistence;
mod protocol;
mod vectors;
