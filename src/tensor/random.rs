//! Random constructors. Every one takes the caller's RNG, so a seeded RNG
//! (`StdRng::seed_from_u64`) gives the same tensor on every run.

use rand::Rng;
use rand_distr::{Distribution, Normal, StandardUniform};

use super::{Tensor, checked_numel, try_with_capacity};
use crate::element::Float;
use crate::error::{Error, Result};

impl<T: Float> Tensor<T> {
    /// Samples every element uniformly from `[low, high)`.
    ///
    /// Values are drawn in `f64` and rounded to `T`, so an `f32` and an `f64`
    /// tensor drawn from equally seeded RNGs agree to `f32` precision.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless `low <= high` and both are finite.
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::Tensor;
    ///
    /// let mut rng = StdRng::seed_from_u64(42);
    /// let t = Tensor::<f32>::rand_uniform(&[100], -1.0, 1.0, &mut rng)?;
    /// assert!(t.as_slice().iter().all(|&x| (-1.0..1.0).contains(&x)));
    /// let again = Tensor::<f32>::rand_uniform(&[100], -1.0, 1.0, &mut StdRng::seed_from_u64(42))?;
    /// assert_eq!(t, again);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn rand_uniform<R: Rng + ?Sized>(
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

    /// Samples every element from the normal distribution `N(mean, std²)`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless `mean` is finite and `std` is finite
    /// and not negative.
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::Tensor;
    ///
    /// let mut rng = StdRng::seed_from_u64(7);
    /// let t = Tensor::<f64>::rand_normal(&[10_000], 2.0, 0.5, &mut rng)?;
    /// assert!((t.mean() - 2.0).abs() < 0.02);
    /// assert!(Tensor::<f64>::rand_normal(&[1], 0.0, -1.0, &mut rng).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn rand_normal<R: Rng + ?Sized>(
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
