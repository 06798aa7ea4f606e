//! Weights on disk: the safetensors encoding of tensors,
//! `save_weights` / `load_weights`, and importing weights trained elsewhere
//! (`load_weights_from_safetensors` with a [`WeightMap`]).

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::Sequential;
use super::atomic_write::write_atomic;
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
/// `load` (a whole-model file) takes only the model's own dtype.
pub(crate) fn from_view<T: Float>(
    op: &'static str,
    path: &Path,
    name: &str,
    view: &TensorView<'_>,
) -> Result<Tensor<T>> {
    // A model file (`load`) holds tensors of the dtype its metadata
    // names: another dtype there is damage, not a checkpoint to convert.
    let own = if T::NAME == "f64" {
        Dtype::F64
    } else {
        Dtype::F32
    };
    if op == "load" && view.dtype() != own {
        return Err(format_error(
            op,
            path,
            format!(
                "tensor {name:?} has dtype {:?}, the model uses {}",
                view.dtype(),
                T::NAME
            ),
        ));
    }
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

/// How tensors in a foreign file map onto a model's parameters: each entry
/// names the tensor in the file, the parameter (`"<layer>/<param>"`), and
/// whether to transpose a 2-D tensor on the way (PyTorch's `nn.Linear`
/// stores `[out, in]`; a Dense kernel is `[in, out]`).
///
/// # Examples
///
/// ```
/// use tapeflow::models::WeightMap;
///
/// // torch.nn.Sequential(Linear, ReLU, Linear) saves "0.weight", "0.bias", "2.weight", "2.bias".
/// let map = WeightMap::pytorch_linear(&[("0", "dense"), ("2", "dense_1")]);
/// assert_eq!(map.len(), 4);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WeightMap {
    entries: Vec<MapEntry>,
}

/// How a file tensor is rearranged on its way into a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// As stored.
    AsIs,
    /// A 2-d tensor, transposed (PyTorch's `nn.Linear.weight`).
    Transposed,
    /// A convolution weight `[out, in, *spatial]` (PyTorch's OIHW / OIW)
    /// to `[*spatial, in, out]` (HWIO / WIO, Keras's layout).
    ChannelsLast,
}

/// One file tensor → parameter assignment of a [`WeightMap`].
#[derive(Clone, Debug, PartialEq)]
struct MapEntry {
    from: String,
    to: String,
    layout: Layout,
    /// `(part, parts)`: take the `part`-th of `parts` equal slices along the
    /// first axis (PyTorch's packed `in_proj_weight`) before transposing.
    chunk: Option<(usize, usize)>,
}

impl WeightMap {
    /// An empty mapping.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::models::WeightMap;
    ///
    /// assert!(WeightMap::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps file tensor `from` to parameter `to` as is.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::models::WeightMap;
    ///
    /// let map = WeightMap::new().map("encoder.bias", "dense/bias");
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn map(self, from: &str, to: &str) -> Self {
        self.entry(from, to, Layout::AsIs, None)
    }

    fn entry(
        mut self,
        from: &str,
        to: &str,
        layout: Layout,
        chunk: Option<(usize, usize)>,
    ) -> Self {
        self.entries.push(MapEntry {
            from: from.to_string(),
            to: to.to_string(),
            layout,
            chunk,
        });
        self
    }

    /// Maps the `part`-th of `parts` equal slices (along the first axis) of
    /// file tensor `from` to parameter `to`, transposed if `transpose` (a
    /// 2-D slice). PyTorch packs the query, key and value projections of
    /// `nn.MultiheadAttention` in one `in_proj_weight` `[3E, E]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::models::WeightMap;
    ///
    /// let map = WeightMap::new().map_chunk("attn.in_proj_bias", 1, 3, "mha/key/bias", false);
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn map_chunk(
        self,
        from: &str,
        part: usize,
        parts: usize,
        to: &str,
        transpose: bool,
    ) -> Self {
        let layout = if transpose {
            Layout::Transposed
        } else {
            Layout::AsIs
        };
        self.entry(from, to, layout, Some((part, parts)))
    }

    /// The mapping of a PyTorch `nn.MultiheadAttention` (`batch_first`,
    /// packed projections) at `torch_prefix` onto a
    /// [`MultiHeadAttention`](crate::layers::MultiHeadAttention) whose
    /// parameters are `<layer>/query/kernel`, …: the thirds of
    /// `in_proj_weight` (transposed) and `in_proj_bias`, then `out_proj`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::models::WeightMap;
    ///
    /// let map = WeightMap::pytorch_multihead_attention("blocks.0.attn", "block_1/attention");
    /// assert_eq!(map.len(), 8);
    /// ```
    pub fn pytorch_multihead_attention(torch_prefix: &str, layer: &str) -> Self {
        let (w, b) = (
            format!("{torch_prefix}.in_proj_weight"),
            format!("{torch_prefix}.in_proj_bias"),
        );
        ["query", "key", "value"]
            .iter()
            .enumerate()
            .fold(Self::new(), |m, (i, part)| {
                m.map_chunk(&w, i, 3, &format!("{layer}/{part}/kernel"), true)
                    .map_chunk(&b, i, 3, &format!("{layer}/{part}/bias"), false)
            })
            .map_transposed(
                &format!("{torch_prefix}.out_proj.weight"),
                &format!("{layer}/attention_output/kernel"),
            )
            .map(
                &format!("{torch_prefix}.out_proj.bias"),
                &format!("{layer}/attention_output/bias"),
            )
    }

    /// Maps file tensor `from` (2-D) to parameter `to`, transposed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::models::WeightMap;
    ///
    /// let map = WeightMap::new().map_transposed("fc.weight", "dense/kernel");
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn map_transposed(self, from: &str, to: &str) -> Self {
        self.entry(from, to, Layout::Transposed, None)
    }

    /// Maps a PyTorch convolution weight `from` — `[out, in / groups, kh, kw]`
    /// (OIHW, `nn.Conv2d`) or `[out, in / groups, k]` (`nn.Conv1d`) — to the
    /// kernel `to` in Keras's layout, `[kh, kw, in / groups, out]` (HWIO) or
    /// `[k, in / groups, out]`, permuting the axes on the way.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::models::WeightMap;
    ///
    /// let map = WeightMap::new().map_conv_kernel("features.0.weight", "conv2d/kernel");
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn map_conv_kernel(self, from: &str, to: &str) -> Self {
        self.entry(from, to, Layout::ChannelsLast, None)
    }

    /// The mapping of a PyTorch `nn.Conv2d` (or `nn.Conv1d`) onto a
    /// `Conv2D` (`Conv1D`) layer: `<prefix>.weight` → `<layer>/kernel`
    /// (OIHW → HWIO) and, with `bias`, `<prefix>.bias` → `<layer>/bias`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::models::WeightMap;
    ///
    /// let map = WeightMap::pytorch_conv("0", "conv2d", true);
    /// assert_eq!(map, WeightMap::new().map_conv_kernel("0.weight", "conv2d/kernel").map("0.bias", "conv2d/bias"));
    /// ```
    pub fn pytorch_conv(prefix: &str, layer: &str, bias: bool) -> Self {
        let map =
            Self::new().map_conv_kernel(&format!("{prefix}.weight"), &format!("{layer}/kernel"));
        if bias {
            map.map(&format!("{prefix}.bias"), &format!("{layer}/bias"))
        } else {
            map
        }
    }

    /// The mapping of a PyTorch `nn.BatchNorm1d`/`nn.BatchNorm2d` onto a
    /// `BatchNormalization` layer: `weight` → `gamma`, `bias` → `beta`,
    /// `running_mean` → `moving_mean`, `running_var` → `moving_variance`
    /// (`num_batches_tracked` is not needed). The running variance is used
    /// as stored: PyTorch accumulates the unbiased batch variance where
    /// Keras accumulates the biased one, but both normalize with the stored
    /// value at inference. Give the layer PyTorch's `epsilon` (`1e-5` by
    /// default) to reproduce its outputs.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::models::WeightMap;
    ///
    /// assert_eq!(WeightMap::pytorch_batch_norm("1", "batch_normalization").len(), 4);
    /// ```
    pub fn pytorch_batch_norm(prefix: &str, layer: &str) -> Self {
        [
            ("weight", "gamma"),
            ("bias", "beta"),
            ("running_mean", "moving_mean"),
            ("running_var", "moving_variance"),
        ]
        .iter()
        .fold(Self::new(), |m, (from, to)| {
            m.map(&format!("{prefix}.{from}"), &format!("{layer}/{to}"))
        })
    }

    /// Appends another mapping's entries (to combine the presets).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::models::WeightMap;
    ///
    /// let map = WeightMap::pytorch_conv("0", "conv2d", true)
    ///     .extend(WeightMap::pytorch_batch_norm("1", "batch_normalization"));
    /// assert_eq!(map.len(), 6);
    /// ```
    pub fn extend(mut self, other: WeightMap) -> Self {
        self.entries.extend(other.entries);
        self
    }

    /// The mapping for a stack of PyTorch `nn.Linear` modules: for each
    /// `(torch_prefix, dense_layer_name)`, `<prefix>.weight` → `<layer>/kernel`
    /// (transposed) and `<prefix>.bias` → `<layer>/bias`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::models::WeightMap;
    ///
    /// let map = WeightMap::pytorch_linear(&[("fc1", "dense")]);
    /// assert_eq!(map, WeightMap::new().map_transposed("fc1.weight", "dense/kernel").map("fc1.bias", "dense/bias"));
    /// ```
    pub fn pytorch_linear(layers: &[(&str, &str)]) -> Self {
        layers.iter().fold(Self::new(), |m, (prefix, layer)| {
            m.map_transposed(&format!("{prefix}.weight"), &format!("{layer}/kernel"))
                .map(&format!("{prefix}.bias"), &format!("{layer}/bias"))
        })
    }

    /// The number of entries.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::models::WeightMap;
    ///
    /// assert_eq!(WeightMap::new().map("a", "b").len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the mapping is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::models::WeightMap;
    ///
    /// assert!(WeightMap::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
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
        for MapEntry {
            from,
            to,
            layout,
            chunk,
        } in &map.entries
        {
            let view = st
                .tensor(from)
                .map_err(|_| format_error(OP, path, format!("no tensor {from:?} in the file")))?;
            let mut t = from_view::<T>(OP, path, from, &view)?;
            if let Some((part, parts)) = *chunk {
                let rows = t.shape().first().copied().unwrap_or(0);
                if parts == 0 || part >= parts || rows % parts != 0 {
                    return Err(format_error(
                        OP,
                        path,
                        format!(
                            "tensor {from:?} of shape {:?} has no part {part} of {parts} equal slices along its first axis",
                            t.shape()
                        ),
                    ));
                }
                let n = rows / parts;
                t = t.slice_rows(part * n..(part + 1) * n)?;
            }
            let t = if *layout == Layout::ChannelsLast {
                channels_last(&t).ok_or_else(|| {
                    format_error(
                        OP,
                        path,
                        format!(
                            "tensor {from:?} has shape {:?}; a convolution weight is 3-d or 4-d",
                            t.shape()
                        ),
                    )
                })?
            } else if *layout == Layout::Transposed {
                if t.ndim() != 2 {
                    return Err(format_error(
                        OP,
                        path,
                        format!(
                            "tensor {from:?} has shape {:?}; only 2-d tensors can be transposed",
                            t.shape()
                        ),
                    ));
                }
                t.transpose()?
            } else {
                t
            };
            found.insert(to.clone(), t);
        }
        self.assign(OP, path, found)
    }
}

/// `[out, in, *spatial]` to `[*spatial, in, out]`; `None` unless 3-d or 4-d.
fn channels_last<T: Float>(t: &Tensor<T>) -> Option<Tensor<T>> {
    let (o, i, spatial) = match *t.shape() {
        [o, i, k] => (o, i, vec![k]),
        [o, i, h, w] => (o, i, vec![h, w]),
        _ => return None,
    };
    let area: usize = spatial.iter().product();
    let src = t.as_slice();
    let mut out = vec![T::zero(); src.len()];
    for oo in 0..o {
        for ii in 0..i {
            for s in 0..area {
                out[(s * i + ii) * o + oo] = src[(oo * i + ii) * area + s];
            }
        }
    }
    let mut shape = spatial;
    shape.extend([i, o]);
    Tensor::from_vec(out, &shape).ok()
}
