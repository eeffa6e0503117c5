//! SVG charts of a run, drawn from the same rows as its tables: calls (or
//! one-way messages) per second and CPU per call of every system at every
//! point, one chart per measure and runtime flavour.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::report::{Flavor, Point, Row};

/// One measure of a row, and how the chart names it.
struct Measure {
    file: &'static str,
    title: &'static str,
    value: fn(&Row) -> f64,
}

const MEASURES: [Measure; 2] = [
    Measure {
        file: "calls",
        title: "calls (one-way: messages) per second",
        value: |row| row.m.per_sec,
    },
    Measure {
        file: "cpu",
        title: "CPU µs per call, client and server",
        value: |row| row.m.cpu_us,
    },
];

/// Draws every chart of `rows` into `dir` (created if missing); returns
/// the files written.
pub fn draw(rows: &[Row], dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for flavor in [Flavor::MultiThread, Flavor::CurrentThread] {
        let rows: Vec<&Row> = rows.iter().filter(|r| r.flavor == flavor).collect();
        if rows.is_empty() {
            continue;
        }
        for measure in &MEASURES {
            let path = dir.join(format!("{}-{flavor}.svg", measure.file));
            chart(&rows, flavor, measure, &path).map_err(|e| format!("{}: {e}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// One line per system over the points, in the order the run took them.
fn chart(
    rows: &[&Row],
    flavor: Flavor,
    measure: &Measure,
    path: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let points: Vec<Point> = unique(rows.iter().map(|r| r.point));
    let systems: Vec<&str> = unique(rows.iter().map(|r| r.system.as_str()));
    let top = rows
        .iter()
        .map(|r| (measure.value)(r))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        * 1.1;

    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let flavor_name = match flavor {
        Flavor::MultiThread => "multi_thread",
        Flavor::CurrentThread => "current_thread",
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{} ({flavor_name})", measure.title),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..points.len() as f64 - 0.5, 0.0..top.max(1.0))?;
    chart
        .configure_mesh()
        .x_labels(points.len())
        .x_label_formatter(&|x| {
            let i = x.round();
            match points.get(i as usize) {
                Some(p) if (x - i).abs() < 1e-6 && i >= 0.0 => p.id(),
                _ => String::new(),
            }
        })
        .y_label_formatter(&|y| si(*y))
        .disable_x_mesh()
        .draw()?;
    for (i, system) in systems.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let line = points.iter().enumerate().filter_map(|(x, p)| {
            rows.iter()
                .find(|r| r.system == *system && r.point == *p)
                .map(|r| (x as f64, (measure.value)(r)))
                .filter(|(_, v)| v.is_finite())
        });
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(2)).point_size(4))?
            .label(*system)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}

/// The distinct items of `items`, in first-seen order.
fn unique<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// `1234567.0` as `1.23M`: axis labels that stay short.
fn si(v: f64) -> String {
    match v.abs() {
        a if a >= 1e6 => format!("{:.2}M", v / 1e6),
        a if a >= 1e3 => format!("{:.0}K", v / 1e3),
        a if a >= 10.0 => format!("{v:.0}"),
        _ => format!("{v:.1}"),
    }
}
