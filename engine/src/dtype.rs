//! Element types: the [`DType`] tag, the Rust types behind it ([`Element`]) and
//! scalar constants ([`Scalar`]).

use half::{bf16, f16};
use std::fmt;

/// The element type of a tensor.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum DType {
    /// `bool`, one byte per element.
    Bool,
    /// `u8`.
    U8,
    /// `i32`.
    I32,
    /// `i64`, the dtype of indices.
    I64,
    /// IEEE half precision (`half::f16`), computed in f32.
    F16,
    /// bfloat16 (`half::bf16`), computed in f32.
    BF16,
    /// `f32`, the default float dtype.
    F32,
    /// `f64`.
    F64,
}

impl DType {
    /// Every dtype, smallest category first.
    pub const ALL: [DType; 8] = [
        DType::Bool,
        DType::U8,
        DType::I32,
        DType::I64,
        DType::F16,
        DType::BF16,
        DType::F32,
        DType::F64,
    ];

    /// Bytes per element.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::Bool | DType::U8 => 1,
            DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
        }
    }

    /// True for f16, bf16, f32 and f64.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }

    /// True for u8, i32 and i64 (not bool).
    pub fn is_int(self) -> bool {
        matches!(self, DType::U8 | DType::I32 | DType::I64)
    }

    /// The short name used in messages and golden files: `"f32"`, `"i64"`, ...
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "u8",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }

    /// Parses a short name (`"f32"`, `"bool"`, ...).
    pub fn parse(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The dtype arithmetic is carried out in: half floats widen to f32.
    pub fn compute(self) -> DType {
        match self {
            DType::F16 | DType::BF16 => DType::F32,
            d => d,
        }
    }

    /// PyTorch's promotion of two tensor dtypes: bool < ints < floats, wider wins,
    /// and f16 with bf16 meet at f32.
    pub fn promote(a: DType, b: DType) -> DType {
        if a == b {
            return a;
        }
        match (a, b) {
            (DType::F16, DType::BF16) | (DType::BF16, DType::F16) => DType::F32,
            _ => a.max(b),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scalar constant, kept exact for integers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
}

/// Hashes the exact value (floats by their bits), so equal hashes follow from `==`
/// except for `0.0 == -0.0`, which only costs a schedule-cache miss.
impl std::hash::Hash for Scalar {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match *self {
            Scalar::Bool(b) => (0u8, b as u64).hash(h),
            Scalar::Int(i) => (1u8, i as u64).hash(h),
            Scalar::Float(f) => (2u8, f.to_bits()).hash(h),
        }
    }
}

/// Exprs holding a scalar (a pad's fill) are compared for common subexpressions; a NaN
/// fill is never equal to itself, which only costs a missed merge.
impl Eq for Scalar {}

impl Scalar {
    /// The value as f64 (bools are 0/1).
    pub fn as_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as u8 as f64,
            Scalar::Int(i) => i as f64,
            Scalar::Float(f) => f,
        }
    }

    /// The value as i64 (floats truncate toward zero, saturating).
    pub fn as_i64(self) -> i64 {
        match self {
            Scalar::Bool(b) => b as i64,
            Scalar::Int(i) => i,
            Scalar::Float(f) => f as i64,
        }
    }

    /// The value as a bool (non-zero is true).
    pub fn as_bool(self) -> bool {
        match self {
            Scalar::Bool(b) => b,
            Scalar::Int(i) => i != 0,
            Scalar::Float(f) => f != 0.0,
        }
    }
}

/// A Rust type that can be the element of a tensor.
pub trait Element: Copy + Send + Sync + fmt::Debug + PartialEq + 'static {
    /// The dtype tag of this type.
    const DTYPE: DType;
    /// Converts to f64 (bools are 0/1).
    fn to_f64(self) -> f64;
    /// Converts from a scalar with Rust `as` semantics.
    fn from_scalar(s: Scalar) -> Self;
    /// The value as a scalar.
    fn to_scalar(self) -> Scalar;
}

macro_rules! float_element {
    ($t:ty, $d:ident, $to:expr, $from:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$d;
            fn to_f64(self) -> f64 {
                $to(self)
            }
            fn from_scalar(s: Scalar) -> Self {
                $from(s.as_f64())
            }
            fn to_scalar(self) -> Scalar {
                Scalar::Float(self.to_f64())
            }
        }
    };
}
float_element!(f32, F32, |x: f32| x as f64, |x: f64| x as f32);
float_element!(f64, F64, |x: f64| x, |x: f64| x);
float_element!(f16, F16, |x: f16| x.to_f64(), f16::from_f64);
float_element!(bf16, BF16, |x: bf16| x.to_f64(), bf16::from_f64);

macro_rules! int_element {
    ($t:ty, $d:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$d;
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_scalar(s: Scalar) -> Self {
                match s {
                    Scalar::Float(f) => f as $t,
                    s => s.as_i64() as $t,
                }
            }
            fn to_scalar(self) -> Scalar {
                Scalar::Int(self as i64)
            }
        }
    };
}
int_element!(u8, U8);
int_element!(i32, I32);
int_element!(i64, I64);

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    fn from_scalar(s: Scalar) -> Self {
        s.as_bool()
    }
    fn to_scalar(self) -> Scalar {
        Scalar::Bool(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_follows_pytorch() {
        assert_eq!(DType::promote(DType::I32, DType::F32), DType::F32);
        assert_eq!(DType::promote(DType::I32, DType::I64), DType::I64);
        assert_eq!(DType::promote(DType::F16, DType::BF16), DType::F32);
        assert_eq!(DType::promote(DType::Bool, DType::U8), DType::U8);
        assert_eq!(DType::promote(DType::F16, DType::F64), DType::F64);
    }

    #[test]
    fn names_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::parse(d.name()), Some(d));
        }
    }
}
