//! EDA plots: label distribution (horizontal bars, long relation names readable), sentence-length histograms and
//! the type-pair × relation heatmap. Inputs are plain numbers and strings (see `re_data::eda::EdaReport`).
//!
//! ```no_run
//! use re_plots::eda::label_distribution;
//! let counts = vec![("no_relation".to_string(), 9534), ("org:top_members/employees".to_string(), 4284)];
//! label_distribution(std::path::Path::new("label_distribution.png"), &counts, "Labels")?;
//! # Ok::<(), re_plots::PlotError>(())
//! ```
use crate::style::{
    anchored, check_font, draw_err, nice_step, text, thousands, ACCENT, GRID, LABEL_SIZE, MARKER, SMALL_SIZE,
    TITLE_SIZE,
};
use crate::PlotError;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

fn empty_input(path: &Path, what: &str) -> PlotError {
    PlotError::Draw { path: path.to_path_buf(), message: format!("nothing to plot: {what}") }
}

/// Horizontal bar chart of `(label, count)` in the given order (pass them most frequent first), each bar annotated
/// with its count and share.
pub fn label_distribution(path: &Path, counts: &[(String, usize)], title: &str) -> Result<(), PlotError> {
    if counts.is_empty() {
        return Err(empty_input(path, "no labelled records"));
    }
    let row_h = 26i32;
    let top = 70i32;
    let bottom = 50i32;
    let width = 1200u32;
    let height = (top + bottom + row_h * counts.len() as i32) as u32;
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    check_font(&root, path)?;
    let err = draw_err(path);
    root.fill(&WHITE).map_err(&err)?;

    let total: usize = counts.iter().map(|(_, c)| c).sum();
    let max = counts.iter().map(|(_, c)| *c).max().unwrap_or(1).max(1);
    let mut label_w = 0u32;
    for (label, _) in counts {
        label_w = label_w.max(root.estimate_text_size(label, &text(LABEL_SIZE)).map_err(&err)?.0);
    }
    let left = label_w as i32 + 30;
    let right_pad = 170i32; // room for "9,534 (29.4%)"
    let plot_w = width as i32 - left - right_pad;
    let x_of = |v: f64| left + (v / max as f64 * plot_w as f64).round() as i32;

    root.draw_text(title, &anchored(TITLE_SIZE, HPos::Center, VPos::Center), (width as i32 / 2, 28)).map_err(&err)?;
    // Vertical grid lines with tick labels at the bottom.
    let step = nice_step(max as f64, 6);
    let mut tick = 0.0;
    let plot_bottom = top + row_h * counts.len() as i32;
    while tick <= max as f64 + 1e-9 {
        let x = x_of(tick);
        root.draw(&PathElement::new(vec![(x, top - 6), (x, plot_bottom)], GRID)).map_err(&err)?;
        root.draw_text(&thousands(tick as usize), &anchored(SMALL_SIZE, HPos::Center, VPos::Top), (x, plot_bottom + 6))
            .map_err(&err)?;
        tick += step;
    }
    root.draw_text(
        &format!("records (total {})", thousands(total)),
        &anchored(SMALL_SIZE, HPos::Center, VPos::Top),
        (left + plot_w / 2, plot_bottom + 26),
    )
    .map_err(&err)?;

    for (i, (label, count)) in counts.iter().enumerate() {
        let y0 = top + row_h * i as i32;
        let yc = y0 + row_h / 2;
        root.draw_text(label, &anchored(LABEL_SIZE, HPos::Right, VPos::Center), (left - 10, yc)).map_err(&err)?;
        let x1 = x_of(*count as f64).max(left + 1);
        root.draw(&Rectangle::new([(left, y0 + 4), (x1, y0 + row_h - 4)], ACCENT.filled())).map_err(&err)?;
        let share = 100.0 * *count as f64 / total.max(1) as f64;
        root.draw_text(
            &format!("{} ({share:.1}%)", thousands(*count)),
            &anchored(SMALL_SIZE, HPos::Left, VPos::Center),
            (x1 + 6, yc),
        )
        .map_err(&err)?;
    }
    root.draw(&PathElement::new(vec![(left, top - 6), (left, plot_bottom)], BLACK)).map_err(&err)?;
    root.present().map_err(&err)?;
    Ok(())
}

/// One histogram panel: bins `(start, end, count)` (half-open `start..end`) and vertical marker lines
/// (`("p50 = 86", 86.0)`).
#[derive(Clone, Debug)]
pub struct LengthPanel {
    pub title: String,
    pub x_label: String,
    pub bins: Vec<(usize, usize, usize)>,
    pub markers: Vec<(String, f64)>,
}

/// Histograms stacked vertically, one panel each (characters; tokens when available).
pub fn length_histograms(path: &Path, panels: &[LengthPanel]) -> Result<(), PlotError> {
    if panels.is_empty() || panels.iter().all(|p| p.bins.is_empty()) {
        return Err(empty_input(path, "no sentence lengths"));
    }
    let root = BitMapBackend::new(path, (1100, 420 * panels.len() as u32)).into_drawing_area();
    check_font(&root, path)?;
    let err = draw_err(path);
    root.fill(&WHITE).map_err(&err)?;
    for (panel, area) in panels.iter().zip(root.split_evenly((panels.len(), 1))) {
        let x_max = panel.bins.iter().map(|b| b.1).max().unwrap_or(1).max(1);
        let y_max = panel.bins.iter().map(|b| b.2).max().unwrap_or(1).max(1);
        let mut chart = ChartBuilder::on(&area)
            .caption(&panel.title, text(TITLE_SIZE - 2.0))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max as f64, 0f64..y_max as f64 * 1.12)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .x_desc(panel.x_label.as_str())
            .y_desc("sentences")
            .label_style(text(SMALL_SIZE))
            .axis_desc_style(text(LABEL_SIZE))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| thousands(y.max(0.0) as usize))
            .draw()
            .map_err(&err)?;
        chart
            .draw_series(
                panel.bins.iter().filter(|b| b.2 > 0).map(|&(s, e, c)| {
                    Rectangle::new([(s as f64, 0.0), (e as f64, c as f64)], ACCENT.mix(0.85).filled())
                }),
            )
            .map_err(&err)?;
        for (i, (name, x)) in panel.markers.iter().enumerate() {
            if *x < 0.0 || *x > x_max as f64 {
                continue;
            }
            let top = y_max as f64 * 1.12;
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(*x, 0.0), (*x, top)], MARKER.stroke_width(2))))
                .map_err(&err)?;
            // Stagger the marker captions so neighbouring markers do not overwrite each other.
            let y = top * (0.95 - 0.08 * i as f64);
            // Captions of markers near the right edge go to the left of their line, so they stay inside the image.
            let (caption, h) = if *x > 0.8 * x_max as f64 {
                (format!("{name} "), HPos::Right)
            } else {
                (format!(" {name}"), HPos::Left)
            };
            chart
                .draw_series(std::iter::once(Text::new(
                    caption,
                    (*x, y),
                    text(SMALL_SIZE).color(&MARKER).pos(plotters::style::text_anchor::Pos::new(h, VPos::Center)),
                )))
                .map_err(&err)?;
        }
    }
    root.present().map_err(&err)?;
    Ok(())
}

/// Heatmap with one row per label and one column per `SUBJ-OBJ` type pair; `counts[row][col]`. Cell colour is the
/// share of the row (how a relation spreads over type pairs); the number is the count.
pub fn type_pair_heatmap(
    path: &Path,
    labels: &[String],
    pairs: &[String],
    counts: &[Vec<usize>],
    title: &str,
) -> Result<(), PlotError> {
    if labels.is_empty() || pairs.is_empty() {
        return Err(empty_input(path, "no labels or type pairs"));
    }
    if counts.len() != labels.len() || counts.iter().any(|r| r.len() != pairs.len()) {
        return Err(PlotError::Draw {
            path: path.to_path_buf(),
            message: format!("heatmap counts must be {} rows × {} columns", labels.len(), pairs.len()),
        });
    }
    let cell_w = 62i32;
    let cell_h = 24i32;
    let top = 110i32;
    let probe = BitMapBackend::new(path, (10, 10)).into_drawing_area();
    check_font(&probe, path)?;
    let err = draw_err(path);
    let mut label_w = 0u32;
    for label in labels {
        label_w = label_w.max(probe.estimate_text_size(label, &text(LABEL_SIZE)).map_err(&err)?.0);
    }
    drop(probe);
    let left = label_w as i32 + 30;
    let width = (left + cell_w * pairs.len() as i32 + 40).max(700) as u32;
    let height = (top + cell_h * labels.len() as i32 + 60) as u32;
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(&err)?;
    root.draw_text(title, &anchored(TITLE_SIZE, HPos::Center, VPos::Center), (width as i32 / 2, 26)).map_err(&err)?;
    root.draw_text(
        "subject-object entity types (columns) x relation (rows); colour = share of the row, number = count",
        &anchored(SMALL_SIZE, HPos::Center, VPos::Center),
        (width as i32 / 2, 52),
    )
    .map_err(&err)?;
    for (j, pair) in pairs.iter().enumerate() {
        let xc = left + cell_w * j as i32 + cell_w / 2;
        root.draw_text(pair, &anchored(SMALL_SIZE, HPos::Center, VPos::Bottom), (xc, top - 8)).map_err(&err)?;
    }
    for (i, (label, row)) in labels.iter().zip(counts).enumerate() {
        let y0 = top + cell_h * i as i32;
        root.draw_text(label, &anchored(LABEL_SIZE, HPos::Right, VPos::Center), (left - 10, y0 + cell_h / 2))
            .map_err(&err)?;
        let row_total: usize = row.iter().sum();
        for (j, &c) in row.iter().enumerate() {
            let x0 = left + cell_w * j as i32;
            let share = if row_total == 0 { 0.0 } else { c as f64 / row_total as f64 };
            // White → accent blue, by share of the row.
            let mix = |base: u8, full: u8| (base as f64 + (full as f64 - base as f64) * share).round() as u8;
            let fill = RGBColor(mix(255, ACCENT.0), mix(255, ACCENT.1), mix(255, ACCENT.2));
            root.draw(&Rectangle::new([(x0, y0), (x0 + cell_w, y0 + cell_h)], fill.filled())).map_err(&err)?;
            root.draw(&Rectangle::new([(x0, y0), (x0 + cell_w, y0 + cell_h)], GRID)).map_err(&err)?;
            if c > 0 {
                let colour = if share > 0.5 { WHITE } else { BLACK };
                root.draw_text(
                    &thousands(c),
                    &anchored(SMALL_SIZE, HPos::Center, VPos::Center).color(&colour),
                    (x0 + cell_w / 2, y0 + cell_h / 2),
                )
                .map_err(&err)?;
            }
        }
    }
    root.present().map_err(&err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_size(path: &Path) -> (u32, u32) {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{} is not a PNG", path.display());
        (u32::from_be_bytes(bytes[16..20].try_into().unwrap()), u32::from_be_bytes(bytes[20..24].try_into().unwrap()))
    }

    #[test]
    fn label_bars_grow_with_the_number_of_labels() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels.png");
        let counts: Vec<(String, usize)> = vec![
            ("no_relation".into(), 9534),
            ("org:top_members/employees".into(), 4284),
            ("org:political/religious_affiliation".into(), 98),
            ("per:place_of_death".into(), 40),
        ];
        label_distribution(&p, &counts, "Label distribution").unwrap();
        let (w, h) = png_size(&p);
        assert_eq!(w, 1200);
        assert_eq!(h, 70 + 50 + 26 * 4);
        assert!(label_distribution(&dir.path().join("empty.png"), &[], "x").is_err());
    }

    #[test]
    fn histogram_and_heatmap_write_pngs() {
        let dir = tempfile::tempdir().unwrap();
        let h = dir.path().join("hist.png");
        let panel = LengthPanel {
            title: "chars".into(),
            x_label: "characters".into(),
            bins: vec![(0, 10, 1), (10, 20, 5), (20, 30, 2)],
            markers: vec![("p50 = 15".into(), 15.0)],
        };
        length_histograms(&h, &[panel.clone(), panel]).unwrap();
        assert_eq!(png_size(&h), (1100, 840));
        let m = dir.path().join("heat.png");
        let labels = vec!["no_relation".to_string(), "per:title".to_string()];
        let pairs = vec!["PER-PER".to_string(), "PER-POH".to_string()];
        type_pair_heatmap(&m, &labels, &pairs, &[vec![3, 1], vec![0, 4]], "t").unwrap();
        assert!(png_size(&m).1 > 100);
        let bad = type_pair_heatmap(&dir.path().join("bad.png"), &labels, &pairs, &[vec![1]], "t");
        assert!(bad.is_err());
    }
}
