//! The kernel paths in words: what runs the int8 products and the float32 parts on each.

use super::f32mm::Isa;
use super::path::KernelPath;

/// What runs the float32 products on a path, in words.
fn float_isa(path: KernelPath) -> &'static str {
    Isa::of(path).describe()
}

impl KernelPath {
    /// What runs the int8 products and the float32 parts on this path, in words (`songrec
    /// doctor`, `ingest -v`).
    pub fn describe(self) -> String {
        let float = float_isa(self);
        match self {
            KernelPath::Tract => {
                "tract: the runtime runs both networks' graphs (the reference; not songrec's kernels)"
                    .into()
            }
            KernelPath::Amx => format!("amx: int8 on AMX-INT8 and AVX-512 VNNI, float32 on {float}"),
            KernelPath::Avx512Vnni => format!("avx512-vnni: int8 on AVX-512 VNNI, float32 on {float}"),
            KernelPath::AvxVnni => format!("avx-vnni: int8 on AVX-VNNI, float32 on {float}"),
            KernelPath::Avx2 => format!("avx2: int8 on AVX2 (vpmaddwd), float32 on {float}"),
            KernelPath::Portable => format!("portable: int8 in portable Rust, float32 on {float}"),
        }
    }
}
