//! [`Method`] (one attribution method as a value), [`attribute`], and
//! SmoothGrad (Smilkov et al. 2017) over any method.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::integrated::integrated_op;
use super::{IntegratedGradients, Output, check_batch, check_classes, gradient_op};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Var;
use crate::tensor::{Tensor, try_filled};

/// An attribution method, as a value: what [`attribute`] and
/// [`smooth_grad`] run.
///
/// # Examples
///
/// ```
/// use tapeflow::explain::{IntegratedGradients, Method};
///
/// let m = Method::IntegratedGradients(IntegratedGradients::<f32>::default().steps(16));
/// assert!(matches!(m, Method::IntegratedGradients(_)));
/// ```
#[derive(Clone, Debug)]
pub enum Method<T: Float = f32> {
    /// The raw input gradient, [`gradient`](super::gradient).
    Gradient,
    /// Its absolute value, [`saliency`](super::saliency).
    Saliency,
    /// [`gradient_x_input`](super::gradient_x_input).
    GradientXInput,
    /// [`integrated_gradients`](super::integrated_gradients)' attributions.
    IntegratedGradients(IntegratedGradients<T>),
}

/// Runs one attribution `method` on `x` for `output`.
///
/// # Shapes
///
/// As [`gradient`](super::gradient): the result has `x`'s shape.
///
/// # Errors
///
/// Those of the method's function.
///
/// # Examples
///
/// ```
/// use tapeflow::explain::{Method, Output, attribute};
/// use tapeflow::Tensor;
///
/// let x = Tensor::from_vec(vec![3.0f32, -1.0], &[1, 2])?;
/// let a = attribute(|v| v.square().sum_axis(1, true), &Method::GradientXInput, &x, &Output::Value)?;
/// assert_eq!(a.to_vec(), vec![18.0, 2.0]); // 2x²
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn attribute<T, F>(
    forward: F,
    method: &Method<T>,
    x: &Tensor<T>,
    output: &Output,
) -> Result<Tensor<T>>
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
{
    attribute_op(&forward, method, x, output)
}

fn attribute_op<T, F>(
    forward: &F,
    method: &Method<T>,
    x: &Tensor<T>,
    output: &Output,
) -> Result<Tensor<T>>
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
{
    match method {
        Method::Gradient => gradient_op("gradient", forward, x, output),
        Method::Saliency => Ok(gradient_op("saliency", forward, x, output)?.map(|g| g.abs())),
        Method::GradientXInput => gradient_op("gradient_x_input", forward, x, output)?.mul(x),
        Method::IntegratedGradients(ig) => {
            Ok(integrated_op("integrated_gradients", forward, x, output, ig)?.attributions)
        }
    }
}

/// The settings of [`smooth_grad`]: the noise level (default 0.15), the
/// number of noisy samples (default 50) and the seed (default 0).
///
/// # Examples
///
/// ```
/// use tapeflow::explain::SmoothGrad;
///
/// let sg = SmoothGrad::default().noise_level(0.1).samples(25).seed(7);
/// assert_eq!(sg.get_samples(), 25);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SmoothGrad {
    noise_level: f64,
    samples: usize,
    seed: u64,
}

impl Default for SmoothGrad {
    fn default() -> Self {
        SmoothGrad {
            noise_level: 0.15,
            samples: 50,
            seed: 0,
        }
    }
}

impl SmoothGrad {
    /// The noise's standard deviation as a fraction of each input row's
    /// range, `σ = noise_level · (max xᵢ − min xᵢ)` (the paper's 10–20 %
    /// works well). Default 0.15.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::explain::SmoothGrad;
    ///
    /// assert!(format!("{:?}", SmoothGrad::default().noise_level(0.2)).contains("0.2"));
    /// ```
    pub fn noise_level(mut self, level: f64) -> Self {
        self.noise_level = level;
        self
    }

    /// Noisy copies averaged (the paper's `n`; Captum's `nt_samples`).
    /// Default 50.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::explain::SmoothGrad;
    ///
    /// assert_eq!(SmoothGrad::default().get_samples(), 50);
    /// ```
    pub fn samples(mut self, samples: usize) -> Self {
        self.samples = samples;
        self
    }

    /// Seed of the noise; the same seed gives the same attributions.
    /// Default 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::explain::SmoothGrad;
    ///
    /// assert_ne!(SmoothGrad::default().seed(1), SmoothGrad::default().seed(2));
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The number of samples set.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::explain::SmoothGrad;
    ///
    /// assert_eq!(SmoothGrad::default().samples(3).get_samples(), 3);
    /// ```
    pub fn get_samples(&self) -> usize {
        self.samples
    }
}

/// SmoothGrad (Smilkov, Thorat, Kim, Viégas and Wattenberg 2017,
/// "SmoothGrad: removing noise by adding noise") over any [`Method`]: the
/// mean of the method's attributions at `samples` copies of `x` with
/// Gaussian noise `N(0, σ²)` added, `σ = noise_level · (max − min)` of each
/// row; Captum's `NoiseTunnel(method).attribute(nt_type="smoothgrad")`
/// (whose `stdevs` is `σ` itself). Each noisy copy of the batch goes
/// through the method as one batch.
///
/// Limits: sharper-looking maps are not thereby more faithful; the result
/// depends on the noise level and the seed, and a row whose values are all
/// equal gets no noise (`σ = 0`).
///
/// # Shapes
///
/// As [`gradient`](super::gradient): the result has `x`'s shape.
///
/// # Errors
///
/// [`Error::InvalidArgument`] (op `smooth_grad`) if `noise_level` is
/// negative, NaN or infinite, or `samples` is 0; those of the method.
///
/// # Examples
///
/// ```
/// use tapeflow::explain::{Method, Output, SmoothGrad, smooth_grad};
/// use tapeflow::Tensor;
///
/// // A linear model's gradient is the same everywhere: noise changes nothing.
/// let x = Tensor::from_vec(vec![0.0f64, 1.0, 2.0], &[1, 3])?;
/// let w = Tensor::from_vec(vec![1.0, -2.0, 0.5], &[3, 1])?;
/// let f = tapeflow::explain::forward_fn(|v| v.matmul(&v.tape().constant(&w)));
/// let sg = SmoothGrad::default().samples(10).seed(3);
/// let a = smooth_grad(f, &Method::Gradient, &x, &Output::Value, &sg)?;
/// for (got, want) in a.to_vec().iter().zip([1.0, -2.0, 0.5]) {
///     assert!((got - want).abs() < 1e-12);
/// }
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn smooth_grad<T, F>(
    forward: F,
    method: &Method<T>,
    x: &Tensor<T>,
    output: &Output,
    settings: &SmoothGrad,
) -> Result<Tensor<T>>
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
{
    const OP: &str = "smooth_grad";
    let level = settings.noise_level;
    if !(level.is_finite() && level >= 0.0) {
        return Err(Error::InvalidArgument {
            op: OP,
            message: format!("noise_level must be finite and >= 0, got {level}"),
        });
    }
    if settings.samples == 0 {
        return Err(Error::InvalidArgument {
            op: OP,
            message: "samples must be at least 1, got 0".to_string(),
        });
    }
    let rows = check_batch(OP, x)?;
    check_classes(OP, output, rows)?;
    let width = x.len() / rows;
    let sigmas: Vec<f64> = x
        .as_slice()
        .chunks(width)
        .map(|row| {
            let max = row.iter().fold(T::neg_infinity(), |a, &b| a.max(b));
            let min = row.iter().fold(T::infinity(), |a, &b| a.min(b));
            level * (max - min).to_f64()
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let mut total = try_filled(OP, x.shape(), T::zero())?;
    for _ in 0..settings.samples {
        let noise = Tensor::<T>::rand_normal_with_rng(x.shape(), T::zero(), T::one(), &mut rng)?;
        let noisy: Vec<T> = x
            .as_slice()
            .iter()
            .zip(noise.as_slice())
            .enumerate()
            .map(|(i, (&v, &z))| v + z * T::from_f64(sigmas[i / width]))
            .collect();
        let noisy = Tensor::from_vec(noisy, x.shape())?;
        let a = attribute_op(&forward, method, &noisy, output)?;
        for (t, &v) in total.iter_mut().zip(a.as_slice()) {
            *t += v;
        }
    }
    let n = T::from_usize(settings.samples);
    Tensor::from_vec(total.into_iter().map(|t| t / n).collect(), x.shape())
}
