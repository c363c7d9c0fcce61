//! The audio folder (`data/audio/<song id>.<ext>`): the index of its files and copies verified
//! against the song id (the content hash).

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use songrec_storage::{SongId, StorageError, StorageResult};

use crate::fsutil::{self, sync_dir};
use crate::layout::dir_stamp;
use crate::state::{Inner, State};

impl Inner {
    pub(crate) fn audio_index<'a>(
        &self,
        st: &'a mut State,
    ) -> StorageResult<&'a mut HashMap<SongId, PathBuf>> {
        let stamp = dir_stamp(&self.paths.audio);
        if st.audio.is_none() || (st.lock.is_none() && stamp != st.audio_stamp) {
            st.audio_stamp = stamp;
            let mut map = HashMap::new();
            if let Ok(entries) = fs::read_dir(&self.paths.audio) {
                for e in entries.flatten() {
                    let path = e.path();
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    if name.starts_with('.') {
                        continue;
                    }
                    let stem = name.split('.').next().unwrap_or_default();
                    if let Ok(id) = SongId::parse(stem) {
                        map.insert(id, path);
                    }
                }
            }
            st.audio = Some(map);
        }
        st.audio
            .as_mut()
            .ok_or_else(|| StorageError::NotFound("audio index".into()))
    }
}

fn copy_hashing(src: &Path, tmp: &Path) -> StorageResult<(SongId, u64)> {
    let mut input = File::open(src).map_err(|e| StorageError::io(src, e))?;
    let result = (|| -> std::io::Result<(SongId, u64)> {
        let mut out = songrec_fs::create_new(tmp)?;
        let copied = SongId::copy_hashed(&mut input, &mut out)?;
        out.sync_all()?;
        Ok(copied)
    })();
    match result {
        Ok(v) => Ok(v),
        Err(e) => {
            let _ = fs::remove_file(tmp);
            Err(StorageError::io(src, e))
        }
    }
}

/// Copies `src` to `dest` atomically if its bytes hash to `id`.
pub(crate) fn copy_verified(id: &SongId, src: &Path, dest: &Path) -> StorageResult<u64> {
    let tmp = fsutil::temp_path(dest);
    let (actual, n) = copy_hashing(src, &tmp)?;
    if actual != *id {
        let _ = fs::remove_file(&tmp);
        return Err(StorageError::HashMismatch {
            id: id.to_string(),
            actual: actual.to_string(),
        });
    }
    fs::rename(&tmp, dest).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        StorageError::io(dest, e)
    })?;
    if let Some(parent) = dest.parent() {
        sync_dir(parent)?;
    }
    Ok(n)
}
