//! The HTML report: one self-contained file (inline CSS and SVG, no script,
//! no network), rendered with `maud`, which escapes every value. It opens
//! with the summary (pooled macro-F1 beside the anchors, and the in-sample
//! warning when there is one), then each set's table with F1 bars, the
//! few-shot curve, the kinds, where each label's errors went, the articles
//! worst first, precision and recall against the threshold, and the errors.
//! Undefined scores say "n/a"; label names are never cut.

use std::collections::BTreeMap;

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::report::{fmt3, interval, Report, SetResult};
use super::score::{Intervals, LabelConfusion, LabelScore, NONE};
use super::svg::{bar_chart, line_chart, Axis, Bar, LineChart, Series};

/// Series colours: blue, orange, green, purple (wrapping).
const PALETTE: [&str; 4] = ["#1f5fa8", "#c0562b", "#2e8540", "#7b3fa0"];

/// Writes the page to `path`, atomically.
pub fn write(path: &std::path::Path, report: &Report, scores: &[Vec<f32>], gold: &[Vec<bool>]) -> crate::Result<()> {
    let mut file = crate::output::AtomicFile::create(path)?;
    std::io::Write::write_all(&mut file, render(report, scores, gold).as_bytes()).map_err(|e| crate::Error::io(path, e))?;
    file.commit()
}

/// Renders the report; `scores[row][label]` and `gold[row][label]` feed the
/// precision/recall curves.
pub fn render(report: &Report, scores: &[Vec<f32>], gold: &[Vec<bool>]) -> String {
    let id = &report.identity;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "themes eval: " (id.label_set) }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "themes eval" }
                p.meta {
                    "themes " (id.tool_version) " · model " (id.model) " (" (id.model_revision) ")"
                    @if let Some(dtype) = id.dtype.as_deref().filter(|d| *d != "f32") { " at " (dtype) }
                    " · label set " (id.label_set) " "
                    code { (id.label_set_hash.chars().take(12).collect::<String>()) } " · " (id.mode) " · " (id.date)
                }
                (summary(report))
                @for set in &report.sets { (set_section(set, &report.labels)) }
                @if !report.few_shot.is_empty() { (few_shot(report)) }
                @if !report.kinds.is_empty() { (kinds(report)) }
                @if !report.confusion.is_empty() { (confusion(report)) }
                @if !report.articles.is_empty() { (articles(report)) }
                (pr_curves(report, scores, gold))
                (errors(report))
            }
        }
    };
    page.into_string() + "\n"
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}\
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}small{color:#777;font-weight:normal}\
.meta{color:#666;font-size:.9rem}.warning{background:#fff4e0;border-left:6px solid #b35900;padding:.6rem .9rem;font-size:1.05rem}\
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}td,th{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}\
th{background:#f6f6f6}tr.avg td{background:#fafafa}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.na{color:#888}\
.grid{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}figcaption{font-weight:600;font-size:.9rem;max-width:300px;overflow-wrap:anywhere}\
.heat th.col{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:normal;padding:.4rem .2rem}\
.heat td{text-align:center;min-width:1.6rem}.errors td:nth-child(2){max-width:560px}.fp{color:#b35900}.fn{color:#1f5fa8}\
svg text{font-size:11px}svg text.axis-title{font-size:12px;font-weight:600}";

/// A figure to three decimals in a cell, greyed when "n/a".
fn cell(value: Option<f64>) -> Markup {
    html! { td.num.na[value.is_none()] { (fmt3(value)) } }
}

fn interval_cell(text: String) -> Markup {
    html! { td.na[text.starts_with("n/a")] { (text) } }
}

/// A set-level figure with its interval, as "0.909 [0.701, 0.965]".
fn with_interval(value: f64, ci: Option<&super::score::Interval>) -> String {
    match ci {
        Some(ci) => format!("{value:.3} [{:.3}, {:.3}]", ci.low, ci.high),
        None => format!("{value:.3}"),
    }
}

/// The opening summary: the in-sample warning, then the pooled result
/// beside every anchor of the same run, then each set's headline figures.
fn summary(report: &Report) -> Markup {
    let groups: Vec<&String> = report.groups.keys().collect();
    let row = |name: &str, r: &SetResult, how: &str, ours: bool| {
        let (s, i) = (&r.scores, &r.intervals);
        html! {
            tr {
                td { @if ours { b { (name) } } @else { (name) } }
                @for g in &groups {
                    td.num { (s.groups.get(*g).map_or_else(|| "n/a".to_owned(), |f| with_interval(*f, i.groups.get(*g)))) }
                }
                td.num { (with_interval(s.macro_f1, Some(&i.macro_f1))) }
                td.num { (with_interval(s.micro.f1, Some(&i.micro_f1))) }
                td { (how) }
            }
        }
    };
    html! {
        section #summary {
            h2 { "Summary" }
            @if let Some(in_sample) = &report.in_sample {
                p.warning.in-sample { b { (in_sample.sentence()) } }
            }
            @if let Some(pooled) = report.pooled() {
                table {
                    tr {
                        th { "method" }
                        @for g in &groups { th { "macro-F1 " (g) " [95% CI]" } }
                        th { "macro-F1 all " (report.labels.len()) " [95% CI]" }
                        th { "micro-F1 [95% CI]" }
                        th { "how" }
                    }
                    (row("themes", pooled, &format!("{} ({} paragraphs)", pooled.name, pooled.scores.paragraphs), true))
                    @for a in &report.anchors { (row(&a.name, &a.result, &a.note, false)) }
                }
                @if report.anchors.is_empty() {
                    p.meta { "No anchors in this report: they are scored with " code { "--cv K" } "." }
                }
            }
            p.meta {
                "Intervals: bootstrap of whole articles" @if let Some(p) = report.pooled() {
                    ", " (p.intervals.resamples) " resamples, seed " (p.intervals.seed)
                } ". A score with no gold and no predicted positive is undefined and shown as n/a."
            }
        }
    }
}

fn label_row(l: &str, s: &LabelScore, i: &Intervals) -> Markup {
    let d = s.defined();
    html! {
        tr {
            td { (l) }
            (cell(d.then_some(s.precision)))
            (cell(d.then_some(s.recall)))
            (cell(d.then_some(s.f1)))
            (interval_cell(interval(i, l)))
            td.num { (s.support) }
        }
    }
}

fn set_section(set: &SetResult, labels: &[String]) -> Markup {
    let (s, i) = (&set.scores, &set.intervals);
    let bars: Vec<Bar> = labels
        .iter()
        .map(|l| Bar { name: l.clone(), value: s.labels[l].f1_if_defined(), interval: i.label(l).ok().map(|ci| (ci.low, ci.high)) })
        .collect();
    let avg = |name: &str, p: f64, r: f64, f: f64, ci: &super::score::Interval| {
        html! { tr.avg { td { (name) } (cell(Some(p))) (cell(Some(r))) td.num { b { (format!("{f:.3}")) } } td { (format!("[{:.3}, {:.3}]", ci.low, ci.high)) } td {} } }
    };
    html! {
        section.set {
            h2 { (set.name) " " small { "(" (s.paragraphs) " paragraphs)" } }
            table {
                tr { th { "label" } th { "precision" } th { "recall" } th { "F1" } th { "F1 95% CI" } th { "support" } }
                @for l in labels { (label_row(l, &s.labels[l], i)) }
                (avg("micro average", s.micro.precision, s.micro.recall, s.micro.f1, &i.micro_f1))
                (avg("macro average", s.macro_precision, s.macro_recall, s.macro_f1, &i.macro_f1))
                @for (g, f) in &s.groups {
                    tr.avg { td { "macro " (g) } td {} td {} td.num { b { (format!("{f:.3}")) } } td { (i.groups.get(g).map(|ci| format!("[{:.3}, {:.3}]", ci.low, ci.high)).unwrap_or_default()) } td {} }
                }
            }
            p.meta {
                "exact match " (format!("{:.3}", s.exact_match)) " · Hamming loss " (format!("{:.4}", s.hamming_loss))
                " · intervals: " (i.resamples) " bootstrap resamples of whole articles, seed " (i.seed)
                "; a label found in one article only has no interval (n/a)"
            }
            figure {
                figcaption { "F1 per label, " (set.name) }
                (bar_chart(&format!("F1 per label with 95% intervals, {}", set.name), "F1", &bars, "#5b8dd6"))
            }
        }
    }
}

/// Macro-F1 (all labels and each group) against examples per label on a
/// log(N + 1) axis; centroids of every training row are a dashed line.
fn few_shot(report: &Report) -> Markup {
    let points: Vec<&super::report::FewShotPoint> = report.few_shot.iter().filter(|p| p.examples.is_some()).collect();
    let max_n = points.iter().filter_map(|p| p.examples).max().unwrap_or(1).max(1);
    let pos = |n: usize| (n as f64 + 1.0).ln();
    let ticks = points.iter().filter_map(|p| p.examples).map(|n| (pos(n), n.to_string())).collect();
    let x = Axis { title: "examples per label (log scale)".to_owned(), range: (0.0, pos(max_n)), ticks };
    let mut series = vec![Series {
        name: "macro-F1, all labels".to_owned(),
        color: PALETTE[0],
        points: points.iter().map(|p| (pos(p.examples.unwrap_or(0)), p.macro_f1)).collect(),
        dashed: false,
    }];
    for (k, g) in report.groups.keys().enumerate() {
        let pts = points.iter().filter_map(|p| Some((pos(p.examples.unwrap_or(0)), *p.groups.get(g)?))).collect();
        series.push(Series { name: format!("macro-F1, {g}"), color: PALETTE[(k + 1) % PALETTE.len()], points: pts, dashed: false });
    }
    if let Some(all) = report.few_shot.iter().find(|p| p.examples.is_none()) {
        let pts = vec![(0.0, all.macro_f1), (pos(max_n), all.macro_f1)];
        series.push(Series { name: "all labels, centroids of every training row".to_owned(), color: PALETTE[0], points: pts, dashed: true });
    }
    let chart = LineChart { title: "Few-shot curve".to_owned(), x, y: Axis::unit("macro-F1"), series, size: (640.0, 300.0) };
    html! {
        section #few-shot {
            h2 { "Few-shot curve" }
            p.meta { "the classifier with gold centroids built from N hand-labelled examples per label drawn from the training folds (its weights fitted on the folds; mean of 3 draws); 0 is the classifier without centroids (its per-label biases still fitted)" }
            figure { figcaption { "Macro-F1 against examples per label" } (line_chart(&chart)) }
            table {
                tr { th { "examples per label" } th { "macro-F1 all" } @for g in report.groups.keys() { th { "macro-F1 " (g) } } }
                @for p in &report.few_shot {
                    tr {
                        td { (p.examples.map_or_else(|| "all".to_owned(), |n| n.to_string())) }
                        (cell(Some(p.macro_f1)))
                        @for g in report.groups.keys() { (cell(p.groups.get(g).copied())) }
                    }
                }
            }
        }
    }
}

fn kinds(report: &Report) -> Markup {
    html! {
        section #kinds {
            h2 { "By kind of paragraph" }
            table {
                tr { th { "kind" } th { "paragraphs" } th { "macro-F1" } th { "macro-F1 95% CI" } th { "micro-F1" } }
                @for k in &report.kinds {
                    tr {
                        td { (k.kind) } td.num { (k.paragraphs) } (cell(k.macro_f1))
                        td.num { @if let Some(i) = k.macro_f1_interval { (format!("[{:.3}, {:.3}]", i.low, i.high)) } @else { "n/a" } }
                        (cell(k.micro_f1))
                    }
                }
            }
            p.meta { "n/a: no gold theme among these paragraphs (macro), or no gold and no predicted theme (micro)" }
        }
    }
}

/// What one heat table shows: which breakdown, and the label's own count.
type Pick = dyn Fn(&LabelConfusion) -> &BTreeMap<String, usize>;

/// One heat table: rows are labels, columns the labels (and "none") their
/// errors are counted under; headers are full names, set vertically. The
/// last column is the label's own count of such errors (pooled).
fn heat(report: &Report, pick: &Pick, total: &dyn Fn(&LabelScore) -> usize) -> Markup {
    let cols: Vec<&str> = report.labels.iter().map(String::as_str).chain([NONE]).collect();
    let max = report.confusion.values().flat_map(|c| pick(c).values()).copied().max().unwrap_or(0).max(1);
    let pooled = report.pooled();
    html! {
        table.heat {
            tr { th {} @for c in &cols { th.col title=(c) { (c) } } th.col { "errors" } }
            @for l in &report.labels {
                @let counts = report.confusion.get(l).map(pick);
                tr {
                    th { (l) }
                    @for c in &cols {
                        @let v = counts.and_then(|m| m.get(*c)).copied().unwrap_or(0);
                        td style=(format!("background:rgba(179,89,0,{:.2})", v as f64 / max as f64)) { @if v > 0 { (v) } }
                    }
                    td.num { (pooled.and_then(|p| p.scores.labels.get(l)).map_or(0, total)) }
                }
            }
        }
    }
}

fn confusion(report: &Report) -> Markup {
    html! {
        section #confusion {
            h2 { "Where each label's errors went" }
            p.meta {
                "Pooled. False positives: each row is the label predicted wrongly; it is counted under every gold label its paragraph had, or "
                i { "none" } " when the paragraph had no theme (a paragraph with two gold labels counts twice)."
            }
            (heat(report, &|c| &c.false_positives, &|s| s.fp))
            p.meta {
                "False negatives: each row is the label missed; it is counted under every label wrongly predicted on its paragraph instead, or "
                i { "none" } " when nothing was."
            }
            (heat(report, &|c| &c.false_negatives, &|s| s.fn_))
        }
    }
}

fn articles(report: &Report) -> Markup {
    let errors = |a: &super::score::ArticleScore| {
        a.errors
            .iter()
            .map(|(l, e)| match (e.fp, e.fn_) {
                (0, f) => format!("{l} FN {f}"),
                (p, 0) => format!("{l} FP {p}"),
                (p, f) => format!("{l} FP {p} FN {f}"),
            })
            .collect::<Vec<_>>()
    };
    html! {
        section #articles {
            h2 { "Articles, worst first " small { "(" (report.articles.len()) " articles)" } }
            table {
                tr { th { "set" } th { "article" } th { "paragraphs" } th { "gold labels" } th { "predicted labels" } th { "FP" } th { "FN" } th { "errors per label" } th { "micro-F1" } }
                @for a in &report.articles {
                    tr {
                        td { (a.set) } td { (a.article) } td.num { (a.paragraphs) } td.num { (a.gold) } td.num { (a.predicted) }
                        td.num.fp { (a.micro.fp) } td.num.fn { (a.micro.fn_) }
                        td { @for (k, e) in errors(a).iter().enumerate() { @if k > 0 { br; } (e) } }
                        (cell(a.micro.f1_if_defined()))
                    }
                }
            }
            p.meta { "gold and predicted labels count (paragraph, label) pairs; micro-F1 n/a: no gold and no predicted theme" }
        }
    }
}

fn pr_curves(report: &Report, scores: &[Vec<f32>], gold: &[Vec<bool>]) -> Markup {
    html! {
        section #thresholds {
            h2 { "Precision and recall against the threshold" }
            div.grid {
                @for (j, l) in report.labels.iter().enumerate() {
                    @let threshold = report.identity.thresholds.get(l).copied().unwrap_or(0.5);
                    figure { figcaption { (l) } (pr_curve(l, j, scores, gold, threshold)) }
                }
            }
        }
    }
}

fn pr_curve(label: &str, j: usize, scores: &[Vec<f32>], gold: &[Vec<bool>], threshold: f32) -> Markup {
    let (mut precision, mut recall) = (Vec::new(), Vec::new());
    for step in 1..=19 {
        let t = step as f32 / 20.0;
        let c = super::score::Counts::of(scores.iter().zip(gold).map(|(s, g)| (s[j] >= t, g[j])));
        // A ratio with nothing to count is undefined: no point there.
        if c.tp + c.fp > 0 {
            precision.push((t as f64, c.tp as f64 / (c.tp + c.fp) as f64));
        }
        if c.tp + c.fn_ > 0 {
            recall.push((t as f64, c.tp as f64 / (c.tp + c.fn_) as f64));
        }
    }
    let t = threshold as f64;
    let series = vec![
        Series { name: "precision".to_owned(), color: PALETTE[1], points: precision, dashed: false },
        Series { name: "recall".to_owned(), color: PALETTE[0], points: recall, dashed: false },
        Series { name: format!("threshold {t:.2}"), color: "#777", points: vec![(t, 0.0), (t, 1.0)], dashed: true },
    ];
    let x = Axis { title: "threshold".to_owned(), ..Axis::unit("") };
    let title = format!("precision and recall against the threshold, {label}");
    line_chart(&LineChart { title, x, y: Axis::unit("precision, recall"), series, size: (300.0, 210.0) })
}

fn errors(report: &Report) -> Markup {
    let list = |m: &BTreeMap<String, f32>| m.iter().map(|(l, s)| format!("{l} ({s:.2})")).collect::<Vec<_>>();
    html! {
        section #errors {
            h2 { "Errors " small { "(" (report.errors.len()) " paragraphs)" } }
            table.errors {
                tr { th { "paragraph" } th { "text" } th { "false positives" } th { "false negatives" } }
                @for e in &report.errors {
                    tr {
                        td { (e.article) " ¶" (e.paragraph) }
                        td { (e.text) }
                        td.fp { @for (k, x) in list(&e.false_positives).iter().enumerate() { @if k > 0 { br; } (x) } }
                        td.fn { @for (k, x) in list(&e.false_negatives).iter().enumerate() { @if k > 0 { br; } (x) } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use scraper::{Html, Selector};

    use super::*;
    use crate::eval::report::sample;

    fn page(in_sample: bool) -> (Html, String) {
        let (report, scores, gold) = sample::report(in_sample);
        let text = render(&report, &scores, &gold.rows);
        (Html::parse_document(&text), text)
    }

    fn all<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
        doc.select(&Selector::parse(css).unwrap()).collect()
    }

    fn text(e: &scraper::ElementRef) -> String {
        e.text().collect::<String>()
    }

    #[test]
    fn the_page_opens_with_the_summary_and_holds_every_view() {
        let (doc, html) = page(true);
        assert!(doc.errors.is_empty(), "the parser found no error: {:?}", doc.errors);
        let ids: Vec<&str> = all(&doc, "body > section").iter().filter_map(|s| s.value().attr("id")).collect();
        assert_eq!(ids.first(), Some(&"summary"), "{ids:?}");
        for id in ["few-shot", "kinds", "confusion", "articles", "thresholds", "errors"] {
            assert!(ids.contains(&id), "section {id} in {ids:?}");
        }
        let warning = all(&doc, "#summary p.warning.in-sample");
        assert!(text(&warning[0]).starts_with("in-sample:"), "the in-sample line is in the summary");
        assert!(page(false).0.select(&Selector::parse(".in-sample").unwrap()).next().is_none());
        // Pooled and the anchor, each with intervals, in the summary table.
        let rows: Vec<String> = all(&doc, "#summary tr").iter().map(text).collect();
        assert!(rows[1].starts_with("themes") && rows[2].starts_with("cosine"), "{rows:?}");
        assert_eq!(rows[1].matches('[').count(), 3, "core, all and micro with intervals: {}", rows[1]);
        // Values are escaped.
        assert!(html.contains("paragraph &lt;1&gt; &amp; more") && !html.contains("<1>"));
    }

    #[test]
    fn every_chart_has_a_legend_in_its_colours_and_axis_titles() {
        let (doc, _) = page(false);
        let charts = all(&doc, "svg");
        assert_eq!(charts.len(), 1 + 1 + 4, "F1 bars, the few-shot curve, one precision/recall chart per label");
        for svg in &charts {
            let inside = |css: &str| svg.select(&Selector::parse(css).unwrap()).collect::<Vec<_>>();
            let legend_colours: Vec<&str> = inside("g.legend line").iter().filter_map(|l| l.value().attr("stroke")).collect();
            assert!(!legend_colours.is_empty(), "a legend");
            for line in inside("polyline, rect") {
                let colour = line.value().attr("stroke").or(line.value().attr("fill")).unwrap();
                assert!(legend_colours.contains(&colour), "{colour} is in the legend {legend_colours:?}");
            }
            let titles: Vec<String> = inside("text.axis-title").iter().map(text).collect();
            assert_eq!(titles.len(), 2, "two axis titles: {titles:?}");
            assert!(titles.iter().all(|t| !t.trim().is_empty()), "{titles:?}");
        }
        // No stylesheet rule colours SVG text (it would override the legend).
        assert!(!CSS.contains("fill") && !CSS.contains("stroke"), "{CSS}");
    }

    #[test]
    fn label_ids_are_never_cut_and_undefined_scores_say_n_a() {
        let (doc, _) = page(false);
        let long = sample::LONG;
        for css in ["#confusion th", "svg text", "figcaption", "td", "th"] {
            for e in all(&doc, css) {
                let t = text(&e);
                let t = t.trim();
                assert!(!(t.len() >= 3 && t != long && long.starts_with(t)), "{css}: {t:?} is a cut {long}");
            }
        }
        let heads: Vec<String> = all(&doc, "#confusion th.col").iter().map(text).collect();
        assert!(heads.iter().filter(|h| *h == long).count() == 2, "full name in both heat tables: {heads:?}");
        let bars: Vec<String> = all(&doc, "section.set svg text").iter().map(text).collect();
        assert!(bars.contains(&long.to_owned()));
        let row = |css: &str, first: &str| -> Vec<String> {
            let rows = all(&doc, css);
            let r = rows.iter().find(|r| all_cells(r).first().map(String::as_str) == Some(first)).unwrap_or_else(|| panic!("{first}"));
            all_cells(r)
        };
        assert_eq!(row("section.set tr", "unused")[1..5], ["n/a", "n/a", "n/a", "n/a (no gold)"]);
        assert_eq!(row("section.set tr", "solo")[4], "n/a (1 article)");
        assert!(row("section.set tr", "asean")[4].starts_with('['));
        assert_eq!(row("#kinds tr", "short")[2..], ["n/a", "n/a", "n/a"]);
        let worst = row("#articles tr", "s1");
        assert_eq!((worst[1].as_str(), worst[8].as_str()), ("a", "0.400"), "article a (F1 2/5) comes first: {worst:?}");
    }

    fn all_cells(row: &scraper::ElementRef) -> Vec<String> {
        row.select(&Selector::parse("td, th").unwrap()).map(|c| text(&c).trim().to_owned()).collect()
    }
}
