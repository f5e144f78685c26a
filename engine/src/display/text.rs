//! Text form of a tensor, PyTorch-like: nested rows, aligned, elided when large.
//! The cell rules (format, elision) are shared with the HTML table in `cells`.

use super::cells::{shown, CellFormat, ELIDE_ABOVE};
use crate::tensor::Tensor;
use std::fmt;

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
        let st = CellFormat::choose(self.dtype(), &vals);
        let cells: Vec<String> = vals.iter().map(|&v| st.format(v)).collect();
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
