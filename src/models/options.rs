//! [`FitOptions`] (Keras's `fit` arguments) and [`Evaluation`].

use std::collections::HashMap;

use crate::adversarial::AdversarialTraining;
use crate::callbacks::Callback;
use crate::element::Float;
use crate::metrics::Metric;
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
    pub(crate) adversarial: Option<AdversarialTraining>,
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
            adversarial: None,
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
            .field("adversarial", &self.adversarial)
            .finish()
    }
}

impl<T: Float> FitOptions<T> {
    /// The epoch to stop before: training runs epochs `initial_epoch..epochs`
    /// (Keras's meaning). Default 1. `fit` refuses 0, and an `initial_epoch`
    /// not below `epochs` (Keras would silently train nothing).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[1]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.1), MeanSquaredError, &[])?;
    /// let (x, y) = (Tensor::ones(&[4, 1])?, Tensor::ones(&[4, 1])?);
    /// let history = model.fit(&x, &y, FitOptions::default().epochs(3).verbose(0))?;
    /// assert_eq!(history.epochs(), &[0, 1, 2]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Samples per gradient step (the last batch may be smaller). Default 32;
    /// `fit` refuses 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::FitOptions;
    ///
    /// let opts = FitOptions::<f32>::default();
    /// assert_eq!(opts.get_batch_size(), 32);
    /// assert_eq!(opts.batch_size(8).get_batch_size(), 8);
    /// ```
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Whether to shuffle the training rows before each epoch. Default true.
    ///
    /// When one batch holds every training row (`batch_size` at least the
    /// number of training rows: full-batch gradient descent), `fit` does
    /// not shuffle: every epoch sees the same rows in one step, and their
    /// order could change only the rounding of the batch's sums, not what
    /// is computed. The rows then go to the step in their given order,
    /// without a copy. Keras and PyTorch's `DataLoader` still permute the
    /// one batch, so a full-batch run here matches theirs up to that
    /// rounding; with a seed, it is deterministic and the same with
    /// `shuffle(true)` or `shuffle(false)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::FitOptions;
    ///
    /// let opts = FitOptions::<f32>::default().shuffle(false);
    /// assert!(format!("{opts:?}").contains("shuffle: false"));
    /// ```
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Holds out this fraction of the rows — the last ones, before any
    /// shuffling, as Keras does — for validation. Must be in `[0, 1)` (NaN
    /// is refused) and leave at least one row on each side.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[1]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.1), MeanSquaredError, &[])?;
    /// let x = Tensor::from_vec((0..10).map(|i| i as f32).collect(), &[10, 1])?;
    /// let opts = FitOptions::default().validation_split(0.2).verbose(0);
    /// let history = model.fit(&x, &x, opts)?;
    /// // Validated on the last 2 rows, with the weights after the epoch.
    /// let e = model.evaluate(&x.slice_rows(8..10)?, &x.slice_rows(8..10)?)?;
    /// assert_eq!(history.last("val_loss"), Some(e.loss));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation_split = fraction;
        self
    }

    /// Validation inputs and targets (takes precedence over `validation_split`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[1]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.1), MeanSquaredError, &[])?;
    /// let (x, y) = (Tensor::ones(&[4, 1])?, Tensor::ones(&[4, 1])?);
    /// let (vx, vy) = (Tensor::zeros(&[2, 1])?, Tensor::ones(&[2, 1])?);
    /// let opts = FitOptions::default().validation_data(vx.clone(), vy.clone()).verbose(0);
    /// let history = model.fit(&x, &y, opts)?;
    /// assert_eq!(history.last("val_loss"), Some(model.evaluate(&vx, &vy)?.loss));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn validation_data(mut self, x: Tensor<T>, y: Tensor<T>) -> Self {
        self.validation_data = Some((x, y));
        self
    }

    /// Weights of the loss per class index (classes absent weigh 1), read
    /// from sparse labels or from the argmax of one-hot targets. `fit`
    /// refuses a negative, NaN or infinite weight (or one that overflows the
    /// element type), and a class the model's output does not have (a
    /// single output unit has classes 0 and 1), naming the class.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tapeflow::prelude::*;
    ///
    /// // Class 1 counts three times: the same as a sample weight of 3 on its rows.
    /// let x = Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0], &[4, 1])?;
    /// let y = Tensor::from_vec(vec![0.0, 1.0, 0.0, 1.0], &[4, 1])?;
    /// let run = |opts: FitOptions| -> tapeflow::Result<Vec<Tensor>> {
    ///     let mut m = Sequential::new(&[1]).add(Dense::new(1).activation(Activation::Sigmoid));
    ///     m.compile(Sgd::new(0.1), BinaryCrossentropy::new(), &[])?;
    ///     m.fit(&x, &y, opts.verbose(0))?;
    ///     Ok(m.get_weights())
    /// };
    /// let by_class = run(FitOptions::default().class_weight(HashMap::from([(1, 3.0)])))?;
    /// let w = Tensor::from_vec(vec![1.0, 3.0, 1.0, 3.0], &[4])?;
    /// assert_eq!(by_class, run(FitOptions::default().sample_weight(w))?);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn class_weight(mut self, weights: HashMap<usize, f64>) -> Self {
        self.class_weight = Some(weights);
        self
    }

    /// Weight of each training row's loss, shape `[rows]`. `fit` refuses a
    /// negative, NaN or infinite weight, naming the row.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// // A weight of 0 removes a row's loss (the mean still counts its row).
    /// let mut model = Sequential::new(&[1]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.0), MeanSquaredError, &[])?;
    /// model.set_weights(vec![Tensor::ones(&[1, 1])?, Tensor::zeros(&[1])?])?; // y = x
    /// let x = Tensor::from_vec(vec![1.0, 2.0], &[2, 1])?;
    /// let y = Tensor::from_vec(vec![0.0, 0.0], &[2, 1])?;
    /// let w = Tensor::from_vec(vec![0.0, 1.0], &[2])?;
    /// let h = model.fit(&x, &y, FitOptions::default().sample_weight(w).verbose(0))?;
    /// assert_eq!(h.last("loss"), Some(2.0)); // (0·1² + 1·2²) / 2
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn sample_weight(mut self, weights: Tensor<T>) -> Self {
        self.sample_weight = Some(weights);
        self
    }

    /// The epoch to start counting from (to resume training). Default 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[1]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.1), MeanSquaredError, &[])?;
    /// let (x, y) = (Tensor::ones(&[4, 1])?, Tensor::ones(&[4, 1])?);
    /// let opts = FitOptions::default().initial_epoch(2).epochs(4).verbose(0);
    /// assert_eq!(model.fit(&x, &y, opts)?.epochs(), &[2, 3]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn initial_epoch(mut self, epoch: usize) -> Self {
        self.initial_epoch = epoch;
        self
    }

    /// Seed of the shuffling RNG (default: the model's seed). The same seed,
    /// data and model give a bit-identical run.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let x = Tensor::from_vec((0..8).map(|i| i as f32 / 8.0).collect(), &[8, 1])?;
    /// let run = |seed| -> tapeflow::Result<Vec<Tensor>> {
    ///     let mut m = Sequential::new(&[1]).add(Dense::new(1));
    ///     m.compile(Sgd::new(0.1), MeanSquaredError, &[])?;
    ///     m.fit(&x, &x, FitOptions::default().batch_size(2).seed(seed).verbose(0))?;
    ///     Ok(m.get_weights())
    /// };
    /// assert_eq!(run(7)?, run(7)?);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// How `fit` reports on stderr, Keras's `verbose`: 0 silent; 1 a
    /// progress bar per epoch (`469/469 ━━━━ 3s 6ms/step - loss: 0.3100`,
    /// the time taken once the epoch ends); 2 one line per epoch
    /// (`Epoch 3/10 - 3s 6ms/step - loss: 0.3100`). Every line fits 80
    /// columns. Default (Keras's `"auto"`): 1 when stderr is a terminal,
    /// else 2, so the log file of a long run shows every epoch. `fit`
    /// refuses other levels.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::FitOptions;
    ///
    /// let opts = FitOptions::<f32>::default().verbose(2);
    /// assert!(format!("{opts:?}").contains("verbose: Some(2)"));
    /// ```
    pub fn verbose(mut self, level: u8) -> Self {
        self.verbose = Some(level);
        self
    }

    /// Adds a callback.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[1]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.0), MeanSquaredError, &[])?; // the loss cannot improve
    /// let (x, y) = (Tensor::ones(&[4, 1])?, Tensor::ones(&[4, 1])?);
    /// let stop = EarlyStopping::new().monitor("loss");
    /// let opts = FitOptions::default().epochs(10).callback(stop).verbose(0);
    /// assert_eq!(model.fit(&x, &y, opts)?.len(), 2); // stopped after epoch 1
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn callback(mut self, callback: impl Callback<T> + 'static) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// Adversarial training: a share of each batch is replaced by its
    /// adversarial examples before the gradient step, and optionally robust
    /// validation accuracy is recorded; see [`AdversarialTraining`].
    /// Default: none.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::{AdversarialTraining, Attack};
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[2]).add(Dense::new(2));
    /// model.compile(Sgd::new(0.1), SparseCategoricalCrossentropy::from_logits(), &[])?;
    /// let (x, y) = (Tensor::full(&[4, 2], 0.5)?, Tensor::zeros(&[4])?);
    /// let at = AdversarialTraining::new(Attack::fgsm(0.1), 1.0).validate(true);
    /// let opts = FitOptions::default().adversarial(at).validation_data(x.clone(), y.clone()).verbose(0);
    /// let history = model.fit(&x, &y, opts)?;
    /// assert!(history.last("val_robust_accuracy").is_some());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn adversarial(mut self, training: AdversarialTraining) -> Self {
        self.adversarial = Some(training);
        self
    }

    /// The number of epochs set.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::FitOptions;
    ///
    /// assert_eq!(FitOptions::<f32>::default().get_epochs(), 1);
    /// assert_eq!(FitOptions::<f32>::default().epochs(5).get_epochs(), 5);
    /// ```
    pub fn get_epochs(&self) -> usize {
        self.epochs
    }

    /// The batch size set.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::FitOptions;
    ///
    /// assert_eq!(FitOptions::<f32>::default().batch_size(64).get_batch_size(), 64);
    /// ```
    pub fn get_batch_size(&self) -> usize {
        self.batch_size
    }
}

/// The result of [`Sequential::evaluate`](crate::Sequential::evaluate): the
/// mean loss and each metric over the data, Keras's
/// `model.evaluate(..., return_dict=True)`.
///
/// Read a metric with [`metric`](Self::metric) and the [`Metric`] you
/// compiled with (a typo is a compile error, not a `None`); the loss is
/// the field [`loss`](Self::loss).
///
/// # Examples
///
/// ```
/// use tapeflow::{Evaluation, Metric};
///
/// let e = Evaluation { loss: 0.5, metrics: vec![("accuracy".to_string(), 0.9)] };
/// assert_eq!(e.metric(Metric::Accuracy), Some(0.9));
/// assert_eq!(e.loss, 0.5);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The loss, averaged over all rows.
    pub loss: f64,
    /// Each compiled metric's value, by name, in compile order.
    pub metrics: Vec<(String, f64)>,
}

impl Evaluation {
    /// A compiled metric's value, `None` if the model was not compiled
    /// with it. [`Metric::Accuracy`] finds the accuracy whatever kind the
    /// loss resolved it to (its key is `"accuracy"`, as in Keras).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[1]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.1), MeanSquaredError, &[Metric::MeanAbsoluteError])?;
    /// model.set_weights(vec![Tensor::ones(&[1, 1])?, Tensor::zeros(&[1])?])?; // y = x
    /// let x = Tensor::from_vec(vec![1.0, 2.0], &[2, 1])?;
    /// let e = model.evaluate(&x, &Tensor::zeros(&[2, 1])?)?;
    /// assert_eq!(e.metric(Metric::MeanAbsoluteError), Some(1.5));
    /// assert_eq!(e.metric(Metric::Accuracy), None); // not compiled
    /// assert_eq!(e.loss, 2.5);                       // (1² + 2²) / 2
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn metric(&self, metric: Metric) -> Option<f64> {
        self.metric_by_name(metric.name())
    }

    /// A metric's value by its Keras name (`"mean_absolute_error"`), for
    /// names read at run time, e.g. from a config file; prefer
    /// [`metric`](Self::metric) in code.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Evaluation;
    ///
    /// let e = Evaluation { loss: 0.5, metrics: vec![("mean_absolute_error".to_string(), 0.25)] };
    /// assert_eq!(e.metric_by_name("mean_absolute_error"), Some(0.25));
    /// assert_eq!(e.metric_by_name("mae"), None);      // the full Keras name only
    /// ```
    pub fn metric_by_name(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v)
    }
}
