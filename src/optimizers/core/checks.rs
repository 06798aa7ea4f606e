//! The checks of optimizer settings (in `f64` and in the element type) and
//! of values, with the messages they give.

use crate::element::Float;
use crate::error::{Error, Result};

pub(super) fn invalid(op: &'static str, message: String) -> Error {
    Error::InvalidArgument { op, message }
}

/// An error unless `ok`: "`name` must be `requirement`, got `x`".
pub(crate) fn check(
    op: &'static str,
    ok: bool,
    name: &str,
    requirement: &str,
    x: f64,
) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(invalid(
            op,
            format!("{name} must be {requirement}, got {x}"),
        ))
    }
}

/// The element type's name for messages (`"f32"`, `"f64"`).
pub(crate) fn type_name<T: Float>() -> &'static str {
    T::NAME
}

/// `x` must be finite and `>= 0`, in `f64` and as a `T` (weight decay,
/// momentum, accumulator values).
pub(crate) fn non_negative<T: Float>(op: &'static str, name: &str, x: f64) -> Result<()> {
    let ok = x.is_finite() && x >= 0.0 && T::from_f64(x).is_finite();
    if ok {
        // No message is built for a valid setting: a step allocates nothing.
        return Ok(());
    }
    let requirement = format!("finite and >= 0 in {}", type_name::<T>());
    check(op, ok, name, &requirement, x)
}

/// `x` must be finite and `> 0`, in `f64` and as a `T`: an epsilon that is
/// 0 (or rounds to 0 in `f32`) turns a zero gradient element into `0 / 0`.
pub(crate) fn positive<T: Float>(op: &'static str, name: &str, x: f64) -> Result<()> {
    let xt = T::from_f64(x);
    let ok = x.is_finite() && x > 0.0 && xt.is_finite() && xt > T::zero();
    if ok {
        return Ok(());
    }
    let requirement = format!("finite and > 0 in {}", type_name::<T>());
    check(op, ok, name, &requirement, x)
}

/// `x` must be in `[0, 1)` (betas, rho).
pub(crate) fn unit_interval(op: &'static str, name: &str, x: f64) -> Result<()> {
    check(op, (0.0..1.0).contains(&x), name, "in [0, 1)", x)
}

/// The first non-finite element of `values`, with its index.
pub(crate) fn first_non_finite<T: Float>(values: &[T]) -> Option<(usize, T)> {
    values
        .iter()
        .position(|v| !v.is_finite())
        .map(|i| (i, values[i])) // invariant: i comes from position over values
}
