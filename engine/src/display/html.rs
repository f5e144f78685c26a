//! The `text/html` form of a tensor: a caption (shape, dtype, device) over a table.
//!
//! 0-d is one cell, 1-d one row, 2-d a table with row and column indices; rank >= 3
//! shows each leading 2-D slice `[i, j, :, :]` as its own table. Above
//! [`ELIDE_ABOVE`] elements every dim keeps its first and last 3 entries with a `…`
//! between (as NumPy); the slices of rank >= 3 are also elided when there are more
//! than [`MAX_SLICES`], so a [1000, 1, 1] tensor does not print 1000 tables.

use super::bundle::{escape_html, MimeBundle, Render, TEXT_HTML};
use super::cells::{shown, CellFormat, ELIDE_ABOVE};
use crate::tensor::Tensor;
use std::fmt::Write;

/// Beyond this many 2-D slices, the leading dims of a rank >= 3 tensor are elided.
const MAX_SLICES: usize = 16;

const TABLE_STYLE: &str = "border-collapse:collapse;font-family:monospace;font-size:12px;text-align:right";
const CELL_STYLE: &str = "padding:1px 6px;border:1px solid #ddd";
const HEAD_STYLE: &str = "padding:1px 6px;border:1px solid #ddd;color:#888;font-weight:normal";

impl Render for Tensor {
    /// `text/plain` is the tensor's `Display` text; `text/html` the table of [`tensor_html`].
    fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::text(self.to_string()).with(TEXT_HTML, tensor_html(self))
    }

    fn plain_text(&self) -> String {
        self.to_string()
    }
}

impl Tensor {
    /// Shows the tensor as a cell's result (evcxr calls this on a cell's last
    /// expression): a `result` message under a front-end, else the text form.
    pub fn evcxr_display(&self) {
        super::output::show_result(self);
    }
}

/// The HTML table of a tensor (realizes it). Errors while computing it are shown, escaped.
pub fn tensor_html(t: &Tensor) -> String {
    let header = format!("Tensor shape={:?} dtype={} device={}", t.shape(), t.dtype(), t.device());
    let mut out = String::from("<div class=\"born-tensor\" style=\"overflow-x:auto\">");
    let _ = write!(
        out,
        "<div style=\"font-family:monospace;font-size:12px;margin-bottom:2px\">{}</div>",
        escape_html(&header)
    );
    match t.try_to_vec_f64() {
        Ok(vals) => Grid::new(t, &vals).write(&mut out),
        Err(e) => {
            let _ = write!(out, "<pre style=\"color:#b00\">{}</pre>", escape_html(&e.to_string()));
        }
    }
    out.push_str("</div>");
    out
}

/// A tensor's values with the display decisions made once.
struct Grid<'a> {
    vals: &'a [f64],
    shape: &'a [usize],
    format: CellFormat,
    elide: bool,
}

impl<'a> Grid<'a> {
    fn new(t: &'a Tensor, vals: &'a [f64]) -> Grid<'a> {
        Grid {
            vals,
            shape: t.shape(),
            format: CellFormat::choose(t.dtype(), vals),
            elide: vals.len() > ELIDE_ABOVE,
        }
    }

    fn cell(&self, i: usize) -> String {
        escape_html(&self.format.format(self.vals[i]))
    }

    fn write(&self, out: &mut String) {
        match self.shape.len() {
            0 => {
                let _ = write!(
                    out,
                    "<table style=\"{TABLE_STYLE}\"><tr><td style=\"{CELL_STYLE}\">{}</td></tr></table>",
                    self.cell(0)
                );
            }
            1 => self.table(out, 0, None, self.shape[0]),
            r => self.slices(out, r),
        }
    }

    /// Rank >= 3 (and 2): one titled table per shown index of the leading dims.
    fn slices(&self, out: &mut String, rank: usize) {
        let (lead, tail) = self.shape.split_at(rank - 2);
        let (rows, cols) = (tail[0], tail[1]);
        if lead.is_empty() {
            return self.table(out, 0, Some(rows), cols);
        }
        let count: usize = lead.iter().product();
        let elide = self.elide || count > MAX_SLICES;
        let axes: Vec<Vec<Option<usize>>> = lead.iter().map(|&n| shown(n, elide)).collect();
        let mut last_was_gap = false;
        for combo in cartesian(&axes) {
            if combo.iter().any(Option::is_none) {
                if !last_was_gap {
                    out.push_str("<div style=\"font-family:monospace;padding:2px 6px\">…</div>");
                }
                last_was_gap = true;
                continue;
            }
            last_was_gap = false;
            let idx: Vec<usize> = combo.into_iter().flatten().collect();
            // Row-major offset of the slice: the leading indices times the slice strides.
            let base = idx.iter().zip(lead).fold(0, |acc, (&i, &n)| acc * n + i) * rows * cols;
            let label: Vec<String> = idx.iter().map(usize::to_string).collect();
            let _ = write!(
                out,
                "<div style=\"font-family:monospace;font-size:12px;margin-top:6px\">[{}, :, :]</div>",
                label.join(", ")
            );
            self.table(out, base, Some(rows), cols);
        }
    }

    /// One table of `rows x cols` values starting at `base` (`rows: None` for a 1-d row without row indices).
    fn table(&self, out: &mut String, base: usize, rows: Option<usize>, cols: usize) {
        let col_idx = shown(cols, self.elide);
        let _ = write!(out, "<table style=\"{TABLE_STYLE}\"><thead><tr>");
        if rows.is_some() {
            let _ = write!(out, "<th style=\"{HEAD_STYLE}\"></th>");
        }
        for c in &col_idx {
            let _ = write!(out, "<th style=\"{HEAD_STYLE}\">{}</th>", label(*c));
        }
        out.push_str("</tr></thead><tbody>");
        let row_idx = match rows {
            Some(n) => shown(n, self.elide),
            None => vec![Some(0)],
        };
        for r in &row_idx {
            out.push_str("<tr>");
            if rows.is_some() {
                let _ = write!(out, "<th style=\"{HEAD_STYLE}\">{}</th>", label(*r));
            }
            for c in &col_idx {
                let text = match (r, c) {
                    (Some(r), Some(c)) => self.cell(base + r * cols + c),
                    _ => "…".to_string(),
                };
                let _ = write!(out, "<td style=\"{CELL_STYLE}\">{text}</td>");
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
}

fn label(i: Option<usize>) -> String {
    i.map_or_else(|| "…".to_string(), |i| i.to_string())
}

/// Every combination of one entry per axis, first axis slowest (row-major order).
fn cartesian(axes: &[Vec<Option<usize>>]) -> Vec<Vec<Option<usize>>> {
    axes.iter().fold(vec![vec![]], |acc, axis| {
        acc.iter()
            .flat_map(|prefix| {
                axis.iter().map(move |&i| {
                    let mut v = prefix.clone();
                    v.push(i);
                    v
                })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        Tensor::from_vec((0..n).map(|i| i as f32).collect::<Vec<f32>>(), shape.to_vec())
    }

    #[test]
    fn small_matrix_has_every_cell() {
        let h = tensor_html(&data(&[2, 3]));
        assert!(h.contains("shape=[2, 3] dtype=f32 device=cpu"), "{h}");
        assert_eq!(h.matches("<td").count(), 6);
        assert!(!h.contains('…'));
    }

    #[test]
    fn scalar_and_vector() {
        let s = tensor_html(&Tensor::scalar(1.5f32));
        assert_eq!(s.matches("<td").count(), 1);
        let v = tensor_html(&data(&[5]));
        assert_eq!(v.matches("<tr>").count(), 2); // header + one row
    }

    #[test]
    fn rank3_slices_are_titled_and_elided() {
        let h = tensor_html(&data(&[2, 2, 2]));
        assert!(h.contains("[0, :, :]") && h.contains("[1, :, :]"));
        let big = tensor_html(&data(&[20, 2, 2]));
        assert_eq!(big.matches("<table").count(), 6);
        assert!(big.contains("[19, :, :]") && !big.contains("[10, :, :]"));
    }

    #[test]
    fn cartesian_is_row_major() {
        let c = cartesian(&[vec![Some(0), Some(1)], vec![Some(0), Some(1)]]);
        assert_eq!(c[1], vec![Some(0), Some(1)]);
        assert_eq!(c.len(), 4);
    }
}
