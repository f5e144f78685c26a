//! [`Vals`]: a chunk of values in its compute type, and the elementwise
//! primitives applied to whole chunks (the inner loops of fused kernels).

use crate::dtype::DType;
use crate::ops::{BinaryOp, UnaryOp};
use half::{bf16, f16};

/// A chunk of values; half floats are carried as f32.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Vals {
    Bool(Vec<bool>),
    U8(Vec<u8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Vals {
    /// An empty chunk of the compute type of `dtype`, with room for `cap` values.
    pub fn with_capacity(dtype: DType, cap: usize) -> Vals {
        match dtype.compute() {
            DType::Bool => Vals::Bool(Vec::with_capacity(cap)),
            DType::U8 => Vals::U8(Vec::with_capacity(cap)),
            DType::I32 => Vals::I32(Vec::with_capacity(cap)),
            DType::I64 => Vals::I64(Vec::with_capacity(cap)),
            DType::F64 => Vals::F64(Vec::with_capacity(cap)),
            _ => Vals::F32(Vec::with_capacity(cap)),
        }
    }
}

/// Float math the std traits lack.
trait FloatExt: num_traits::Float {
    fn erf(self) -> Self;
    fn round_even(self) -> Self;
    fn ln1p(self) -> Self;
}
impl FloatExt for f32 {
    fn erf(self) -> f32 {
        libm::erff(self)
    }
    fn round_even(self) -> f32 {
        self.round_ties_even()
    }
    fn ln1p(self) -> f32 {
        self.ln_1p()
    }
}
impl FloatExt for f64 {
    fn erf(self) -> f64 {
        libm::erf(self)
    }
    fn round_even(self) -> f64 {
        self.round_ties_even()
    }
    fn ln1p(self) -> f64 {
        self.ln_1p()
    }
}

/// Applies `f` to every value; generic so each op's loop is compiled (and vectorized) on its own.
#[inline(always)]
fn map1<T: Copy>(v: &mut [T], f: impl Fn(T) -> T) {
    for x in v.iter_mut() {
        *x = f(*x);
    }
}

/// `a[i] = f(a[i], b[i])`, monomorphized per op like [`map1`].
#[inline(always)]
fn map2<T: Copy>(a: &mut [T], b: &[T], f: impl Fn(T, T) -> T) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = f(*x, y);
    }
}

fn float_unary<T: FloatExt>(op: UnaryOp, v: &mut [T]) {
    use UnaryOp::*;
    match op {
        Neg => map1(v, |x: T| -x),
        Abs => map1(v, |x: T| x.abs()),
        Sign => map1(v, |x: T| {
            if x > T::zero() {
                T::one()
            } else if x < T::zero() {
                -T::one()
            } else {
                x
            }
        }),
        Floor => map1(v, |x: T| x.floor()),
        Ceil => map1(v, |x: T| x.ceil()),
        Round => map1(v, |x: T| x.round_even()),
        Exp => map1(v, |x: T| x.exp()),
        Log => map1(v, |x: T| x.ln()),
        Log1p => map1(v, |x: T| x.ln1p()),
        Sqrt => map1(v, |x: T| x.sqrt()),
        Recip => map1(v, |x: T| x.recip()),
        Sin => map1(v, |x: T| x.sin()),
        Cos => map1(v, |x: T| x.cos()),
        Tanh => map1(v, |x: T| x.tanh()),
        Erf => map1(v, |x: T| x.erf()),
        Not => unreachable!("not is bool-only"),
    }
}

macro_rules! int_unary {
    ($op:expr, $v:expr) => {
        match $op {
            UnaryOp::Neg => map1($v, |x| x.wrapping_neg()),
            UnaryOp::Abs => map1($v, |x| x.wrapping_abs()),
            UnaryOp::Sign => map1($v, |x| x.signum()),
            UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round => {}
            op => unreachable!("{op:?} is checked at build time to need floats"),
        }
    };
}

/// Applies a unary op in place.
pub fn unary(op: UnaryOp, mut v: Vals) -> Vals {
    match &mut v {
        Vals::F32(x) => float_unary(op, x),
        Vals::F64(x) => float_unary(op, x),
        Vals::I32(x) => int_unary!(op, x),
        Vals::I64(x) => int_unary!(op, x),
        Vals::U8(x) => match op {
            UnaryOp::Neg => x.iter_mut().for_each(|x| *x = x.wrapping_neg()),
            UnaryOp::Sign => x.iter_mut().for_each(|x| *x = (*x != 0) as u8),
            _ => {}
        },
        Vals::Bool(x) => {
            if op == UnaryOp::Not {
                x.iter_mut().for_each(|b| *b = !*b)
            }
        }
    }
    v
}

fn float_binary<T: FloatExt>(op: BinaryOp, a: &mut [T], b: &[T]) {
    use BinaryOp::*;
    match op {
        Add => map2(a, b, |x, y| x + y),
        Sub => map2(a, b, |x, y| x - y),
        Mul => map2(a, b, |x, y| x * y),
        Div => map2(a, b, |x, y| x / y),
        Rem => map2(a, b, |x: T, y: T| {
            let r = x % y;
            if r != T::zero() && ((r < T::zero()) != (y < T::zero())) {
                r + y
            } else {
                r
            }
        }),
        Pow => map2(a, b, |x: T, y: T| x.powf(y)),
        // NaN wins, as in torch.maximum.
        Max => map2(a, b, |x: T, y: T| if x.is_nan() || x > y { x } else { y }),
        Min => map2(a, b, |x: T, y: T| if x.is_nan() || x < y { x } else { y }),
        _ => unreachable!("comparisons are handled apart"),
    }
}

macro_rules! int_binary {
    ($op:expr, $a:expr, $b:expr, $t:ty) => {
        match $op {
            BinaryOp::Add => map2($a, $b, |x: $t, y: $t| x.wrapping_add(y)),
            BinaryOp::Sub => map2($a, $b, |x: $t, y: $t| x.wrapping_sub(y)),
            BinaryOp::Mul => map2($a, $b, |x: $t, y: $t| x.wrapping_mul(y)),
            // Integer remainder by zero gives 0 instead of a trap: a kernel cannot stop halfway.
            BinaryOp::Rem => map2($a, $b, |x: $t, y: $t| {
                if y == 0 {
                    return 0;
                }
                let r = x.wrapping_rem(y);
                #[allow(unused_comparisons)]
                if r != 0 && ((r < 0) != (y < 0)) {
                    r.wrapping_add(y)
                } else {
                    r
                }
            }),
            BinaryOp::Pow => map2($a, $b, |x: $t, y: $t| {
                #[allow(unused_comparisons)]
                if y < 0 {
                    // Only 1 has an integer reciprocal among non-negative results.
                    return if x == 1 { 1 } else { 0 };
                }
                x.wrapping_pow((y as i64).min(u32::MAX as i64) as u32)
            }),
            BinaryOp::Max => map2($a, $b, |x: $t, y: $t| x.max(y)),
            BinaryOp::Min => map2($a, $b, |x: $t, y: $t| x.min(y)),
            op => unreachable!("{op:?} on integers is rejected at build time"),
        }
    };
}

fn compare<T: PartialOrd>(op: BinaryOp, a: &[T], b: &[T]) -> Vec<bool> {
    let z = a.iter().zip(b);
    match op {
        BinaryOp::Eq => z.map(|(x, y)| x == y).collect(),
        BinaryOp::Ne => z.map(|(x, y)| x != y).collect(),
        BinaryOp::Lt => z.map(|(x, y)| x < y).collect(),
        BinaryOp::Le => z.map(|(x, y)| x <= y).collect(),
        _ => unreachable!("only comparisons reach here"),
    }
}

/// Applies a binary op; both chunks have the same compute type.
pub fn binary(op: BinaryOp, a: Vals, b: Vals) -> Vals {
    if op.is_comparison() {
        return Vals::Bool(match (&a, &b) {
            (Vals::Bool(x), Vals::Bool(y)) => compare(op, x, y),
            (Vals::U8(x), Vals::U8(y)) => compare(op, x, y),
            (Vals::I32(x), Vals::I32(y)) => compare(op, x, y),
            (Vals::I64(x), Vals::I64(y)) => compare(op, x, y),
            (Vals::F32(x), Vals::F32(y)) => compare(op, x, y),
            (Vals::F64(x), Vals::F64(y)) => compare(op, x, y),
            _ => unreachable!("operand types are equal by construction"),
        });
    }
    let mut a = a;
    match (&mut a, &b) {
        (Vals::F32(x), Vals::F32(y)) => float_binary(op, x, y),
        (Vals::F64(x), Vals::F64(y)) => float_binary(op, x, y),
        (Vals::I32(x), Vals::I32(y)) => int_binary!(op, x, y, i32),
        (Vals::I64(x), Vals::I64(y)) => int_binary!(op, x, y, i64),
        (Vals::U8(x), Vals::U8(y)) => int_binary!(op, x, y, u8),
        (Vals::Bool(x), Vals::Bool(y)) => match op {
            BinaryOp::And | BinaryOp::Min | BinaryOp::Mul => map2(x, y, |p, q| p && q),
            BinaryOp::Or | BinaryOp::Max | BinaryOp::Add => map2(x, y, |p, q| p || q),
            BinaryOp::Xor | BinaryOp::Sub => map2(x, y, |p, q| p ^ q),
            _ => unreachable!("{op:?} on bool is rejected at build time"),
        },
        _ => unreachable!("operand types are equal by construction"),
    }
    a
}

/// `cond ? a : b`, elementwise.
pub fn select(cond: Vals, a: Vals, b: Vals) -> Vals {
    let Vals::Bool(c) = cond else {
        unreachable!("the condition is bool by construction")
    };
    fn pick<T: Copy>(c: &[bool], a: &mut [T], b: &[T]) {
        for ((x, &y), &keep) in a.iter_mut().zip(b).zip(c) {
            if !keep {
                *x = y;
            }
        }
    }
    let mut a = a;
    match (&mut a, &b) {
        (Vals::Bool(x), Vals::Bool(y)) => pick(&c, x, y),
        (Vals::U8(x), Vals::U8(y)) => pick(&c, x, y),
        (Vals::I32(x), Vals::I32(y)) => pick(&c, x, y),
        (Vals::I64(x), Vals::I64(y)) => pick(&c, x, y),
        (Vals::F32(x), Vals::F32(y)) => pick(&c, x, y),
        (Vals::F64(x), Vals::F64(y)) => pick(&c, x, y),
        _ => unreachable!("branch types are equal by construction"),
    }
    a
}

/// Numeric conversion with Rust `as` semantics (floats to ints saturate, NaN to 0);
/// casting to f16/bf16 rounds to that precision.
pub fn cast(v: Vals, to: DType) -> Vals {
    macro_rules! conv {
        ($src:expr) => {
            match to.compute() {
                DType::Bool => Vals::Bool($src.iter().map(|&x| x as f64 != 0.0).collect()),
                DType::U8 => Vals::U8($src.iter().map(|&x| x as u8).collect()),
                DType::I32 => Vals::I32($src.iter().map(|&x| x as i32).collect()),
                DType::I64 => Vals::I64($src.iter().map(|&x| x as i64).collect()),
                DType::F64 => Vals::F64($src.iter().map(|&x| x as f64).collect()),
                _ => Vals::F32($src.iter().map(|&x| x as f32).collect()),
            }
        };
    }
    let out = match &v {
        Vals::Bool(x) => {
            let bytes: Vec<u8> = x.iter().map(|&b| b as u8).collect();
            conv!(bytes)
        }
        Vals::U8(x) => conv!(x),
        Vals::I32(x) => conv!(x),
        Vals::I64(x) => conv!(x),
        Vals::F32(x) => conv!(x),
        Vals::F64(x) => conv!(x),
    };
    match (to, out) {
        (DType::F16, Vals::F32(mut x)) => {
            x.iter_mut().for_each(|y| *y = f16::from_f32(*y).to_f32());
            Vals::F32(x)
        }
        (DType::BF16, Vals::F32(mut x)) => {
            x.iter_mut().for_each(|y| *y = bf16::from_f32(*y).to_f32());
            Vals::F32(x)
        }
        (_, out) => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remainder_takes_sign_of_divisor() {
        let r = binary(BinaryOp::Rem, Vals::F32(vec![-7.0, 7.0]), Vals::F32(vec![3.0, -3.0]));
        assert_eq!(r, Vals::F32(vec![2.0, -2.0]));
        let r = binary(BinaryOp::Rem, Vals::I64(vec![-7, 7, 5]), Vals::I64(vec![3, -3, 0]));
        assert_eq!(r, Vals::I64(vec![2, -2, 0]));
    }

    #[test]
    fn maximum_propagates_nan() {
        let Vals::F32(r) = binary(
            BinaryOp::Max,
            Vals::F32(vec![f32::NAN, 1.0]),
            Vals::F32(vec![0.0, f32::NAN]),
        ) else {
            panic!()
        };
        assert!(r[0].is_nan() && r[1].is_nan());
    }
}
