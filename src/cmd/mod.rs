//! One module per subcommand, plus what they share: logging set-up, the
//! argument groups several commands take ([`args`]), progress on stderr,
//! and the mapping of errors to exit codes.

pub mod args;
pub mod bench;
pub mod calibrate;
pub mod embed;
pub mod eval;
pub mod gold;
pub mod label;
pub mod labels;
pub mod merge;
pub mod model;
pub mod suggest;
pub mod train;

use std::process::ExitCode;

/// Options that apply to every subcommand.
pub struct Global {
    /// No progress or notes on stderr.
    pub quiet: bool,
}

impl Global {
    /// Prints a note on stderr unless `--quiet`.
    pub fn note(&self, message: &str) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }
}

/// Logs go to stderr; `THEMES_LOG` (an `EnvFilter` directive) wins over -v.
pub fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("THEMES_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("themes={default},{default}")));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).with_target(false).init();
}

/// Maps a command's outcome to the documented exit codes. A closed stdout
/// (`themes label ... | head`) is not an error.
pub fn exit_code(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            let kind = |c: &(dyn std::error::Error + 'static)| {
                c.downcast_ref::<std::io::Error>().map(std::io::Error::kind).or_else(|| c.downcast_ref::<themes::Error>()?.io_kind())
            };
            if err.chain().any(|c| kind(c) == Some(std::io::ErrorKind::BrokenPipe)) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// A progress bar counting `unit`s on stderr, with rate and ETA; a spinner
/// when `total` is 0 (unknown); hidden when stderr is not a terminal or
/// `--quiet` is given.
pub fn progress_of(total: u64, unit: &str, global: &Global) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if global.quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    if total == 0 {
        return indicatif::ProgressBar::new_spinner();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {unit}  {{per_sec}}  ETA {{eta}}"))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// A job's progress and messages drawn on stderr.
pub struct Progress<'g> {
    /// The bar.
    pub bar: indicatif::ProgressBar,
    global: &'g Global,
}

impl<'g> Progress<'g> {
    /// A bar counting `total` `unit`s.
    pub fn new(total: u64, unit: &str, global: &'g Global) -> Self {
        Progress { bar: progress_of(total, unit, global), global }
    }

    /// Messages only, no bar (work not yet counted).
    pub fn messages(global: &'g Global) -> Self {
        Progress { bar: indicatif::ProgressBar::hidden(), global }
    }
}

impl themes::job::label::Observer for Progress<'_> {
    fn advanced(&mut self, articles: u64) {
        self.bar.inc(articles);
    }

    fn skipped(&mut self, message: &str) {
        self.bar.suspend(|| eprintln!("skipped: {message}"));
    }

    fn note(&mut self, message: &str) {
        if !self.global.quiet {
            self.bar.suspend(|| eprintln!("{message}"));
        }
    }
}
