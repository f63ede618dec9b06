//! `themes bench`: throughput of the embedding kernel or of the whole
//! labelling job, as one JSON line in the peers' shape (`bench/compare.sh`).

use std::path::PathBuf;
use std::process::ExitCode;

use themes::job::bench::{job, read_corpus, throughput, JobPlan, Report};

use super::{args::LabelArgs, args::ModelArgs, Global};

/// Measure throughput as one JSON line (paragraphs/s, tokens/s, peak memory):
/// of the embedding kernel (--corpus) or of the whole labelling job (--job).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kernel mode: one paragraph per line (blank lines skipped); after a
    /// warm-up, embedding each once, truncated as sentence-transformers does.
    #[arg(long, required_unless_present = "job", conflicts_with = "job")]
    corpus: Option<PathBuf>,
    /// Job mode: `themes label --no-cache INPUTS` is timed, from reading the
    /// inputs to the last article's rows (built, not written): a fresh engine
    /// embeds the label set (--labels), then every paragraph in one forward
    /// pass (sentences and clauses pooled from it), and scores them. The line adds articles,
    /// texts_embedded (the paragraphs' texts), texts_per_paragraph and
    /// label_texts.
    #[arg(long, requires = "inputs")]
    job: bool,
    /// Job mode: .txt, .md or .jsonl files, or folders holding them.
    #[arg(requires = "job")]
    inputs: Vec<PathBuf>,
    /// Timed passes, the best reported (job mode: each with a fresh engine).
    /// No cache in either mode; loading the model is not timed.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    #[command(flatten)]
    labels: LabelArgs,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let (device, dtype) = (&args.model.device.to_string(), &args.model.dtype);
    let report = if let Some(path) = &args.corpus {
        let paragraphs = read_corpus(path)?;
        Report::kernel(throughput(&args.model.load(global)?, &paragraphs, args.repeat)?, paragraphs.len(), device, dtype)
    } else {
        let set = args.labels.load()?;
        let plan = JobPlan { inputs: args.inputs.clone(), set: &set, languages: args.model.languages(), repeat: args.repeat };
        Report::job(job(&args.model.load(global)?, &plan)?, device, dtype)
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}
