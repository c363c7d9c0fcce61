//! Finding an ONNX Runtime that is already installed, so the fast runtime needs no setup.
//!
//! Most machines that have ONNX Runtime got it from `pip install onnxruntime`, whose wheel
//! carries `onnxruntime/capi/libonnxruntime.so.1.x.y`. [`discover`] looks for that file in the
//! usual Python prefixes (an active virtualenv or conda environment, the user's site, pyenv
//! versions, conda installs, `/usr/local`, `/usr`), in the prefix of every `python3` on `PATH`,
//! and for system libraries (`lib/libonnxruntime.so.*`, Debian's multiarch folders, Homebrew's
//! `libonnxruntime.*.dylib`). Candidates are tried newest version first; the first one that
//! loads as ONNX Runtime 1.[`REQUIRED_API`](crate::runtime::REQUIRED_API) or newer wins, older
//! or broken ones are skipped (debug log), and none found means tract.
//!
//! Only absolute locations derived from the environment and the user's home are searched,
//! never the working directory: loading a library runs its code, and running songrec inside a
//! downloaded folder must not load a library that folder supplies. For the same reason a
//! candidate is loaded only when nobody but the user (or root) could have put it there
//! ([`trusted_path`]): the file and every folder above it, links resolved, belong to the user
//! or root, carry no group or world write bit (a root folder with the sticky bit, `/tmp`,
//! aside) and no access control list. Such a file is skipped with a warning naming it, the
//! path that made it untrusted and the fix (`songrec doctor` shows it too);
//! `[embedder] onnxruntime_discovery = false` turns the search off altogether.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::runtime::probe_library;

/// An ONNX Runtime library found on this machine and checked to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Absolute path of the library file.
    pub library: PathBuf,
    /// Its own version string, e.g. `1.31.1`.
    pub version: String,
}

/// Looks for an installed ONNX Runtime in the usual places (see the module docs) and returns
/// the newest that loads and is recent enough.
pub fn discover() -> Option<Found> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    first_loadable(candidates_in(&roots(&env)))
}

/// The first of `candidates` (in order) that loads as a recent enough ONNX Runtime. Each
/// candidate's links are resolved once; that real path is what the trust check inspects, what
/// is probed and what [`Found::library`] names, so the file loaded is the file checked: a link
/// swapped after the check (in a folder others may write) cannot redirect the load.
pub fn first_loadable(candidates: Vec<PathBuf>) -> Option<Found> {
    candidates
        .into_iter()
        .filter_map(|library| match trusted_path(&library) {
            Ok(real) => Some(real),
            Err(why) => {
                tracing::warn!(
                    "not loading the ONNX Runtime found at {}: {why}; songrec loads only \
                     libraries that no other user could have put there (fix: `chmod go-w` the \
                     path named, `setfacl -b` it if it has an access control list, or point \
                     SONGREC_ORT_LIBRARY at a library you trust)",
                    library.display()
                );
                None
            }
        })
        .find_map(|library| match probe_library(&library) {
            Ok(version) => Some(Found { library, version }),
            Err(e) => {
                tracing::debug!("not using {}: {e}", library.display());
                None
            }
        })
}

/// The prefixes searched, from the environment (`VIRTUAL_ENV`, `CONDA_PREFIX`, `HOME`,
/// `PYENV_ROOT`, `PATH`) and the system's fixed places. Relative entries are dropped.
pub fn roots(env: &dyn Fn(&str) -> Option<OsString>) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = ["VIRTUAL_ENV", "CONDA_PREFIX"]
        .into_iter()
        .filter_map(|k| env(k).map(PathBuf::from))
        .collect();
    if let Some(path) = env("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("python3").is_file()
                && let Some(prefix) = dir.parent()
            {
                roots.push(prefix.to_path_buf());
            }
        }
    }
    let home = env("HOME").map(PathBuf::from);
    let pyenv = env("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".pyenv")));
    roots.extend(home.iter().map(|h| h.join(".local")));
    if let Some(p) = pyenv {
        roots.extend(entries(&p.join("versions"), Path::is_dir));
    }
    for d in ["miniconda3", "anaconda3", "miniforge3", "mambaforge"] {
        roots.extend(home.iter().map(|h| h.join(d)));
    }
    roots.extend(["/opt/conda", "/usr/local", "/usr", "/opt/homebrew"].map(PathBuf::from));
    roots.retain(|r| r.is_absolute());
    roots
}

/// Library files under `roots` that could be ONNX Runtime, newest version first (files whose
/// name carries no version last), each file once.
pub fn candidates_in(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut found: Vec<(Option<Vec<u32>>, PathBuf)> = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |dir: &Path| {
        for f in entries(dir, Path::is_file) {
            let name = f.file_name().and_then(|n| n.to_str());
            let Some(version) = name.and_then(library_version) else {
                continue;
            };
            if seen.insert(f.clone()) {
                found.push((version, f));
            }
        }
    };
    for root in roots {
        for lib in ["lib", "lib64"] {
            let lib = root.join(lib);
            for py in entries(&lib, Path::is_dir) {
                let is_python = py
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("python3"));
                if is_python {
                    for site in ["site-packages", "dist-packages"] {
                        add(&py.join(site).join("onnxruntime").join("capi"));
                    }
                }
            }
            add(&lib);
            for arch in ["x86_64-linux-gnu", "aarch64-linux-gnu"] {
                add(&lib.join(arch));
            }
        }
    }
    // Newest first; a file without a version in its name (a bare `libonnxruntime.so`) last.
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, p)| p).collect()
}

/// For an ONNX Runtime library file name, its version from the name (`Some(None)` when the
/// name carries none); `None` for any other file.
///
/// ```
/// use songrec_neural::discover::library_version;
/// assert_eq!(library_version("libonnxruntime.so.1.31.1"), Some(Some(vec![1, 31, 1])));
/// assert_eq!(library_version("libonnxruntime.1.22.0.dylib"), Some(Some(vec![1, 22, 0])));
/// assert_eq!(library_version("libonnxruntime.so"), Some(None));
/// assert_eq!(library_version("libonnxruntime_providers_shared.so"), None);
/// assert_eq!(library_version("libonnxruntime.so.1.31.1.bak"), None);
/// ```
pub fn library_version(name: &str) -> Option<Option<Vec<u32>>> {
    let rest = name.strip_prefix("libonnxruntime")?;
    let digits = rest
        .strip_prefix(".so")
        .or_else(|| rest.strip_suffix(".dylib"))?;
    if digits.is_empty() {
        return Some(None);
    }
    let v: Option<Vec<u32>> = digits
        .strip_prefix('.')?
        .split('.')
        .map(|p| p.parse().ok())
        .collect();
    v.filter(|v| !v.is_empty()).map(Some)
}

/// The real path of `library` (links resolved, once) when it may be loaded, or why not: the
/// file and every folder above it must belong to this user or root, be writable by no one
/// else (no group or world write bit) and carry no access control list. The one exception
/// keeps ordinary systems working: a folder owned by root with the sticky bit (`/tmp`: only an
/// entry's owner may rename or delete it). Group write is refused even for the user's own
/// primary group: such a group may be shared (`users`), and an ACL entry for another user
/// (`user:nobody:rwx`) shows up as group bits. Load the path returned, never `library` again:
/// a link may have changed since.
#[cfg(unix)]
pub fn trusted_path(library: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::MetadataExt as _;
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory.
    let euid = unsafe { libc::geteuid() };
    let real = std::fs::canonicalize(library).map_err(|e| format!("cannot resolve it: {e}"))?;
    let mut at = Some(real.as_path());
    let mut is_dir = false;
    while let Some(p) = at {
        // symlink_metadata: the path is canonical, so no part of it is a link; were one put
        // there since, its own owner and mode are what is judged, never its target's.
        let md = std::fs::symlink_metadata(p)
            .map_err(|e| format!("cannot inspect {}: {e}", p.display()))?;
        if md.file_type().is_symlink() {
            return Err(format!(
                "{} became a link while it was checked",
                p.display()
            ));
        }
        let who = Owner {
            uid: md.uid(),
            gid: md.gid(),
            mode: md.mode(),
            is_dir,
            acl: has_access_acl(p)?,
        };
        if let Some(why) = who.problem(euid) {
            return Err(format!("{} {why}", p.display()));
        }
        is_dir = true;
        at = p.parent();
    }
    Ok(real)
}

/// Whether `path` carries a POSIX access control list beyond its mode bits (the
/// `system.posix_acl_access` attribute, which Linux stores only for extended ACLs); a file
/// system without extended attributes has none.
#[cfg(target_os = "linux")]
fn has_access_acl(path: &Path) -> Result<bool, String> {
    use std::os::unix::ffi::OsStrExt as _;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{} holds a NUL byte", path.display()))?;
    let name = c"system.posix_acl_access";
    // SAFETY: both strings are NUL-terminated and outlive the call; a null buffer of size 0
    // asks only for the attribute's size, so nothing is written.
    let n = unsafe { libc::lgetxattr(c.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) };
    if n >= 0 {
        return Ok(true);
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ENODATA) | Some(libc::ENOTSUP) => Ok(false),
        _ => Err(format!(
            "cannot read the access control list of {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        )),
    }
}

/// Other Unix systems: ACLs are not read (mode bits only).
#[cfg(all(unix, not(target_os = "linux")))]
fn has_access_acl(_path: &Path) -> Result<bool, String> {
    Ok(false)
}

/// On systems without Unix ownership every candidate is trusted (the search covers only the
/// user's and the system's own folders); its links are resolved all the same.
#[cfg(not(unix))]
pub fn trusted_path(library: &Path) -> Result<PathBuf, String> {
    std::fs::canonicalize(library).map_err(|e| format!("cannot resolve it: {e}"))
}

/// Owner, permission bits and ACL of one path on the way to a library (see [`trusted_path`]).
#[derive(Clone, Copy, Debug)]
pub struct Owner {
    /// Owning user.
    pub uid: u32,
    /// Owning group.
    pub gid: u32,
    /// `st_mode`.
    pub mode: u32,
    /// A folder (the sticky-bit exception applies to folders only).
    pub is_dir: bool,
    /// It carries an access control list beyond its mode bits.
    pub acl: bool,
}

impl Owner {
    /// Why this path makes the library untrusted for the user `euid`.
    ///
    /// ```
    /// use songrec_neural::discover::Owner;
    /// let me = 1000;
    /// let file = |uid, mode| Owner { uid, gid: 1000, mode, is_dir: false, acl: false };
    /// assert_eq!(file(me, 0o644).problem(me), None);
    /// assert_eq!(file(0, 0o755).problem(me), None);
    /// assert!(file(1001, 0o644).problem(me).is_some());
    /// assert!(file(me, 0o646).problem(me).is_some());
    /// // Group write, even by the user's own primary group (it may be shared).
    /// assert!(file(me, 0o664).problem(me).is_some());
    /// assert!(Owner { acl: true, ..file(me, 0o644) }.problem(me).is_some());
    /// let tmp = Owner { uid: 0, gid: 0, mode: 0o41777, is_dir: true, acl: false };
    /// assert_eq!(tmp.problem(me), None);
    /// ```
    pub fn problem(&self, euid: u32) -> Option<&'static str> {
        const STICKY: u32 = 0o1000;
        if self.uid != euid && self.uid != 0 {
            return Some("belongs to another user");
        }
        if self.acl {
            return Some("has an access control list (ACL), which may let other users write to it");
        }
        // A root folder with the sticky bit (`/tmp`): others may add entries but not replace
        // the ones they do not own.
        let sticky_root = self.is_dir && self.uid == 0 && self.mode & STICKY != 0;
        if self.mode & 0o002 != 0 && !sticky_root {
            return Some("is writable by every user");
        }
        if self.mode & 0o020 != 0 && !sticky_root {
            return Some(
                "is writable by its group (whoever else is in that group could replace the library)",
            );
        }
        None
    }
}

/// The entries of `dir` that `keep` (`Path::is_dir`, `Path::is_file`), sorted.
fn entries(dir: &Path, keep: fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| keep(p))
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Why the library at `library` must not be loaded, or `None` when it may.
    fn trust_problem(library: &Path) -> Option<String> {
        trusted_path(library).err()
    }

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"not a library").unwrap();
    }

    #[test]
    fn wheels_and_system_libraries_are_found_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        let old =
            venv.join("lib/python3.11/site-packages/onnxruntime/capi/libonnxruntime.so.1.20.1");
        let new =
            venv.join("lib/python3.12/site-packages/onnxruntime/capi/libonnxruntime.so.1.31.1");
        let shared = venv.join(
            "lib/python3.12/site-packages/onnxruntime/capi/libonnxruntime_providers_shared.so",
        );
        let debian = dir
            .path()
            .join("usr/lib/x86_64-linux-gnu/libonnxruntime.so.1.21.0");
        let bare = dir.path().join("usr/lib/libonnxruntime.so");
        let other = dir
            .path()
            .join("usr/lib/python3/dist-packages/numpy/libfoo.so");
        for p in [&old, &new, &shared, &debian, &bare, &other] {
            touch(p);
        }
        let got = candidates_in(&[venv.clone(), dir.path().join("usr")]);
        assert_eq!(got, vec![new, debian, old, bare]);
    }

    #[test]
    fn roots_come_from_the_environment_never_relative() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("env/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("python3"), b"").unwrap();
        let path = std::env::join_paths([bin.as_path(), Path::new("relative/bin")]).unwrap();
        let env = |k: &str| match k {
            "VIRTUAL_ENV" => Some(OsString::from("venv-in-cwd")),
            "PATH" => Some(path.clone()),
            "HOME" => Some(dir.path().as_os_str().to_owned()),
            _ => None,
        };
        let roots = roots(&env);
        assert!(roots.iter().all(|r| r.is_absolute()), "{roots:?}");
        assert!(roots.contains(&dir.path().join("env")), "{roots:?}");
        assert!(roots.contains(&dir.path().join(".local")), "{roots:?}");
    }

    #[test]
    #[cfg(unix)]
    fn libraries_others_could_have_placed_are_not_loaded() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("venv/lib/libonnxruntime.so.1.31.1");
        touch(&lib);
        let set = |p: &Path, mode| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        let venv = dir.path().join("venv");
        set(dir.path(), 0o700);
        set(&venv, 0o755);
        set(&lib, 0o644);
        assert_eq!(trust_problem(&lib), None, "the user's own file");

        set(&lib, 0o666);
        let why = trust_problem(&lib).expect("world-writable file");
        assert!(why.contains("writable by every user"), "{why}");
        set(&lib, 0o644);

        set(&venv, 0o777);
        let why = trust_problem(&lib).expect("world-writable folder above it");
        assert!(why.contains(&venv.display().to_string()), "{why}");
        // Group write, even where the group is the user's own primary group (the folder's
        // group here): it may be shared (`users`), and ACL entries show up as group bits.
        set(&venv, 0o775);
        assert_eq!(
            std::fs::metadata(&venv)
                .map(|m| std::os::unix::fs::MetadataExt::gid(&m))
                .ok(),
            // SAFETY: getegid takes no arguments and cannot fail.
            Some(unsafe { libc::getegid() }),
            "the folder's group is the user's primary group"
        );
        let why = trust_problem(&lib).expect("group-writable folder above it");
        assert!(why.contains("writable by its group"), "{why}");
        set(&venv, 0o755);

        // Through a link, the file it points at is what counts, and that file is what is
        // loaded: the real path comes back.
        let link = dir.path().join("libonnxruntime.so.1.32.0");
        std::os::unix::fs::symlink(&lib, &link).unwrap();
        assert_eq!(trusted_path(&link), Ok(lib.canonicalize().unwrap()));
        set(&lib, 0o666);
        assert!(trust_problem(&link).is_some());
        // ...and an untrusted candidate is never probed (probing would dlopen it).
        assert_eq!(first_loadable(vec![link, lib.clone()]), None);
        set(&lib, 0o644);

        // A file of another user: only root can make one.
        // SAFETY: geteuid takes no arguments and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(&lib, Some(4242), None).unwrap();
            let why = trust_problem(&lib).expect("another user's file");
            assert!(why.contains("another user"), "{why}");
        }
    }

    /// `setfacl` (Debian's `acl`, which scripts/test-deps.sh installs).
    #[cfg(target_os = "linux")]
    fn setfacl(args: &[&str], path: &Path) {
        let out = std::process::Command::new("setfacl")
            .args(args)
            .arg(path)
            .output()
            .unwrap_or_else(|e| {
                panic!("setfacl is required for this test ({e}); install it: apt-get install acl (scripts/test-deps.sh does)")
            });
        assert!(
            out.status.success(),
            "setfacl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A folder another user may write through an ACL entry (`user:nobody:rwx`), whose mode then
    /// shows group write with the user's own group, is not trusted; nor is a file with any ACL,
    /// even one that grants no write (the mode bits cannot tell).
    #[test]
    #[cfg(target_os = "linux")]
    fn paths_with_an_access_control_list_are_not_trusted() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        let lib = venv.join("lib/libonnxruntime.so.1.31.1");
        touch(&lib);
        for (p, mode) in [(dir.path(), 0o700), (venv.as_path(), 0o755)] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        assert_eq!(trust_problem(&lib), None);
        setfacl(&["-m", "u:nobody:rwx"], &venv);
        let why = trust_problem(&lib).expect("a folder nobody may write");
        assert!(
            why.contains(&venv.display().to_string()) && why.contains("access control list"),
            "{why}"
        );
        assert_eq!(first_loadable(vec![lib.clone()]), None);
        setfacl(&["-b"], &venv);
        assert_eq!(trust_problem(&lib), None, "the ACL removed");
        setfacl(&["-m", "u:nobody:r"], &lib);
        let why = trust_problem(&lib).expect("a file with an ACL");
        assert!(why.contains("access control list"), "{why}");
    }

    #[test]
    fn files_that_are_not_onnx_runtime_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("lib/libonnxruntime.so.1.99.0");
        touch(&fake);
        assert_eq!(first_loadable(vec![fake]), None);
    }
}
