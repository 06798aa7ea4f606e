//! Bad inputs to the differentiable ops on `Var`: every case is an `Err`
//! whose message starts with the op and names the offending shape, axis,
//! index or value. Also: NaN propagates through every op and activation,
//! the gradient conventions at edge points are PyTorch's, and the operator
//! sugar panics at the caller's line.

use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use tapeflow::{Activation, GradientTape, Tensor, Var};

fn t(data: &[f32], shape: &[usize]) -> Tensor<f32> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

fn zeros(shape: &[usize]) -> Tensor<f32> {
    Tensor::zeros(shape).unwrap()
}

/// Asserts `r` is an error starting with `op: ` and containing each needle.
fn assert_err<X: std::fmt::Debug>(r: tapeflow::Result<X>, op: &str, needles: &[&str]) {
    let msg = r.expect_err("must be an error").to_string();
    assert!(
        msg.starts_with(&format!("{op}: ")),
        "{msg:?} does not start with {op}"
    );
    for n in needles {
        assert!(msg.contains(n), "{msg:?} lacks {n:?}");
    }
}

#[test]
fn binary_ops_name_both_shapes() {
    let tape = GradientTape::new();
    let a = tape.watch(&zeros(&[2, 3]));
    let b = tape.watch(&zeros(&[4, 5]));
    assert_err(a.add(&b), "add", &["[2, 3]", "[4, 5]"]);
    assert_err(a.sub(&b), "sub", &["[2, 3]", "[4, 5]"]);
    assert_err(a.mul(&b), "mul", &["[2, 3]", "[4, 5]"]);
    assert_err(a.div(&b), "div", &["[2, 3]", "[4, 5]"]);
    assert_err(a.matmul(&a), "matmul", &["[2, 3]"]);
    assert_err(
        a.squared_difference(&b),
        "squared_difference",
        &["[2, 3]", "[4, 5]"],
    );
}

#[test]
fn operands_on_two_tapes_are_refused_naming_the_op() {
    let (t1, t2) = (GradientTape::new(), GradientTape::new());
    let a = t1.watch(&zeros(&[2]));
    let b = t2.watch(&zeros(&[2]));
    let two = [a, a];
    assert_err(a.add(&b), "add", &["different tapes"]);
    assert_err(a.sub(&b), "sub", &["different tapes"]);
    assert_err(a.mul(&b), "mul", &["different tapes"]);
    assert_err(a.div(&b), "div", &["different tapes"]);
    assert_err(a.matmul(&b), "matmul", &["different tapes"]);
    assert_err(a.linear(&b, None), "linear", &["different tapes"]);
    assert_err(
        a.squared_difference(&b),
        "squared_difference",
        &["different tapes"],
    );
    assert_err(
        a.sigmoid_cross_entropy_with_logits(&b),
        "sigmoid_cross_entropy_with_logits",
        &["different tapes"],
    );
    assert_err(
        a.softmax_cross_entropy_with_logits(&b),
        "softmax_cross_entropy_with_logits",
        &["different tapes"],
    );
    assert_err(Var::concat(&[two[0], b], 0), "concat", &["different tapes"]);
}

#[test]
fn products_name_the_shapes() {
    let tape = GradientTape::new();
    let x = tape.watch(&zeros(&[2, 3]));
    let w_bad = tape.watch(&zeros(&[4, 5]));
    let w = tape.watch(&zeros(&[3, 5]));
    let bias_bad = tape.watch(&zeros(&[4]));
    let scalar = tape.watch(&Tensor::scalar(1.0));
    assert_err(x.matmul(&w_bad), "matmul", &["[2, 3]", "[4, 5]"]);
    assert_err(x.matmul(&scalar), "matmul", &["[2, 3]", "[]"]);
    assert_err(x.linear(&w_bad, None), "linear", &["[2, 3]", "[4, 5]"]);
    assert_err(x.linear(&scalar, None), "linear", &["[2, 3]", "[]"]);
    assert_err(scalar.linear(&w, None), "linear", &["[]", "[3, 5]"]);
    assert_err(x.linear(&w, Some(&bias_bad)), "linear", &["[5]", "[4]"]);
}

#[test]
fn shape_ops_name_the_shape() {
    let tape = GradientTape::new();
    let x = tape.watch(&zeros(&[2, 3]));
    let y = tape.watch(&zeros(&[2, 4]));
    assert_err(x.reshape(&[4, 2]), "reshape", &["[4, 2]", "6"]);
    assert_err(
        x.reshape(&[usize::MAX, 2]),
        "reshape",
        &["[18446744073709551615, 2]"],
    );
    assert_err(x.select_rows(&[0, 5]), "select_rows", &["5"]);
    assert_err(
        x.select_rows(&[usize::MAX]),
        "select_rows",
        &["18446744073709551615"],
    );
    assert_err(Var::<f32>::concat(&[], 0), "concat", &["at least one"]);
    assert_err(Var::concat(&[x, y], 0), "concat", &["[2, 3]", "[2, 4]"]);
    assert_err(Var::concat(&[x, y], 2), "concat", &["axis 2"]);
}

#[test]
fn reductions_name_the_axis_and_refuse_empty_axes() {
    let tape = GradientTape::new();
    let x = tape.watch(&zeros(&[2, 3]));
    let empty = tape.watch(&zeros(&[2, 0]));
    assert_err(x.sum_axis(2, false), "sum_axis", &["axis 2", "[2, 3]"]);
    assert_err(x.mean_axis(2, false), "mean_axis", &["axis 2", "[2, 3]"]);
    assert_err(x.max_axis(5, true), "max_axis", &["axis 5", "[2, 3]"]);
    assert_err(
        empty.mean_axis(1, false),
        "mean_axis",
        &["axis 1 of shape [2, 0] is empty", "no mean"],
    );
    assert_err(
        empty.max_axis(1, true),
        "max_axis",
        &["axis 1 of shape [2, 0] is empty", "no maximum"],
    );
    assert_err(x.softmax(2), "softmax", &["axis 2", "[2, 3]"]);
    assert_err(x.log_softmax(7), "log_softmax", &["axis 7", "[2, 3]"]);
    // An empty axis that is not reduced is fine.
    assert_eq!(empty.mean_axis(0, false).unwrap().shape(), vec![0]);
}

#[test]
fn fused_loss_kernels_name_shapes_and_labels() {
    let tape = GradientTape::new();
    let z = tape.watch(&zeros(&[2, 3]));
    let y = tape.watch(&zeros(&[2, 4]));
    let no_classes = tape.watch(&zeros(&[2, 0]));
    let op = "softmax_cross_entropy_with_logits";
    assert_err(
        z.softmax_cross_entropy_with_logits(&y),
        op,
        &["[2, 3]", "[2, 4]"],
    );
    assert_err(
        no_classes.softmax_cross_entropy_with_logits(&no_classes),
        op,
        &["[2, 0]"],
    );
    let op = "sparse_softmax_cross_entropy_with_logits";
    assert_err(
        z.sparse_softmax_cross_entropy_with_logits(&[0]),
        op,
        &["[2]", "got 1"],
    );
    assert_err(
        z.sparse_softmax_cross_entropy_with_logits(&[0, 3]),
        op,
        &["index 3", "length 3"],
    );
    assert_err(
        no_classes.sparse_softmax_cross_entropy_with_logits(&[0, 0]),
        op,
        &["[2, 0]"],
    );
    let op = "sigmoid_cross_entropy_with_logits";
    assert_err(
        z.sigmoid_cross_entropy_with_logits(&y),
        op,
        &["[2, 3]", "[2, 4]"],
    );
}

#[test]
fn activations_refuse_alpha_that_is_not_finite_in_the_element_type() {
    let tape = GradientTape::<f32>::new();
    let x = tape.watch(&zeros(&[2]));
    let big = 1e39.to_string();
    let cases = [
        (
            Activation::LeakyRelu { alpha: 1e39 },
            "leaky_relu",
            big.as_str(),
        ),
        (
            Activation::LeakyRelu { alpha: f64::NAN },
            "leaky_relu",
            "NaN",
        ),
        (Activation::LeakyRelu { alpha: -0.1 }, "leaky_relu", "-0.1"),
        (
            Activation::Elu {
                alpha: f64::INFINITY,
            },
            "elu",
            "inf",
        ),
        (
            Activation::Elu { alpha: -1e39 },
            "elu",
            "-1000000000000000000000000000000000000000",
        ),
    ];
    for (act, op, shown) in cases {
        assert_err(
            act.apply(x),
            op,
            &["alpha must be", "in f32", &format!("got {shown}")],
        );
    }
    // 1e39 is fine in f64.
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&Tensor::from_vec(vec![-1.0], &[1]).unwrap());
    let y = Activation::LeakyRelu { alpha: 1e39 }.apply(x).unwrap();
    assert_eq!(y.value().to_vec(), vec![-1e39]);
}

#[test]
fn softmax_of_a_scalar_is_an_error() {
    let tape = GradientTape::<f32>::new();
    let x = tape.watch(&Tensor::scalar(1.0));
    assert_err(Activation::Softmax.apply(x), "softmax", &["axis 0", "[]"]);
    assert_err(
        Activation::LogSoftmax.apply(x),
        "softmax",
        &["axis 0", "[]"],
    );
}

#[test]
fn gradient_check_settings_are_checked() {
    use tapeflow::testing::{GradCheck, check_gradient};
    let x = [Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap()];
    let cases = [
        (
            GradCheck {
                epsilon: 0.0,
                ..GradCheck::default()
            },
            "epsilon must be finite and > 0, got 0",
        ),
        (
            GradCheck {
                epsilon: f64::NAN,
                ..GradCheck::default()
            },
            "epsilon must be finite and > 0, got NaN",
        ),
        (
            GradCheck {
                atol: -1.0,
                ..GradCheck::default()
            },
            "atol must be finite and >= 0, got -1",
        ),
        (
            GradCheck {
                rtol: f64::INFINITY,
                ..GradCheck::default()
            },
            "rtol must be finite and >= 0, got inf",
        ),
    ];
    for (options, want) in cases {
        let err = check_gradient(|_, v| Ok(v[0].square()), &x, options).unwrap_err();
        assert_eq!(err.to_string(), format!("check_gradient: {want}"));
    }
}

// NaN propagation ------------------------------------------------------------

fn every_activation() -> Vec<Activation> {
    vec![
        Activation::Linear,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
        Activation::LogSoftmax,
        Activation::LeakyRelu { alpha: 0.2 },
        Activation::Elu { alpha: 1.0 },
        Activation::Selu,
        Activation::Gelu,
        Activation::Silu,
        Activation::Softplus,
        Activation::Softsign,
        Activation::HardSigmoid,
    ]
}

#[test]
fn nan_propagates_through_every_activation() {
    for act in every_activation() {
        let tape = GradientTape::<f32>::new();
        let x = tape.watch(&t(&[f32::NAN, 1.0], &[1, 2]));
        let y = act.apply(x).unwrap().value().to_vec();
        assert!(y[0].is_nan(), "{act}: NaN became {}", y[0]);
    }
}

#[test]
fn nan_propagates_through_clamp_max_and_elementwise_ops() {
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&Tensor::from_vec(vec![f64::NAN, 2.0, 0.5], &[1, 3]).unwrap());
    let first = |v: Var<'_, f64>| v.value().to_vec()[0];
    assert!(first(x.clamp(0.0, 1.0)).is_nan());
    assert!(first(x.max_axis(1, false).unwrap()).is_nan());
    assert!(first(x.abs()).is_nan());
    assert!(first(x.powf(2.0)).is_nan());
    assert!(first(x.sqrt()).is_nan());
    assert!(first(x.exp()).is_nan());
    assert!(first(x.ln()).is_nan());
    assert!(first(x.square()).is_nan());
    assert!(first(x.sum_axis(1, false).unwrap()).is_nan());
    assert!(first(x.mean_axis(1, false).unwrap()).is_nan());
    assert!(first(x.sum()).is_nan());
    let y = x.softmax(1).unwrap().value().to_vec();
    assert!(y.iter().all(|v| v.is_nan()), "{y:?}");
    // A NaN bound of clamp gives NaN, as PyTorch.
    assert!(
        x.clamp(f64::NAN, 1.0)
            .value()
            .to_vec()
            .iter()
            .all(|v| v.is_nan())
    );
}

proptest! {
    #[test]
    fn nan_anywhere_in_the_input_stays_nan_in_elementwise_activations(
        values in prop::collection::vec(-50.0f32..50.0, 1..8),
        at in 0usize..8,
    ) {
        let mut values = values;
        let at = at % values.len();
        values[at] = f32::NAN;
        for act in every_activation() {
            if matches!(act, Activation::Softmax | Activation::LogSoftmax) {
                continue; // they mix the row: tested above
            }
            let tape = GradientTape::<f32>::new();
            let x = tape.watch(&t(&values, &[1, values.len()]));
            let y = act.apply(x).unwrap().value().to_vec();
            for (k, v) in y.iter().enumerate() {
                prop_assert_eq!(v.is_nan(), k == at, "{} at {}: {:?}", act, k, y);
            }
        }
    }
}

// Gradient conventions at edge points (PyTorch's; tests/golden/edge_gradients.py
// prints the same values from torch 2.15). ----------------------------------

fn grad_at(x0: f64, f: impl for<'t> Fn(Var<'t, f64>) -> Var<'t, f64>) -> f64 {
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&Tensor::scalar(x0));
    let g = tape.gradient(&f(x), [x]).unwrap();
    g.get(x).unwrap().item().unwrap()
}

#[test]
fn gradients_at_edge_points_follow_pytorch() {
    let inf = f64::INFINITY;
    let cases: Vec<(&str, f64, f64)> = vec![
        ("relu at 0", grad_at(0.0, |x| x.relu()), 0.0),
        ("abs at 0", grad_at(0.0, |x| x.abs()), 0.0),
        (
            "leaky_relu(0.1) at 0",
            grad_at(0.0, |x| x.leaky_relu(0.1)),
            0.1,
        ),
        ("elu(0.5) at 0", grad_at(0.0, |x| x.elu(0.5)), 0.5),
        ("hard_sigmoid at 3", grad_at(3.0, |x| x.hard_sigmoid()), 0.0),
        (
            "hard_sigmoid at -3",
            grad_at(-3.0, |x| x.hard_sigmoid()),
            0.0,
        ),
        ("clamp(0, 1) at 0", grad_at(0.0, |x| x.clamp(0.0, 1.0)), 0.0),
        ("clamp(0, 1) at 1", grad_at(1.0, |x| x.clamp(0.0, 1.0)), 0.0),
        (
            "clamp(0, 1) at 0.5",
            grad_at(0.5, |x| x.clamp(0.0, 1.0)),
            1.0,
        ),
        ("powf(0) at 0", grad_at(0.0, |x| x.powf(0.0)), 0.0),
        ("powf(0) at 2", grad_at(2.0, |x| x.powf(0.0)), 0.0),
        ("powf(1) at 0", grad_at(0.0, |x| x.powf(1.0)), 1.0),
        ("powf(2) at 0", grad_at(0.0, |x| x.powf(2.0)), 0.0),
        ("powf(0.5) at 0", grad_at(0.0, |x| x.powf(0.5)), inf),
        ("powf(-1) at 0", grad_at(0.0, |x| x.powf(-1.0)), -inf),
        ("sqrt at 0", grad_at(0.0, |x| x.sqrt()), inf),
        ("ln at 0", grad_at(0.0, |x| x.ln()), inf),
        ("softplus at 0", grad_at(0.0, |x| x.softplus()), 0.5),
        ("sigmoid at 1000", grad_at(1000.0, |x| x.sigmoid()), 0.0),
        ("tanh at -1000", grad_at(-1000.0, |x| x.tanh()), 0.0),
    ];
    for (what, got, want) in cases {
        assert_eq!(got, want, "{what}");
    }
    // max ties share equally, as torch.amax.
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&Tensor::from_vec(vec![1.0, 1.0], &[1, 2]).unwrap());
    let g = tape
        .gradient(&x.max_axis(1, false).unwrap().sum(), [x])
        .unwrap();
    assert_eq!(g.get(x).unwrap().to_vec(), vec![0.5, 0.5]);
}

#[test]
fn clamp_with_min_above_max_gives_max_as_pytorch() {
    let tape = GradientTape::<f32>::new();
    let x = tape.watch(&t(&[-5.0, 0.5, 5.0], &[3]));
    assert_eq!(x.clamp(1.0, 0.0).value().to_vec(), vec![0.0, 0.0, 0.0]);
}

// Operator sugar panics at the caller's line. --------------------------------

/// Runs `f`, which must panic, and returns the panic's location and message.
fn panic_site(f: impl FnOnce()) -> (String, u32, String) {
    let seen: Arc<Mutex<Option<(String, u32)>>> = Arc::new(Mutex::new(None));
    let hook_seen = Arc::clone(&seen);
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if let Some(loc) = info.location() {
            *hook_seen.lock().unwrap() = Some((loc.file().to_string(), loc.line()));
        }
    }));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(previous);
    let payload = result.expect_err("the operator must panic");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    let (file, line) = seen
        .lock()
        .unwrap()
        .clone()
        .expect("the hook saw the panic");
    (file, line, message)
}

#[test]
fn operator_sugar_panics_at_the_callers_line() {
    let tape = GradientTape::<f32>::new();
    let a = tape.watch(&zeros(&[2, 3]));
    let b = tape.watch(&zeros(&[4]));
    type Op = for<'a, 'b> fn(&'a Var<'b, f32>, &'a Var<'b, f32>) -> Var<'b, f32>;
    let by_ref: [(&str, Op); 4] = [
        ("add", |x, y| x + y),
        ("sub", |x, y| x - y),
        ("mul", |x, y| x * y),
        ("div", |x, y| x / y),
    ];
    for (name, op) in by_ref {
        let here = Location::caller();
        let (file, line, message) = panic_site(|| {
            op(&a, &b);
        });
        assert_eq!(file, here.file(), "{name}");
        // The closure's body is on the line of the table entry, above here.
        assert!(line < here.line(), "{name}: line {line}");
        assert_eq!(
            message,
            format!("{name}: shape mismatch, lhs [2, 3], rhs [4]")
        );
    }
    // By value: the panic points at the line of the operator.
    let here = line!();
    let (file, line, _) = panic_site(|| {
        let _ = a + b;
    });
    assert_eq!((file.as_str(), line), (file!(), here + 2));
    let (_, line, _) = panic_site(|| {
        let _ = a / b;
    });
    assert_eq!(line, here + 6);
}
