//! `themes eval`: scores against hand-labelled gold data, with intervals,
//! anchors, error study, reports and the regression gate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use themes::eval::experiment::{classifier_cv, cosine_anchor_cv, logistic_anchor_cv};
use themes::eval::gold::{check_text, GoldRow};
use themes::eval::kinds::{kinds, KindInput};
use themes::eval::report::{
    now_utc, regressions, table, AnchorResult, ErrorRow, FewShotPoint, Identity, KindResult, PredictionRow, Report,
    SetResult,
};
use themes::head::{head_cv, margins, Head, HeadOptions};
use themes::eval::score::{bootstrap, score};
use themes::input::read_all;
use themes::learn::grouped_folds;
use themes::output::AtomicFile;
use themes::pipeline::Prediction;

use super::common::{predict_gold, read_gold_sets, uncovered_language, LabelArgs, ModelArgs};
use super::Global;

/// Score the classifier against hand-labelled gold data.
///
/// Runs the classifier on the gold articles (rebuilt from the gold rows) and
/// prints per-label precision, recall, F1 with 95% bootstrap intervals
/// (resampling whole articles), micro and macro averages, macro-F1 per group
/// (`core`), exact match and Hamming loss: per gold file and pooled.
///
/// With --cv K the classifier's learned weights are refitted K times, each
/// time without the articles it then scores (folds grouped by article), and
/// two anchors are scored in the same folds: cosine to the label
/// descriptions with one threshold, and logistic regression on the frozen
/// paragraph vectors. Only such figures are honest for a label set whose
/// weights were trained on the same gold.
///
/// With --head DIR the trained head's decisions are scored (see `themes
/// train`); with --cv K a head is also trained in each fold, on top of the
/// fold's zero-shot scores, and scored beside it ("trained-head"). With
/// --examples-per-label 2,4,8,16 that is repeated on N examples per label
/// drawn from the training folds only: the few-shot curve, zero-shot as 0.
///
/// Exit codes: 0 done; 1 --against found a regression; 2 error.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Gold JSONL file(s) in the labelling guide's format; repeat for several sets.
    #[arg(long, required = true)]
    gold: Vec<PathBuf>,

    /// Score these predictions (JSONL rows from `themes label`) instead of running the classifier.
    #[arg(long)]
    predictions: Option<PathBuf>,

    /// Article files or folders the gold was made from: gold text must match them.
    #[arg(long)]
    articles: Vec<PathBuf>,

    /// Article-grouped K-fold cross-validation of the classifier, with anchors.
    #[arg(long)]
    cv: Option<usize>,

    /// Score this trained head (a folder made by `themes train --out DIR`).
    /// With --cv, a head is retrained in each fold instead.
    #[arg(long, conflicts_with = "predictions")]
    head: Option<PathBuf>,

    /// The few-shot curve: with --cv, F1 after training heads on N examples
    /// per label (comma-separated list), 3 draws each.
    #[arg(long, value_delimiter = ',', requires = "cv")]
    examples_per_label: Vec<usize>,

    /// Seed of the folds and the bootstrap.
    #[arg(long, default_value_t = 13)]
    seed: u64,

    /// Bootstrap resamples.
    #[arg(long, default_value_t = 1000)]
    resamples: usize,

    /// Write the JSON report here (schema: evals/README.md).
    #[arg(long)]
    report: Option<PathBuf>,

    /// Write the HTML report here (one self-contained file).
    #[arg(long)]
    html: Option<PathBuf>,

    /// List false positives and false negatives with text and scores.
    #[arg(long)]
    errors: bool,

    /// Fail (exit 1) when a metric falls below this baseline report's 95% interval.
    #[arg(long)]
    against: Option<PathBuf>,

    /// Leave paragraph text out of the JSON and HTML reports (for gold whose
    /// text may not be published); they keep article ids and numbers.
    #[arg(long)]
    no_text: bool,

    /// Do not read or write the embedding cache.
    #[arg(long)]
    no_cache: bool,

    #[command(flatten)]
    labels: LabelArgs,

    #[command(flatten)]
    model: ModelArgs,
}

struct GoldSet {
    name: String,
    rows: Vec<GoldRow>,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let label_set = args.labels.load()?;
    let ids = label_set.ids();
    let files = if args.articles.is_empty() { Vec::new() } else { read_all(&args.articles)? };
    let mut sets = Vec::new();
    for (path, rows) in args.gold.iter().zip(read_gold_sets(&args.gold, &label_set)?) {
        check_text(&rows, &files, path)?;
        let name = path.file_stem().map_or_else(|| "gold".to_owned(), |s| s.to_string_lossy().into_owned());
        sets.push(GoldSet { name, rows });
    }
    let all_rows: Vec<(&str, &GoldRow)> = sets.iter().flat_map(|s| s.rows.iter().map(move |r| (s.name.as_str(), r))).collect();
    let gold_sets: Vec<BTreeSet<String>> = all_rows.iter().map(|(_, r)| r.labels.iter().cloned().collect()).collect();
    let gold_bools: Vec<Vec<bool>> = gold_sets.iter().map(|g| ids.iter().map(|id| g.contains(id)).collect()).collect();
    let article_keys: Vec<String> = all_rows.iter().map(|(set, r)| format!("{set}/{}", r.article)).collect();
    let groups: BTreeMap<String, Vec<String>> =
        label_set.groups().into_iter().map(|g| (g.clone(), label_set.group(&g).iter().map(|l| l.id.clone()).collect())).collect();
    let mut thresholds: Vec<f32> = label_set.thresholds();
    let mut few_shot = Vec::new();

    let mut model_name = String::from("-");
    let mut model_revision = String::from("-");
    let mut mode = "shipped".to_owned();
    let mut anchors = Vec::new();
    let mut predictions_by_row: Vec<Option<Prediction>> = vec![None; all_rows.len()];
    let scores: Vec<Vec<f32>> = if let Some(path) = &args.predictions {
        mode = "predictions".to_owned();
        read_predictions(path, &all_rows, &ids)?
    } else {
        let embedder = args.model.load(global)?;
        model_name = embedder.identity().name.clone();
        model_revision = embedder.identity().revision.clone();
        let rows: Vec<Vec<GoldRow>> = sets.iter().map(|s| s.rows.clone()).collect();
        predictions_by_row = predict_gold(&rows, &args.gold, &label_set, &embedder, args.no_cache)?.into_iter().map(Some).collect();
        let predictions: Vec<&Prediction> = predictions_by_row.iter().map(|p| p.as_ref().expect("every gold row is predicted")).collect();
        let vectors: Vec<&[f32]> = predictions.iter().map(|p| p.vector.as_slice()).collect();
        match args.cv {
            None => match &args.head {
                None => predictions.iter().map(|p| p.scores.clone()).collect(),
                Some(dir) => {
                    let head = Head::load(dir, &embedder, &label_set)?;
                    mode = format!("head {}", dir.display());
                    thresholds = head.thresholds();
                    predictions.iter().map(|p| head.probabilities(&p.vector, &p.scores)).collect()
                }
            },
            Some(k) => {
                anyhow::ensure!(k >= 2, "--cv needs at least 2 folds");
                let distinct: BTreeSet<&String> = article_keys.iter().collect();
                anyhow::ensure!(distinct.len() >= k, "--cv {k} needs at least {k} articles; the gold has {}", distinct.len());
                mode = format!("cv-{k}");
                let folds = grouped_folds(&article_keys, k, args.seed);
                let features: Vec<Vec<Vec<f32>>> = predictions.iter().map(|p| p.features.clone()).collect();
                let similarity: Vec<Vec<f32>> = predictions.iter().map(|p| p.description_similarity.clone()).collect();
                let owned: Vec<Vec<f32>> = predictions.iter().map(|p| p.vector.clone()).collect();
                let (cosine, chosen) = cosine_anchor_cv(&similarity, &gold_bools, &folds);
                let logistic = logistic_anchor_cv(&owned, &gold_bools, &folds);
                let half = vec![0.5f32; ids.len()];
                for (name, note, s, t) in [
                    ("cosine", format!("paragraph cosine to each label's description, one threshold per fold chosen on the training folds ({chosen:?})"), &cosine, &half),
                    ("logistic-regression", "one L2 logistic regression per label on the frozen paragraph vectors, fitted on the training folds, decided at 0.5".to_owned(), &logistic, &half),
                ] {
                    let decided = decide(s, t, &ids);
                    let result = SetResult {
                        name: "pooled".to_owned(),
                        scores: score(&gold_sets, &decided, &ids, &groups),
                        intervals: bootstrap(&gold_sets, &decided, &article_keys, &ids, &groups, args.resamples, args.seed),
                    };
                    anchors.push(AnchorResult { name: name.to_owned(), note, result });
                }
                let zero_shot = classifier_cv(&features, &gold_bools, &folds);
                let margins: Vec<Vec<f32>> = zero_shot.iter().map(|r| margins(r, &thresholds)).collect();
                let zero_shot_decided = decide(&zero_shot, &thresholds, &ids);
                let options = HeadOptions::default();
                let trained = head_cv(&vectors, &margins, &gold_bools, &folds, None, args.seed, options);
                let decided = decide(&trained, &half, &ids);
                let result = SetResult {
                    name: "pooled".to_owned(),
                    scores: score(&gold_sets, &decided, &ids, &groups),
                    intervals: bootstrap(&gold_sets, &decided, &article_keys, &ids, &groups, args.resamples, args.seed),
                };
                if !args.examples_per_label.is_empty() {
                    let zs = score(&gold_sets, &zero_shot_decided, &ids, &groups);
                    few_shot.push(FewShotPoint { examples: Some(0), macro_f1: zs.macro_f1, groups: zs.groups, draws: vec![zs.macro_f1] });
                    for &n in &args.examples_per_label {
                        let draws: Vec<_> = (0..3u64)
                            .map(|d| {
                                let s = head_cv(&vectors, &margins, &gold_bools, &folds, Some(n), args.seed + 1000 * (d + 1), options);
                                score(&gold_sets, &decide(&s, &half, &ids), &ids, &groups)
                            })
                            .collect();
                        let mean = |f: &dyn Fn(&themes::eval::score::Scores) -> f64| draws.iter().map(f).sum::<f64>() / draws.len() as f64;
                        few_shot.push(FewShotPoint {
                            examples: Some(n),
                            macro_f1: mean(&|s| s.macro_f1),
                            groups: groups.keys().map(|g| (g.clone(), mean(&|s| s.groups.get(g).copied().unwrap_or(0.0)))).collect(),
                            draws: draws.iter().map(|s| s.macro_f1).collect(),
                        });
                    }
                    few_shot.push(FewShotPoint {
                        examples: None,
                        macro_f1: result.scores.macro_f1,
                        groups: result.scores.groups.clone(),
                        draws: vec![result.scores.macro_f1],
                    });
                }
                if args.head.is_some() {
                    mode = format!("cv-{k} head");
                    thresholds = half.clone();
                    anchors.push(AnchorResult {
                        name: "zero-shot".to_owned(),
                        note: "the classifier without a head, its weights refitted in each fold".to_owned(),
                        result: SetResult {
                            name: "pooled".to_owned(),
                            scores: score(&gold_sets, &zero_shot_decided, &ids, &groups),
                            intervals: bootstrap(&gold_sets, &zero_shot_decided, &article_keys, &ids, &groups, args.resamples, args.seed),
                        },
                    });
                    trained
                } else {
                    anchors.push(AnchorResult {
                        name: "trained-head".to_owned(),
                        note: "a logistic head per label on the paragraph vector with the fold's zero-shot score as prior, trained on the training folds, decided at 0.5".to_owned(),
                        result,
                    });
                    zero_shot
                }
            }
        }
    };

    let decided = decide(&scores, &thresholds, &ids);
    let mut results = Vec::new();
    let mut offset = 0;
    for set in &sets {
        let range = offset..offset + set.rows.len();
        offset += set.rows.len();
        results.push(SetResult {
            name: set.name.clone(),
            scores: score(&gold_sets[range.clone()], &decided[range.clone()], &ids, &groups),
            intervals: bootstrap(&gold_sets[range.clone()], &decided[range.clone()], &article_keys[range.clone()], &ids, &groups, args.resamples, args.seed),
        });
    }
    if sets.len() > 1 {
        results.push(SetResult {
            name: "pooled".to_owned(),
            scores: score(&gold_sets, &decided, &ids, &groups),
            intervals: bootstrap(&gold_sets, &decided, &article_keys, &ids, &groups, args.resamples, args.seed),
        });
    }

    let languages = args.model.languages();
    let mut prediction_rows = Vec::new();
    let mut errors = Vec::new();
    for (i, (set, row)) in all_rows.iter().enumerate() {
        let score_map: BTreeMap<String, f32> = ids.iter().cloned().zip(scores[i].iter().map(|s| (s * 1e4).round() / 1e4)).collect();
        let p = predictions_by_row[i].as_ref();
        let context_dependent = p.is_some_and(|p| {
            !row.labels.is_empty()
                && row.labels.iter().all(|l| {
                    label_set.index(l).is_some_and(|j| p.features[j][3] == 0.0 && p.features[j][0] < 0.45)
                })
        });
        let row_kinds = kinds(&KindInput {
            paragraph: row.paragraph,
            text: &row.text,
            tokens: p.map_or(0, |p| p.tokens),
            context_dependent,
            uncovered_language: uncovered_language(&row.text, &languages),
        });
        let fp: BTreeMap<String, f32> =
            decided[i].difference(&gold_sets[i]).map(|l| (l.clone(), score_map.get(l).copied().unwrap_or(0.0))).collect();
        let fn_: BTreeMap<String, f32> =
            gold_sets[i].difference(&decided[i]).map(|l| (l.clone(), score_map.get(l).copied().unwrap_or(0.0))).collect();
        if !fp.is_empty() || !fn_.is_empty() {
            let evidence = fp
                .keys()
                .chain(fn_.keys())
                .filter_map(|l| {
                    let j = label_set.index(l)?;
                    let ev = p.map(|p| serde_json::to_value(&p.evidence[j]).unwrap_or_default())?;
                    Some((l.clone(), ev))
                })
                .collect();
            errors.push(ErrorRow {
                article: row.article.clone(),
                paragraph: row.paragraph,
                text: row.text.clone(),
                false_positives: fp,
                false_negatives: fn_,
                evidence,
            });
        }
        prediction_rows.push(PredictionRow {
            article: row.article.clone(),
            paragraph: row.paragraph,
            set: set.to_string(),
            labels: decided[i].iter().cloned().collect(),
            gold: row.labels.clone(),
            scores: score_map,
            kinds: row_kinds,
        });
    }
    let mut kind_results = Vec::new();
    let all_kinds: BTreeSet<String> = prediction_rows.iter().flat_map(|p| p.kinds.iter().cloned()).collect();
    for kind in all_kinds {
        let rows: Vec<usize> = (0..prediction_rows.len()).filter(|&i| prediction_rows[i].kinds.contains(&kind)).collect();
        let g: Vec<BTreeSet<String>> = rows.iter().map(|&i| gold_sets[i].clone()).collect();
        let d: Vec<BTreeSet<String>> = rows.iter().map(|&i| decided[i].clone()).collect();
        let s = score(&g, &d, &ids, &BTreeMap::new());
        kind_results.push(KindResult { kind, paragraphs: rows.len(), macro_f1: s.macro_f1, micro_f1: s.micro.f1 });
    }

    let report = Report {
        identity: Identity {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            date: now_utc(),
            model: model_name,
            model_revision,
            label_set: label_set.name.clone(),
            label_set_hash: label_set.hash(),
            thresholds: ids.iter().cloned().zip(thresholds.iter().copied()).collect(),
            mode,
            fold_seed: args.cv.map(|_| args.seed),
        },
        labels: ids.clone(),
        groups,
        sets: results,
        anchors,
        kinds: kind_results,
        few_shot,
        predictions: prediction_rows,
        errors,
    };
    print_report(&report, args.errors);
    let mut report = report;
    if args.no_text {
        for e in &mut report.errors {
            e.text = String::from("(text withheld)");
            for ev in e.evidence.values_mut() {
                strip_span_text(ev);
            }
        }
    }
    if let Some(path) = &args.report {
        let mut file = AtomicFile::create(path)?;
        serde_json::to_writer_pretty(&mut file, &report).with_context(|| format!("writing {}", path.display()))?;
        file.commit()?;
    }
    if let Some(path) = &args.html {
        let mut file = AtomicFile::create(path)?;
        let html = themes::eval::html::render(&report, &scores, &gold_bools);
        std::io::Write::write_all(&mut file, html.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
        file.commit()?;
    }
    if let Some(path) = &args.against {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading baseline {}", path.display()))?;
        let baseline: Report = serde_json::from_str(&text).with_context(|| format!("{} is not an eval report", path.display()))?;
        let fell = regressions(&report, &baseline);
        if fell.is_empty() {
            eprintln!("gate: no metric fell below the 95% interval of {}", path.display());
        } else {
            for r in &fell {
                eprintln!(
                    "gate: {} fell to {:.3} (baseline {:.3}, its 95% interval starts at {:.3})",
                    r.metric, r.current, r.baseline, r.baseline_low
                );
            }
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn decide(scores: &[Vec<f32>], thresholds: &[f32], ids: &[String]) -> Vec<BTreeSet<String>> {
    scores
        .iter()
        .map(|s| s.iter().zip(thresholds).zip(ids).filter(|((v, t), _)| *v >= *t).map(|(_, id)| id.clone()).collect())
        .collect()
}

fn read_predictions(path: &std::path::Path, rows: &[(&str, &GoldRow)], ids: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut by_key: BTreeMap<(String, usize), Vec<f32>> = BTreeMap::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let row: themes::output::LabelRow = serde_json::from_str(line)
            .map_err(|e| themes::Error::invalid(themes::Location::line(path, n + 1), format!("not a prediction row: {e}")))?;
        // A label listed as assigned counts even without a score.
        let v = ids
            .iter()
            .map(|id| if row.labels.contains(id) { 1.0 } else { row.scores.get(id).copied().unwrap_or(0.0).min(0.0) })
            .collect();
        by_key.insert((row.article, row.paragraph), v);
    }
    rows.iter()
        .map(|(_, r)| {
            by_key.get(&(r.article.clone(), r.paragraph)).cloned().ok_or_else(|| {
                anyhow::anyhow!("{}: no prediction for article {:?} paragraph {}", path.display(), r.article, r.paragraph)
            })
        })
        .collect()
}

fn print_report(report: &Report, errors: bool) {
    println!("themes {} · model {} · label set {} ({}) · {}", report.identity.tool_version, report.identity.model, report.identity.label_set, &report.identity.label_set_hash[..12], report.identity.mode);
    for set in &report.sets {
        println!();
        print!("{}", table(set, &report.labels));
    }
    if !report.anchors.is_empty() {
        println!();
        println!("anchors, same folds and vectors (pooled):");
        let pooled = report.pooled();
        if let Some(p) = pooled {
            println!("  {:<22} core {:.3}  all {:.3}  micro {:.3}", "themes", p.scores.groups.get("core").copied().unwrap_or(0.0), p.scores.macro_f1, p.scores.micro.f1);
        }
        for a in &report.anchors {
            let s = &a.result.scores;
            println!("  {:<22} core {:.3}  all {:.3}  micro {:.3}", a.name, s.groups.get("core").copied().unwrap_or(0.0), s.macro_f1, s.micro.f1);
        }
    }
    if !report.few_shot.is_empty() {
        println!();
        println!("few-shot curve (heads trained on N examples per label from the training folds, mean of 3 draws):");
        println!("  {:>10}  {:>12}  {:>13}  draws", "examples", "macro F1 all", "macro F1 core");
        for p in &report.few_shot {
            let n = match p.examples {
                Some(0) => "0 (zero-shot)".to_owned(),
                Some(n) => n.to_string(),
                None => "all".to_owned(),
            };
            let draws: Vec<String> = p.draws.iter().map(|d| format!("{d:.3}")).collect();
            println!("  {:>10}  {:>12.3}  {:>13.3}  {}", n, p.macro_f1, p.groups.get("core").copied().unwrap_or(0.0), draws.join(" "));
        }
    }
    if !report.kinds.is_empty() {
        println!();
        println!("by kind of paragraph (all gold):");
        for k in &report.kinds {
            println!("  {:<18} {:>4} paragraphs  macro F1 {:.3}  micro F1 {:.3}", k.kind, k.paragraphs, k.macro_f1, k.micro_f1);
        }
    }
    if errors {
        println!();
        println!("errors ({} paragraphs):", report.errors.len());
        for e in &report.errors {
            println!("  {} ¶{}: {}", e.article, e.paragraph, e.text);
            for (l, s) in &e.false_positives {
                println!("      false positive {l} (score {s:.3})");
            }
            for (l, s) in &e.false_negatives {
                println!("      false negative {l} (score {s:.3})");
            }
        }
    }
}

fn strip_span_text(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(text) = map.get_mut("text") {
                *text = serde_json::Value::String("(text withheld)".to_owned());
            }
            map.values_mut().for_each(strip_span_text);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_span_text),
        _ => {}
    }
}
