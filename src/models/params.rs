//! `Sequential`'s parameters: listing them (all, trainable, for updating),
//! counting them, and reading or replacing their values in layer order.

use super::Sequential;
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Param;
use crate::tensor::Tensor;

impl<T: Float> Sequential<T> {
    /// All parameters of all layers, in layer order.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[2]).add(Dense::new(3));
    /// model.build()?;
    /// let names: Vec<&str> = model.params().iter().map(|p| p.name()).collect();
    /// assert_eq!(names, ["kernel", "bias"]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn params(&self) -> Vec<&Param<T>> {
        self.layers.iter().flat_map(|l| l.params()).collect()
    }

    /// The parameters that training updates (not frozen), in layer order:
    /// the targets for `tape.gradient`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[2]).add(Dense::new(3));
    /// model.build()?;
    /// assert_eq!(model.trainable_params().len(), 2);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn trainable_params(&self) -> Vec<&Param<T>> {
        self.params()
            .into_iter()
            .filter(|p| p.trainable())
            .collect()
    }

    /// All parameters for updating, in layer order: what an optimizer's
    /// `apply_gradients` takes.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[2]).add(Dense::new(3));
    /// model.build()?;
    /// for p in model.params_mut() {
    ///     p.value_mut().map_inplace(|_| 0.0);
    /// }
    /// assert!(model.params().iter().all(|p| p.value().sum() == 0.0));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.layers
            .iter_mut()
            .flat_map(|l| l.params_mut())
            .collect()
    }

    /// The number of parameter elements, trainable or not.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[2]).add(Dense::new(3));
    /// model.build()?;
    /// assert_eq!(model.param_count(), 9);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn param_count(&self) -> usize {
        self.layers.iter().map(|l| l.param_count()).sum()
    }

    /// A copy of every parameter's value, in layer order (Keras's
    /// `get_weights`; cheap: tensors share storage until written).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[2]).add(Dense::new(3));
    /// model.build()?;
    /// let w = model.get_weights();
    /// assert_eq!(w[0].shape(), &[2, 3]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn get_weights(&self) -> Vec<Tensor<T>> {
        self.params().iter().map(|p| p.value().clone()).collect()
    }

    /// Replaces every parameter's value, in layer order (Keras's `set_weights`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `set_weights`) if the model is not
    /// built or the count differs;
    /// [`Error::ShapeMismatch`] for the first tensor of the wrong shape. On
    /// error nothing is changed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[2]).add(Dense::new(1));
    /// model.build()?;
    /// model.set_weights(vec![Tensor::ones(&[2, 1])?, Tensor::zeros(&[1])?])?;
    /// assert_eq!(model.predict(&Tensor::ones(&[1, 2])?)?.to_vec(), vec![2.0]);
    /// assert!(model.set_weights(vec![Tensor::ones(&[2, 1])?]).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn set_weights(&mut self, weights: Vec<Tensor<T>>) -> Result<()> {
        // An unbuilt model has no parameters yet: "expected 0 tensors" would mislead.
        if !self.is_built() {
            return Err(self.not_built("set_weights"));
        }
        let params = self.params();
        if weights.len() != params.len() {
            return Err(Error::InvalidArgument {
                op: "set_weights",
                message: format!("expected {} tensors, got {}", params.len(), weights.len()),
            });
        }
        for (p, w) in params.iter().zip(&weights) {
            if p.value().shape() != w.shape() {
                return Err(Error::ShapeMismatch {
                    op: "set_weights",
                    lhs: p.value().shape().to_vec(),
                    rhs: w.shape().to_vec(),
                });
            }
        }
        for (p, w) in self.params_mut().into_iter().zip(weights) {
            p.set_value(w).expect("invariant: shapes checked above");
        }
        Ok(())
    }
}
