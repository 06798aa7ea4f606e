//! Random constructors. The everyday ones take a `u64` seed
//! ([`Tensor::rand_uniform`], [`Tensor::rand_normal`]); the `*_with_rng`
//! forms take the caller's RNG (any `rand` 0.10 [`Rng`], re-exported as
//! [`tapeflow::rand`](crate::rand)) to draw several tensors from one
//! stream. `rand_uniform(shape, low, high, seed)` equals
//! `rand_uniform_with_rng(shape, low, high, &mut StdRng::seed_from_u64(seed))`,
//! so the same seed gives the same tensor on every run.

use rand::{Rng, SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, Normal, StandardUniform};

use super::{Tensor, checked_numel, try_with_capacity};
use crate::element::Float;
use crate::error::{Error, Result};

impl<T: Float> Tensor<T> {
    /// Samples every element uniformly from `[low, high)`, drawing from the RNG
    /// `StdRng::seed_from_u64(seed)` (NumPy's `default_rng(seed).uniform`,
    /// PyTorch's `torch.rand` under `manual_seed`): the same seed gives the
    /// same tensor. For several tensors from one random stream use
    /// [`rand_uniform_with_rng`](Self::rand_uniform_with_rng).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless `low <= high` and both are finite;
    /// [`Error::SizeOverflow`] or [`Error::OutOfMemory`] for a shape whose
    /// element count overflows or cannot be allocated.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::<f32>::rand_uniform(&[100], -1.0, 1.0, 42)?;
    /// assert!(t.as_slice().iter().all(|&x| (-1.0..1.0).contains(&x)));
    /// assert_eq!(t, Tensor::rand_uniform(&[100], -1.0, 1.0, 42)?);
    /// assert_ne!(t, Tensor::rand_uniform(&[100], -1.0, 1.0, 43)?);
    /// let err = Tensor::<f32>::rand_uniform(&[2], 1.0, -1.0, 0).unwrap_err();
    /// assert_eq!(err.to_string(), "rand_uniform: needs finite low <= high, got low 1, high -1");
    /// assert!(Tensor::<f32>::rand_uniform(&[usize::MAX, 2], 0.0, 1.0, 0).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn rand_uniform(shape: &[usize], low: T, high: T, seed: u64) -> Result<Tensor<T>> {
        Self::rand_uniform_with_rng(shape, low, high, &mut StdRng::seed_from_u64(seed))
    }

    /// Samples every element uniformly from `[low, high)`, drawing from `rng`.
    ///
    /// Values are drawn in `f64` and rounded to `T`, so an `f32` and an `f64`
    /// tensor drawn from equally seeded RNGs agree to `f32` precision.
    ///
    /// # Errors
    ///
    /// As [`rand_uniform`](Self::rand_uniform).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::Tensor;
    ///
    /// let mut rng = StdRng::seed_from_u64(42);
    /// let a = Tensor::<f32>::rand_uniform_with_rng(&[100], -1.0, 1.0, &mut rng)?;
    /// let b = Tensor::<f32>::rand_uniform_with_rng(&[100], -1.0, 1.0, &mut rng)?;
    /// assert_ne!(a, b);                               // the stream moves on
    /// assert_eq!(a, Tensor::rand_uniform(&[100], -1.0, 1.0, 42)?);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn rand_uniform_with_rng<R: Rng + ?Sized>(
        shape: &[usize],
        low: T,
        high: T,
        rng: &mut R,
    ) -> Result<Tensor<T>> {
        let (lo, hi) = (low.to_f64(), high.to_f64());
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(Error::InvalidArgument {
                op: "rand_uniform",
                message: format!("needs finite low <= high, got low {low}, high {high}"),
            });
        }
        let n = checked_numel::<T>("rand_uniform", shape)?;
        let mut data = try_with_capacity("rand_uniform", shape, n)?;
        data.extend((0..n).map(|_| {
            let u: f64 = StandardUniform.sample(rng);
            T::from_f64(lo + (hi - lo) * u).min(T::from_f64(hi).max(T::from_f64(lo)))
        }));
        Ok(Tensor::from_parts(data, shape.to_vec()))
    }

    /// Samples every element from the normal distribution `N(mean, std²)`,
    /// drawing from the RNG `StdRng::seed_from_u64(seed)` (PyTorch's
    /// `torch.normal` under `manual_seed`): the same seed gives the same
    /// tensor. For several tensors from one random stream use
    /// [`rand_normal_with_rng`](Self::rand_normal_with_rng).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless `mean` is finite and `std` is finite
    /// and not negative; [`Error::SizeOverflow`] or [`Error::OutOfMemory`] for
    /// a shape whose element count overflows or cannot be allocated.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::<f64>::rand_normal(&[10_000], 2.0, 0.5, 7)?;
    /// assert!((t.mean() - 2.0).abs() < 0.02);
    /// assert_eq!(t, Tensor::rand_normal(&[10_000], 2.0, 0.5, 7)?);
    /// let err = Tensor::<f64>::rand_normal(&[1], 0.0, -1.0, 7).unwrap_err();
    /// assert_eq!(err.to_string(), "rand_normal: needs a finite mean and a finite std >= 0, got mean 0, std -1");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn rand_normal(shape: &[usize], mean: T, std: T, seed: u64) -> Result<Tensor<T>> {
        Self::rand_normal_with_rng(shape, mean, std, &mut StdRng::seed_from_u64(seed))
    }

    /// Samples every element from the normal distribution `N(mean, std²)`,
    /// drawing from `rng`.
    ///
    /// # Errors
    ///
    /// As [`rand_normal`](Self::rand_normal).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::Tensor;
    ///
    /// let mut rng = StdRng::seed_from_u64(7);
    /// let a = Tensor::<f64>::rand_normal_with_rng(&[3], 0.0, 1.0, &mut rng)?;
    /// assert_eq!(a, Tensor::rand_normal(&[3], 0.0, 1.0, 7)?);
    /// assert!(Tensor::<f64>::rand_normal_with_rng(&[1], 0.0, -1.0, &mut rng).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn rand_normal_with_rng<R: Rng + ?Sized>(
        shape: &[usize],
        mean: T,
        std: T,
        rng: &mut R,
    ) -> Result<Tensor<T>> {
        let (m, s) = (mean.to_f64(), std.to_f64());
        // Check std >= 0 ourselves: rand_distr 0.6's `Normal::new` rejects
        // only a non-finite std and would accept a negative one.
        let normal = Some((m, s))
            .filter(|&(m, s)| m.is_finite() && s.is_finite() && s >= 0.0)
            .and_then(|(m, s)| Normal::new(m, s).ok())
            .ok_or_else(|| Error::InvalidArgument {
                op: "rand_normal",
                message: format!(
                    "needs a finite mean and a finite std >= 0, got mean {mean}, std {std}"
                ),
            })?;
        let n = checked_numel::<T>("rand_normal", shape)?;
        let mut data = try_with_capacity("rand_normal", shape, n)?;
        data.extend((0..n).map(|_| T::from_f64(normal.sample(rng))));
        Ok(Tensor::from_parts(data, shape.to_vec()))
    }
}
