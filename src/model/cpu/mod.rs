//! The encoder on the CPU: BERT's forward pass on host memory, with the
//! linear layers' products against weights packed once at load, in f32,
//! bf16 or int8, and everything between them (embeddings, attention,
//! GELU, residual + layer norm) in vector code.
//!
//! Each kernel is written once, generic over the vector width
//! ([`simd::F32s`]) and the product ([`gemm::Product`]), and compiled once
//! per instruction family: AVX-512 (16 lanes) and AVX2/FMA (8 lanes).
//! Which family runs is chosen at run time from what the CPU has
//! ([`Features`], [`choose`]), or forced (`--kernels`); machines with
//! neither run candle's own ops ([`Path::Portable`]).

pub(crate) mod gemm;
pub(crate) mod ops;
pub(crate) mod simd;
mod encoder;

pub use encoder::{Encoder, TokenStates, CALIBRATION};

/// An instruction family the kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F (with BW for int8 and BF16/VNNI where asked for): 16 lanes.
    Avx512,
    /// AVX2 and FMA (with AVX-VNNI for int8): 8 lanes.
    Avx2,
}

/// Which kernels to run, as `--kernels` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kernels {
    /// The widest this CPU has for the precision asked for.
    #[default]
    Auto,
    /// AVX-512 (an error where the CPU lacks it).
    Avx512,
    /// AVX2/FMA (an error where the CPU lacks it).
    Avx2,
    /// candle's own ops: any CPU, f32 only.
    Portable,
}

impl Kernels {
    /// The names the command line takes.
    pub const NAMES: [&'static str; 4] = ["auto", "avx512", "avx2", "portable"];
}

impl std::str::FromStr for Kernels {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Kernels::Auto),
            "avx512" => Ok(Kernels::Avx512),
            "avx2" => Ok(Kernels::Avx2),
            "portable" => Ok(Kernels::Portable),
            other => Err(format!("unknown kernels {other:?}: use {}", Kernels::NAMES.join(", "))),
        }
    }
}

/// The number format of the linear layers' products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// f32 throughout.
    F32,
    /// Weights and inputs rounded to bf16, sums in f32 (`vdpbf16ps`).
    Bf16,
    /// Weights in i8 per output column, inputs in u8 per token (each row
    /// its own scale and zero point, so a vector never depends on its
    /// batch), sums in i32 (`vpdpbusd`).
    Int8,
}

/// The instruction-set extensions the kernels care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    /// AVX2 and FMA.
    pub avx2_fma: bool,
    /// AVX-512 Foundation.
    pub avx512f: bool,
    /// AVX-512 byte and word instructions.
    pub avx512bw: bool,
    /// `vdpbf16ps` and the bf16 conversions.
    pub avx512bf16: bool,
    /// `vpdpbusd` on 512-bit registers.
    pub avx512vnni: bool,
    /// `vpdpbusd` on 256-bit registers (VEX encoded).
    pub avx_vnni: bool,
    /// AMX tiles with bf16.
    pub amx_bf16: bool,
    /// AMX tiles with int8.
    pub amx_int8: bool,
}

impl Features {
    /// This CPU's.
    pub fn detect() -> Features {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            Features {
                avx2_fma: has!("avx2") && has!("fma"),
                avx512f: has!("avx512f"),
                avx512bw: has!("avx512bw"),
                avx512bf16: has!("avx512bf16"),
                avx512vnni: has!("avx512vnni"),
                avx_vnni: has!("avxvnni"),
                amx_bf16: cpuinfo_flag("amx_bf16"),
                amx_int8: cpuinfo_flag("amx_int8"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Features::default()
    }

    /// Names of those present, for `themes version` (AMX is listed so its
    /// absence from the paths is no surprise: no kernel uses it yet).
    pub fn names(&self) -> Vec<&'static str> {
        [
            ("AVX2+FMA", self.avx2_fma),
            ("AVX-512F", self.avx512f),
            ("AVX-512BW", self.avx512bw),
            ("AVX512-BF16", self.avx512bf16),
            ("AVX512-VNNI", self.avx512vnni),
            ("AVX-VNNI", self.avx_vnni),
            ("AMX-BF16", self.amx_bf16),
            ("AMX-INT8", self.amx_int8),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| name)
        .collect()
    }

    fn has(&self, isa: Isa) -> bool {
        match isa {
            Isa::Avx512 => self.avx512f && self.avx512bw && self.avx2_fma,
            Isa::Avx2 => self.avx2_fma,
        }
    }

    /// Whether this CPU has every instruction `path` uses: what [`choose`]
    /// picks from, and what makes an [`Encoder`]'s kernel calls sound.
    pub fn runs(&self, path: Path) -> bool {
        match path {
            Path::Portable => true,
            Path::F32(isa) => self.has(isa),
            Path::Bf16 => self.has(Isa::Avx512) && self.avx512bf16,
            Path::Int8(Isa::Avx512) => self.has(Isa::Avx512) && self.avx512vnni,
            Path::Int8(Isa::Avx2) => self.has(Isa::Avx2) && self.avx_vnni,
        }
    }
}

/// A flag of the kernel's CPU list on Linux: AMX, which std cannot
/// detect on stable Rust.
#[cfg(target_arch = "x86_64")]
fn cpuinfo_flag(flag: &str) -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|info| info.lines().filter(|l| l.starts_with("flags")).take(1).any(|l| l.split_whitespace().any(|f| f == flag)))
        .unwrap_or(false)
}

/// The code one precision runs on one CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// candle's ops (its matrix products from the `gemm` crate), f32.
    Portable,
    /// This crate's f32 kernels.
    F32(Isa),
    /// bf16 products on AVX512-BF16.
    Bf16,
    /// int8 products on AVX512-VNNI (`Avx512`) or AVX-VNNI (`Avx2`).
    Int8(Isa),
}

impl Path {
    /// The instruction family of the kernels between the products.
    pub fn isa(self) -> Option<Isa> {
        match self {
            Path::Portable => None,
            Path::F32(isa) | Path::Int8(isa) => Some(isa),
            Path::Bf16 => Some(Isa::Avx512),
        }
    }

    /// What runs, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Path::Portable => "portable (candle's ops, gemm crate f32 products)",
            Path::F32(Isa::Avx512) => "AVX-512F f32 (packed weights, 14x32 tiles)",
            Path::F32(Isa::Avx2) => "AVX2/FMA f32 (packed weights, 6x16 tiles)",
            Path::Bf16 => "AVX512-BF16 (vdpbf16ps, 14x32 tiles)",
            Path::Int8(Isa::Avx512) => "AVX512-VNNI int8 (vpdpbusd, 14x32 tiles)",
            Path::Int8(Isa::Avx2) => "AVX-VNNI int8 (vpdpbusd, 6x16 tiles)",
        }
    }

    /// A short name for reports (`avx512`, `avx2`, `portable`).
    pub fn kernels(self) -> &'static str {
        match self.isa() {
            None => "portable",
            Some(Isa::Avx512) => "avx512",
            Some(Isa::Avx2) => "avx2",
        }
    }
}

/// The path `precision` takes with `kernels` on a CPU with `cpu`, or why
/// it cannot run there.
pub fn choose(cpu: &Features, kernels: Kernels, precision: Precision) -> Result<Path, String> {
    let forced = |isa: Isa, name: &str| {
        if cpu.has(isa) {
            Ok(isa)
        } else {
            Err(format!("--kernels {name}: this CPU has no {}", if isa == Isa::Avx512 { "AVX-512F and AVX-512BW" } else { "AVX2 and FMA" }))
        }
    };
    let isa = match kernels {
        Kernels::Portable if precision == Precision::F32 => return Ok(Path::Portable),
        Kernels::Portable => return Err("--kernels portable runs f32 only: use --dtype f32, or leave --kernels to choose".to_owned()),
        Kernels::Avx512 => Some(forced(Isa::Avx512, "avx512")?),
        Kernels::Avx2 => Some(forced(Isa::Avx2, "avx2")?),
        Kernels::Auto => None,
    };
    match precision {
        Precision::F32 => Ok(match isa {
            Some(isa) => Path::F32(isa),
            None if cpu.runs(Path::F32(Isa::Avx512)) => Path::F32(Isa::Avx512),
            None if cpu.runs(Path::F32(Isa::Avx2)) => Path::F32(Isa::Avx2),
            None => Path::Portable,
        }),
        Precision::Bf16 => {
            let ok = cpu.runs(Path::Bf16);
            match isa {
                Some(Isa::Avx2) => Err("bf16 products run on AVX512-BF16 only, not with --kernels avx2".to_owned()),
                _ if ok => Ok(Path::Bf16),
                _ => Err("--dtype bf16 on the CPU needs AVX512-BF16 (AMD Zen 4 and later, Intel Xeon since Cooper Lake); this CPU has not got it: use --dtype f32".to_owned()),
            }
        }
        Precision::Int8 => {
            let vnni512 = cpu.runs(Path::Int8(Isa::Avx512));
            let vnni256 = cpu.runs(Path::Int8(Isa::Avx2));
            match isa {
                Some(Isa::Avx512) if vnni512 => Ok(Path::Int8(Isa::Avx512)),
                Some(Isa::Avx2) if vnni256 => Ok(Path::Int8(Isa::Avx2)),
                None if vnni512 => Ok(Path::Int8(Isa::Avx512)),
                None if vnni256 => Ok(Path::Int8(Isa::Avx2)),
                Some(Isa::Avx512) => Err("--dtype int8 with --kernels avx512 needs AVX512-VNNI; this CPU has not got it".to_owned()),
                Some(Isa::Avx2) => Err("--dtype int8 with --kernels avx2 needs AVX-VNNI; this CPU has not got it".to_owned()),
                None => Err("--dtype int8 on the CPU needs AVX512-VNNI or AVX-VNNI (AMD Zen 4 and later, Intel since Cascade Lake or Alder Lake); this CPU has neither: use --dtype f32".to_owned()),
            }
        }
    }
}

/// The kernels between the products, compiled per instruction family.
/// Each `unsafe fn` here may run only on a CPU with its family, which
/// [`Encoder`] checks when it is built.
mod dispatch {
    use super::ops::{self, Tables};
    #[cfg(target_arch = "x86_64")]
    use super::simd::{Y, Z};
    use super::Isa;

    macro_rules! per_isa {
        ($(fn $name:ident($($arg:ident: $ty:ty),*) => $op:ident $(:: <$wide:literal, $narrow:literal>)?;)*) => {
            $(
                /// # Safety
                /// The CPU must have `isa`; the pointers as the op requires.
                pub(crate) unsafe fn $name(isa: Isa, $($arg: $ty),*) {
                    #[cfg(target_arch = "x86_64")]
                    {
                        #[target_feature(enable = "avx512f,avx512bw,avx2,fma")]
                        unsafe fn wide($($arg: $ty),*) {
                            ops::$op::<Z $(, $wide)?>($($arg),*)
                        }
                        #[target_feature(enable = "avx2,fma")]
                        unsafe fn narrow($($arg: $ty),*) {
                            ops::$op::<Y $(, $narrow)?>($($arg),*)
                        }
                        match isa {
                            Isa::Avx512 => wide($($arg),*),
                            Isa::Avx2 => narrow($($arg),*),
                        }
                    }
                    #[cfg(not(target_arch = "x86_64"))]
                    {
                        let _ = isa;
                        ops::$op::<f32 $(, $narrow)?>($($arg),*)
                    }
                }
            )*
        };
    }

    per_isa! {
        fn embed_rows(t: Tables, ids: &[u32], positions: &[usize], out: *mut f32) => embed_rows;
        // Eight queries at a time in 32 registers, four in 16.
        fn attend(qkv: *const f32, n: usize, heads: usize, head_dim: usize, out: *mut f32, scratch: &mut Vec<f32>) => attend::<8, 4>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(names: &[&str]) -> Features {
        let on = |n: &str| names.contains(&n);
        Features {
            avx2_fma: on("avx2"),
            avx512f: on("avx512"),
            avx512bw: on("avx512"),
            avx512bf16: on("bf16"),
            avx512vnni: on("vnni512"),
            avx_vnni: on("vnni256"),
            ..Features::default()
        }
    }

    #[test]
    fn each_precision_takes_the_widest_path_the_cpu_has_and_refuses_what_it_lacks() {
        let zen5 = cpu(&["avx2", "avx512", "bf16", "vnni512", "vnni256"]);
        let skylake = cpu(&["avx2", "avx512"]);
        let laptop = cpu(&["avx2", "vnni256"]);
        let old = cpu(&[]);
        assert_eq!(choose(&zen5, Kernels::Auto, Precision::F32), Ok(Path::F32(Isa::Avx512)));
        assert_eq!(choose(&zen5, Kernels::Avx2, Precision::F32), Ok(Path::F32(Isa::Avx2)));
        assert_eq!(choose(&zen5, Kernels::Auto, Precision::Bf16), Ok(Path::Bf16));
        assert_eq!(choose(&zen5, Kernels::Auto, Precision::Int8), Ok(Path::Int8(Isa::Avx512)));
        assert_eq!(choose(&zen5, Kernels::Avx2, Precision::Int8), Ok(Path::Int8(Isa::Avx2)));
        assert_eq!(choose(&zen5, Kernels::Portable, Precision::F32), Ok(Path::Portable));
        assert!(choose(&zen5, Kernels::Portable, Precision::Int8).is_err());
        assert!(choose(&zen5, Kernels::Avx2, Precision::Bf16).unwrap_err().contains("AVX512-BF16"));
        assert!(choose(&skylake, Kernels::Auto, Precision::Bf16).unwrap_err().contains("AVX512-BF16"));
        assert!(choose(&skylake, Kernels::Auto, Precision::Int8).unwrap_err().contains("VNNI"));
        assert_eq!(choose(&laptop, Kernels::Auto, Precision::F32), Ok(Path::F32(Isa::Avx2)));
        assert_eq!(choose(&laptop, Kernels::Auto, Precision::Int8), Ok(Path::Int8(Isa::Avx2)));
        assert!(choose(&laptop, Kernels::Avx512, Precision::F32).unwrap_err().contains("AVX-512"));
        assert_eq!(choose(&old, Kernels::Auto, Precision::F32), Ok(Path::Portable));
        assert!(choose(&old, Kernels::Avx2, Precision::F32).is_err());
    }
}
