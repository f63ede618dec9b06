//! The embedding cache: vectors already computed, in an SQLite database,
//! keyed by the model's identity and the text's sha256. It is only an
//! optimisation: deleting it changes timings, never results.
//!
//! SQLite in WAL mode lets several runs read and write at once without
//! corrupting it; a database that cannot be read is moved aside and rebuilt
//! with a warning rather than failing the run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::embed::{Embed, Embedded, LongText, Passage};
use crate::error::{Error, Result};

/// The default location: `$THEMES_CACHE`, else the platform cache folder.
pub fn default_path() -> PathBuf {
    if let Some(dir) = std::env::var_os("THEMES_CACHE") {
        return PathBuf::from(dir).join("embeddings.sqlite3");
    }
    dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("themes").join("embeddings.sqlite3")
}

/// An open cache.
pub struct Cache {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    text_sha256 BLOB NOT NULL,
    tokens INTEGER NOT NULL,
    truncated INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, text_sha256)
) WITHOUT ROWID;
";

impl Cache {
    /// Opens (creating if needed) the cache at `path`. A file that is not a
    /// readable cache is moved aside to `*.corrupt` and a new one is made.
    pub fn open(path: &Path) -> Result<Cache> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        match Self::try_open(path) {
            Ok(cache) => Ok(cache),
            Err(first) => {
                tracing::warn!("embedding cache {} is unreadable ({first}); rebuilding it", path.display());
                let aside = path.with_extension("sqlite3.corrupt");
                std::fs::rename(path, &aside).map_err(|e| Error::io(path, e))?;
                remove_side_files(path);
                Self::try_open(path).map_err(|e| cache_error(path, e))
            }
        }
    }

    fn try_open(path: &Path) -> rusqlite::Result<Cache> {
        let conn = Connection::open(path)?;
        // Another run may hold the write lock for a moment.
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        // Reading one row proves the file is a database and the table is sane.
        conn.query_row("SELECT count(*) FROM (SELECT 1 FROM embeddings LIMIT 1)", [], |_| Ok(()))?;
        Ok(Cache { conn, path: path.to_path_buf() })
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        cache_error(&self.path, e)
    }

    /// The cached embedding of `text` under `model`, if any: a vector of
    /// `dim` finite values, not all zero, followed by `spans` span vectors
    /// of the same kind. Anything else in the row (cut short, NaN, zeros)
    /// is not what this model made, so it counts as a miss and is computed
    /// and stored again.
    pub fn get(&self, model: &str, text: &str, dim: usize, spans: usize) -> Result<Option<Embedded>> {
        let hash = text_hash(text);
        let row = self
            .conn
            .query_row(
                "SELECT tokens, truncated, vector FROM embeddings WHERE model = ?1 AND text_sha256 = ?2",
                params![model, hash.as_slice()],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, Vec<u8>>(2)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(row.and_then(|(tokens, truncated, blob)| {
            let expected = dim * 4 * (1 + spans);
            if blob.len() != expected || tokens < 0 || dim == 0 {
                tracing::debug!("cache row for {model} holds {} bytes where {} vectors take {expected}; recomputing", blob.len(), 1 + spans);
                return None;
            }
            let values: Vec<f32> = blob.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            let mut vectors = values.chunks_exact(dim).map(<[f32]>::to_vec);
            let vector = vectors.next()?;
            let spans: Vec<Vec<f32>> = vectors.collect();
            let sound = |v: &Vec<f32>| v.iter().all(|x| x.is_finite()) && v.iter().any(|&x| x != 0.0);
            if !sound(&vector) || !spans.iter().all(sound) {
                tracing::debug!("cache row for {model} holds a vector that is not finite or all zero; recomputing");
                return None;
            }
            Some(Embedded { vector, tokens: tokens as usize, truncated: truncated != 0, windows: Vec::new(), spans })
        }))
    }

    /// Stores embeddings (each vector, then its spans') in one transaction.
    pub fn put_many(&mut self, model: &str, items: &[(&str, &Embedded)]) -> Result<()> {
        let tx = self.conn.transaction().map_err(|e| cache_error(&self.path, e))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO embeddings (model, text_sha256, tokens, truncated, vector) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(|e| cache_error(&self.path, e))?;
            for (text, e) in items {
                let blob: Vec<u8> =
                    e.vector.iter().chain(e.spans.iter().flatten()).flat_map(|x| x.to_le_bytes()).collect();
                stmt.execute(params![model, text_hash(text).as_slice(), e.tokens as i64, e.truncated as i64, blob])
                    .map_err(|e| cache_error(&self.path, e))?;
            }
        }
        tx.commit().map_err(|e| cache_error(&self.path, e))
    }
}

/// What a passage is cached and found by: whether it has spans, and a
/// plain text's own text, or a passage's span ranges and text together,
/// since its span vectors depend on both.
fn passage_key(passage: &Passage) -> (bool, String) {
    if passage.spans.is_empty() {
        return (false, passage.text.to_owned());
    }
    let ranges: Vec<String> = passage.spans.iter().map(|r| format!("{}-{}", r.start, r.end)).collect();
    (true, format!("{}\0{}", ranges.join(","), passage.text))
}

/// A cache error; `damaged` when SQLite says the file is corrupt or not a
/// database.
fn cache_error(path: &Path, e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    let damaged = matches!(&e, rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, DatabaseCorrupt | NotADatabase));
    Error::Cache { path: path.to_path_buf(), message: e.to_string(), damaged }
}

/// Removes a database's WAL and shared-memory files.
fn remove_side_files(path: &Path) {
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
}

fn text_hash(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The cache at its default place, or none with `no_cache`.
pub fn open_default(no_cache: bool) -> Result<Option<Cache>> {
    if no_cache {
        return Ok(None);
    }
    Cache::open(&default_path()).map(Some)
}

/// An embedder with an optional cache in front; counts what it computed.
pub struct CachedEmbedder<'a> {
    embedder: &'a dyn Embed,
    cache: Option<Cache>,
    long: LongText,
    /// Texts the model had to embed (cache misses).
    pub computed: usize,
    /// Texts found in the cache.
    pub reused: usize,
    /// Passages embedded ahead of their turn ([`CachedEmbedder::prefetch`]).
    ahead: HashMap<(bool, String), Embedded>,
}

impl<'a> CachedEmbedder<'a> {
    /// Wraps `embedder`; `cache` `None` means every text is embedded.
    pub fn new(embedder: &'a dyn Embed, cache: Option<Cache>, long: LongText) -> Self {
        CachedEmbedder { embedder, cache, long, computed: 0, reused: 0, ahead: HashMap::new() }
    }

    /// The wrapped embedder.
    pub fn embedder(&self) -> &'a dyn Embed {
        self.embedder
    }

    fn key(&self) -> String {
        let long = match self.long {
            LongText::Truncate => "truncate",
            LongText::Windows => "windows",
        };
        format!("{}|{long}", self.embedder.identity().key())
    }

    /// A cache that failed mid-run is dropped and the run goes on without
    /// it: the cache only saves time, so the output is the same as with
    /// `--no-cache`. A damaged one is also moved aside, so the next run
    /// makes a new one.
    fn give_up_cache(&mut self, err: &Error) {
        let Some(cache) = self.cache.take() else { return };
        let path = cache.path.clone();
        drop(cache);
        let damaged = matches!(err, Error::Cache { damaged: true, .. });
        let aside = path.with_extension("sqlite3.corrupt");
        if damaged && std::fs::rename(&path, &aside).is_ok() {
            remove_side_files(&path);
            tracing::warn!("{err}; moved it aside to {} and going on without a cache (a new one is made next run)", aside.display());
        } else {
            tracing::warn!("{err}; going on without a cache for this run (--no-cache skips it)");
        }
    }

    /// Embeds `texts` (normalized), reusing cached vectors. Window vectors
    /// of long texts are not cached; only the text vector is.
    pub fn embed(&mut self, texts: &[&str]) -> Result<Vec<Embedded>> {
        let passages: Vec<Passage> = texts.iter().map(|t| Passage::whole(t)).collect();
        self.embed_passages(&passages)
    }

    /// Embeds `passages` now, in one call, and keeps their vectors until
    /// the next prefetch: several small articles embedded together fill
    /// the model's batches, which one article alone does not. Vectors do
    /// not depend on what they were batched with, so this changes timings,
    /// never results. What an earlier call kept is dropped.
    pub fn prefetch(&mut self, passages: &[Passage]) -> Result<()> {
        self.ahead.clear();
        let embedded = self.embed_passages(passages)?;
        for (passage, e) in passages.iter().zip(embedded) {
            self.ahead.insert(passage_key(passage), e);
        }
        Ok(())
    }

    /// Embeds `passages` (normalized) with their spans, reusing cached
    /// vectors. A passage with spans is cached under its text and span
    /// ranges together, apart from plain texts, since its span vectors
    /// depend on both.
    pub fn embed_passages(&mut self, passages: &[Passage]) -> Result<Vec<Embedded>> {
        let plain_key = self.key();
        let spans_key = format!("{plain_key}|spans");
        let dim = self.embedder.dim();
        let model_key = |with_spans: bool| if with_spans { spans_key.as_str() } else { plain_key.as_str() };
        let keys: Vec<(bool, String)> = passages.iter().map(passage_key).collect();
        let mut out: Vec<Option<Embedded>> = vec![None; passages.len()];
        let mut missing: Vec<usize> = Vec::new();
        // The same passage twice in one call is embedded once.
        let mut first_of: HashMap<&(bool, String), usize> = HashMap::new();
        for (i, key) in keys.iter().enumerate() {
            if let Some(e) = self.ahead.get(key) {
                out[i] = Some(e.clone());
                continue;
            }
            let hit = match &self.cache {
                Some(cache) => cache.get(model_key(key.0), &key.1, dim, passages[i].spans.len()),
                None => Ok(None),
            };
            match hit {
                Ok(Some(hit)) => {
                    out[i] = Some(hit);
                    self.reused += 1;
                    continue;
                }
                Ok(None) => {}
                Err(err) => self.give_up_cache(&err),
            }
            if !first_of.contains_key(key) {
                first_of.insert(key, i);
                missing.push(i);
            }
        }
        if !missing.is_empty() {
            let batch: Vec<Passage> = missing.iter().map(|&i| passages[i]).collect();
            let computed = self.embedder.embed_passages(&batch, self.long)?;
            self.computed += computed.len();
            if let Some(cache) = &mut self.cache {
                for with_spans in [false, true] {
                    let items: Vec<(&str, &Embedded)> = missing
                        .iter()
                        .zip(&computed)
                        .filter(|(&i, _)| keys[i].0 == with_spans)
                        .map(|(&i, e)| (keys[i].1.as_str(), e))
                        .collect();
                    if items.is_empty() {
                        continue;
                    }
                    if let Err(err) = cache.put_many(model_key(with_spans), &items) {
                        self.give_up_cache(&err);
                        break;
                    }
                }
            }
            for (i, e) in missing.into_iter().zip(computed) {
                out[i] = Some(e);
            }
        }
        for i in 0..passages.len() {
            if out[i].is_none() {
                out[i] = out[first_of[&keys[i]]].clone();
            }
        }
        // Every slot is filled above: hits from the cache, misses from the
        // model, repeats from their first occurrence.
        out.into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::Usage("internal error: an embedding went missing".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corrupt_file_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite3");
        let mut cache = Cache::open(&path).unwrap();
        let e = Embedded { vector: vec![0.5, -1.0], tokens: 7, truncated: true, windows: Vec::new(), spans: Vec::new() };
        cache.put_many("m", &[("hello", &e)]).unwrap();
        let back = cache.get("m", "hello", 2, 0).unwrap().unwrap();
        assert_eq!(back.vector, e.vector);
        assert_eq!((back.tokens, back.truncated), (7, true));
        assert!(cache.get("other model", "hello", 2, 0).unwrap().is_none());
        assert!(cache.get("m", "hello", 2, 1).unwrap().is_none(), "a row without the spans asked for is a miss");
        let with_spans = Embedded { spans: vec![vec![1.0, 0.0], vec![0.0, 2.0]], ..e.clone() };
        cache.put_many("m", &[("spans", &with_spans)]).unwrap();
        assert_eq!(cache.get("m", "spans", 2, 2).unwrap().unwrap().spans, with_spans.spans);
        drop(cache);
        std::fs::write(&path, b"this is not a database, it is garbage garbage garbage").unwrap();
        let cache = Cache::open(&path).unwrap();
        assert!(cache.get("m", "hello", 2, 0).unwrap().is_none());
    }

    fn texts(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("paragraph number {i} about chips, seas and summits {}", i * 7919)).collect()
    }

    #[test]
    fn a_damaged_page_is_moved_aside_and_the_vectors_are_those_of_no_cache() {
        // Small vectors, so the last pages damaged are the table's own
        // pages, not a long vector's overflow pages.
        let fake = crate::fake::FakeEmbedder::with_dim(64);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite3");
        let owned = texts(400);
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        let fresh = fake.embed(&refs, LongText::Windows).unwrap();
        CachedEmbedder::new(&fake, Some(Cache::open(&path).unwrap()), LongText::Windows).embed(&refs).unwrap();
        // Random bytes over the last pages: the first page, which opening
        // reads, stays sound, so the damage is met in the middle of a run.
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len > 16 * 4096, "{len}");
        let mut bytes = std::fs::read(&path).unwrap();
        let mut x = 7u32;
        for b in &mut bytes[(len as usize - 3 * 4096)..] {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        std::fs::write(&path, bytes).unwrap();
        let mut cached = CachedEmbedder::new(&fake, Some(Cache::open(&path).unwrap()), LongText::Windows);
        let again = cached.embed(&refs).expect("a damaged cache does not fail the run");
        for (a, b) in again.iter().zip(&fresh) {
            assert_eq!(a.vector, b.vector);
        }
        assert!(path.with_extension("sqlite3.corrupt").exists(), "the damaged file is kept aside");
        assert!(cached.cache.is_none());
        let reopened = Cache::open(&path).unwrap();
        assert!(reopened.get(&cached.key(), refs[0], fake.dim(), 0).unwrap().is_none(), "a new, empty cache");
    }

    #[test]
    fn short_nan_and_zero_vectors_are_misses_and_are_recomputed() {
        let fake = crate::fake::FakeEmbedder::new();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite3");
        let owned = texts(3);
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        let fresh = fake.embed(&refs, LongText::Windows).unwrap();
        let mut cached = CachedEmbedder::new(&fake, Some(Cache::open(&path).unwrap()), LongText::Windows);
        cached.embed(&refs).unwrap();
        let key = cached.key();
        let conn = Connection::open(&path).unwrap();
        let bad: [Vec<u8>; 3] = [vec![0u8; 8], f32::NAN.to_le_bytes().repeat(fake.dim()), vec![0u8; 4 * fake.dim()]];
        for (text, blob) in refs.iter().zip(bad) {
            let n = conn
                .execute("UPDATE embeddings SET vector = ?1 WHERE model = ?2 AND text_sha256 = ?3", params![blob, key, text_hash(text).as_slice()])
                .unwrap();
            assert_eq!(n, 1);
        }
        let mut cached = CachedEmbedder::new(&fake, Some(Cache::open(&path).unwrap()), LongText::Windows);
        let again = cached.embed(&refs).unwrap();
        assert_eq!((cached.reused, cached.computed), (0, 3), "every bad row was a miss");
        for (a, b) in again.iter().zip(&fresh) {
            assert_eq!(a.vector, b.vector);
        }
        let mut cached = CachedEmbedder::new(&fake, Some(Cache::open(&path).unwrap()), LongText::Windows);
        cached.embed(&refs).unwrap();
        assert_eq!(cached.reused, 3, "the recomputed vectors replaced the bad rows");
    }
}
