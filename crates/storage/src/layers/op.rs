//! The trait's operations as layers see them ([`Op`]), each named after its trait method.

/// Declares [`Op`] and its names (the trait method each variant stands for).
macro_rules! ops {
    ($($op:ident $name:literal,)*) => {
        /// The trait's operations, as seen by layers.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum Op {
            $($op,)*
        }

        impl Op {
            /// Every operation, in the trait's order.
            pub const ALL: &[Op] = &[$(Self::$op,)*];

            /// The trait method's name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$op => $name,)*
                }
            }
        }
    };
}

ops! {
    PutAudio "put_audio",
    GetAudio "get_audio",
    AudioUrl "audio_url",
    HasAudio "has_audio",
    DeleteAudio "delete_audio",
    PutEmbedding "put_embedding",
    GetEmbedding "get_embedding",
    Search "search",
    Models "models",
    PutMetadata "put_metadata",
    PutMetadataIf "put_metadata_if",
    GetMetadata "get_metadata",
    List "list",
    Count "count",
    DeleteSong "delete_song",
    PutPlaylist "put_playlist",
    GetPlaylist "get_playlist",
    ListPlaylists "list_playlists",
    PutSongs "put_songs",
    GetMetadataMany "get_metadata_many",
    ListVersions "list_versions",
    VersionsOf "versions_of",
    IdsWithPrefix "ids_with_prefix",
    ChangesSince "changes_since",
    Summary "summary",
    Flush "flush",
}

impl Op {
    /// Whether repeating the write after it succeeded returns exactly the same answer.
    ///
    /// Not `put_metadata_if`: its repeat answers `Ok` only while no other write came between
    /// (see [`crate::StorageBackend::put_metadata_if`]); after one, a conflict, and the
    /// caller's read-change-write applies its change again.
    pub fn repeat_gives_same_answer(self) -> bool {
        matches!(
            self,
            Self::PutEmbedding
                | Self::PutMetadata
                | Self::PutPlaylist
                | Self::PutSongs
                | Self::Flush
        )
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
