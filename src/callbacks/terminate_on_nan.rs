//! [`TerminateOnNan`]: stop training when a batch loss is NaN or infinite.

use super::{Callback, Logs, TrainingContext};
use crate::element::Float;
use crate::error::Result;

/// Stops training when a batch's `loss` is NaN or infinite (Keras's
/// `TerminateOnNaN`).
///
/// `fit` calls [`on_batch_end`](Callback::on_batch_end) before applying a
/// batch's update when its loss is not finite, so training stops with the
/// weights from before that batch. A batch whose logs hold no `loss` is
/// ignored.
///
/// # Examples
///
/// ```
/// use tapeflow::callbacks::{Callback, Logs, TerminateOnNan};
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
/// let mut cb = TerminateOnNan::new();
/// for (batch, loss) in [0.5, 0.4, f64::NAN].into_iter().enumerate() {
///     let mut logs = Logs::default();
///     logs.push("loss", loss);
///     Callback::<f32>::on_batch_end(&mut cb, batch, &logs, &mut ctx)?;
///     assert_eq!(ctx.should_stop(), batch == 2);
/// }
/// assert_eq!(cb.stopped_batch(), Some(2));
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct TerminateOnNan {
    stopped_batch: Option<usize>,
}

impl TerminateOnNan {
    /// A callback that stops on the first non-finite batch loss.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::{Callback, Logs, TerminateOnNan};
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
    /// let mut cb = TerminateOnNan::new();
    /// let mut logs = Logs::default();
    /// logs.push("loss", 0.5);
    /// Callback::<f32>::on_batch_end(&mut cb, 0, &logs, &mut ctx)?;
    /// assert!(!ctx.should_stop());
    /// logs.push("loss", f64::INFINITY); // infinite counts as well as NaN
    /// Callback::<f32>::on_batch_end(&mut cb, 1, &logs, &mut ctx)?;
    /// assert!(ctx.should_stop());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The batch (within its epoch) whose loss stopped training, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::{Callback, Logs, TerminateOnNan};
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
    /// let mut cb = TerminateOnNan::new();
    /// assert_eq!(cb.stopped_batch(), None);
    /// let mut logs = Logs::default();
    /// logs.push("loss", f64::NAN);
    /// Callback::<f32>::on_batch_end(&mut cb, 4, &logs, &mut ctx)?;
    /// assert_eq!(cb.stopped_batch(), Some(4));
    /// Callback::<f32>::on_train_begin(&mut cb, &mut ctx)?; // a new `fit` forgets it
    /// assert_eq!(cb.stopped_batch(), None);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn stopped_batch(&self) -> Option<usize> {
        self.stopped_batch
    }
}

impl<T: Float> Callback<T> for TerminateOnNan {
    fn on_train_begin(&mut self, _ctx: &mut dyn TrainingContext<T>) -> Result<()> {
        self.stopped_batch = None;
        Ok(())
    }

    fn on_batch_end(
        &mut self,
        batch: usize,
        logs: &Logs,
        ctx: &mut dyn TrainingContext<T>,
    ) -> Result<()> {
        if logs.get("loss").is_some_and(|loss| !loss.is_finite()) {
            self.stopped_batch = Some(batch);
            ctx.stop_training();
        }
        Ok(())
    }
}
