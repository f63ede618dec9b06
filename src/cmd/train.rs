//! `themes train`: learns from hand labels, either a trained head (a
//! folder) or the classifier's weights refitted into a label file.

use std::path::PathBuf;
use std::process::ExitCode;

use super::args::EngineArgs;
use super::Global;

/// Learn from hand labels: a trained head, or refitted classifier weights.
///
/// --out DIR (e.g. models/heads/NAME) trains a head: one logistic regression
/// per label on the paragraph vector, with the zero-shot classifier's score
/// as its prior, so a label with few examples stays close to its zero-shot
/// decisions and a label with none keeps them. The folder holds
/// head.safetensors and head.json (model, label set, examples per label);
/// use it with `themes label --head DIR` and `themes eval --head DIR`.
///
/// --out FILE.toml refits the classifier itself (weights shared by all
/// labels, one bias per label) and writes the label file again with its
/// [classifier] table and `bias` values replaced; comments are kept.
///
/// Estimate either honestly with `themes eval --cv 5` on the same gold
/// (with --head for the head, and --examples-per-label for the few-shot
/// curve).
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  themes train --gold data/gold/seeds.jsonl --out models/heads/seeds      (a head; then label --head)
  themes labels show > my.toml && themes train --gold my-gold.jsonl --labels my.toml --out my.toml")]
pub struct Args {
    /// Gold JSONL file(s); all are used.
    #[arg(long, required = true)]
    gold: Vec<PathBuf>,

    /// A folder for a trained head, or a .toml label file for refitted
    /// classifier weights (may be the --labels file itself).
    #[arg(long)]
    out: PathBuf,

    #[command(flatten)]
    engine: EngineArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    // A label file may be refitted in place (it is read whole first); a gold file is never written.
    let toml = args.out.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let gold = args.gold.iter().map(PathBuf::as_path);
    match toml {
        true => themes::output::check_outputs(&[("--out", Some(args.out.as_path()))], gold)?,
        false => themes::output::refuse_inputs(&[("--out", &args.out)], gold.chain(args.engine.labels.labels.as_deref()))?,
    }
    let set = args.engine.labels.load()?;
    let source_text = themes::labels::read_text(args.engine.labels.labels.as_deref())?;
    let sets = themes::eval::gold::read_sets(&args.gold, &set)?;
    let embedder = args.engine.model.load(global)?;
    let mut engine = args.engine.fitting_engine(&set, &embedder)?;
    let notes = match toml {
        true => themes::job::learn::refit_label_file(&mut engine, &sets, &source_text, &args.out)?,
        false => themes::job::learn::train_head_into(&mut engine, &sets, &args.out)?,
    };
    global.note(&notes.join("\n"));
    Ok(ExitCode::SUCCESS)
}
