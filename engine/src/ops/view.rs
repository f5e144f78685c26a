//! [`View`]: how a logical shape maps onto a flat buffer (strides and offset).
//! Movement ops compose views instead of copying data.

use crate::shape::contiguous_strides;

/// A strided window onto a buffer: element `idx` lives at
/// `offset + sum(idx[i] * strides[i])`. Strides may be zero (broadcast) or negative (flip).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct View {
    /// Logical shape.
    pub shape: Vec<usize>,
    /// Element strides, one per dim.
    pub strides: Vec<isize>,
    /// Element offset of index zero.
    pub offset: isize,
}

/// A movement that may be expressible as a view.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ViewOp {
    /// Same elements in row-major order, new shape.
    Reshape(Vec<usize>),
    /// Reorders dims: output dim `i` is input dim `perm[i]`.
    Permute(Vec<usize>),
    /// Repeats size-1 dims to the given shape (same rank).
    Expand(Vec<usize>),
    /// Per dim `(start, step, len)`; step may be negative.
    Slice(Vec<(usize, isize, usize)>),
    /// An arbitrary strided window over the contiguous input (sliding windows for pooling and convolution).
    AsStrided {
        /// Output shape.
        shape: Vec<usize>,
        /// Strides in elements of the contiguous input.
        strides: Vec<isize>,
        /// Offset in elements.
        offset: isize,
    },
}

impl View {
    /// The row-major view of `shape` starting at element 0.
    pub fn contiguous(shape: &[usize]) -> View {
        View {
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the view is row-major and dense (offset may be non-zero).
    pub fn is_contiguous(&self) -> bool {
        let mut expect = 1isize;
        for i in (0..self.shape.len()).rev() {
            if self.shape[i] != 1 && self.strides[i] != expect {
                return false;
            }
            expect *= self.shape[i] as isize;
        }
        true
    }

    /// True when every element reads the same address.
    pub fn is_broadcast_scalar(&self) -> bool {
        self.shape.iter().zip(&self.strides).all(|(&d, &s)| d == 1 || s == 0)
    }

    /// Smallest and one-past-largest element address the view touches (None if empty).
    pub fn span(&self) -> Option<(isize, isize)> {
        if self.numel() == 0 {
            return None;
        }
        let (mut lo, mut hi) = (self.offset, self.offset);
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            let ext = (d as isize - 1) * s;
            if ext < 0 {
                lo += ext;
            } else {
                hi += ext;
            }
        }
        Some((lo, hi + 1))
    }

    /// Applies a movement; `None` when the result is not a strided view of the
    /// same buffer (then the caller copies first).
    pub fn apply(&self, op: &ViewOp) -> Option<View> {
        match op {
            ViewOp::Reshape(shape) => self.reshape(shape),
            ViewOp::Permute(perm) => Some(View {
                shape: perm.iter().map(|&p| self.shape[p]).collect(),
                strides: perm.iter().map(|&p| self.strides[p]).collect(),
                offset: self.offset,
            }),
            ViewOp::Expand(shape) => Some(View {
                shape: shape.clone(),
                strides: self
                    .shape
                    .iter()
                    .zip(shape)
                    .zip(&self.strides)
                    .map(|((&from, &to), &s)| if from == to { s } else { 0 })
                    .collect(),
                offset: self.offset,
            }),
            ViewOp::Slice(spec) => {
                let mut offset = self.offset;
                let mut strides = self.strides.clone();
                let mut shape = self.shape.clone();
                for (i, &(start, step, len)) in spec.iter().enumerate() {
                    if len > 0 {
                        offset += start as isize * self.strides[i];
                    }
                    strides[i] = self.strides[i] * step;
                    shape[i] = len;
                }
                Some(View { shape, strides, offset })
            }
            ViewOp::AsStrided { shape, strides, offset } => self.is_contiguous().then(|| View {
                shape: shape.clone(),
                strides: strides.clone(),
                offset: self.offset + offset,
            }),
        }
    }

    /// Reshape without copying when the strides allow it (NumPy's no-copy rule:
    /// each group of merged dims must be contiguous among themselves).
    fn reshape(&self, shape: &[usize]) -> Option<View> {
        if self.numel() == 0 || self.is_contiguous() {
            return Some(View {
                shape: shape.to_vec(),
                strides: contiguous_strides(shape),
                offset: self.offset,
            });
        }
        // Drop size-1 dims: they carry no stride information.
        let old: Vec<(usize, isize)> = self
            .shape
            .iter()
            .zip(&self.strides)
            .filter(|(&d, _)| d != 1)
            .map(|(&d, &s)| (d, s))
            .collect();
        let mut strides = vec![0isize; shape.len()];
        let (mut oi, mut ni) = (0usize, 0usize);
        while ni < shape.len() {
            if shape[ni] == 1 {
                strides[ni] = 0;
                ni += 1;
                continue;
            }
            if oi >= old.len() {
                return None;
            }
            // Grow a group of old dims and a group of new dims until their sizes match.
            let (mut op, mut np) = (old[oi].0, shape[ni]);
            let (o0, n0) = (oi, ni);
            while op != np {
                if op < np {
                    oi += 1;
                    op *= old.get(oi)?.0;
                } else {
                    ni += 1;
                    np *= *shape.get(ni)?;
                }
            }
            for k in o0..oi {
                if old[k].1 != old[k + 1].1 * old[k + 1].0 as isize {
                    return None;
                }
            }
            // The new group's strides follow the innermost old stride.
            let mut s = old[oi].1;
            for k in (n0..=ni).rev() {
                strides[k] = s;
                s *= shape[k] as isize;
            }
            oi += 1;
            ni += 1;
        }
        (oi == old.len()).then(|| View {
            shape: shape.to_vec(),
            strides,
            offset: self.offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_of_transpose_needs_copy() {
        let v = View::contiguous(&[2, 3]).apply(&ViewOp::Permute(vec![1, 0])).unwrap();
        assert!(v.apply(&ViewOp::Reshape(vec![6])).is_none());
        // Splitting a dim of a transposed view is fine.
        let w = v.apply(&ViewOp::Reshape(vec![3, 2, 1])).unwrap();
        assert_eq!(w.strides[..2], [1, 3]);
    }

    #[test]
    fn slice_with_negative_step() {
        let v = View::contiguous(&[5]).apply(&ViewOp::Slice(vec![(4, -2, 3)])).unwrap();
        assert_eq!((v.offset, v.strides[0], v.shape[0]), (4, -2, 3));
        assert_eq!(v.span(), Some((0, 5)));
    }

    #[test]
    fn merge_contiguous_inner_dims_of_strided_view() {
        // [4, 3, 2] sliced on dim 0 with step 2: dims 1 and 2 are still dense.
        let v = View::contiguous(&[4, 3, 2])
            .apply(&ViewOp::Slice(vec![(0, 2, 2), (0, 1, 3), (0, 1, 2)]))
            .unwrap();
        let r = v.apply(&ViewOp::Reshape(vec![2, 6])).unwrap();
        assert_eq!(r.strides, vec![12, 1]);
    }
}
