//! Which kernels run the networks: `SONGREC_KERNELS` ([`ENV_KERNELS`]), one switch for every
//! CPU.
//!
//! The int8 products sum `u8 × i8` exactly into `i32` on every path, so every path but tract
//! gives the same vectors to the bit: AMX-INT8 (`tdpbusd`), AVX-512 VNNI and AVX-VNNI
//! (`vpdpbusd`), AVX2 (both operands widened to `i16` and multiplied with `vpmaddwd`, about
//! half VNNI's rate; never `vpmaddubsw`, whose saturating `i16` sums would change the vectors)
//! and portable Rust on 128-bit vectors (the `wide` crate's `i16x8::dot`: NEON's widening
//! multiplies on ARM64, `pmaddwd` on any x86-64's SSE2). `tract` hands both networks to the
//! runtime's own graph (the tests' reference; its int8 requantisation rounds its own way, so
//! its vectors differ a little).
//!
//! `auto` (the default) is the fastest path the CPU has. A value the CPU cannot run, or an
//! unknown one, is refused with the paths this CPU can run ([`KernelsError`]).
//!
//! The switches of earlier versions are read when `SONGREC_KERNELS` is not set:
//! `SONGREC_OWN_KERNELS=0` is `tract`; `SONGREC_AMX=0` and `SONGREC_AVX512=0` keep `auto` off
//! AMX and off AVX-512.

use std::fmt;
use std::str::FromStr;

/// Environment variable choosing the kernel path (`auto`, or one of [`KernelPath::ALL`]'s
/// names).
pub const ENV_KERNELS: &str = "SONGREC_KERNELS";

/// Earlier switches, honoured where [`ENV_KERNELS`] is not set (see the module docs).
pub const ENV_OWN_KERNELS: &str = "SONGREC_OWN_KERNELS";
/// `0`: `auto` leaves AMX out.
pub const ENV_AMX: &str = "SONGREC_AMX";
/// `0`: `auto` leaves AVX-512 out.
pub const ENV_AVX512: &str = "SONGREC_AVX512";

/// One way to run the networks, fastest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KernelPath {
    /// AMX-INT8 tiles for the large int8 products (AVX-512 VNNI for the rest).
    Amx,
    /// AVX-512 VNNI (`vpdpbusd` on 512 bits).
    Avx512Vnni,
    /// AVX-VNNI (`vpdpbusd` on 256 bits): Intel's cores since 2021 without AVX-512.
    AvxVnni,
    /// AVX2: `u8` and `i8` widened to `i16`, `vpmaddwd` (Intel 4th–10th generation, AMD Zen
    /// 1–3).
    Avx2,
    /// Portable Rust on 128-bit vectors (every other CPU: ARM64, older x86-64).
    Portable,
    /// The runtime's own graph (tract, or ONNX Runtime where configured) for both networks.
    Tract,
}

/// A `SONGREC_KERNELS` value songrec cannot use here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelsError {
    /// Not a path's name.
    #[error("{ENV_KERNELS}={value:?} is not a kernel path; use auto or one this CPU runs: {here}")]
    Unknown { value: String, here: String },
    /// A path this CPU (or this build) cannot run.
    #[error("{ENV_KERNELS}={path}: {why}; this CPU runs: {here}")]
    NotHere {
        path: KernelPath,
        why: String,
        here: String,
    },
}

impl KernelPath {
    /// Every path, fastest first.
    pub const ALL: [KernelPath; 6] = [
        KernelPath::Amx,
        KernelPath::Avx512Vnni,
        KernelPath::AvxVnni,
        KernelPath::Avx2,
        KernelPath::Portable,
        KernelPath::Tract,
    ];

    /// The name `SONGREC_KERNELS` takes.
    pub fn name(self) -> &'static str {
        match self {
            KernelPath::Amx => "amx",
            KernelPath::Avx512Vnni => "avx512-vnni",
            KernelPath::AvxVnni => "avx-vnni",
            KernelPath::Avx2 => "avx2",
            KernelPath::Portable => "portable",
            KernelPath::Tract => "tract",
        }
    }

    /// Whether songrec's own kernels run the networks (every path but tract).
    pub fn is_own(self) -> bool {
        self != KernelPath::Tract
    }

    /// Why this CPU cannot run the path, or `None` where it can.
    pub fn missing(self) -> Option<&'static str> {
        let ok = match self {
            KernelPath::Amx => super::amx::supported() && avx512_vnni(),
            KernelPath::Avx512Vnni => avx512_vnni(),
            KernelPath::AvxVnni => avx_vnni(),
            KernelPath::Avx2 => avx2(),
            KernelPath::Portable => true,
            KernelPath::Tract => cfg!(feature = "tract"),
        };
        (!ok).then_some(match self {
            KernelPath::Tract => {
                "tract is not in this build of songrec (`cargo install --path crates/cli --features tract`)"
            }
            KernelPath::Amx => "this CPU (or its OS) offers no AMX-INT8",
            KernelPath::Avx512Vnni => "this CPU has no AVX-512 VNNI",
            KernelPath::AvxVnni => "this CPU has no AVX-VNNI",
            _ => "this CPU has no AVX2 and FMA",
        })
    }

    /// Whether this CPU (and this build: tract is a cargo feature) runs the path.
    pub fn runs_here(self) -> bool {
        self.missing().is_none()
    }

    /// The paths this CPU runs, fastest first.
    pub fn here() -> Vec<KernelPath> {
        Self::ALL.into_iter().filter(|p| p.runs_here()).collect()
    }

    /// The fastest own path this CPU runs (`auto`).
    pub fn best() -> KernelPath {
        Self::best_without(&[])
    }

    /// The fastest own path this CPU runs, leaving `out` aside.
    fn best_without(out: &[KernelPath]) -> KernelPath {
        Self::ALL
            .into_iter()
            .find(|p| p.is_own() && p.runs_here() && !out.contains(p))
            .unwrap_or(KernelPath::Portable)
    }

    /// Parses a value of [`ENV_KERNELS`] and checks that this CPU runs it: `auto` is
    /// [`Self::best`].
    pub fn choose(value: &str) -> Result<KernelPath, KernelsError> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("auto") || value.is_empty() {
            return Ok(Self::best());
        }
        let path: KernelPath = value.parse()?;
        match path.missing() {
            Some(why) => Err(KernelsError::NotHere {
                path,
                why: why.into(),
                here: here_list(),
            }),
            None => Ok(path),
        }
    }

    /// The path the environment asks for ([`ENV_KERNELS`], else the earlier switches), checked.
    pub fn from_env() -> Result<KernelPath, KernelsError> {
        let var = |k: &str| std::env::var(k).ok();
        Self::from_vars(var)
    }

    /// [`Self::from_env`] over any source of variables (pure but for the CPU's features).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<KernelPath, KernelsError> {
        if let Some(v) = var(ENV_KERNELS) {
            return Self::choose(&v);
        }
        let off = |k: &str| var(k).is_some_and(|v| v.trim() == "0");
        if off(ENV_OWN_KERNELS) {
            return Ok(KernelPath::Tract);
        }
        let mut out = Vec::new();
        if off(ENV_AMX) {
            out.push(KernelPath::Amx);
        }
        if off(ENV_AVX512) {
            out.extend([KernelPath::Amx, KernelPath::Avx512Vnni]);
        }
        Ok(Self::best_without(&out))
    }

    /// [`Self::from_env`], or `auto` where the environment names a path this CPU cannot run
    /// (a default for configuration structs; the binary refuses such a value before any work).
    pub fn from_env_or_auto() -> KernelPath {
        Self::from_env().unwrap_or_else(|_| Self::best())
    }
}

/// `Ok` where this CPU runs `path`, else the error naming the paths it runs (an embedder asked
/// for a path in code, not through the environment).
pub(crate) fn check_path(path: KernelPath) -> Result<(), KernelsError> {
    match path.missing() {
        None => Ok(()),
        Some(why) => Err(KernelsError::NotHere {
            path,
            why: why.into(),
            here: here_list(),
        }),
    }
}

/// The paths this CPU runs, by name, comma-separated.
fn here_list() -> String {
    KernelPath::here()
        .iter()
        .map(|p| p.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for KernelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KernelPath {
    type Err = KernelsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| KernelsError::Unknown {
                value: s.into(),
                here: here_list(),
            })
    }
}

fn avx512_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn avx_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx2() && std::arch::is_x86_feature_detected!("avxvnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

pub(crate) fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn names_round_trip_and_the_order_is_fastest_first() {
        for p in KernelPath::ALL {
            assert_eq!(p.name().parse::<KernelPath>().unwrap(), p);
            assert_eq!(
                p.to_string().to_uppercase().parse::<KernelPath>().unwrap(),
                p
            );
        }
        let mut sorted = KernelPath::ALL;
        sorted.sort();
        assert_eq!(sorted, KernelPath::ALL);
    }

    #[test]
    fn auto_is_the_fastest_own_path_here_and_portable_and_tract_always_run() {
        let here = KernelPath::here();
        assert!(here.contains(&KernelPath::Portable));
        assert_eq!(here.contains(&KernelPath::Tract), cfg!(feature = "tract"));
        assert_eq!(KernelPath::choose("auto").unwrap(), here[0]);
        assert_eq!(KernelPath::from_vars(vars(&[])).unwrap(), here[0]);
        assert!(KernelPath::best().is_own());
    }

    #[test]
    fn unknown_and_unrunnable_values_are_refused_with_what_runs_here() {
        let e = KernelPath::choose("sse9").unwrap_err();
        let said = e.to_string();
        assert!(
            said.contains("\"sse9\"") && said.contains("portable"),
            "{said}"
        );
        for p in KernelPath::ALL {
            match KernelPath::choose(p.name()) {
                Ok(q) => assert!(q == p && p.runs_here()),
                Err(e) => {
                    assert!(!p.runs_here());
                    let said = e.to_string();
                    assert!(
                        said.contains(p.name()) && said.contains("this CPU runs: "),
                        "{said}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_earlier_switches_are_aliases_and_the_new_one_wins() {
        let tract = [("SONGREC_OWN_KERNELS", "0")];
        assert_eq!(
            KernelPath::from_vars(vars(&tract)).unwrap(),
            KernelPath::Tract
        );
        let both = [
            ("SONGREC_OWN_KERNELS", "0"),
            ("SONGREC_KERNELS", "portable"),
        ];
        assert_eq!(
            KernelPath::from_vars(vars(&both)).unwrap(),
            KernelPath::Portable
        );
        let no512 = [("SONGREC_AVX512", "0")];
        let p = KernelPath::from_vars(vars(&no512)).unwrap();
        assert!(p != KernelPath::Amx && p != KernelPath::Avx512Vnni && p.runs_here());
        let no_amx = [("SONGREC_AMX", "0")];
        assert_ne!(
            KernelPath::from_vars(vars(&no_amx)).unwrap(),
            KernelPath::Amx
        );
    }
}
