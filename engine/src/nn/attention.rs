//! Multi-head attention (`nn.MultiheadAttention`, batch-first).

use super::{init, Module};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Multi-head scaled dot-product attention over batch-first `[N, L, E]` inputs
/// (`nn.MultiheadAttention(E, H, batch_first=True)`), with PyTorch's parameter names
/// (`in_proj_weight`, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`) and init.
/// [`MultiHeadAttention::try_attend`] also returns the attention weights (averaged over heads).
pub struct MultiHeadAttention {
    /// `[3E, E]`: the query, key and value projections stacked.
    pub in_proj_weight: Tensor,
    /// `[3E]`.
    pub in_proj_bias: Tensor,
    /// `[E, E]`.
    pub out_proj_weight: Tensor,
    /// `[E]`.
    pub out_proj_bias: Tensor,
    heads: usize,
    training: bool,
}

impl MultiHeadAttention {
    /// Attention with `embed_dim` split over `num_heads` heads (which must divide it).
    pub fn new(embed_dim: usize, num_heads: usize) -> MultiHeadAttention {
        assert!(
            num_heads > 0 && embed_dim.is_multiple_of(num_heads),
            "MultiHeadAttention: num_heads ({num_heads}) must divide embed_dim ({embed_dim})"
        );
        let e = embed_dim;
        // PyTorch's order of draws: the output projection is a Linear made (weight and
        // bias drawn) before the input projection's Xavier init; both biases end at zero.
        let (out_proj_weight, _) = init::default_layer(&[e, e], true);
        MultiHeadAttention {
            in_proj_weight: init::xavier_uniform(&[3 * e, e], 1.0).requires_grad(),
            in_proj_bias: init::zeros(&[3 * e]).requires_grad(),
            out_proj_weight: out_proj_weight.requires_grad(),
            out_proj_bias: init::zeros(&[e]).requires_grad(),
            heads: num_heads,
            training: true,
        }
    }

    fn embed_dim(&self) -> usize {
        self.out_proj_weight.shape()[0]
    }

    fn project(&self, x: &Tensor, part: usize) -> Result<Tensor> {
        let e = self.embed_dim();
        let w = self.in_proj_weight.try_narrow(0, part * e, e)?;
        let b = self.in_proj_bias.try_narrow(0, part * e, e)?;
        let (n, l) = (x.shape()[0], x.shape()[1]);
        // [N, L, E] -> [N, H, L, D]
        x.try_matmul(&w.try_t()?)?
            .try_add(&b)?
            .try_reshape([n, l, self.heads, e / self.heads])?
            .try_permute([0, 2, 1, 3])
    }

    /// Attends from `query` `[N, L, E]` to `key`/`value` `[N, S, E]`. `mask` (bool, `[L, S]`
    /// or `[N, L, S]`) is true where attention is *not* allowed (PyTorch's `attn_mask`).
    /// Returns the output `[N, L, E]` and the attention weights `[N, L, S]` averaged over heads.
    pub fn try_attend(
        &self,
        query: &Tensor,
        key: &Tensor,
        value: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<(Tensor, Tensor)> {
        let e = self.embed_dim();
        for (what, t) in [("query", query), ("key", key), ("value", value)] {
            if t.rank() != 3 || t.shape()[2] != e {
                return Err(Error::shapes(
                    "nn::MultiHeadAttention",
                    t.shape(),
                    &[e],
                    format!(
                        "MultiHeadAttention(embed_dim {e}, {} heads) got {what} {:?}: expects [N, len, {e}]",
                        self.heads,
                        t.shape()
                    ),
                ));
            }
        }
        if key.shape()[..2] != value.shape()[..2] || key.shape()[0] != query.shape()[0] {
            return Err(Error::shapes(
                "nn::MultiHeadAttention",
                key.shape(),
                value.shape(),
                format!(
                    "query {:?}, key {:?} and value {:?} must share the batch, key and value the length",
                    query.shape(),
                    key.shape(),
                    value.shape()
                ),
            ));
        }
        let (n, l) = (query.shape()[0], query.shape()[1]);
        let d = e / self.heads;
        let q = self.project(query, 0)?;
        let k = self.project(key, 1)?;
        let v = self.project(value, 2)?;
        let mut scores = q.try_matmul(&k.try_transpose(-2, -1)?)? * (1.0 / (d as f64).sqrt());
        if let Some(m) = mask {
            let m = match m.rank() {
                2 => m.clone(),
                3 => m.try_unsqueeze(1)?,
                _ => {
                    return Err(Error::arg(
                        "nn::MultiHeadAttention",
                        format!("mask must be [L, S] or [N, L, S], got {:?}", m.shape()),
                    ))
                }
            };
            scores = scores.try_masked_fill(&m, f64::NEG_INFINITY)?;
        }
        let attn = scores.try_softmax(-1)?;
        let out = attn
            .try_matmul(&v)?
            .try_permute([0, 2, 1, 3])?
            .try_reshape([n, l, e])?
            .try_matmul(&self.out_proj_weight.try_t()?)?
            .try_add(&self.out_proj_bias)?;
        Ok((out, attn.try_mean(1, false)?))
    }
}

impl Module for MultiHeadAttention {
    /// Self-attention of `x` `[N, L, E]` with no mask.
    fn try_forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.try_attend(x, x, x, None)?.0)
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        vec![
            ("in_proj_weight".to_string(), self.in_proj_weight.clone()),
            ("in_proj_bias".to_string(), self.in_proj_bias.clone()),
            ("out_proj.weight".to_string(), self.out_proj_weight.clone()),
            ("out_proj.bias".to_string(), self.out_proj_bias.clone()),
        ]
    }
    fn train(&mut self, mode: bool) {
        self.training = mode;
    }
    fn is_training(&self) -> bool {
        self.training
    }
}
