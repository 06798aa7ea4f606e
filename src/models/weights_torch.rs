//! Importing weights trained elsewhere: [`WeightMap`], how tensors in a
//! foreign file (PyTorch's names and layouts) map onto a model's
//! parameters, with presets for PyTorch's `nn.Linear`, `nn.Conv2d`
//! (dense and depthwise), `nn.BatchNorm2d` and `nn.MultiheadAttention`.
//! `Sequential::load_weights_from_safetensors` (in `weights.rs`) applies it.

use crate::element::Float;
use crate::tensor::Tensor;

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
    pub(super) entries: Vec<MapEntry>,
}

/// How a file tensor is rearranged on its way into a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layout {
    /// As stored.
    AsIs,
    /// A 2-d tensor, transposed (PyTorch's `nn.Linear.weight`).
    Transposed,
    /// A convolution weight `[out, in, *spatial]` (PyTorch's OIHW / OIW)
    /// to `[*spatial, in, out]` (HWIO / WIO, Keras's layout).
    ChannelsLast,
    /// A depthwise weight `[channels · m, 1, kh, kw]` (PyTorch's
    /// `nn.Conv2d(groups = channels)`) to `[kh, kw, channels, m]` (Keras's
    /// `DepthwiseConv2D`), `m` the depth multiplier.
    Depthwise(usize),
}

/// One file tensor → parameter assignment of a [`WeightMap`].
#[derive(Clone, Debug, PartialEq)]
pub(super) struct MapEntry {
    pub(super) from: String,
    pub(super) to: String,
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

    /// Maps a PyTorch depthwise convolution weight `from` — `nn.Conv2d` with
    /// `groups = channels`, `[channels · m, 1, kh, kw]` — to the
    /// `depthwise_kernel` `to` of a
    /// [`DepthwiseConv2D`](crate::layers::DepthwiseConv2D) with depth
    /// multiplier `m`, `[kh, kw, channels, m]`. PyTorch's output channel
    /// `c · m + j` (group `c`, its `j`-th filter) is Keras's `[.., c, j]`.
    /// A weight whose second axis is not 1 or whose first is not a
    /// multiple of `m` is reported by the load.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::models::WeightMap;
    ///
    /// let map = WeightMap::new().map_depthwise_kernel("1.weight", "depthwise_conv2d/depthwise_kernel", 2);
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn map_depthwise_kernel(self, from: &str, to: &str, depth_multiplier: usize) -> Self {
        self.entry(from, to, Layout::Depthwise(depth_multiplier), None)
    }

    /// The mapping of a PyTorch depthwise `nn.Conv2d(c, c · m, k, groups =
    /// c)` onto a `DepthwiseConv2D` with depth multiplier `m`:
    /// `<prefix>.weight` → `<layer>/depthwise_kernel` (see
    /// [`map_depthwise_kernel`](Self::map_depthwise_kernel)) and, with
    /// `bias`, `<prefix>.bias` → `<layer>/bias`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::models::WeightMap;
    ///
    /// let map = WeightMap::pytorch_depthwise_conv("0", "depthwise_conv2d", 1, true);
    /// assert_eq!(map.len(), 2);
    /// ```
    pub fn pytorch_depthwise_conv(
        prefix: &str,
        layer: &str,
        depth_multiplier: usize,
        bias: bool,
    ) -> Self {
        let map = Self::new().map_depthwise_kernel(
            &format!("{prefix}.weight"),
            &format!("{layer}/depthwise_kernel"),
            depth_multiplier,
        );
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

impl MapEntry {
    /// The file tensor `t` rearranged for the parameter: the chunk taken,
    /// then transposed or permuted; `Err` carries the message.
    pub(super) fn arrange<T: Float>(&self, mut t: Tensor<T>) -> Result<Tensor<T>, String> {
        let from = &self.from;
        if let Some((part, parts)) = self.chunk {
            let rows = t.shape().first().copied().unwrap_or(0);
            if parts == 0 || part >= parts || rows % parts != 0 {
                return Err(format!(
                    "tensor {from:?} of shape {:?} has no part {part} of {parts} equal slices along its first axis",
                    t.shape()
                ));
            }
            let n = rows / parts;
            t = t
                .slice_rows(part * n..(part + 1) * n)
                .map_err(|e| e.to_string())?;
        }
        match self.layout {
            Layout::AsIs => Ok(t),
            Layout::Transposed if t.ndim() == 2 => t.transpose().map_err(|e| e.to_string()),
            Layout::Transposed => Err(format!(
                "tensor {from:?} has shape {:?}; only 2-d tensors can be transposed",
                t.shape()
            )),
            Layout::ChannelsLast => channels_last(&t).ok_or_else(|| {
                format!(
                    "tensor {from:?} has shape {:?}; a convolution weight is 3-d or 4-d",
                    t.shape()
                )
            }),
            Layout::Depthwise(m) => match *t.shape() {
                [out, 1, kh, kw] if m > 0 && out % m == 0 => {
                    let hwio = channels_last(&t).ok_or_else(|| "invariant: 4-d".to_string())?;
                    hwio.reshape(&[kh, kw, out / m, m])
                        .map_err(|e| e.to_string())
                }
                _ => Err(format!(
                    "tensor {from:?} has shape {:?}; a depthwise weight with depth multiplier {m} is [channels * {m}, 1, kh, kw]",
                    t.shape()
                )),
            },
        }
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
