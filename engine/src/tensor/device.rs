//! Moving tensors between devices: the only place data crosses between host and GPU
//! memory (besides reading values out with `to_vec`, `item` and display).

use super::{or_panic, Tensor};
use crate::error::Result;
use crate::graph::{Device, Node};
use crate::ops::View;
use crate::runtime::runtime;
use crate::storage::{Buffer, HostBuffer, HostElement};
use std::sync::Arc;

impl Tensor {
    /// The same values on `device` (a realized copy; the handle itself when already there).
    /// A parameter (a leaf that requires grad) stays a parameter on the new device, as
    /// `module.to(device)` expects.
    pub fn try_to_device(&self, device: Device) -> Result<Tensor> {
        if self.device() == device {
            return Ok(self.clone());
        }
        let host = self.host_data()?;
        let moved = match device {
            Device::Cpu => Tensor::host_leaf(host, self.shape()),
            Device::Gpu(i) => {
                let gpu = runtime().gpu(i)?;
                let buf = Arc::new(Buffer::Gpu(gpu.upload(&host)?));
                Tensor(Node::leaf(buf, View::contiguous(self.shape()), self.dtype()))
            }
        };
        if self.0.kind == crate::ops::OpKind::Leaf && self.0.requires_grad() {
            moved.0.set_requires_grad(true);
        }
        Ok(moved)
    }

    /// Moves a realized leaf (a parameter) to `device` in place: every handle of it sees the
    /// data there. Other tensors cannot move in place: use [`Tensor::try_to_device`].
    pub fn try_move_to(&self, device: Device) -> Result<()> {
        if self.device() == device {
            return Ok(());
        }
        let moved = self.try_to_device(device)?;
        let r = moved.0.realized().expect("moved data is realized");
        if !self.0.replace_leaf_data(r) {
            return Err(crate::error::Error::arg(
                "to_device",
                "only a leaf tensor (a parameter or loaded data) moves in place; use `x.to_device(d)` for a moved copy",
            ));
        }
        Ok(())
    }

    /// Like [`Tensor::try_to_device`], but panics with the error message.
    #[track_caller]
    pub fn to_device(&self, device: Device) -> Tensor {
        or_panic(self.try_to_device(device))
    }

    /// The elements, row-major, in a host buffer of the tensor's dtype (realizing first; a
    /// GPU tensor is made contiguous on the GPU, then read back in one copy).
    pub(crate) fn host_data(&self) -> Result<HostBuffer> {
        let t = self.try_contiguous()?;
        t.try_realize()?;
        let r = t.0.realized().expect("just realized");
        match &*r.buffer {
            Buffer::Gpu(g) => {
                let all = match &g.host {
                    Some(h) => h.clone(),
                    None => runtime().gpu(g.device)?.download(g)?,
                };
                if r.view.offset == 0 && all.len() == r.view.numel() {
                    return Ok(all);
                }
                Ok(gather(&all, &r.view))
            }
            Buffer::Host(h, _) => {
                if r.view.offset == 0 && h.len() == r.view.numel() && r.view.is_contiguous() {
                    return Ok(h.clone());
                }
                Ok(gather(h, &r.view))
            }
        }
    }

    /// A realized tensor over a host buffer, on the CPU whatever the default device.
    pub(crate) fn host_leaf(buf: HostBuffer, shape: &[usize]) -> Tensor {
        let dtype = buf.dtype();
        Tensor(Node::leaf(
            Arc::new(Buffer::Host(buf, Some(runtime().host_pool()))),
            View::contiguous(shape),
            dtype,
        ))
    }
}

/// The elements `view` selects from `h`, row-major.
fn gather(h: &HostBuffer, view: &View) -> HostBuffer {
    fn wrap<T: HostElement>(v: Vec<T>) -> HostBuffer {
        T::wrap(v)
    }
    let view = crate::backend::cpu::simplify(view);
    crate::with_host!(h, v => {
        let mut out = Vec::with_capacity(view.numel());
        crate::backend::cpu::gather_range(v, &view, 0, view.numel(), |x| x, &mut out);
        wrap(out)
    })
}
