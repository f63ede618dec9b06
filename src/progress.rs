//! Progress and messages on stderr for a terminal front end: an
//! `indicatif` bar (articles, with paragraphs and paragraphs per second
//! beside it) and note, warning and skip lines printed through it, so the
//! bar is never left stale. Nothing is drawn when stderr is not a terminal;
//! nothing is written to stdout.

use std::io::IsTerminal;

/// A progress bar counting `unit`s on stderr, with elapsed time and ETA
/// (and the message, a rate the caller sets); a spinner when `total` is 0
/// (unknown); hidden when stderr is not a terminal or `quiet`.
pub fn bar(total: u64, unit: &str, quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let (bar, template) = match total {
        0 => (indicatif::ProgressBar::new_spinner(), format!("{{spinner}} {{pos}} {unit}{{msg}}  {{elapsed}} elapsed")),
        n => (indicatif::ProgressBar::new(n), format!("{{bar:40}} {{pos}}/{{len}} {unit}{{msg}}  {{elapsed}} elapsed, ETA {{eta}}")),
    };
    bar.set_style(indicatif::ProgressStyle::with_template(&template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    bar
}

/// A label job's [`crate::job::label::Observer`] on stderr: articles on the
/// bar, paragraphs and paragraphs per second beside it.
pub struct Terminal {
    /// The bar.
    pub bar: indicatif::ProgressBar,
    quiet: bool,
    paragraphs: u64,
    started: std::time::Instant,
}

impl Terminal {
    /// A bar counting `total` `unit`s; `unit` "": messages only, no bar
    /// (work not yet counted). `quiet`: no bar, notes or warnings.
    pub fn new(total: u64, unit: &str, quiet: bool) -> Self {
        let bar = if unit.is_empty() { indicatif::ProgressBar::hidden() } else { bar(total, unit, quiet) };
        Terminal { bar, quiet, paragraphs: 0, started: std::time::Instant::now() }
    }
}

impl crate::job::label::Observer for Terminal {
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
        if !self.quiet {
            self.bar.suspend(|| eprintln!("{message}"));
        }
    }

    fn warning(&mut self, message: &str) {
        if !self.quiet {
            self.bar.suspend(|| eprintln!("warning: {message}"));
        }
    }
}
