//! The everyday API compiled once, here, for `f32` and `f64`.
//!
//! Generic code is compiled in the crate that uses it. A debug or test build
//! (opt-level 0 or 1) lets a crate reuse the instances its dependencies
//! already compiled, so instantiating `Sequential<f32>`'s training,
//! inference and saving paths and every built-in layer, loss and optimizer
//! here means the examples, the integration tests and the doctests link
//! them instead of compiling each its own copy. Nothing here runs; it only
//! names the functions. Optimised builds (`--release`) compile generics per
//! crate as always, so this changes no figure of `docs/performance.md`.

use crate::Float;
use crate::callbacks::Callback;
use crate::layers::{self, Layer};
use crate::losses::{self, Loss};
use crate::models::{FitOptions, Sequential};
use crate::optimizers::{self, Optimizer};
use crate::tensor::Tensor;

/// Coerces a value to its trait object, which compiles every method of the
/// trait's implementation for it.
fn layer<T: Float, L: Layer<T> + 'static>(l: L) -> Box<dyn Layer<T>> {
    Box::new(l)
}

fn loss<T: Float, L: Loss<T> + 'static>(l: L) -> Box<dyn Loss<T>> {
    Box::new(l)
}

fn optimizer<T: Float, O: Optimizer<T> + 'static>(o: O) -> Box<dyn Optimizer<T>> {
    Box::new(o)
}

fn callback<T: Float, C: Callback<T> + 'static>(c: C) -> Box<dyn Callback<T>> {
    Box::new(c)
}

fn save<T: Float, P: AsRef<std::path::Path>>(m: &Sequential<T>, path: P) -> crate::Result<()> {
    m.save(path)
}

fn load<T: Float, P: AsRef<std::path::Path>>(path: P) -> crate::Result<Sequential<T>> {
    Sequential::<T>::load_typed(path)
}

/// The addresses of the instances for one element type.
fn instances<T: Float>() -> Vec<*const ()> {
    vec![
        Sequential::<T>::new_typed as *const (),
        Sequential::<T>::fit as *const (),
        Sequential::<T>::evaluate as *const (),
        Sequential::<T>::predict as *const (),
        Sequential::<T>::predict_classes as *const (),
        Sequential::<T>::predict_proba as *const (),
        Sequential::<T>::summary as *const (),
        Sequential::<T>::build as *const (),
        Sequential::<T>::get_weights as *const (),
        Sequential::<T>::set_weights as *const (),
        save::<T, &str> as *const (),
        save::<T, &std::path::Path> as *const (),
        save::<T, std::path::PathBuf> as *const (),
        load::<T, &str> as *const (),
        load::<T, &std::path::Path> as *const (),
        load::<T, std::path::PathBuf> as *const (),
        Sequential::<T>::generate as *const (),
        Sequential::<T>::attribute as *const (),
        Sequential::<T>::integrated_gradients as *const (),
        Sequential::<T>::evaluate_robust as *const (),
        Sequential::<T>::perturb as *const (),
        FitOptions::<T>::default as *const (),
        Tensor::<T>::from_vec as *const (),
        Tensor::<T>::softmax as *const (),
        layer::<T, layers::Dense<T>> as *const (),
        layer::<T, layers::Activation<T>> as *const (),
        layer::<T, layers::Dropout<T>> as *const (),
        layer::<T, layers::Flatten<T>> as *const (),
        layer::<T, layers::Reshape<T>> as *const (),
        layer::<T, layers::ZeroPadding2D<T>> as *const (),
        layer::<T, layers::Conv1D<T>> as *const (),
        layer::<T, layers::Conv2D<T>> as *const (),
        layer::<T, layers::DepthwiseConv2D<T>> as *const (),
        layer::<T, layers::MaxPooling1D<T>> as *const (),
        layer::<T, layers::MaxPooling2D<T>> as *const (),
        layer::<T, layers::AveragePooling2D<T>> as *const (),
        layer::<T, layers::GlobalAveragePooling2D<T>> as *const (),
        layer::<T, layers::GlobalMaxPooling2D<T>> as *const (),
        layer::<T, layers::BatchNormalization<T>> as *const (),
        layer::<T, layers::LayerNormalization<T>> as *const (),
        layer::<T, layers::Embedding<T>> as *const (),
        layer::<T, layers::PositionEmbedding<T>> as *const (),
        layer::<T, layers::MultiHeadAttention<T>> as *const (),
        layer::<T, layers::TransformerBlock<T>> as *const (),
        loss::<T, losses::MeanSquaredError> as *const (),
        loss::<T, losses::MeanAbsoluteError> as *const (),
        loss::<T, losses::Huber> as *const (),
        loss::<T, losses::BinaryCrossentropy> as *const (),
        loss::<T, losses::CategoricalCrossentropy> as *const (),
        loss::<T, losses::SparseCategoricalCrossentropy> as *const (),
        loss::<T, losses::KLDivergence> as *const (),
        optimizer::<T, optimizers::Sgd<T>> as *const (),
        optimizer::<T, optimizers::Adam<T>> as *const (),
        optimizer::<T, optimizers::AdamW<T>> as *const (),
        optimizer::<T, optimizers::Nadam<T>> as *const (),
        optimizer::<T, optimizers::RmsProp<T>> as *const (),
        optimizer::<T, optimizers::Adagrad<T>> as *const (),
        optimizer::<T, optimizers::Adadelta<T>> as *const (),
        optimizer::<T, optimizers::Lion<T>> as *const (),
        callback::<T, crate::callbacks::EarlyStopping<T>> as *const (),
        callback::<T, crate::callbacks::ModelCheckpoint> as *const (),
        callback::<T, crate::callbacks::CsvLogger> as *const (),
        callback::<T, crate::callbacks::ReduceLrOnPlateau> as *const (),
        callback::<T, crate::callbacks::TerminateOnNan> as *const (),
    ]
}

/// Not part of the API: exists so that the instances above are compiled
/// into this crate (a public, non-generic function is where compilation
/// starts). Returns the number of instances.
#[doc(hidden)]
pub fn __instances() -> usize {
    instances::<f32>().len() + instances::<f64>().len()
}
