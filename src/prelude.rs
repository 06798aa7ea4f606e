//! The everyday names, in one line: `use tapeflow::prelude::*;`.
//!
//! Brings in tensors and the tape, the model API (`Sequential`,
//! `FitOptions`, `History`, `Evaluation`, `Metric`), the built-in layers,
//! losses, optimizers and callbacks, the `Activation` enum, and `Error` /
//! `Result`. Module paths (`tapeflow::losses::mse`, `tapeflow::data::…`)
//! stay available for everything else.
//!
//! # Examples
//!
//! ```
//! use tapeflow::prelude::*;
//!
//! let mut model = Sequential::new(&[2]).add(Dense::new(1));
//! model.compile(Adam::new(0.01), MeanSquaredError, &[Metric::MeanAbsoluteError])?;
//! assert!(model.is_compiled());
//! # Ok::<(), tapeflow::Error>(())
//! ```

pub use crate::activations::Activation;
pub use crate::callbacks::{
    Callback, CsvLogger, EarlyStopping, LambdaCallback, LearningRateScheduler, ModelCheckpoint,
    ReduceLrOnPlateau, TerminateOnNan,
};
pub use crate::error::{Error, Result};
pub use crate::layers::{
    AveragePooling2D, BatchNormalization, Conv1D, Conv2D, Dense, DepthwiseConv2D, Dropout,
    Embedding, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, Layer, LayerNormalization,
    MaxPooling1D, MaxPooling2D, Mode, MultiHeadAttention, PositionEmbedding, Reshape,
    TransformerBlock, ZeroPadding2D,
};
pub use crate::losses::{
    BinaryCrossentropy, CategoricalCrossentropy, Huber, KLDivergence, Loss, MeanAbsoluteError,
    MeanSquaredError, Predictions, SparseCategoricalCrossentropy,
};
pub use crate::metrics::Metric;
pub use crate::models::{Evaluation, FitOptions, History, Sequential};
pub use crate::optimizers::{Adadelta, Adagrad, Adam, AdamW, Lion, Nadam, Optimizer, RmsProp, Sgd};
pub use crate::tape::{GradientTape, Gradients, Param, Var};
pub use crate::tensor::{Padding, Tensor};
