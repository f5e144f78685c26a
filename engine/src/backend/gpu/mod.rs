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
    let mut work = Vec::with_capacity(s.kernels.len());
    let mut scratches = Vec::new();
    for k in &s.kernels {
        if k.shape.contains(&0) {
            continue;
        }
        // The kernels compile without bounds checks: every view must lie inside its buffer.
        for (slot, view) in kernels::views(&k.op) {
            let (lo, hi) = view.span().unwrap_or((0, 0));
            if lo < 0 || hi as usize > len(slot) {
                return Err(Error::arg(
                    "realize",
                    format!(
                        "internal: a view reads elements {lo}..{hi} of a buffer of {}",
                        len(slot)
                    ),
                ));
            }
        }
        let dtypes = kernels::views(&k.op).iter().map(|(s, _)| dtype_of(*s)).collect();
        let plan = gpu.compiled(k, dtypes, || kernels::plan(k, &dtype_of))?;
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
            let pipeline = launch.pipeline.clone();
            let out = if launch.writes_scratch { kernels::SCRATCH } else { k.out };
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: bind(out).as_entire_binding(),
            }];
            for (i, slot) in launch.reads.iter().enumerate() {
                entries.push(wgpu::BindGroupEntry {
                    binding: i as u32 + 1,
                    resource: bind(*slot).as_entire_binding(),
                });
            }
            let group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            });
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
                    pass.set_pipeline(&pipeline);
                    pass.set_bind_group(0, &group, &[]);
                    let [x, y, z] = launch.groups;
                    pass.dispatch_workgroups(x, y, z);
                }
                gpu.queue.submit([encoder.finish()]);
                gpu.wait()?;
                gpu.record(what, t0.elapsed().as_secs_f64());
                continue;
            }
            work.push((pipeline, group, launch.groups));
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
        return Err(Error::arg("realize", format!("the GPU rejected the work: {e}")));
    }
    Ok(s.collect_outputs(|p| Buffer::Gpu(phys[p].take().expect("outputs are written"))))
}
