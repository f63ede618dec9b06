//! One module per subcommand, plus what they share: logging set-up, options
//! that several commands take, and the mapping of errors to exit codes.

pub mod bench;
pub mod calibrate;
pub mod common;
pub mod embed;
pub mod eval;
pub mod label;
pub mod labels;
pub mod suggest;
pub mod merge;
pub mod model;
pub mod train;

use std::process::ExitCode;

/// Options that apply to every subcommand.
pub struct Global {
    /// No progress or notes on stderr.
    pub quiet: bool,
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
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

/// Maps a command's outcome to the documented exit codes. A closed stdout
/// (`themes label ... | head`) is not an error.
pub fn exit_code(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            for cause in err.chain() {
                if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                    if io.kind() == std::io::ErrorKind::BrokenPipe {
                        return ExitCode::SUCCESS;
                    }
                }
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// A progress bar on stderr with rate and ETA; hidden when stderr is not a
/// terminal or `--quiet` is given.
pub fn progress(total: u64, global: &Global) -> indicatif::ProgressBar {
    progress_of(total, "paragraphs", global)
}

/// A progress bar counting `unit`s; a spinner when `total` is 0 (unknown).
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
