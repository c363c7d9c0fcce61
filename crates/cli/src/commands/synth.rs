//! `songrec synth`: an example library of synthesised songs (WAV).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::exit;
use songrec_storage::plural::count;

#[derive(Args, Debug)]
pub struct SynthArgs {
    /// Output folder (created).
    pub dir: PathBuf,
    /// Songs per style.
    #[arg(long, default_value_t = 4, value_parser = crate::args::per_style)]
    pub per_style: usize,
    /// Seconds per song (0.5 to 600).
    #[arg(long, default_value_t = 20.0, value_parser = crate::args::song_seconds)]
    pub seconds: f32,
    /// One sub-folder per style (a labelled set for `songrec eval`).
    #[arg(long)]
    pub by_style: bool,
}

pub fn run(args: &SynthArgs) -> Result<u8> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let mut n = 0;
    for style in songrec_audio::synth::STYLES {
        for i in 0..args.per_style {
            let spec = songrec_audio::synth::SongSpec::for_style(style, i as u64 + 1, args.seconds);
            let title = format!("{} {}", style_title(style), i + 1);
            let artist = format!("The {} Ensemble", capitalise(style));
            let dir = if args.by_style {
                args.dir.join(style)
            } else {
                args.dir.clone()
            };
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join(format!("{artist} - {title}.wav"));
            let tags = [
                ("INAM", title.as_str()),
                ("IART", artist.as_str()),
                ("IGNR", style),
            ];
            songrec_audio::synth::write_wav_tagged(
                &path,
                &songrec_audio::synth::render(&spec),
                &tags,
            )
            .with_context(|| format!("writing {}", path.display()))?;
            n += 1;
        }
    }
    println!("wrote {} to {}", count(n, "song"), args.dir.display());
    Ok(exit::OK)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

fn style_title(style: &str) -> &'static str {
    match style {
        "techno" => "Warehouse Pulse",
        "rock" => "Garage Anthem",
        "ballad" => "Slow Piano",
        "ambient" => "Drifting Pads",
        _ => "Blue Swing",
    }
}
