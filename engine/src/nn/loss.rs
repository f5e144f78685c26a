//! Loss functions, mean reduction (PyTorch's defaults).

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Checks integer class targets `[N]` against `[N, C]` inputs on the host.
fn check_targets(op: &'static str, input: &Tensor, targets: &Tensor) -> Result<Vec<i64>> {
    if input.rank() != 2 {
        return Err(Error::arg(
            op,
            format!("expects [N, C] inputs, got shape {:?}", input.shape()),
        ));
    }
    if targets.dtype().is_float() {
        return Err(Error::UnsupportedDType {
            op,
            dtype: targets.dtype(),
            reason: "targets must be integer class indices (I64)".to_string(),
        });
    }
    if targets.shape() != [input.shape()[0]] {
        return Err(Error::shapes(
            op,
            input.shape(),
            targets.shape(),
            format!(
                "inputs {:?} need targets of shape [{}]",
                input.shape(),
                input.shape()[0]
            ),
        ));
    }
    let classes = input.shape()[1];
    let labels: Vec<i64> = targets.try_to_vec()?;
    if let Some((i, &bad)) = labels.iter().enumerate().find(|(_, &l)| l < 0 || l as usize >= classes) {
        return Err(Error::arg(
            op,
            format!("target {i} is label {bad}, out of range for {classes} classes (expects 0..{classes})"),
        ));
    }
    Ok(labels)
}

/// Mean negative log-likelihood of integer `targets` `[N]` under `log_probs` `[N, C]`.
pub fn nll_loss(log_probs: &Tensor, targets: &Tensor) -> Result<Tensor> {
    check_targets("nll_loss", log_probs, targets)?;
    let idx = targets.try_to_dtype(crate::dtype::DType::I64)?.try_unsqueeze(1)?;
    log_probs.try_gather(1, &idx)?.try_neg()?.try_mean_all()
}

/// Cross-entropy of `logits` `[N, C]` and integer `targets` `[N]` (`F.cross_entropy`).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    cross_entropy_with(logits, targets, 0.0)
}

/// Cross-entropy with label smoothing `ε`: `(1-ε)·nll + ε·mean_c(-log_softmax)`, averaged
/// over the batch (PyTorch's formula).
pub fn cross_entropy_with(logits: &Tensor, targets: &Tensor, label_smoothing: f64) -> Result<Tensor> {
    if !(0.0..=1.0).contains(&label_smoothing) {
        return Err(Error::arg(
            "cross_entropy",
            format!("label_smoothing must be in [0, 1], got {label_smoothing}"),
        ));
    }
    check_targets("cross_entropy", logits, targets)?;
    let lsm = logits.try_log_softmax(-1)?;
    let idx = targets.try_to_dtype(crate::dtype::DType::I64)?.try_unsqueeze(1)?;
    let nll = lsm.try_gather(1, &idx)?.try_neg()?.try_mean_all()?;
    if label_smoothing == 0.0 {
        return Ok(nll);
    }
    let smooth = lsm.try_mean(-1, false)?.try_neg()?.try_mean_all()?;
    (nll * (1.0 - label_smoothing)).try_add(&(smooth * label_smoothing))
}

fn same_shape(op: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    if a.shape() != b.shape() {
        return Err(Error::shapes(
            op,
            a.shape(),
            b.shape(),
            "prediction and target must have the same shape",
        ));
    }
    Ok(())
}

/// Mean squared error `mean((pred - target)²)`.
pub fn mse(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    same_shape("mse", pred, target)?;
    let d = pred.try_sub(target)?;
    d.try_mul(&d)?.try_mean_all()
}

/// Mean absolute error `mean(|pred - target|)`.
pub fn l1(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    same_shape("l1", pred, target)?;
    pred.try_sub(target)?.try_abs()?.try_mean_all()
}

/// Binary cross-entropy from logits, in the stable form
/// `mean(max(x, 0) - x·y + log(1 + e^-|x|))` (`F.binary_cross_entropy_with_logits`).
pub fn binary_cross_entropy_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    same_shape("binary_cross_entropy_with_logits", logits, targets)?;
    let y = targets.try_to_dtype(logits.dtype())?;
    let soft = logits.try_abs()?.try_neg()?.try_exp()?.try_log1p()?;
    logits
        .try_relu()?
        .try_sub(&logits.try_mul(&y)?)?
        .try_add(&soft)?
        .try_mean_all()
}
