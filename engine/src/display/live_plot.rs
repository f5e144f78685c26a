//! [`LivePlot`]: a figure that grows point by point and redraws in place.

use super::bundle::{MimeBundle, Render};
use super::figure::Figure;
use super::live::{LiveDisplay, Throttle};
use super::output::Output;
use std::time::Duration;

/// A line plot updated while a loop runs (training curves): push points to named
/// series; the figure is redrawn in place at most every 250 ms by default (see
/// [`LivePlot::every_millis`], [`LivePlot::every_points`]), and once more by
/// [`LivePlot::finish`] (or on drop) so the last points are never lost.
///
/// ```no_run
/// use born::display::{Figure, LivePlot};
/// let mut plot = LivePlot::new(Figure::new().title("loss").xlabel("step"));
/// for step in 0..100 {
///     plot.push("train", step as f64, 1.0 / (step as f64 + 1.0));
/// }
/// plot.finish();
/// ```
pub struct LivePlot {
    figure: Figure,
    display: LiveDisplay,
    throttle: Throttle,
}

impl LivePlot {
    /// Shows `figure` (its title, labels and any series) on stdout and keeps it live.
    pub fn new(figure: Figure) -> LivePlot {
        LivePlot::with_output(figure, Output::stdout())
    }

    /// Like [`LivePlot::new`], on a given output.
    pub fn with_output(figure: Figure, out: Output) -> LivePlot {
        LivePlot {
            display: LiveDisplay::with_output(&figure, out),
            figure,
            throttle: Throttle::new(Duration::from_millis(250), None),
        }
    }

    /// Redraws at most every `ms` milliseconds (0: on every point).
    pub fn every_millis(mut self, ms: u64) -> LivePlot {
        self.throttle.every = Duration::from_millis(ms);
        self
    }

    /// Also redraws once `n` points have arrived since the last draw.
    pub fn every_points(mut self, n: usize) -> LivePlot {
        self.throttle.every_points = Some(n.max(1));
        self
    }

    /// Appends `(x, y)` to the line series `series` (created on first use).
    pub fn push(&mut self, series: &str, x: f64, y: f64) {
        self.figure.push(series, x, y);
        if self.throttle.tick(1) {
            self.redraw();
        }
    }

    /// Appends `y` to `series` at x = the number of points it already has.
    pub fn push_y(&mut self, series: &str, y: f64) {
        let x = self.figure.series_len(series) as f64;
        self.push(series, x, y);
    }

    /// Redraws now.
    pub fn redraw(&mut self) {
        self.display.update(&self.figure);
        self.throttle.drawn();
    }

    /// Draws the points not yet shown (does nothing when all are).
    pub fn finish(&mut self) {
        if self.throttle.dirty() {
            self.redraw();
        }
    }

    /// The figure so far.
    pub fn figure(&self) -> &Figure {
        &self.figure
    }

    /// The display id.
    pub fn id(&self) -> &str {
        self.display.id()
    }
}

impl Drop for LivePlot {
    /// A loop that ends (or breaks) without `finish` still shows its last points.
    fn drop(&mut self) {
        self.finish();
    }
}

impl Render for LivePlot {
    fn mime_bundle(&self) -> MimeBundle {
        self.figure.mime_bundle()
    }

    fn plain_text(&self) -> String {
        self.figure.plain_text()
    }
}
