//! The lookup plot: time per lookup against references, log–log, one line per
//! contender, as a self-contained SVG.

// Plot math: sizes as f64, and log10 exponents of nanoseconds and sizes
// (small, positive) back to integers for the axis ticks.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::{LOOKUP, label, time};

// One per `LOOKUP` contender, in its order (`ociledger` in red, through a reused `Lookup`
// buffer in brown; `ociledger_memory` in orange, through the buffer in purple).
const COLORS: [&str; 7] = [
    "#d62728", "#8c564b", "#ff7f0e", "#9467bd", "#1f77b4", "#2ca02c", "#7f7f7f",
];

/// A log–log line plot of ns per lookup against references.
// Draws in order, with x, y, w, h as in any plotting code: one reading order, kept whole.
#[allow(clippy::too_many_lines, clippy::many_single_char_names)]
pub fn lookup(series: &BTreeMap<&str, Vec<(u64, f64)>>) -> String {
    let (w, h) = (720.0, 440.0);
    let (left, right, top, bottom) = (80.0, 170.0, 40.0, 60.0);
    let pts: Vec<(u64, f64)> = series.values().flatten().copied().collect();
    if pts.is_empty() {
        return String::from("<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    }
    let xmin = (pts.iter().map(|p| p.0).min().unwrap_or(1) as f64)
        .log10()
        .floor();
    let xmax = (pts.iter().map(|p| p.0).max().unwrap_or(10) as f64)
        .log10()
        .ceil()
        .max(xmin + 1.0);
    let ymin = pts
        .iter()
        .map(|p| p.1)
        .fold(f64::MAX, f64::min)
        .log10()
        .floor();
    let ymax = pts
        .iter()
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .log10()
        .ceil()
        .max(ymin + 1.0);
    let x = |v: f64| left + (v.log10() - xmin) / (xmax - xmin) * (w - left - right);
    let y = |v: f64| h - bottom - (v.log10() - ymin) / (ymax - ymin) * (h - top - bottom);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">digest → tags: time per lookup vs references (log–log)</text>"#,
        (left + w - right) / 2.0
    );
    // Grid and ticks.
    for e in (xmin as i32)..=(xmax as i32) {
        let v = 10f64.powi(e);
        let px = x(v);
        let _ = writeln!(
            s,
            r##"<line x1="{px}" y1="{top}" x2="{px}" y2="{}" stroke="#ddd"/>"##,
            h - bottom
        );
        let _ = writeln!(
            s,
            r#"<text x="{px}" y="{}" text-anchor="middle">{}</text>"#,
            h - bottom + 18.0,
            label(v as u64)
        );
    }
    for e in (ymin as i32)..=(ymax as i32) {
        let v = 10f64.powi(e);
        let py = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{py}" x2="{}" y2="{py}" stroke="#ddd"/>"##,
            w - right
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 6.0,
            py + 4.0,
            time(v)
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{left}" y="{top}" width="{}" height="{}" fill="none" stroke="#333"/>"##,
        w - left - right,
        h - top - bottom
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">references in the ledger</text>"#,
        (left + w - right) / 2.0,
        h - 18.0
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{}" text-anchor="middle" transform="rotate(-90 18 {})">mean time per lookup</text>"#,
        (top + h - bottom) / 2.0,
        (top + h - bottom) / 2.0
    );
    for (i, name) in LOOKUP.iter().enumerate() {
        let Some(points) = series.get(name) else {
            continue;
        };
        let color = COLORS[i];
        let path: Vec<String> = points
            .iter()
            .map(|&(n, t)| format!("{:.1},{:.1}", x(n as f64), y(t)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
            path.join(" ")
        );
        for &(n, t) in points {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{color}"><title>{name} {}: {}</title></circle>"#,
                x(n as f64),
                y(t),
                label(n),
                time(t)
            );
        }
        let ly = top + 20.0 + 22.0 * i as f64;
        let lx = w - right + 15.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2"/>"#,
            lx + 24.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">{name}</text>"#,
            lx + 30.0,
            ly + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}
