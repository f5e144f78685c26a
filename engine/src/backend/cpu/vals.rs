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

/// Runs `$body` with `$v` bound to the inner `Vec` of a [`Vals`], whatever its type.
macro_rules! with_vals {
    ($vals:expr, $v:ident => $body:expr) => {
        match $vals {
            Vals::Bool($v) => $body,
            Vals::U8($v) => $body,
            Vals::I32($v) => $body,
            Vals::I64($v) => $body,
            Vals::F32($v) => $body,
            Vals::F64($v) => $body,
        }
    };
}

impl Vals {
    /// Number of values.
    pub fn len(&self) -> usize {
        with_vals!(self, v => v.len())
    }

    /// Room for values without reallocating.
    pub fn capacity(&self) -> usize {
        with_vals!(self, v => v.capacity())
    }

    /// Empties the chunk and makes room for `cap` values.
    fn clear_reserve(&mut self, cap: usize) {
        with_vals!(self, v => {
            v.clear();
            v.reserve(cap)
        })
    }

    /// A single value repeated to `n` values (other chunks are returned as they are).
    pub fn expand(self, n: usize) -> Vals {
        fn rep<T: Copy>(v: Vec<T>, n: usize) -> Vec<T> {
            if v.len() == 1 && n != 1 {
                vec![v[0]; n]
            } else {
                v
            }
        }
        match self {
            Vals::Bool(v) => Vals::Bool(rep(v, n)),
            Vals::U8(v) => Vals::U8(rep(v, n)),
            Vals::I32(v) => Vals::I32(rep(v, n)),
            Vals::I64(v) => Vals::I64(rep(v, n)),
            Vals::F32(v) => Vals::F32(rep(v, n)),
            Vals::F64(v) => Vals::F64(rep(v, n)),
        }
    }

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

thread_local! {
    /// Chunks whose values are no longer needed, kept for the next chunk of the same type
    /// on this thread: a kernel's steps then reuse a handful of allocations instead of
    /// calling the allocator for every step of every chunk.
    static SPARE: std::cell::RefCell<Vec<Vals>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Most chunks kept per thread (a few programs' worth of registers).
const SPARE_MAX: usize = 32;

/// An empty chunk of `dtype`'s compute type with room for `cap` values, reusing a
/// recycled allocation of that type when there is one.
pub fn chunk(dtype: DType, cap: usize) -> Vals {
    let want = Vals::with_capacity(dtype, 0);
    let found = SPARE.with(|s| {
        let mut s = s.borrow_mut();
        let i = s
            .iter()
            .position(|v| std::mem::discriminant(v) == std::mem::discriminant(&want))?;
        Some(s.swap_remove(i))
    });
    match found {
        Some(mut v) => {
            v.clear_reserve(cap);
            v
        }
        None => Vals::with_capacity(dtype, cap),
    }
}

/// Keeps a chunk's allocation for [`chunk`] (its values are discarded).
pub fn recycle(v: Vals) {
    if v.capacity() >= 1024 {
        SPARE.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < SPARE_MAX {
                s.push(v);
            }
        });
    }
}

/// A copy of `v` in a recycled allocation.
pub fn duplicate(v: &Vals) -> Vals {
    macro_rules! dup {
        ($x:expr, $variant:ident, $dt:expr) => {{
            let Vals::$variant(mut out) = chunk($dt, $x.len()) else {
                unreachable!("chunk returns the asked type")
            };
            out.extend_from_slice($x);
            Vals::$variant(out)
        }};
    }
    match v {
        Vals::Bool(x) => dup!(x, Bool, DType::Bool),
        Vals::U8(x) => dup!(x, U8, DType::U8),
        Vals::I32(x) => dup!(x, I32, DType::I32),
        Vals::I64(x) => dup!(x, I64, DType::I64),
        Vals::F32(x) => dup!(x, F32, DType::F32),
        Vals::F64(x) => dup!(x, F64, DType::F64),
    }
}

/// Float math the std traits lack.
trait FloatExt: num_traits::Float {
    /// `exp` of every value (f32 has a vectorized version).
    fn exp_slice(v: &mut [Self]) {
        map1(v, |x: Self| x.exp())
    }
    fn erf(self) -> Self;
    fn round_even(self) -> Self;
    fn ln1p(self) -> Self;
}
impl FloatExt for f32 {
    fn exp_slice(v: &mut [f32]) {
        map1(v, exp_f32)
    }
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

/// True when the CPU has AVX2 and FMA: the inner loops are compiled twice and
/// pick the wide version at run time (the default target is baseline x86-64).
#[inline(always)]
fn wide() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[inline(always)]
fn map1_loop<T: Copy>(v: &mut [T], f: impl Fn(T) -> T) {
    for x in v.iter_mut() {
        *x = f(*x);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn map1_avx2<T: Copy>(v: &mut [T], f: impl Fn(T) -> T) {
    map1_loop(v, f)
}

/// Applies `f` to every value; generic so each op's loop is compiled (and vectorized) on its own.
#[inline(always)]
fn map1<T: Copy>(v: &mut [T], f: impl Fn(T) -> T) {
    #[cfg(target_arch = "x86_64")]
    if wide() {
        // SAFETY: the CPU has the features this copy of the loop was compiled for.
        return unsafe { map1_avx2(v, f) };
    }
    map1_loop(v, f)
}

#[inline(always)]
fn map2_loop<T: Copy>(a: &mut [T], b: &[T], f: impl Fn(T, T) -> T) {
    if let [y] = *b {
        for x in a.iter_mut() {
            *x = f(*x, y);
        }
        return;
    }
    for (x, &y) in a.iter_mut().zip(b) {
        *x = f(*x, y);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn map2_avx2<T: Copy>(a: &mut [T], b: &[T], f: impl Fn(T, T) -> T) {
    map2_loop(a, b, f)
}

/// `a[i] = f(a[i], b[i])`, monomorphized per op like [`map1`]; a one-value `b`
/// is a broadcast constant (no chunk is filled with it).
#[inline(always)]
fn map2<T: Copy>(a: &mut [T], b: &[T], f: impl Fn(T, T) -> T) {
    #[cfg(target_arch = "x86_64")]
    if wide() {
        // SAFETY: the CPU has the features this copy of the loop was compiled for.
        return unsafe { map2_avx2(a, b, f) };
    }
    map2_loop(a, b, f)
}

/// `e^x` for f32 without branches or calls, so loops over it vectorize:
/// Cephes' range reduction and degree-6 polynomial (within 2 ulp), scaled by
/// 2^n in two steps so results that are subnormal or infinite stay exact.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Round to nearest by adding 1.5 * 2^23: plain float adds, so baseline SSE2 vectorizes it too.
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-104.0, 89.0);
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let n = t.to_bits().wrapping_sub(MAGIC.to_bits()) as i32;
    let (n1, n2) = (n >> 1, n - (n >> 1));
    let scale = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
    y * scale(n1) * scale(n2)
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
        Exp => T::exp_slice(v),
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

fn compare<T: PartialOrd + Copy>(op: BinaryOp, a: &[T], b: &[T]) -> Vec<bool> {
    let Vals::Bool(mut out) = chunk(DType::Bool, a.len()) else {
        unreachable!("chunk returns the asked type")
    };
    if b.len() == 1 && a.len() != 1 {
        let y = b[0];
        let it = a.iter();
        match op {
            BinaryOp::Eq => out.extend(it.map(|&x| x == y)),
            BinaryOp::Ne => out.extend(it.map(|&x| x != y)),
            BinaryOp::Lt => out.extend(it.map(|&x| x < y)),
            BinaryOp::Le => out.extend(it.map(|&x| x <= y)),
            _ => unreachable!("only comparisons reach here"),
        }
        return out;
    }
    let z = a.iter().zip(b);
    match op {
        BinaryOp::Eq => out.extend(z.map(|(x, y)| x == y)),
        BinaryOp::Ne => out.extend(z.map(|(x, y)| x != y)),
        BinaryOp::Lt => out.extend(z.map(|(x, y)| x < y)),
        BinaryOp::Le => out.extend(z.map(|(x, y)| x <= y)),
        _ => unreachable!("only comparisons reach here"),
    }
    out
}

/// Applies a binary op; both chunks have the same compute type. Either may
/// be a single broadcast value.
pub fn binary(op: BinaryOp, a: Vals, b: Vals) -> Vals {
    let a = if a.len() == 1 && b.len() > 1 {
        a.expand(b.len())
    } else {
        a
    };
    if op.is_comparison() {
        let out = Vals::Bool(match (&a, &b) {
            (Vals::Bool(x), Vals::Bool(y)) => compare(op, x, y),
            (Vals::U8(x), Vals::U8(y)) => compare(op, x, y),
            (Vals::I32(x), Vals::I32(y)) => compare(op, x, y),
            (Vals::I64(x), Vals::I64(y)) => compare(op, x, y),
            (Vals::F32(x), Vals::F32(y)) => compare(op, x, y),
            (Vals::F64(x), Vals::F64(y)) => compare(op, x, y),
            _ => unreachable!("operand types are equal by construction"),
        });
        recycle(a);
        recycle(b);
        return out;
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
    recycle(b);
    a
}

/// `cond ? a : b`, elementwise; single values broadcast.
pub fn select(cond: Vals, a: Vals, b: Vals) -> Vals {
    let n = cond.len().max(a.len()).max(b.len());
    let (cond, a, b) = (cond.expand(n), a.expand(n), b.expand(n));
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
    recycle(Vals::Bool(c));
    recycle(b);
    a
}

/// Numeric conversion with Rust `as` semantics (floats to ints saturate, NaN to 0);
/// casting to f16/bf16 rounds to that precision.
pub fn cast(v: Vals, to: DType) -> Vals {
    macro_rules! conv {
        ($src:expr, $as_num:expr) => {{
            let mut out = chunk(to, $src.len());
            let src = $src.iter().map($as_num);
            match &mut out {
                Vals::Bool(o) => o.extend(src.map(|x| x as f64 != 0.0)),
                Vals::U8(o) => o.extend(src.map(|x| x as u8)),
                Vals::I32(o) => o.extend(src.map(|x| x as i32)),
                Vals::I64(o) => o.extend(src.map(|x| x as i64)),
                Vals::F64(o) => o.extend(src.map(|x| x as f64)),
                Vals::F32(o) => o.extend(src.map(|x| x as f32)),
            }
            out
        }};
    }
    let out = match &v {
        Vals::Bool(x) => conv!(x, |&b| b as u8),
        Vals::U8(x) => conv!(x, |&x| x),
        Vals::I32(x) => conv!(x, |&x| x),
        Vals::I64(x) => conv!(x, |&x| x),
        Vals::F32(x) => conv!(x, |&x| x),
        Vals::F64(x) => conv!(x, |&x| x),
    };
    recycle(v);
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
    fn vectorized_exp_matches_std_within_two_ulp() {
        let mut x = -110.0f32;
        while x < 95.0 {
            let (got, want) = (exp_f32(x), x.exp());
            let tol = 2.0 * f32::EPSILON * want.abs() + f32::from_bits(1);
            assert!(
                got == want || (got - want).abs() <= tol,
                "exp({x}) = {got}, want {want}"
            );
            x += 0.0137;
        }
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
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
