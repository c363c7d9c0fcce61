//! The error the S3 server and the fault proxy return when they cannot start.

/// Why the S3 server could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevServerError {
    /// Binding or preparing the data folder failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// s3s-fs refused the data folder.
    #[error("s3s-fs: {0}")]
    S3(String),
}
