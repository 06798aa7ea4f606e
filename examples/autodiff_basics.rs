//! Autodiff basics: one neuron `y = σ(Σᵢ wᵢ xᵢ + b)` on a [`GradientTape`].
//!
//! The example watches the weights `w`, the bias `b` and the inputs `x`,
//! computes the neuron's output, asks the tape for every gradient, and checks
//! each against the formula derived by hand:
//!
//! ```text
//! z = Σᵢ wᵢ xᵢ + b,   y = σ(z),   σ'(z) = σ(z) (1 - σ(z))
//! dy/dwᵢ = σ'(z) xᵢ,  dy/db = σ'(z),  dy/dxᵢ = σ'(z) wᵢ
//! ```
//!
//! It prints both columns and exits with a non-zero status if any pair
//! disagrees by more than `1e-12`.
//!
//! Run it with `cargo run --example autodiff_basics`.

use std::process::ExitCode;

use tapeflow::{GradientTape, Tensor};

fn main() -> Result<ExitCode, tapeflow::Error> {
    let (x, w, b) = ([0.5, -1.0, 2.0], [0.8, 0.3, -0.4], 0.1);

    let tape = GradientTape::<f64>::new();
    let xv = tape.watch(&Tensor::from_vec(x.to_vec(), &[3])?);
    let wv = tape.watch(&Tensor::from_vec(w.to_vec(), &[3])?);
    let bv = tape.watch(&Tensor::scalar(b));
    let y = wv.mul(&xv)?.sum().add(&bv)?.sigmoid();
    let grads = tape.gradient(&y, [wv, bv, xv])?;

    // The hand-derived values.
    let z: f64 = w.iter().zip(&x).map(|(wi, xi)| wi * xi).sum::<f64>() + b;
    let s = 1.0 / (1.0 + (-z).exp());
    let ds = s * (1.0 - s);

    let tape_dw = grads.get(wv).expect("w was asked for").to_vec();
    let tape_dx = grads.get(xv).expect("x was asked for").to_vec();
    let tape_db = grads.get(bv).expect("b was asked for").item()?;
    let mut rows = vec![("y".to_string(), y.value().item()?, s)];
    for i in 0..3 {
        rows.push((format!("dy/dw{i}"), tape_dw[i], ds * x[i]));
    }
    rows.push(("dy/db".to_string(), tape_db, ds));
    for i in 0..3 {
        rows.push((format!("dy/dx{i}"), tape_dx[i], ds * w[i]));
    }

    println!("z = {z}, σ(z) = {s}, σ'(z) = {ds}");
    println!("{:<8} {:>22} {:>22}", "", "tape", "by hand");
    let mut ok = true;
    for (name, tape_value, hand) in &rows {
        let agree = (tape_value - hand).abs() <= 1e-12;
        ok &= agree;
        let mark = if agree { "" } else { "  <-- MISMATCH" };
        println!("{name:<8} {tape_value:>22.16} {hand:>22.16}{mark}");
    }
    if ok {
        println!("all {} values agree", rows.len());
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("the tape disagrees with the hand-derived gradient");
        Ok(ExitCode::FAILURE)
    }
}
