//! Shapes and the argument types that name dimensions: [`Shape`], [`Dims`],
//! [`ShapeSpec`] (a shape that may hold one `-1`) and [`Pair`].

use crate::error::{Error, Result};
use std::fmt;
use std::ops::Deref;

/// The extent of each dimension; `[]` is a scalar.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// Row-major strides, in elements.
    pub fn contiguous_strides(&self) -> Vec<isize> {
        contiguous_strides(&self.0)
    }
}

/// Row-major strides of `dims`, in elements.
pub fn contiguous_strides(dims: &[usize]) -> Vec<isize> {
    let mut strides = vec![0isize; dims.len()];
    let mut acc = 1isize;
    for i in (0..dims.len()).rev() {
        strides[i] = acc;
        acc *= dims[i].max(1) as isize;
    }
    strides
}

impl Deref for Shape {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        &self.0
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl From<&[usize]> for Shape {
    fn from(s: &[usize]) -> Shape {
        Shape(s.to_vec())
    }
}
impl From<Vec<usize>> for Shape {
    fn from(s: Vec<usize>) -> Shape {
        Shape(s)
    }
}
impl From<&Vec<usize>> for Shape {
    fn from(s: &Vec<usize>) -> Shape {
        Shape(s.clone())
    }
}
impl<const N: usize> From<[usize; N]> for Shape {
    fn from(s: [usize; N]) -> Shape {
        Shape(s.to_vec())
    }
}
impl From<&Shape> for Shape {
    fn from(s: &Shape) -> Shape {
        s.clone()
    }
}
impl From<()> for Shape {
    fn from(_: ()) -> Shape {
        Shape(vec![])
    }
}

/// How the dims of `fine` group, in order, into the dims of `coarse` with the same
/// row-major order (`coarse` is a reshape of `fine` that only merges neighbours): per
/// coarse dim, the range of fine dims whose product it is. `[2, 3, 4]` groups into
/// `[6, 4]` as `[0..2, 2..3]`; into `[2, 12]` as `[0..1, 1..3]`; not into `[4, 6]`.
/// Size-1 fine dims join whichever group is open.
pub fn dim_groups(fine: &[usize], coarse: &[usize]) -> Option<Vec<std::ops::Range<usize>>> {
    if fine.iter().product::<usize>() != coarse.iter().product::<usize>() || coarse.contains(&0) {
        return None;
    }
    let mut groups = Vec::with_capacity(coarse.len());
    let mut i = 0;
    for &c in coarse {
        let (start, mut p) = (i, 1);
        while p < c {
            p *= fine[i];
            i += 1;
        }
        if p != c {
            return None;
        }
        groups.push(start..i);
    }
    // Trailing size-1 dims go with the last group.
    if let Some(last) = groups.last_mut() {
        last.end = fine.len();
    }
    Some(groups)
}

/// The coarsest shape that refines every one of `shapes` (each of `numel` elements): the
/// union of their dim boundaries in row-major order (as products of inner extents), when
/// each boundary divides the next. `[6]` and `[2, 3]` share `[2, 3]`; `[4, 6]` and `[6, 4]`
/// split the index in ways no one shape holds (`None`), as does a shape of another size.
pub fn common_refinement<'a>(shapes: impl IntoIterator<Item = &'a [usize]>, numel: usize) -> Option<Vec<usize>> {
    if numel == 0 {
        return None;
    }
    let mut cuts = vec![numel];
    for shape in shapes {
        if shape.iter().product::<usize>() != numel {
            return None;
        }
        let mut q = 1;
        for &d in shape.iter().rev() {
            q *= d;
            cuts.push(q);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut dims = Vec::new();
    let mut prev = 1;
    for c in cuts {
        if c % prev != 0 {
            return None;
        }
        if c > prev {
            dims.push(c / prev);
        }
        prev = c;
    }
    dims.reverse();
    Some(dims)
}

/// NumPy broadcasting of two shapes.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            (x, y) => {
                return Err(Error::shapes(
                    op,
                    a,
                    b,
                    format!(
                        "cannot broadcast: dimension {} is {x} vs {y}",
                        i as isize - rank as isize
                    ),
                ))
            }
        };
    }
    Ok(out)
}

/// Resolves a possibly negative axis against `rank`.
pub fn normalize_axis(op: &'static str, axis: isize, rank: usize) -> Result<usize> {
    let r = rank as isize;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r.max(1) || (rank == 0 && a != 0) {
        return Err(Error::InvalidAxis { op, axis, rank });
    }
    Ok(a as usize)
}

/// A set of axes for reductions and movement ops; negative values count from the end.
#[derive(Clone, Debug, PartialEq)]
pub struct Dims(pub Vec<isize>);

impl Dims {
    /// Resolves every axis against `rank`, rejecting duplicates; the result is sorted.
    pub fn resolve(&self, op: &'static str, rank: usize) -> Result<Vec<usize>> {
        let mut out = Vec::with_capacity(self.0.len());
        for &a in &self.0 {
            let n = normalize_axis(op, a, rank)?;
            if out.contains(&n) {
                return Err(Error::arg(op, format!("axis {a} is given twice")));
            }
            out.push(n);
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Resolves the axes keeping their order (for permutations).
    pub fn resolve_ordered(&self, op: &'static str, rank: usize) -> Result<Vec<usize>> {
        let sorted = self.resolve(op, rank)?;
        let _ = sorted;
        self.0.iter().map(|&a| normalize_axis(op, a, rank)).collect()
    }
}

macro_rules! dims_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Dims {
            fn from(a: $t) -> Dims {
                Dims(vec![a as isize])
            }
        }
        impl<const N: usize> From<[$t; N]> for Dims {
            fn from(a: [$t; N]) -> Dims {
                Dims(a.iter().map(|&x| x as isize).collect())
            }
        }
        impl From<&[$t]> for Dims {
            fn from(a: &[$t]) -> Dims {
                Dims(a.iter().map(|&x| x as isize).collect())
            }
        }
        impl From<Vec<$t>> for Dims {
            fn from(a: Vec<$t>) -> Dims {
                Dims(a.iter().map(|&x| x as isize).collect())
            }
        }
        impl From<&Vec<$t>> for Dims {
            fn from(a: &Vec<$t>) -> Dims {
                Dims(a.iter().map(|&x| x as isize).collect())
            }
        }
    )*};
}
dims_from!(i32, i64, isize, usize);

/// A target shape that may contain one `-1`, inferred from the element count.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapeSpec(pub Vec<isize>);

impl ShapeSpec {
    /// Resolves the `-1` (if any) so that the shape holds `numel` elements.
    pub fn resolve(&self, op: &'static str, from: &[usize]) -> Result<Vec<usize>> {
        let numel: usize = from.iter().product();
        let mut infer = None;
        let mut known = 1usize;
        for (i, &d) in self.0.iter().enumerate() {
            if d == -1 {
                if infer.replace(i).is_some() {
                    return Err(Error::arg(op, format!("only one -1 is allowed in {:?}", self.0)));
                }
            } else if d < 0 {
                return Err(Error::arg(op, format!("negative size {d} in {:?}", self.0)));
            } else {
                known *= d as usize;
            }
        }
        let mut out: Vec<usize> = self.0.iter().map(|&d| d.max(0) as usize).collect();
        if let Some(i) = infer {
            if known == 0 || !numel.is_multiple_of(known) {
                return Err(Error::shapes(
                    op,
                    from,
                    &out,
                    format!("cannot infer -1: {numel} elements do not divide into {known}"),
                ));
            }
            out[i] = numel / known;
        } else if known != numel {
            return Err(Error::shapes(
                op,
                from,
                &out,
                format!("{numel} elements cannot be viewed as {known}"),
            ));
        }
        Ok(out)
    }
}

macro_rules! spec_from {
    ($($t:ty),*) => {$(
        impl<const N: usize> From<[$t; N]> for ShapeSpec {
            fn from(a: [$t; N]) -> ShapeSpec {
                ShapeSpec(a.iter().map(|&x| x as isize).collect())
            }
        }
        impl From<&[$t]> for ShapeSpec {
            fn from(a: &[$t]) -> ShapeSpec {
                ShapeSpec(a.iter().map(|&x| x as isize).collect())
            }
        }
        impl From<Vec<$t>> for ShapeSpec {
            fn from(a: Vec<$t>) -> ShapeSpec {
                ShapeSpec(a.iter().map(|&x| x as isize).collect())
            }
        }
        impl From<&Vec<$t>> for ShapeSpec {
            fn from(a: &Vec<$t>) -> ShapeSpec {
                ShapeSpec(a.iter().map(|&x| x as isize).collect())
            }
        }
    )*};
}
spec_from!(i32, i64, isize, usize);

impl From<&Shape> for ShapeSpec {
    fn from(s: &Shape) -> ShapeSpec {
        ShapeSpec(s.iter().map(|&x| x as isize).collect())
    }
}
impl From<Shape> for ShapeSpec {
    fn from(s: Shape) -> ShapeSpec {
        ShapeSpec(s.iter().map(|&x| x as isize).collect())
    }
}
impl From<()> for ShapeSpec {
    fn from(_: ()) -> ShapeSpec {
        ShapeSpec(vec![])
    }
}

/// Two values for the two spatial dims (height, width); a single value is used for both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair(pub usize, pub usize);

impl From<usize> for Pair {
    fn from(v: usize) -> Pair {
        Pair(v, v)
    }
}
impl From<i32> for Pair {
    fn from(v: i32) -> Pair {
        Pair(v.max(0) as usize, v.max(0) as usize)
    }
}
impl From<(usize, usize)> for Pair {
    fn from(v: (usize, usize)) -> Pair {
        Pair(v.0, v.1)
    }
}
impl From<[usize; 2]> for Pair {
    fn from(v: [usize; 2]) -> Pair {
        Pair(v[0], v[1])
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn dims_group_into_merged_neighbours_only() {
        assert_eq!(dim_groups(&[2, 3, 4], &[6, 4]), Some(vec![0..2, 2..3]));
        assert_eq!(dim_groups(&[2, 3, 4], &[2, 12]), Some(vec![0..1, 1..3]));
        assert_eq!(
            dim_groups(&[1, 32, 3, 3, 64, 11, 11], &[1, 288, 7744]),
            Some(vec![0..0, 0..4, 4..7])
        );
        assert_eq!(dim_groups(&[2, 3, 4, 1], &[6, 4]), Some(vec![0..2, 2..4]));
        assert_eq!(dim_groups(&[2, 3, 4], &[4, 6]), None);
        assert_eq!(dim_groups(&[2, 3], &[7]), None);
    }
    use super::*;

    #[test]
    fn broadcast_names_both_shapes() {
        let e = broadcast_shapes("add", &[2, 3], &[4]).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("[2, 3]") && msg.contains("[4]") && msg.contains("add"),
            "{msg}"
        );
    }

    #[test]
    fn reshape_infers_minus_one() {
        assert_eq!(
            ShapeSpec::from([2, -1]).resolve("reshape", &[2, 3, 4]).unwrap(),
            vec![2, 12]
        );
        assert!(ShapeSpec::from([5, -1]).resolve("reshape", &[2, 3]).is_err());
    }
}
