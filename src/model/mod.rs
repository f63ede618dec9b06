//! Models: the registry of known models (`models/models.toml`), resolving a
//! `--model` argument to a verified folder (local, store, Hub, package
//! mirror), and loading a sentence-transformer from that folder.

pub mod registry;
pub mod fetch;
pub mod st;
pub mod bert;
pub mod cpu;
pub mod heads;
pub mod q4;
pub mod package;

use crate::embed::{DeviceSpec, EmbedOptions, Embedder};
use crate::error::Result;

/// Resolves `spec` (fetching it if needed: [`fetch::resolve`]) and loads
/// it on `device` at `dtype` (`f32`, `bf16`, `int8`, `f16`) with `kernels`
/// on the CPU, with a token budget per pass (`None`: sized for the device).
pub fn open(spec: &str, device: DeviceSpec, dtype: &str, kernels: cpu::Kernels, batch_tokens: Option<usize>, quiet: bool) -> Result<Embedder> {
    let registry = registry::Registry::from_env()?;
    let options = fetch::ResolveOptions { quiet, ..fetch::ResolveOptions::from_env() };
    let resolved = fetch::resolve(spec, &registry, &options)?;
    let dtype = crate::embed::parse_dtype(dtype)?;
    let embed_options = EmbedOptions { device: device.open()?, dtype, token_budget: batch_tokens.unwrap_or(0), kernels };
    let embedder = Embedder::load(&resolved.dir, &resolved.name, &resolved.revision, &embed_options)
        .map_err(|e| e.context(format!("loading model from {}", resolved.dir.display())))?;
    tracing::info!("model {} ({}) loaded from {}", resolved.name, resolved.revision, resolved.dir.display());
    Ok(embedder)
}
