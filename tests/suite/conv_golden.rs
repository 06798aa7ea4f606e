//! Golden forward and backward values of `conv2d`, `max_pool2d`,
//! `avg_pool2d` and batch normalization against PyTorch (float64), from
//! `tests/golden/conv.py`, which wrote `tests/fixtures/conv_golden.json`.
//! Inputs are generated here by the same formulas as in the script, in
//! NHWC / HWIO; the script converted PyTorch's NCHW / OIHW results back.

use serde_json::Value;
use tapeflow::ops::ConvSpec;
use tapeflow::tensor::Padding;
use tapeflow::{GradientTape, Tensor};

fn golden() -> Value {
    let text = include_str!("../fixtures/conv_golden.json");
    serde_json::from_str(text).expect("the committed fixture is valid JSON")
}

fn shape(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("a shape")
        .iter()
        .map(|d| d.as_u64().expect("a dimension") as usize)
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("a list of numbers")
        .iter()
        .map(|d| d.as_f64().expect("a number"))
        .collect()
}

fn seq(shape: &[usize], f: impl Fn(f64) -> f64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|i| f(i as f64)).collect(), shape).expect("length matches")
}

fn x_of(shape: &[usize]) -> Tensor<f64> {
    seq(shape, |i| (0.37 * i + 0.1).sin())
}

fn g_of(shape: &[usize]) -> Tensor<f64> {
    seq(shape, |i| (0.11 * i + 0.3).cos())
}

#[track_caller]
fn close(got: &[f64], want: &Value, what: &str) {
    let want = floats(want);
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-10 * (1.0 + b.abs()),
            "{what}[{i}]: got {a}, PyTorch {b}"
        );
    }
}

#[test]
fn conv2d_matches_pytorch_forward_and_backward() {
    for case in golden()["conv2d"].as_array().expect("cases") {
        let (xs, ws) = (shape(&case["x_shape"]), shape(&case["w_shape"]));
        let pair = |k: &str| {
            let v = shape(&case[k]);
            [v[0], v[1]]
        };
        let padding = if case["padding"] == "same" {
            Padding::Same
        } else {
            Padding::Valid
        };
        let spec = ConvSpec::new()
            .strides(pair("stride"))
            .padding(padding)
            .dilation(pair("dilation"))
            .groups(case["groups"].as_u64().expect("groups") as usize);
        let tape = GradientTape::new();
        let x = tape.watch(&x_of(&xs));
        let w = tape.watch(&seq(&ws, |i| 0.5 * (0.23 * i).cos()));
        let b = tape.watch(&seq(&[ws[3]], |i| 0.1 * i - 0.2));
        let y = x.conv2d(&w, Some(&b), spec).unwrap();
        assert_eq!(y.shape(), shape(&case["y_shape"]));
        close(y.value().as_slice(), &case["y"], "y");
        let g = tape
            .gradient_with(&y, &g_of(&y.shape()), [x, w, b])
            .unwrap();
        close(g.get(x).unwrap().as_slice(), &case["dx"], "dx");
        close(g.get(w).unwrap().as_slice(), &case["dw"], "dw");
        close(g.get(b).unwrap().as_slice(), &case["db"], "db");
    }
}

#[test]
fn pooling_matches_pytorch_forward_and_backward() {
    for case in golden()["pool"].as_array().expect("cases") {
        let xs = shape(&case["x_shape"]);
        let k = case["pool"].as_u64().expect("pool") as usize;
        let s = case["stride"].as_u64().expect("stride") as usize;
        let padding = Padding::from_name(case["padding"].as_str().expect("padding")).unwrap();
        let tape = GradientTape::new();
        let x = tape.watch(&x_of(&xs));
        let y = if case["kind"] == "max" {
            x.max_pool2d([k, k], [s, s], padding).unwrap()
        } else {
            x.avg_pool2d([k, k], [s, s], padding).unwrap()
        };
        assert_eq!(y.shape(), shape(&case["y_shape"]));
        close(y.value().as_slice(), &case["y"], "y");
        let g = tape.gradient_with(&y, &g_of(&y.shape()), [x]).unwrap();
        close(g.get(x).unwrap().as_slice(), &case["dx"], "dx");
    }
}

#[test]
fn batch_norm_matches_pytorch_in_training_and_inference() {
    for case in golden()["batch_norm"].as_array().expect("cases") {
        let xs = shape(&case["x_shape"]);
        let c = xs[3];
        let tape = GradientTape::new();
        let x = tape.watch(&x_of(&xs));
        let gamma = tape.watch(&seq(&[c], |i| 1.0 + 0.25 * i));
        let beta = tape.watch(&seq(&[c], |i| 0.5 - 0.3 * i));
        let mean = Tensor::from_vec(floats(&case["running_mean"]), &[c]).unwrap();
        let var = Tensor::from_vec(floats(&case["running_var"]), &[c]).unwrap();
        let y = if case["training"] == true {
            let (y, batch_mean, _) = x.batch_norm_training(&gamma, &beta, 1e-3).unwrap();
            // Keras's update with momentum 0.99 is PyTorch's with momentum 0.01.
            let moved: Vec<f64> = mean
                .as_slice()
                .iter()
                .zip(batch_mean.as_slice())
                .map(|(m, b)| m * 0.99 + b * 0.01)
                .collect();
            close(&moved, &case["updated_running_mean"], "running_mean");
            y
        } else {
            x.batch_norm_inference(&gamma, &beta, &mean, &var, 1e-3)
                .unwrap()
        };
        close(y.value().as_slice(), &case["y"], "y");
        let g = tape
            .gradient_with(&y, &g_of(&xs), [x, gamma, beta])
            .unwrap();
        close(g.get(x).unwrap().as_slice(), &case["dx"], "dx");
        close(g.get(gamma).unwrap().as_slice(), &case["dgamma"], "dgamma");
        close(g.get(beta).unwrap().as_slice(), &case["dbeta"], "dbeta");
    }
}
