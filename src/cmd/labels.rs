//! `themes labels check`: problems in a label set before they cost
//! accuracy; `themes labels show`: the set's file, to start your own from.

use std::path::PathBuf;
use std::process::ExitCode;

use super::args::{EngineArgs, LabelArgs};
use super::Global;

/// Label-set commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Warn about confusable descriptions, labels without gold examples,
    /// gold labels missing from the set and thresholds that never or always fire.
    ///
    /// Exit codes: 0 no warnings; 1 warnings printed; 2 error.
    Check(CheckArgs),
    /// Print the label file as it is (the built-in set's, or --labels FILE's,
    /// checked first): `themes labels show > my.toml`, edit it, then pass
    /// --labels my.toml.
    Show(LabelArgs),
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
    let args = match command {
        Command::Check(args) => args,
        Command::Show(labels) => {
            themes::output::Sink::write_whole(None, themes::labels::read_text(labels.labels.as_deref())?.as_bytes())?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    let set = args.engine.labels.load()?;
    let embedder = args.engine.model.load(global)?;
    let engine = args.engine.engine(&set, &embedder, None)?;
    let warnings = themes::job::check::check(&engine, &args.gold, args.max_similarity)?;
    for w in &warnings {
        println!("warning: {w}");
    }
    global.note(&format!("{}: {}, {}", set.source.display(), themes::count(set.labels.len(), "label"), themes::count(warnings.len(), "warning")));
    Ok(if warnings.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
