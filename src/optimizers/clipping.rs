//! Gradient clipping shared by every optimizer: Keras's `clipnorm`,
//! `clipvalue` and `global_clipnorm`, set through each optimizer's
//! `clip_norm`, `clip_value` and `global_clip_norm` builders.
//!
//! - `clip_norm = c`: each gradient tensor `g` becomes `g · c / max(‖g‖₂, c)`.
//! - `global_clip_norm = c`: with `n` the L2 norm of all the gradients that
//!   are about to be applied taken together, every one becomes `g · c / max(n, c)`.
//! - `clip_value = c`: every element is clamped to `[-c, c]`.
//!
//! As in Keras, at most one of the three may be set (an error at apply time
//! otherwise) and a set value must be finite and `> 0`.

use serde_json::{Map, Value, json};

use super::core::type_name;
use super::json::opt_f64_field;
use super::kernels::Prep;
use crate::element::Float;
use crate::error::{Error, Result};

/// The clipping settings of one optimizer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Clipping {
    pub(crate) clip_norm: Option<f64>,
    pub(crate) clip_value: Option<f64>,
    pub(crate) global_clip_norm: Option<f64>,
}

impl Clipping {
    /// Checks that at most one kind is set and that it is finite and positive.
    pub(crate) fn validate<T: Float>(&self, op: &'static str) -> Result<()> {
        let set = [
            ("clip_norm", self.clip_norm),
            ("clip_value", self.clip_value),
            ("global_clip_norm", self.global_clip_norm),
        ];
        if set.iter().filter(|(_, v)| v.is_some()).count() > 1 {
            let names: Vec<&str> = set
                .iter()
                .filter(|(_, v)| v.is_some())
                .map(|(n, _)| *n)
                .collect();
            return Err(Error::InvalidArgument {
                op,
                message: format!(
                    "only one of clip_norm, clip_value and global_clip_norm may be set, got {}",
                    names.join(" and ")
                ),
            });
        }
        for (name, v) in set {
            if let Some(c) = v
                && !(c.is_finite() && c > 0.0 && T::from_f64(c).is_finite())
            {
                return Err(Error::InvalidArgument {
                    op,
                    message: format!(
                        "{name} must be finite and > 0 in {}, got {c}",
                        type_name::<T>()
                    ),
                });
            }
        }
        Ok(())
    }

    /// The factor every gradient is multiplied by under global-norm clipping
    /// (1 without it).
    pub(crate) fn global_scale<'g, T: Float>(
        &self,
        op: &'static str,
        grads: impl Iterator<Item = &'g [T]>,
    ) -> Result<f64> {
        match self.global_clip_norm {
            Some(c) => {
                let norm = grads.map(sum_squares).sum::<f64>().sqrt();
                if !norm.is_finite() {
                    return Err(Error::InvalidArgument {
                        op,
                        message: format!(
                            "global_clip_norm: the joint norm of the gradients is {norm}; nothing was updated"
                        ),
                    });
                }
                Ok(c / norm.max(c))
            }
            None => Ok(1.0),
        }
    }

    /// How the update reads `g`: scaled (per tensor, times
    /// `global_scale`) or clamped elementwise, applied inside the fused
    /// update so the clipped gradient is never stored.
    pub(crate) fn prep<T: Float>(&self, g: &[T], global_scale: f64) -> Prep<T> {
        if let Some(c) = self.clip_value {
            let c = T::from_f64(c);
            return Prep {
                lo: -c,
                hi: c,
                ..Prep::identity()
            };
        }
        let scale = match self.clip_norm {
            Some(c) => global_scale * c / sum_squares(g).sqrt().max(c),
            None => global_scale,
        };
        Prep {
            scale: T::from_f64(scale),
            ..Prep::identity()
        }
    }

    /// Adds the three settings to an optimizer's config (`null` when unset).
    pub(crate) fn write_config(&self, map: &mut Map<String, Value>) {
        map.insert("clip_norm".into(), json!(self.clip_norm));
        map.insert("clip_value".into(), json!(self.clip_value));
        map.insert("global_clip_norm".into(), json!(self.global_clip_norm));
    }

    /// Reads the settings written by [`write_config`](Self::write_config).
    pub(crate) fn read_config(op: &'static str, map: &Map<String, Value>) -> Result<Self> {
        Ok(Clipping {
            clip_norm: opt_f64_field(op, map, "clip_norm")?,
            clip_value: opt_f64_field(op, map, "clip_value")?,
            global_clip_norm: opt_f64_field(op, map, "global_clip_norm")?,
        })
    }
}

/// `Σ g²`, accumulated in `f64`.
fn sum_squares<T: Float>(g: &[T]) -> f64 {
    g.iter().map(|&x| x.to_f64() * x.to_f64()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_norm_scales_only_long_gradients() {
        let c = Clipping {
            clip_norm: Some(1.0),
            ..Clipping::default()
        };
        // ‖[3, 4]‖ = 5, so the gradient is scaled by 1/5.
        assert_eq!(c.prep(&[3.0f64, 4.0], 1.0).scale, 0.2);
        assert_eq!(c.prep(&[0.3f64, 0.4], 1.0).scale, 1.0);
    }

    #[test]
    fn two_kinds_of_clipping_are_rejected() {
        let c = Clipping {
            clip_norm: Some(1.0),
            clip_value: Some(1.0),
            global_clip_norm: None,
        };
        let err = c.validate::<f32>("sgd").unwrap_err();
        assert_eq!(
            err.to_string(),
            "sgd: only one of clip_norm, clip_value and global_clip_norm may be set, got clip_norm and clip_value"
        );
    }
}
