//! Weights on disk: the safetensors encoding of tensors,
//! `save_weights` / `load_weights`, and importing weights trained elsewhere
//! (`load_weights_from_safetensors` with a [`WeightMap`]).

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::Sequential;
use super::atomic_write::write_atomic;
use super::weights_torch::WeightMap;
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The safetensors dtype of `T`.
pub(crate) fn dtype_of<T: Float>() -> Dtype {
    if T::NAME == "f64" {
        Dtype::F64
    } else {
        Dtype::F32
    }
}

/// A tensor's elements as little-endian bytes of `T`'s width.
pub(crate) fn to_bytes<T: Float>(t: &Tensor<T>) -> Vec<u8> {
    let xs = t.as_slice();
    if T::NAME == "f64" {
        xs.iter()
            .flat_map(|&v| Float::to_f64(v).to_le_bytes())
            .collect()
    } else {
        xs.iter()
            .flat_map(|&v| (Float::to_f64(v) as f32).to_le_bytes())
            .collect()
    }
}

/// An IEEE 754 half-precision (binary16) value as `f32`, exactly: every
/// f16 value (normal, subnormal, ±0, ±inf, NaN) is an f32 value.
fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits >> 15) << 31;
    let exp = u32::from((bits >> 10) & 0x1f);
    let frac = u32::from(bits & 0x3ff);
    let magnitude = match (exp, frac) {
        (0, 0) => 0,
        // Subnormal: frac · 2^-24, exact in f32.
        (0, f) => {
            let v = f as f32 * f32::from_bits(0x3380_0000); // 2^-24
            return if sign == 0 { v } else { -v };
        }
        (0x1f, 0) => 0x7f80_0000,
        (0x1f, f) => 0x7fc0_0000 | (f << 13),
        (e, f) => ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(sign | magnitude)
}

/// A bfloat16 value as `f32`, exactly: bfloat16 is the upper half of an f32.
fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// Reads a stored tensor as `Tensor<T>`. For `load_weights` and
/// `load_weights_from_safetensors`, casts from F16, BF16, F32 or F64 as
/// PyTorch's `load_state_dict` does (`param.copy_(input)`): F16, BF16 and
/// F32 widen exactly (by bit manipulation: no extra dependency); F64 into
/// an `f32` model rounds to nearest. A value that overflows `T` (an F64 of
/// 1e39 into `f32`) is an error naming the tensor, not a silent infinity.
/// `load` (a whole-model file) reads through this too, once it has checked
/// that each tensor has the dtype the file's metadata names.
pub(crate) fn from_view<T: Float>(
    op: &'static str,
    path: &Path,
    name: &str,
    view: &TensorView<'_>,
) -> Result<Tensor<T>> {
    // Each reader gets a slice of exactly its width (`chunks_exact`).
    let (width, read): (usize, fn(&[u8]) -> f64) = match view.dtype() {
        Dtype::F16 => (2, |c| {
            f64::from(f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
        }),
        Dtype::BF16 => (2, |c| {
            f64::from(bf16_to_f32(u16::from_le_bytes([c[0], c[1]])))
        }),
        Dtype::F32 => (4, |c| {
            f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        }),
        Dtype::F64 => (8, |c| {
            f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
        }),
        other => {
            return Err(format_error(
                op,
                path,
                format!(
                    "tensor {name:?} has dtype {other:?}; floating-point tensors (F16, BF16, F32, F64) can be read into a {} model",
                    T::NAME
                ),
            ));
        }
    };
    let bytes = view.data();
    let mut out = Vec::new();
    out.try_reserve_exact(bytes.len() / width).map_err(|_| {
        format_error(
            op,
            path,
            format!(
                "tensor {name:?}: not enough memory for {} elements",
                bytes.len() / width
            ),
        )
    })?;
    for (i, c) in bytes.chunks_exact(width).enumerate() {
        let v = read(c);
        let t = T::from_f64(v);
        if v.is_finite() && !t.is_finite() {
            return Err(format_error(
                op,
                path,
                format!(
                    "tensor {name:?} holds {v:e} at index {i}, which overflows {}",
                    T::NAME
                ),
            ));
        }
        out.push(t);
    }
    Tensor::from_vec(out, view.shape()).map_err(|_| {
        format_error(
            op,
            path,
            format!("tensor {name:?}: data does not match its shape"),
        )
    })
}

pub(crate) fn format_error(op: &'static str, path: &Path, message: String) -> Error {
    Error::Format {
        op,
        path: path.display().to_string(),
        message,
    }
}

pub(crate) fn io_error(op: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        op,
        path: path.display().to_string(),
        source,
    }
}

/// Reads a whole file.
pub(crate) fn read_file(op: &'static str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io_error(op, path, e))
}

/// Parses safetensors bytes, mapping its errors to ours.
pub(crate) fn parse<'b>(op: &'static str, path: &Path, bytes: &'b [u8]) -> Result<SafeTensors<'b>> {
    SafeTensors::deserialize(bytes)
        .map_err(|e| format_error(op, path, format!("not a valid safetensors file ({e})")))
}

/// Serialises named tensors and metadata to safetensors bytes.
pub(crate) fn serialize<T: Float>(
    op: &'static str,
    path: &Path,
    tensors: &[(String, Tensor<T>)],
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(n, t)| (n.clone(), to_bytes(t), t.shape().to_vec()))
        .collect();
    let mut views = Vec::with_capacity(bytes.len());
    for (name, data, shape) in &bytes {
        let view = TensorView::new(dtype_of::<T>(), shape.clone(), data)
            .map_err(|e| format_error(op, path, format!("tensor {name:?}: {e}")))?;
        views.push((name.clone(), view));
    }
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| format_error(op, path, format!("cannot encode: {e}")))
}

impl<T: Float> Sequential<T> {
    /// Each parameter's file name, `"<layer name>/<param name>"`, in layer order.
    pub(crate) fn param_names(&self, op: &'static str) -> Result<Vec<String>> {
        self.check_layer_names(op)?;
        let mut names = Vec::new();
        for layer in &self.layers {
            for p in layer.params() {
                let name = format!("{}/{}", layer.name(), p.name());
                if names.contains(&name) {
                    return Err(Error::InvalidArgument {
                        op,
                        message: format!(
                            "two parameters are named {name:?}; give the layers distinct names"
                        ),
                    });
                }
                names.push(name);
            }
        }
        Ok(names)
    }

    /// Sets parameters from `(name, tensor)` pairs, checking that every
    /// parameter gets exactly one tensor of its shape; nothing changes on error.
    fn assign(
        &mut self,
        op: &'static str,
        path: &Path,
        mut found: HashMap<String, Tensor<T>>,
    ) -> Result<()> {
        let names = self.param_names(op)?;
        let mut values = Vec::with_capacity(names.len());
        for (name, p) in names.iter().zip(self.params()) {
            let t = found.remove(name).ok_or_else(|| {
                format_error(op, path, format!("no tensor for parameter {name:?}"))
            })?;
            if t.shape() != p.value().shape() {
                return Err(format_error(
                    op,
                    path,
                    format!(
                        "tensor {name:?} has shape {:?}, the model expects {:?}",
                        t.shape(),
                        p.value().shape()
                    ),
                ));
            }
            values.push(t);
        }
        self.set_weights(values)
    }

    /// Writes the parameters alone to one safetensors file, each under
    /// `"<layer name>/<param name>"` (atomically: the previous file survives
    /// any failure).
    ///
    /// # Errors
    ///
    /// If the model is not built, two parameters share a name, or the file
    /// cannot be written ([`Error::Io`] naming the path).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let path = std::env::temp_dir().join(format!("tapeflow_doc_weights_{}.safetensors", std::process::id()));
    /// let mut a = Sequential::new(&[2]).add(Dense::new(3)).seed(1);
    /// a.build()?;
    /// a.save_weights(&path)?;
    /// let mut b = Sequential::new(&[2]).add(Dense::new(3)).seed(2);
    /// b.build()?;
    /// b.load_weights(&path)?;
    /// assert_eq!(a.get_weights(), b.get_weights());
    /// std::fs::remove_file(&path).ok();
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn save_weights(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if !self.is_built() {
            return Err(self.not_built("save_weights"));
        }
        let names = self.param_names("save_weights")?;
        let tensors: Vec<(String, Tensor<T>)> = names.into_iter().zip(self.get_weights()).collect();
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), "tapeflow-weights".to_string());
        meta.insert(
            "tapeflow_version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        );
        let bytes = serialize("save_weights", path, &tensors, meta)?;
        write_atomic("save_weights", path, &bytes)
    }

    /// Loads parameters by name from any safetensors file holding a tensor
    /// `"<layer name>/<param name>"` for every parameter (a file from
    /// [`save_weights`](Self::save_weights) or [`save`](Self::save), or one
    /// written by Python); other tensors are ignored.
    ///
    /// # Errors
    ///
    /// If the model is not built; [`Error::Io`] if the file cannot be read;
    /// [`Error::Format`] naming the file and the first missing tensor, wrong
    /// shape or wrong dtype. On error the weights are unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut m = Sequential::new(&[2]).add(Dense::new(3));
    /// m.build()?;
    /// let err = m.load_weights("no/such/file.safetensors").unwrap_err();
    /// assert!(err.to_string().starts_with("load_weights: no/such/file.safetensors: "));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if !self.is_built() {
            return Err(self.not_built("load_weights"));
        }
        let bytes = read_file("load_weights", path)?;
        let st = parse("load_weights", path, &bytes)?;
        self.load_params_from("load_weights", path, &st)
    }

    /// Sets every parameter from the tensor of its name in `st`, checking
    /// names, dtypes and shapes first; nothing changes on error.
    pub(crate) fn load_params_from(
        &mut self,
        op: &'static str,
        path: &Path,
        st: &SafeTensors<'_>,
    ) -> Result<()> {
        let mut found = HashMap::new();
        for name in self.param_names(op)? {
            if let Ok(view) = st.tensor(&name) {
                found.insert(name.clone(), from_view(op, path, &name, &view)?);
            }
        }
        self.assign(op, path, found)
    }

    /// Loads weights trained elsewhere (e.g. PyTorch's
    /// `safetensors.torch.save_file`) through a [`WeightMap`]; every
    /// parameter of the model must be mapped.
    ///
    /// # Errors
    ///
    /// As [`load_weights`](Self::load_weights), naming the file tensor that
    /// is missing or does not fit; an error if a transposed tensor is not 2-D.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::models::WeightMap;
    /// use tapeflow::prelude::*;
    ///
    /// let mut m = Sequential::new(&[2]).add(Dense::new(3));
    /// m.build()?;
    /// let map = WeightMap::pytorch_linear(&[("0", "dense")]);
    /// assert!(m.load_weights_from_safetensors("no/such/file.safetensors", &map).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn load_weights_from_safetensors(
        &mut self,
        path: impl AsRef<Path>,
        map: &WeightMap,
    ) -> Result<()> {
        const OP: &str = "load_weights_from_safetensors";
        let path = path.as_ref();
        if !self.is_built() {
            return Err(self.not_built(OP));
        }
        let bytes = read_file(OP, path)?;
        let st = parse(OP, path, &bytes)?;
        let mut found = HashMap::new();
        for entry in &map.entries {
            let (from, to) = (&entry.from, &entry.to);
            let view = st
                .tensor(from)
                .map_err(|_| format_error(OP, path, format!("no tensor {from:?} in the file")))?;
            let t = from_view::<T>(OP, path, from, &view)?;
            let t = entry.arrange(t).map_err(|m| format_error(OP, path, m))?;
            found.insert(to.clone(), t);
        }
        self.assign(OP, path, found)
    }
}
