//! Models: the registry of known models (`models/models.toml`), resolving a
//! `--model` argument to a verified folder (local, store, Hub, package
//! mirror), and loading a sentence-transformer from that folder.

pub mod registry;
pub mod fetch;
pub mod st;
pub mod bert;
pub mod kernels;
pub mod heads;
pub mod bf16;
