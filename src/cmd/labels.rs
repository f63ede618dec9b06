//! `themes labels check`: problems in a label set before they cost accuracy.

use std::path::PathBuf;
use std::process::ExitCode;

use super::args::EngineArgs;
use super::Global;

/// Label-set commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Warn about confusable descriptions, labels without gold examples,
    /// gold labels missing from the set and thresholds that never or always fire.
    ///
    /// Exit codes: 0 no warnings; 1 warnings printed; 2 error.
    Check(CheckArgs),
}

/// Options of `labels check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Gold files to check the set against (labels used, labels missing).
    #[arg(long)]
    gold: Vec<PathBuf>,

    /// Warn when two labels' descriptions are at least this similar (cosine).
    #[arg(long, default_value_t = 0.7)]
    max_similarity: f32,

    #[command(flatten)]
    engine: EngineArgs,
}

pub fn run(command: Command, global: &Global) -> anyhow::Result<ExitCode> {
    let Command::Check(args) = command;
    let set = args.engine.labels.load()?;
    let embedder = args.engine.model.load(global)?;
    let engine = args.engine.engine(&set, &embedder, None)?;
    let warnings = themes::job::check::check(&engine, &args.gold, args.max_similarity)?;
    for w in &warnings {
        println!("warning: {w}");
    }
    global.note(&format!("{}: {} labels, {} warnings", set.source.display(), set.labels.len(), warnings.len()));
    Ok(if warnings.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
