//! [`LambdaCallback`]: a callback made of closures.

use super::{Callback, Logs, TrainingContext};
use crate::element::Float;
use crate::error::Result;

type TrainHook<'a> = Box<dyn FnMut() -> Result<()> + 'a>;
type EpochBeginHook<'a> = Box<dyn FnMut(usize) -> Result<()> + 'a>;
type LogsHook<'a> = Box<dyn FnMut(usize, &Logs) -> Result<()> + 'a>;

/// A callback built from closures, one per hook (Keras's `LambdaCallback`).
///
/// Each closure returns [`Result<()>`](crate::Result): an error stops
/// training and is returned by `fit`, and `?` works inside the closure. A
/// hook without a closure does nothing. The closures see the epoch or batch
/// index and the logs, not the [`TrainingContext`]; to stop training or
/// change the learning rate, implement [`Callback`] instead. Closures may
/// borrow local state for the callback's lifetime `'a`.
///
/// # Examples
///
/// ```
/// use tapeflow::callbacks::{Callback, LambdaCallback, Logs};
/// # use tapeflow::{Result, Tensor};
/// # use tapeflow::callbacks::TrainingContext;
/// # #[derive(Default)]
/// # struct Ctx { stop: bool, lr: f64, weights: Vec<Tensor> }
/// # impl TrainingContext for Ctx {
/// #     fn stop_training(&mut self) { self.stop = true }
/// #     fn should_stop(&self) -> bool { self.stop }
/// #     fn learning_rate(&self) -> f64 { self.lr }
/// #     fn set_learning_rate(&mut self, lr: f64) -> Result<()> { self.lr = lr; Ok(()) }
/// #     fn get_weights(&self) -> Vec<Tensor> { self.weights.clone() }
/// #     fn set_weights(&mut self, w: Vec<Tensor>) -> Result<()> { self.weights = w; Ok(()) }
/// #     fn save(&self, _: &std::path::Path) -> Result<()> { Ok(()) }
/// # }
///
/// // `Ctx` is a stand-in for the training loop (hidden here).
/// let mut ctx = Ctx::default();
/// let mut losses = Vec::new();
/// {
///     let mut cb = LambdaCallback::new().on_epoch_end(|_epoch, logs| {
///         losses.extend(logs.get("loss"));
///         Ok(())
///     });
///     let mut logs = Logs::default();
///     logs.push("loss", 0.5);
///     Callback::<f32>::on_epoch_end(&mut cb, 0, &logs, &mut ctx)?;
/// }
/// assert_eq!(losses, [0.5]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Default)]
pub struct LambdaCallback<'a> {
    train_begin: Option<TrainHook<'a>>,
    epoch_begin: Option<EpochBeginHook<'a>>,
    batch_end: Option<LogsHook<'a>>,
    epoch_end: Option<LogsHook<'a>>,
    train_end: Option<TrainHook<'a>>,
}

impl<'a> LambdaCallback<'a> {
    /// A callback with no closures yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::{Callback, LambdaCallback};
    /// # use tapeflow::{Result, Tensor};
    /// # use tapeflow::callbacks::TrainingContext;
    /// # #[derive(Default)]
    /// # struct Ctx { stop: bool, lr: f64, weights: Vec<Tensor> }
    /// # impl TrainingContext for Ctx {
    /// #     fn stop_training(&mut self) { self.stop = true }
    /// #     fn should_stop(&self) -> bool { self.stop }
    /// #     fn learning_rate(&self) -> f64 { self.lr }
    /// #     fn set_learning_rate(&mut self, lr: f64) -> Result<()> { self.lr = lr; Ok(()) }
    /// #     fn get_weights(&self) -> Vec<Tensor> { self.weights.clone() }
    /// #     fn set_weights(&mut self, w: Vec<Tensor>) -> Result<()> { self.weights = w; Ok(()) }
    /// #     fn save(&self, _: &std::path::Path) -> Result<()> { Ok(()) }
    /// # }
    ///
    /// let mut ctx = Ctx::default();
    /// let mut epochs = Vec::new();
    /// {
    ///     let mut cb = LambdaCallback::new().on_epoch_begin(|epoch| {
    ///         epochs.push(epoch);
    ///         Ok(())
    ///     });
    ///     for epoch in 0..3 {
    ///         Callback::<f32>::on_epoch_begin(&mut cb, epoch, &mut ctx)?;
    ///     }
    ///     Callback::<f32>::on_train_end(&mut cb, &mut ctx)?; // no closure: does nothing
    /// }
    /// assert_eq!(epochs, [0, 1, 2]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f()` before the first epoch.
    pub fn on_train_begin(mut self, f: impl FnMut() -> Result<()> + 'a) -> Self {
        self.train_begin = Some(Box::new(f));
        self
    }

    /// Runs `f(epoch)` before each epoch.
    pub fn on_epoch_begin(mut self, f: impl FnMut(usize) -> Result<()> + 'a) -> Self {
        self.epoch_begin = Some(Box::new(f));
        self
    }

    /// Runs `f(batch, logs)` after each training batch.
    pub fn on_batch_end(mut self, f: impl FnMut(usize, &Logs) -> Result<()> + 'a) -> Self {
        self.batch_end = Some(Box::new(f));
        self
    }

    /// Runs `f(epoch, logs)` after each epoch.
    pub fn on_epoch_end(mut self, f: impl FnMut(usize, &Logs) -> Result<()> + 'a) -> Self {
        self.epoch_end = Some(Box::new(f));
        self
    }

    /// Runs `f()` when training ends.
    pub fn on_train_end(mut self, f: impl FnMut() -> Result<()> + 'a) -> Self {
        self.train_end = Some(Box::new(f));
        self
    }
}

impl<T: Float> Callback<T> for LambdaCallback<'_> {
    fn on_train_begin(&mut self, _ctx: &mut dyn TrainingContext<T>) -> Result<()> {
        self.train_begin.as_mut().map_or(Ok(()), |f| f())
    }

    fn on_epoch_begin(&mut self, epoch: usize, _ctx: &mut dyn TrainingContext<T>) -> Result<()> {
        self.epoch_begin.as_mut().map_or(Ok(()), |f| f(epoch))
    }

    fn on_batch_end(
        &mut self,
        batch: usize,
        logs: &Logs,
        _ctx: &mut dyn TrainingContext<T>,
    ) -> Result<()> {
        self.batch_end.as_mut().map_or(Ok(()), |f| f(batch, logs))
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        _ctx: &mut dyn TrainingContext<T>,
    ) -> Result<()> {
        self.epoch_end.as_mut().map_or(Ok(()), |f| f(epoch, logs))
    }

    fn on_train_end(&mut self, _ctx: &mut dyn TrainingContext<T>) -> Result<()> {
        self.train_end.as_mut().map_or(Ok(()), |f| f())
    }
}
