//! Elementwise maps split over the thread pool in pieces whose bounds do
//! not depend on the thread count ([`par_split`]): the kernels behind the
//! unary and scalar tensor ops of `elementwise.rs` on large tensors.

use super::simd::MapPair;
use crate::element::{Float, Split, par_split};

/// A slice mapped in place.
struct InPlace<'a, T>(&'a mut [T]);

impl<T: Float> Split for InPlace<'_, T> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn split_at(self, at: usize) -> (Self, Self) {
        let (a, b) = self.0.split_at_mut(at);
        (InPlace(a), InPlace(b))
    }
}

/// `dst[i] = f(src[i])`, split over the pool's threads when large
/// ([`par_split`]); every element is its own, so the bits do not depend on
/// the thread count.
pub(super) fn map_into<T: Float>(src: &[T], dst: &mut [T], f: &(impl Fn(T) -> T + Sync)) {
    let run = |w: MapPair<'_, T>| {
        for (d, &x) in w.dst.iter_mut().zip(w.src) {
            *d = f(x);
        }
    };
    par_split(MapPair { src, dst }, &run, &|(), ()| ());
}

/// `xs[i] = f(xs[i])`, split like [`map_into`].
pub(super) fn map_in_place<T: Float>(xs: &mut [T], f: &(impl Fn(T) -> T + Sync)) {
    let run = |w: InPlace<'_, T>| {
        for x in w.0 {
            *x = f(*x);
        }
    };
    par_split(InPlace(xs), &run, &|(), ()| ());
}
