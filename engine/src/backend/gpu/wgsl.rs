//! WGSL building blocks: how each dtype is stored and computed, views as index
//! functions, and a fused [`Expr`] as straight-line statements.
//!
//! Every constant (shapes, strides, offsets, float literals as bit patterns) is written
//! into the source, so a kernel's text is its cache key: the same step of a training loop
//! produces the same text and reuses the compiled pipeline.

use crate::dtype::{DType, Scalar};
use crate::ops::{BinaryOp, ReduceOp, UnaryOp, View};
use crate::schedule::{Expr, Slot};
use std::fmt::Write;

thread_local! {
    // Whether the kernel being generated stores f16 natively (its device has shader-f16):
    // set by `with_native_f16` around one kernel's generation, read by the functions below
    // that every load, store and binding goes through.
    static NATIVE_F16: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` (which generates one kernel) with f16 stored as WGSL `f16` (`on`) or as a
/// 32-bit word an element.
pub fn with_native_f16<R>(on: bool, f: impl FnOnce() -> R) -> R {
    let before = NATIVE_F16.with(|c| c.replace(on));
    let r = f();
    NATIVE_F16.with(|c| c.set(before));
    r
}

fn native_f16() -> bool {
    NATIVE_F16.with(|c| c.get())
}

/// The WGSL element type of a dtype's storage array.
pub fn storage_type(d: DType) -> &'static str {
    match d {
        DType::F32 => "f32",
        DType::F16 if native_f16() => "f16",
        DType::I32 | DType::I64 => "i32",
        _ => "u32",
    }
}

/// True for dtypes computed as f32 (f32, and f16/bf16 as the CPU backend computes them).
pub fn is_f(d: DType) -> bool {
    matches!(d, DType::F32 | DType::F16 | DType::BF16)
}

/// The WGSL type values of a dtype are computed in (i64 and u8 compute as i32; f16 and
/// bf16 as f32, rounded when stored or cast, as on the CPU).
pub fn compute_type(d: DType) -> &'static str {
    match d {
        DType::F32 | DType::F16 | DType::BF16 => "f32",
        DType::Bool => "bool",
        _ => "i32",
    }
}

/// Reads element `at` (a u32 expression) of storage array `buf` holding `d`.
pub fn load(buf: &str, d: DType, at: &str) -> String {
    match d {
        DType::F32 | DType::I32 => format!("{buf}[{at}]"),
        DType::I64 => format!("{buf}[2u * ({at})]"),
        DType::U8 => format!("i32({buf}[{at}])"),
        DType::F16 if native_f16() => format!("f32({buf}[{at}])"),
        // A word per element: f16 bits in the low half, bf16 bits in the high half (the
        // word is then the f32 of the same value).
        DType::F16 => format!("unpack2x16float({buf}[{at}]).x"),
        DType::BF16 => format!("bitcast<f32>({buf}[{at}])"),
        _ => format!("({buf}[{at}] != 0u)"),
    }
}

/// Statements writing value `v` (of `d`'s compute type) to element `at` of `out`.
pub fn store(d: DType, at: &str, v: &str) -> String {
    match d {
        DType::F32 | DType::I32 => format!("out[{at}] = {v};"),
        DType::I64 => format!("out[2u * ({at})] = {v}; out[2u * ({at}) + 1u] = ({v}) >> 31u;"),
        DType::U8 => format!("out[{at}] = u32(({v}) & 255);"),
        DType::F16 if native_f16() => format!("out[{at}] = f16({v});"),
        DType::F16 => format!("out[{at}] = pack2x16float(vec2<f32>({v}, 0.0)) & 0xffffu;"),
        DType::BF16 => format!("out[{at}] = born_bf16({v});"),
        _ => format!("out[{at}] = select(0u, 1u, {v});"),
    }
}

/// A float literal, exact (NaN and infinities too) as its bit pattern.
pub fn f32_lit(x: f32) -> String {
    format!("bitcast<f32>({}u)", x.to_bits())
}

/// A constant of `d`'s compute type.
pub fn scalar(d: DType, s: Scalar) -> String {
    match d {
        d if is_f(d) => f32_lit(s.as_f64() as f32),
        DType::Bool => (s.as_f64() != 0.0).to_string(),
        DType::U8 => format!("{}i", (s.as_i64() as u8)),
        _ => format!("i32({}i)", s.as_i64().clamp(i32::MIN as i64 + 1, i32::MAX as i64)),
    }
}

/// The reduction's starting value.
pub fn reduce_identity(op: ReduceOp, d: DType) -> String {
    let f = is_f(d);
    match (op, d) {
        (ReduceOp::Sum, DType::Bool) | (ReduceOp::Max, DType::Bool) => "false".into(),
        (ReduceOp::Prod, DType::Bool) | (ReduceOp::Min, DType::Bool) => "true".into(),
        (ReduceOp::Sum, _) => if f { "0.0" } else { "0i" }.into(),
        (ReduceOp::Prod, _) => if f { "1.0" } else { "1i" }.into(),
        (ReduceOp::Max, _) => {
            if f {
                f32_lit(f32::NEG_INFINITY)
            } else {
                "i32(-2147483647i - 1i)".into()
            }
        }
        (ReduceOp::Min, _) => {
            if f {
                f32_lit(f32::INFINITY)
            } else {
                "2147483647i".into()
            }
        }
    }
}

/// `acc` combined with `x` by the reduction (NaN propagates through max and min).
pub fn reduce_step(op: ReduceOp, d: DType, acc: &str, x: &str) -> String {
    match (op, d) {
        (ReduceOp::Sum | ReduceOp::Max, DType::Bool) => format!("({acc} || {x})"),
        (ReduceOp::Prod | ReduceOp::Min, DType::Bool) => format!("({acc} && {x})"),
        (ReduceOp::Sum, DType::U8) => format!("(({acc} + {x}) & 255)"),
        (ReduceOp::Prod, DType::U8) => format!("(({acc} * {x}) & 255)"),
        (ReduceOp::Sum, _) => format!("({acc} + {x})"),
        (ReduceOp::Prod, _) => format!("({acc} * {x})"),
        (ReduceOp::Max, _) => binary(BinaryOp::Max, d, acc, x),
        (ReduceOp::Min, _) => binary(BinaryOp::Min, d, acc, x),
    }
}

/// A function `name(i: u32) -> u32` mapping row-major index `i` of `view`'s shape to the
/// element it reads.
pub fn index_fn(name: &str, view: &View) -> String {
    let v = crate::backend::cpu::simplify(view);
    let mut body = format!("fn {name}(i: u32) -> u32 {{\n  var r = i;\n  var o = {}i;\n", v.offset);
    for d in (0..v.shape.len()).rev() {
        let (n, s) = (v.shape[d], v.strides[d]);
        if d == 0 {
            if s != 0 {
                let _ = writeln!(body, "  o += i32(r) * {s}i;");
            }
        } else {
            if s != 0 {
                let _ = writeln!(body, "  o += i32(r % {n}u) * {s}i;");
            }
            let _ = writeln!(body, "  r /= {n}u;");
        }
    }
    body.push_str("  return u32(o);\n}\n");
    body
}

/// Row-major coordinates of flat index `i` over `shape`, as statements declaring `c0..`.
pub fn coords(shape: &[usize], i: &str, prefix: &str) -> String {
    let mut s = format!("  var {prefix}r = {i};\n");
    for d in (0..shape.len()).rev() {
        let _ = writeln!(
            s,
            "  let {prefix}{d} = {prefix}r % {}u; {prefix}r /= {}u;",
            shape[d].max(1),
            shape[d].max(1)
        );
    }
    s
}

/// The row-major flat index of coordinate expressions `c` over `shape`.
pub fn flatten(shape: &[usize], c: &[String]) -> String {
    let mut e = "0u".to_string();
    for (d, x) in c.iter().enumerate() {
        e = format!("({e} * {}u + {x})", shape[d]);
    }
    e
}

/// Unary op on a value of compute dtype `d`.
pub fn unary(op: UnaryOp, d: DType, x: &str) -> String {
    use UnaryOp::*;
    let f = is_f(d);
    match op {
        Neg if d == DType::U8 => format!("((-{x}) & 255)"),
        Neg => format!("(-{x})"),
        Abs if d == DType::U8 => x.to_string(),
        Abs => format!("abs({x})"),
        Sign if f => format!("select(select({x}, -1.0, {x} < 0.0), 1.0, {x} > 0.0)"),
        Sign if d == DType::U8 => format!("select(0i, 1i, {x} != 0i)"),
        Sign => format!("sign({x})"),
        Floor | Ceil | Round if !f => x.to_string(),
        Floor => format!("floor({x})"),
        Ceil => format!("ceil({x})"),
        Round => format!("round({x})"),
        Exp => format!("exp({x})"),
        Log => format!("log({x})"),
        Log1p => format!("born_log1p({x})"),
        Sqrt => format!("sqrt({x})"),
        Recip => format!("(1.0 / {x})"),
        Sin => format!("sin({x})"),
        Cos => format!("cos({x})"),
        Tanh => format!("born_tanh({x})"),
        Erf => format!("born_erf({x})"),
        Not => format!("(!{x})"),
    }
}

/// Binary op on two values of compute dtype `d` (the operands' dtype).
pub fn binary(op: BinaryOp, d: DType, a: &str, b: &str) -> String {
    use BinaryOp::*;
    let f = is_f(d);
    let boolean = d == DType::Bool;
    let wrap = |e: String| if d == DType::U8 { format!("(({e}) & 255)") } else { e };
    match op {
        Add if boolean => format!("({a} || {b})"),
        Mul if boolean => format!("({a} && {b})"),
        Sub if boolean => format!("({a} != {b})"),
        Add => wrap(format!("({a} + {b})")),
        Sub => wrap(format!("({a} - {b})")),
        Mul => wrap(format!("({a} * {b})")),
        Div => format!("({a} / {b})"),
        Rem if f => format!("born_remf({a}, {b})"),
        Rem => format!("born_remi({a}, {b})"),
        Pow if f => format!("born_powf({a}, {b})"),
        Pow => wrap(format!("born_powi({a}, {b})")),
        Max if boolean => format!("({a} || {b})"),
        Min if boolean => format!("({a} && {b})"),
        Max if f => format!("born_maxf({a}, {b})"),
        Min if f => format!("born_minf({a}, {b})"),
        Max => format!("max({a}, {b})"),
        Min => format!("min({a}, {b})"),
        // Float comparisons test NaN by its bits: drivers may compile `==` on NaN as ordered
        // or unordered (llvmpipe's `!=` said false for NaN).
        Eq if f => format!("born_eqf({a}, {b})"),
        Ne if f => format!("(!born_eqf({a}, {b}))"),
        Lt if f => format!("born_ltf({a}, {b})"),
        Le if f => format!("born_lef({a}, {b})"),
        Eq => format!("({a} == {b})"),
        Ne => format!("({a} != {b})"),
        Lt if boolean => format!("(u32({a}) < u32({b}))"),
        Le if boolean => format!("(u32({a}) <= u32({b}))"),
        Lt => format!("({a} < {b})"),
        Le => format!("({a} <= {b})"),
        And => format!("({a} && {b})"),
        Or => format!("({a} || {b})"),
        Xor => format!("({a} != {b})"),
    }
}

/// Converts a value of compute dtype `from` to dtype `to` with Rust `as` semantics
/// (floats saturate, NaN becomes 0; integers wrap into u8).
pub fn cast(from: DType, to: DType, x: &str) -> String {
    let (fc, tc) = (compute_type(from), compute_type(to));
    match (fc, tc, to) {
        (_, _, DType::U8) if fc == "f32" => format!("select(i32(clamp({x}, 0.0, 255.0)), 0i, born_isnan({x}))"),
        (_, _, DType::U8) if fc == "i32" => format!("({x} & 255)"),
        // Into f16/bf16: round to that precision now, as the CPU does.
        ("f32", "f32", DType::F16) => format!("unpack2x16float(pack2x16float(vec2<f32>({x}, 0.0))).x"),
        ("f32", "f32", DType::BF16) => format!("bitcast<f32>(born_bf16({x}))"),
        ("i32", "f32", DType::F16) => format!("unpack2x16float(pack2x16float(vec2<f32>(f32({x}), 0.0))).x"),
        ("i32", "f32", DType::BF16) => format!("bitcast<f32>(born_bf16(f32({x})))"),
        ("bool", "bool", _) | ("f32", "f32", _) | ("i32", "i32", _) => x.to_string(),
        ("bool", "f32", _) => format!("select(0.0, 1.0, {x})"),
        ("bool", _, _) => format!("select(0i, 1i, {x})"),
        ("i32", "f32", _) => format!("f32({x})"),
        ("f32", "i32", _) => format!("select(i32(clamp({x}, -2147483648.0, 2147483520.0)), 0i, born_isnan({x}))"),
        ("f32", "bool", _) => format!("((bitcast<u32>({x}) & 0x7fffffffu) != 0u)"),
        _ => format!("({x} != 0i)"),
    }
}

/// Helper functions that generated kernels may call (unused ones cost nothing).
pub const PRELUDE: &str = include_str!("../../../../shaders/prelude.wgsl");

/// Turns a fused expression into statements; each read becomes a load through an index
/// function. `reads` collects the slots bound as inputs, in binding order.
pub struct ExprGen<'a> {
    /// The statements so far.
    pub body: String,
    /// Index functions for the views read.
    pub fns: String,
    /// Bound input slots (binding `1 + position`) and their dtypes.
    pub reads: &'a mut Vec<(Slot, DType)>,
    next: usize,
}

impl<'a> ExprGen<'a> {
    /// A generator appending input bindings to `reads`.
    pub fn new(reads: &'a mut Vec<(Slot, DType)>) -> ExprGen<'a> {
        ExprGen {
            body: String::new(),
            fns: String::new(),
            reads,
            next: 0,
        }
    }

    /// The buffer name bound for `slot`.
    pub fn buffer(&mut self, slot: Slot, dtype: DType) -> String {
        let i = match self.reads.iter().position(|&(s, _)| s == slot) {
            Some(i) => i,
            None => {
                self.reads.push((slot, dtype));
                self.reads.len() - 1
            }
        };
        format!("b{i}")
    }

    fn fresh(&mut self) -> String {
        self.next += 1;
        format!("t{}", self.next)
    }

    /// A load of element `i` (a u32 expression of the row-major index) through `view`.
    pub fn load_view(&mut self, slot: Slot, dtype: DType, view: &View, i: &str) -> String {
        let buf = self.buffer(slot, dtype);
        let f = self.fresh();
        self.fns.push_str(&index_fn(&format!("ix_{f}"), view));
        load(&buf, dtype, &format!("ix_{f}({i})"))
    }

    /// Statements computing `e` at row-major index `i`; returns the variable holding it.
    pub fn expr(&mut self, e: &Expr, i: &str) -> String {
        let value = match e {
            Expr::Load { slot, view, dtype } => self.load_view(*slot, *dtype, view, i),
            Expr::PadLoad {
                slot,
                view,
                dtype,
                pads,
                fill,
            } => {
                let t = self.fresh();
                let outer: Vec<usize> = view.shape.iter().zip(pads).map(|(n, (b, a))| n + b + a).collect();
                let _ = write!(
                    self.body,
                    "  var {t}: {} = {};\n  {{\n",
                    compute_type(*dtype),
                    scalar(*dtype, *fill)
                );
                self.body.push_str(&coords(&outer, i, &format!("{t}c")));
                let mut inside = vec!["true".to_string()];
                let mut inner = Vec::new();
                for (d, (n, (b, _))) in view.shape.iter().zip(pads).enumerate() {
                    inside.push(format!("{t}c{d} >= {b}u && {t}c{d} < {}u", b + n));
                    inner.push(format!("({t}c{d} - {b}u)"));
                }
                let flat = flatten(&view.shape, &inner);
                let _ = writeln!(self.body, "  if ({}) {{", inside.join(" && "));
                let l = self.load_view(*slot, *dtype, view, &flat);
                let _ = writeln!(self.body, "    {t} = {l};\n  }}\n  }}");
                return t;
            }
            Expr::Unary(op, x) => {
                let v = self.expr(x, i);
                unary(*op, x.dtype(), &v)
            }
            Expr::Binary(op, x, y, _) => {
                let (a, b) = (self.expr(x, i), self.expr(y, i));
                binary(*op, x.dtype(), &a, &b)
            }
            Expr::Where(c, x, y) => {
                let (c, a, b) = (self.expr(c, i), self.expr(x, i), self.expr(y, i));
                format!("select({b}, {a}, {c})")
            }
            Expr::Cast(x, to) => {
                let v = self.expr(x, i);
                cast(x.dtype(), *to, &v)
            }
        };
        let t = self.fresh();
        let _ = writeln!(self.body, "  let {t} = {value};");
        t
    }
}

/// The slot number standing for the GPU's error record (a bad gather/scatter index), bound
/// read-write as `born_err`.
pub const ERRORS: Slot = Slot::MAX - 1;

/// Statements recording an out-of-range index `ix` (an i32 expression) of an axis of
/// `size` in the error record, as error `kind` (1 gather, 2 scatter); the first one wins.
pub fn report_bad_index(kind: u32, ix: &str, size: usize) -> String {
    format!(
        "if (atomicExchange(&born_err[0], {kind}u) == 0u) {{ atomicStore(&born_err[1], bitcast<u32>({ix})); \
         atomicStore(&born_err[2], {size}u); }}"
    )
}

/// Storage declarations: `out` (binding 0, read-write) and the inputs.
pub fn bindings(out: DType, reads: &[(Slot, DType)]) -> String {
    let mut s = format!(
        "@group(0) @binding(0) var<storage, read_write> out: array<{}>;\n",
        storage_type(out)
    );
    for (i, (slot, d)) in reads.iter().enumerate() {
        if *slot == ERRORS {
            let _ = writeln!(
                s,
                "@group(0) @binding({}) var<storage, read_write> born_err: array<atomic<u32>, 4>;",
                i + 1
            );
            continue;
        }
        let _ = writeln!(
            s,
            "@group(0) @binding({}) var<storage, read> b{i}: array<{}>;",
            i + 1,
            storage_type(*d)
        );
    }
    s
}
