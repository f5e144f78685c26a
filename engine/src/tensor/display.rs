//! Text form of a tensor, PyTorch-like: nested rows, aligned, elided when large.

use super::Tensor;
use crate::dtype::DType;
use std::fmt;

/// Beyond this many elements, each dim shows only its first and last `EDGE` entries.
const ELIDE_ABOVE: usize = 1000;
const EDGE: usize = 3;

/// How each element is written.
enum Style {
    Bool,
    Int,
    /// Floats that are all whole numbers: `3.`
    Whole,
    Fixed(usize),
    Sci,
}

fn style(dtype: DType, vals: &[f64]) -> Style {
    if dtype == DType::Bool {
        return Style::Bool;
    }
    if !dtype.is_float() {
        return Style::Int;
    }
    let finite: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.iter().all(|v| v.fract() == 0.0) && finite.iter().all(|v| v.abs() < 1e8) {
        return Style::Whole;
    }
    let max = finite.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let min = finite
        .iter()
        .filter(|v| **v != 0.0)
        .fold(f64::INFINITY, |m, v| m.min(v.abs()));
    if max >= 1e8 || min < 1e-4 {
        Style::Sci
    } else {
        Style::Fixed(4)
    }
}

fn format_one(v: f64, s: &Style) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    match s {
        Style::Bool => (if v != 0.0 { "true" } else { "false" }).into(),
        Style::Int => format!("{}", v as i64),
        Style::Whole => format!("{v:.0}."),
        Style::Fixed(p) => format!("{v:.p$}", p = *p),
        Style::Sci => format!("{v:.4e}"),
    }
}

/// Indices shown along a dim of size `n` (`None` marks the "..." gap).
fn shown(n: usize, elide: bool) -> Vec<Option<usize>> {
    if elide && n > 2 * EDGE {
        let mut v: Vec<Option<usize>> = (0..EDGE).map(Some).collect();
        v.push(None);
        v.extend((n - EDGE..n).map(Some));
        v
    } else {
        (0..n).map(Some).collect()
    }
}

fn write_nested(
    out: &mut String,
    cells: &[String],
    shape: &[usize],
    strides: &[usize],
    base: usize,
    elide: bool,
    width: usize,
    indent: usize,
) {
    if shape.is_empty() {
        out.push_str(&format!("{:>width$}", cells[base]));
        return;
    }
    out.push('[');
    let idx = shown(shape[0], elide);
    for (i, k) in idx.iter().enumerate() {
        if i > 0 {
            out.push(',');
            if shape.len() > 1 {
                out.push_str(&"\n".repeat(shape.len() - 1));
                out.push_str(&" ".repeat(indent + 1));
            } else {
                out.push(' ');
            }
        }
        match k {
            Some(k) => write_nested(
                out,
                cells,
                &shape[1..],
                &strides[1..],
                base + k * strides[0],
                elide,
                width,
                indent + 1,
            ),
            None => out.push_str("..."),
        }
    }
    out.push(']');
}

impl Tensor {
    /// The text form: values, then shape, dtype and device.
    pub fn try_to_text(&self) -> crate::error::Result<String> {
        let vals = self.try_to_vec_f64()?;
        let elide = vals.len() > ELIDE_ABOVE;
        let strides = crate::shape::contiguous_strides(self.shape());
        let strides: Vec<usize> = strides.iter().map(|&s| s as usize).collect();
        // Only the shown elements decide the format, as in NumPy.
        let st = style(self.dtype(), &vals);
        let cells: Vec<String> = vals.iter().map(|&v| format_one(v, &st)).collect();
        let width = cells.iter().map(|c| c.len()).max().unwrap_or(0);
        let mut body = String::new();
        write_nested(
            &mut body,
            &cells,
            self.shape(),
            &strides,
            0,
            elide,
            width,
            "tensor(".len(),
        );
        Ok(format!(
            "tensor({body}, shape={:?}, dtype={}, device={})",
            self.shape(),
            self.dtype(),
            self.device()
        ))
    }
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_to_text() {
            Ok(s) => f.write_str(&s),
            Err(e) => write!(f, "<tensor {:?} {}: {e}>", self.shape(), self.dtype()),
        }
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
