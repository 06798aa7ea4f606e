//! A model saved by one process loads in another and predicts bit for bit
//! the same: nothing the file needs lives only in the saving process
//! (parameter ids, RNG state, caches).
//!
//! `parent_saves_and_child_process_reloads` trains and saves a model and its
//! predictions, then runs this test binary again, filtered to
//! `child_loads_and_compares`, with the paths in environment variables.
//! The child test does nothing when the variables are absent (a plain
//! `cargo test` run) and asserts when they are present; the parent asserts
//! the child's exit status and the marker file it writes after comparing.

use std::path::PathBuf;
use std::process::Command;

use tapeflow::Result;
use tapeflow::prelude::*;

const MODEL_VAR: &str = "TAPEFLOW_FRESH_MODEL";
const PRED_VAR: &str = "TAPEFLOW_FRESH_PREDICTIONS";
const DONE_VAR: &str = "TAPEFLOW_FRESH_DONE";

fn inputs() -> Tensor<f32> {
    Tensor::from_vec(
        (0..30).map(|i| ((i * 13 % 7) as f32 - 3.0) / 2.0).collect(),
        &[10, 3],
    )
    .expect("shape")
}

fn to_bytes(t: &Tensor<f32>) -> Vec<u8> {
    t.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn parent_saves_and_child_process_reloads() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("tapeflow_fresh_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let (model_path, pred_path, done_path) = (
        dir.join("model.safetensors"),
        dir.join("predictions.bin"),
        dir.join("done"),
    );

    let x = inputs();
    let y = x.map(|v| v.sin());
    let mut model = Sequential::new(&[3])
        .add(Dense::new(8).activation(Activation::Tanh))
        .add(Dropout::new(0.25))
        .add(Dense::new(3))
        .seed(21);
    model.compile(Adam::new(0.01), MeanSquaredError, &[])?;
    model.fit(
        &x,
        &y,
        FitOptions::default().epochs(5).batch_size(4).verbose(0),
    )?;
    model.save(&model_path)?;
    std::fs::write(&pred_path, to_bytes(&model.predict(&x)?)).expect("write predictions");

    let exe = std::env::current_exe().expect("test binary");
    let output = Command::new(exe)
        .args([
            "persist_fresh_process::child_loads_and_compares",
            "--exact",
            "--test-threads=1",
        ])
        .env(MODEL_VAR, &model_path)
        .env(PRED_VAR, &pred_path)
        .env(DONE_VAR, &done_path)
        .output()
        .expect("spawn child");
    let marker = std::fs::read_to_string(&done_path).ok();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        marker.as_deref(),
        Some("identical"),
        "the child ran the comparison"
    );
    Ok(())
}

#[test]
fn child_loads_and_compares() -> Result<()> {
    let (Some(model_path), Some(pred_path), Some(done_path)) = (
        std::env::var_os(MODEL_VAR),
        std::env::var_os(PRED_VAR),
        std::env::var_os(DONE_VAR),
    ) else {
        return Ok(()); // not spawned by the parent test
    };
    let model = Sequential::load(PathBuf::from(model_path))?;
    let expected = std::fs::read(pred_path).expect("read predictions");
    let got = to_bytes(&model.predict(&inputs())?);
    assert_eq!(got, expected, "predictions differ in the fresh process");
    std::fs::write(done_path, "identical").expect("write marker");
    Ok(())
}
