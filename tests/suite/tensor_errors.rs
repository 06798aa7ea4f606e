//! Every shape and argument error of the `Tensor` API (matrix products
//! aside): each test checks the error variant with its fields and the exact
//! message, which starts with the op and carries the shapes involved.

use rand::{SeedableRng, rngs::StdRng};
use tapeflow::{Error, Result, Tensor};

fn t(shape: &[usize]) -> Tensor<f32> {
    Tensor::zeros(shape).unwrap()
}

/// The error of a call that must fail.
fn err<V: std::fmt::Debug>(r: Result<V>) -> Error {
    r.expect_err("the call should fail")
}

// ---------- construction and reshaping ----------

#[test]
fn from_vec_rejects_a_length_that_does_not_fill_the_shape() {
    let e = err(Tensor::from_vec(vec![1.0f32; 5], &[2, 3]));
    assert!(matches!(
        &e,
        Error::ElementCount { op: "from_vec", shape, expected: 6, got: 5 } if shape == &[2, 3]
    ));
    assert_eq!(
        e.to_string(),
        "from_vec: shape [2, 3] needs 6 elements, got 5"
    );

    // A scalar needs exactly one element.
    let e = err(Tensor::from_vec(Vec::<f64>::new(), &[]));
    assert!(matches!(
        &e,
        Error::ElementCount { op: "from_vec", shape, expected: 1, got: 0 } if shape.is_empty()
    ));
    assert_eq!(e.to_string(), "from_vec: shape [] needs 1 elements, got 0");
}

#[test]
fn reshape_rejects_a_different_element_count() {
    let e = err(t(&[2, 3]).reshape(&[4]));
    assert!(matches!(
        &e,
        Error::ElementCount { op: "reshape", shape, expected: 4, got: 6 } if shape == &[4]
    ));
    assert_eq!(e.to_string(), "reshape: shape [4] needs 4 elements, got 6");

    let e = err(t(&[0, 3]).reshape(&[]));
    assert_eq!(e.to_string(), "reshape: shape [] needs 1 elements, got 0");
}

#[test]
fn item_rejects_anything_but_one_element() {
    let e = err(t(&[2, 2]).item());
    assert!(matches!(&e, Error::InvalidArgument { op: "item", .. }));
    assert_eq!(
        e.to_string(),
        "item: expected a tensor with one element, got shape [2, 2]"
    );
    let e = err(t(&[0]).item());
    assert_eq!(
        e.to_string(),
        "item: expected a tensor with one element, got shape [0]"
    );
}

// ---------- broadcasting ----------

type Binary = fn(&Tensor<f32>, &Tensor<f32>) -> Result<Tensor<f32>>;

const BINARY_OPS: [(&str, Binary); 7] = [
    ("add", |a, b| a.add(b)),
    ("sub", |a, b| a.sub(b)),
    ("mul", |a, b| a.mul(b)),
    ("div", |a, b| a.div(b)),
    ("maximum", |a, b| a.maximum(b)),
    ("minimum", |a, b| a.minimum(b)),
    ("zip_map", |a, b| a.zip_map(b, |x, y| x + y)),
];

#[test]
fn every_binary_op_names_itself_and_both_shapes_on_mismatch() {
    let cases: [(&[usize], &[usize]); 4] = [
        (&[2, 3], &[4, 3]),
        (&[3], &[2, 4]),    // different ranks
        (&[0, 3], &[2, 3]), // an empty dim does not broadcast against 2
        (&[2, 1, 3], &[5, 2]),
    ];
    for (name, op) in BINARY_OPS {
        for (sa, sb) in cases {
            let e = err(op(&t(sa), &t(sb)));
            assert!(
                matches!(&e, Error::ShapeMismatch { op, lhs, rhs }
                    if *op == name && lhs == sa && rhs == sb),
                "{name}: {e:?}"
            );
            assert_eq!(
                e.to_string(),
                format!("{name}: shape mismatch, lhs {sa:?}, rhs {sb:?}")
            );
        }
    }
    // The exact text for the canonical case, written out once.
    assert_eq!(
        err(t(&[2, 3]).add(&t(&[4, 3]))).to_string(),
        "add: shape mismatch, lhs [2, 3], rhs [4, 3]"
    );
}

#[test]
#[should_panic(expected = "sub: shape mismatch, lhs [2], rhs [3]")]
fn sub_operator_panics_with_the_error_message() {
    let _ = t(&[2]) - t(&[3]);
}

#[test]
#[should_panic(expected = "mul: shape mismatch, lhs [2, 3], rhs [4, 3]")]
fn mul_operator_panics_with_the_error_message() {
    let _ = &t(&[2, 3]) * &t(&[4, 3]);
}

#[test]
#[should_panic(expected = "div: shape mismatch, lhs [0], rhs [2]")]
fn div_operator_panics_with_the_error_message() {
    let _ = &t(&[0]) / &t(&[2]);
}

#[test]
fn sum_to_shape_rejects_shapes_that_do_not_broadcast_to_the_source() {
    let g = t(&[4, 3]);
    for target in [&[2][..], &[2, 4, 3], &[4, 2], &[5, 1]] {
        let e = err(g.sum_to_shape(target));
        assert!(
            matches!(&e, Error::ShapeMismatch { op: "sum_to_shape", lhs, rhs }
                if lhs == &[4, 3] && rhs == target),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!("sum_to_shape: shape mismatch, lhs [4, 3], rhs {target:?}")
        );
    }
    assert_eq!(
        err(t(&[1, 3]).sum_to_shape(&[5, 1])).to_string(),
        "sum_to_shape: shape mismatch, lhs [1, 3], rhs [5, 1]"
    );
}

// ---------- reductions ----------

type AxisOp = fn(&Tensor<f32>, usize, bool) -> Result<Tensor<f32>>;

const AXIS_OPS: [(&str, AxisOp); 5] = [
    ("sum_axis", |x, a, k| x.sum_axis(a, k)),
    ("mean_axis", |x, a, k| x.mean_axis(a, k)),
    ("max_axis", |x, a, k| x.max_axis(a, k)),
    ("min_axis", |x, a, k| x.min_axis(a, k)),
    ("argmax_axis", |x, a, k| x.argmax_axis(a, k)),
];

#[test]
fn every_axis_reduction_rejects_an_axis_out_of_range() {
    for (name, op) in AXIS_OPS {
        for keepdim in [false, true] {
            let e = err(op(&t(&[3, 4]), 2, keepdim));
            assert!(
                matches!(&e, Error::AxisOutOfRange { op, axis: 2, shape }
                    if *op == name && shape == &[3, 4]),
                "{e:?}"
            );
            assert_eq!(
                e.to_string(),
                format!("{name}: axis 2 out of range for shape [3, 4]")
            );
            // A scalar has no axis at all.
            let e = err(op(&Tensor::scalar(1.0), 0, keepdim));
            assert_eq!(
                e.to_string(),
                format!("{name}: axis 0 out of range for shape []")
            );
        }
    }
}

#[test]
fn argmax_axis_rejects_an_empty_axis() {
    let e = err(t(&[2, 0]).argmax_axis(1, false));
    assert!(matches!(
        &e,
        Error::InvalidArgument {
            op: "argmax_axis",
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        "argmax_axis: axis 1 is empty in shape [2, 0], and the reduction has no value for it"
    );
    // An empty axis elsewhere is fine: the result is simply empty.
    assert_eq!(t(&[0, 3]).argmax_axis(1, true).unwrap().shape(), &[0, 1]);
}

// ---------- shape operations ----------

#[test]
fn transpose_rejects_ranks_other_than_two_and_three() {
    for shape in [&[4][..], &[2, 3, 4, 5], &[]] {
        let e = err(t(shape).transpose());
        assert!(
            matches!(&e, Error::RankMismatch { op: "transpose", expected: "a 2-d or 3-d tensor", shape: s }
                if s == shape),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!("transpose: expected a 2-d or 3-d tensor, got shape {shape:?}")
        );
    }
}

#[test]
fn select_rows_rejects_an_index_past_the_first_axis() {
    let x = t(&[3, 2]);
    let e = err(x.select_rows(&[0, 3, 1]));
    assert!(matches!(
        &e,
        Error::IndexOutOfRange {
            op: "select_rows",
            index: 3,
            len: 3
        }
    ));
    assert_eq!(
        e.to_string(),
        "select_rows: index 3 out of range for length 3"
    );
    assert_eq!(
        err(t(&[0, 2]).select_rows(&[0])).to_string(),
        "select_rows: index 0 out of range for length 0"
    );
}

#[test]
fn select_rows_and_slice_rows_reject_a_scalar() {
    let s = Tensor::scalar(1.0f32);
    let e = err(s.select_rows(&[0]));
    assert!(matches!(
        &e,
        Error::RankMismatch { op: "select_rows", shape, .. } if shape.is_empty()
    ));
    assert_eq!(
        e.to_string(),
        "select_rows: expected a tensor of rank 1 or more, got shape []"
    );
    assert_eq!(
        err(s.slice_rows(0..1)).to_string(),
        "slice_rows: expected a tensor of rank 1 or more, got shape []"
    );
}

#[test]
fn slice_rows_rejects_a_range_past_the_end_or_reversed() {
    let x = t(&[4, 2]);
    let e = err(x.slice_rows(2..5));
    assert!(matches!(
        &e,
        Error::IndexOutOfRange {
            op: "slice_rows",
            index: 5,
            len: 4
        }
    ));
    assert_eq!(
        e.to_string(),
        "slice_rows: index 5 out of range for length 4"
    );

    // A reversed range names its start.
    #[allow(clippy::reversed_empty_ranges)]
    let e = err(x.slice_rows(3..1));
    assert!(matches!(
        &e,
        Error::IndexOutOfRange {
            op: "slice_rows",
            index: 3,
            len: 4
        }
    ));
    assert_eq!(
        e.to_string(),
        "slice_rows: index 3 out of range for length 4"
    );

    // Rows of a slice are counted from the slice, not the storage.
    let view = x.slice_rows(1..3).unwrap();
    assert_eq!(
        err(view.slice_rows(0..3)).to_string(),
        "slice_rows: index 3 out of range for length 2"
    );
}

#[test]
fn concat_rejects_an_empty_list() {
    let e = err(Tensor::<f32>::concat(&[], 0));
    assert!(matches!(&e, Error::InvalidArgument { op: "concat", .. }));
    assert_eq!(e.to_string(), "concat: needs at least one tensor");
}

#[test]
fn concat_rejects_an_axis_out_of_range() {
    let a = t(&[2, 3]);
    let e = err(Tensor::concat(&[&a, &a], 2));
    assert!(matches!(
        &e,
        Error::AxisOutOfRange { op: "concat", axis: 2, shape } if shape == &[2, 3]
    ));
    assert_eq!(
        e.to_string(),
        "concat: axis 2 out of range for shape [2, 3]"
    );
    let s = Tensor::scalar(1.0f32);
    assert_eq!(
        err(Tensor::concat(&[&s, &s], 0)).to_string(),
        "concat: axis 0 out of range for shape []"
    );
}

#[test]
fn concat_names_the_first_tensor_and_the_first_misfit() {
    let (a, b, c) = (t(&[2, 3]), t(&[5, 3]), t(&[2, 4]));
    // Extents off the axis differ: [2, 4] does not fit [2, 3] along axis 0.
    let e = err(Tensor::concat(&[&a, &b, &c], 0));
    assert!(matches!(
        &e,
        Error::ShapeMismatch { op: "concat", lhs, rhs } if lhs == &[2, 3] && rhs == &[2, 4]
    ));
    assert_eq!(
        e.to_string(),
        "concat: shape mismatch, lhs [2, 3], rhs [2, 4]"
    );
    // Along axis 1, [5, 3] is the misfit.
    assert_eq!(
        err(Tensor::concat(&[&a, &c, &b], 1)).to_string(),
        "concat: shape mismatch, lhs [2, 3], rhs [5, 3]"
    );
    // Different ranks never fit.
    assert_eq!(
        err(Tensor::concat(&[&a, &t(&[3])], 0)).to_string(),
        "concat: shape mismatch, lhs [2, 3], rhs [3]"
    );
}

// ---------- random constructors ----------

#[test]
fn rand_uniform_rejects_low_above_high_and_non_finite_bounds() {
    let mut rng = StdRng::seed_from_u64(0);
    let e = err(Tensor::<f32>::rand_uniform_with_rng(
        &[2],
        2.0,
        1.0,
        &mut rng,
    ));
    assert!(matches!(
        &e,
        Error::InvalidArgument {
            op: "rand_uniform",
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        "rand_uniform: needs finite low <= high, got low 2, high 1"
    );
    let cases = [
        (f64::NAN, 1.0, "got low NaN, high 1"),
        (0.0, f64::INFINITY, "got low 0, high inf"),
        (f64::NEG_INFINITY, 0.5, "got low -inf, high 0.5"),
    ];
    for (low, high, tail) in cases {
        let e = err(Tensor::<f64>::rand_uniform_with_rng(
            &[2],
            low,
            high,
            &mut rng,
        ));
        assert_eq!(
            e.to_string(),
            format!("rand_uniform: needs finite low <= high, {tail}")
        );
    }
}

#[test]
fn rand_normal_rejects_negative_or_non_finite_parameters() {
    let mut rng = StdRng::seed_from_u64(0);
    let e = err(Tensor::<f32>::rand_normal_with_rng(
        &[2],
        0.0,
        -1.0,
        &mut rng,
    ));
    assert!(matches!(
        &e,
        Error::InvalidArgument {
            op: "rand_normal",
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        "rand_normal: needs a finite mean and a finite std >= 0, got mean 0, std -1"
    );
    let cases = [
        (0.0, f64::NAN, "got mean 0, std NaN"),
        (0.0, f64::INFINITY, "got mean 0, std inf"),
        (f64::NAN, 1.0, "got mean NaN, std 1"),
        (f64::NEG_INFINITY, 1.0, "got mean -inf, std 1"),
    ];
    for (mean, std, tail) in cases {
        let e = err(Tensor::<f64>::rand_normal_with_rng(
            &[2],
            mean,
            std,
            &mut rng,
        ));
        assert_eq!(
            e.to_string(),
            format!("rand_normal: needs a finite mean and a finite std >= 0, {tail}")
        );
    }
}
