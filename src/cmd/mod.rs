//! One module per subcommand, plus what they share: logging set-up, the
//! argument groups several commands take ([`args`]), progress on stderr,
//! and the mapping of errors to exit codes.

pub mod args;
pub mod bench;
pub mod calibrate;
pub mod docs;
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
            if err.chain().any(themes::error::is_broken_pipe) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// A progress bar counting `unit`s on stderr, with elapsed time and ETA
/// (and the message, a rate the caller sets); a spinner when `total` is 0
/// (unknown); hidden when stderr is not a terminal or `--quiet` is given.
pub fn progress_of(total: u64, unit: &str, global: &Global) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if global.quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let (bar, template) = match total {
        0 => (indicatif::ProgressBar::new_spinner(), format!("{{spinner}} {{pos}} {unit}{{msg}}  {{elapsed}} elapsed")),
        n => (indicatif::ProgressBar::new(n), format!("{{bar:40}} {{pos}}/{{len}} {unit}{{msg}}  {{elapsed}} elapsed, ETA {{eta}}")),
    };
    bar.set_style(indicatif::ProgressStyle::with_template(&template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    bar
}

/// A job's progress and messages drawn on stderr: articles on the bar,
/// paragraphs and paragraphs per second beside it.
pub struct Progress<'g> {
    /// The bar.
    pub bar: indicatif::ProgressBar,
    global: &'g Global,
    paragraphs: u64,
    started: std::time::Instant,
}

impl<'g> Progress<'g> {
    /// A bar counting `total` `unit`s; `unit` "": messages only, no bar
    /// (work not yet counted).
    pub fn new(total: u64, unit: &str, global: &'g Global) -> Self {
        let bar = if unit.is_empty() { indicatif::ProgressBar::hidden() } else { progress_of(total, unit, global) };
        Progress { bar, global, paragraphs: 0, started: std::time::Instant::now() }
    }
}

impl themes::job::label::Observer for Progress<'_> {
    fn advanced(&mut self, articles: u64, paragraphs: u64) {
        self.paragraphs += paragraphs;
        let rate = self.paragraphs as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!(", {} paragraphs, {rate:.0} paragraphs/s", self.paragraphs));
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

    fn warning(&mut self, message: &str) {
        if !self.global.quiet {
            self.bar.suspend(|| eprintln!("warning: {message}"));
        }
    }
}
