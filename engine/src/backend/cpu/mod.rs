//! The CPU backend: runs a [`Schedule`] on host buffers with the runtime's thread pool
//! (reached through [`Parallel`], never threads of its own: see `runtime`).

mod eval;
mod jit;
mod matmul;
mod misc;
mod padsum;
mod reduce;
pub mod sgemm;
mod vals;

pub use eval::{gather_range, simplify};

use crate::backend::{par_chunks_mut, Parallel, Serial};
use crate::error::{Error, Result};
use crate::schedule::{KernelOp, Schedule, Slot, SlotSource};
use crate::storage::{Buffer, HostBuffer, HostPool};
use eval::Store;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Elements per chunk of a fused loop: small enough that every intermediate
/// of the expression stays in L1/L2, large enough to amortize dispatch.
pub const CHUNK: usize = 4096;

/// A stand-in for slots that hold nothing yet (never read by a valid schedule).
static EMPTY: HostBuffer = HostBuffer::Bool(Vec::new());

/// Runs every kernel of `s`; returns the buffers of the schedule's outputs by slot.
pub fn execute(
    s: &Schedule,
    par: &dyn Parallel,
    memory: &'static HostPool,
    interrupt: &AtomicBool,
) -> Result<HashMap<Slot, Arc<Buffer>>> {
    let mut phys: Vec<Option<HostBuffer>> = vec![None; s.buffers.len()];
    for k in s.kernels.iter() {
        // Between kernels is the engine's safe point for Ctrl-C.
        if interrupt.swap(false, Ordering::SeqCst) {
            phys.into_iter().flatten().for_each(|b| memory.give(b));
            return Err(Error::Interrupted);
        }
        let p = match s.slots[k.out] {
            SlotSource::Computed { phys } => phys,
            SlotSource::Input(_) => unreachable!("kernels write computed slots"),
        };
        let mut out = phys[p]
            .take()
            .unwrap_or_else(|| memory.take(s.buffers[p].dtype, s.buffers[p].len));
        let bufs: Vec<&HostBuffer> = s
            .slots
            .iter()
            .map(|src| match src {
                SlotSource::Input(b) => b.host(),
                SlotSource::Computed { phys: q } => phys[*q].as_ref().unwrap_or(&EMPTY),
            })
            .collect();
        let result = run_kernel(&k.op, &k.shape, &bufs, &mut out, par);
        phys[p] = Some(out);
        result?;
    }
    let outputs = s.collect_outputs(|p| Buffer::Host(phys[p].take().expect("outputs are written"), Some(memory)));
    // Temporaries go back to the pool for the next realize.
    phys.into_iter().flatten().for_each(|b| memory.give(b));
    Ok(outputs)
}

fn run_kernel(
    op: &KernelOp,
    shape: &[usize],
    bufs: &[&HostBuffer],
    out: &mut HostBuffer,
    par: &dyn Parallel,
) -> Result<()> {
    match op {
        KernelOp::Elementwise(expr) => {
            if padsum::run(expr, bufs, out, par) || jit::run(expr, bufs, out, par) {
                return Ok(());
            }
            let program = eval::Program::compile(expr);
            let n = out.len();
            crate::with_host!(out, o => {
                let body = |ci: usize, dst: &mut [_]| {
                    let len = dst.len();
                    Store::store(dst, program.run(bufs, ci * CHUNK, len))
                };
                let par: &dyn Parallel = if n <= 4 * CHUNK { &Serial } else { par };
                par_chunks_mut(par, o, CHUNK, &body);
            });
        }
        KernelOp::Reduce { op, expr, n_out, n_red } => {
            reduce::reduce(*op, &eval::Program::compile(expr), *n_out, *n_red, bufs, out, par)
        }
        KernelOp::ArgReduce { src, axis, max } => {
            let HostBuffer::I64(o) = out else {
                unreachable!("arg-reductions write i64")
            };
            misc::argreduce(bufs[src.slot], &src.view, *axis, *max, o)
        }
        KernelOp::MatMul { a, b } => matmul::matmul(bufs[a.slot], &a.view, bufs[b.slot], &b.view, shape, out, par),
        KernelOp::Pad { src, pads, value } => misc::pad(bufs[src.slot], &src.view, pads, *value, out),
        KernelOp::Cat { srcs, axis } => {
            let srcs: Vec<_> = srcs.iter().map(|s| (bufs[s.slot], &s.view)).collect();
            misc::cat(&srcs, *axis, shape, out)
        }
        KernelOp::Gather { src, index, axis } => {
            let HostBuffer::I64(idx) = bufs[index.slot] else {
                unreachable!("indices are i64")
            };
            misc::gather(bufs[src.slot], &src.view, idx, &index.view, *axis, out)?
        }
        KernelOp::Scatter {
            src,
            index,
            values,
            axis,
            add,
        } => {
            let HostBuffer::I64(idx) = bufs[index.slot] else {
                unreachable!("indices are i64")
            };
            misc::scatter(
                bufs[src.slot],
                &src.view,
                idx,
                &index.view,
                bufs[values.slot],
                &values.view,
                *axis,
                *add,
                out,
            )?
        }
        KernelOp::Argsort { src, axis, descending } => {
            let HostBuffer::I64(o) = out else {
                unreachable!("argsort writes i64")
            };
            misc::argsort(bufs[src.slot], &src.view, *axis, *descending, o)
        }
        KernelOp::Cumsum { src, axis } => misc::cumsum(bufs[src.slot], &src.view, *axis, out),
    }
    Ok(())
}
