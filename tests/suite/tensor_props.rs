//! Property tests of the tensor kernels against naive references.
//!
//! Every reference below is written from the NumPy / PyTorch definition,
//! index by index, without calling the crate's own shape helpers: the
//! broadcast shape comes from padding both shapes with leading 1s, and each
//! output element's source in an operand is found by setting the index to 0
//! along every dimension where the operand has extent 1.
//!
//! Shapes are drawn output-first: a random shape of rank 0–4 (extents 0–4,
//! so empty tensors occur), then each operand is derived from it by dropping
//! some leading dimensions and replacing some extents with 1.
//!
//! Reductions use integer-valued data, so every sum is exact in `f32` and
//! `f64` and the references can be compared with `==`.

use proptest::collection::vec;
use proptest::prelude::*;
use tapeflow::{Float, Result, Tensor};

// ---------- naive index arithmetic ----------

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major multi-index of flat position `flat` in `shape`.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = flat % shape[d];
        flat /= shape[d];
    }
    idx
}

fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// NumPy's rule: pad the shorter shape with leading 1s; each pair of
/// extents must be equal or contain a 1.
fn naive_broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let pad = |s: &[usize]| {
        let mut p = vec![1; rank - s.len()];
        p.extend_from_slice(s);
        p
    };
    let (pa, pb) = (pad(a), pad(b));
    pa.iter()
        .zip(&pb)
        .map(|(&x, &y)| match (x, y) {
            _ if x == y => Some(x),
            (1, _) => Some(y),
            (_, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// Flat position in an operand of `shape` that feeds output index `out_idx`.
fn source_flat(out_idx: &[usize], shape: &[usize]) -> usize {
    let pad = out_idx.len() - shape.len();
    let idx: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if d == 1 { 0 } else { out_idx[pad + i] })
        .collect();
    ravel(&idx, shape)
}

fn tensor<T: Float>(data: &[f64], shape: &[usize]) -> Tensor<T> {
    Tensor::from_vec(data.iter().map(|&x| T::from_f64(x)).collect(), shape)
        .expect("strategy makes data match the shape")
}

/// Equal as IEEE values, except that NaN equals NaN.
fn same<T: Float>(got: &[T], want: &[T]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| g == w || (g.is_nan() && w.is_nan()))
}

/// Turns a crate error into a proptest failure carrying its message.
fn ok<V>(r: Result<V>) -> Result<V, TestCaseError> {
    r.map_err(|e| TestCaseError::fail(e.to_string()))
}

// ---------- strategies ----------

fn extents(ranks: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<usize>> {
    vec(prop_oneof![1 => Just(0usize), 6 => 1usize..=4], ranks)
}

/// An operand shape that broadcasts to `out`: some leading dims dropped,
/// some extents replaced by 1.
fn operand_of(out: Vec<usize>) -> impl Strategy<Value = Vec<usize>> {
    let r = out.len();
    (
        prop_oneof![3 => Just(0), 1 => 0..=r],
        vec(prop::bool::weighted(0.3), r),
    )
        .prop_map(move |(drop, ones)| {
            (drop..r)
                .map(|d| if ones[d] { 1 } else { out[d] })
                .collect()
        })
}

/// Any float, with zeros, NaN and infinities now and then.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => (-20i32..20).prop_map(f64::from),
        8 => -1e3f64..1e3,
        1 => Just(0.0),
        1 => Just(-0.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

fn int_value() -> impl Strategy<Value = f64> {
    (-9i32..10).prop_map(f64::from)
}

fn data_for(shape: Vec<usize>) -> impl Strategy<Value = (Vec<usize>, Vec<f64>)> {
    let n = numel(&shape);
    (Just(shape), vec(value(), n))
}

fn int_data_for(shape: Vec<usize>) -> impl Strategy<Value = (Vec<usize>, Vec<f64>)> {
    let n = numel(&shape);
    (Just(shape), vec(int_value(), n))
}

type Operand = (Vec<usize>, Vec<f64>);

/// Two operands that broadcast together, derived from a random output shape.
fn broadcast_pair() -> impl Strategy<Value = (Operand, Operand)> {
    extents(0..=4)
        .prop_flat_map(|out| (operand_of(out.clone()), operand_of(out)))
        .prop_flat_map(|(sa, sb)| (data_for(sa), data_for(sb)))
}

// ---------- binary broadcasting ops ----------

type Method<T> = fn(&Tensor<T>, &Tensor<T>) -> Result<Tensor<T>>;

fn nan_max<T: Float>(x: T, y: T) -> T {
    if x.is_nan() || y.is_nan() {
        T::nan()
    } else {
        x.max(y)
    }
}

fn nan_min<T: Float>(x: T, y: T) -> T {
    if x.is_nan() || y.is_nan() {
        T::nan()
    } else {
        x.min(y)
    }
}

fn zip_example<T: Float>(x: T, y: T) -> T {
    x * x - T::from_f64(3.0) * y
}

/// An op's name, the crate's method, and the scalar function it applies.
type BinaryCase<T> = (&'static str, Method<T>, fn(T, T) -> T);

fn binary_cases<T: Float>() -> Vec<BinaryCase<T>> {
    vec![
        ("add", |a, b| a.add(b), |x, y| x + y),
        ("sub", |a, b| a.sub(b), |x, y| x - y),
        ("mul", |a, b| a.mul(b), |x, y| x * y),
        ("div", |a, b| a.div(b), |x, y| x / y),
        ("maximum", |a, b| a.maximum(b), nan_max),
        ("minimum", |a, b| a.minimum(b), nan_min),
        ("zip_map", |a, b| a.zip_map(b, zip_example), zip_example),
    ]
}

fn check_binary<T: Float>((sa, da): &Operand, (sb, db): &Operand) -> Result<(), TestCaseError> {
    let (a, b) = (tensor::<T>(da, sa), tensor::<T>(db, sb));
    let out = naive_broadcast_shape(sa, sb).expect("strategy makes shapes compatible");
    for (name, method, f) in binary_cases::<T>() {
        for (lhs, rhs, sl, sr, swapped) in [(&a, &b, sa, sb, false), (&b, &a, sb, sa, true)] {
            let got = ok(method(lhs, rhs))?;
            let (xl, xr) = (lhs.as_slice(), rhs.as_slice());
            let want: Vec<T> = (0..numel(&out))
                .map(|k| {
                    let idx = unravel(k, &out);
                    f(xl[source_flat(&idx, sl)], xr[source_flat(&idx, sr)])
                })
                .collect();
            prop_assert_eq!(got.shape(), &out[..], "{} swapped={}", name, swapped);
            prop_assert!(
                same(got.as_slice(), &want),
                "{name} {sl:?} {sr:?}: got {:?}, want {want:?}",
                got.as_slice()
            );
        }
    }
    Ok(())
}

/// `sum_to_shape` of a tensor of the broadcast shape back to `target`: each
/// output element is the sum of the elements it was broadcast to.
fn check_sum_to_shape<T: Float>(
    out: &[usize],
    g: &[f64],
    target: &[usize],
) -> Result<(), TestCaseError> {
    let gt = tensor::<T>(g, out);
    let got = ok(gt.sum_to_shape(target))?;
    let mut want = vec![T::zero(); numel(target)];
    for (k, &x) in gt.as_slice().iter().enumerate() {
        want[source_flat(&unravel(k, out), target)] += x;
    }
    prop_assert_eq!(got.shape(), target);
    prop_assert_eq!(got.as_slice(), &want[..], "{:?} -> {:?}", out, target);
    Ok(())
}

// ---------- axis reductions ----------

/// Reduces every lane along `axis` with `f`, in row-major order of the
/// remaining indices; returns the output shape (with or without the axis).
fn naive_reduce<T: Float>(
    t: &Tensor<T>,
    axis: usize,
    keepdim: bool,
    f: impl Fn(&[T]) -> T,
) -> (Vec<usize>, Vec<T>) {
    let shape = t.shape();
    let mut kept = shape.to_vec();
    kept[axis] = 1;
    let data = (0..numel(&kept))
        .map(|k| {
            let mut idx = unravel(k, &kept);
            let lane: Vec<T> = (0..shape[axis])
                .map(|a| {
                    idx[axis] = a;
                    t.as_slice()[ravel(&idx, shape)]
                })
                .collect();
            f(&lane)
        })
        .collect();
    if !keepdim {
        kept.remove(axis);
    }
    (kept, data)
}

fn lane_sum<T: Float>(l: &[T]) -> T {
    l.iter().fold(T::zero(), |s, &x| s + x)
}

fn lane_mean<T: Float>(l: &[T]) -> T {
    lane_sum(l) / T::from_usize(l.len())
}

fn lane_max<T: Float>(l: &[T]) -> T {
    l.iter().fold(T::neg_infinity(), |m, &x| m.max(x))
}

fn lane_min<T: Float>(l: &[T]) -> T {
    l.iter().fold(T::infinity(), |m, &x| m.min(x))
}

/// The first position holding the maximum.
fn lane_argmax<T: Float>(l: &[T]) -> T {
    let m = lane_max(l);
    T::from_usize(l.iter().position(|&x| x == m).expect("lane not empty"))
}

type AxisMethod<T> = fn(&Tensor<T>, usize, bool) -> Result<Tensor<T>>;

/// An axis reduction's name, the crate's method, and the naive lane reduction.
type AxisCase<T> = (&'static str, AxisMethod<T>, fn(&[T]) -> T);

fn axis_cases<T: Float>() -> Vec<AxisCase<T>> {
    vec![
        ("sum_axis", |t, a, k| t.sum_axis(a, k), lane_sum),
        ("mean_axis", |t, a, k| t.mean_axis(a, k), lane_mean),
        ("max_axis", |t, a, k| t.max_axis(a, k), lane_max),
        ("min_axis", |t, a, k| t.min_axis(a, k), lane_min),
        ("argmax_axis", |t, a, k| t.argmax_axis(a, k), lane_argmax),
    ]
}

fn check_reductions<T: Float>(shape: &[usize], data: &[f64]) -> Result<(), TestCaseError> {
    let t = tensor::<T>(data, shape);
    for (axis, &extent) in shape.iter().enumerate() {
        for keepdim in [false, true] {
            for (name, method, lane) in axis_cases::<T>() {
                // Over an empty axis only the sum has a value (0, as
                // NumPy); max, min, argmax (NumPy raises) and mean (NumPy's
                // NaN with a warning) are errors naming the op and the axis.
                if name != "sum_axis" && extent == 0 {
                    let e = method(&t, axis, keepdim).expect_err("empty axis");
                    let m = e.to_string();
                    prop_assert!(
                        m.starts_with(name) && m.contains(&format!("axis {axis} is empty")),
                        "{m}"
                    );
                    continue;
                }
                let got = ok(method(&t, axis, keepdim))?;
                let (want_shape, want) = naive_reduce(&t, axis, keepdim, lane);
                prop_assert_eq!(got.shape(), &want_shape[..], "{} axis {}", name, axis);
                prop_assert!(
                    same(got.as_slice(), &want),
                    "{name} {shape:?} axis {axis} keepdim {keepdim}: got {:?}, want {want:?}",
                    got.as_slice()
                );
            }
        }
    }
    Ok(())
}

// ---------- properties ----------

proptest! {
    #[test]
    fn binary_ops_match_naive_broadcast_f32((a, b) in broadcast_pair()) {
        check_binary::<f32>(&a, &b)?;
    }

    #[test]
    fn binary_ops_match_naive_broadcast_f64((a, b) in broadcast_pair()) {
        check_binary::<f64>(&a, &b)?;
    }

    #[test]
    fn broadcast_succeeds_exactly_when_numpy_would(sa in extents(0..=4), sb in extents(0..=4)) {
        let (a, b) = (Tensor::<f32>::zeros(&sa)?, Tensor::<f32>::zeros(&sb)?);
        match (a.add(&b), naive_broadcast_shape(&sa, &sb)) {
            (Ok(c), Some(out)) => prop_assert_eq!(c.shape(), &out[..]),
            (Err(e), None) => prop_assert_eq!(
                e.to_string(),
                format!("add: shape mismatch, lhs {sa:?}, rhs {sb:?}")
            ),
            (got, want) => prop_assert!(false, "{sa:?} {sb:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn sum_to_shape_undoes_broadcast(
        ((sa, _), (sb, _), g) in broadcast_pair().prop_flat_map(|(a, b)| {
            let out = naive_broadcast_shape(&a.0, &b.0).expect("compatible");
            (Just(a), Just(b), vec(int_value(), numel(&out)))
        })
    ) {
        let out = naive_broadcast_shape(&sa, &sb).expect("compatible");
        for target in [&sa[..], &sb[..], &out[..], &[]] {
            check_sum_to_shape::<f32>(&out, &g, target)?;
            check_sum_to_shape::<f64>(&out, &g, target)?;
        }
    }

    #[test]
    fn axis_reductions_match_naive((shape, data) in extents(1..=4).prop_flat_map(int_data_for)) {
        check_reductions::<f32>(&shape, &data)?;
        check_reductions::<f64>(&shape, &data)?;
    }

    #[test]
    fn transpose_swaps_last_two_axes((shape, data) in extents(2..=3).prop_flat_map(data_for)) {
        let t = tensor::<f64>(&data, &shape);
        let tt = ok(t.transpose())?;
        let r = shape.len();
        let mut swapped = shape.clone();
        swapped.swap(r - 2, r - 1);
        prop_assert_eq!(tt.shape(), &swapped[..]);
        for k in 0..t.len() {
            let mut idx = unravel(k, &shape);
            let x = t.as_slice()[k];
            idx.swap(r - 2, r - 1);
            let y = tt.get(&idx).expect("index in range");
            prop_assert!(same(&[x], &[y]));
        }
        let back = ok(tt.transpose())?;
        prop_assert_eq!(back.shape(), &shape[..]);
        prop_assert!(same(back.as_slice(), t.as_slice()));
    }

    #[test]
    fn select_rows_gathers_naively(
        ((shape, data), indices) in extents(1..=4).prop_flat_map(data_for).prop_flat_map(|(s, d)| {
            let n = s[0];
            let idx = vec(0..n.max(1), 0..=6).prop_map(move |v| if n == 0 { vec![] } else { v });
            (Just((s, d)), idx)
        })
    ) {
        let t = tensor::<f32>(&data, &shape);
        let got = ok(t.select_rows(&indices))?;
        let row = numel(&shape[1..]);
        let want: Vec<f32> = indices
            .iter()
            .flat_map(|&i| t.as_slice()[i * row..(i + 1) * row].to_vec())
            .collect();
        let mut want_shape = shape.clone();
        want_shape[0] = indices.len();
        prop_assert_eq!(got.shape(), &want_shape[..]);
        prop_assert!(same(got.as_slice(), &want));
    }

    #[test]
    fn slice_rows_of_slice_rows_matches_naive(
        ((shape, data), (s1, e1), (s2, e2)) in extents(1..=4).prop_flat_map(int_data_for)
            .prop_flat_map(|(s, d)| {
                let n = s[0];
                ((Just((s, d))), (0..=n).prop_flat_map(|e| (0..=e, Just(e))))
            })
            .prop_flat_map(|(sd, (s1, e1))| {
                (Just(sd), Just((s1, e1)), (0..=e1 - s1).prop_flat_map(|e| (0..=e, Just(e))))
            })
    ) {
        let t = tensor::<f64>(&data, &shape);
        let row = numel(&shape[1..]);
        let outer = ok(t.slice_rows(s1..e1))?;
        let inner = ok(outer.slice_rows(s2..e2))?;
        let (lo, hi) = (s1 + s2, s1 + e2);
        prop_assert_eq!(outer.as_slice(), &data[s1 * row..e1 * row]);
        prop_assert_eq!(inner.as_slice(), &data[lo * row..hi * row]);
        prop_assert_eq!(inner.shape()[0], e2 - s2);
        // Kernels on a view read only its rows.
        prop_assert_eq!(inner.sum(), data[lo * row..hi * row].iter().sum::<f64>());
        let doubled = ok(inner.add(&inner))?;
        let want: Vec<f64> = data[lo * row..hi * row].iter().map(|x| x + x).collect();
        prop_assert_eq!(doubled.as_slice(), &want[..]);
        let flat = ok(inner.reshape(&[inner.len()]))?;
        prop_assert_eq!(flat.as_slice(), &data[lo * row..hi * row]);
    }

    #[test]
    fn concat_matches_naive(
        (parts, axis) in extents(1..=4).prop_flat_map(|base| {
            let r = base.len();
            (Just(base), 0..r, vec(0usize..=3, 1..=3))
        }).prop_flat_map(|(base, axis, ext)| {
            let parts: Vec<_> = ext.iter().map(|&e| {
                let mut s = base.clone();
                s[axis] = e;
                int_data_for(s)
            }).collect();
            (parts, Just(axis))
        })
    ) {
        let tensors: Vec<Tensor<f32>> = parts.iter().map(|(s, d)| tensor(d, s)).collect();
        let refs: Vec<&Tensor<f32>> = tensors.iter().collect();
        let got = ok(Tensor::concat(&refs, axis))?;
        let mut out = parts[0].0.clone();
        out[axis] = parts.iter().map(|(s, _)| s[axis]).sum();
        prop_assert_eq!(got.shape(), &out[..]);
        for k in 0..numel(&out) {
            let mut idx = unravel(k, &out);
            let mut j = 0;
            while idx[axis] >= parts[j].0[axis] {
                idx[axis] -= parts[j].0[axis];
                j += 1;
            }
            prop_assert_eq!(got.as_slice()[k], tensors[j].as_slice()[ravel(&idx, &parts[j].0)]);
        }
    }

    #[test]
    fn reshape_round_trips((shape, data) in extents(0..=4).prop_flat_map(data_for)) {
        let t = tensor::<f32>(&data, &shape);
        let flat = ok(t.reshape(&[t.len()]))?;
        let reversed: Vec<usize> = shape.iter().rev().copied().collect();
        let rev = ok(flat.reshape(&reversed))?;
        let back = ok(rev.reshape(&shape))?;
        prop_assert_eq!(back.shape(), &shape[..]);
        prop_assert!(same(back.as_slice(), t.as_slice()));
        prop_assert!(same(rev.as_slice(), t.as_slice()));
        prop_assert!(back.shares_storage(&t));
    }
}
