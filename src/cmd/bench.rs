//! `themes bench`: throughput of the embedding kernel or of the whole
//! labelling job, as one JSON line in the peers' shape (`bench/compare.sh`).

use std::path::PathBuf;
use std::process::ExitCode;

use themes::job::bench::{job, products, read_corpus, throughput, JobPlan, Report};

use super::{args::LabelArgs, args::ModelArgs, Global};

/// Measure throughput as one JSON line (paragraphs/s, tokens/s, peak memory):
/// of the embedding kernel (--corpus), of the whole labelling job (--job),
/// or of the linear layers' products alone (--products: the ceiling).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kernel mode: one paragraph per line (blank lines skipped); after a
    /// warm-up, embedding each once, truncated as sentence-transformers does.
    #[arg(long, required_unless_present_any = ["job", "products"], conflicts_with_all = ["job", "products"])]
    corpus: Option<PathBuf>,
    /// Products mode: the linear layers' products alone (bias, GELU and
    /// residual + layer norm included; attention and embeddings not) over
    /// passes of the token budget: their rate (gflop_per_s) and the word
    /// pieces per second a pass could reach if they were all the work
    /// (the ceiling of this code path). CPU encoder only.
    #[arg(long, conflicts_with = "job")]
    products: bool,
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
    let device = &args.model.device.to_string();
    if args.products {
        println!("{}", serde_json::to_string(&products(&args.model.load(global)?, args.repeat)?)?);
        return Ok(ExitCode::SUCCESS);
    }
    let report = if let Some(path) = &args.corpus {
        let paragraphs = read_corpus(path)?;
        let embedder = args.model.load(global)?;
        Report::kernel(throughput(&embedder, &paragraphs, args.repeat)?, paragraphs.len(), &embedder, device)
    } else {
        let set = args.labels.load()?;
        let plan = JobPlan { inputs: args.inputs.clone(), set: &set, languages: args.model.languages(), repeat: args.repeat };
        let embedder = args.model.load(global)?;
        Report::job(job(&embedder, &plan)?, &embedder, device)
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}
