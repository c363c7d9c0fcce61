//! What a file's inode says of it, and paths as state-file keys.
//!
//! A [`Stamp`] is what songrec compares to decide, without reading a file, that it is the one
//! it read before. Size and modification time alone can be fooled: `touch -r`, `rsync -t` and
//! `cp -p` set the time of another file's bytes. The inode number and the change time cannot be
//! set by a user: a file written in place gets a new change time, a file written anew and renamed
//! over the old one a new inode. A stamp that differs in any field means "read it again".

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Modification time of `m` in nanoseconds since the Unix epoch (`None` where the platform or
/// file system does not say).
pub fn mtime_nanos(m: &fs::Metadata) -> Option<u128> {
    let since = m.modified().ok()?.duration_since(std::time::UNIX_EPOCH);
    since.ok().map(|d| d.as_nanos())
}

/// Size and modification time (ns) of the file at `path`: a cheap "has it changed?" stamp.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("a");
/// std::fs::write(&p, b"abc").unwrap();
/// assert_eq!(songrec_fs::size_and_mtime(&p).unwrap().0, 3);
/// assert!(songrec_fs::size_and_mtime(&dir.path().join("missing")).is_none());
/// ```
pub fn size_and_mtime(path: &Path) -> Option<(u64, u128)> {
    let m = fs::metadata(path).ok()?;
    Some((m.len(), mtime_nanos(&m)?))
}

/// A file's size, times and identity on its file system (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the Unix epoch.
    pub mtime_ns: u128,
    /// Inode change time, ns since the Unix epoch (0 where the platform has none).
    pub ctime_ns: u128,
    /// Device the file lies on (0 where the platform has none).
    pub dev: u64,
    /// Inode number (0 where the platform has none).
    pub ino: u64,
}

impl Stamp {
    /// The stamp of `m` (`None` where the platform or file system gives no modification time).
    pub fn of(m: &fs::Metadata) -> Option<Stamp> {
        #[cfg(unix)]
        let (ctime_ns, dev, ino) = {
            use std::os::unix::fs::MetadataExt as _;
            let ctime_ns = u128::try_from(m.ctime()).unwrap_or(0) * 1_000_000_000
                + u128::try_from(m.ctime_nsec()).unwrap_or(0);
            (ctime_ns, m.dev(), m.ino())
        };
        #[cfg(not(unix))]
        let (ctime_ns, dev, ino) = (0, 0, 0);
        Some(Stamp {
            size: m.len(),
            mtime_ns: mtime_nanos(m)?,
            ctime_ns,
            dev,
            ino,
        })
    }

    /// Whether a file stamped `self` now is the one that was stamped with these recorded
    /// fields: size and modification time, and the inode and its change time where they were
    /// recorded (`ino` 0: a record of an earlier songrec, which kept neither).
    ///
    /// ```
    /// let now = songrec_fs::Stamp { size: 3, mtime_ns: 7, ctime_ns: 9, dev: 1, ino: 42 };
    /// assert!(now.unchanged_since(3, 7, 9, 42));
    /// assert!(now.unchanged_since(3, 7, 0, 0), "an older record: size and time decide");
    /// assert!(!now.unchanged_since(3, 7, 9, 41), "another inode: a file renamed over it");
    /// assert!(!now.unchanged_since(3, 7, 8, 42), "written in place, time put back");
    /// ```
    pub fn unchanged_since(&self, size: u64, mtime_ns: u128, ctime_ns: u128, ino: u64) -> bool {
        (self.size, self.mtime_ns) == (size, mtime_ns)
            && (ino == 0 || (self.ino, self.ctime_ns) == (ino, ctime_ns))
    }
}

/// The [`Stamp`] of the file at `path` (following links), `None` if it cannot be read.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let (a, b) = (dir.path().join("a"), dir.path().join("b"));
/// std::fs::write(&a, b"one").unwrap();
/// std::fs::write(&b, b"two").unwrap();
/// let was = songrec_fs::stamp(&a).unwrap();
/// // `b` renamed over `a` with `a`'s times: the size and time agree, the inode does not.
/// let t = std::fs::metadata(&a).unwrap().modified().unwrap();
/// std::fs::File::options().write(true).open(&b).unwrap().set_modified(t).unwrap();
/// std::fs::rename(&b, &a).unwrap();
/// let now = songrec_fs::stamp(&a).unwrap();
/// assert_eq!((now.size, now.mtime_ns), (was.size, was.mtime_ns));
/// assert_ne!(now, was);
/// ```
pub fn stamp(path: &Path) -> Option<Stamp> {
    Stamp::of(&fs::metadata(path).ok()?)
}

/// Whether `a` and `b` are the same file (the same inode on the same device), following links.
/// `false` when either cannot be read, or where the platform cannot tell.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (stamp(a), stamp(b)) {
        (Some(x), Some(y)) => x.ino != 0 && (x.dev, x.ino) == (y.dev, y.ino),
        _ => false,
    }
}

/// A path as a string key of a JSON state file: the path itself when it is UTF-8, else a NUL
/// (which no path holds) and the hex of its bytes. [`path_from_key`] reverses it exactly, so a
/// file name in any encoding the OS gives survives a state file.
pub fn path_key(p: &Path) -> String {
    match p.to_str() {
        Some(s) => s.to_owned(),
        None => {
            let mut out = String::from("\0");
            for b in path_bytes(p) {
                out.push_str(&format!("{b:02x}"));
            }
            out
        }
    }
}

/// The path [`path_key`] wrote (`None` for a key it cannot have written).
pub fn path_from_key(k: &str) -> Option<PathBuf> {
    let Some(hex) = k.strip_prefix('\0') else {
        return Some(PathBuf::from(k));
    };
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    path_of_bytes(bytes)
}

/// A map by path as a map by [`path_key`], for serialising.
pub fn keyed_by_string<T>(m: &BTreeMap<PathBuf, T>) -> BTreeMap<String, &T> {
    m.iter().map(|(p, v)| (path_key(p), v)).collect()
}

/// The map [`keyed_by_string`] made, by path again (keys it cannot have written are dropped).
pub fn keyed_by_path<T>(m: BTreeMap<String, T>) -> BTreeMap<PathBuf, T> {
    m.into_iter()
        .filter_map(|(k, v)| Some((path_from_key(&k)?, v)))
        .collect()
}

#[cfg(unix)]
fn path_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt as _;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(p: &Path) -> Vec<u8> {
    p.to_string_lossy().into_owned().into_bytes()
}

#[cfg(unix)]
fn path_of_bytes(b: Vec<u8>) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt as _;
    Some(PathBuf::from(std::ffi::OsString::from_vec(b)))
}

#[cfg(not(unix))]
fn path_of_bytes(b: Vec<u8>) -> Option<PathBuf> {
    String::from_utf8(b).ok().map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn any_path_survives_a_key() {
        use std::os::unix::ffi::OsStrExt as _;
        let odd = Path::new(std::ffi::OsStr::from_bytes(b"/music/caf\xe9 \xff.mp3"));
        for p in [odd, Path::new("/music/plain é.mp3"), Path::new("")] {
            let k = path_key(p);
            assert_eq!(path_from_key(&k).as_deref(), Some(p), "{k:?}");
        }
        assert!(path_key(odd).starts_with('\0'));
        assert!(path_from_key("\0zz").is_none());
        assert!(path_from_key("\0a").is_none());
        let m: BTreeMap<PathBuf, u8> = [(odd.to_path_buf(), 7)].into();
        let by_string: BTreeMap<String, u8> = keyed_by_string(&m)
            .into_iter()
            .map(|(k, v)| (k, *v))
            .collect();
        assert_eq!(keyed_by_path(by_string), m);
    }

    #[test]
    fn the_same_file_through_a_link_but_not_a_copy() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        fs::write(&a, b"x").unwrap();
        let copy = dir.path().join("copy");
        fs::copy(&a, &copy).unwrap();
        assert!(same_file(&a, &a));
        assert!(!same_file(&a, &copy));
        assert!(!same_file(&a, &dir.path().join("missing")));
        #[cfg(unix)]
        {
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&a, &link).unwrap();
            assert!(same_file(&a, &link));
        }
    }
}
