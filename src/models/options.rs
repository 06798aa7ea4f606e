//! [`FitOptions`] (Keras's `fit` arguments) and [`Evaluation`].

use std::collections::HashMap;

use crate::callbacks::Callback;
use crate::element::Float;
use crate::tensor::Tensor;

/// The settings of [`Sequential::fit`](crate::Sequential::fit), with Keras's
/// defaults: 1 epoch, batches of 32, shuffled, no validation, automatic
/// verbosity (a progress bar only when stderr is a terminal).
///
/// # Examples
///
/// ```
/// use tapeflow::FitOptions;
///
/// let opts = FitOptions::<f32>::default().epochs(100).batch_size(16).validation_split(0.2).seed(7);
/// assert_eq!(opts.get_epochs(), 100);
/// assert_eq!(opts.get_batch_size(), 16);
/// ```
pub struct FitOptions<T: Float = f32> {
    pub(crate) epochs: usize,
    pub(crate) batch_size: usize,
    pub(crate) shuffle: bool,
    pub(crate) validation_split: f64,
    pub(crate) validation_data: Option<(Tensor<T>, Tensor<T>)>,
    pub(crate) class_weight: Option<HashMap<usize, f64>>,
    pub(crate) sample_weight: Option<Tensor<T>>,
    pub(crate) initial_epoch: usize,
    pub(crate) seed: Option<u64>,
    pub(crate) verbose: Option<u8>,
    pub(crate) callbacks: Vec<Box<dyn Callback<T>>>,
}

impl<T: Float> Default for FitOptions<T> {
    fn default() -> Self {
        FitOptions {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            validation_split: 0.0,
            validation_data: None,
            class_weight: None,
            sample_weight: None,
            initial_epoch: 0,
            seed: None,
            verbose: None,
            callbacks: Vec::new(),
        }
    }
}

impl<T: Float> std::fmt::Debug for FitOptions<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitOptions")
            .field("epochs", &self.epochs)
            .field("batch_size", &self.batch_size)
            .field("shuffle", &self.shuffle)
            .field("validation_split", &self.validation_split)
            .field("validation_data", &self.validation_data.is_some())
            .field("class_weight", &self.class_weight)
            .field("sample_weight", &self.sample_weight.is_some())
            .field("initial_epoch", &self.initial_epoch)
            .field("seed", &self.seed)
            .field("verbose", &self.verbose)
            .field("callbacks", &self.callbacks.len())
            .finish()
    }
}

impl<T: Float> FitOptions<T> {
    /// The epoch to stop before: training runs epochs `initial_epoch..epochs`
    /// (Keras's meaning). Default 1.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Samples per gradient step (the last batch may be smaller). Default 32.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Whether to shuffle the training rows before each epoch. Default true.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Holds out this fraction of the rows — the last ones, before any
    /// shuffling, as Keras does — for validation. Must be in `[0, 1)`.
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation_split = fraction;
        self
    }

    /// Validation inputs and targets (takes precedence over `validation_split`).
    pub fn validation_data(mut self, x: Tensor<T>, y: Tensor<T>) -> Self {
        self.validation_data = Some((x, y));
        self
    }

    /// Weights of the loss per class index (classes absent weigh 1), read
    /// from sparse labels or from the argmax of one-hot targets.
    pub fn class_weight(mut self, weights: HashMap<usize, f64>) -> Self {
        self.class_weight = Some(weights);
        self
    }

    /// Weight of each training row's loss, shape `[rows]`.
    pub fn sample_weight(mut self, weights: Tensor<T>) -> Self {
        self.sample_weight = Some(weights);
        self
    }

    /// The epoch to start counting from (to resume training). Default 0.
    pub fn initial_epoch(mut self, epoch: usize) -> Self {
        self.initial_epoch = epoch;
        self
    }

    /// Seed of the shuffling RNG (default: the model's seed). The same seed,
    /// data and model give a bit-identical run.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// 0: silent; 1: a progress bar per epoch; 2: one line per epoch.
    /// Default: 1 when stderr is a terminal, else 0.
    pub fn verbose(mut self, level: u8) -> Self {
        self.verbose = Some(level);
        self
    }

    /// Adds a callback.
    pub fn callback(mut self, callback: impl Callback<T> + 'static) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// The number of epochs set.
    pub fn get_epochs(&self) -> usize {
        self.epochs
    }

    /// The batch size set.
    pub fn get_batch_size(&self) -> usize {
        self.batch_size
    }
}

/// The result of [`Sequential::evaluate`](crate::Sequential::evaluate): the
/// mean loss and each metric over the data.
///
/// # Examples
///
/// ```
/// use tapeflow::Evaluation;
///
/// let e = Evaluation { loss: 0.5, metrics: vec![("accuracy".to_string(), 0.9)] };
/// assert_eq!(e.metric("accuracy"), Some(0.9));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The loss, averaged over all rows.
    pub loss: f64,
    /// Each compiled metric's value, by name, in compile order.
    pub metrics: Vec<(String, f64)>,
}

impl Evaluation {
    /// A metric's value by name.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v)
    }
}
