//! Just the two structs of songrec_storage::layers::metrics that server/src/metrics.rs reads
//! (copied field for field), so metrics.rs compiles here verbatim without the whole storage crate.
pub mod layers {
    use std::collections::BTreeMap;
    use std::time::Duration;
    #[derive(Debug, Clone, Default)]
    pub struct OpMetrics { pub calls: u64, pub errors: u64, pub total_latency: Duration }
    #[derive(Debug, Clone, Default)]
    pub struct Metrics { pub ops: BTreeMap<&'static str, OpMetrics>, pub audio_bytes_put: u64, pub audio_bytes_got: u64 }
}
