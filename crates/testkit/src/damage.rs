//! Damage as bit rot leaves it, for the tests that check a library survives it.

use std::path::Path;

/// A byte flipped in place by [`rot`], to be put back with [`Rot::undo`] (or left, by
/// dropping it).
pub struct Rot {
    file: std::fs::File,
    at: u64,
    byte: u8,
    mtime: std::time::SystemTime,
}

/// Flips every bit of the byte at `at` in place (same inode, so also in every hard link of the
/// file) and puts the file's modification time back, as bit rot does.
#[cfg(unix)]
pub fn rot(path: &Path, at: u64) -> Rot {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mtime = file.metadata().unwrap().modified().unwrap();
    let mut b = [0u8];
    file.read_exact_at(&mut b, at).unwrap();
    file.write_all_at(&[b[0] ^ 0xFF], at).unwrap();
    file.sync_all().unwrap();
    file.set_modified(mtime).unwrap();
    Rot {
        file,
        at,
        byte: b[0],
        mtime,
    }
}

impl Rot {
    /// Puts the byte and the time back (through the handle: the file may have been replaced
    /// at its path meanwhile).
    #[cfg(unix)]
    pub fn undo(self) {
        use std::os::unix::fs::FileExt;
        self.file.write_all_at(&[self.byte], self.at).unwrap();
        self.file.set_modified(self.mtime).unwrap();
    }
}
