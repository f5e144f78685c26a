//! Machine code for a [`Signature`] through Cranelift: one loop nest whose innermost body
//! loads each input once, computes every op in registers and stores the result.
//!
//! Every op computes exactly what the interpreter (`vals`) computes, bit for bit: the
//! same IEEE operations, and calls into the same Rust functions for `exp`, `ln`, `tanh`
//! and the other transcendental ops. Kernels are checked against it in the tests.

use super::plan::{Node, Signature, Ty};
use crate::backend::cpu::vals::exp_f32;
use crate::ops::{BinaryOp, UnaryOp};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    types, AbiParam, Block, BlockArg, Endianness, InstBuilder, MemFlagsData, Signature as ClifSig, Type, Value,
};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};

const F4: Type = types::F32X4;
const I4: Type = types::I32X4;
/// Elements per vector step.
const LANES: usize = 4;

/// A lane's position relative to the innermost loop's: steps along its dim, and the
/// index along the dim of two inside it (rows of two only).
#[derive(Clone, Copy)]
struct Lane(i64, i64);

/// A loop state as block arguments: index, load addresses, output address.
fn state(i: Value, ptrs: &[Value], o: Value) -> Vec<BlockArg> {
    std::iter::once(i)
        .chain(ptrs.iter().copied())
        .chain([o])
        .map(BlockArg::from)
        .collect()
}

/// `entry(pointers, out, count, index)`: `pointers` holds each load's address at the
/// start (for a padded read, where position 0 of the padded index would be), then each
/// load's first element (an address always safe to read); `out` is the output's address,
/// `count` the extent of the call dim (see [`Signature::inner`]) and `index` the
/// multi-index of the start over the dims up to the call dim.
pub type Entry = unsafe extern "C" fn(*const usize, *mut u8, usize, *const usize);

/// A compiled kernel; owns its code.
pub struct Compiled {
    /// The kernel's machine code.
    pub entry: Entry,
    module: Option<JITModule>,
}

// SAFETY: the code is immutable once finalized and the module is only touched again to
// free it, when the last handle drops.
unsafe impl Send for Compiled {}
unsafe impl Sync for Compiled {}

impl Drop for Compiled {
    fn drop(&mut self) {
        if let Some(m) = self.module.take() {
            // SAFETY: no handle is left, so no thread is running the code.
            unsafe { m.free_memory() }
        }
    }
}

/// Compiles a kernel; `Err` carries Cranelift's message (a bug in the lowering).
pub fn compile(sig: &Signature) -> Result<Compiled, String> {
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").map_err(|e| e.to_string())?;
    let isa = cranelift_native::builder()
        .map_err(|e| e.to_string())?
        .finish(settings::Flags::new(flags))
        .map_err(|e| e.to_string())?;
    let mut module = JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()));
    let ptr = module.target_config().pointer_type();
    let mut ctx = module.make_context();
    ctx.func.signature.params.extend([AbiParam::new(ptr); 4]);
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let (table, out, count, index) = {
            let p = b.block_params(entry);
            (p[0], p[1], p[2], p[3])
        };
        let n = sig.loads.len();
        let word = |b: &mut FunctionBuilder, base: Value, k: usize| {
            b.ins().load(ptr, MemFlagsData::trusted(), base, (k * 8) as i32)
        };
        let bases: Vec<Value> = (0..n).map(|l| word(&mut b, table, l)).collect();
        let safe: Vec<Value> = (0..n).map(|l| word(&mut b, table, n + l)).collect();
        let call_dim = sig.dims.len() - sig.inner - 1;
        // The indices of the dims outside the loops, where a padded read needs them.
        let padded = |d: usize| {
            sig.loads
                .iter()
                .any(|l| l.pad.as_ref().is_some_and(|(p, _)| p[d].is_some()))
        };
        let idx: Vec<Option<Value>> = (0..sig.dims.len())
            .map(|d| (d <= call_dim && padded(d)).then(|| word(&mut b, index, d)))
            .collect();
        let mut g = Gen {
            sig,
            b,
            ptr,
            width: 1,
            safe,
            idx,
            call_dim,
            first: None,
        };
        g.level(call_dim, count, bases, out);
        g.b.ins().return_(&[]);
        g.b.seal_all_blocks();
        g.b.finalize(module.target_config());
    }
    let id = module
        .declare_function("kernel", Linkage::Export, &ctx.func.signature)
        .map_err(|e| e.to_string())?;
    module.define_function(id, &mut ctx).map_err(|e| format!("{e:?}"))?;
    module.clear_context(&mut ctx);
    module.finalize_definitions().map_err(|e| e.to_string())?;
    let code = module.get_finalized_function(id);
    // SAFETY: the function was declared with this signature (three pointer-sized params).
    let entry = unsafe { std::mem::transmute::<*const u8, Entry>(code) };
    Ok(Compiled {
        entry,
        module: Some(module),
    })
}

struct Gen<'a, 'f> {
    sig: &'a Signature,
    b: FunctionBuilder<'f>,
    ptr: Type,
    /// Lanes the body being emitted computes (transcendental calls go lane by lane).
    width: usize,
    /// Per load, an address inside its buffer (read instead of a padded position).
    safe: Vec<Value>,
    /// Per dim, its index at the current position where a padded read needs it: the
    /// caller's for the dims outside the loops, the loop's for the others.
    idx: Vec<Option<Value>>,
    /// The dim whose extent comes from the call.
    call_dim: usize,
    /// The call dim's index at the start of the call (from the caller).
    first: Option<Value>,
}

impl Gen<'_, '_> {
    /// One loop over dim `d` (the first takes its extent from `count`), starting at the
    /// given load and output addresses. `held` carries values loaded outside the
    /// innermost loop (loads that do not move along it).
    fn level(&mut self, d: usize, count: Value, starts: Vec<Value>, out: Value) {
        let extent = if d + self.sig.inner + 1 == self.sig.dims.len() {
            count
        } else {
            self.b.ins().iconst(self.ptr, self.sig.dims[d] as i64)
        };
        let dims = self.sig.dims.len();
        if d + 1 == dims {
            return self.innermost(d, extent, starts, out, false);
        }
        if d + 2 == dims && self.sig.dims[d + 1] == 2 {
            // Rows of two (pooling windows): vectors span two rows.
            return self.innermost(d, extent, starts, out, true);
        }
        let (head, i, ptrs, o) = self.loop_head(&starts, out);
        self.track(d, i);
        self.level(d + 1, count, ptrs.clone(), o);
        let (next_i, next) = self.step(d, 1, i, &ptrs, o);
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, next_i, extent);
        let done = self.b.create_block();
        self.b.ins().brif(more, head, &next, done, &[]);
        self.b.switch_to_block(done);
    }

    /// Records dim `d`'s index as loop counter `i` (plus the start, for the call dim),
    /// where a padded read needs it.
    fn track(&mut self, d: usize, i: Value) {
        if let Some(start) = self.idx[d].filter(|_| d == self.call_dim) {
            // The caller's start index stays in the entry block's value; keep it apart.
            self.first = Some(self.first.unwrap_or(start));
        }
        let padded = self
            .sig
            .loads
            .iter()
            .any(|l| l.pad.as_ref().is_some_and(|(p, _)| p[d].is_some()));
        if padded {
            self.idx[d] = Some(match (d == self.call_dim, self.first) {
                (true, Some(start)) => self.b.ins().iadd(start, i),
                _ => i,
            });
        }
    }

    /// A block taking (index, load addresses, output address), jumped to from here with
    /// index 0; returns it and its params.
    fn loop_head(&mut self, starts: &[Value], out: Value) -> (Block, Value, Vec<Value>, Value) {
        let head = self.b.create_block();
        let zero = self.b.ins().iconst(self.ptr, 0);
        let args = state(zero, starts, out);
        self.b.ins().jump(head, &args);
        let (i, ptrs, o) = self.state_params(head, starts.len());
        (head, i, ptrs, o)
    }

    /// Gives `block` the params of a loop state and switches to it.
    fn state_params(&mut self, block: Block, loads: usize) -> (Value, Vec<Value>, Value) {
        for _ in 0..loads + 2 {
            self.b.append_block_param(block, self.ptr);
        }
        self.b.switch_to_block(block);
        let params = self.b.block_params(block).to_vec();
        (params[0], params[1..=loads].to_vec(), params[loads + 1])
    }

    /// The next iteration's index and state: `by` steps along dim `d`.
    fn step(&mut self, d: usize, by: usize, i: Value, ptrs: &[Value], o: Value) -> (Value, Vec<BlockArg>) {
        let next_i = self.b.ins().iadd_imm_s(i, by as i64);
        let next_ptrs: Vec<Value> = ptrs
            .iter()
            .zip(&self.sig.loads)
            .map(|(&p, l)| {
                let step = l.strides[d] * (l.ty.size() * by) as isize;
                if step == 0 {
                    p
                } else {
                    self.b.ins().iadd_imm_s(p, step as i64)
                }
            })
            .collect();
        let out_step: usize = self.sig.dims[d + 1..].iter().product::<usize>() * self.sig.out.size() * by;
        let next_o = self.b.ins().iadd_imm_s(o, out_step as i64);
        (next_i, state(next_i, &next_ptrs, next_o))
    }

    /// The innermost dim: four elements at a time while four remain, then one at a time.
    /// With `pairs`, dim `d` is the one outside an innermost dim of two: a vector covers
    /// two steps of `d`, and the rest goes a row of two at a time.
    fn innermost(&mut self, d: usize, extent: Value, starts: Vec<Value>, out: Value, pairs: bool) {
        // Each lane's position relative to the loop's: (steps along d, index along d + 1).
        let vector: Vec<Lane> = (0..LANES as i64)
            .map(|j| if pairs { Lane(j / 2, j % 2) } else { Lane(j, 0) })
            .collect();
        // Unpadded loads that stay put across a vector are read once per pass, into all lanes.
        let held: Vec<Option<Value>> = (0..starts.len())
            .map(|l| {
                let load = &self.sig.loads[l];
                let still = load.pad.is_none() && vector.iter().all(|&lane| self.offset(l, d, pairs, lane) == 0);
                still.then(|| self.load(load.ty, starts[l], &[0; LANES]))
            })
            .collect();
        let n = starts.len();
        let per_vector = if pairs { 2 } else { LANES };
        let (head, i, ptrs, o) = self.loop_head(&starts, out);
        self.track(d, i);
        let (wide, tail) = (self.b.create_block(), self.b.create_block());
        let next_i = self.b.ins().iadd_imm_s(i, per_vector as i64);
        let fits = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, next_i, extent);
        self.b.ins().brif(fits, wide, &[], tail, &state(i, &ptrs, o));
        self.b.switch_to_block(wide);
        let v = self.body(&ptrs, &held, d, pairs, &vector);
        self.store(v, o, LANES);
        let (_, next) = self.step(d, per_vector, i, &ptrs, o);
        self.b.ins().jump(head, &next);
        // The rest one element (or one row of two) at a time.
        let (i, ptrs, o) = self.state_params(tail, n);
        self.track(d, i);
        let (one, done) = (self.b.create_block(), self.b.create_block());
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, i, extent);
        self.b.ins().brif(more, one, &[], done, &[]);
        self.b.switch_to_block(one);
        for k in 0..if pairs { 2 } else { 1 } {
            let v = self.body(&ptrs, &held, d, pairs, &[Lane(0, k)]);
            let o_k = self.b.ins().iadd_imm_s(o, k * self.sig.out.size() as i64);
            self.store(v, o_k, 1);
        }
        let (_, next) = self.step(d, 1, i, &ptrs, o);
        self.b.ins().jump(tail, &next);
        self.b.switch_to_block(done);
    }

    /// Bytes from load `l`'s address at the loop position to a lane's element.
    fn offset(&self, l: usize, d: usize, pairs: bool, Lane(along, inner): Lane) -> i32 {
        let load = &self.sig.loads[l];
        let elems = along as isize * load.strides[d] + if pairs { inner as isize * load.strides[d + 1] } else { 0 };
        (elems * load.ty.size() as isize) as i32
    }

    /// Load `l` at each lane: a plain read, or for a padded read one that takes the fill
    /// value (and reads a safe address instead) where a lane's position is in the padding.
    fn read(&mut self, l: usize, p: Value, d: usize, pairs: bool, lanes: &[Lane]) -> Value {
        let offsets: Vec<i32> = lanes.iter().map(|&lane| self.offset(l, d, pairs, lane)).collect();
        let load = self.sig.loads[l].clone();
        let Some((pads, fill)) = &load.pad else {
            return self.load(load.ty, p, &offsets);
        };
        // Inside along every padded dim but the lanes' own: `index - before < extent`.
        let inside = |g: &mut Self, index: Value, (before, n): (usize, usize)| {
            let rel = g.b.ins().iadd_imm_s(index, -(before as i64));
            g.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, rel, n as i64)
        };
        let mut outer: Option<Value> = None;
        for (k, pad) in pads.iter().enumerate() {
            let Some(pad) = *pad else { continue };
            if k == d || (pairs && k == d + 1) {
                continue;
            }
            let index = self.idx[k].expect("indices of padded dims are tracked");
            let ok = inside(self, index, pad);
            outer = Some(match outer {
                Some(o) => self.b.ins().band(o, ok),
                None => ok,
            });
        }
        let mut v: Option<Value> = None;
        for (j, (&Lane(along, inner), &off)) in lanes.iter().zip(&offsets).enumerate() {
            let mut ok = outer;
            let mut never = false;
            if let Some(pad) = pads[d] {
                let here = self.idx[d].expect("indices of padded dims are tracked");
                let index = self.b.ins().iadd_imm_s(here, along);
                let lane_ok = inside(self, index, pad);
                ok = Some(ok.map_or(lane_ok, |o| self.b.ins().band(o, lane_ok)));
            }
            if let Some((before, n)) = pads.get(d + 1).copied().flatten().filter(|_| pairs) {
                never = (inner as usize) < before || inner as usize >= before + n;
            }
            let fill_bits = self.b.ins().iconst(types::I32, *fill as i64);
            let bits = if never {
                fill_bits
            } else {
                let at = self.b.ins().iadd_imm_s(p, off as i64);
                let addr = match ok {
                    Some(ok) => self.b.ins().select(ok, at, self.safe[l]),
                    None => at,
                };
                let x = match load.ty {
                    Ty::F32 => self.b.ins().load(types::I32, MemFlagsData::trusted(), addr, 0),
                    Ty::Bool => {
                        let byte = self.b.ins().load(types::I8, MemFlagsData::trusted(), addr, 0);
                        self.b.ins().uextend(types::I32, byte)
                    }
                };
                match ok {
                    Some(ok) => self.b.ins().select(ok, x, fill_bits),
                    None => x,
                }
            };
            let bits = if load.ty == Ty::Bool {
                self.b.ins().ineg(bits)
            } else {
                bits
            };
            v = Some(match v {
                None => self.b.ins().scalar_to_vector(I4, bits),
                Some(v) => self.b.ins().insertlane(v, bits, j as u8),
            });
        }
        let v = v.expect("at least one lane");
        if load.ty == Ty::F32 {
            self.bits(F4, v)
        } else {
            v
        }
    }

    /// Reads lane `j` from `p + offsets[j]` (bytes): f32 as `F32X4`, bool as an `I32X4`
    /// lane mask (all ones for true), so selects and comparisons compile without branches.
    fn load(&mut self, ty: Ty, p: Value, offsets: &[i32]) -> Value {
        let contiguous =
            offsets.len() == LANES && offsets.iter().enumerate().all(|(j, &o)| o == (j * ty.size()) as i32);
        if ty == Ty::F32 && contiguous {
            return self.b.ins().load(F4, MemFlagsData::new().with_notrap(), p, 0);
        }
        let every_other = ty == Ty::F32
            && offsets.len() == LANES
            && offsets.iter().enumerate().all(|(j, &o)| o == offsets[0] + 8 * j as i32);
        if every_other {
            // Elements 0, 2, 4, 6 (pooling windows): two overlapping vector loads, 0..4 and
            // 3..7 (never past the last element read), and one shuffle.
            let flags = MemFlagsData::new().with_notrap();
            let lo = self.b.ins().load(F4, flags, p, offsets[0]);
            let hi = self.b.ins().load(F4, flags, p, offsets[0] + 12);
            let (lo, hi) = (self.bits(types::I8X16, lo), self.bits(types::I8X16, hi));
            let lanes = [0u8, 2, 5, 7];
            let bytes: Vec<u8> = lanes.iter().flat_map(|&e| (0..4).map(move |k| 4 * e + k)).collect();
            let mask = self.b.func.dfg.immediates.push(bytes.into());
            let picked = self.b.ins().shuffle(lo, hi, mask);
            return self.bits(F4, picked);
        }
        let pair_each_twice = ty == Ty::F32
            && offsets.len() == LANES
            && offsets == [offsets[0], offsets[0], offsets[0] + 4, offsets[0] + 4];
        if pair_each_twice {
            // A value per pooling window read by both of its elements (the pooled
            // gradient in the pooling gradient): one 8-byte load and one shuffle.
            let flags = MemFlagsData::new().with_notrap();
            let two = self.b.ins().load(types::I64, flags, p, offsets[0]);
            let two = self.b.ins().scalar_to_vector(types::I64X2, two);
            let two = self.bits(types::I8X16, two);
            let bytes: Vec<u8> = [0u8, 0, 1, 1]
                .iter()
                .flat_map(|&e| (0..4).map(move |k| 4 * e + k))
                .collect();
            let mask = self.b.func.dfg.immediates.push(bytes.into());
            let picked = self.b.ins().shuffle(two, two, mask);
            return self.bits(F4, picked);
        }
        let lane = |g: &mut Self, off: i32| match ty {
            Ty::F32 => g.b.ins().load(types::F32, MemFlagsData::trusted(), p, off),
            Ty::Bool => {
                let byte = g.b.ins().load(types::I8, MemFlagsData::trusted(), p, off);
                let wide = g.b.ins().uextend(types::I32, byte);
                g.b.ins().ineg(wide)
            }
        };
        let first = lane(self, offsets[0]);
        let vty = if ty == Ty::F32 { F4 } else { I4 };
        if offsets.len() > 1 && offsets.iter().all(|&o| o == offsets[0]) {
            return self.b.ins().splat(vty, first);
        }
        let mut v = self.b.ins().scalar_to_vector(vty, first);
        for (j, &off) in offsets.iter().enumerate().skip(1) {
            let x = lane(self, off);
            v = self.b.ins().insertlane(v, x, j as u8);
        }
        v
    }

    /// Stores the first `lanes` lanes (1 or all) at consecutive output elements.
    fn store(&mut self, v: Value, o: Value, lanes: usize) {
        let flags = MemFlagsData::new().with_notrap();
        match (self.sig.out, lanes) {
            (Ty::F32, 1) => {
                let x = self.b.ins().extractlane(v, 0);
                self.b.ins().store(flags, x, o, 0);
            }
            (Ty::F32, _) => {
                self.b.ins().store(flags, v, o, 0);
            }
            (Ty::Bool, 1) => {
                let x = self.b.ins().extractlane(v, 0);
                let bit = self.b.ins().band_imm_u(x, 1);
                let byte = self.b.ins().ireduce(types::I8, bit);
                self.b.ins().store(flags, byte, o, 0);
            }
            (Ty::Bool, _) => {
                // Masks to 0/1 bytes: narrow 32 -> 16 -> 8 bits a lane, store the low four bytes.
                let one = self.b.ins().iconst(types::I32, 1);
                let ones = self.b.ins().splat(I4, one);
                let bits = self.b.ins().band(v, ones);
                let half = self.b.ins().snarrow(bits, bits);
                let bytes = self.b.ins().snarrow(half, half);
                let words = self.bits(I4, bytes);
                let x = self.b.ins().extractlane(words, 0);
                self.b.ins().store(flags, x, o, 0);
            }
        }
    }

    fn splat(&mut self, x: f32) -> Value {
        let c = self.b.ins().f32const(x);
        self.b.ins().splat(F4, c)
    }

    /// Reinterprets lanes (a mask as floats or back).
    fn bits(&mut self, to: Type, v: Value) -> Value {
        let le = MemFlagsData::new().with_endianness(Endianness::Little);
        self.b.ins().bitcast(to, le, v)
    }

    /// `mask ? x : y` per lane; `x` and `y` of one type.
    fn pick(&mut self, mask: Value, x: Value, y: Value) -> Value {
        let mask = if self.b.func.dfg.value_type(x) == F4 {
            self.bits(F4, mask)
        } else {
            mask
        };
        self.b.ins().bitselect(mask, x, y)
    }

    /// Every node at each lane's position (see [`Gen::innermost`]); returns the result.
    fn body(&mut self, ptrs: &[Value], held: &[Option<Value>], d: usize, pairs: bool, lanes: &[Lane]) -> Value {
        self.width = lanes.len();
        let mut vals: Vec<Value> = Vec::with_capacity(self.sig.nodes.len());
        for (node, ty) in &self.sig.nodes {
            let v = match *node {
                Node::Load(l) => match held[l] {
                    Some(v) => v,
                    None => self.read(l, ptrs[l], d, pairs, lanes),
                },
                Node::Unary(op, x) => self.unary(op, *ty, vals[x]),
                Node::Binary(op, x, y) => {
                    let operand = self.sig.nodes[x].1;
                    self.binary(op, operand, vals[x], vals[y])
                }
                Node::Where(c, x, y) => self.pick(vals[c], vals[x], vals[y]),
                Node::Cast(x) => match ty {
                    Ty::Bool => {
                        let zero = self.splat(0.0);
                        self.b.ins().fcmp(FloatCC::NotEqual, vals[x], zero)
                    }
                    Ty::F32 => {
                        // true is all ones: keep exactly the bits of 1.0.
                        let one = self.splat(1.0);
                        let one = self.bits(I4, one);
                        let v = self.b.ins().band(vals[x], one);
                        self.bits(F4, v)
                    }
                },
            };
            vals.push(v);
        }
        vals[self.sig.result]
    }

    fn unary(&mut self, op: UnaryOp, ty: Ty, x: Value) -> Value {
        use UnaryOp::*;
        if ty == Ty::Bool {
            return self.b.ins().bnot(x);
        }
        match op {
            Neg => self.b.ins().fneg(x),
            Abs => self.b.ins().fabs(x),
            Floor => self.b.ins().floor(x),
            Ceil => self.b.ins().ceil(x),
            Round => self.b.ins().nearest(x),
            Sqrt => self.b.ins().sqrt(x),
            Recip => {
                let one = self.splat(1.0);
                self.b.ins().fdiv(one, x)
            }
            Sign => {
                // 1 above zero, -1 below, the value itself for ±0 and NaN.
                let zero = self.splat(0.0);
                let (one, minus) = (self.splat(1.0), self.splat(-1.0));
                let below = self.b.ins().fcmp(FloatCC::LessThan, x, zero);
                let rest = self.pick(below, minus, x);
                let above = self.b.ins().fcmp(FloatCC::GreaterThan, x, zero);
                self.pick(above, one, rest)
            }
            Exp => self.call1(jit_exp, x),
            Log => self.call1(jit_ln, x),
            Log1p => self.call1(jit_ln1p, x),
            Sin => self.call1(jit_sin, x),
            Cos => self.call1(jit_cos, x),
            Tanh => self.call1(jit_tanh, x),
            Erf => self.call1(jit_erf, x),
            Not => unreachable!("not is bool-only (lowering checks)"),
        }
    }

    fn binary(&mut self, op: BinaryOp, operand: Ty, x: Value, y: Value) -> Value {
        use BinaryOp::*;
        if operand == Ty::Bool {
            let ins = self.b.ins();
            // Masks: true is all ones, so unsigned order has false < true.
            return match op {
                And | Min | Mul => ins.band(x, y),
                Or | Max | Add => ins.bor(x, y),
                Xor => ins.bxor(x, y),
                Eq => ins.icmp(IntCC::Equal, x, y),
                Ne => ins.icmp(IntCC::NotEqual, x, y),
                Lt => ins.icmp(IntCC::UnsignedLessThan, x, y),
                Le => ins.icmp(IntCC::UnsignedLessThanOrEqual, x, y),
                _ => unreachable!("lowering keeps {op:?} on bools with the interpreter"),
            };
        }
        match op {
            Add => self.b.ins().fadd(x, y),
            Sub => self.b.ins().fsub(x, y),
            Mul => self.b.ins().fmul(x, y),
            Div => self.b.ins().fdiv(x, y),
            Rem => self.call2(jit_rem, x, y),
            Pow => self.call2(jit_pow, x, y),
            // As the interpreter: `x` when it is NaN or wins, else `y` (so NaN always wins).
            Max | Min => {
                let cc = if op == Max {
                    FloatCC::GreaterThan
                } else {
                    FloatCC::LessThan
                };
                let nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
                let wins = self.b.ins().fcmp(cc, x, y);
                let pick = self.b.ins().bor(nan, wins);
                self.pick(pick, x, y)
            }
            Eq => self.b.ins().fcmp(FloatCC::Equal, x, y),
            Ne => self.b.ins().fcmp(FloatCC::NotEqual, x, y),
            Lt => self.b.ins().fcmp(FloatCC::LessThan, x, y),
            Le => self.b.ins().fcmp(FloatCC::LessThanOrEqual, x, y),
            And | Or | Xor => unreachable!("logical ops are bool-only (lowering checks)"),
        }
    }

    fn call1(&mut self, f: extern "C" fn(f32) -> f32, x: Value) -> Value {
        self.call(f as usize, 1, &[x])
    }

    fn call2(&mut self, f: extern "C" fn(f32, f32) -> f32, x: Value, y: Value) -> Value {
        self.call(f as usize, 2, &[x, y])
    }

    /// Calls a Rust function of `arity` f32 arguments returning f32, by address, once per lane.
    fn call(&mut self, addr: usize, arity: usize, args: &[Value]) -> Value {
        let mut out = None;
        for lane in 0..self.width {
            let x: Vec<Value> = args.iter().map(|&a| self.b.ins().extractlane(a, lane as u8)).collect();
            let r = self.call_lane(addr, arity, &x);
            out = Some(match out {
                None => self.b.ins().scalar_to_vector(F4, r),
                Some(v) => self.b.ins().insertlane(v, r, lane as u8),
            });
        }
        out.expect("at least one lane")
    }

    fn call_lane(&mut self, addr: usize, arity: usize, args: &[Value]) -> Value {
        let mut sig = ClifSig::new(self.b.func.signature.call_conv);
        sig.params.extend(vec![AbiParam::new(types::F32); arity]);
        sig.returns.push(AbiParam::new(types::F32));
        let sig = self.b.import_signature(sig);
        let callee = self.b.ins().iconst(self.ptr, addr as i64);
        let call = self.b.ins().call_indirect(sig, callee, args);
        self.b.inst_results(call)[0]
    }
}

// The interpreter's functions, callable from compiled code.
extern "C" fn jit_exp(x: f32) -> f32 {
    exp_f32(x)
}
extern "C" fn jit_ln(x: f32) -> f32 {
    x.ln()
}
extern "C" fn jit_ln1p(x: f32) -> f32 {
    x.ln_1p()
}
extern "C" fn jit_sin(x: f32) -> f32 {
    x.sin()
}
extern "C" fn jit_cos(x: f32) -> f32 {
    x.cos()
}
extern "C" fn jit_tanh(x: f32) -> f32 {
    x.tanh()
}
extern "C" fn jit_erf(x: f32) -> f32 {
    libm::erff(x)
}
extern "C" fn jit_pow(x: f32, y: f32) -> f32 {
    x.powf(y)
}
/// Remainder with the divisor's sign, as `vals`.
extern "C" fn jit_rem(x: f32, y: f32) -> f32 {
    let r = x % y;
    if r != 0.0 && ((r < 0.0) != (y < 0.0)) {
        r + y
    } else {
        r
    }
}
