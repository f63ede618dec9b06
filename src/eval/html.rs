//! The HTML report: one self-contained file (inline CSS and SVG, no script,
//! no network) that a person takes in at a glance: the metric table, F1 bars
//! with their intervals, precision and recall against the threshold for
//! each label, where the errors fall between labels, and the error list.

use std::fmt::Write as _;

use super::report::Report;

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Writes the page to `path`, atomically.
pub fn write(path: &std::path::Path, report: &Report, scores: &[Vec<f32>], gold: &[Vec<bool>]) -> crate::Result<()> {
    let mut file = crate::output::AtomicFile::create(path)?;
    std::io::Write::write_all(&mut file, render(report, scores, gold).as_bytes()).map_err(|e| crate::Error::io(path, e))?;
    file.commit()
}

/// Renders the report; `scores[row][label]` and `gold[row][label]` feed the
/// precision/recall curves.
pub fn render(report: &Report, scores: &[Vec<f32>], gold: &[Vec<bool>]) -> String {
    let mut h = String::new();
    let id = &report.identity;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>themes eval: {}</title>\n<style>{}</style>\n</head>\n<body>\n",
        esc(&id.label_set),
        CSS
    );
    let _ = write!(
        h,
        "<h1>themes eval</h1>\n<p class=\"meta\">themes {} · model {} ({}) · label set {} <code>{}</code> · {} · {}</p>\n",
        esc(&id.tool_version),
        esc(&id.model),
        esc(&id.model_revision),
        esc(&id.label_set),
        esc(&id.label_set_hash[..12.min(id.label_set_hash.len())]),
        esc(&id.mode),
        esc(&id.date)
    );
    if let Some(in_sample) = &report.in_sample {
        let _ = writeln!(h, "<p class=\"warning\"><b>{}</b></p>", esc(&in_sample.sentence()));
    }
    for set in &report.sets {
        let s = &set.scores;
        let i = &set.intervals;
        let _ = write!(h, "<h2>{} <small>({} paragraphs)</small></h2>\n<table>\n<tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>F1 95% CI</th><th>support</th></tr>\n", esc(&set.name), s.paragraphs);
        for l in &report.labels {
            let ls = &s.labels[l];
            let ci = &i.labels[l];
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{:.3}</td><td>{:.3}</td><td><b>{:.3}</b></td><td>[{:.3}, {:.3}]</td><td>{}</td></tr>",
                esc(l), ls.precision, ls.recall, ls.f1, ci.low, ci.high, ls.support
            );
        }
        let _ = writeln!(h, "<tr class=\"avg\"><td>micro average</td><td>{:.3}</td><td>{:.3}</td><td><b>{:.3}</b></td><td>[{:.3}, {:.3}]</td><td></td></tr>", s.micro.precision, s.micro.recall, s.micro.f1, i.micro_f1.low, i.micro_f1.high);
        let _ = writeln!(h, "<tr class=\"avg\"><td>macro average</td><td>{:.3}</td><td>{:.3}</td><td><b>{:.3}</b></td><td>[{:.3}, {:.3}]</td><td></td></tr>", s.macro_precision, s.macro_recall, s.macro_f1, i.macro_f1.low, i.macro_f1.high);
        for (g, f) in &s.groups {
            let ci = &i.groups[g];
            let _ = writeln!(h, "<tr class=\"avg\"><td>macro {}</td><td></td><td></td><td><b>{:.3}</b></td><td>[{:.3}, {:.3}]</td><td></td></tr>", esc(g), f, ci.low, ci.high);
        }
        let _ = writeln!(h, "</table>\n<p class=\"meta\">exact match {:.3} · Hamming loss {:.4} · intervals: {} bootstrap resamples of whole articles, seed {}</p>", s.exact_match, s.hamming_loss, i.resamples, i.seed);
        h.push_str(&f1_bars(set, &report.labels));
    }
    if !report.anchors.is_empty() {
        h.push_str("<h2>Beside the anchors</h2>\n<table>\n<tr><th>method</th><th>macro F1 core</th><th>macro F1 all</th><th>micro F1</th><th>how</th></tr>\n");
        if let Some(p) = report.pooled() {
            let _ = writeln!(h, "<tr><td><b>themes</b></td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>this report</td></tr>", p.scores.groups.get("core").copied().unwrap_or(0.0), p.scores.macro_f1, p.scores.micro.f1);
        }
        for a in &report.anchors {
            let s = &a.result.scores;
            let _ = writeln!(h, "<tr><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>", esc(&a.name), s.groups.get("core").copied().unwrap_or(0.0), s.macro_f1, s.micro.f1, esc(&a.note));
        }
        h.push_str("</table>\n");
    }
    if !report.few_shot.is_empty() {
        h.push_str(&few_shot_curve(report));
    }
    if !report.kinds.is_empty() {
        h.push_str("<h2>By kind of paragraph</h2>\n<table>\n<tr><th>kind</th><th>paragraphs</th><th>macro F1</th><th>micro F1</th></tr>\n");
        for k in &report.kinds {
            let _ = writeln!(h, "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td></tr>", esc(&k.kind), k.paragraphs, k.macro_f1, k.micro_f1);
        }
        h.push_str("</table>\n");
    }
    h.push_str("<h2>Precision and recall against the threshold</h2>\n<div class=\"grid\">\n");
    for (j, l) in report.labels.iter().enumerate() {
        let threshold = id.thresholds.get(l).copied().unwrap_or(0.5);
        h.push_str(&pr_curve(l, j, scores, gold, threshold));
    }
    h.push_str("</div>\n");
    h.push_str(&cooccurrence(report));
    let _ = writeln!(h, "<h2>Errors <small>({} paragraphs)</small></h2>\n<table class=\"errors\">\n<tr><th>paragraph</th><th>text</th><th>false positives</th><th>false negatives</th></tr>", report.errors.len());
    for e in &report.errors {
        let list = |m: &std::collections::BTreeMap<String, f32>| {
            m.iter().map(|(l, s)| format!("{} ({s:.2})", esc(l))).collect::<Vec<_>>().join("<br>")
        };
        let _ = writeln!(h, "<tr><td>{} ¶{}</td><td>{}</td><td class=\"fp\">{}</td><td class=\"fn\">{}</td></tr>", esc(&e.article), e.paragraph, esc(&e.text), list(&e.false_positives), list(&e.false_negatives));
    }
    h.push_str("</table>\n</body>\n</html>\n");
    h
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}\
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}small{color:#777;font-weight:normal}\
.meta{color:#666;font-size:.9rem}.warning{background:#fff4e0;border-left:4px solid #b35900;padding:.5rem .8rem}table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}\
td,th{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:left}th{background:#f6f6f6}\
tr.avg td{background:#fafafa}.grid{display:flex;flex-wrap:wrap;gap:.5rem}\
.errors td:nth-child(2){max-width:560px}.fp{color:#b35900}.fn{color:#1f5fa8}svg text{font-size:11px;fill:#333}";

/// Macro-F1 (all labels, and core) against examples per label, on a log
/// axis; the "all rows" point is drawn as a dashed line.
fn few_shot_curve(report: &Report) -> String {
    let (w, hgt, left, bottom) = (520.0f64, 240.0f64, 50.0f64, 30.0f64);
    let points: Vec<(usize, f64, f64)> = report
        .few_shot
        .iter()
        .filter_map(|p| p.examples.map(|n| (n, p.macro_f1, p.groups.get("core").copied().unwrap_or(0.0))))
        .collect();
    let max_n = points.iter().map(|p| p.0).max().unwrap_or(1).max(1) as f64;
    let x = |n: usize| left + (w - left - 20.0) * ((n as f64 + 1.0).ln() / (max_n + 1.0).ln());
    let y = |f: f64| (hgt - bottom) - (hgt - bottom - 10.0) * f.clamp(0.0, 1.0);
    let mut h = String::from("<h2>Few-shot curve</h2>\n<p class=\"meta\">heads trained on N hand-labelled examples per label drawn from the training folds (mean of 3 draws); 0 is the zero-shot classifier</p>\n");
    let _ = write!(h, "<svg width=\"{w}\" height=\"{hgt}\" role=\"img\" aria-label=\"few-shot curve\">");
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(h, "<line x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{tick:.2}</text>", w - 20.0, y(tick), y(tick), left - 6.0, y(tick) + 4.0);
    }
    for &(n, _, _) in &points {
        let _ = write!(h, "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{n}</text>", x(n), hgt - 10.0);
    }
    for (series, color, pick) in [("all", "#1f5fa8", 1usize), ("core", "#c0562b", 2usize)] {
        let path: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.0), y(if pick == 1 { p.1 } else { p.2 })))
            .collect();
        let _ = write!(h, "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>", path.join(" "));
        for p in &points {
            let _ = write!(h, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"><title>{series}, {} examples: {:.3}</title></circle>", x(p.0), y(if pick == 1 { p.1 } else { p.2 }), p.0, if pick == 1 { p.1 } else { p.2 });
        }
    }
    if let Some(all) = report.few_shot.iter().find(|p| p.examples.is_none()) {
        let _ = write!(h, "<line x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#1f5fa8\" stroke-dasharray=\"4 3\"><title>every training row: {:.3}</title></line>", w - 20.0, y(all.macro_f1), y(all.macro_f1), all.macro_f1);
    }
    h.push_str("</svg>\n<p class=\"meta\"><span style=\"color:#1f5fa8\">■</span> macro-F1, all labels · <span style=\"color:#c0562b\">■</span> macro-F1, core · dashed: head trained on every training row</p>\n<table>\n<tr><th>examples per label</th><th>macro F1 all</th><th>macro F1 core</th></tr>\n");
    for p in &report.few_shot {
        let n = p.examples.map_or_else(|| "all".to_owned(), |n| n.to_string());
        let _ = writeln!(h, "<tr><td>{n}</td><td>{:.3}</td><td>{:.3}</td></tr>", p.macro_f1, p.groups.get("core").copied().unwrap_or(0.0));
    }
    h.push_str("</table>\n");
    h
}

fn f1_bars(set: &super::report::SetResult, labels: &[String]) -> String {
    let row = 22.0;
    let left = 150.0;
    let width = 420.0;
    let height = row * labels.len() as f64 + 30.0;
    let mut s = String::new();
    let _ = writeln!(s, "<svg role=\"img\" aria-label=\"F1 per label with 95% intervals\" width=\"{}\" height=\"{height}\" viewBox=\"0 0 {} {height}\">", left + width + 60.0, left + width + 60.0);
    for t in 0..=4 {
        let x = left + width * t as f64 / 4.0;
        let _ = writeln!(s, "<line x1=\"{x}\" y1=\"0\" x2=\"{x}\" y2=\"{}\" stroke=\"#eee\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{:.2}</text>", height - 20.0, height - 6.0, t as f64 / 4.0);
    }
    for (k, l) in labels.iter().enumerate() {
        let y = k as f64 * row + 4.0;
        let f1 = set.scores.labels[l].f1;
        let ci = &set.intervals.labels[l];
        let _ = writeln!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", left - 6.0, y + 12.0, esc(l));
        let _ = writeln!(s, "<rect x=\"{left}\" y=\"{y}\" width=\"{:.1}\" height=\"14\" fill=\"#5b8dd6\"><title>{} F1 {f1:.3}</title></rect>", width * f1, esc(l));
        let (x0, x1) = (left + width * ci.low, left + width * ci.high);
        let _ = writeln!(s, "<line x1=\"{x0:.1}\" y1=\"{:.1}\" x2=\"{x1:.1}\" y2=\"{:.1}\" stroke=\"#222\"/><line x1=\"{x0:.1}\" y1=\"{}\" x2=\"{x0:.1}\" y2=\"{}\" stroke=\"#222\"/><line x1=\"{x1:.1}\" y1=\"{}\" x2=\"{x1:.1}\" y2=\"{}\" stroke=\"#222\"/>", y + 7.0, y + 7.0, y + 3.0, y + 11.0, y + 3.0, y + 11.0);
        let _ = writeln!(s, "<text x=\"{:.1}\" y=\"{}\">{f1:.2}</text>", left + width + 6.0, y + 12.0);
    }
    s.push_str("</svg>\n");
    s
}

fn pr_curve(label: &str, j: usize, scores: &[Vec<f32>], gold: &[Vec<bool>], threshold: f32) -> String {
    let (w, h, pad) = (240.0, 150.0, 28.0);
    let mut precision = Vec::new();
    let mut recall = Vec::new();
    for step in 1..=19 {
        let t = step as f32 / 20.0;
        let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
        for (s, g) in scores.iter().zip(gold) {
            match (s[j] >= t, g[j]) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fn_ += 1,
                _ => {}
            }
        }
        let p = if tp + fp == 0 { 0.0 } else { tp as f64 / (tp + fp) as f64 };
        let r = if tp + fn_ == 0 { 0.0 } else { tp as f64 / (tp + fn_) as f64 };
        let x = pad + (w - pad - 8.0) * t as f64;
        precision.push(format!("{x:.1},{:.1}", h - pad - (h - pad - 8.0) * p));
        recall.push(format!("{x:.1},{:.1}", h - pad - (h - pad - 8.0) * r));
    }
    let tx = pad + (w - pad - 8.0) * threshold as f64;
    format!(
        "<svg role=\"img\" aria-label=\"precision and recall against threshold for {l}\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
<text x=\"{pad}\" y=\"12\">{l}</text>\
<line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#999\"/><line x1=\"{pad}\" y1=\"8\" x2=\"{pad}\" y2=\"{b}\" stroke=\"#999\"/>\
<line x1=\"{tx:.1}\" y1=\"8\" x2=\"{tx:.1}\" y2=\"{b}\" stroke=\"#aaa\" stroke-dasharray=\"3 3\"/>\
<polyline fill=\"none\" stroke=\"#b35900\" stroke-width=\"2\" points=\"{p}\"/><polyline fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\" points=\"{rc}\"/>\
<text x=\"{pad}\" y=\"{lb}\">0</text><text x=\"{r}\" y=\"{lb}\" text-anchor=\"end\">threshold 1</text>\
<text x=\"{r}\" y=\"24\" text-anchor=\"end\" fill=\"#b35900\">precision</text><text x=\"{r}\" y=\"36\" text-anchor=\"end\" fill=\"#1f5fa8\">recall</text></svg>\n",
        l = esc(label),
        b = h - pad,
        r = w - 8.0,
        lb = h - pad + 14.0,
        p = precision.join(" "),
        rc = recall.join(" "),
    )
}

fn cooccurrence(report: &Report) -> String {
    // Among wrong paragraphs: for each gold label missed or kept, which
    // label was wrongly predicted beside it.
    let n = report.labels.len();
    let mut counts = vec![vec![0usize; n]; n];
    let index = |l: &str| report.labels.iter().position(|x| x == l);
    for e in &report.errors {
        let row = report.predictions.iter().find(|p| p.article == e.article && p.paragraph == e.paragraph);
        let Some(row) = row else { continue };
        for g in &row.gold {
            for fp in e.false_positives.keys() {
                if let (Some(a), Some(b)) = (index(g), index(fp)) {
                    counts[a][b] += 1;
                }
            }
        }
    }
    let max = counts.iter().flatten().copied().max().unwrap_or(0).max(1);
    let mut s = String::from("<h2>Where errors fall <small>(rows: gold label of a wrong paragraph; columns: label wrongly predicted beside it)</small></h2>\n<table class=\"heat\">\n<tr><th></th>");
    for l in &report.labels {
        let _ = write!(s, "<th title=\"{0}\">{1}</th>", esc(l), esc(&l.chars().take(6).collect::<String>()));
    }
    s.push_str("</tr>\n");
    for (a, l) in report.labels.iter().enumerate() {
        let _ = write!(s, "<tr><th>{}</th>", esc(l));
        for c in &counts[a] {
            let alpha = *c as f64 / max as f64;
            let _ = write!(s, "<td style=\"background:rgba(179,89,0,{alpha:.2})\">{}</td>", if *c > 0 { c.to_string() } else { String::new() });
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    s
}
