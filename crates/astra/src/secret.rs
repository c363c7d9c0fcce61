//! Credentials that never print: the workspace-wide [`Secret`] type from `songrec-storage`.
//!
//! There is one `Secret` type in the workspace so a token read by the configuration can be
//! handed to the Data API client and the S3 store without copying it into a plain string.
//! `Display` prints `***` and `Debug` prints `Secret(***)`.
//!
//! ```
//! use songrec_astra::secret::Secret;
//!
//! let token = Secret::new("AstraCS:abc");
//! assert_eq!(format!("{token:?}"), "Secret(***)");
//! assert_eq!(format!("{token}"), "***");
//! assert_eq!(token.expose(), "AstraCS:abc");
//! assert_eq!(token.redact("bad token AstraCS:abc"), "bad token ***");
//! ```

pub use songrec_storage::Secret;
