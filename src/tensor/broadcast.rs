//! NumPy broadcasting: the shape rule, the strided walk that every
//! broadcasting kernel shares, and `sum_to_shape`, which undoes a broadcast.

use super::{Tensor, numel};
use crate::element::Float;
use crate::error::{Error, Result};

/// The shape two operands broadcast to, by NumPy's rule: align the shapes at
/// their last dimension; each pair of extents must be equal or one of them 1.
pub(crate) fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for (i, slot) in out.iter_mut().enumerate() {
        // Extent of dimension i after left-padding both shapes with 1s.
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        *slot = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::ShapeMismatch {
                    op,
                    lhs: a.to_vec(),
                    rhs: b.to_vec(),
                });
            }
        };
    }
    Ok(out)
}

/// Row-major strides of `shape` seen inside the larger `out` shape it
/// broadcasts to: 0 along every dimension that is repeated.
fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let pad = out.len() - shape.len();
    let mut strides = vec![0; out.len()];
    let mut stride = 1;
    for i in (0..shape.len()).rev() {
        if shape[i] != 1 {
            strides[pad + i] = stride;
        }
        stride *= shape[i];
    }
    strides
}

/// Walks `out` in row-major order one innermost run at a time, calling
/// `run(a_offset, b_offset)` for each run; within a run the offsets advance by
/// the innermost strides. `out` must be non-empty and of rank at least 1.
fn walk(out: &[usize], a_st: &[usize], b_st: &[usize], mut run: impl FnMut(usize, usize)) {
    let r = out.len();
    let runs = numel(&out[..r - 1]);
    let mut idx = vec![0usize; r - 1];
    let (mut a_off, mut b_off) = (0usize, 0usize);
    for _ in 0..runs {
        run(a_off, b_off);
        for d in (0..r - 1).rev() {
            idx[d] += 1;
            a_off += a_st[d];
            b_off += b_st[d];
            if idx[d] < out[d] {
                break;
            }
            a_off -= a_st[d] * out[d];
            b_off -= b_st[d] * out[d];
            idx[d] = 0;
        }
    }
}

/// Whether `small` (leading 1s ignored) equals the trailing dimensions of
/// `big`, so that `big`'s data is `small`'s data repeated block after block.
fn is_trailing_block(small: &[usize], big: &[usize]) -> bool {
    let first = small.iter().position(|&d| d != 1).unwrap_or(small.len());
    let core = &small[first..];
    core.len() <= big.len() && big[big.len() - core.len()..] == *core
}

/// The largest result [`Tensor::sum_to_shape`] builds as one block (count
/// and elements in one allocation, infallibly: at most 64 KiB of `f32`).
const ONE_BLOCK_MAX: usize = 16_384;

/// Applies `f` elementwise to `a` and `b` broadcast against each other.
pub(crate) fn zip_broadcast<T: Float>(
    op: &'static str,
    a: &Tensor<T>,
    b: &Tensor<T>,
    f: impl Fn(T, T) -> T,
) -> Result<Tensor<T>> {
    let (sa, sb) = (a.shape(), b.shape());
    if super::same_shape(sa, sb) {
        let data = a
            .as_slice()
            .iter()
            .zip(b.as_slice())
            .map(|(&x, &y)| f(x, y));
        return Ok(Tensor::from_iter_exact(data, sa));
    }
    let out = broadcast_shapes(op, sa, sb)?;
    // [n, 1] + [1, m] holds n·m elements: the one user-sized allocation.
    let mut data = super::try_alloc(op, &out)?;
    let n = numel(&out);
    let (xa, xb) = (a.as_slice(), b.as_slice());
    if n == 0 {
        // nothing to compute
    } else if out == sa && is_trailing_block(sb, sa) {
        // `b` repeats along the leading dims of `a`: a bias row, a scalar, ….
        for chunk in xa.chunks_exact(xb.len()) {
            data.extend(chunk.iter().zip(xb).map(|(&x, &y)| f(x, y)));
        }
    } else if out == sb && is_trailing_block(sa, sb) {
        for chunk in xb.chunks_exact(xa.len()) {
            data.extend(xa.iter().zip(chunk).map(|(&x, &y)| f(x, y)));
        }
    } else {
        let (a_st, b_st) = (broadcast_strides(sa, &out), broadcast_strides(sb, &out));
        let inner = out[out.len() - 1];
        let (ia, ib) = (a_st[out.len() - 1], b_st[out.len() - 1]);
        walk(&out, &a_st, &b_st, |ao, bo| {
            data.extend((0..inner).map(|j| f(xa[ao + j * ia], xb[bo + j * ib])));
        });
    }
    Ok(Tensor::from_parts(data, out))
}

impl<T: Float> Tensor<T> {
    /// Sums this tensor down to `shape`, undoing a broadcast from `shape` to
    /// `self.shape()`: the gradient rule of every broadcasting op.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if `shape` does not broadcast to this tensor's shape.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let g = Tensor::<f32>::ones(&[4, 3])?;
    /// assert_eq!(g.sum_to_shape(&[3])?.to_vec(), vec![4.0; 3]);
    /// assert_eq!(g.sum_to_shape(&[4, 1])?.to_vec(), vec![3.0; 4]);
    /// assert_eq!(g.sum_to_shape(&[])?.item()?, 12.0);
    /// assert!(g.sum_to_shape(&[2]).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor<T>> {
        let src = self.shape();
        if src == shape {
            return Ok(self.clone());
        }
        let mismatch = || Error::ShapeMismatch {
            op: "sum_to_shape",
            lhs: src.to_vec(),
            rhs: shape.to_vec(),
        };
        // `shape` broadcasts to `src` exactly when, aligned at the last
        // dimension, each of its extents is 1 or `src`'s (checked without
        // building the broadcast shape).
        let fits = shape.len() <= src.len()
            && shape
                .iter()
                .rev()
                .zip(src.iter().rev())
                .all(|(&d, &s)| d == s || d == 1);
        if !fits {
            return Err(mismatch());
        }
        // A small result (a bias gradient) is one block, one allocation.
        // `numel` cannot overflow: each extent of `shape` is 1 or `src`'s,
        // and the non-zero extents of an existing shape multiply within
        // `usize` (`checked_numel`).
        let mut block = (numel(shape) <= ONE_BLOCK_MAX).then(|| Tensor::filled(shape, T::zero()));
        let mut vec = if block.is_some() {
            Vec::new()
        } else {
            // `shape` may be larger than the storage: [1, m] from an empty
            // [0, m]; a fallible allocation.
            super::try_filled("sum_to_shape", shape, T::zero())?
        };
        let out: &mut [T] = match block.as_mut() {
            Some(b) => b
                .unique_mut()
                .expect("invariant: a new tensor has one owner"),
            None => &mut vec,
        };
        let xs = self.as_slice();
        if xs.is_empty() {
            // every sum is empty: zeros
        } else if out.len() == 1 {
            out[0] = super::reduce::sum_slice(xs);
        } else if is_trailing_block(shape, src) {
            for chunk in xs.chunks_exact(out.len()) {
                for (o, &x) in out.iter_mut().zip(chunk) {
                    *o += x;
                }
            }
        } else {
            let src_st = broadcast_strides(src, src);
            let dst_st = broadcast_strides(shape, src);
            let inner = src[src.len() - 1];
            let (is, id) = (src_st[src.len() - 1], dst_st[src.len() - 1]);
            walk(src, &src_st, &dst_st, |so, dof| {
                for j in 0..inner {
                    out[dof + j * id] += xs[so + j * is];
                }
            });
        }
        Ok(block.unwrap_or_else(|| Tensor::from_parts(vec, shape)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_broadcast_like_numpy() {
        assert_eq!(
            broadcast_shapes("t", &[2, 1, 3], &[4, 1]).unwrap(),
            vec![2, 4, 3]
        );
        assert_eq!(broadcast_shapes("t", &[], &[5]).unwrap(), vec![5]);
        assert_eq!(broadcast_shapes("t", &[0, 3], &[1, 3]).unwrap(), vec![0, 3]);
        let err = broadcast_shapes("add", &[2, 3], &[4, 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "add: shape mismatch, lhs [2, 3], rhs [4, 3]"
        );
    }

    #[test]
    fn column_broadcast_uses_the_general_walk() {
        // [[1],[2]] + [[10, 20, 30]] = [[11, 21, 31], [12, 22, 32]]
        let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]).unwrap();
        let b = Tensor::from_vec(vec![10.0f32, 20.0, 30.0], &[1, 3]).unwrap();
        let c = zip_broadcast("add", &a, &b, |x, y| x + y).unwrap();
        assert_eq!(c.shape(), &[2, 3]);
        assert_eq!(c.to_vec(), vec![11.0, 21.0, 31.0, 12.0, 22.0, 32.0]);
        assert_eq!(c.sum_to_shape(&[2, 1]).unwrap().to_vec(), vec![63.0, 66.0]);
        assert_eq!(
            c.sum_to_shape(&[1, 3]).unwrap().to_vec(),
            vec![23.0, 43.0, 63.0]
        );
    }
}
