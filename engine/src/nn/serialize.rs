//! `save`/`load` of a module's named parameters and buffers as safetensors.

use super::Module;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use safetensors::tensor::{Dtype as StDtype, TensorView};
use safetensors::SafeTensors;
use std::path::Path;

fn st_dtype(d: DType) -> Result<StDtype> {
    Ok(match d {
        DType::F32 => StDtype::F32,
        DType::F64 => StDtype::F64,
        DType::F16 => StDtype::F16,
        DType::BF16 => StDtype::BF16,
        DType::I64 => StDtype::I64,
        DType::I32 => StDtype::I32,
        other => {
            return Err(Error::UnsupportedDType {
                op: "nn::save",
                dtype: other,
                reason: "safetensors export supports f32, f64, f16, bf16, i64 and i32".to_string(),
            })
        }
    })
}

fn bytes_of(t: &Tensor) -> Result<Vec<u8>> {
    Ok(match t.dtype() {
        DType::F32 => t.try_to_vec::<f32>()?.iter().flat_map(|v| v.to_le_bytes()).collect(),
        DType::F64 => t.try_to_vec::<f64>()?.iter().flat_map(|v| v.to_le_bytes()).collect(),
        DType::F16 => t
            .try_to_vec::<half::f16>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::BF16 => t
            .try_to_vec::<half::bf16>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::I64 => t.try_to_vec::<i64>()?.iter().flat_map(|v| v.to_le_bytes()).collect(),
        DType::I32 => t.try_to_vec::<i32>()?.iter().flat_map(|v| v.to_le_bytes()).collect(),
        other => return Err(st_dtype(other).unwrap_err()),
    })
}

fn tensor_of(name: &str, v: &TensorView<'_>) -> Result<Tensor> {
    let d = v.data();
    let shape = v.shape().to_vec();
    macro_rules! read {
        ($t:ty, $n:expr) => {
            Tensor::try_from_vec(
                d.chunks_exact($n)
                    .map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk")))
                    .collect::<Vec<$t>>(),
                shape,
            )
        };
    }
    match v.dtype() {
        StDtype::F32 => read!(f32, 4),
        StDtype::F64 => read!(f64, 8),
        StDtype::F16 => read!(half::f16, 2),
        StDtype::BF16 => read!(half::bf16, 2),
        StDtype::I64 => read!(i64, 8),
        StDtype::I32 => read!(i32, 4),
        other => Err(Error::arg(
            "nn::load",
            format!("tensor \"{name}\" has unsupported dtype {other:?}"),
        )),
    }
}

fn state(module: &dyn Module) -> Vec<(String, Tensor)> {
    let mut v = module.named_parameters();
    v.extend(module.named_buffers());
    v
}

/// Writes the module's named parameters and buffers (`"0.weight"`, `"1.running_mean"`, ...)
/// to a safetensors file, loadable by PyTorch's `safetensors.torch.load_file`.
pub fn save(module: &dyn Module, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let named = state(module);
    let mut data = Vec::with_capacity(named.len());
    for (name, t) in &named {
        data.push((name.clone(), st_dtype(t.dtype())?, t.shape().to_vec(), bytes_of(t)?));
    }
    let views = data
        .iter()
        .map(|(n, d, s, b)| {
            TensorView::new(*d, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::arg("nn::save", format!("tensor \"{n}\": {e:?}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize_to_file(views, &None, path)
        .map_err(|e| Error::arg("nn::save", format!("cannot write {}: {e:?}", path.display())))
}

/// Reads a safetensors file written by [`save`] (or by PyTorch) into the module's parameters
/// and buffers, in place (one schedule). Every tensor of the module must be in the file with
/// the same shape, and the file must hold nothing else; the errors name the tensor and the
/// shapes. Values are converted to each parameter's dtype.
pub fn load(module: &dyn Module, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes =
        std::fs::read(path).map_err(|e| Error::arg("nn::load", format!("cannot read {}: {e}", path.display())))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        Error::arg(
            "nn::load",
            format!("{} is not a safetensors file: {e:?}", path.display()),
        )
    })?;
    let named = state(module);
    let mut values = Vec::with_capacity(named.len());
    for (name, t) in &named {
        let v = st.tensor(name).map_err(|_| {
            Error::arg(
                "nn::load",
                format!(
                    "tensor \"{name}\" (shape {:?}) is missing from {}",
                    t.shape(),
                    path.display()
                ),
            )
        })?;
        if v.shape() != t.shape() {
            return Err(Error::shapes(
                "nn::load",
                v.shape(),
                t.shape(),
                format!(
                    "tensor \"{name}\" has shape {:?} in {} but {:?} in the module",
                    v.shape(),
                    path.display(),
                    t.shape()
                ),
            ));
        }
        values.push(crate::autograd::no_grad(|| {
            tensor_of(name, &v)?.try_to_dtype(t.dtype())
        })?);
    }
    let mut extra: Vec<String> = st
        .names()
        .into_iter()
        .filter(|n| !named.iter().any(|(m, _)| m == *n))
        .cloned()
        .collect();
    if !extra.is_empty() {
        extra.sort();
        return Err(Error::arg(
            "nn::load",
            format!("{} holds tensors the module does not have: {extra:?}", path.display()),
        ));
    }
    let pairs: Vec<(&Tensor, &Tensor)> = named.iter().map(|(_, t)| t).zip(values.iter()).collect();
    crate::autograd::assign_all(&pairs)
}
