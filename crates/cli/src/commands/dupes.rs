//! `songrec dupes`: find (and optionally delete) duplicate songs.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use songrec_factory::Opened;
use songrec_identity::dupes::{self, DupesOptions, DupesReport, Kind};
use songrec_storage::plural::count;

use crate::args::FilterArgs;
use crate::exit;

#[derive(Args, Debug)]
pub struct DupesArgs {
    /// Delete every duplicate but one per group (asks first; see --yes).
    #[arg(long)]
    pub delete: bool,
    /// With --delete: do not ask.
    #[arg(short = 'y', long, requires = "delete")]
    pub yes: bool,
    /// Songs fingerprinted at once (default: one per core).
    #[arg(short, long, value_parser = crate::args::jobs)]
    pub jobs: Option<usize>,
    /// Do not store computed fingerprints in the songs' metadata.
    #[arg(long)]
    pub no_store: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Asks `question` and reads one line: yes only for `y` or `yes`.
pub fn confirm(input: &mut dyn BufRead, output: &mut dyn Write, question: &str) -> Result<bool> {
    write!(output, "{question} [y/N] ")?;
    output.flush()?;
    let mut line = String::new();
    input.read_line(&mut line)?;
    Ok(matches!(line.trim().to_lowercase().as_str(), "y" | "yes"))
}

fn print(r: &DupesReport) {
    println!(
        "{} checked ({} fingerprinted now), {}",
        count(r.songs, "song"),
        r.fingerprinted,
        count(r.groups.len(), "duplicate group")
    );
    let name = |m: &dupes::Member| m.song.display_name().chars().take(40).collect::<String>();
    let rows: Vec<Vec<(String, &dupes::Member)>> = r
        .groups
        .iter()
        .chain(&r.alike)
        .map(|g| g.members.iter().map(|m| (how(g.kind, m), m)).collect())
        .collect();
    let widest = |w: &dyn Fn(&(String, &dupes::Member)) -> String| {
        rows.iter()
            .flatten()
            .map(|r| w(r).chars().count())
            .max()
            .unwrap_or(0)
    };
    let (how_w, name_w) = (widest(&|(h, _)| h.clone()), widest(&|(_, m)| name(m)));
    if !r.alike.is_empty() {
        println!(
            "{}: sounds alike, not a copy (fingerprints agree but waveforms do not, or they share audio but neither holds the other whole; never deleted, never folded)",
            count(r.alike.len(), "group")
        );
    }
    let numbered = r
        .groups
        .iter()
        .enumerate()
        .chain(r.alike.iter().enumerate());
    for ((i, g), members) in numbered.zip(&rows) {
        let (word, kind) = match g.kind {
            Kind::Exact => ("group", "exact: same decoded audio"),
            Kind::Near => ("group", "near: same recording, encoded or cut differently"),
            Kind::Alike => ("alike", "sounds alike, not a copy"),
        };
        println!("\n{word} {} ({kind})", i + 1);
        for (how, m) in members {
            println!(
                "  {how:<how_w$}  {:<12}  {:<name_w$}  {:>7.1} s  {:>10} B  {}",
                m.song.id.short(),
                name(m),
                m.song.duration_secs,
                m.song.file_size,
                m.song.file_name
            );
        }
    }
    for f in &r.failed {
        eprintln!("not checked: {} ({}): {}", f.name, f.id.short(), f.reason);
    }
}

/// How a group member relates to the one kept (in an alike group: to the first).
fn how(kind: Kind, m: &dupes::Member) -> String {
    if kind == Kind::Alike {
        return match (m.bit_error, m.waveform) {
            (Some(b), Some(w)) => format!("{:.0}% bits differ, waveform {w:.2}", 100.0 * b),
            // Linked only through another member (a file joined from parts of both).
            (Some(b), None) => format!("{:.0}% bits differ, alike through another", 100.0 * b),
            _ => "first".to_owned(),
        };
    }
    if m.keep {
        "keep".to_owned()
    } else if m.same_audio {
        "same audio".to_owned()
    } else {
        format!(
            "{:.0}% bits differ{}",
            100.0 * m.bit_error.unwrap_or(0.0),
            m.offset_secs
                .filter(|o| o.abs() >= 0.5)
                .map_or_else(String::new, |o| format!(", offset {o:+.1} s"))
        )
    }
}

pub async fn run(args: &DupesArgs, opened: &Opened) -> Result<u8> {
    let backend = &opened.backend;
    let opts = DupesOptions {
        filter: args.filter.to_filter()?,
        jobs: args.jobs.unwrap_or(0),
        store: !args.no_store,
    };
    let bar = crate::progress::progress_bar(
        !args.json,
        "{spinner} fingerprinting [{elapsed_precise}] {bar:30} {pos}/{len}, eta {eta}",
    );
    let report = dupes::scan(
        backend.as_ref(),
        &opts,
        Arc::new(crate::progress::StepBar(bar.clone())),
    )
    .await
    .context("looking for duplicates")?;
    bar.finish_and_clear();
    let extras = report.extras();
    let mut deleted = Vec::new();
    if !args.json {
        print(&report);
    }
    if args.delete && !extras.is_empty() {
        let question = format!(
            "delete {} (keeping one per group) from the {}?",
            count(extras.len(), "song"),
            opened.description
        );
        if !args.yes && !std::io::stdin().is_terminal() {
            bail!(
                "not deleting {}: confirmation needed but stdin is not a terminal; run again with --yes",
                count(extras.len(), "song")
            );
        }
        let (mut stdin, mut stderr) = (std::io::stdin().lock(), std::io::stderr());
        let go = args.yes || confirm(&mut stdin, &mut stderr, &question)?;
        if go {
            deleted = dupes::delete_extras(backend.as_ref(), &report)
                .await
                .context("deleting duplicates")?;
            if !args.json {
                for m in &deleted {
                    println!("deleted {}  {}", m.id.short(), m.display_name());
                }
            }
        } else if !args.json {
            println!("nothing deleted");
        }
    }
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["deleted"] = deleted.iter().map(|m| m.id.as_str()).collect();
        crate::output::print_json(&v)?;
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::confirm;

    #[test]
    fn confirmation_needs_an_explicit_yes() {
        for (answer, want) in [
            ("y\n", true),
            ("YES\n", true),
            (" yes \n", true),
            ("n\n", false),
            ("\n", false),
            ("", false),
            ("yep\n", false),
        ] {
            let mut out = Vec::new();
            let got = confirm(&mut answer.as_bytes(), &mut out, "delete 2 songs?").unwrap();
            assert_eq!(got, want, "{answer:?}");
            assert_eq!(String::from_utf8(out).unwrap(), "delete 2 songs? [y/N] ");
        }
    }
}
