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

/// Which code path each kind of CPU work takes on this machine, as the
/// crates choose it at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuPaths {
    /// The instruction-set extensions found that matter here.
    pub detected: Vec<&'static str>,
    /// f32 matrix products (the `gemm` crate under candle).
    pub matmul: &'static str,
    /// This crate's kernels: attention, GELU, residual + layer norm.
    pub kernels: &'static str,
    /// `--dtype bf16` on the CPU.
    pub bf16: &'static str,
}

/// The paths on this CPU. `gemm` is built with its AVX-512 kernels
/// (Cargo.toml) and picks AVX-512F, else FMA (with AVX2), else scalar code;
/// the kernels of [`crate::model::kernels`] are compiled for AVX2 + FMA and
/// used when both are present; bf16 products need AVX-512F and
/// AVX512-BF16 ([`crate::model::bf16::supported`]).
pub fn cpu_paths() -> CpuPaths {
    let has = detect();
    let detected: Vec<&'static str> = has.iter().filter(|(_, on)| *on).map(|(name, _)| *name).collect();
    let on = |name: &str| detected.contains(&name);
    let matmul = if cfg!(target_arch = "aarch64") {
        "gemm NEON f32"
    } else if on("AVX-512F") {
        "gemm AVX-512F f32"
    } else if on("FMA") {
        "gemm AVX2/FMA f32"
    } else {
        "gemm scalar f32"
    };
    let kernels = if on("AVX2") && on("FMA") { "AVX2/FMA" } else { "portable (no AVX2/FMA)" };
    let bf16 = match (crate::model::bf16::supported(), on("AVX-512F")) {
        (true, _) => "AVX512-BF16 (vdpbf16ps)",
        (false, true) => "unavailable (no AVX512-BF16)",
        (false, false) => "unavailable (no AVX-512F, no AVX512-BF16)",
    };
    CpuPaths { detected, matmul, kernels, bf16 }
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Vec<(&'static str, bool)> {
    use std::arch::is_x86_feature_detected as has;
    vec![
        ("AVX2", has!("avx2")),
        ("FMA", has!("fma")),
        ("AVX-512F", has!("avx512f")),
        ("AVX512-BF16", has!("avx512bf16")),
        ("AMX-BF16", amx()),
    ]
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Vec<(&'static str, bool)> {
    Vec::new()
}

/// AMX tiles, which std cannot yet detect on stable Rust: read from the
/// kernel's CPU flags on Linux (nothing here uses them; they are listed so
/// that their absence from the paths is not a surprise).
#[cfg(target_arch = "x86_64")]
fn amx() -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|info| info.lines().filter(|l| l.starts_with("flags")).take(1).any(|l| l.split_whitespace().any(|f| f == "amx_bf16")))
        .unwrap_or(false)
}

/// The lines `themes version` prints.
pub fn details() -> Vec<String> {
    let paths = cpu_paths();
    let features = features();
    let none = |v: &[&str]| if v.is_empty() { "none".to_owned() } else { v.join(", ") };
    let amx = if paths.detected.contains(&"AMX-BF16") { "; AMX: present, not used" } else { "" };
    vec![
        format!("themes {VERSION}"),
        format!("commit: {COMMIT}"),
        format!("commit date: {COMMIT_DATE}"),
        format!("features: {}", if features.is_empty() { "none (CPU only; cuda not built in)".to_owned() } else { features.join(", ") }),
        format!("target: {TARGET}"),
        format!("cpu: {}", none(&paths.detected)),
        format!("kernels: matrix products: {}; attention, GELU, layer norm: {}; bf16: {}{amx}", paths.matmul, paths.kernels, paths.bf16),
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
        if paths.detected.contains(&"AVX-512F") {
            assert_eq!(paths.matmul, "gemm AVX-512F f32");
        } else if paths.detected.contains(&"FMA") {
            assert_eq!(paths.matmul, "gemm AVX2/FMA f32");
        }
        assert_eq!(paths.bf16.starts_with("AVX512-BF16"), crate::model::bf16::supported());
        crate::model::bf16::force_unsupported(true);
        assert!(cpu_paths().bf16.starts_with("unavailable"), "a CPU without AVX512-BF16 is reported so");
        crate::model::bf16::force_unsupported(false);
        let lines = details();
        assert!(lines[0].starts_with("themes 0.1.0 (") && lines.iter().any(|l| l.starts_with("kernels: matrix products: gemm")), "{lines:?}");
    }
}
