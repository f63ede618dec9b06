//! Reading an "E5S1" model file: a BERT-shaped encoder whose large
//! matrices are quantized to 4 bits in the Q4_0 block layout (32 weights
//! per block: an fp16 scale, then 16 bytes whose low nibbles are weights
//! 0..16 and high nibbles weights 16..32, each `(q - 8) * scale`), with
//! the rest in f32. This module parses the header and the tensor
//! directory and dequantizes tensors to f32; `model::package` turns the
//! result into a BERT model folder.
//!
//! Layout (little-endian): magic `E5S1`, u32 version, i32 hidden, layers,
//! heads, intermediate, vocabulary, positions, token types, f32 layer-norm
//! epsilon, i32 block size; a tokenizer section (skipped here: the folder
//! gets the model's own `tokenizer.json`); i32 tensor count, then per
//! tensor u16 name length, name, u8 dtype (0 f32, 1 Q4_0), u32 element
//! count, u64 offset from the start of the file, u64 byte length.

use std::path::{Path, PathBuf};

use crate::error::{Error, Location, Result};

/// Weights per Q4_0 block.
pub const BLOCK: usize = 32;
/// Bytes per Q4_0 block: the fp16 scale and 16 bytes of nibbles.
pub const BLOCK_BYTES: usize = 18;

/// The encoder's shape, from the header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Hidden size.
    pub hidden: usize,
    /// Number of layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Intermediate (feed-forward) size.
    pub intermediate: usize,
    /// Vocabulary size.
    pub vocab: usize,
    /// Position embeddings.
    pub positions: usize,
    /// Token type embeddings.
    pub token_types: usize,
    /// Layer-norm epsilon.
    pub eps: f32,
}

/// How a tensor's elements are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// Little-endian f32.
    F32,
    /// Q4_0 blocks.
    Q4_0,
}

/// One entry of the tensor directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Its name in the file (`emb.word`, `l0.q.w`, ...).
    pub name: String,
    /// How it is stored.
    pub dtype: Dtype,
    /// Number of elements.
    pub count: usize,
    /// Byte offset from the start of the file.
    pub offset: usize,
    /// Byte length.
    pub len: usize,
}

/// A parsed E5S1 file, holding its bytes.
#[derive(Debug)]
pub struct E5File {
    path: PathBuf,
    bytes: Vec<u8>,
    /// The encoder's shape.
    pub shape: Shape,
    /// The tensor directory, in file order.
    pub tensors: Vec<Tensor>,
}

/// The f32 value of an IEEE half-precision number.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: m * 2^-24, exact in f32.
            let v = m as f32 * f32::powi(2.0, -24);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// Dequantizes whole Q4_0 blocks (`bytes.len()` a multiple of 18) into
/// `out`, 32 values per block, appended.
pub fn dequantize_blocks(bytes: &[u8], out: &mut Vec<f32>) {
    for block in bytes.chunks_exact(BLOCK_BYTES) {
        let scale = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
        let nibbles = &block[2..];
        out.extend(nibbles.iter().map(|&b| (f32::from(b & 0x0f) - 8.0) * scale));
        out.extend(nibbles.iter().map(|&b| (f32::from(b >> 4) - 8.0) * scale));
    }
}

/// A little-endian cursor that reports truncation with the field's name.
struct Cursor<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
            invalid(
                self.path,
                format!("truncated: {what} needs {n} bytes at offset {} but the file has {} bytes", self.at, self.bytes.len()),
            )
        })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into().expect("2 bytes")))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().expect("8 bytes")))
    }

    /// An i32 that must be a positive size.
    fn size(&mut self, what: &str) -> Result<usize> {
        let at = self.at;
        let v = self.u32(what)? as i32;
        usize::try_from(v).ok().filter(|&v| v > 0).ok_or_else(|| invalid(self.path, format!("{what} at offset {at} is {v}; a positive size was expected")))
    }

    /// An i32 count that may be zero.
    fn count(&mut self, what: &str) -> Result<usize> {
        let at = self.at;
        let v = self.u32(what)? as i32;
        usize::try_from(v).map_err(|_| invalid(self.path, format!("{what} at offset {at} is {v}; a count cannot be negative")))
    }
}

fn invalid(path: &Path, message: String) -> Error {
    Error::invalid(Location::file(path), format!("{message} (an E5S1 model file was expected; download it again)"))
}

impl E5File {
    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<E5File> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        E5File::parse(bytes, path)
    }

    /// Parses the bytes of an E5S1 file; `path` is used in errors.
    pub fn parse(bytes: Vec<u8>, path: &Path) -> Result<E5File> {
        if bytes.len() < 4 || &bytes[..4] != b"E5S1" {
            let head: String = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
            return Err(invalid(path, format!("bad magic: the file starts with bytes {head:?}, not \"E5S1\"")));
        }
        let mut c = Cursor { path, bytes: &bytes, at: 4 };
        c.u32("the version")?;
        let shape = read_shape(&mut c)?;
        skip_tokenizer(&mut c)?;
        let n = c.count("the tensor count")?;
        let mut tensors = Vec::with_capacity(n.min(4096));
        for i in 0..n {
            tensors.push(read_entry(&mut c, i)?);
        }
        Ok(E5File { path: path.to_path_buf(), bytes, shape, tensors })
    }

    /// A tensor's values in f32, checked to hold `expected` elements.
    pub fn values(&self, name: &str, expected: usize) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(expected);
        self.values_chunked(name, expected, usize::MAX, |chunk| {
            out.extend_from_slice(chunk);
            Ok(())
        })?;
        Ok(out)
    }

    /// Streams a tensor's f32 values to `sink` in chunks of about `chunk`
    /// values (whole blocks), so a large tensor is never held whole.
    pub fn values_chunked(&self, name: &str, expected: usize, chunk: usize, mut sink: impl FnMut(&[f32]) -> Result<()>) -> Result<()> {
        let t = self.tensor(name)?;
        if t.count != expected {
            return Err(invalid(&self.path, format!("tensor {name} has {} elements; this shape needs {expected}", t.count)));
        }
        let data = &self.bytes[t.offset..t.offset + t.len];
        match t.dtype {
            Dtype::F32 => {
                let values: Vec<f32> = data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
                for part in values.chunks(chunk.max(1)) {
                    sink(part)?;
                }
            }
            Dtype::Q4_0 => {
                let blocks = (chunk / BLOCK).max(1);
                let mut buf = Vec::with_capacity(blocks.saturating_mul(BLOCK).min(t.count));
                for part in data.chunks(blocks * BLOCK_BYTES) {
                    buf.clear();
                    dequantize_blocks(part, &mut buf);
                    sink(&buf)?;
                }
            }
        }
        Ok(())
    }

    /// A directory entry by name.
    pub fn tensor(&self, name: &str) -> Result<&Tensor> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| invalid(&self.path, format!("tensor {name} is missing from the tensor directory")))
    }
}

fn read_shape(c: &mut Cursor) -> Result<Shape> {
    let hidden = c.size("the hidden size")?;
    let layers = c.size("the layer count")?;
    let heads = c.size("the head count")?;
    let intermediate = c.size("the intermediate size")?;
    let vocab = c.size("the vocabulary size")?;
    let positions = c.size("the position count")?;
    let token_types = c.size("the token type count")?;
    let eps = f32::from_bits(c.u32("the layer-norm epsilon")?);
    let at = c.at;
    let qk = c.size("the block size")?;
    if qk != BLOCK {
        return Err(invalid(c.path, format!("block size at offset {at} is {qk}; only Q4_0 blocks of {BLOCK} are read")));
    }
    if !hidden.is_multiple_of(BLOCK) || !intermediate.is_multiple_of(BLOCK) || !hidden.is_multiple_of(heads) {
        return Err(invalid(
            c.path,
            format!("hidden size {hidden} and intermediate size {intermediate} must be multiples of {BLOCK}, and of the {heads} heads"),
        ));
    }
    Ok(Shape { hidden, layers, heads, intermediate, vocab, positions, token_types, eps })
}

/// Skips the tokenizer section: pieces, offsets, scores, blob and the
/// normalization map.
fn skip_tokenizer(c: &mut Cursor) -> Result<()> {
    let pieces = c.count("the tokenizer's piece count")?;
    c.take(16, "the tokenizer's special ids")?;
    let blob = c.u64("the tokenizer's blob length")?;
    c.take((pieces + 1) * 4, "the tokenizer's piece offsets")?;
    c.take(pieces * 4, "the tokenizer's scores")?;
    let blob = usize::try_from(blob).unwrap_or(usize::MAX);
    c.take(blob, "the tokenizer's piece bytes")?;
    c.count("the normalization map's entry count")?;
    let map = c.u32("the normalization map's length")? as usize;
    c.take(map, "the normalization map")?;
    Ok(())
}

fn read_entry(c: &mut Cursor, i: usize) -> Result<Tensor> {
    let what = format!("tensor directory entry {i}");
    let len = c.u16(&what)? as usize;
    let name = String::from_utf8_lossy(c.take(len, &what)?).into_owned();
    let what = format!("tensor {name} (directory entry {i})");
    let code = c.take(1, &what)?[0];
    let dtype = match code {
        0 => Dtype::F32,
        1 => Dtype::Q4_0,
        other => return Err(invalid(c.path, format!("{what}: unknown dtype {other} (0 is f32, 1 is Q4_0)"))),
    };
    let count = c.u32(&what)? as usize;
    let offset = usize::try_from(c.u64(&what)?).unwrap_or(usize::MAX);
    let bytes = usize::try_from(c.u64(&what)?).unwrap_or(usize::MAX);
    let needed = match dtype {
        Dtype::F32 => count * 4,
        Dtype::Q4_0 if count.is_multiple_of(BLOCK) => count / BLOCK * BLOCK_BYTES,
        Dtype::Q4_0 => return Err(invalid(c.path, format!("{what}: {count} elements is not a whole number of Q4_0 blocks"))),
    };
    if bytes != needed {
        return Err(invalid(c.path, format!("{what}: {bytes} bytes recorded for {count} elements, which take {needed}")));
    }
    if offset.checked_add(bytes).is_none_or(|end| end > c.bytes.len()) {
        return Err(invalid(
            c.path,
            format!("truncated: {what} lies at bytes {offset}..{} but the file has {} bytes", offset.saturating_add(bytes), c.bytes.len()),
        ));
    }
    Ok(Tensor { name, dtype, count, offset, len: bytes })
}

/// Building E5S1 files by hand, for tests here and in `tests/`.
pub mod build {
    /// An f32 tensor or Q4_0 blocks, with its name.
    pub enum Data {
        /// f32 values.
        F32(Vec<f32>),
        /// Raw Q4_0 blocks (18 bytes each) and the element count.
        Q4(Vec<u8>),
    }

    /// The bytes of an E5S1 file with an empty tokenizer section.
    /// `header` is hidden, layers, heads, intermediate, vocabulary,
    /// positions, token types; epsilon 1e-12, block size 32.
    pub fn file<S: AsRef<str>>(header: [i32; 7], tensors: &[(S, Data)]) -> Vec<u8> {
        let mut out = b"E5S1".to_vec();
        out.extend(1u32.to_le_bytes());
        header.iter().for_each(|v| out.extend(v.to_le_bytes()));
        out.extend(1e-12f32.to_le_bytes());
        out.extend(32i32.to_le_bytes());
        // Tokenizer: one piece "a", ids 0 2 1 3, no normalization map.
        out.extend(1i32.to_le_bytes());
        [0i32, 2, 1, 3].iter().for_each(|v| out.extend(v.to_le_bytes()));
        out.extend(1u64.to_le_bytes());
        [0u32, 1].iter().for_each(|v| out.extend(v.to_le_bytes()));
        out.extend(0f32.to_le_bytes());
        out.push(b'a');
        out.extend(0i32.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend((tensors.len() as i32).to_le_bytes());
        let dir_len: usize = tensors.iter().map(|(name, _)| 2 + name.as_ref().len() + 1 + 4 + 8 + 8).sum();
        let mut offset = out.len() + dir_len;
        let mut data = Vec::new();
        for (name, tensor) in tensors {
            let (code, count, bytes): (u8, usize, Vec<u8>) = match tensor {
                Data::F32(v) => (0, v.len(), v.iter().flat_map(|x| x.to_le_bytes()).collect()),
                Data::Q4(b) => (1, b.len() / 18 * 32, b.clone()),
            };
            out.extend((name.as_ref().len() as u16).to_le_bytes());
            out.extend(name.as_ref().as_bytes());
            out.push(code);
            out.extend((count as u32).to_le_bytes());
            out.extend((offset as u64).to_le_bytes());
            out.extend((bytes.len() as u64).to_le_bytes());
            offset += bytes.len();
            data.extend(bytes);
        }
        out.extend(data);
        out
    }

    /// One Q4_0 block: an fp16 scale (bits) and 32 quants in 0..16.
    pub fn block(scale_bits: u16, quants: &[u8; 32]) -> Vec<u8> {
        let mut b = scale_bits.to_le_bytes().to_vec();
        b.extend((0..16).map(|j| quants[j] | (quants[j + 16] << 4)));
        b
    }
}

#[cfg(test)]
mod tests {
    use super::build::{block, file, Data};
    use super::*;

    #[test]
    fn half_precision_scales() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3800), 0.5);
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8001), -(2f32.powi(-24)));
        assert_eq!(f16_to_f32(0x2e66), 0.099975586);
        assert!(f16_to_f32(0x7c00).is_infinite());
    }

    #[test]
    fn nibbles_low_first_then_high_and_centred_on_eight() {
        let mut quants = [8u8; 32];
        quants[0] = 0; // low nibble of byte 0: weight 0
        quants[16] = 15; // high nibble of byte 0: weight 16
        quants[1] = 9;
        quants[31] = 3;
        let b = block(0x3800, &quants); // scale 0.5
        assert_eq!(b.len(), BLOCK_BYTES);
        assert_eq!(b[2], 0xf0, "byte 0 holds weight 0 low and weight 16 high");
        let mut out = Vec::new();
        dequantize_blocks(&b, &mut out);
        assert_eq!(out.len(), 32);
        assert_eq!(out[0], -4.0);
        assert_eq!(out[16], 3.5);
        assert_eq!(out[1], 0.5);
        assert_eq!(out[31], -2.5);
        assert_eq!(out[2], 0.0);
        // A negative scale flips the signs.
        out.clear();
        dequantize_blocks(&block(0xbc00, &quants), &mut out);
        assert_eq!((out[0], out[16]), (8.0, -7.0));
    }

    fn tiny() -> Vec<u8> {
        let q: [u8; 32] = std::array::from_fn(|i| (i % 16) as u8);
        let mut blocks = block(0x3c00, &q);
        blocks.extend(block(0x4000, &[15; 32]));
        file([32, 1, 2, 64, 2, 4, 2], &[("emb.word", Data::Q4(blocks)), ("emb.ln.b", Data::F32(vec![0.25, -1.5]))])
    }

    #[test]
    fn a_hand_built_file_with_two_tensors() {
        let f = E5File::parse(tiny(), Path::new("tiny.bin")).unwrap();
        assert_eq!(f.shape.hidden, 32);
        assert_eq!(f.shape.vocab, 2);
        assert_eq!(f.shape.eps, 1e-12);
        assert_eq!(f.tensors.len(), 2);
        assert_eq!(f.tensors[0].dtype, Dtype::Q4_0);
        let word = f.values("emb.word", 64).unwrap();
        assert_eq!((word[0], word[1], word[15], word[16], word[31]), (-8.0, -7.0, 7.0, -8.0, 7.0));
        assert!(word[32..].iter().all(|&v| v == 14.0));
        assert_eq!(f.values("emb.ln.b", 2).unwrap(), vec![0.25, -1.5]);
        // Chunked reading gives the same values, block by block.
        let mut chunks = Vec::new();
        f.values_chunked("emb.word", 64, 32, |c| {
            chunks.push(c.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks.concat(), word);
        let e = f.values("emb.word", 63).unwrap_err().to_string();
        assert!(e.contains("tiny.bin") && e.contains("emb.word has 64 elements"), "{e}");
        let e = f.values("emb.pos", 8).unwrap_err().to_string();
        assert!(e.contains("emb.pos is missing"), "{e}");
    }

    #[test]
    fn bad_magic_is_refused_naming_the_file() {
        let mut bytes = tiny();
        bytes[..4].copy_from_slice(b"GGUF");
        let e = E5File::parse(bytes, Path::new("w/e5.bin")).unwrap_err().to_string();
        assert!(e.starts_with("w/e5.bin: bad magic"), "{e}");
        assert!(e.contains("\"47475546\""), "{e}");
    }

    #[test]
    fn truncation_is_refused_saying_what_is_cut() {
        let bytes = tiny();
        // Inside the header.
        let e = E5File::parse(bytes[..20].to_vec(), Path::new("e5.bin")).unwrap_err().to_string();
        assert!(e.starts_with("e5.bin: truncated: the intermediate size needs 4 bytes at offset 20"), "{e}");
        // Inside the tensor data: the directory points past the end.
        let e = E5File::parse(bytes[..bytes.len() - 3].to_vec(), Path::new("e5.bin")).unwrap_err().to_string();
        assert!(e.contains("truncated: tensor emb.ln.b (directory entry 1) lies at bytes"), "{e}");
    }

    #[test]
    fn an_unknown_dtype_is_refused() {
        let mut bytes = tiny();
        let at = bytes.windows(8).position(|w| w == b"emb.word").unwrap() + 8;
        bytes[at] = 7;
        let e = E5File::parse(bytes, Path::new("e5.bin")).unwrap_err().to_string();
        assert!(e.starts_with("e5.bin: tensor emb.word (directory entry 0): unknown dtype 7"), "{e}");
    }

    #[test]
    fn a_block_size_other_than_32_is_refused() {
        let mut bytes = tiny();
        // The block size follows magic, version, seven sizes and epsilon.
        bytes[40..44].copy_from_slice(&16i32.to_le_bytes());
        let e = E5File::parse(bytes, Path::new("e5.bin")).unwrap_err().to_string();
        assert!(e.contains("block size at offset 40 is 16"), "{e}");
    }
}
