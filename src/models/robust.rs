//! Explanations and attacks on a [`Sequential`]: convenience methods over
//! [`explain`](crate::explain) and [`adversarial`](crate::adversarial), and
//! the per-batch hook of adversarial training in `fit`.

use super::Sequential;
use crate::adversarial::{AdversarialTraining, Attack, RobustAccuracy};
use crate::callbacks::Logs;
use crate::element::Float;
use crate::error::{Error, Result};
use crate::explain::{self, IgAttribution, IntegratedGradients, Method, Output, SmoothGrad};
use crate::layers::Mode;
use crate::tensor::Tensor;

/// Rows attacked at once in [`Sequential::evaluate_robust`].
const ROBUST_BATCH: usize = 256;

impl<T: Float> Sequential<T> {
    /// Attributions of `output` for inputs `x` by `method`, with the model in
    /// inference mode; see [`explain`](crate::explain) for the methods.
    ///
    /// # Shapes
    ///
    /// `x`: `[rows, …input_shape]`; result: `x`'s shape.
    ///
    /// # Errors
    ///
    /// If the model is not built; `x`'s feature shape is not the input
    /// shape (naming the first layer); those of the method.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::explain::{Method, Output};
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[2]).add(Dense::new(1));
    /// model.build()?;
    /// model.set_weights(vec![Tensor::from_vec(vec![3.0, -1.0], &[2, 1])?, Tensor::zeros(&[1])?])?;
    /// let x = Tensor::from_vec(vec![1.0, 2.0], &[1, 2])?;
    /// let g = model.attribute(&Method::Gradient, &x, &Output::Value)?;
    /// assert_eq!(g.to_vec(), vec![3.0, -1.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn attribute(
        &self,
        method: &Method<T>,
        x: &Tensor<T>,
        output: &Output,
    ) -> Result<Tensor<T>> {
        self.ready("attribute", x)?;
        explain::attribute(|v| self.forward_var(v, Mode::Infer), method, x, output)
    }

    /// Integrated gradients of `output` for inputs `x`, with the
    /// convergence delta: [`explain::integrated_gradients`] on this model.
    ///
    /// # Shapes
    ///
    /// As [`explain::integrated_gradients`].
    ///
    /// # Errors
    ///
    /// As [`attribute`](Self::attribute) and [`explain::integrated_gradients`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::explain::{IntegratedGradients, Output};
    /// use tapeflow::prelude::*;
    ///
    /// // A linear model: IG with a zero baseline is w ⊙ x exactly.
    /// let mut model = Sequential::<f64>::new_typed(&[2]).add(Dense::new(1));
    /// model.build()?;
    /// model.set_weights(vec![Tensor::from_vec(vec![3.0, -1.0], &[2, 1])?, Tensor::ones(&[1])?])?;
    /// let x = Tensor::from_vec(vec![1.0, 2.0], &[1, 2])?;
    /// let ig = model.integrated_gradients(&x, &Output::Value, &IntegratedGradients::default())?;
    /// assert!((ig.attributions.to_vec()[0] - 3.0).abs() < 1e-12);
    /// assert!(ig.delta.to_vec()[0].abs() < 1e-12);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn integrated_gradients(
        &self,
        x: &Tensor<T>,
        output: &Output,
        settings: &IntegratedGradients<T>,
    ) -> Result<IgAttribution<T>> {
        self.ready("integrated_gradients", x)?;
        explain::integrated_gradients(|v| self.forward_var(v, Mode::Infer), x, output, settings)
    }

    /// SmoothGrad over `method`: [`explain::smooth_grad`] on this model.
    ///
    /// # Shapes
    ///
    /// `x`: `[rows, …input_shape]`; result: `x`'s shape.
    ///
    /// # Errors
    ///
    /// As [`attribute`](Self::attribute) and [`explain::smooth_grad`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::explain::{Method, Output, SmoothGrad};
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[3]).add(Dense::new(2));
    /// model.build()?;
    /// let x = Tensor::ones(&[2, 3])?;
    /// let sg = SmoothGrad::default().samples(4);
    /// let a = model.smooth_grad(&Method::Saliency, &x, &Output::Class(1), &sg)?;
    /// assert_eq!(a.shape(), &[2, 3]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn smooth_grad(
        &self,
        method: &Method<T>,
        x: &Tensor<T>,
        output: &Output,
        settings: &SmoothGrad,
    ) -> Result<Tensor<T>> {
        self.ready("smooth_grad", x)?;
        explain::smooth_grad(
            |v| self.forward_var(v, Mode::Infer),
            method,
            x,
            output,
            settings,
        )
    }

    /// Adversarial examples for inputs `x` with targets `y` (as the compiled
    /// loss expects them; for a targeted attack, the targets to reach):
    /// `attack` ascends (targeted: descends) the model's compiled loss, in
    /// inference mode.
    ///
    /// # Shapes
    ///
    /// `x`: `[rows, …input_shape]`; `y`: as for `fit`; result: `x`'s shape.
    ///
    /// # Errors
    ///
    /// If the model is not compiled; the data checks of `evaluate`; those
    /// of [`Attack::perturb_with_loss`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::Attack;
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[4]).add(Dense::new(3));
    /// model.compile(Sgd::new(0.1), SparseCategoricalCrossentropy::from_logits(), &[])?;
    /// let x = Tensor::full(&[2, 4], 0.5)?;
    /// let y = Tensor::from_vec(vec![0.0, 2.0], &[2])?;
    /// let adv = model.perturb(&Attack::fgsm(0.1), &x, &y)?;
    /// // Every pixel moved by ε (or stayed, where the gradient is 0).
    /// assert!(adv.to_vec().iter().all(|v| [0.4, 0.5, 0.6].iter().any(|e| (v - e).abs() < 1e-6)));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn perturb(&self, attack: &Attack, x: &Tensor<T>, y: &Tensor<T>) -> Result<Tensor<T>> {
        let op = attack.name();
        let compiled = self
            .compiled
            .as_ref()
            .ok_or_else(|| self.not_compiled(op))?;
        self.check_data(op, x, y)?;
        if compiled.loss.name().starts_with("sparse") {
            self.check_sparse_labels(op, y)?;
        }
        attack.perturb_with_loss(x, |v| {
            let pred = self.forward_var(v, Mode::Infer)?;
            compiled.loss.per_sample(pred, v.tape().constant(y))
        })
    }

    /// Clean accuracy and robust accuracy under `attack` (untargeted, with
    /// the compiled loss; see [`perturb`](Self::perturb)) on inputs `x` with
    /// targets `y`, in batches of 256 rows; classes as in
    /// [`predict_classes`](Self::predict_classes), true classes from sparse
    /// labels or the argmax of one-hot targets. See
    /// [`adversarial::evaluate_robust`](crate::adversarial::evaluate_robust)
    /// for the forward-function version and the limits.
    ///
    /// # Errors
    ///
    /// As [`perturb`](Self::perturb); an error for a targeted attack.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::Attack;
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[1]).add(Dense::new(2));
    /// model.compile(Sgd::new(0.1), SparseCategoricalCrossentropy::from_logits(), &[])?;
    /// // Logits [x, −x]: class 0 iff x > 0.
    /// model.set_weights(vec![Tensor::from_vec(vec![1.0, -1.0], &[1, 2])?, Tensor::zeros(&[2])?])?;
    /// let x = Tensor::from_vec(vec![0.1, 0.5, 0.9, 0.05], &[4, 1])?;
    /// let r = model.evaluate_robust(&Attack::fgsm(0.2).no_clip(), &x, &Tensor::zeros(&[4])?)?;
    /// assert_eq!((r.clean, r.robust), (1.0, 0.5));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn evaluate_robust(
        &self,
        attack: &Attack,
        x: &Tensor<T>,
        y: &Tensor<T>,
    ) -> Result<RobustAccuracy> {
        const OP: &str = "evaluate_robust";
        if self.compiled.is_none() {
            return Err(self.not_compiled(OP));
        }
        if attack.is_targeted() {
            return Err(Error::InvalidArgument {
                op: OP,
                message: "robust accuracy needs an untargeted attack".to_string(),
            });
        }
        let n = self.check_data(OP, x, y)?;
        let truth = classes_of(y, n);
        let (mut clean, mut robust) = (0usize, 0usize);
        for start in (0..n).step_by(ROBUST_BATCH) {
            let rows = start..(start + ROBUST_BATCH).min(n);
            let (xb, yb) = (x.slice_rows(rows.clone())?, y.slice_rows(rows.clone())?);
            let adv = self.perturb(attack, &xb, &yb)?;
            let t = &truth[rows];
            clean += count_equal(&self.predict_classes(&xb)?, t);
            robust += count_equal(&self.predict_classes(&adv)?, t);
        }
        Ok(RobustAccuracy {
            clean: clean as f64 / n as f64,
            robust: robust as f64 / n as f64,
        })
    }

    /// Checks that the model is built and `x` fits its input.
    fn ready(&self, op: &'static str, x: &Tensor<T>) -> Result<()> {
        if !self.is_built() {
            return Err(self.not_built(op));
        }
        self.check_input(x.shape())
    }

    /// Adversarial training's hook: batch `xb` with its first rows replaced
    /// by their adversarial examples, the attack reseeded per epoch and batch.
    pub(crate) fn adversarial_batch(
        &self,
        training: &AdversarialTraining,
        xb: &Tensor<T>,
        yb: &Tensor<T>,
        epoch: usize,
        batch: usize,
    ) -> Result<Tensor<T>> {
        // `fit` made the batch from rows of checked data: it has a batch axis.
        let rows = xb.shape()[0];
        let k = training.rows(rows);
        if k == 0 {
            return Ok(xb.clone());
        }
        let attack = training.attack();
        let seed = attack.get_seed()
            ^ ((epoch as u64) << 32 | batch as u64)
                .wrapping_add(1)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let attack = attack.clone().seed(seed);
        let adv = self.perturb(&attack, &xb.slice_rows(0..k)?, &yb.slice_rows(0..k)?)?;
        if k == rows {
            return Ok(adv);
        }
        Tensor::concat(&[&adv, &xb.slice_rows(k..rows)?], 0)
    }

    /// Adversarial training's validation: `val_clean_accuracy` and
    /// `val_robust_accuracy` into the epoch's logs, when asked.
    pub(crate) fn robust_validation(
        &self,
        training: Option<&AdversarialTraining>,
        validation: Option<&(Tensor<T>, Tensor<T>)>,
        logs: &mut Logs,
    ) -> Result<()> {
        if let (Some(t), Some((vx, vy))) = (training, validation)
            && t.get_validate()
        {
            let r = self.evaluate_robust(t.attack(), vx, vy)?;
            logs.push("val_clean_accuracy", r.clean);
            logs.push("val_robust_accuracy", r.robust);
        }
        Ok(())
    }
}

/// The class of each target row: a sparse label, or the argmax of a
/// one-hot (probability) row.
fn classes_of<T: Float>(y: &Tensor<T>, n: usize) -> Vec<usize> {
    let width = y.len() / n.max(1);
    y.as_slice()
        .chunks(width.max(1))
        .map(|row| {
            if width == 1 {
                row[0].to_f64().max(0.0) as usize
            } else {
                crate::tensor::argmax_slice(row)
            }
        })
        .collect()
}

fn count_equal(a: &[usize], b: &[usize]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x == y).count()
}
