//! Linear regression `y = 0.1·x + 0.3` with an explicit training loop: the
//! way TensorFlow teaches training from scratch, with a `GradientTape`, a
//! loss, `gradient` and `apply_gradients` — no `fit`.
//!
//! A `Dense(1)` layer is used on its own (no model), so every step is visible.
//!
//! Run it with `cargo run --release --example custom_training_loop`.

use tapeflow::layers::{Dense, Layer, Mode};
use tapeflow::optimizers::{Optimizer, Sgd};
use tapeflow::rand::{SeedableRng, rngs::StdRng};
use tapeflow::{GradientTape, Tensor, losses};

fn main() -> tapeflow::Result<()> {
    // 1,000 random points x in [0, 1), y = 0.1·x + 0.3; then the layer's
    // weights from the same random stream (`Layer::build` takes the RNG).
    let mut rng = StdRng::seed_from_u64(7);
    let x = Tensor::<f32>::rand_uniform_with_rng(&[1000, 1], 0.0, 1.0, &mut rng)?;
    let y = x.map(|v| 0.1 * v + 0.3);

    let mut layer = Dense::new(1);
    layer.build(&[1], &mut rng)?;
    let mut optimizer = Sgd::new(0.5);

    let batch = 100;
    for epoch in 0..40 {
        let mut epoch_loss = 0.0;
        for start in (0..1000).step_by(batch) {
            let (xb, yb) = (
                x.slice_rows(start..start + batch)?,
                y.slice_rows(start..start + batch)?,
            );
            // Record the forward pass, then differentiate the loss.
            let tape = GradientTape::new();
            let pred = layer.forward(tape.constant(&xb), Mode::Train)?;
            let loss = losses::mse(&pred, &tape.constant(&yb))?;
            let grads = tape.gradient(&loss, layer.params())?;
            optimizer.apply_gradients(&grads, &mut layer.params_mut())?;
            epoch_loss += loss.value().item()?;
        }
        if epoch % 10 == 9 {
            println!(
                "epoch {:>2}: mean batch loss {:.3e}",
                epoch + 1,
                epoch_loss / 10.0
            );
        }
    }

    let w = layer
        .kernel()
        .map(|k| k.value().item())
        .transpose()?
        .unwrap_or(f32::NAN);
    let b = layer
        .bias()
        .map(|b| b.value().item())
        .transpose()?
        .unwrap_or(f32::NAN);
    println!("learned weight: {w:.4} (true 0.1), bias: {b:.4} (true 0.3)");
    if (w - 0.1).abs() > 0.01 || (b - 0.3).abs() > 0.01 {
        eprintln!("error: the learned parameters are not within 0.01 of (0.1, 0.3)");
        std::process::exit(1);
    }
    Ok(())
}
