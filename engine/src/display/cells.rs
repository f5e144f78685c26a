//! How one element is written in a table cell, and which indices an elided dim shows.
//!
//! Mirrors the rules of the text form (`tensor/display.rs`) so the HTML table and
//! the printed tensor agree: bools as true/false, integers plainly, whole floats as
//! `3.`, else 4 decimals, or scientific notation for very large or small values.

use crate::dtype::DType;

/// Beyond this many elements, each dim shows only its first and last [`EDGE`] entries (as NumPy).
pub(crate) const ELIDE_ABOVE: usize = 1000;
/// Entries kept at each end of an elided dim.
pub(crate) const EDGE: usize = 3;

/// The format chosen once for all elements of a tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum CellFormat {
    Bool,
    Int,
    /// Floats that are all whole numbers: `3.`
    Whole,
    Fixed,
    Sci,
}

impl CellFormat {
    /// Picks the format from the dtype and the values (finite ones only).
    pub(crate) fn choose(dtype: DType, vals: &[f64]) -> CellFormat {
        if dtype == DType::Bool {
            return CellFormat::Bool;
        }
        if !dtype.is_float() {
            return CellFormat::Int;
        }
        let finite = || vals.iter().copied().filter(|v| v.is_finite());
        if finite().all(|v| v.fract() == 0.0 && v.abs() < 1e8) {
            return CellFormat::Whole;
        }
        let max = finite().fold(0.0f64, |m, v| m.max(v.abs()));
        let min = finite()
            .filter(|v| *v != 0.0)
            .fold(f64::INFINITY, |m, v| m.min(v.abs()));
        if max >= 1e8 || min < 1e-4 {
            CellFormat::Sci
        } else {
            CellFormat::Fixed
        }
    }

    /// Writes one value.
    pub(crate) fn format(self, v: f64) -> String {
        if v.is_nan() {
            return "nan".into();
        }
        if v.is_infinite() {
            return if v > 0.0 { "inf".into() } else { "-inf".into() };
        }
        match self {
            CellFormat::Bool => (if v != 0.0 { "true" } else { "false" }).into(),
            CellFormat::Int => format!("{}", v as i64),
            CellFormat::Whole => format!("{v:.0}."),
            CellFormat::Fixed => format!("{v:.4}"),
            CellFormat::Sci => format!("{v:.4e}"),
        }
    }
}

/// Indices shown along a dim of size `n`; `None` marks the elided gap.
pub(crate) fn shown(n: usize, elide: bool) -> Vec<Option<usize>> {
    if elide && n > 2 * EDGE {
        let mut v: Vec<Option<usize>> = (0..EDGE).map(Some).collect();
        v.push(None);
        v.extend((n - EDGE..n).map(Some));
        v
    } else {
        (0..n).map(Some).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_text_form() {
        assert_eq!(CellFormat::choose(DType::F32, &[1.0, 2.0]).format(3.0), "3.");
        assert_eq!(CellFormat::choose(DType::F32, &[0.5]).format(0.25), "0.2500");
        assert_eq!(CellFormat::choose(DType::F64, &[1e9, 0.5]), CellFormat::Sci);
        assert_eq!(CellFormat::choose(DType::I64, &[1.0]).format(-4.0), "-4");
        assert_eq!(CellFormat::choose(DType::Bool, &[1.0]).format(1.0), "true");
        assert_eq!(CellFormat::Fixed.format(f64::NAN), "nan");
        assert_eq!(CellFormat::Fixed.format(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn elides_long_dims_only() {
        assert_eq!(shown(4, true).len(), 4);
        assert_eq!(
            shown(100, true),
            vec![Some(0), Some(1), Some(2), None, Some(97), Some(98), Some(99)]
        );
        assert_eq!(shown(100, false).len(), 100);
    }
}
