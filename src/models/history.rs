//! [`History`]: what `fit` returns — per-epoch loss and metrics, train and
//! validation — and access to its series. Its text forms (CSV and a
//! plain-text table) are in `text`, its SVG plot in `plot`.

use crate::callbacks::Logs;
use crate::metrics::Metric;

#[cfg(feature = "plot")]
mod plot;
mod text;

/// Per-epoch training results, Keras's `History.history`.
///
/// Series are named as Keras names them: `loss`, each metric (`accuracy`,
/// `mean_absolute_error`, …), then `val_loss` and `val_…` when there is
/// validation data. Epoch numbers count from 0 and continue across calls to
/// `fit` with `initial_epoch`.
///
/// # Examples
///
/// ```
/// use tapeflow::callbacks::Logs;
/// use tapeflow::History;
///
/// let mut h = History::default();
/// let mut logs = Logs::default();
/// logs.push("loss", 0.5);
/// h.push(0, &logs);
/// logs.push("loss", 0.25);
/// h.push(1, &logs);
/// assert_eq!(h.get("loss"), Some(&[0.5, 0.25][..]));
/// assert_eq!(h.epochs(), &[0, 1]);
/// assert_eq!(h.to_csv(), "epoch,loss\n0,0.5\n1,0.25\n");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    epochs: Vec<usize>,
    series: Vec<(String, Vec<f64>)>,
}

impl History {
    /// Records one epoch's logs. A series that appears late is padded with
    /// NaN for the epochs before it, and one missing from these logs gets NaN.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// let mut logs = Logs::default();
    /// logs.push("loss", 1.0);
    /// h.push(0, &logs);
    /// logs.push("val_loss", 2.0);
    /// h.push(1, &logs);
    /// let val = h.get("val_loss").unwrap();
    /// assert!(val[0].is_nan());
    /// assert_eq!(val[1], 2.0);
    /// ```
    pub fn push(&mut self, epoch: usize, logs: &Logs) {
        let n = self.epochs.len();
        for (name, value) in logs.iter() {
            match self.series.iter_mut().find(|(s, _)| s == name) {
                Some((_, values)) => values.push(value),
                None => {
                    let mut values = vec![f64::NAN; n];
                    values.push(value);
                    self.series.push((name.to_string(), values));
                }
            }
        }
        self.epochs.push(epoch);
        for (_, values) in &mut self.series {
            values.resize(n + 1, f64::NAN);
        }
    }

    /// The values of one series, one per epoch, or `None` if no epoch
    /// logged it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// let mut logs = Logs::default();
    /// logs.push("accuracy", 0.75);
    /// h.push(0, &logs);
    /// assert_eq!(h.get("accuracy"), Some(&[0.75][..]));
    /// assert_eq!(h.get("val_accuracy"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        self.series
            .iter()
            .find(|(s, _)| s == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The per-epoch values of a compiled metric on the training data
    /// (the series [`Metric::name`] names); `None` if the model was not
    /// compiled with it. [`get`](Self::get) takes any series by name
    /// (`"loss"`, `"val_loss"`, `"lr"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::{History, Metric};
    ///
    /// let mut h = History::default();
    /// let mut logs = Logs::default();
    /// logs.push("accuracy", 0.75);
    /// logs.push("val_accuracy", 0.5);
    /// h.push(0, &logs);
    /// assert_eq!(h.metric(Metric::Accuracy), Some(&[0.75][..]));
    /// assert_eq!(h.val_metric(Metric::Accuracy), Some(&[0.5][..]));
    /// assert_eq!(h.metric(Metric::Auc), None);
    /// ```
    pub fn metric(&self, metric: Metric) -> Option<&[f64]> {
        self.get(metric.name())
    }

    /// The per-epoch values of a compiled metric on the validation data
    /// (the series `val_` + [`Metric::name`]); `None` without validation
    /// data or if the model was not compiled with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[1]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.1), MeanSquaredError, &[Metric::MeanAbsoluteError])?;
    /// let (x, y) = (Tensor::ones(&[4, 1])?, Tensor::ones(&[4, 1])?);
    /// let opts = FitOptions::default().epochs(2).validation_data(x.clone(), y.clone()).verbose(0);
    /// let h = model.fit(&x, &y, opts)?;
    /// assert_eq!(h.val_metric(Metric::MeanAbsoluteError).map(<[f64]>::len), Some(2));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn val_metric(&self, metric: Metric) -> Option<&[f64]> {
        self.get(&format!("val_{}", metric.name()))
    }

    /// The epoch numbers recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// // A second call to `fit` with `initial_epoch = 5` goes on from 5.
    /// h.push(5, &Logs::default());
    /// h.push(6, &Logs::default());
    /// assert_eq!(h.epochs(), &[5, 6]);
    /// ```
    pub fn epochs(&self) -> &[usize] {
        &self.epochs
    }

    /// The number of epochs recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// assert_eq!(h.len(), 0);
    /// h.push(0, &Logs::default());
    /// assert_eq!(h.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.epochs.len()
    }

    /// Whether no epoch has been recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// assert!(h.is_empty());
    /// h.push(0, &Logs::default());
    /// assert!(!h.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.epochs.is_empty()
    }

    /// The series' names, in the order they first appeared.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// let mut logs = Logs::default();
    /// logs.push("loss", 0.5);
    /// logs.push("val_loss", 0.6);
    /// h.push(0, &logs);
    /// assert_eq!(h.names().collect::<Vec<_>>(), ["loss", "val_loss"]);
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.series.iter().map(|(s, _)| s.as_str())
    }

    /// The last recorded value of a series.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// for (epoch, loss) in [0.5, 0.25].into_iter().enumerate() {
    ///     let mut logs = Logs::default();
    ///     logs.push("loss", loss);
    ///     h.push(epoch, &logs);
    /// }
    /// assert_eq!(h.last("loss"), Some(0.25));
    /// assert_eq!(h.last("accuracy"), None);
    /// ```
    pub fn last(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|v| v.last().copied())
    }

    /// Appends another history (a later call to `fit`) to this one.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut logs = Logs::default();
    /// logs.push("loss", 0.5);
    /// let mut first = History::default();
    /// first.push(0, &logs);
    /// let mut second = History::default();
    /// logs.push("loss", 0.25);
    /// second.push(1, &logs);
    /// first.extend(&second);
    /// assert_eq!(first.epochs(), &[0, 1]);
    /// assert_eq!(first.get("loss"), Some(&[0.5, 0.25][..]));
    /// ```
    pub fn extend(&mut self, other: &History) {
        self.push_columns(&other.epochs, &other.series);
    }

    /// Records the epochs `epochs` of the series `columns`, as
    /// [`push`](Self::push) does epoch by epoch.
    ///
    /// # Panics
    ///
    /// If a column has fewer values than there are epochs (callers check).
    pub(crate) fn push_columns(&mut self, epochs: &[usize], columns: &[(String, Vec<f64>)]) {
        for (i, &epoch) in epochs.iter().enumerate() {
            let mut logs = Logs::default();
            for (name, values) in columns {
                // invariant: one value per epoch (a History's own series, or
                // the file reader's checked columns).
                logs.push(name.clone(), values[i]);
            }
            self.push(epoch, &logs);
        }
    }
}
