//! [`Figure`]: line, scatter and histogram plots drawn with plotters, as SVG and PNG.

use super::bundle::{MimeBundle, Render, IMAGE_PNG, IMAGE_SVG};
use super::color::PALETTE;
use super::font::{self, FAMILY};
use super::image::Image;
use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::ops::Range;
use std::path::Path;

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Line,
    Scatter,
    /// Bars centred on the x values, this wide, from 0 up to the y values.
    Bars {
        width: f64,
    },
}

/// One named set of points.
#[derive(Clone, Debug, PartialEq)]
struct Series {
    label: String,
    kind: Kind,
    xs: Vec<f64>,
    ys: Vec<f64>,
}

/// A plot, built step by step and shown as `image/svg+xml` and `image/png`.
///
/// ```
/// use born::display::Figure;
/// let xs: Vec<f64> = (0..50).map(|i| i as f64 / 10.0).collect();
/// let fig = Figure::new()
///     .title("Waves")
///     .xlabel("t")
///     .ylabel("value")
///     .line(&xs, &xs.iter().map(|x| x.sin()).collect::<Vec<_>>(), "sin")
///     .scatter(&xs, &xs.iter().map(|x| x.cos()).collect::<Vec<_>>(), "cos");
/// assert!(fig.to_svg().contains("<svg"));
/// ```
///
/// Series take colors in order from matplotlib's tab10; a legend lists the series
/// that have a label. NaN and infinite points are skipped (a line breaks there).
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    title: Option<String>,
    xlabel: Option<String>,
    ylabel: Option<String>,
    width: u32,
    height: u32,
    series: Vec<Series>,
}

impl Default for Figure {
    fn default() -> Figure {
        Figure::new()
    }
}

impl Figure {
    /// An empty 640x400 figure.
    pub fn new() -> Figure {
        Figure {
            title: None,
            xlabel: None,
            ylabel: None,
            width: 640,
            height: 400,
            series: Vec::new(),
        }
    }

    /// Sets the title above the plot.
    pub fn title(mut self, title: impl Into<String>) -> Figure {
        self.title = Some(title.into());
        self
    }

    /// Sets the x axis label.
    pub fn xlabel(mut self, label: impl Into<String>) -> Figure {
        self.xlabel = Some(label.into());
        self
    }

    /// Sets the y axis label.
    pub fn ylabel(mut self, label: impl Into<String>) -> Figure {
        self.ylabel = Some(label.into());
        self
    }

    /// Sets the size in pixels (of the PNG; the SVG's viewport).
    pub fn size(mut self, width: u32, height: u32) -> Figure {
        self.width = width.max(64);
        self.height = height.max(64);
        self
    }

    /// Adds a line through the points `(xs[i], ys[i])`. An empty label leaves it out of the legend.
    ///
    /// Panics when `xs` and `ys` differ in length.
    #[track_caller]
    pub fn line(self, xs: &[f64], ys: &[f64], label: &str) -> Figure {
        self.add(Kind::Line, xs, ys, label)
    }

    /// Adds a line through `ys` against their indices 0, 1, 2, ...
    pub fn line_y(self, ys: &[f64], label: &str) -> Figure {
        let xs: Vec<f64> = (0..ys.len()).map(|i| i as f64).collect();
        self.add(Kind::Line, &xs, ys, label)
    }

    /// Adds the points `(xs[i], ys[i])` as dots.
    ///
    /// Panics when `xs` and `ys` differ in length.
    #[track_caller]
    pub fn scatter(self, xs: &[f64], ys: &[f64], label: &str) -> Figure {
        self.add(Kind::Scatter, xs, ys, label)
    }

    /// Adds a histogram of `values` in `bins` equal bins over their finite range
    /// (NaN and infinities are not counted). Name it with [`Figure::label`].
    pub fn histogram(mut self, values: &[f64], bins: usize) -> Figure {
        let (centers, counts, width) = histogram_bins(values, bins.max(1));
        self.series.push(Series {
            label: String::new(),
            kind: Kind::Bars { width },
            xs: centers,
            ys: counts,
        });
        self
    }

    /// Names the most recently added series (for the legend).
    pub fn label(mut self, label: impl Into<String>) -> Figure {
        if let Some(s) = self.series.last_mut() {
            s.label = label.into();
        }
        self
    }

    /// Appends one point to the line series named `series`, adding the series if it is new.
    pub fn push(&mut self, series: &str, x: f64, y: f64) {
        let i = match self
            .series
            .iter()
            .position(|s| s.label == series && s.kind == Kind::Line)
        {
            Some(i) => i,
            None => {
                self.series.push(Series {
                    label: series.to_string(),
                    kind: Kind::Line,
                    xs: Vec::new(),
                    ys: Vec::new(),
                });
                self.series.len() - 1
            }
        };
        self.series[i].xs.push(x);
        self.series[i].ys.push(y);
    }

    /// The number of points in the line series named `series` (0 if there is none).
    pub fn series_len(&self, series: &str) -> usize {
        self.series
            .iter()
            .find(|s| s.label == series && s.kind == Kind::Line)
            .map_or(0, |s| s.xs.len())
    }

    /// The number of series.
    pub fn num_series(&self) -> usize {
        self.series.len()
    }

    #[track_caller]
    fn add(mut self, kind: Kind, xs: &[f64], ys: &[f64], label: &str) -> Figure {
        assert_eq!(
            xs.len(),
            ys.len(),
            "Figure: series {label:?} has {} x values and {} y values",
            xs.len(),
            ys.len()
        );
        self.series.push(Series {
            label: label.to_string(),
            kind,
            xs: xs.to_vec(),
            ys: ys.to_vec(),
        });
        self
    }

    /// The figure as an SVG document.
    pub fn try_to_svg(&self) -> Result<String> {
        font::register();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (self.width, self.height)).into_drawing_area();
            self.draw(&root).map_err(failed)?;
            root.present().map_err(failed)?;
        }
        Ok(svg)
    }

    /// The figure as a PNG image (text in the embedded DejaVu Sans).
    pub fn try_to_png(&self) -> Result<Image> {
        font::register();
        let (w, h) = (self.width, self.height);
        let mut rgb = vec![255u8; w as usize * h as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            self.draw(&root).map_err(failed)?;
            root.present().map_err(failed)?;
        }
        Image::from_rgb(w, h, &rgb)
    }

    /// Like [`Figure::try_to_svg`], but panics with the error message.
    #[track_caller]
    pub fn to_svg(&self) -> String {
        self.try_to_svg().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Figure::try_to_png`], but panics with the error message.
    #[track_caller]
    pub fn to_png(&self) -> Image {
        self.try_to_png().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Writes the figure to `path`: SVG for a `.svg` name, PNG for `.png`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let bytes = match ext.as_deref() {
            Some("svg") => self.try_to_svg()?.into_bytes(),
            Some("png") => self.try_to_png()?.png_bytes().to_vec(),
            _ => {
                return Err(Error::arg(
                    "Figure::save",
                    format!("{}: the name must end in .svg or .png", path.display()),
                ))
            }
        };
        std::fs::write(path, bytes).map_err(|e| Error::arg("Figure::save", format!("{}: {e}", path.display())))
    }

    /// Shows the figure as a cell's result (evcxr calls this on a cell's last expression).
    pub fn evcxr_display(&self) {
        super::output::show_result(self);
    }

    /// Draws axes, series and legend on any plotters backend.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let (xr, yr) = self.ranges();
        let mut builder = ChartBuilder::on(root);
        builder
            .margin(14)
            .x_label_area_size(if self.xlabel.is_some() { 44 } else { 28 })
            .y_label_area_size(if self.ylabel.is_some() { 68 } else { 52 });
        if let Some(title) = &self.title {
            builder.caption(title, (FAMILY, 20));
        }
        let mut chart = builder.build_cartesian_2d(xr, yr)?;
        let mut mesh = chart.configure_mesh();
        mesh.label_style((FAMILY, 12))
            .axis_desc_style((FAMILY, 14))
            // Only a light grid at the labelled ticks: the finer lines crowd the plot.
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(225, 225, 225));
        if let Some(x) = &self.xlabel {
            mesh.x_desc(x);
        }
        if let Some(y) = &self.ylabel {
            mesh.y_desc(y);
        }
        mesh.draw()?;

        for (i, s) in self.series.iter().enumerate() {
            let [r, g, b] = PALETTE[i % PALETTE.len()];
            let color = RGBColor(r, g, b);
            let points = || s.xs.iter().zip(&s.ys).map(|(&x, &y)| (x, y));
            let anno = match s.kind {
                Kind::Line => {
                    let mut runs = finite_runs(points());
                    let first = if runs.is_empty() { Vec::new() } else { runs.remove(0) };
                    for run in runs {
                        chart.draw_series(LineSeries::new(run, color.stroke_width(2)))?;
                    }
                    let anno = chart.draw_series(LineSeries::new(first, color.stroke_width(2)))?;
                    anno.legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)))
                }
                Kind::Scatter => {
                    let finite = points().filter(|(x, y)| x.is_finite() && y.is_finite());
                    let anno = chart.draw_series(finite.map(|p| Circle::new(p, 3, color.filled())))?;
                    anno.legend(move |(x, y)| Circle::new((x + 9, y), 3, color.filled()))
                }
                Kind::Bars { width } => {
                    let style = color.mix(0.7).filled();
                    let bars =
                        points().map(|(c, h)| Rectangle::new([(c - width / 2.0, 0.0), (c + width / 2.0, h)], style));
                    chart.draw_series(bars)?;
                    // White edges keep adjacent bars apart; the legend entry hangs on them.
                    let edge = WHITE.stroke_width(1);
                    let anno = chart.draw_series(
                        points().map(|(c, h)| Rectangle::new([(c - width / 2.0, 0.0), (c + width / 2.0, h)], edge)),
                    )?;
                    anno.legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], style))
                }
            };
            if !s.label.is_empty() {
                anno.label(&s.label);
            }
        }
        if self.series.iter().any(|s| !s.label.is_empty()) {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font((FAMILY, 13))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .draw()?;
        }
        Ok(())
    }

    /// The axis ranges: the finite data with a 5% margin; bars start at 0.
    fn ranges(&self) -> (Range<f64>, Range<f64>) {
        let (mut x, mut y) = (Extent::default(), Extent::default());
        for s in &self.series {
            for (&px, &py) in s.xs.iter().zip(&s.ys) {
                if !(px.is_finite() && py.is_finite()) {
                    continue;
                }
                if let Kind::Bars { width } = s.kind {
                    x.add(px - width / 2.0);
                    x.add(px + width / 2.0);
                    y.add(0.0);
                } else {
                    x.add(px);
                }
                y.add(py);
            }
        }
        let bars = self.series.iter().any(|s| matches!(s.kind, Kind::Bars { .. }));
        (x.padded(if bars { 0.0 } else { 0.05 }, false), y.padded(0.05, bars))
    }
}

impl Render for Figure {
    /// `image/svg+xml`, `image/png` (base64) and a one-line `text/plain` summary.
    fn mime_bundle(&self) -> MimeBundle {
        let mut bundle = MimeBundle::text(self.plain_text());
        let svg = self
            .try_to_svg()
            .map(|svg| bundle.data.insert(IMAGE_SVG.to_string(), svg));
        let png = self.try_to_png().map(|png| {
            let png = png.mime_bundle();
            if let Some(p) = png.get(IMAGE_PNG) {
                bundle.data.insert(IMAGE_PNG.to_string(), p.to_string());
            }
        });
        if let Err(e) = svg.and(png) {
            bundle.data.insert(
                super::bundle::TEXT_PLAIN.into(),
                format!("{} (not drawn: {e})", self.plain_text()),
            );
        }
        bundle
    }

    fn plain_text(&self) -> String {
        let points: usize = self.series.iter().map(|s| s.xs.len()).sum();
        let title = self.title.as_deref().map(|t| format!(" {t:?}")).unwrap_or_default();
        format!("<figure{title}: {} series, {points} points>", self.series.len())
    }
}

fn failed(e: impl std::fmt::Display) -> Error {
    Error::arg("Figure", format!("drawing failed: {e}"))
}

/// The stretches of consecutive finite points (a line breaks at NaN or infinity).
fn finite_runs(points: impl Iterator<Item = (f64, f64)>) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![Vec::new()];
    for (x, y) in points {
        if x.is_finite() && y.is_finite() {
            runs.last_mut().expect("never empty").push((x, y));
        } else if !runs.last().expect("never empty").is_empty() {
            runs.push(Vec::new());
        }
    }
    runs.retain(|r| !r.is_empty());
    runs
}

/// Bin centres, counts and the bin width of a histogram over the finite values.
fn histogram_bins(values: &[f64], bins: usize) -> (Vec<f64>, Vec<f64>, f64) {
    let finite = || values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (Vec::new(), Vec::new(), 1.0);
    }
    // All values equal: one unit-wide range around them.
    let (lo, hi) = if lo == hi { (lo - 0.5, hi + 0.5) } else { (lo, hi) };
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0.0; bins];
    for v in finite() {
        // The top edge belongs to the last bin, as in NumPy.
        let b = (((v - lo) / width) as usize).min(bins - 1);
        counts[b] += 1.0;
    }
    let centers = (0..bins).map(|b| lo + (b as f64 + 0.5) * width).collect();
    (centers, counts, width)
}

/// The smallest and largest value seen.
#[derive(Clone, Copy, Debug)]
struct Extent {
    lo: f64,
    hi: f64,
}

impl Default for Extent {
    fn default() -> Extent {
        Extent {
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
        }
    }
}

impl Extent {
    fn add(&mut self, v: f64) {
        self.lo = self.lo.min(v);
        self.hi = self.hi.max(v);
    }

    /// The range widened by `frac` of its span on each side (`floor_at_zero`: not
    /// below 0 when it starts at 0, so bars sit on the axis). No data gives 0..1, a
    /// single value a range around it.
    fn padded(self, frac: f64, floor_at_zero: bool) -> Range<f64> {
        if self.lo > self.hi {
            return 0.0..1.0;
        }
        if self.lo == self.hi {
            let d = self.lo.abs().max(1.0) * 0.5;
            return self.lo - d..self.hi + d;
        }
        let d = (self.hi - self.lo) * frac;
        let lo = if floor_at_zero && self.lo == 0.0 {
            0.0
        } else {
            self.lo - d
        };
        lo..self.hi + d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_every_finite_value() {
        let (centers, counts, width) = histogram_bins(&[0.0, 1.0, 2.0, 3.0, 4.0, f64::NAN], 4);
        assert_eq!(counts, vec![1.0, 1.0, 1.0, 2.0]);
        assert_eq!(width, 1.0);
        assert_eq!(centers[0], 0.5);
        assert_eq!(histogram_bins(&[2.0, 2.0], 3).1.iter().sum::<f64>(), 2.0);
        assert!(histogram_bins(&[], 3).0.is_empty());
    }

    #[test]
    fn lines_break_at_nan() {
        let runs = finite_runs([(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0), (3.0, 4.0)].into_iter());
        assert_eq!(runs, vec![vec![(0.0, 1.0)], vec![(2.0, 3.0), (3.0, 4.0)]]);
    }

    #[test]
    fn ranges_pad_and_handle_degenerate_data() {
        let (x, y) = Figure::new().line(&[0.0, 10.0], &[1.0, 1.0], "").ranges();
        assert_eq!((x.start, x.end), (-0.5, 10.5));
        assert_eq!((y.start, y.end), (0.5, 1.5));
        let (_, y) = Figure::new().histogram(&[1.0, 2.0, 2.0], 2).ranges();
        assert_eq!(y.start, 0.0);
        assert_eq!(Figure::new().ranges().0, 0.0..1.0);
    }

    #[test]
    fn push_extends_named_series() {
        let mut f = Figure::new();
        f.push("loss", 0.0, 1.0);
        f.push("loss", 1.0, 0.5);
        f.push("acc", 0.0, 0.1);
        assert_eq!((f.series_len("loss"), f.series_len("acc"), f.num_series()), (2, 1, 2));
    }

    #[test]
    fn svg_has_title_labels_and_legend() {
        let svg = Figure::new()
            .title("T<1>")
            .xlabel("epoch")
            .line(&[0.0, 1.0], &[1.0, 0.0], "train")
            .histogram(&[0.1, 0.2, 0.9], 3)
            .label("hist")
            .to_svg();
        assert!(svg.contains("<svg"));
        assert!(svg.contains("epoch") && svg.contains("train") && svg.contains("hist"));
        assert!(svg.contains("T&lt;1&gt;"), "the title is escaped");
    }
}
