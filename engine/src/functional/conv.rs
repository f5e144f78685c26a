//! Convolution and pooling, composed from primitives: padding, a sliding
//! window view (strides only, no copy), then a matmul or a reduction.
//! Convolution is im2col + GEMM; pooling reduces the window view directly.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::ViewOp;
use crate::shape::Pair;
use crate::tensor::{or_panic, panicking, Tensor};

/// Output size of a sliding window.
fn out_size(op: &'static str, input: usize, kernel: usize, stride: usize, pad: usize, dil: usize) -> Result<usize> {
    let span = dil * (kernel.max(1) - 1) + 1;
    if stride == 0 || dil == 0 {
        return Err(Error::arg(op, "stride and dilation must be positive"));
    }
    if input + 2 * pad < span {
        return Err(Error::arg(
            op,
            format!(
                "the window ({span}) is larger than the padded input ({})",
                input + 2 * pad
            ),
        ));
    }
    Ok((input + 2 * pad - span) / stride + 1)
}

impl Tensor {
    fn expect_rank(&self, op: &'static str, rank: usize, what: &str) -> Result<()> {
        if self.rank() != rank {
            return Err(Error::arg(
                op,
                format!("expects {what} (rank {rank}), got shape {:?}", self.shape()),
            ));
        }
        Ok(())
    }

    /// `[N, C, H, W]` padded (already contiguous-or-lazy) seen as sliding windows
    /// `[N, C, OH, OW, KH, KW]`: a pure strided view.
    fn windows(&self, k: Pair, stride: Pair, dil: Pair, out: Pair) -> Result<Tensor> {
        let [n, c, h, w] = [self.shape()[0], self.shape()[1], self.shape()[2], self.shape()[3]];
        let _ = n;
        let (hw, w_) = ((h * w) as isize, w as isize);
        let strides = vec![
            c as isize * hw,
            hw,
            stride.0 as isize * w_,
            stride.1 as isize,
            dil.0 as isize * w_,
            dil.1 as isize,
        ];
        self.view_op(ViewOp::AsStrided {
            shape: vec![self.shape()[0], c, out.0, out.1, k.0, k.1],
            strides,
            offset: 0,
        })
    }

    /// Non-overlapping windows (stride = kernel) `[N, C, OH, KH, OW, KW]` as a reshape of
    /// the input (cropped to whole tiles): their gradient is the inverse view, with no
    /// scatter and no reordering copy.
    fn tiles(&self, k: Pair, out: Pair) -> Result<Tensor> {
        let [n, c] = [self.shape()[0], self.shape()[1]];
        // One slice for both dims, so the gradient is one pad (two would need a kernel
        // between them: a pad cannot read through another).
        let spec = vec![(0, 1, n), (0, 1, c), (0, 1, out.0 * k.0), (0, 1, out.1 * k.1)];
        let cropped = if self.shape()[2..] == [out.0 * k.0, out.1 * k.1] {
            self.clone()
        } else {
            self.view_op(ViewOp::Slice(spec))?
        };
        cropped.try_reshape([n, c, out.0, k.0, out.1, k.1])
    }

    /// 2-D convolution, PyTorch semantics: input `[N, C, H, W]`, weight `[O, C/groups, KH, KW]`.
    pub fn try_conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: impl Into<Pair>,
        padding: impl Into<Pair>,
        dilation: impl Into<Pair>,
        groups: usize,
    ) -> Result<Tensor> {
        let (stride, pad, dil) = (stride.into(), padding.into(), dilation.into());
        self.expect_rank("conv2d", 4, "input [N, C, H, W]")?;
        weight.expect_rank("conv2d", 4, "weight [O, C/groups, KH, KW]")?;
        let [n, c, h, w] = [self.shape()[0], self.shape()[1], self.shape()[2], self.shape()[3]];
        let [o, cg, kh, kw] = [
            weight.shape()[0],
            weight.shape()[1],
            weight.shape()[2],
            weight.shape()[3],
        ];
        if groups == 0 || c % groups != 0 || o % groups != 0 || cg * groups != c {
            return Err(Error::shapes(
                "conv2d",
                self.shape(),
                weight.shape(),
                format!("input channels {c} and weight [{o}, {cg}, ..] do not fit groups = {groups}"),
            ));
        }
        let oh = out_size("conv2d", h, kh, stride.0, pad.0, dil.0)?;
        let ow = out_size("conv2d", w, kw, stride.1, pad.1, dil.1)?;
        let dtype = DType::promote(self.dtype(), weight.dtype());
        let x = self
            .try_to_dtype(dtype)?
            .try_pad(&[(pad.0, pad.0), (pad.1, pad.1)], 0.0)?;
        let g = groups;
        let og = o / g;
        let kdim = cg * kh * kw;
        // Windows as [G, Cg, KH, KW, N, OH, OW]: the reshape below is the im2col copy, with
        // the batch folded into the columns, so each group is one large matmul (and the
        // weight's gradient one matmul over the whole batch, no sum of per-image products).
        let win = x.windows(Pair(kh, kw), stride, dil, Pair(oh, ow))?; // [N, C, OH, OW, KH, KW]
        let cols = win
            .try_reshape([n, g, cg, oh, ow, kh, kw])?
            .try_permute([1, 2, 5, 6, 0, 3, 4])?
            .try_reshape([g, kdim, n * oh * ow])?;
        let wm = weight.try_to_dtype(dtype)?.try_reshape([g, og, kdim])?;
        // [G, Og, N*OH*OW] read as [N, O, OH, OW]: a view, the consumer reads it strided.
        let mut out = wm
            .try_matmul(&cols)?
            .try_reshape([g, og, n, oh, ow])?
            .try_permute([2, 0, 1, 3, 4])?
            .try_reshape([n, o, oh, ow])?;
        if let Some(b) = bias {
            if b.shape() != [o] {
                return Err(Error::shapes(
                    "conv2d",
                    &[o],
                    b.shape(),
                    "bias must have one value per output channel",
                ));
            }
            out = out.try_add(&b.try_reshape([1, o, 1, 1])?)?;
        }
        Ok(out)
    }

    /// 1-D convolution: input `[N, C, L]`, weight `[O, C/groups, K]`.
    pub fn try_conv1d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> Result<Tensor> {
        self.expect_rank("conv1d", 3, "input [N, C, L]")?;
        weight.expect_rank("conv1d", 3, "weight [O, C/groups, K]")?;
        let x = self.try_unsqueeze(2)?;
        let w = weight.try_unsqueeze(2)?;
        x.try_conv2d(&w, bias, Pair(1, stride), Pair(0, padding), Pair(1, dilation), groups)?
            .try_squeeze(2)
    }

    /// Transposed 2-D convolution (the gradient of conv2d): weight `[C_in, C_out/groups, KH, KW]`.
    #[allow(clippy::too_many_arguments)]
    pub fn try_conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: impl Into<Pair>,
        padding: impl Into<Pair>,
        output_padding: impl Into<Pair>,
        dilation: impl Into<Pair>,
        groups: usize,
    ) -> Result<Tensor> {
        let (stride, pad, opad, dil) = (stride.into(), padding.into(), output_padding.into(), dilation.into());
        self.expect_rank("conv_transpose2d", 4, "input [N, C, H, W]")?;
        weight.expect_rank("conv_transpose2d", 4, "weight [C_in, C_out/groups, KH, KW]")?;
        let [n, c, h, w] = [self.shape()[0], self.shape()[1], self.shape()[2], self.shape()[3]];
        let [ci, cog, kh, kw] = [
            weight.shape()[0],
            weight.shape()[1],
            weight.shape()[2],
            weight.shape()[3],
        ];
        if groups == 0 || ci != c || c % groups != 0 || stride.0 == 0 || stride.1 == 0 {
            return Err(Error::shapes(
                "conv_transpose2d",
                self.shape(),
                weight.shape(),
                format!("input channels {c} must equal weight dim 0 and divide by groups = {groups}; stride > 0"),
            ));
        }
        if opad.0 >= stride.0.max(dil.0) || opad.1 >= stride.1.max(dil.1) {
            return Err(Error::arg(
                "conv_transpose2d",
                "output_padding must be smaller than stride or dilation",
            ));
        }
        let g = groups;
        // Spread the input: stride - 1 zeros between neighbours.
        let x = self
            .try_reshape([n, c, h, 1, w, 1])?
            .try_pad(&[(0, stride.0 - 1), (0, 0), (0, stride.1 - 1)], 0.0)?
            .try_reshape([n, c, h * stride.0, w * stride.1])?
            .try_narrow(2, 0, (h - 1) * stride.0 + 1)?
            .try_narrow(3, 0, (w - 1) * stride.1 + 1)?;
        // Full padding minus `padding`; negative amounts crop instead.
        let edge = |k: usize, d: usize, p: usize, extra: usize| (d * (k - 1)) as isize - p as isize + extra as isize;
        let (top, bottom) = (edge(kh, dil.0, pad.0, 0), edge(kh, dil.0, pad.0, opad.0));
        let (left, right) = (edge(kw, dil.1, pad.1, 0), edge(kw, dil.1, pad.1, opad.1));
        let x = x.try_pad(
            &[
                (top.max(0) as usize, bottom.max(0) as usize),
                (left.max(0) as usize, right.max(0) as usize),
            ],
            0.0,
        )?;
        let crop = |t: Tensor, dim: isize, before: isize, after: isize| -> Result<Tensor> {
            let (b, a) = ((-before).max(0) as usize, (-after).max(0) as usize);
            let len = t.shape()[dim as usize]
                .checked_sub(a + b)
                .ok_or_else(|| Error::arg("conv_transpose2d", "padding is larger than the output"))?;
            t.try_narrow(dim, b, len)
        };
        let x = crop(crop(x, 2, top, bottom)?, 3, left, right)?;
        // Weight [C_in, Cog, KH, KW] -> [C_out, C_in/g, KH, KW], flipped in space.
        let wt = weight
            .try_reshape([g, ci / g, cog, kh, kw])?
            .try_permute([0, 2, 1, 3, 4])?
            .try_reshape([g * cog, ci / g, kh, kw])?
            .try_flip([2, 3])?;
        x.try_conv2d(&wt, bias, 1, 0, dil, g)
    }

    fn pool(&self, op: &'static str, kernel: Pair, stride: Pair, padding: Pair, max: bool) -> Result<Tensor> {
        self.expect_rank(op, 4, "input [N, C, H, W]")?;
        let [h, w] = [self.shape()[2], self.shape()[3]];
        if padding.0 * 2 > kernel.0 || padding.1 * 2 > kernel.1 {
            return Err(Error::arg(op, "padding must be at most half the kernel size"));
        }
        let oh = out_size(op, h, kernel.0, stride.0, padding.0, 1)?;
        let ow = out_size(op, w, kernel.1, stride.1, padding.1, 1)?;
        let x = if max { self.clone() } else { self.float()? };
        let fill = if max { f64::NEG_INFINITY } else { 0.0 };
        let x = x.try_pad(&[(padding.0, padding.0), (padding.1, padding.1)], fill)?;
        // Non-overlapping tiles come as [N, C, OH, KH, OW, KW], the input's own memory
        // order (so the gradient's mask and product are written in place of the input),
        // other windows as [N, C, OH, OW, KH, KW].
        let (win, axes) = if (stride.0, stride.1) == (kernel.0, kernel.1) {
            (x.tiles(kernel, Pair(oh, ow))?, [3, 5])
        } else {
            (x.windows(kernel, stride, Pair(1, 1), Pair(oh, ow))?, [4, 5])
        };
        if max {
            win.try_max(axes, false)
        } else {
            win.try_mean(axes, false)
        }
    }

    /// Max pooling over `kernel` windows (padding counts as -inf).
    pub fn try_max_pool2d(
        &self,
        kernel: impl Into<Pair>,
        stride: impl Into<Pair>,
        padding: impl Into<Pair>,
    ) -> Result<Tensor> {
        self.pool("max_pool2d", kernel.into(), stride.into(), padding.into(), true)
    }

    /// Average pooling (padding counts as zeros in the average, PyTorch's default).
    pub fn try_avg_pool2d(
        &self,
        kernel: impl Into<Pair>,
        stride: impl Into<Pair>,
        padding: impl Into<Pair>,
    ) -> Result<Tensor> {
        self.pool("avg_pool2d", kernel.into(), stride.into(), padding.into(), false)
    }

    /// Average pooling to a fixed output size, with PyTorch's bins.
    pub fn try_adaptive_avg_pool2d(&self, output_size: impl Into<Pair>) -> Result<Tensor> {
        let out = output_size.into();
        self.expect_rank("adaptive_avg_pool2d", 4, "input [N, C, H, W]")?;
        if out.0 == 0 || out.1 == 0 {
            return Err(Error::arg("adaptive_avg_pool2d", "output size must be positive"));
        }
        let x = self.float()?;
        let [h, w] = [x.shape()[2], x.shape()[3]];
        // Averaging as two matmuls with bin matrices: exact for uneven bins too.
        let bins = |n: usize, m: usize| -> Tensor {
            let mut p = vec![0.0f64; m * n];
            for i in 0..m {
                let (s, e) = (i * n / m, ((i + 1) * n).div_ceil(m));
                for j in s..e {
                    p[i * n + j] = 1.0 / (e - s) as f64;
                }
            }
            or_panic(
                Tensor::from_vec(p, [m, n])
                    .try_to_dtype(x.dtype())
                    .and_then(|b| b.try_to_device(x.device())),
            )
        };
        let rows = bins(h, out.0);
        let cols = bins(w, out.1).try_t()?;
        rows.try_matmul(&x)?.try_matmul(&cols)
    }
}

panicking! {
    conv2d => try_conv2d(weight: &Tensor, bias: Option<&Tensor>, stride: impl Into<Pair>, padding: impl Into<Pair>, dilation: impl Into<Pair>, groups: usize) -> Tensor;
    conv1d => try_conv1d(weight: &Tensor, bias: Option<&Tensor>, stride: usize, padding: usize, dilation: usize, groups: usize) -> Tensor;
    conv_transpose2d => try_conv_transpose2d(weight: &Tensor, bias: Option<&Tensor>, stride: impl Into<Pair>, padding: impl Into<Pair>, output_padding: impl Into<Pair>, dilation: impl Into<Pair>, groups: usize) -> Tensor;
    max_pool2d => try_max_pool2d(kernel: impl Into<Pair>, stride: impl Into<Pair>, padding: impl Into<Pair>) -> Tensor;
    avg_pool2d => try_avg_pool2d(kernel: impl Into<Pair>, stride: impl Into<Pair>, padding: impl Into<Pair>) -> Tensor;
    adaptive_avg_pool2d => try_adaptive_avg_pool2d(output_size: impl Into<Pair>) -> Tensor;
}
