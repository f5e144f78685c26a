//! Elementwise ops: the primitives by name, and composites built from them
//! (sigmoid, GELU, SiLU, clamp, ...), plus Rust operators.

use crate::dtype::{DType, Scalar};
use crate::error::Result;
use crate::ops::{BinaryOp, UnaryOp};
use crate::tensor::{panicking, Tensor};
use std::ops::{Add, Div, Mul, Neg, Rem, Sub};

impl Tensor {
    fn c(&self, v: f64) -> Tensor {
        self.scalar_operand(Scalar::Float(v))
    }

    /// `-x`.
    pub fn try_neg(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Neg)
    }
    /// `|x|`.
    pub fn try_abs(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Abs)
    }
    /// `e^x`.
    pub fn try_exp(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Exp)
    }
    /// Natural log.
    pub fn try_log(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Log)
    }
    /// `ln(1 + x)`, accurate near 0.
    pub fn try_log1p(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Log1p)
    }
    /// Square root.
    pub fn try_sqrt(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sqrt)
    }
    /// `1 / sqrt(x)`.
    pub fn try_rsqrt(&self) -> Result<Tensor> {
        self.try_sqrt()?.try_recip()
    }
    /// `1 / x`.
    pub fn try_recip(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Recip)
    }
    /// Sine.
    pub fn try_sin(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sin)
    }
    /// Cosine.
    pub fn try_cos(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Cos)
    }
    /// Hyperbolic tangent.
    pub fn try_tanh(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Tanh)
    }
    /// The error function.
    pub fn try_erf(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Erf)
    }
    /// Round down.
    pub fn try_floor(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Floor)
    }
    /// Round up.
    pub fn try_ceil(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Ceil)
    }
    /// Round half to even (NumPy and PyTorch).
    pub fn try_round(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Round)
    }
    /// -1, 0 or 1 by sign (bools are returned as they are).
    pub fn try_sign(&self) -> Result<Tensor> {
        if self.dtype() == DType::Bool {
            return Ok(self.clone());
        }
        self.unary(UnaryOp::Sign)
    }
    /// `1 / (1 + e^-x)`.
    pub fn try_sigmoid(&self) -> Result<Tensor> {
        let x = self.float()?;
        x.try_neg()?.try_exp()?.try_add(&x.c(1.0))?.try_recip()
    }
    /// `max(x, 0)`.
    pub fn try_relu(&self) -> Result<Tensor> {
        self.try_maximum(&self.scalar_operand(Scalar::Int(0)))
    }
    /// `x` where positive, `slope * x` elsewhere.
    pub fn try_leaky_relu(&self, slope: f64) -> Result<Tensor> {
        let x = self.float()?;
        x.try_gt(&x.c(0.0))?.try_where_cond(&x, &x.try_mul(&x.c(slope))?)
    }
    /// GELU, exact form: `x * (1 + erf(x / sqrt 2)) / 2`.
    pub fn try_gelu(&self) -> Result<Tensor> {
        let x = self.float()?;
        let e = x.try_mul(&x.c(std::f64::consts::FRAC_1_SQRT_2))?.try_erf()?;
        x.try_mul(&x.c(0.5))?.try_mul(&e.try_add(&x.c(1.0))?)
    }
    /// GELU, tanh approximation (`approximate="tanh"`).
    pub fn try_gelu_tanh(&self) -> Result<Tensor> {
        let x = self.float()?;
        let k = (2.0 / std::f64::consts::PI).sqrt();
        let cube = x.try_mul(&x)?.try_mul(&x)?;
        let inner = x.try_add(&cube.try_mul(&x.c(0.044715))?)?.try_mul(&x.c(k))?;
        x.try_mul(&x.c(0.5))?.try_mul(&inner.try_tanh()?.try_add(&x.c(1.0))?)
    }
    /// SiLU / swish: `x * sigmoid(x)`.
    pub fn try_silu(&self) -> Result<Tensor> {
        let x = self.float()?;
        x.try_mul(&x.try_sigmoid()?)
    }
    /// `x ^ exponent` elementwise, with broadcasting.
    pub fn try_pow(&self, exponent: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Pow, exponent, "pow")
    }
    /// `x ^ exponent` for a scalar exponent (squares and square roots are exact).
    pub fn try_powf(&self, exponent: f64) -> Result<Tensor> {
        if exponent == 2.0 {
            return self.try_mul(self);
        }
        let x = self.float()?;
        x.try_pow(&x.c(exponent))
    }
    /// Limits every element to `[min, max]`.
    pub fn try_clamp(&self, min: f64, max: f64) -> Result<Tensor> {
        let lo = self.scalar_operand(scalar_for(self.dtype(), min));
        let hi = self.scalar_operand(scalar_for(self.dtype(), max));
        self.try_maximum(&lo)?.try_minimum(&hi)
    }
    /// Elementwise sum with broadcasting.
    pub fn try_add(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Add, o, "add")
    }
    /// Elementwise difference.
    pub fn try_sub(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Sub, o, "sub")
    }
    /// Elementwise product.
    pub fn try_mul(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Mul, o, "mul")
    }
    /// True division (integers divide as f32).
    pub fn try_div(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Div, o, "div")
    }
    /// Remainder with the sign of the divisor (`torch.remainder`).
    pub fn try_rem(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Rem, o, "rem")
    }
    /// Elementwise maximum (NaN wins).
    pub fn try_maximum(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Max, o, "maximum")
    }
    /// Elementwise minimum (NaN wins).
    pub fn try_minimum(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Min, o, "minimum")
    }
    /// `x == o` as bool.
    pub fn try_eq(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Eq, o, "eq")
    }
    /// `x != o` as bool.
    pub fn try_ne(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Ne, o, "ne")
    }
    /// `x < o` as bool.
    pub fn try_lt(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Lt, o, "lt")
    }
    /// `x <= o` as bool.
    pub fn try_le(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Le, o, "le")
    }
    /// `x > o` as bool.
    pub fn try_gt(&self, o: &Tensor) -> Result<Tensor> {
        o.binary(BinaryOp::Lt, self, "gt")
    }
    /// `x >= o` as bool.
    pub fn try_ge(&self, o: &Tensor) -> Result<Tensor> {
        o.binary(BinaryOp::Le, self, "ge")
    }
    /// Non-zero as true.
    fn truth(&self) -> Result<Tensor> {
        if self.dtype() == DType::Bool {
            return Ok(self.clone());
        }
        self.try_ne(&self.scalar_operand(Scalar::Int(0)))
    }
    /// Logical and (non-zero is true).
    pub fn try_logical_and(&self, o: &Tensor) -> Result<Tensor> {
        self.truth()?.binary(BinaryOp::And, &o.truth()?, "logical_and")
    }
    /// Logical or.
    pub fn try_logical_or(&self, o: &Tensor) -> Result<Tensor> {
        self.truth()?.binary(BinaryOp::Or, &o.truth()?, "logical_or")
    }
    /// Logical exclusive or.
    pub fn try_logical_xor(&self, o: &Tensor) -> Result<Tensor> {
        self.truth()?.binary(BinaryOp::Xor, &o.truth()?, "logical_xor")
    }
    /// Logical not.
    pub fn try_logical_not(&self) -> Result<Tensor> {
        self.truth()?.unary(UnaryOp::Not)
    }
    /// `value` where `mask` is true, `x` elsewhere.
    pub fn try_masked_fill(&self, mask: &Tensor, value: f64) -> Result<Tensor> {
        let v = Tensor::constant(scalar_for(self.dtype(), value), self.dtype());
        mask.try_where_cond(&v, self)?.try_broadcast_to(self.shape())
    }
}

/// A scalar in the category of `dtype` (so clamping an int tensor stays int).
fn scalar_for(dtype: DType, v: f64) -> Scalar {
    if dtype.is_float() || v.fract() != 0.0 {
        Scalar::Float(v)
    } else if dtype == DType::Bool {
        Scalar::Bool(v != 0.0)
    } else {
        Scalar::Int(v as i64)
    }
}

panicking! {
    neg => try_neg() -> Tensor;
    abs => try_abs() -> Tensor;
    exp => try_exp() -> Tensor;
    log => try_log() -> Tensor;
    log1p => try_log1p() -> Tensor;
    sqrt => try_sqrt() -> Tensor;
    rsqrt => try_rsqrt() -> Tensor;
    recip => try_recip() -> Tensor;
    sin => try_sin() -> Tensor;
    cos => try_cos() -> Tensor;
    tanh => try_tanh() -> Tensor;
    erf => try_erf() -> Tensor;
    floor => try_floor() -> Tensor;
    ceil => try_ceil() -> Tensor;
    round => try_round() -> Tensor;
    sign => try_sign() -> Tensor;
    sigmoid => try_sigmoid() -> Tensor;
    relu => try_relu() -> Tensor;
    leaky_relu => try_leaky_relu(slope: f64) -> Tensor;
    gelu => try_gelu() -> Tensor;
    gelu_tanh => try_gelu_tanh() -> Tensor;
    silu => try_silu() -> Tensor;
    pow => try_pow(exponent: &Tensor) -> Tensor;
    powf => try_powf(exponent: f64) -> Tensor;
    clamp => try_clamp(min: f64, max: f64) -> Tensor;
    add => try_add(o: &Tensor) -> Tensor;
    sub => try_sub(o: &Tensor) -> Tensor;
    mul => try_mul(o: &Tensor) -> Tensor;
    div => try_div(o: &Tensor) -> Tensor;
    rem => try_rem(o: &Tensor) -> Tensor;
    maximum => try_maximum(o: &Tensor) -> Tensor;
    minimum => try_minimum(o: &Tensor) -> Tensor;
    eq => try_eq(o: &Tensor) -> Tensor;
    ne => try_ne(o: &Tensor) -> Tensor;
    lt => try_lt(o: &Tensor) -> Tensor;
    le => try_le(o: &Tensor) -> Tensor;
    gt => try_gt(o: &Tensor) -> Tensor;
    ge => try_ge(o: &Tensor) -> Tensor;
    logical_and => try_logical_and(o: &Tensor) -> Tensor;
    logical_or => try_logical_or(o: &Tensor) -> Tensor;
    logical_xor => try_logical_xor(o: &Tensor) -> Tensor;
    logical_not => try_logical_not() -> Tensor;
    where_cond => try_where_cond(on_true: &Tensor, on_false: &Tensor) -> Tensor;
    masked_fill => try_masked_fill(mask: &Tensor, value: f64) -> Tensor;
    to_dtype => try_to_dtype(dtype: DType) -> Tensor;
    broadcast_to => try_broadcast_to(shape: &[usize]) -> Tensor;
}

/// Operators between tensors (by value or reference) and with Rust numbers.
macro_rules! operators {
    ($($trait:ident $method:ident $try:ident;)*) => {$(
        impl $trait<&Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, o: &Tensor) -> Tensor {
                crate::tensor::or_panic(self.$try(o))
            }
        }
        impl $trait<Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, o: Tensor) -> Tensor {
                crate::tensor::or_panic(self.$try(&o))
            }
        }
        impl $trait<&Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, o: &Tensor) -> Tensor {
                crate::tensor::or_panic(self.$try(o))
            }
        }
        impl $trait<Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, o: Tensor) -> Tensor {
                crate::tensor::or_panic(self.$try(&o))
            }
        }
        operators!(@scalar $trait $method $try f64 Float);
        operators!(@scalar $trait $method $try i64 Int);
    )*};
    (@scalar $trait:ident $method:ident $try:ident $t:ident $kind:ident) => {
        impl $trait<$t> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, o: $t) -> Tensor {
                crate::tensor::or_panic(self.$try(&self.scalar_operand(Scalar::$kind(o as _))))
            }
        }
        impl $trait<$t> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, o: $t) -> Tensor {
                crate::tensor::or_panic(self.$try(&self.scalar_operand(Scalar::$kind(o as _))))
            }
        }
        impl $trait<&Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, o: &Tensor) -> Tensor {
                crate::tensor::or_panic(o.scalar_operand(Scalar::$kind(self as _)).$try(o))
            }
        }
        impl $trait<Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, o: Tensor) -> Tensor {
                crate::tensor::or_panic(o.scalar_operand(Scalar::$kind(self as _)).$try(&o))
            }
        }
    };
}
operators! {
    Add add try_add;
    Sub sub try_sub;
    Mul mul try_mul;
    Div div try_div;
    Rem rem try_rem;
}

impl Neg for &Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        crate::tensor::or_panic(self.try_neg())
    }
}
impl Neg for Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        crate::tensor::or_panic(self.try_neg())
    }
}
