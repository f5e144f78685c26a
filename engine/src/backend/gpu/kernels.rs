//! One WGSL compute kernel per schedule kernel: the source, the buffers it binds, and its grid.

use super::wgsl::{self, bindings, compute_type, flatten, store, ExprGen, PRELUDE};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::View;
use crate::schedule::{Expr, Kernel, KernelOp, Slot, Src};
use std::fmt::Write;

/// Threads per workgroup of the one-thread-per-element kernels.
const GROUP: usize = 256;
/// Reductions at most this long run one thread per output; longer ones a workgroup each.
const SERIAL_REDUCE: usize = 256;

/// A kernel ready to launch.
pub struct Launch {
    /// Complete WGSL (its text is the pipeline cache key).
    pub source: String,
    /// Input slots bound at 1, 2, ... (the output is binding 0); [`SCRATCH`] is the
    /// kernel's scratch buffer.
    pub reads: Vec<(Slot, DType)>,
    /// Workgroups in x, y, z.
    pub groups: [u32; 3],
    /// Binding 0 is the scratch buffer instead of the kernel's output.
    pub writes_scratch: bool,
}

/// The slot number standing for a kernel's scratch buffer (f32 partial results).
pub const SCRATCH: Slot = Slot::MAX;

/// What the device offers that kernels may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    /// Subgroup operations (wgpu's `SUBGROUP`): reductions combine within a subgroup by
    /// shuffles before they meet in workgroup memory.
    pub subgroups: bool,
    /// 16-bit floats in shaders (wgpu's `SHADER_F16`): f16 tensors are stored as two bytes
    /// an element (computed in f32 all the same, as on the CPU and in PyTorch).
    pub f16: bool,
}

impl Caps {
    /// The features in use, by name.
    pub fn names(self) -> Vec<String> {
        let mut out = Vec::new();
        if self.subgroups {
            out.push("subgroups".to_string());
        }
        if self.f16 {
            out.push("f16".to_string());
        }
        out
    }

    /// The wgpu features to ask the device for.
    pub fn features(self) -> wgpu::Features {
        let mut f = wgpu::Features::empty();
        f.set(wgpu::Features::SUBGROUP, self.subgroups);
        f.set(wgpu::Features::SHADER_F16, self.f16);
        f
    }
}

/// A schedule kernel as launches (most are one; a split matmul two) and the f32 scratch
/// elements they share (0 for none).
pub struct Plan {
    /// In order.
    pub launches: Vec<Launch>,
    /// Elements of scratch.
    pub scratch: usize,
}

/// `groups` workgroups laid out in x and y (x is limited to 65535).
fn grid(groups: usize) -> [u32; 3] {
    let x = groups.clamp(1, 65535);
    [x as u32, groups.div_ceil(x).max(1) as u32, 1]
}

/// The head of a one-thread-per-item kernel over `n` items: `i` is the item.
fn per_item(n: usize) -> String {
    format!(
        "@compute @workgroup_size({GROUP})\nfn main(@builtin(workgroup_id) wg: vec3<u32>, \
         @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {{\n  \
         let i = (wg.y * nw.x + wg.x) * {GROUP}u + lid;\n  if (i >= {n}u) {{ return; }}\n"
    )
}

fn assemble(out: DType, reads: &[(Slot, DType)], fns: &str, main: &str) -> String {
    format!("{}\n{}\n{PRELUDE}\n{fns}\n{main}", bindings(out, reads), "")
}

/// Every buffer read of `op` with its view, for bounds checks before a launch.
pub fn views(op: &KernelOp) -> Vec<(Slot, View)> {
    let mut out = Vec::new();
    let src = |s: &Src| (s.slot, s.view.clone());
    match op {
        KernelOp::Elementwise(e) | KernelOp::Reduce { expr: e, .. } => e.reads(&mut |s, v| out.push((s, v.clone()))),
        KernelOp::ArgReduce { src: s, .. }
        | KernelOp::Pad { src: s, .. }
        | KernelOp::Argsort { src: s, .. }
        | KernelOp::Cumsum { src: s, .. } => out.push(src(s)),
        KernelOp::MatMul { a, b } => out.extend([src(a), src(b)]),
        KernelOp::Cat { srcs, .. } => out.extend(srcs.iter().map(src)),
        KernelOp::Gather { src: s, index, .. } => out.extend([src(s), src(index)]),
        KernelOp::Scatter {
            src: s, index, values, ..
        } => out.extend([src(s), src(index), src(values)]),
    }
    out
}

/// Builds the launches of kernel `k`; `dtype_of` gives each slot's dtype.
pub fn plan(k: &Kernel, dtype_of: &dyn Fn(Slot) -> DType, caps: Caps) -> Result<Plan> {
    let mut plan = wgsl::with_native_f16(caps.f16, || plan_with(k, dtype_of, caps))?;
    if caps.f16 {
        // The directive must come first in a module that names f16.
        for l in &mut plan.launches {
            l.source.insert_str(0, "enable f16;\n");
        }
    }
    Ok(plan)
}

fn plan_with(k: &Kernel, dtype_of: &dyn Fn(Slot) -> DType, caps: Caps) -> Result<Plan> {
    // Every value the kernel computes must have WGSL kernels (an f64 computed from host
    // constants alone would otherwise reach here).
    super::check_dtype(k.dtype, "realize")?;
    if let KernelOp::Elementwise(e) | KernelOp::Reduce { expr: e, .. } = &k.op {
        check_expr(e)?;
    }
    if let KernelOp::MatMul { a, b } = &k.op {
        return matmul(ExprGen::new(&mut Vec::new()), k, a, b, dtype_of);
    }
    Ok(Plan {
        launches: vec![launch(k, dtype_of, caps)?],
        scratch: 0,
    })
}

fn check_expr(e: &Expr) -> Result<()> {
    super::check_dtype(e.dtype(), "realize")?;
    match e {
        Expr::Load { .. } | Expr::PadLoad { .. } => Ok(()),
        Expr::Unary(_, x) | Expr::Cast(x, _) => check_expr(x),
        Expr::Binary(_, x, y, _) => check_expr(x).and_then(|_| check_expr(y)),
        Expr::Where(c, x, y) => check_expr(c).and_then(|_| check_expr(x)).and_then(|_| check_expr(y)),
    }
}

fn launch(k: &Kernel, dtype_of: &dyn Fn(Slot) -> DType, caps: Caps) -> Result<Launch> {
    let n: usize = k.shape.iter().product();
    let mut reads = Vec::new();
    let mut g = ExprGen::new(&mut reads);
    let (main, groups) = match &k.op {
        KernelOp::Elementwise(e) => {
            let v = g.expr(e, "i");
            let main = format!("{}{}  {}\n}}\n", per_item(n), g.body, store(k.dtype, "i", &v));
            (main, grid(n.div_ceil(GROUP)))
        }
        KernelOp::Pad { src, pads, value } => {
            let e = Expr::PadLoad {
                slot: src.slot,
                view: src.view.clone(),
                dtype: dtype_of(src.slot),
                pads: pads.clone(),
                fill: *value,
            };
            let v = g.expr(&e, "i");
            let main = format!("{}{}  {}\n}}\n", per_item(n), g.body, store(k.dtype, "i", &v));
            (main, grid(n.div_ceil(GROUP)))
        }
        KernelOp::Reduce { op, expr, n_out, n_red } => reduce(&mut g, *op, expr, [*n_out, *n_red], k.dtype, caps),
        KernelOp::MatMul { .. } => unreachable!("planned by `plan`"),
        KernelOp::Cat { srcs, axis } => {
            let mut body = wgsl::coords(&k.shape, "i", "c");
            let _ = writeln!(body, "  var v: {};", compute_type(k.dtype));
            let mut start = 0;
            for (j, s) in srcs.iter().enumerate() {
                let len = s.view.shape[*axis];
                let c: Vec<String> = (0..k.shape.len())
                    .map(|d| {
                        if d == *axis {
                            format!("(c{d} - {start}u)")
                        } else {
                            format!("c{d}")
                        }
                    })
                    .collect();
                let l = g.load_view(s.slot, dtype_of(s.slot), &s.view, &flatten(&s.view.shape, &c));
                let cond = if j + 1 == srcs.len() {
                    "true".to_string()
                } else {
                    format!("c{axis} < {}u", start + len)
                };
                let _ = writeln!(
                    body,
                    "  {}if ({cond}) {{ v = {l}; }}",
                    if j == 0 { "" } else { "else " }
                );
                start += len;
            }
            let main = format!("{}{body}  {}\n}}\n", per_item(n), store(k.dtype, "i", "v"));
            (main, grid(n.div_ceil(GROUP)))
        }
        KernelOp::Gather { src, index, axis } => {
            let mut body = wgsl::coords(&k.shape, "i", "c");
            let ix = g.load_view(index.slot, DType::I64, &index.view, "i");
            let c: Vec<String> = (0..k.shape.len())
                .map(|d| {
                    if d == *axis {
                        "u32(ix)".to_string()
                    } else {
                        format!("c{d}")
                    }
                })
                .collect();
            let l = g.load_view(src.slot, dtype_of(src.slot), &src.view, &flatten(&src.view.shape, &c));
            let dt = k.dtype;
            let size = src.view.shape[*axis];
            g.reads.push((wgsl::ERRORS, DType::U8));
            let _ = write!(
                body,
                "  let ix = {ix};\n  var v: {} = {};\n  if (ix >= 0i && u32(ix) < {size}u) {{ v = {l}; }} else {{ {} }}\n",
                compute_type(dt),
                zero(dt),
                wgsl::report_bad_index(1, "ix", size)
            );
            let main = format!("{}{body}  {}\n}}\n", per_item(n), store(dt, "i", "v"));
            (main, grid(n.div_ceil(GROUP)))
        }
        KernelOp::Scatter {
            src,
            index,
            values,
            axis,
            add,
        } => {
            let dt = k.dtype;
            let ishape = &index.view.shape;
            let mut body = wgsl::coords(&k.shape, "i", "c");
            let first = g.load_view(src.slot, dt, &src.view, "i");
            let _ = writeln!(body, "  var v = {first};");
            // Positions of the index tensor that could point at this element: same
            // coordinates off the axis, any along it (in order, so the last write wins).
            let fits: Vec<String> = (0..k.shape.len())
                .filter(|&d| d != *axis)
                .map(|d| format!("c{d} < {}u", ishape[d]))
                .chain(["true".to_string()])
                .collect();
            let c: Vec<String> = (0..k.shape.len())
                .map(|d| if d == *axis { "t".to_string() } else { format!("c{d}") })
                .collect();
            let j = flatten(ishape, &c);
            let ix = g.load_view(index.slot, DType::I64, &index.view, "j");
            let val = g.load_view(values.slot, dt, &values.view, "j");
            let upd = if *add {
                wgsl::binary(crate::ops::BinaryOp::Add, dt, "v", &val)
            } else {
                val
            };
            // The threads of the axis's first row also check every index they scan.
            g.reads.push((wgsl::ERRORS, DType::U8));
            let size = k.shape[*axis];
            let _ = write!(
                body,
                "  if ({}) {{\n    for (var t = 0u; t < {}u; t++) {{\n      let j = {j};\n      let ix = {ix};\n      \
                 if (ix == i32(c{axis})) {{ v = {upd}; }}\n      \
                 if (c{axis} == 0u && (ix < 0i || u32(ix) >= {size}u)) {{ {} }}\n    }}\n  }}\n",
                fits.join(" && "),
                ishape[*axis],
                wgsl::report_bad_index(2, "ix", size)
            );
            let main = format!("{}{body}  {}\n}}\n", per_item(n), store(dt, "i", "v"));
            (main, grid(n.div_ceil(GROUP)))
        }
        KernelOp::ArgReduce { src, axis, max } => {
            let sd = dtype_of(src.slot);
            let mut body = wgsl::coords(&k.shape, "i", "c");
            let at = |t: &str| {
                let c: Vec<String> = (0..k.shape.len())
                    .map(|d| if d == *axis { t.to_string() } else { format!("c{d}") })
                    .collect();
                flatten(&src.view.shape, &c)
            };
            let first = g.load_view(src.slot, sd, &src.view, &at("0u"));
            let x = g.load_view(src.slot, sd, &src.view, &at("t"));
            let (nan_x, nan_b) = if wgsl::is_f(sd) {
                ("born_isnan(x)".to_string(), "born_isnan(bv)".to_string())
            } else {
                ("false".into(), "false".into())
            };
            let cmp = if *max { ">" } else { "<" };
            let cmp = if sd == DType::Bool {
                format!("u32(x) {cmp} u32(bv)")
            } else {
                format!("x {cmp} bv")
            };
            let _ = write!(
                body,
                "  var best = 0u;\n  var bv = {first};\n  for (var t = 1u; t < {}u; t++) {{\n    \
                 if ({nan_b}) {{ break; }}\n    let x = {x};\n    if ({nan_x} || {cmp}) {{ best = t; bv = x; }}\n  }}\n",
                src.view.shape[*axis]
            );
            let main = format!("{}{body}  {}\n}}\n", per_item(n), store(DType::I64, "i", "i32(best)"));
            (main, grid(n.div_ceil(GROUP)))
        }
        KernelOp::Argsort { src, axis, descending } => {
            let sd = dtype_of(src.slot);
            let len = k.shape[*axis];
            let mut body = wgsl::coords(&k.shape, "i", "c");
            let c: Vec<String> = (0..k.shape.len())
                .map(|d| if d == *axis { "t".to_string() } else { format!("c{d}") })
                .collect();
            let me = g.load_view(src.slot, sd, &src.view, "i");
            let other = g.load_view(src.slot, sd, &src.view, &flatten(&src.view.shape, &c));
            // NaN sorts above every number (NumPy); equal keys keep their order.
            let less = |a: &str, b: &str| match sd {
                d if wgsl::is_f(d) => format!("(!born_isnan({a}) && (born_isnan({b}) || {a} < {b}))"),
                DType::Bool => format!("(u32({a}) < u32({b}))"),
                _ => format!("({a} < {b})"),
            };
            let before = if *descending { less("me", "x") } else { less("x", "me") };
            let after = if *descending { less("x", "me") } else { less("me", "x") };
            let out_c: Vec<String> = (0..k.shape.len())
                .map(|d| {
                    if d == *axis {
                        "rank".to_string()
                    } else {
                        format!("c{d}")
                    }
                })
                .collect();
            let _ = write!(
                body,
                "  let me = {me};\n  var rank = 0u;\n  for (var t = 0u; t < {len}u; t++) {{\n    let x = {other};\n    \
                 if ({before} || (!{after} && t < c{axis})) {{ rank += 1u; }}\n  }}\n  let o = {};\n",
                flatten(&k.shape, &out_c)
            );
            let main = format!(
                "{}{body}  {}\n}}\n",
                per_item(n),
                store(DType::I64, "o", &format!("i32(c{axis})"))
            );
            (main, grid(n.div_ceil(GROUP)))
        }
        KernelOp::Cumsum { src, axis } => {
            let dt = k.dtype;
            let mut body = wgsl::coords(&k.shape, "i", "c");
            let c: Vec<String> = (0..k.shape.len())
                .map(|d| if d == *axis { "t".to_string() } else { format!("c{d}") })
                .collect();
            let x = g.load_view(src.slot, dt, &src.view, &flatten(&src.view.shape, &c));
            let step = wgsl::binary(crate::ops::BinaryOp::Add, dt, "acc", &x);
            let _ = write!(
                body,
                "  var acc: {} = {};\n  for (var t = 0u; t <= c{axis}; t++) {{ acc = {step}; }}\n",
                compute_type(dt),
                zero(dt)
            );
            let main = format!("{}{body}  {}\n}}\n", per_item(n), store(dt, "i", "acc"));
            (main, grid(n.div_ceil(GROUP)))
        }
    };
    let fns = std::mem::take(&mut g.fns);
    drop(g);
    Ok(Launch {
        source: assemble(k.dtype, &reads, &fns, &main),
        reads,
        groups,
        writes_scratch: false,
    })
}

fn zero(d: DType) -> &'static str {
    match d {
        DType::F32 | DType::F16 | DType::BF16 => "0.0",
        DType::Bool => "false",
        _ => "0i",
    }
}

fn reduce(
    g: &mut ExprGen,
    op: crate::ops::ReduceOp,
    expr: &Expr,
    [n_out, n_red]: [usize; 2],
    out: DType,
    caps: Caps,
) -> (String, [u32; 3]) {
    use crate::ops::ReduceOp::{Max, Min, Prod, Sum};
    let d = expr.dtype();
    // Bools reduce as 0 / 1 in i32 (any: max, all: min): WGSL allows bool in workgroup
    // memory, but an H200's Vulkan driver read it back wrong (`any` false on every row).
    let boolean = d == DType::Bool;
    let ct = if boolean { "i32" } else { compute_type(d) };
    let id = match (boolean, op) {
        (true, Sum | Max) => "0i".to_string(),
        (true, Prod | Min) => "1i".to_string(),
        (false, _) => wgsl::reduce_identity(op, d),
    };
    let combine = |acc: &str, x: &str| match (boolean, op) {
        (true, Sum | Max) => format!("max({acc}, {x})"),
        (true, Prod | Min) => format!("min({acc}, {x})"),
        (false, _) => wgsl::reduce_step(op, d, acc, x),
    };
    let v = g.expr(
        expr,
        "(o * {n_red}u + r)".replace("{n_red}", &n_red.to_string()).as_str(),
    );
    let v = if boolean { format!("select(0i, 1i, {v})") } else { v };
    let body = std::mem::take(&mut g.body);
    let step = combine("acc", &v);
    let result = if boolean {
        wgsl::cast(DType::Bool, out, "(acc != 0i)")
    } else {
        wgsl::cast(d, out, "acc")
    };
    if n_red <= SERIAL_REDUCE {
        let main = format!(
            "{}  let o = i;\n  var acc: {ct} = {id};\n  for (var r = 0u; r < {n_red}u; r++) {{\n{body}    acc = {step};\n  }}\n  {}\n}}\n",
            per_item(n_out),
            store(out, "o", &result)
        );
        return (main, grid(n_out.div_ceil(GROUP)));
    }
    // A workgroup per output: strided partial results, then a tree in workgroup memory.
    let head = format!(
        "var<workgroup> part: array<{ct}, {GROUP}>;\n\
         @compute @workgroup_size({GROUP})\nfn main(@builtin(workgroup_id) wg: vec3<u32>, \
         @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32{}) {{\n  \
         let o = wg.y * nw.x + wg.x;\n  var acc: {ct} = {id};\n  if (o < {n_out}u) {{\n    \
         for (var r = lid; r < {n_red}u; r += {GROUP}u) {{\n{body}      acc = {step};\n    }}\n  }}\n",
        if caps.subgroups {
            ", @builtin(subgroup_invocation_id) sid: u32, @builtin(subgroup_size) ssz: u32, \
             @builtin(subgroup_id) sg: u32, @builtin(num_subgroups) nsg: u32"
        } else {
            ""
        }
    );
    if caps.subgroups {
        // Each subgroup combines its lanes by shuffles (with the same step as everywhere,
        // so NaN and u8 wrap-around behave as on the CPU), writes one partial, and the
        // first subgroup combines those: one barrier instead of eight.
        let butterfly = format!(
            "for (var m = ssz >> 1u; m > 0u; m >>= 1u) {{ acc = {}; }}",
            combine("acc", "subgroupShuffleXor(acc, m)")
        );
        let main = format!(
            "{head}  {butterfly}\n  if (sid == 0u) {{ part[sg] = acc; }}\n  workgroupBarrier();\n  \
             if (sg == 0u) {{\n    acc = {id};\n    for (var j = sid; j < nsg; j += ssz) {{ acc = {}; }}\n    \
             {butterfly}\n    if (sid == 0u && o < {n_out}u) {{ {} }}\n  }}\n}}\n",
            combine("acc", "part[j]"),
            store(out, "o", &result)
        );
        return (main, grid(n_out));
    }
    let tree = combine("part[lid]", "part[lid + s]");
    let main = format!(
        "{head}  part[lid] = acc;\n  workgroupBarrier();\n  for (var s = {half}u; s > 0u; s >>= 1u) {{\n    \
         if (lid < s) {{ part[lid] = {tree}; }}\n    workgroupBarrier();\n  }}\n  \
         if (lid == 0u && o < {n_out}u) {{ let acc = part[0]; {} }}\n}}\n",
        store(out, "o", &result),
        half = GROUP / 2
    );
    (main, grid(n_out))
}

/// 128x128 output tiles at least this many for the wide matmul kernel: fewer leave a large
/// GPU's multiprocessors idle, and the 64x64 kernel's four times as many tiles do better.
const WIDE_MIN_TILES: usize = 128;

/// The wide matmul kernel (shaders/matmul_wide.wgsl) when its preconditions hold: f32
/// operands read whole (row-major, offsets a multiple of 4) and `m`, `n` multiples of 128,
/// `k` of 16, so every vec4 it reads and writes is inside its buffer without checks.
fn wide_matmul(k: &Kernel, a: &Src, b: &Src, dtype_of: &dyn Fn(Slot) -> DType, dims: [usize; 4]) -> Option<Plan> {
    let [batch, m, n, kk] = dims;
    let aligned = |s: &Src| dtype_of(s.slot) == DType::F32 && s.view.is_contiguous() && s.view.offset % 4 == 0;
    let tiles = (m / 128) * (n / 128) * batch;
    if k.dtype != DType::F32
        || !aligned(a)
        || !aligned(b)
        || m % 128 != 0
        || n % 128 != 0
        || kk % 16 != 0
        || tiles < WIDE_MIN_TILES
        || batch > 65535
    {
        return None;
    }
    let source = format!(
        "@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;\n\
         @group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;\n\
         @group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;\n\
         const M: u32 = {m}u;\nconst N: u32 = {n}u;\nconst K: u32 = {kk}u;\n\
         const A_OFF: u32 = {}u;\nconst B_OFF: u32 = {}u;\n{}",
        a.view.offset / 4,
        b.view.offset / 4,
        unroll_kk(include_str!("../../../../shaders/matmul_wide.wgsl"), 16)
    );
    Some(Plan {
        launches: vec![Launch {
            source,
            reads: vec![(a.slot, DType::F32), (b.slot, DType::F32)],
            groups: [(n / 128) as u32, (m / 128) as u32, batch as u32],
            writes_scratch: false,
        }],
        scratch: 0,
    })
}

/// `src` with its `// UNROLL kk` .. `// END UNROLL` block repeated for kk = 0..n, `[kk]`
/// becoming a literal index in each copy.
fn unroll_kk(src: &str, n: usize) -> String {
    let (Some(start), Some(end)) = (src.find("    // UNROLL kk"), src.find("    // END UNROLL")) else {
        return src.to_string();
    };
    let block = &src[start..end];
    let copies: String = (0..n).map(|kk| block.replace("[kk]", &format!("[{kk}u]"))).collect();
    format!("{}{copies}{}", &src[..start], &src[end..])
}

/// Output tiles below which a long product is split along K: fewer leave most of a large
/// GPU's multiprocessors idle.
const SPLIT_BELOW_TILES: usize = 128;

fn matmul(mut g: ExprGen, k: &Kernel, a: &Src, b: &Src, dtype_of: &dyn Fn(Slot) -> DType) -> Result<Plan> {
    let r = k.shape.len();
    let (m, n) = (k.shape[r - 2], k.shape[r - 1]);
    let batch: usize = k.shape[..r - 2].iter().product();
    let kk = a.view.numel() / (batch * m).max(1);
    if batch > 65535 {
        return Err(Error::arg(
            "matmul",
            format!("the GPU backend runs at most 65535 matrices in one batch, this one has {batch}"),
        ));
    }
    if k.dtype == DType::Bool {
        return Err(Error::UnsupportedDType {
            op: "matmul",
            dtype: k.dtype,
            reason: "the GPU backend multiplies numbers: cast the bools first".into(),
        });
    }
    if let Some(plan) = wide_matmul(k, a, b, dtype_of, [batch.max(1), m, n, kk]) {
        return Ok(plan);
    }
    let tiles = n.div_ceil(64) * m.div_ceil(64) * batch.max(1);
    // Split so that the parts make about 2 * SPLIT_BELOW_TILES workgroups of at least 512 of K each.
    let split = if k.dtype == DType::F32 && tiles < SPLIT_BELOW_TILES && kk >= 1024 {
        (2 * SPLIT_BELOW_TILES / tiles)
            .clamp(1, kk / 512)
            .min(65535 / batch.max(1))
    } else {
        1
    };
    let chunk = kk.div_ceil(split).next_multiple_of(16).max(16);
    let split = kk.div_ceil(chunk).max(1);
    let la = g.load_view(a.slot, dtype_of(a.slot), &a.view, "(b * M + r) * K + c");
    let lb = g.load_view(b.slot, dtype_of(b.slot), &b.view, "(b * K + r) * N + c");
    let ct = compute_type(k.dtype);
    let numel = batch.max(1) * m * n;
    let store_c = if split == 1 {
        format!("let at = (b * M + r) * N + c; {}", store(k.dtype, "at", "v"))
    } else {
        format!(
            "out[(part * {batch}u + b) * M * N + r * N + c] = v;",
            batch = batch.max(1)
        )
    };
    let head = format!(
        "alias T = {ct};\nconst M: u32 = {m}u;\nconst N: u32 = {n}u;\nconst K: u32 = {kk}u;\nconst ZERO: T = {};\n\
         const SPLIT: u32 = {split}u;\nconst KCHUNK: u32 = {chunk}u;\n\
         fn load_a(b: u32, r: u32, c: u32) -> T {{ return {la}; }}\n\
         fn load_b(b: u32, r: u32, c: u32) -> T {{ return {lb}; }}\n\
         fn store_c(b: u32, part: u32, r: u32, c: u32, v: T) {{ {store_c} }}\n",
        zero(k.dtype),
    );
    let fns = std::mem::take(&mut g.fns);
    let reads = std::mem::take(g.reads);
    let main = format!(
        "{head}\n{}",
        unroll_kk(include_str!("../../../../shaders/matmul.wgsl"), 16)
    );
    let out_dtype = if split == 1 { k.dtype } else { DType::F32 };
    let product = Launch {
        source: assemble(out_dtype, &reads, &fns, &main),
        reads,
        groups: [
            n.div_ceil(64).max(1) as u32,
            m.div_ceil(64).max(1) as u32,
            (batch.max(1) * split) as u32,
        ],
        writes_scratch: split > 1,
    };
    if split == 1 {
        return Ok(Plan {
            launches: vec![product],
            scratch: 0,
        });
    }
    // The parts' sum, in part order for every element.
    let sum_reads = vec![(SCRATCH, DType::F32)];
    let main = format!(
        "{}  var acc = 0.0;\n  for (var p = 0u; p < {split}u; p++) {{ acc = acc + b0[p * {numel}u + i]; }}\n  {}\n}}\n",
        per_item(numel),
        store(DType::F32, "i", "acc")
    );
    let sum = Launch {
        source: assemble(DType::F32, &sum_reads, "", &main),
        reads: sum_reads,
        groups: grid(numel.div_ceil(GROUP)),
        writes_scratch: false,
    };
    Ok(Plan {
        launches: vec![product, sum],
        scratch: split * numel,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_wide_matmul_step_is_written_out_sixteen_times() {
        let src = super::unroll_kk(include_str!("../../../../shaders/matmul_wide.wgsl"), 16);
        assert!(!src.contains("[kk]"), "every kk became a literal");
        assert_eq!(src.matches("let a0 = tile_a[").count(), 16);
        assert!(src.contains("tile_a[15u][l.y]"));
        let src = super::unroll_kk(include_str!("../../../../shaders/matmul.wgsl"), 16);
        assert!(!src.contains("[kk]"));
        assert!(src.contains("tile_b[15u][l.x + 48u]"));
    }
}
