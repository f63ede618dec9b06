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

/// A progress bar on stderr (see [`themes::progress::bar`]), hidden with `--quiet`.
pub fn progress_of(total: u64, unit: &str, global: &Global) -> indicatif::ProgressBar {
    themes::progress::bar(total, unit, global.quiet)
}

/// A job's progress and messages on stderr, quiet with `--quiet`.
pub type Progress = themes::progress::Terminal;
