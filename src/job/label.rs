//! The label job: every paragraph of the inputs through the engine and into
//! rows, with what long runs need around it: articles counted and numbered
//! before any work, a shard's range, `--keep-going`, the journal that makes
//! a run resumable, and the manifest a shard leaves for `merge`.

use std::ops::Range;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::engine::{joins_group, Engine, Prediction};
use crate::count;
use crate::error::{Error, Location, Result};
use crate::input::{discover, no_inputs, read_each, Article, Fields, Source, UniqueIds};
use crate::journal::{journal_path, Journal, Outputs};
use crate::output::{LabelRow, RowFormat, RowWriter};
use crate::shard::{count_articles, Manifest, ShardSpec, Skipped};

/// What the run tells its caller as it goes (progress, skipped files,
/// notes); the CLI draws them, tests record them.
pub trait Observer {
    /// `articles` more articles are done (labelled, skipped or resumed),
    /// holding `paragraphs` paragraphs (0 for what was skipped).
    fn advanced(&mut self, articles: u64, paragraphs: u64);
    /// A file or article was skipped (`--keep-going`): why, with where.
    fn skipped(&mut self, message: &str);
    /// Something worth saying that is not a problem.
    fn note(&mut self, message: &str);
    /// Something the user should know about the output (the rows are
    /// written, but some deserve doubt).
    fn warning(&mut self, message: &str);
}

/// Where finished articles go: the journal beside `--out`, or rows
/// straight to standard output.
pub trait RowSink {
    /// Writes (or commits) one article's rows.
    fn article(&mut self, id: &str, rows: &[LabelRow]) -> Result<()>;
}

impl RowSink for Journal {
    fn article(&mut self, id: &str, rows: &[LabelRow]) -> Result<()> {
        self.append(id, rows)
    }
}

impl RowSink for RowWriter {
    fn article(&mut self, _: &str, rows: &[LabelRow]) -> Result<()> {
        self.write_article(rows)
    }
}

/// The inputs, found and counted before anything is labelled: every
/// article's ordinal is a function of these alone.
#[derive(Debug)]
pub struct InputPlan {
    /// The sources in sorted order.
    pub sources: Vec<Source>,
    /// Articles per source (0 for standard input, counted as it is read).
    pub counts: Vec<usize>,
    /// Why a source could not even be counted (`--keep-going`), by index.
    pub unreadable: Vec<Option<String>>,
    /// The articles' meta keys (their JSONL and CSV fields besides id and
    /// text), each once, sorted: the CSV output's `meta_` columns.
    pub meta_keys: Vec<String>,
    /// The id and text fields of JSONL and CSV inputs.
    pub fields: Fields,
}

impl InputPlan {
    /// Finds, counts and checks the inputs before anything is labelled:
    /// every file is read and parsed (and dropped: only ids are kept), and
    /// article ids are checked to be unique across files, so that a bad
    /// file or a repeated id stops the run before its first paragraph is
    /// embedded (standard input is checked as it is read). With
    /// `keep_going`, what is bad (a file, a JSONL line, a repeated id) is
    /// reported to `observer` here and skipped by the run; a source that
    /// cannot be counted counts as no articles, as on every machine that
    /// cannot read it either.
    pub fn count(inputs: &[PathBuf], fields: &Fields, keep_going: bool, observer: &mut dyn Observer) -> Result<InputPlan> {
        let sources = discover(inputs, fields)?;
        if sources.is_empty() {
            return Err(no_inputs());
        }
        let mut plan = InputPlan {
            counts: Vec::with_capacity(sources.len()),
            unreadable: Vec::new(),
            sources: Vec::new(),
            meta_keys: Vec::new(),
            fields: fields.clone(),
        };
        let mut ids = UniqueIds::default();
        let mut meta_keys = std::collections::BTreeSet::new();
        for source in &sources {
            let counted = if source.is_stdin() { Ok(0) } else { count_articles(source) };
            let checked = counted.and_then(|n| {
                plan.counts.push(n);
                if source.is_stdin() {
                    return Ok(());
                }
                for (_, entry) in read_each(source)? {
                    if let Ok(article) = &entry {
                        meta_keys.extend(article.meta.keys().cloned());
                    }
                    match entry.and_then(|article| ids.insert(&article)) {
                        Err(err) if keep_going => observer.skipped(&err.to_string()),
                        other => other?,
                    }
                }
                Ok(())
            });
            match checked {
                Ok(()) => plan.unreadable.push(None),
                Err(err) if keep_going => {
                    plan.counts.resize(plan.unreadable.len() + 1, 0);
                    plan.unreadable.push(Some(err.to_string()));
                    observer.skipped(&err.to_string());
                }
                Err(err) => return Err(stopped(err)),
            }
        }
        plan.sources = sources;
        plan.meta_keys = meta_keys.into_iter().collect();
        Ok(plan)
    }

    /// Articles in all sources.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// Whether standard input is among the sources.
    pub fn reads_stdin(&self) -> bool {
        self.sources.iter().any(Source::is_stdin)
    }

    /// A digest of the inputs' layout (paths as given and article counts):
    /// the same on every machine that sees the same files under the same
    /// names, so shards can check they belong to one plan.
    pub fn layout_digest(&self) -> String {
        let mut hash = Sha256::new();
        for (source, count) in self.sources.iter().zip(&self.counts) {
            hash.update(source.path.to_string_lossy().as_bytes());
            hash.update([0]);
            hash.update(count.to_le_bytes());
        }
        hex::encode(hash.finalize())
    }

    /// What a journal must match to be resumed: the run (model, labels,
    /// options), the part, and each input's path, size and modification
    /// time on this machine.
    pub fn files_digest(&self, run_id: &str, shard: Option<ShardSpec>) -> String {
        let mut hash = Sha256::new();
        hash.update(run_id.as_bytes());
        hash.update(shard.map(|s| s.to_string()).unwrap_or_default().as_bytes());
        hash.update(format!("{}\0{}\0", self.fields.id, self.fields.text).as_bytes());
        for source in &self.sources {
            hash.update(source.path.to_string_lossy().as_bytes());
            if let Ok(meta) = std::fs::metadata(&source.path) {
                hash.update(meta.len().to_le_bytes());
                if let Ok(modified) = meta.modified() {
                    let since = modified.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                    hash.update(since.as_nanos().to_le_bytes());
                }
            }
        }
        hex::encode(hash.finalize())
    }
}

fn stopped(err: Error) -> Error {
    err.context("stopped (--keep-going skips files that cannot be read)")
}

/// Where the rows of a run with `--out` go.
#[derive(Debug, Clone)]
pub struct OutPlan {
    /// The output file.
    pub path: PathBuf,
    /// Go on from the journal of an interrupted run.
    pub resume: bool,
}

/// A validated label run.
#[derive(Debug)]
pub struct LabelPlan {
    /// The inputs, counted.
    pub inputs: InputPlan,
    /// `--shard I/N`.
    pub shard: Option<ShardSpec>,
    /// Report bad files and go on.
    pub keep_going: bool,
    /// `--out` (journal, resume); `None`: rows to standard output.
    pub out: Option<OutPlan>,
    /// Row format.
    pub format: RowFormat,
    /// Where the article summaries go.
    pub summary: Option<PathBuf>,
}

impl LabelPlan {
    /// Checks the options against the inputs.
    pub fn new(
        inputs: InputPlan,
        shard: Option<ShardSpec>,
        keep_going: bool,
        out: Option<OutPlan>,
        format: RowFormat,
        summary: Option<PathBuf>,
    ) -> Result<LabelPlan> {
        let resume = out.as_ref().is_some_and(|o| o.resume);
        if inputs.reads_stdin() && (resume || shard.is_some()) {
            return Err(Error::Usage(
                "--resume and --shard need files: standard input cannot be read twice or split".to_owned(),
            ));
        }
        Ok(LabelPlan { inputs, shard, keep_going, out, format, summary })
    }

    /// The article ordinals this run labels.
    pub fn range(&self) -> Range<usize> {
        match self.shard {
            Some(spec) => spec.range(self.inputs.total()),
            None => 0..usize::MAX,
        }
    }

    /// Articles this run will go through (0 when unknown: standard input).
    pub fn articles(&self) -> usize {
        if self.inputs.reads_stdin() {
            return 0;
        }
        let (range, total) = (self.range(), self.inputs.total());
        range.end.min(total) - range.start.min(total)
    }
}

/// What a label run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelOutcome {
    /// Articles written (resumed ones included).
    pub articles: usize,
    /// Paragraph rows written (resumed ones included).
    pub paragraphs: usize,
    /// Articles an interrupted run had done.
    pub resumed: usize,
    /// Texts the model embedded, and texts taken from the cache.
    pub embedded: (usize, usize),
    /// What was skipped (`--keep-going`).
    pub skipped: Vec<Skipped>,
}

impl LabelOutcome {
    /// The run's last line: articles and paragraphs written, the time
    /// taken, the texts of the inputs' paragraphs (with their sentences,
    /// clauses and list items) that the model embedded and that were found
    /// in the cache (the label set's own texts are not counted), and how
    /// many files, lines or articles were skipped.
    /// `out` names where the rows went (standard output when `None`).
    pub fn summary(&self, elapsed: std::time::Duration, out: Option<&std::path::Path>) -> String {
        let resumed = match self.resumed {
            0 => String::new(),
            n => format!(", {} done before resuming", count(n, "article")),
        };
        let out = out.map_or_else(|| "standard output".to_owned(), |p| p.display().to_string());
        format!(
            "labelled {}, {} in {:.1} s → {out} ({} embedded, {} from the cache{resumed}); {} skipped",
            count(self.articles, "article"),
            count(self.paragraphs, "paragraph"),
            elapsed.as_secs_f32(),
            count(self.embedded.0, "text"),
            self.embedded.1,
            self.skipped.len()
        )
    }
}

/// The run's identity for journals and manifests: model, label set, how
/// long texts are read, and the head.
pub fn run_id(engine: &Engine) -> String {
    let head = engine.head().map(|h| h.digest.clone()).unwrap_or_default();
    let labels = engine.set().hash();
    let model = engine.model().identity().key();
    let json = serde_json::json!({ "model": model, "labels": labels, "long": "windows", "head": head });
    hex::encode(Sha256::digest(json.to_string()))
}

/// Labels every article of the plan through `engine`.
pub fn run(plan: &LabelPlan, engine: &mut Engine, languages: &[String], observer: &mut dyn Observer) -> Result<LabelOutcome> {
    let ids = engine.set().ids();
    let run_id = run_id(engine);
    match &plan.out {
        None => {
            let meta = &plan.inputs.meta_keys;
            let mut writer = RowWriter::create(None, plan.format, plan.summary.as_deref(), &ids, meta)?;
            let outcome = Labeller::new(plan, engine, languages, &[]).run(&mut writer, observer)?;
            writer.finish()?;
            Ok(outcome)
        }
        Some(out) => {
            let (mut journal, done) = open_journal(plan, out, &run_id, observer)?;
            let outcome = Labeller::new(plan, engine, languages, &done).run(&mut journal, observer)?;
            let outputs = Outputs { out: &out.path, format: plan.format, summary: plan.summary.as_deref(), ids: &ids };
            let totals = journal.finish(&outputs)?;
            if let Some(shard) = plan.shard {
                let range = plan.range();
                Manifest {
                    shard,
                    first: range.start,
                    end: range.end,
                    total: plan.inputs.total(),
                    plan: plan.inputs.layout_digest(),
                    run: run_id,
                    labels: ids,
                    articles: totals.articles,
                    paragraphs: totals.paragraphs,
                    skipped: outcome.skipped.clone(),
                    sha256: String::new(),
                }
                .write(&out.path)?;
            }
            Ok(outcome)
        }
    }
}

/// Creates the journal, or reopens it with `--resume`; returns it with the
/// ids of the articles it already holds.
fn open_journal(plan: &LabelPlan, out: &OutPlan, run_id: &str, observer: &mut dyn Observer) -> Result<(Journal, Vec<String>)> {
    let path = journal_path(&out.path);
    let fingerprint = plan.inputs.files_digest(run_id, plan.shard);
    let mut journal = if out.resume {
        if !path.exists() {
            observer.note(&format!("no journal at {}; starting from the first article", path.display()));
        }
        let journal = Journal::resume(&path, &fingerprint)?;
        if !journal.done.is_empty() {
            observer.note(&format!("resuming: {} already done in {}", count(journal.done.len(), "article"), path.display()));
        }
        journal
    } else {
        if path.exists() {
            observer.warning(&format!("{} holds an interrupted run; starting over (use --resume to go on from it)", path.display()));
        }
        Journal::create(&path, &fingerprint)?
    };
    let done = std::mem::take(&mut journal.done);
    Ok((journal, done))
}

/// One pass over the plan's articles.
struct Labeller<'p, 'e, 'a> {
    plan: &'p LabelPlan,
    engine: &'e mut Engine<'a>,
    languages: &'p [String],
    /// Articles an interrupted run completed, in order.
    done: &'p [String],
    range: Range<usize>,
    ids: UniqueIds,
    outcome: LabelOutcome,
    /// Articles mostly in a language the model does not read, with it.
    foreign: Vec<(String, String)>,
    /// Paragraphs in such a language in the other articles, and in how many.
    foreign_paragraphs: (usize, usize),
}

impl<'p, 'e, 'a> Labeller<'p, 'e, 'a> {
    fn new(plan: &'p LabelPlan, engine: &'e mut Engine<'a>, languages: &'p [String], done: &'p [String]) -> Self {
        let range = plan.range();
        let (ids, outcome) = (UniqueIds::default(), LabelOutcome::default());
        Labeller { plan, engine, languages, done, range, ids, outcome, foreign: Vec::new(), foreign_paragraphs: (0, 0) }
    }

    fn run(mut self, sink: &mut dyn RowSink, observer: &mut dyn Observer) -> Result<LabelOutcome> {
        let inputs = &self.plan.inputs;
        // Texts embedded for the label set's prototypes are not the run's.
        let before = self.engine.embedded();
        let mut ordinal = 0usize;
        // Articles read but not yet labelled: labelled together once they
        // hold enough paragraphs, and before anything else is reported, so
        // the order of rows and messages is that of the inputs.
        let mut pending: Vec<Article> = Vec::new();
        for ((source, &count), unreadable) in inputs.sources.iter().zip(&inputs.counts).zip(&inputs.unreadable) {
            let base = ordinal;
            ordinal += count;
            let overlap = base.max(self.range.start)..(base + count).min(self.range.end);
            // A file outside this part's range is the business of another
            // part; one with no articles is every part's (its error is
            // reported by all).
            if !source.is_stdin() && count > 0 && overlap.is_empty() {
                continue;
            }
            if let Some(reason) = unreadable {
                self.flush(&mut pending, sink, observer)?;
                self.skip(source.path.display().to_string(), overlap.len(), reason.clone(), None);
                observer.advanced(overlap.len() as u64, 0);
                continue;
            }
            let entries = match read_each(source) {
                Ok(entries) => entries,
                Err(err) if self.plan.keep_going => {
                    self.flush(&mut pending, sink, observer)?;
                    self.skip(source.path.display().to_string(), overlap.len(), err.to_string(), Some(observer));
                    observer.advanced(overlap.len() as u64, 0);
                    continue;
                }
                Err(err) => return Err(stopped(err)),
            };
            if !source.is_stdin() && entries.len() != count {
                return Err(Error::Usage(format!(
                    "{}: changed while being read (found {} articles, counted {count})",
                    source.path.display(),
                    entries.len()
                )));
            }
            for (k, (location, entry)) in entries.into_iter().enumerate() {
                if !source.is_stdin() && !self.range.contains(&(base + k)) {
                    continue;
                }
                let article = match entry {
                    Ok(article) => article,
                    Err(err) => {
                        self.flush(&mut pending, sink, observer)?;
                        self.bad_entry(source, location, err, observer)?;
                        continue;
                    }
                };
                let held = pending.iter().map(|a| a.paragraphs.len()).sum();
                if !joins_group(pending.len(), held, article.paragraphs.len()) {
                    self.flush(&mut pending, sink, observer)?;
                }
                pending.push(article);
            }
        }
        self.flush(&mut pending, sink, observer)?;
        if self.outcome.resumed < self.done.len() {
            return Err(Error::Usage(format!(
                "the journal holds {} articles but the inputs give only {} of them: the inputs changed since the interrupted run; run without --resume to start over",
                self.done.len(),
                self.outcome.resumed
            )));
        }
        let after = self.engine.embedded();
        self.outcome.embedded = (after.0 - before.0, after.1 - before.1);
        if let Some(warning) = language_warning(&self.foreign, self.foreign_paragraphs) {
            observer.warning(&warning);
        }
        Ok(self.outcome)
    }

    /// Labels the pending articles, embedding them together first.
    fn flush(&mut self, pending: &mut Vec<Article>, sink: &mut dyn RowSink, observer: &mut dyn Observer) -> Result<()> {
        // Articles an interrupted run already did are skipped, not embedded.
        let resuming = self.done.len().saturating_sub(self.outcome.resumed);
        let ahead: Vec<&Article> = pending.iter().skip(resuming).collect();
        self.engine.prefetch(&ahead);
        for article in pending.drain(..) {
            self.article(&article, sink, observer)?;
        }
        Ok(())
    }

    /// A JSONL line that is not an article: skipped with --keep-going (it
    /// was reported when the inputs were checked; standard input's now),
    /// else the end of the run.
    fn bad_entry(&mut self, source: &Source, location: Location, err: Error, observer: &mut dyn Observer) -> Result<()> {
        if !self.plan.keep_going {
            return Err(stopped(err));
        }
        match source.is_stdin() {
            true => self.skip(location.to_string(), 1, err.to_string(), Some(observer)),
            false => self.skip(location.to_string(), 1, err.to_string(), None),
        }
        observer.advanced(1, 0);
        Ok(())
    }

    /// Remembers an article whose rows are flagged for their language: by
    /// name when most of its paragraphs are, else as a count.
    fn note_language(&mut self, article: &Article, rows: &[LabelRow]) {
        let flagged: Vec<&str> = rows.iter().filter_map(|r| r.notes.iter().find_map(|f| f.strip_prefix("language:"))).collect();
        if flagged.len() * 2 > rows.len() {
            let mut codes: Vec<&str> = flagged.clone();
            codes.sort_unstable();
            let most = codes.chunk_by(|a, b| a == b).max_by_key(|c| c.len()).map_or("", |c| c[0]);
            let name = match article.source.line {
                None => article.source.path.file_name().map_or_else(|| article.id.clone(), |n| n.to_string_lossy().into_owned()),
                Some(_) => article.id.clone(),
            };
            self.foreign.push((name, most.to_owned()));
        } else if !flagged.is_empty() {
            self.foreign_paragraphs.0 += flagged.len();
            self.foreign_paragraphs.1 += 1;
        }
    }

    fn skip(&mut self, location: String, articles: usize, reason: String, observer: Option<&mut dyn Observer>) {
        if let Some(observer) = observer {
            observer.skipped(&reason);
        }
        self.outcome.skipped.push(Skipped { location, articles, reason });
    }

    /// One article: checked for a repeated id, skipped when an interrupted
    /// run already did it, else labelled and written.
    fn article(&mut self, article: &Article, sink: &mut dyn RowSink, observer: &mut dyn Observer) -> Result<()> {
        if let Err(err) = self.ids.insert(article) {
            if !self.plan.keep_going {
                return Err(err);
            }
            // Reported when the inputs were checked, unless read from standard input.
            match article.source.path.as_os_str() == "-" {
                true => self.skip(article.source.to_string(), 1, err.to_string(), Some(observer)),
                false => self.skip(article.source.to_string(), 1, err.to_string(), None),
            }
            observer.advanced(1, 0);
            return Ok(());
        }
        let resumed = self.outcome.resumed;
        if resumed < self.done.len() {
            if self.done[resumed] != article.id {
                return Err(Error::Usage(format!(
                    "the journal's article {} is {:?} but the inputs give {:?} there: the inputs changed since the interrupted run; run without --resume to start over",
                    resumed + 1,
                    self.done[resumed],
                    article.id
                )));
            }
            self.outcome.resumed += 1;
        } else {
            let predictions = self
                .engine
                .label(article)
                .map_err(|e| e.context(format!("labelling article {} ({})", article.id, article.source)))?;
            let rows = rows(article, &predictions, &self.engine.set().ids(), self.languages);
            self.note_language(article, &rows);
            sink.article(&article.id, &rows)?;
        }
        self.outcome.articles += 1;
        self.outcome.paragraphs += article.paragraphs.len();
        observer.advanced(1, article.paragraphs.len() as u64);
        Ok(())
    }
}

/// An article's rows as written: every label's score, evidence for the
/// assigned labels, a note on paragraphs in a language the model does not
/// read, the article's meta on each (numbers are rounded when written).
pub fn rows(article: &Article, predictions: &[Prediction], ids: &[String], languages: &[String]) -> Vec<LabelRow> {
    let mut rows = Vec::with_capacity(predictions.len());
    for (p, text) in predictions.iter().zip(&article.paragraphs) {
        let mut flags = Vec::new();
        if let Some(lang) = crate::lang::uncovered_language(text, languages) {
            flags.push(format!("language:{lang}"));
        }
        rows.push(LabelRow {
            article: article.id.clone(),
            paragraph: p.paragraph,
            text: text.clone(),
            labels: p.labels.iter().map(|&j| ids[j].clone()).collect(),
            scores: ids.iter().cloned().zip(p.scores.iter().copied()).collect(),
            evidence: p
                .labels
                .iter()
                .map(|&j| {
                    let ev = p.evidence[j].iter().filter_map(|e| serde_json::to_value(e).ok()).collect();
                    (ids[j].clone(), ev)
                })
                .collect(),
            notes: flags,
            meta: article.meta.clone(),
        });
    }
    rows
}

/// The end-of-run warning about text the model does not read: the articles
/// mostly in such a language, by language and name (the first ten), and
/// the paragraphs of that kind in other articles.
fn language_warning(foreign: &[(String, String)], (paragraphs, articles): (usize, usize)) -> Option<String> {
    let mut parts = Vec::new();
    let mut codes: Vec<&str> = foreign.iter().map(|(_, code)| code.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    for code in codes {
        let names: Vec<&str> = foreign.iter().filter(|(_, c)| c == code).map(|(n, _)| n.as_str()).collect();
        let (is, shown) = if names.len() == 1 { ("is", &names[..]) } else { ("are", &names[..names.len().min(10)]) };
        let more = if names.len() > shown.len() { format!(" and {} more", names.len() - shown.len()) } else { String::new() };
        parts.push(format!(
            "{} {is} mostly {}, which the model does not read: {}{more} (their rows are flagged language:{code})",
            count(names.len(), "article"),
            crate::lang::language_name(code),
            shown.join(", ")
        ));
    }
    if paragraphs > 0 {
        let (them, other) = (count(paragraphs, "paragraph"), count(articles, "other article"));
        let are = if paragraphs == 1 { "is" } else { "are" };
        parts.push(format!("{them} of {other} {are} in a language the model does not read (flagged language:...)"));
    }
    (!parts.is_empty()).then(|| format!("{}; their scores rest on aliases alone: see --model in the README for a multilingual model", parts.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeEmbedder;
    use crate::labels::LabelSet;
    use std::path::Path;

    #[derive(Default)]
    struct Record {
        advanced: u64,
        skipped: Vec<String>,
        notes: Vec<String>,
        warnings: Vec<String>,
    }

    impl Observer for Record {
        fn advanced(&mut self, articles: u64, _: u64) {
            self.advanced += articles;
        }
        fn warning(&mut self, message: &str) {
            self.warnings.push(message.to_owned());
        }
        fn skipped(&mut self, message: &str) {
            self.skipped.push(message.to_owned());
        }
        fn note(&mut self, message: &str) {
            self.notes.push(message.to_owned());
        }
    }

    const ARTICLES: [(&str, &str); 3] = [
        ("a.txt", "Vietnam and the US pledge chip cooperation\nSemiconductor plants open near Hanoi.\nThe deal covers chip packaging."),
        ("b.txt", "ASEAN ministers meet\nThe ASEAN summit discussed the South China Sea code of conduct."),
        ("c.jsonl", "{\"id\": \"c1\", \"text\": \"War legacy\\nUnexploded ordnance is cleared in Quang Tri.\"}\n{\"id\": \"c2\", \"text\": \"Short note.\"}\n"),
    ];

    fn inputs(dir: &Path) -> Vec<PathBuf> {
        for (name, text) in ARTICLES {
            std::fs::write(dir.join(name), text).unwrap();
        }
        vec![dir.to_path_buf()]
    }

    fn label(dir: &Path, shard: Option<ShardSpec>, out: Option<OutPlan>, keep_going: bool) -> (Result<LabelOutcome>, Record) {
        let fake = FakeEmbedder::new();
        let set = LabelSet::builtin().unwrap();
        let mut engine = Engine::new(&fake, None, &set, None).unwrap();
        let mut record = Record::default();
        let outcome = InputPlan::count(&[dir.join("in")], &Fields::default(), keep_going, &mut record)
            .and_then(|inputs| LabelPlan::new(inputs, shard, keep_going, out, RowFormat::Jsonl, None))
            .and_then(|plan| run(&plan, &mut engine, &["en".to_owned()], &mut record));
        (outcome, record)
    }

    fn out(dir: &Path, name: &str, resume: bool) -> Option<OutPlan> {
        Some(OutPlan { path: dir.join(name), resume })
    }

    fn keys(path: &Path) -> Vec<(String, usize)> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<LabelRow>(l).unwrap())
            .map(|r| (r.article, r.paragraph))
            .collect()
    }

    #[test]
    fn every_paragraph_gets_one_row_in_input_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        inputs(&dir.path().join("in"));
        let (outcome, record) = label(dir.path(), None, out(dir.path(), "all.jsonl", false), false);
        let outcome = outcome.unwrap();
        assert_eq!((outcome.articles, outcome.paragraphs, outcome.resumed), (4, 8, 0));
        assert_eq!(record.advanced, 4);
        let want: Vec<(String, usize)> =
            [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2), ("c1", 1), ("c1", 2), ("c2", 1)].map(|(a, p)| (a.to_owned(), p)).into();
        assert_eq!(keys(&dir.path().join("all.jsonl")), want);
        assert!(!journal_path(&dir.path().join("all.jsonl")).exists(), "the journal is gone once the output is written");
    }

    #[test]
    fn a_resumed_run_writes_what_an_uninterrupted_one_does() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        inputs(&dir.path().join("in"));
        label(dir.path(), None, out(dir.path(), "whole.jsonl", false), false).0.unwrap();
        // An interrupted run: its journal holds articles a and b.
        let partial = dir.path().join("cut.jsonl");
        let whole = std::fs::read_to_string(dir.path().join("whole.jsonl")).unwrap();
        let plan = InputPlan::count(&[dir.path().join("in")], &Fields::default(), false, &mut Record::default()).unwrap();
        let fake = FakeEmbedder::new();
        let set = LabelSet::builtin().unwrap();
        let engine = Engine::new(&fake, None, &set, None).unwrap();
        let mut journal = Journal::create(&journal_path(&partial), &plan.files_digest(&run_id(&engine), None)).unwrap();
        let rows: Vec<LabelRow> = whole.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        journal.append("a", &rows[..3]).unwrap();
        journal.append("b", &rows[3..5]).unwrap();
        drop(journal);
        let (outcome, record) = label(dir.path(), None, out(dir.path(), "cut.jsonl", true), false);
        assert_eq!(outcome.unwrap().resumed, 2);
        assert!(record.notes.iter().any(|n| n.starts_with("resuming: 2 articles")), "{:?}", record.notes);
        assert_eq!(std::fs::read_to_string(&partial).unwrap(), whole);
    }

    #[test]
    fn shards_take_balanced_ranges_and_leave_manifests() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        inputs(&dir.path().join("in"));
        let mut all = Vec::new();
        for index in 1..=3 {
            let name = format!("part{index}.jsonl");
            let (outcome, _) = label(dir.path(), Some(ShardSpec { index, count: 3 }), out(dir.path(), &name, false), false);
            assert!(outcome.unwrap().articles <= 2);
            let manifest = Manifest::read(&dir.path().join(&name)).unwrap();
            assert_eq!(manifest.total, 4);
            all.extend(keys(&dir.path().join(&name)));
        }
        assert_eq!(all.len(), 8, "the parts hold every paragraph once: {all:?}");
        let stdin = InputPlan::count(&[PathBuf::from("-")], &Fields::default(), false, &mut Record::default()).unwrap();
        let err = LabelPlan::new(stdin, Some(ShardSpec { index: 1, count: 2 }), false, None, RowFormat::Jsonl, None).unwrap_err();
        assert!(err.to_string().contains("--resume and --shard need files"), "{err}");
    }

    #[test]
    fn keep_going_skips_a_bad_file_and_a_repeated_id() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::create_dir(&input).unwrap();
        inputs(&input);
        std::fs::write(input.join("d.txt"), b"ok\n\xff\n").unwrap();
        std::fs::write(input.join("e.jsonl"), "{\"id\": \"a\", \"text\": \"again\"}\n").unwrap();
        let (err, record) = label(dir.path(), None, out(dir.path(), "x.jsonl", false), false);
        let err = err.unwrap_err();
        let chain = format!("{err}: {}", std::error::Error::source(&err).map(|e| e.to_string()).unwrap_or_default());
        assert!(chain.contains("--keep-going") && chain.contains("d.txt:2: invalid UTF-8"), "{chain}");
        assert!(!dir.path().join("x.jsonl").exists(), "a stopped run writes no output");
        assert!(
            !journal_path(&dir.path().join("x.jsonl")).exists(),
            "the inputs are checked before the first article is labelled: no journal"
        );
        assert_eq!(record.advanced, 0);
        let (outcome, record) = label(dir.path(), None, out(dir.path(), "x.jsonl", false), true);
        let outcome = outcome.unwrap();
        assert_eq!(outcome.skipped.len(), 2, "{:?}", outcome.skipped);
        assert!(record.skipped[1].contains("article id \"a\" is also the id of"), "{:?}", record.skipped);
        assert_eq!(outcome.articles, 4);
    }

    #[test]
    fn keep_going_skips_a_bad_line_not_its_file_and_keeps_the_ordinals() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::create_dir(&input).unwrap();
        inputs(&input);
        let c = "{\"id\": \"c1\", \"text\": \"War legacy\"}\n{\"id\": \"c9\"}\n{\"id\": \"c2\", \"text\": \"Short note.\"}\n";
        std::fs::write(input.join("c.jsonl"), c).unwrap();
        let (outcome, record) = label(dir.path(), None, out(dir.path(), "all.jsonl", false), true);
        let outcome = outcome.unwrap();
        assert_eq!(outcome.articles, 4, "a, b, c1 and c2: the file's valid articles are kept");
        assert_eq!(record.skipped.len(), 1, "reported once: {:?}", record.skipped);
        assert!(record.skipped[0].contains("c.jsonl:2: not an article"), "{:?}", record.skipped);
        let skipped = &outcome.skipped[0];
        assert!(skipped.location.ends_with("c.jsonl:2") && skipped.articles == 1, "{skipped:?}");
        // Five ordinals (a, b, c1, the bad line, c2): part 2 of 2 holds c1,
        // the bad line and c2, and records the line as one lost article.
        let (outcome, _) = label(dir.path(), Some(ShardSpec { index: 2, count: 2 }), out(dir.path(), "p2.jsonl", false), true);
        assert_eq!(outcome.unwrap().articles, 2);
        let manifest = Manifest::read(&dir.path().join("p2.jsonl")).unwrap();
        assert_eq!((manifest.total, manifest.first, manifest.end), (5, 2, 5));
        assert_eq!(manifest.skipped.len(), 1);
        assert_eq!(manifest.skipped[0].articles, 1);
        let (outcome, _) = label(dir.path(), Some(ShardSpec { index: 1, count: 2 }), out(dir.path(), "p1.jsonl", false), true);
        assert!(outcome.unwrap().skipped.is_empty(), "the bad line is part 2's");
    }

    #[test]
    fn resuming_without_a_journal_says_so() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        inputs(&dir.path().join("in"));
        let (outcome, record) = label(dir.path(), None, out(dir.path(), "r.jsonl", true), false);
        assert_eq!(outcome.unwrap().articles, 4);
        assert!(record.notes.iter().any(|n| n.starts_with("no journal at ") && n.ends_with("r.jsonl.partial; starting from the first article")), "{:?}", record.notes);
    }

    #[test]
    fn articles_in_a_language_the_model_does_not_read_are_named_in_one_warning() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::create_dir(&input).unwrap();
        let vi = [
            "Hai nước đã ký kết nhiều thỏa thuận hợp tác về kinh tế, giáo dục và y tế trong chuyến thăm chính thức.",
            "Các doanh nghiệp Việt Nam mong muốn mở rộng thị trường xuất khẩu sang Hoa Kỳ trong những năm tới.",
            "Bộ trưởng cho biết chính phủ sẽ tiếp tục đầu tư vào cơ sở hạ tầng và năng lượng tái tạo.",
        ];
        let en = "The two countries signed agreements on trade, education and health during the official visit.";
        std::fs::write(input.join("x.txt"), vi.join("\n")).unwrap();
        std::fs::write(input.join("y.txt"), format!("{}\n{}", vi[0], vi[1])).unwrap();
        std::fs::write(input.join("z.txt"), format!("{en}\n{en}\n{}", vi[2])).unwrap();
        let (outcome, record) = label(dir.path(), None, out(dir.path(), "all.jsonl", false), false);
        assert_eq!(outcome.unwrap().paragraphs, 8);
        assert_eq!(record.warnings.len(), 1, "{:?}", record.warnings);
        let w = &record.warnings[0];
        assert!(
            w.starts_with("2 articles are mostly Vietnamese, which the model does not read: x.txt, y.txt (their rows are flagged language:vi)"),
            "{w}"
        );
        assert!(w.contains("; 1 paragraph of 1 other article is in a language the model does not read"), "{w}");
        let flagged = std::fs::read_to_string(dir.path().join("all.jsonl")).unwrap().matches("language:vi").count();
        assert_eq!(flagged, 6);
        // English only: no warning.
        std::fs::remove_dir_all(&input).unwrap();
        std::fs::create_dir(&input).unwrap();
        inputs(&input);
        let (_, record) = label(dir.path(), None, out(dir.path(), "en.jsonl", false), false);
        assert!(record.warnings.is_empty(), "{:?}", record.warnings);
    }
}
