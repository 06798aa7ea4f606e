//! XOR, the classic problem a single layer cannot learn: a 2-8-1 MLP with a
//! tanh hidden layer and a sigmoid output learns it exactly.
//!
//! Run it with `cargo run --release --example xor`.

use tapeflow::prelude::*;

fn main() -> tapeflow::Result<()> {
    let x = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2])?;
    let y = Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], &[4, 1])?;

    let mut model = Sequential::new(&[2])
        .add(Dense::new(8).activation(Activation::Tanh))
        .add(Dense::new(1).activation(Activation::Sigmoid))
        .seed(1);
    model.compile(
        Adam::new(0.05),
        BinaryCrossentropy::new(),
        &[Metric::Accuracy],
    )?;
    let history = model.fit(
        &x,
        &y,
        FitOptions::default().epochs(300).batch_size(4).verbose(0),
    )?;

    let p = model.predict(&x)?;
    let classes = model.predict_classes(&x)?;
    for (i, row) in x.as_slice().chunks(2).enumerate() {
        println!(
            "{} xor {} -> {:.3} (class {})",
            row[0],
            row[1],
            p.as_slice()[i],
            classes[i]
        );
    }
    println!(
        "final loss {:.4}, accuracy {:.4}",
        history.last("loss").unwrap_or(f64::NAN),
        history.last("accuracy").unwrap_or(f64::NAN)
    );
    if classes != [0, 1, 1, 0] {
        eprintln!("error: XOR not learned");
        std::process::exit(1);
    }
    Ok(())
}
