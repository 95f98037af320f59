//! Hyper-parameter study plots, as Optuna's visualisation module draws them: optimization history (with the best
//! value so far), intermediate values per trial (pruned trials marked), parallel coordinates, parameter importances
//! and slice plots. Inputs are plain numbers: parameter values arrive as positions on an axis (0..1) with the
//! axis's labelled ticks, so numeric, log and categorical parameters are drawn alike.
//!
//! Every plot is drawn to a temporary file next to `path` and renamed into place.
use crate::style::{anchored, check_font, draw_err, text, ACCENT, GRID, LABEL_SIZE, MARKER, SMALL_SIZE, TITLE_SIZE};
use crate::PlotError;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::{Path, PathBuf};

const PRUNED: RGBColor = RGBColor(150, 150, 150);

/// One finished trial for the optimization history.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryPoint {
    pub number: usize,
    pub value: f64,
    /// Complete trials make the best-so-far line; pruned ones are drawn as grey crosses.
    pub complete: bool,
}

/// One trial's intermediate values (one per epoch, NaN where an epoch had none).
#[derive(Clone, Debug, PartialEq)]
pub struct TrialCurve {
    pub number: usize,
    pub values: Vec<f64>,
    pub pruned: bool,
}

/// An axis of parameter values: positions 0..1 and labelled ticks at positions.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamAxis {
    pub name: String,
    pub ticks: Vec<(f64, String)>,
}

/// One trial in the parallel-coordinates plot: its value and its position on each parameter axis (`None`: the
/// trial did not use the parameter).
#[derive(Clone, Debug, PartialEq)]
pub struct ParallelLine {
    pub value: f64,
    pub positions: Vec<Option<f64>>,
}

/// One slice panel: a parameter axis and the trials' `(position, value, trial number)`.
#[derive(Clone, Debug, PartialEq)]
pub struct SlicePanel {
    pub axis: ParamAxis,
    pub points: Vec<(f64, f64, usize)>,
}

/// An f64 axis whose ticks (and grid lines) are exactly `keys`: the epochs, or a parameter's labelled values.
struct KeyedRange {
    start: f64,
    end: f64,
    keys: Vec<f64>,
}

impl Ranged for KeyedRange {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = (value - self.start) / (self.end - self.start);
        limit.0 + (f * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.keys.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.start..self.end
    }
}

fn bad_input(path: &Path, message: impl Into<String>) -> PlotError {
    PlotError::Draw { path: path.to_path_buf(), message: message.into() }
}

/// Draw into a temporary PNG next to `path`, then rename it to `path`.
fn atomically(path: &Path, draw: impl FnOnce(&Path) -> Result<(), PlotError>) -> Result<(), PlotError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // The extension stays `.png`: the bitmap encoder picks the format from it.
    let tmp: PathBuf = path.with_file_name(format!(".kre-tmp-{}-{name}", std::process::id()));
    let result = draw(&tmp).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| bad_input(path, format!("cannot move the plot into place: {e}")))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| match e {
        PlotError::Draw { message, .. } => PlotError::Draw { path: path.to_path_buf(), message },
    })
}

/// (min, max) of the finite values, widened a little (and around a single value) so that points are not on the
/// frame.
fn value_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        return None;
    }
    let pad = if hi > lo { (hi - lo) * 0.06 } else { lo.abs().max(1.0) * 0.05 };
    Some((lo - pad, hi + pad))
}

/// The lower end of a value axis extended so that the legend (lower right) sits below every point.
fn legend_room(y0: f64, y1: f64) -> f64 {
    y0 - 0.25 * (y1 - y0)
}

/// Light to dark blue for t in 0..1 (matplotlib's "Blues", roughly).
fn blues(t: f64) -> RGBColor {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let (a, b) = ((198.0, 219.0, 239.0), (8.0, 48.0, 107.0));
    let mix = |x: f64, y: f64| (x + (y - x) * t).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The label of the tick nearest to `x`.
fn nearest_label(ticks: &[(f64, String)], x: f64) -> String {
    ticks
        .iter()
        .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()))
        .filter(|(p, _)| (p - x).abs() < 1e-6)
        .map(|(_, l)| l.clone())
        .unwrap_or_default()
}

/// Objective value per trial (circles: complete, grey crosses: pruned at their best value) and the best value so
/// far among complete trials (red steps).
pub fn optimization_history(path: &Path, points: &[HistoryPoint], y_label: &str, title: &str) -> Result<(), PlotError> {
    let Some((y0, y1)) = value_range(points.iter().map(|p| p.value)) else {
        return Err(bad_input(path, "no trial with a finite value to plot"));
    };
    let y0 = legend_room(y0, y1);
    let x1 = points.iter().map(|p| p.number).max().unwrap_or(0) as f64 + 0.5;
    atomically(path, |tmp| {
        let root = BitMapBackend::new(tmp, (1000, 560)).into_drawing_area();
        check_font(&root, tmp)?;
        let err = draw_err(tmp);
        root.fill(&WHITE).map_err(&err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, text(TITLE_SIZE))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5f64..x1, y0..y1)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .x_desc("trial")
            .y_desc(y_label)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style(text(SMALL_SIZE))
            .axis_desc_style(text(LABEL_SIZE))
            .draw()
            .map_err(&err)?;
        let mut best: Vec<(f64, f64)> = Vec::new();
        let mut sorted: Vec<&HistoryPoint> = points.iter().filter(|p| p.complete && p.value.is_finite()).collect();
        sorted.sort_by_key(|p| p.number);
        for p in &sorted {
            let b = best.last().map_or(p.value, |&(_, b)| b.max(p.value));
            if let Some(&(_, prev)) = best.last() {
                // A step: the best value holds until the trial that improves it.
                best.push((p.number as f64, prev));
            }
            best.push((p.number as f64, b));
        }
        if let Some(&(_, b)) = best.last() {
            best.push((x1, b));
        }
        chart
            .draw_series(LineSeries::new(best, MARKER.stroke_width(2)))
            .map_err(&err)?
            .label("best value so far")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], MARKER.stroke_width(2)));
        chart
            .draw_series(sorted.iter().map(|p| Circle::new((p.number as f64, p.value), 5, ACCENT.filled())))
            .map_err(&err)?
            .label("complete trial")
            .legend(|(x, y)| Circle::new((x + 9, y), 5, ACCENT.filled()));
        let pruned: Vec<&HistoryPoint> = points.iter().filter(|p| !p.complete && p.value.is_finite()).collect();
        if !pruned.is_empty() {
            chart
                .draw_series(pruned.iter().map(|p| Cross::new((p.number as f64, p.value), 5, PRUNED.stroke_width(2))))
                .map_err(&err)?
                .label("pruned trial (best value before it stopped)")
                .legend(|(x, y)| Cross::new((x + 9, y), 5, PRUNED.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(GRID)
            .label_font(text(SMALL_SIZE))
            .draw()
            .map_err(&err)?;
        root.present().map_err(&err)?;
        Ok(())
    })
}

/// Each trial's value per epoch: complete trials blue, pruned ones grey with a red cross where they stopped.
pub fn intermediate_values(path: &Path, curves: &[TrialCurve], y_label: &str, title: &str) -> Result<(), PlotError> {
    let Some((y0, y1)) = value_range(curves.iter().flat_map(|c| c.values.iter().copied())) else {
        return Err(bad_input(path, "no intermediate values to plot"));
    };
    let y0 = legend_room(y0, y1);
    let epochs = curves.iter().map(|c| c.values.len()).max().unwrap_or(1).max(1);
    atomically(path, |tmp| {
        let root = BitMapBackend::new(tmp, (1000, 560)).into_drawing_area();
        check_font(&root, tmp)?;
        let err = draw_err(tmp);
        root.fill(&WHITE).map_err(&err)?;
        let keys: Vec<f64> = (1..=epochs).map(|e| e as f64).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, text(TITLE_SIZE))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(KeyedRange { start: 0.7, end: epochs as f64 + 0.3, keys }, y0..y1)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .x_desc("epoch")
            .y_desc(y_label)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style(text(SMALL_SIZE))
            .axis_desc_style(text(LABEL_SIZE))
            .draw()
            .map_err(&err)?;
        let points = |c: &TrialCurve| -> Vec<(f64, f64)> {
            c.values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, &v)| ((i + 1) as f64, v)).collect()
        };
        // Pruned first, so that complete trials are drawn on top.
        let mut labelled = (false, false);
        for c in curves.iter().filter(|c| c.pruned).chain(curves.iter().filter(|c| !c.pruned)) {
            let pts = points(c);
            let colour = if c.pruned { PRUNED } else { ACCENT };
            let series =
                chart.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)).point_size(3)).map_err(&err)?;
            if c.pruned && !labelled.0 {
                labelled.0 = true;
                series
                    .label("pruned trial")
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], PRUNED.stroke_width(2)));
            } else if !c.pruned && !labelled.1 {
                labelled.1 = true;
                series
                    .label("complete trial")
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], ACCENT.stroke_width(2)));
            }
            if c.pruned {
                if let Some(&last) = pts.last() {
                    chart.draw_series(std::iter::once(Cross::new(last, 7, MARKER.stroke_width(3)))).map_err(&err)?;
                }
            }
        }
        if labelled.0 {
            chart
                .draw_series(std::iter::empty::<Cross<(f64, f64), i32>>())
                .map_err(&err)?
                .label("pruned here")
                .legend(|(x, y)| Cross::new((x + 9, y), 6, MARKER.stroke_width(3)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(GRID)
            .label_font(text(SMALL_SIZE))
            .draw()
            .map_err(&err)?;
        root.present().map_err(&err)?;
        Ok(())
    })
}

/// One vertical axis for the objective, then one per parameter; each trial a line through its positions,
/// coloured by its value (darker = better). A trial that did not use a parameter skips that axis.
pub fn parallel_coordinates(
    path: &Path,
    objective: &str,
    axes: &[ParamAxis],
    lines: &[ParallelLine],
    title: &str,
) -> Result<(), PlotError> {
    let Some((v0, v1)) = value_range(lines.iter().map(|l| l.value)) else {
        return Err(bad_input(path, "no complete trial to plot"));
    };
    if lines.iter().any(|l| l.positions.len() != axes.len()) {
        return Err(bad_input(path, "every line needs one position per axis"));
    }
    let n_axes = axes.len() + 1;
    let spacing = 150i32;
    let (left, right, top, bottom) = (90i32, 110i32, 90i32, 70i32);
    let width = (left + right + spacing * (n_axes as i32 - 1)).max(700) as u32;
    let height = 620u32;
    let plot_h = height as i32 - top - bottom;
    let x_of = |i: usize| left + (i as i32) * (width as i32 - left - right) / (n_axes as i32 - 1).max(1);
    let y_of = |p: f64| top + ((1.0 - p.clamp(0.0, 1.0)) * plot_h as f64).round() as i32;
    let obj_pos = |v: f64| (v - v0) / (v1 - v0);
    atomically(path, |tmp| {
        let root = BitMapBackend::new(tmp, (width, height)).into_drawing_area();
        check_font(&root, tmp)?;
        let err = draw_err(tmp);
        root.fill(&WHITE).map_err(&err)?;
        root.draw_text(title, &anchored(TITLE_SIZE, HPos::Center, VPos::Center), (width as i32 / 2, 26))
            .map_err(&err)?;
        // Worst first, so that the best lines are on top.
        let mut order: Vec<&ParallelLine> = lines.iter().collect();
        order.sort_by(|a, b| a.value.total_cmp(&b.value));
        for l in order {
            let colour = blues(0.15 + 0.85 * obj_pos(l.value));
            let mut pts = vec![(x_of(0), y_of(obj_pos(l.value)))];
            for (i, p) in l.positions.iter().enumerate() {
                match p {
                    Some(p) => pts.push((x_of(i + 1), y_of(*p))),
                    None => {
                        if pts.len() > 1 {
                            root.draw(&PathElement::new(pts.clone(), colour.stroke_width(2))).map_err(&err)?;
                        }
                        pts.clear();
                    }
                }
            }
            if pts.len() > 1 {
                root.draw(&PathElement::new(pts, colour.stroke_width(2))).map_err(&err)?;
            }
        }
        let obj_ticks: Vec<(f64, String)> = (0..5)
            .map(|k| (0.05 + 0.225 * k as f64, 0.05 + 0.225 * k as f64))
            .map(|(p, f)| (p, format!("{:.2}", v0 + f * (v1 - v0))))
            .collect();
        let all_axes = std::iter::once((objective.to_string(), obj_ticks))
            .chain(axes.iter().map(|a| (a.name.clone(), a.ticks.clone())));
        for (i, (name, ticks)) in all_axes.enumerate() {
            let x = x_of(i);
            root.draw(&PathElement::new(vec![(x, top), (x, top + plot_h)], BLACK.stroke_width(1))).map_err(&err)?;
            root.draw_text(&name, &anchored(LABEL_SIZE, HPos::Center, VPos::Bottom), (x, top - 14)).map_err(&err)?;
            for (p, label) in ticks {
                let y = y_of(p);
                root.draw(&PathElement::new(vec![(x - 4, y), (x, y)], BLACK)).map_err(&err)?;
                // On a white box: the lines run under the labels.
                let style = anchored(SMALL_SIZE - 1.0, HPos::Left, VPos::Center);
                let (w, h) = root.estimate_text_size(&label, &style).map_err(&err)?;
                let (w, h) = (w as i32, h as i32);
                root.draw(&Rectangle::new(
                    [(x + 3, y - h / 2 - 2), (x + 7 + w, y + h / 2 + 2)],
                    WHITE.mix(0.85).filled(),
                ))
                .map_err(&err)?;
                root.draw_text(&label, &style, (x + 5, y)).map_err(&err)?;
            }
        }
        root.draw_text(
            "one line per complete trial, darker = higher value; a line skips parameters its trial did not use",
            &anchored(SMALL_SIZE, HPos::Center, VPos::Center),
            (width as i32 / 2, height as i32 - 28),
        )
        .map_err(&err)?;
        root.present().map_err(&err)?;
        Ok(())
    })
}

/// Horizontal bars of `(parameter, importance)`, most important first, each labelled with its value.
pub fn importances(path: &Path, importances: &[(String, f64)], method: &str, title: &str) -> Result<(), PlotError> {
    if importances.is_empty() {
        return Err(bad_input(path, "no parameter importances to plot"));
    }
    let row_h = 30i32;
    let (top, bottom, width) = (80i32, 40i32, 900u32);
    let height = (top + bottom + row_h * importances.len() as i32) as u32;
    let max = importances.iter().map(|(_, v)| *v).fold(0.0f64, f64::max).max(1e-12);
    atomically(path, |tmp| {
        let root = BitMapBackend::new(tmp, (width, height)).into_drawing_area();
        check_font(&root, tmp)?;
        let err = draw_err(tmp);
        root.fill(&WHITE).map_err(&err)?;
        root.draw_text(title, &anchored(TITLE_SIZE, HPos::Center, VPos::Center), (width as i32 / 2, 26))
            .map_err(&err)?;
        root.draw_text(method, &anchored(SMALL_SIZE, HPos::Center, VPos::Center), (width as i32 / 2, 54))
            .map_err(&err)?;
        let mut label_w = 0u32;
        for (name, _) in importances {
            label_w = label_w.max(root.estimate_text_size(name, &text(LABEL_SIZE)).map_err(&err)?.0);
        }
        let left = label_w as i32 + 30;
        let plot_w = width as i32 - left - 90;
        for (i, (name, v)) in importances.iter().enumerate() {
            let y0 = top + row_h * i as i32;
            let yc = y0 + row_h / 2;
            root.draw_text(name, &anchored(LABEL_SIZE, HPos::Right, VPos::Center), (left - 10, yc)).map_err(&err)?;
            let x1 = left + ((v / max) * plot_w as f64).round() as i32;
            root.draw(&Rectangle::new([(left, y0 + 5), (x1.max(left + 1), y0 + row_h - 5)], ACCENT.filled()))
                .map_err(&err)?;
            root.draw_text(&format!("{v:.3}"), &anchored(SMALL_SIZE, HPos::Left, VPos::Center), (x1 + 6, yc))
                .map_err(&err)?;
        }
        root.present().map_err(&err)?;
        Ok(())
    })
}

/// One panel per parameter: each trial's value against its parameter value, coloured by trial number (darker =
/// later).
pub fn slices(path: &Path, panels: &[SlicePanel], y_label: &str, title: &str) -> Result<(), PlotError> {
    if panels.is_empty() {
        return Err(bad_input(path, "no parameters to plot"));
    }
    let Some((y0, y1)) = value_range(panels.iter().flat_map(|p| p.points.iter().map(|q| q.1))) else {
        return Err(bad_input(path, "no trial with a finite value to plot"));
    };
    let last = panels.iter().flat_map(|p| p.points.iter().map(|q| q.2)).max().unwrap_or(0).max(1) as f64;
    let cols = panels.len().min(4);
    let rows = panels.len().div_ceil(cols);
    let (panel_w, panel_h) = (340u32, 300u32);
    let (width, height) = (panel_w * cols as u32, panel_h * rows as u32 + 70);
    atomically(path, |tmp| {
        let root = BitMapBackend::new(tmp, (width, height)).into_drawing_area();
        check_font(&root, tmp)?;
        let err = draw_err(tmp);
        root.fill(&WHITE).map_err(&err)?;
        root.draw_text(title, &anchored(TITLE_SIZE, HPos::Center, VPos::Center), (width as i32 / 2, 24))
            .map_err(&err)?;
        root.draw_text(
            "colour: trial number (darker = later)",
            &anchored(SMALL_SIZE, HPos::Center, VPos::Center),
            (width as i32 / 2, 50),
        )
        .map_err(&err)?;
        let body = root.margin(70, 0, 0, 0);
        for (area, panel) in body.split_evenly((rows, cols)).iter().zip(panels) {
            let keys: Vec<f64> = panel.axis.ticks.iter().map(|t| t.0).collect();
            let ticks = panel.axis.ticks.clone();
            let formatter = move |x: &f64| nearest_label(&ticks, *x);
            let mut chart = ChartBuilder::on(area)
                .caption(&panel.axis.name, text(LABEL_SIZE))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(48)
                .build_cartesian_2d(KeyedRange { start: -0.08, end: 1.08, keys }, y0..y1)
                .map_err(&err)?;
            chart
                .configure_mesh()
                .light_line_style(WHITE)
                .bold_line_style(GRID)
                .y_desc(y_label)
                .x_label_formatter(&formatter)
                .label_style(text(SMALL_SIZE - 2.0))
                .axis_desc_style(text(SMALL_SIZE))
                .draw()
                .map_err(&err)?;
            chart
                .draw_series(
                    panel
                        .points
                        .iter()
                        .filter(|q| q.1.is_finite())
                        .map(|&(x, y, n)| Circle::new((x, y), 4, blues(0.2 + 0.8 * n as f64 / last).filled())),
                )
                .map_err(&err)?;
        }
        root.present().map_err(&err)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_range_pads_and_handles_single_values() {
        assert_eq!(value_range([f64::NAN].into_iter()), None);
        let (a, b) = value_range([2.0, 2.0].into_iter()).unwrap();
        assert!(a < 2.0 && b > 2.0);
        let (a, b) = value_range([0.0, 10.0, f64::NAN].into_iter()).unwrap();
        assert!((a + 0.6).abs() < 1e-12 && (b - 10.6).abs() < 1e-12);
    }

    #[test]
    fn nearest_label_only_on_ticks() {
        let ticks = vec![(0.0, "a".to_string()), (1.0, "b".to_string())];
        assert_eq!(nearest_label(&ticks, 1.0), "b");
        assert_eq!(nearest_label(&ticks, 0.5), "");
    }

    #[test]
    fn bad_inputs_name_the_file_and_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.png");
        let e = optimization_history(&p, &[], "v", "t").unwrap_err().to_string();
        assert!(e.contains("h.png") && e.contains("no trial"), "{e}");
        let line = ParallelLine { value: 1.0, positions: vec![Some(0.5)] };
        assert!(parallel_coordinates(&p, "v", &[], &[line], "t").is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
