//! What this build is and what it runs on: the git commit it was built
//! from (recorded by `build.rs`), its cargo features and target, and the
//! CPU code paths chosen at run time for this machine (`themes version`).

/// The commit the binary was built from (`-dirty` when tracked files had
/// changes), or "unknown" when built without git.
pub const COMMIT: &str = env!("THEMES_GIT_COMMIT");

/// The date of [`COMMIT`] (YYYY-MM-DD), or "unknown".
pub const COMMIT_DATE: &str = env!("THEMES_GIT_DATE");

/// The one-line version: `0.1.0 (COMMIT DATE)`.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("THEMES_GIT_COMMIT"), " ", env!("THEMES_GIT_DATE"), ")");

/// The target triple the binary was compiled for.
pub const TARGET: &str = env!("THEMES_TARGET");

/// The cargo features this build has.
pub fn features() -> Vec<&'static str> {
    let mut features = Vec::new();
    if cfg!(feature = "cuda") {
        features.push("cuda");
    }
    features
}

/// Which code path each precision takes on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuPaths {
    /// The instruction-set extensions found that matter here.
    pub detected: Vec<&'static str>,
    /// `--dtype f32` with `--kernels auto`: the path.
    pub f32: String,
    /// `--dtype bf16`: the path, or why it cannot run here.
    pub bf16: String,
    /// `--dtype int8`: the path, or why it cannot run here.
    pub int8: String,
}

/// The paths on this CPU ([`crate::model::cpu::choose`]).
pub fn cpu_paths() -> CpuPaths {
    use crate::model::cpu::{choose, Features, Kernels, Precision};
    let cpu = Features::detect();
    let path = |p: Precision| match choose(&cpu, Kernels::Auto, p) {
        Ok(path) => path.describe().to_owned(),
        Err(why) => format!("unavailable ({why})"),
    };
    CpuPaths { detected: cpu.names(), f32: path(Precision::F32), bf16: path(Precision::Bf16), int8: path(Precision::Int8) }
}

/// The lines `themes version` prints.
pub fn details() -> Vec<String> {
    let paths = cpu_paths();
    let features = features();
    let none = |v: &[&str]| if v.is_empty() { "none".to_owned() } else { v.join(", ") };
    let amx = if paths.detected.contains(&"AMX-BF16") { " (AMX: present, not used)" } else { "" };
    vec![
        format!("themes {VERSION}"),
        format!("commit: {COMMIT}"),
        format!("commit date: {COMMIT_DATE}"),
        format!("features: {}", if features.is_empty() { "none (CPU only; cuda not built in)".to_owned() } else { features.join(", ") }),
        format!("target: {TARGET}"),
        format!("cpu: {}", none(&paths.detected)),
        format!("kernels: f32: {}; bf16: {}{amx}; int8: {}", paths.f32, paths.bf16, paths.int8),
    ]
}

/// The manual pages of `command` and of every visible subcommand, nested
/// ones too (file name, roff), the top page last.
pub fn man_pages(command: clap::Command) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    fn walk(command: clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub.clone(), pages)?;
        }
        let man = clap_mangen::Man::new(command);
        let mut roff = Vec::new();
        man.render(&mut roff)?;
        pages.push((man.get_filename(), roff));
        Ok(())
    }
    let mut command = command.disable_help_subcommand(true);
    command.build();
    let mut pages = Vec::new();
    walk(command, &mut pages)?;
    Ok(pages)
}

/// The completion script of `command` for `shell`.
pub fn completion_script(shell: clap_complete::Shell, mut command: clap::Command) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "themes", &mut script);
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paths_follow_the_detected_features() {
        let paths = cpu_paths();
        if paths.detected.contains(&"AVX-512F") && paths.detected.contains(&"AVX-512BW") {
            assert!(paths.f32.starts_with("AVX-512F"), "{paths:?}");
        } else if paths.detected.contains(&"AVX2+FMA") {
            assert!(paths.f32.starts_with("AVX2/FMA"), "{paths:?}");
        } else {
            assert!(paths.f32.starts_with("portable"), "{paths:?}");
        }
        assert_eq!(paths.bf16.starts_with("AVX512-BF16"), paths.detected.contains(&"AVX512-BF16"), "{paths:?}");
        let vnni = paths.detected.contains(&"AVX512-VNNI") || paths.detected.contains(&"AVX-VNNI");
        assert_eq!(!paths.int8.starts_with("unavailable"), vnni, "{paths:?}");
        let lines = details();
        assert!(lines[0].starts_with("themes 0.1.0 (") && lines.iter().any(|l| l.starts_with("kernels: f32: ")), "{lines:?}");
    }
}
