//! Grouping float layers into firmware stages, folding affine layers into per-output constants.

use crate::error::{Error, Result};
use crate::ir::{LayerKind, Model};

/// What a stage computes before its ReLU.
#[derive(Clone, Debug, PartialEq)]
pub enum StageOp {
    /// Index of a BitLinear layer.
    Ternary(usize),
    /// Index of a full-precision Linear layer.
    Dense(usize),
    /// A standalone per-channel affine (index of the affine layer, or `None` for an identity
    /// inserted in front of a leading ReLU).
    Affine(Option<usize>),
}

/// A firmware stage: `relu?( a ⊙ op(x) + c )` with the folded per-output `a` and `c`.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub op: StageOp,
    /// Folded per-output multiplier (1 when nothing was folded).
    pub post_scale: Vec<f64>,
    /// Folded per-output shift, added after the layer's own bias has been scaled.
    pub post_shift: Vec<f64>,
    pub relu: bool,
    /// Float layer indices this stage covers.
    pub sources: Vec<usize>,
}

/// Groups `model.layers` into stages. Affine layers directly after a linear stage (before its
/// ReLU) are folded into it; elsewhere they become their own stage.
pub fn stages(model: &Model) -> Result<Vec<Stage>> {
    let mut out: Vec<Stage> = Vec::new();
    let mut width = model.inputs;
    for (i, layer) in model.layers.iter().enumerate() {
        match &layer.kind {
            LayerKind::BitLinear(_) | LayerKind::Linear(_) => {
                let (_, n_out) = layer.shape().expect("linear layers have a shape");
                width = n_out;
                out.push(Stage {
                    op: if matches!(layer.kind, LayerKind::BitLinear(_)) {
                        StageOp::Ternary(i)
                    } else {
                        StageOp::Dense(i)
                    },
                    post_scale: vec![1.0; n_out],
                    post_shift: vec![0.0; n_out],
                    relu: false,
                    sources: vec![i],
                });
            }
            LayerKind::Affine(a) => {
                if a.scale.len() != width {
                    return Err(Error::layer(
                        &layer.name,
                        i,
                        format!("has {} channels, its input has {width}", a.scale.len()),
                    ));
                }
                match out.last_mut() {
                    Some(s) if !s.relu => {
                        for n in 0..width {
                            s.post_scale[n] *= a.scale[n] as f64;
                            s.post_shift[n] =
                                s.post_shift[n] * a.scale[n] as f64 + a.shift[n] as f64;
                        }
                        s.sources.push(i);
                    }
                    _ => out.push(Stage {
                        op: StageOp::Affine(Some(i)),
                        post_scale: vec![1.0; width],
                        post_shift: vec![0.0; width],
                        relu: false,
                        sources: vec![i],
                    }),
                }
            }
            LayerKind::Relu => match out.last_mut() {
                Some(s) => {
                    s.relu = true;
                    s.sources.push(i);
                }
                None => out.push(Stage {
                    op: StageOp::Affine(None),
                    post_scale: vec![1.0; width],
                    post_shift: vec![0.0; width],
                    relu: true,
                    sources: vec![i],
                }),
            },
        }
    }
    Ok(out)
}
