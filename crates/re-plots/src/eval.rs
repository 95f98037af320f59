//! Evaluation plots: confusion-matrix heatmap and per-class precision–recall curves.
use crate::style::{anchored, check_font, draw_err, text, thousands, ACCENT, GRID, LABEL_SIZE, SMALL_SIZE, TITLE_SIZE};
use crate::PlotError;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

fn bad_input(path: &Path, message: String) -> PlotError {
    PlotError::Draw { path: path.to_path_buf(), message }
}

/// Confusion-matrix heatmap: rows gold, columns predicted (numbered by label id, same order as the rows),
/// `matrix[gold][pred]`. Colour = share of the gold row (per-class recall on the diagonal); number = count.
pub fn confusion_matrix(path: &Path, labels: &[String], matrix: &[Vec<u64>], title: &str) -> Result<(), PlotError> {
    let k = labels.len();
    if k == 0 || matrix.len() != k || matrix.iter().any(|r| r.len() != k) {
        return Err(bad_input(path, format!("confusion matrix must be {k} × {k} and non-empty")));
    }
    let cell = 34i32;
    let top = 100i32;
    let probe = BitMapBackend::new(path, (10, 10)).into_drawing_area();
    check_font(&probe, path)?;
    let err = draw_err(path);
    let mut label_w = 0u32;
    for (i, label) in labels.iter().enumerate() {
        let shown = format!("{i} {label}");
        label_w = label_w.max(probe.estimate_text_size(&shown, &text(SMALL_SIZE)).map_err(&err)?.0);
    }
    drop(probe);
    let left = label_w as i32 + 24;
    let width = (left + cell * k as i32 + 30).max(700) as u32;
    let height = (top + cell * k as i32 + 50) as u32;
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(&err)?;
    root.draw_text(title, &anchored(TITLE_SIZE, HPos::Center, VPos::Center), (width as i32 / 2, 24)).map_err(&err)?;
    root.draw_text(
        "rows: gold label; columns: predicted label id; colour = share of the gold row, number = count",
        &anchored(SMALL_SIZE, HPos::Center, VPos::Center),
        (width as i32 / 2, 50),
    )
    .map_err(&err)?;
    for j in 0..k {
        let xc = left + cell * j as i32 + cell / 2;
        root.draw_text(&j.to_string(), &anchored(SMALL_SIZE, HPos::Center, VPos::Bottom), (xc, top - 6))
            .map_err(&err)?;
    }
    for (i, (label, row)) in labels.iter().zip(matrix).enumerate() {
        let y0 = top + cell * i as i32;
        root.draw_text(
            &format!("{i} {label}"),
            &anchored(SMALL_SIZE, HPos::Right, VPos::Center),
            (left - 8, y0 + cell / 2),
        )
        .map_err(&err)?;
        let total: u64 = row.iter().sum();
        for (j, &c) in row.iter().enumerate() {
            let x0 = left + cell * j as i32;
            let share = if total == 0 { 0.0 } else { c as f64 / total as f64 };
            let mix = |base: u8, full: u8| (base as f64 + (full as f64 - base as f64) * share).round() as u8;
            let fill = RGBColor(mix(255, ACCENT.0), mix(255, ACCENT.1), mix(255, ACCENT.2));
            root.draw(&Rectangle::new([(x0, y0), (x0 + cell, y0 + cell)], fill.filled())).map_err(&err)?;
            root.draw(&Rectangle::new([(x0, y0), (x0 + cell, y0 + cell)], GRID)).map_err(&err)?;
            if c > 0 {
                let colour = if share > 0.5 { WHITE } else { BLACK };
                root.draw_text(
                    &thousands(c as usize),
                    &anchored(SMALL_SIZE - 2.0, HPos::Center, VPos::Center).color(&colour),
                    (x0 + cell / 2, y0 + cell / 2),
                )
                .map_err(&err)?;
            }
        }
    }
    root.present().map_err(&err)?;
    Ok(())
}

/// One class's precision–recall curve.
#[derive(Clone, Debug)]
pub struct PrCurve {
    /// Label name.
    pub label: String,
    /// Recall values (x), in curve order.
    pub recall: Vec<f64>,
    /// Precision values (y), same length as `recall`.
    pub precision: Vec<f64>,
    /// Area under the curve (fraction), shown in the panel title.
    pub auc: f64,
}

/// Per-class precision–recall curves, one small panel per class (5 columns).
pub fn pr_curves(path: &Path, curves: &[PrCurve], title: &str) -> Result<(), PlotError> {
    if curves.is_empty() {
        return Err(bad_input(path, "no precision-recall curves to draw".into()));
    }
    if let Some(c) = curves.iter().find(|c| c.recall.len() != c.precision.len()) {
        return Err(bad_input(path, format!("{}: recall and precision lengths differ", c.label)));
    }
    let cols = 5usize;
    let rows = curves.len().div_ceil(cols);
    let (panel_w, panel_h) = (300u32, 240u32);
    let width = panel_w * cols as u32;
    let height = panel_h * rows as u32 + 60;
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    check_font(&root, path)?;
    let err = draw_err(path);
    root.fill(&WHITE).map_err(&err)?;
    root.draw_text(title, &anchored(TITLE_SIZE, HPos::Center, VPos::Center), (width as i32 / 2, 28)).map_err(&err)?;
    let body = root.margin(60, 0, 0, 0);
    let panels = body.split_evenly((rows, cols));
    for (panel, curve) in panels.iter().zip(curves) {
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{} (AUC {:.3})", curve.label, curve.auc), text(LABEL_SIZE - 2.0))
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(32)
            .build_cartesian_2d(0.0f64..1.0f64, 0.0f64..1.05f64)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .x_labels(3)
            .y_labels(3)
            .light_line_style(GRID)
            .label_style(text(SMALL_SIZE - 2.0))
            .draw()
            .map_err(&err)?;
        chart
            .draw_series(LineSeries::new(
                curve.recall.iter().copied().zip(curve.precision.iter().copied()),
                ACCENT.stroke_width(2),
            ))
            .map_err(&err)?;
    }
    root.present().map_err(&err)?;
    Ok(())
}
