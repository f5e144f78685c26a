//! The GPU backend (wgpu): runs a [`Schedule`] as generated WGSL kernels, all of a realize
//! in one compute pass, one command encoder and one queue submit. Intermediate results
//! stay in GPU memory; host data moves only on `to_device`, `to_vec` and display.
//!
//! (The folder is `gpu`, not `wgpu`, so the crate `wgpu` is not shadowed inside it.)

mod context;
mod kernels;
mod wgsl;

pub use context::{check_dtype, AdapterSummary, Gpu, GpuStats, Gpus};

use crate::error::{Error, Result};
use crate::schedule::{Schedule, Slot, SlotSource};
use crate::storage::{Buffer, GpuBuffer};
use std::collections::HashMap;
use std::sync::Arc;

/// Where a slot's data is during a realize.
enum Held<'a> {
    Existing(&'a GpuBuffer),
    Uploaded(GpuBuffer),
    Computed(usize),
}

/// Runs every kernel of `s` on `gpu`; returns the buffers of the schedule's outputs by slot.
pub fn execute(s: &Schedule, gpu: &Gpu) -> Result<HashMap<Slot, Arc<Buffer>>> {
    gpu.check_alive("realize")?;
    let mut phys: Vec<Option<GpuBuffer>> = Vec::with_capacity(s.buffers.len());
    for b in &s.buffers {
        phys.push(Some(gpu.alloc(b.dtype, b.len, "realize")?));
    }
    let mut held = Vec::with_capacity(s.slots.len());
    for src in &s.slots {
        held.push(match src {
            SlotSource::Input(b) => match &**b {
                Buffer::Gpu(g) if g.device == gpu.index => Held::Existing(g),
                Buffer::Gpu(g) => {
                    return Err(Error::arg(
                        "realize",
                        format!(
                            "a tensor on gpu:{} was read on gpu:{}: move it with .to_device(..)",
                            g.device, gpu.index
                        ),
                    ))
                }
                // Host constants (one element: scalar operands) travel with the launch.
                Buffer::Host(h, _) => Held::Uploaded(gpu.upload(h)?),
            },
            SlotSource::Computed { phys } => Held::Computed(*phys),
        });
    }
    let raw = |slot: Slot| -> &wgpu::Buffer {
        match &held[slot] {
            Held::Existing(g) => &g.raw,
            Held::Uploaded(g) => &g.raw,
            Held::Computed(p) => &phys[*p].as_ref().expect("allocated above").raw,
        }
    };
    let len = |slot: Slot| -> usize {
        match &held[slot] {
            Held::Existing(g) => g.len,
            Held::Uploaded(g) => g.len,
            Held::Computed(p) => s.buffers[*p].len,
        }
    };
    let dtype_of = |slot: Slot| -> crate::dtype::DType {
        match &held[slot] {
            Held::Existing(g) => g.dtype,
            Held::Uploaded(g) => g.dtype,
            Held::Computed(p) => s.buffers[*p].dtype,
        }
    };
    let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
    // Schedules from one cached plan share their compiled launches: a training loop's later
    // steps skip the span checks and lookups (their views and buffer sizes are the plan's).
    let memo_key = u64::from(gpu.index) << 1 | u64::from(gpu.is_checked());
    let compiled = s
        .memo
        .get_or_try_insert(memo_key, || compile(s, gpu, &len, &dtype_of))?;
    let mut work = Vec::with_capacity(s.kernels.len());
    let mut scratches = Vec::new();
    for (k, plan) in s.kernels.iter().zip(compiled.iter()) {
        let Some(plan) = plan else { continue };
        // Partial results of a split kernel: from the pool, back to it after the submit
        // (later work on the queue runs after this realize's, so reuse is safe).
        let scratch = (plan.scratch > 0)
            .then(|| gpu.alloc(crate::dtype::DType::F32, plan.scratch, "realize"))
            .transpose()?;
        let bind = |slot: Slot| match (slot, &scratch) {
            (kernels::SCRATCH, Some(sc)) => &sc.raw,
            (wgsl::ERRORS, _) => &gpu.errors,
            _ => raw(slot),
        };
        for launch in &plan.launches {
            let out = if launch.writes_scratch { kernels::SCRATCH } else { k.out };
            let buffers: Vec<&wgpu::Buffer> = std::iter::once(out)
                .chain(launch.reads.iter().copied())
                .map(bind)
                .collect();
            let group = gpu.bind_group(&launch.pipeline, &buffers);
            if gpu.profiling {
                let what = format!(
                    "{} {:?}{}",
                    k.describe(),
                    k.shape,
                    if plan.launches.len() > 1 { " (part)" } else { "" }
                );
                let t0 = std::time::Instant::now();
                let mut encoder = gpu.device.create_command_encoder(&Default::default());
                {
                    let mut pass = encoder.begin_compute_pass(&Default::default());
                    pass.set_pipeline(&launch.pipeline);
                    pass.set_bind_group(0, &group, &[]);
                    let [x, y, z] = launch.groups;
                    pass.dispatch_workgroups(x, y, z);
                }
                gpu.queue.submit([encoder.finish()]);
                gpu.wait()?;
                gpu.record(what, t0.elapsed().as_secs_f64());
                continue;
            }
            work.push((launch.pipeline.clone(), group, launch.groups));
        }
        scratches.extend(scratch);
    }
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        for (pipeline, group, [x, y, z]) in &work {
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(*x, *y, *z);
        }
    }
    gpu.queue.submit([encoder.finish()]);
    gpu.count_submit(work.len());
    if let Some(e) = pollster::block_on(scope.pop()) {
        let kernels: Vec<String> = s
            .kernels
            .iter()
            .take(8)
            .map(|k| format!("{} {:?}", k.describe(), k.shape))
            .collect();
        return Err(Error::arg(
            "realize",
            format!(
                "the GPU rejected the work of kernels [{}{}]: {e}",
                kernels.join(", "),
                if s.kernels.len() > 8 { ", ..." } else { "" }
            ),
        ));
    }
    Ok(s.collect_outputs(|p| Buffer::Gpu(phys[p].take().expect("outputs are written"))))
}

/// Each kernel's compiled launches (`None`: an empty kernel, nothing to run), after checking
/// that every view it reads lies inside its buffer: the kernels compile without bounds checks.
/// Kernels new to this GPU have their WGSL written first and compiled together, in parallel.
fn compile(
    s: &Schedule,
    gpu: &Gpu,
    len: &dyn Fn(Slot) -> usize,
    dtype_of: &dyn Fn(Slot) -> crate::dtype::DType,
) -> Result<Vec<Option<Arc<context::CompiledPlan>>>> {
    let mut reads = Vec::with_capacity(s.kernels.len());
    let mut fresh = Vec::with_capacity(s.kernels.len());
    for k in s.kernels.iter() {
        if k.shape.contains(&0) {
            reads.push(None);
            fresh.push(None);
            continue;
        }
        let views = kernels::views(&k.op);
        for (slot, view) in &views {
            let (lo, hi) = view.span().unwrap_or((0, 0));
            if lo < 0 || hi as usize > len(*slot) {
                return Err(Error::arg(
                    "realize",
                    format!(
                        "internal: a view reads elements {lo}..{hi} of a buffer of {}",
                        len(*slot)
                    ),
                ));
            }
        }
        let dtypes: Vec<_> = views.iter().map(|(s, _)| dtype_of(*s)).collect();
        fresh.push(match gpu.is_compiled(k, &dtypes) {
            true => None,
            false => Some(kernels::plan(k, dtype_of, gpu.caps())?),
        });
        reads.push(Some(dtypes));
    }
    let sources: Vec<&str> = fresh
        .iter()
        .flatten()
        .flat_map(|p| p.launches.iter().map(|l| l.source.as_str()))
        .collect();
    gpu.precompile(&sources);
    let mut out = Vec::with_capacity(s.kernels.len());
    for ((k, dtypes), plan) in s.kernels.iter().zip(reads).zip(fresh) {
        out.push(match dtypes {
            None => None,
            Some(dtypes) => Some(gpu.compiled(k, dtypes, || match plan {
                Some(plan) => Ok(plan),
                None => kernels::plan(k, dtype_of, gpu.caps()),
            })?),
        });
    }
    Ok(out)
}
