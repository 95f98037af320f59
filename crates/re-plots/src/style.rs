//! Shared look of kre's plots: one font family, sizes, colours, and a font check with a clear error.
//!
//! Text goes through plotters' `ttf` backend, which finds `sans-serif` with fontconfig (font-kit). On a machine
//! without any font, plotters would fail deep inside a draw call; [`check_font`] turns that into an error that says
//! what to install.
use crate::PlotError;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Font family asked from fontconfig.
pub(crate) const FONT_FAMILY: &str = "sans-serif";
pub(crate) const TITLE_SIZE: f64 = 22.0;
pub(crate) const LABEL_SIZE: f64 = 15.0;
pub(crate) const SMALL_SIZE: f64 = 13.0;
/// Bar / accent colour (a muted blue).
pub(crate) const ACCENT: RGBColor = RGBColor(52, 101, 164);
pub(crate) const GRID: RGBColor = RGBColor(225, 225, 225);
pub(crate) const MARKER: RGBColor = RGBColor(204, 51, 51);

/// A text style of the shared family.
pub(crate) fn text(size: f64) -> TextStyle<'static> {
    (FONT_FAMILY, size).into_font().color(&BLACK)
}

/// A text style anchored at `h`/`v` (e.g. right-aligned labels in front of bars).
pub(crate) fn anchored(size: f64, h: HPos, v: VPos) -> TextStyle<'static> {
    text(size).pos(Pos::new(h, v))
}

/// Fail early, with an actionable message, when no font can be loaded.
pub(crate) fn check_font<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    path: &Path,
) -> Result<(), PlotError> {
    area.estimate_text_size("Ag", &text(LABEL_SIZE)).map(|_| ()).map_err(|e| PlotError::Draw {
        path: path.to_path_buf(),
        message: format!(
            "no usable font: plotters looks up the '{FONT_FAMILY}' family through fontconfig and found none ({e:?}); \
             install a TrueType font (e.g. `apt-get install fonts-dejavu-core`) and retry"
        ),
    })
}

/// Map any plotters drawing error to a [`PlotError`] naming the output file.
pub(crate) fn draw_err<E: std::fmt::Debug>(path: &Path) -> impl Fn(E) -> PlotError + '_ {
    move |e| PlotError::Draw { path: path.to_path_buf(), message: format!("{e:?}") }
}

/// A "nice" tick step (1, 2 or 5 × 10^k) giving about `target` ticks up to `max`.
pub(crate) fn nice_step(max: f64, target: usize) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let raw = max / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// `1234567` → `"1,234,567"`.
pub(crate) fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_and_thousands() {
        assert_eq!(nice_step(4284.0, 5), 1000.0);
        assert_eq!(nice_step(95.0, 5), 20.0);
        assert_eq!(nice_step(0.0, 5), 1.0);
        assert_eq!(thousands(9534), "9,534");
        assert_eq!(thousands(123), "123");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
