//! Audio decoding and embedding.
