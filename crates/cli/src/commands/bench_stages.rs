//! `songrec bench ingest` with the default embedder: where each song's CPU time goes, stage by
//! stage, beside bliss-audio on the same files in the same run, and how far each network runs
//! from this core's peak f32 rate. Printed for the record, never asserted.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use songrec_neural::mix::MixEmbedder;
use songrec_neural::profile::{self, MixProfile};

/// One round over the files: CPU seconds summed over the songs.
#[derive(Debug, Clone, Copy, Default)]
struct Round {
    decode: f64,
    stages: MixProfile,
    /// What `ingest` does besides: the file's hash, its audio identity and tags, the fingerprint.
    hash: f64,
    identity: f64,
    fingerprint: f64,
    songs: usize,
    audio_secs: f64,
}

/// What `ingest` computes for a new file, stage by stage, on every file one after the other on
/// this thread: the file's hash, its audio identity and tags, decode, the mix's stages, the
/// fingerprint.
fn songrec_round(files: &[PathBuf], mix: &MixEmbedder) -> Round {
    let mut r = Round::default();
    let opts = songrec_neural::mix::MIX_DECODE;
    for f in files {
        let mut lap = profile::Lap::start();
        let Ok(_) = songrec_storage::SongId::from_file(f) else {
            continue;
        };
        let hash = lap.lap();
        let Ok(_) = songrec_audio::identity::identify(f) else {
            continue;
        };
        let identity = lap.lap();
        let Ok(d) = songrec_audio::decode_file_with(f, &opts) else {
            continue;
        };
        let decode = lap.lap();
        let Ok((parts, mut prof)) = mix.parts_profiled(&d.audio) else {
            continue;
        };
        lap.lap(); // the stages' own times are in `prof`
        std::hint::black_box(mix.vector(&parts));
        prof.combine += lap.lap();
        std::hint::black_box(songrec_identity::fingerprint::analyse_audio(&d.audio));
        r.fingerprint += lap.lap();
        (r.hash, r.identity) = (r.hash + hash, r.identity + identity);
        r.decode += decode;
        r.stages.add(&prof);
        r.songs += 1;
        r.audio_secs += d.info.duration_secs;
    }
    r
}

/// What the bliss-audio harness prints for `bench` on the folder.
pub(super) fn bliss_output(bliss: &Path, music: &Path) -> Result<String> {
    let out = std::process::Command::new(bliss)
        .arg("bench")
        .arg(music)
        .output()
        .with_context(|| format!("running the bliss-audio harness {}", bliss.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "the bliss-audio harness failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// What the per-stage report needs besides the files.
pub struct StageBench<'a> {
    /// The default embedder, started on the runtime `ingest` would use.
    pub mix: &'a MixEmbedder,
    /// The bliss-audio harness, when given.
    pub bliss: Option<&'a Path>,
    /// The folder holding the files (what the harness analyses).
    pub music: &'a Path,
    /// Alternating rounds (songrec, then bliss-audio), medians reported.
    pub rounds: usize,
}

/// Runs the rounds and prints the per-song, per-stage table; returns songrec's median CPU
/// seconds per song (all of a new file's work) for the whole-ingest line to subtract from.
pub fn run(files: &[PathBuf], b: &StageBench<'_>) -> Result<f64> {
    let mut rounds = Vec::new();
    let mut bliss = Vec::new();
    let mut bliss_line = String::new();
    for i in 0..b.rounds.max(1) {
        let r = songrec_round(files, b.mix);
        anyhow::ensure!(r.songs > 0, "no file could be decoded and analysed");
        eprintln!(
            "  round {}: songrec {:.3} s CPU per song",
            i + 1,
            (r.decode + r.stages.total()) / r.songs as f64
        );
        rounds.push(r);
        if let Some(h) = b.bliss {
            // The harness runs as a child: its CPU time is the children's.
            let before = profile::children_cpu();
            bliss_line = bliss_output(h, b.music)?.trim().to_string();
            let cpu = (profile::children_cpu() - before) / files.len() as f64;
            eprintln!("  round {}: bliss-audio {cpu:.3} s CPU per song", i + 1);
            bliss.push(cpu);
        }
    }
    let songs = rounds[0].songs as f64;
    let med = |f: &dyn Fn(&Round) -> f64| median(rounds.iter().map(|r| f(r) / songs).collect());
    let s = |f: fn(&MixProfile) -> f64| med(&move |r: &Round| f(&r.stages));
    let decode = med(&|r| r.decode);
    let total = med(&|r| r.decode + r.stages.total());
    let mean_secs = rounds[0].audio_secs / songs;
    let [msd, mtt, aisfx] = b.mix.flops_per_item()?;
    let patches = rounds[0].stages.patches as f64 / songs;
    let blocks = rounds[0].stages.blocks as f64 / songs;
    let peak = profile::peak_f32_rate();
    let musicnn_net = s(|p| p.musicnn_net);
    let aisfx_net = s(|p| p.aisfx_net);
    let musicnn_rate = patches * (msd + mtt) / 2.0 / musicnn_net.max(1e-12) / 1e9;
    let aisfx_rate = blocks * aisfx / aisfx_net.max(1e-12) / 1e9;
    let [musicnn_engine, aisfx_engine] = b.mix.engines();
    // The runtime is named only where it runs a network (not when songrec's kernels run both).
    let runtime = if [&musicnn_engine, &aisfx_engine]
        .iter()
        .all(|e| e.starts_with("songrec kernels"))
    {
        String::new()
    } else {
        format!("{}: ", b.mix.runtime().describe())
    };
    println!(
        "per song, CPU seconds on this thread ({} songs, mean {mean_secs:.0} s; {runtime}musicnn on {musicnn_engine}, aisfx on {aisfx_engine}; median of {} round{}{}):",
        rounds[0].songs,
        rounds.len(),
        if rounds.len() == 1 { "" } else { "s" },
        if b.bliss.is_some() {
            ", alternating with bliss-audio"
        } else {
            ""
        }
    );
    let row = |name: &str, v: f64, note: &str| {
        println!(
            "  {name:<26} {v:>7.3} s  {:>5.1} %{note}",
            100.0 * v / total.max(1e-12)
        );
    };
    row("decode (44.1 kHz excerpts)", decode, "");
    row("resample to 22.05 kHz", s(|p| p.resample), "");
    row("DSP analysis", s(|p| p.dsp), "");
    row("musicnn patches (16 kHz)", s(|p| p.musicnn_cut), "");
    // A network's rate against the core's float32 peak (an int8 one's counted as float32).
    let against_peak = |rate: f64, int8: bool| {
        let share = 100.0 * rate / peak.gflops;
        if int8 {
            format!(" counted as float32 (int8 network: {share:.0} % of the f32 peak)")
        } else {
            format!(", {share:.0} % of peak")
        }
    };
    row(
        "musicnn networks",
        musicnn_net,
        &format!(
            "  {patches:.1} patches x {:.3} GFLOP: {musicnn_rate:.1} GFLOP/s{}",
            (msd + mtt) / 2e9,
            against_peak(musicnn_rate, b.mix.musicnn_int8())
        ),
    );
    row("aisfx front end", s(|p| p.aisfx_frontend), "");
    row(
        "aisfx network",
        aisfx_net,
        &format!(
            "  {blocks:.1} blocks x {:.3} GFLOP: {aisfx_rate:.1} GFLOP/s{}",
            aisfx / 1e9,
            against_peak(aisfx_rate, b.mix.aisfx_int8())
        ),
    );
    row("pool and combine", s(|p| p.combine), "");
    println!("  {:<26} {total:>7.3} s", "decode + analysis");
    let others = [
        ("file hash (SHA-256)", med(&|r| r.hash)),
        ("audio identity and tags", med(&|r| r.identity)),
        ("fingerprint", med(&|r| r.fingerprint)),
    ];
    for (name, v) in others {
        row(name, v, "");
    }
    let work = med(&|r| r.decode + r.stages.total() + r.hash + r.identity + r.fingerprint);
    println!("  {:<26} {work:>7.3} s", "all of a new file's work");
    println!(
        "this core's peak f32 FMA rate: {:.1} GFLOP/s ({}, measured now)",
        peak.gflops, peak.isa
    );
    if !bliss.is_empty() {
        let bl = median(bliss.clone());
        println!(
            "bliss-audio 0.13, same files, same rounds: {bl:.3} s CPU per song (runs: {}); songrec / bliss-audio = {:.2}",
            bliss
                .iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(", "),
            total / bl.max(1e-12)
        );
        println!(
            "  all of a new file's work / bliss-audio = {:.2}; harness: {bliss_line}",
            work / bl.max(1e-12)
        );
    }
    Ok(work)
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }
}
