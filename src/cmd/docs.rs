//! `themes version`, `themes completions`, `themes man`: this build in
//! detail, and the commands as the shell and the manual see them.

use std::path::PathBuf;
use std::process::ExitCode;

use themes::output::Sink;

/// Options of `completions`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Example: themes completions bash > ~/.local/share/bash-completion/completions/themes")]
pub struct CompletionArgs {
    /// The shell to write the completion script for.
    shell: clap_complete::Shell,
}

/// Options of `man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write themes.1 and one page per subcommand (themes-label.1, ...)
    /// into this folder (created if needed) instead of printing themes.1.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn version() -> anyhow::Result<ExitCode> {
    Sink::write_whole(None, format!("{}\n", themes::about::details().join("\n")).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

pub fn completions(args: CompletionArgs, command: clap::Command) -> anyhow::Result<ExitCode> {
    Sink::write_whole(None, &themes::about::completion_script(args.shell, command))?;
    Ok(ExitCode::SUCCESS)
}

pub fn man(args: ManArgs, command: clap::Command, global: &super::Global) -> anyhow::Result<ExitCode> {
    let mut pages = themes::about::man_pages(command)?;
    let Some(dir) = args.out else {
        Sink::write_whole(None, &pages.pop().expect("the top page is rendered last").1)?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(&dir).map_err(|e| themes::Error::io(&dir, e))?;
    for (name, roff) in &pages {
        Sink::write_whole(Some(&dir.join(name)), roff)?;
    }
    global.note(&format!("{} written to {}", themes::count(pages.len(), "manual page"), dir.display()));
    Ok(ExitCode::SUCCESS)
}
