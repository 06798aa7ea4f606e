//! Saving and loading: bit-identical predictions after `save`/`load`,
//! training resumed from a file matching training straight through, compile
//! settings and history kept, weights files, and PyTorch weights imported.

use std::path::PathBuf;

use tapeflow::models::WeightMap;
use tapeflow::prelude::*;
use tapeflow::{Float, Result};

/// A fresh path in the temp folder, removed on drop.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        TempPath(std::env::temp_dir().join(format!(
            "tapeflow_persist_{tag}_{}_{n}.safetensors",
            std::process::id()
        )))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Inputs `[rows, 4]` and one-hot targets `[rows, 3]`, deterministic.
fn data<T: Float>(rows: usize) -> (Tensor<T>, Tensor<T>) {
    let x: Vec<T> = (0..rows * 4)
        .map(|i| T::from_f64(((i * 37 % 23) as f64 - 11.0) / 7.0))
        .collect();
    let mut y = vec![T::from_f64(0.0); rows * 3];
    for r in 0..rows {
        y[r * 3 + (r * 7 % 3)] = T::from_f64(1.0);
    }
    (
        Tensor::from_vec(x, &[rows, 4]).expect("shape"),
        Tensor::from_vec(y, &[rows, 3]).expect("shape"),
    )
}

fn classifier<T: Float>() -> Sequential<T> {
    Sequential::<T>::new_typed(&[4])
        .add(Dense::new(16).activation(Activation::Gelu))
        .add(Dropout::new(0.3))
        .add(Dense::new(8).activation(Activation::Tanh))
        .add(Dense::new(8).activation(Activation::LeakyRelu { alpha: 0.1 }))
        .add(Dense::new(3).activation(Activation::Softmax))
        .seed(11)
        .name("clf")
}

fn bits<T: Float>(t: &Tensor<T>) -> Vec<u64> {
    t.as_slice()
        .iter()
        .map(|&v| Float::to_f64(v).to_bits())
        .collect()
}

fn roundtrip_predicts_identically<T: Float>() -> Result<()> {
    let (x, y) = data::<T>(40);
    let mut model = classifier::<T>();
    model.compile(
        Adam::new(0.01),
        CategoricalCrossentropy::default(),
        &[Metric::Accuracy],
    )?;
    model.fit(
        &x,
        &y,
        FitOptions::default().epochs(3).batch_size(8).verbose(0),
    )?;
    let path = TempPath::new(T::NAME);
    model.save(&path.0)?;
    let again = Sequential::<T>::load_typed(&path.0)?;
    assert_eq!(bits(&model.predict(&x)?), bits(&again.predict(&x)?));
    assert_eq!(again.summary(), model.summary());
    let (w0, w1) = (model.get_weights(), again.get_weights());
    assert_eq!(w0.len(), w1.len());
    for (a, b) in w0.iter().zip(&w1) {
        assert_eq!(bits(a), bits(b));
    }
    Ok(())
}

#[test]
fn save_load_predicts_bit_identically_f32() -> Result<()> {
    roundtrip_predicts_identically::<f32>()
}

#[test]
fn save_load_predicts_bit_identically_f64() -> Result<()> {
    roundtrip_predicts_identically::<f64>()
}

#[test]
fn uncompiled_model_round_trips_with_flatten() -> Result<()> {
    let mut model = Sequential::new(&[2, 3])
        .add(Flatten::new())
        .add(Dense::new(2).activation(Activation::Sigmoid))
        .seed(3);
    model.build()?;
    let path = TempPath::new("uncompiled");
    model.save(&path.0)?;
    let again = Sequential::load(&path.0)?;
    assert!(!again.is_compiled());
    assert_eq!(again.input_shape(), &[2, 3]);
    let x = Tensor::from_vec((0..12).map(|i| i as f32 / 3.0).collect(), &[2, 2, 3])?;
    assert_eq!(bits(&model.predict(&x)?), bits(&again.predict(&x)?));
    Ok(())
}

/// Trains 6 epochs straight, and 3 + save/load + 3; the weights must agree
/// bit for bit: the optimizer state and step count carry over, and each
/// epoch's shuffle depends only on the seed and the epoch number.
fn resume_matches_straight(compile: fn(&mut Sequential<f32>) -> Result<()>, shuffle: bool) {
    let (x, y) = data::<f32>(30);
    let new_model = || {
        Sequential::new(&[4])
            .add(Dense::new(8).activation(Activation::Relu))
            .add(Dense::new(3).activation(Activation::Softmax))
            .seed(5)
    };
    let opts = || {
        FitOptions::default()
            .batch_size(7)
            .shuffle(shuffle)
            .verbose(0)
    };

    let mut straight = new_model();
    compile(&mut straight).expect("compile");
    straight.fit(&x, &y, opts().epochs(6)).expect("fit 6");

    let mut first = new_model();
    compile(&mut first).expect("compile");
    first.fit(&x, &y, opts().epochs(3)).expect("fit 3");
    let path = TempPath::new("resume");
    first.save(&path.0).expect("save");
    let mut resumed = Sequential::load(&path.0).expect("load");
    resumed
        .fit(&x, &y, opts().initial_epoch(3).epochs(6))
        .expect("fit 3 more");

    for (a, b) in straight.get_weights().iter().zip(resumed.get_weights()) {
        assert_eq!(bits(a), bits(&b), "weights differ after resuming");
    }
    let (h1, h2) = (
        straight.history().expect("h"),
        resumed.history().expect("h"),
    );
    assert_eq!(h1.epochs(), h2.epochs());
    assert_eq!(h1.get("loss"), h2.get("loss"));
}

#[test]
fn resumed_adam_training_matches_straight_training() {
    resume_matches_straight(
        |m| m.compile(Adam::new(0.02), CategoricalCrossentropy::default(), &[]),
        false,
    );
}

#[test]
fn resumed_shuffled_adam_training_matches_straight_training() {
    resume_matches_straight(
        |m| m.compile(Adam::new(0.02), CategoricalCrossentropy::default(), &[]),
        true,
    );
}

#[test]
fn resumed_sgd_momentum_training_matches_straight_training() {
    resume_matches_straight(
        |m| {
            m.compile(
                Sgd::new(0.1).momentum(0.9).nesterov(true),
                CategoricalCrossentropy::default(),
                &[Metric::Accuracy],
            )
        },
        false,
    );
}

#[test]
fn loaded_model_keeps_compile_settings_metrics_and_history() -> Result<()> {
    let (x, y) = data::<f32>(24);
    let mut model = classifier::<f32>();
    model.compile(
        Adam::new(0.005).amsgrad(true).clip_norm(1.0),
        CategoricalCrossentropy {
            from_logits: false,
            label_smoothing: 0.1,
        },
        &[Metric::Accuracy, Metric::MeanAbsoluteError],
    )?;
    model.fit(
        &x,
        &y,
        FitOptions::default()
            .epochs(2)
            .batch_size(6)
            .validation_split(0.25)
            .verbose(0),
    )?;
    model.fit(
        &x,
        &y,
        FitOptions::default().initial_epoch(2).epochs(3).verbose(0),
    )?;
    model.layers_mut()[2].set_trainable(false);
    let path = TempPath::new("compile");
    model.save(&path.0)?;
    let again = Sequential::load(&path.0)?;
    assert!(again.is_compiled());
    assert_eq!(model.evaluate(&x, &y)?, again.evaluate(&x, &y)?);
    let (h0, h1) = (model.history().expect("h"), again.history().expect("h"));
    assert_eq!(h0.epochs(), &[0, 1, 2]);
    assert_eq!(h1.epochs(), h0.epochs());
    let n0: Vec<&str> = h0.names().collect();
    let n1: Vec<&str> = h1.names().collect();
    assert_eq!(n0, n1);
    assert!(n0.contains(&"val_accuracy"));
    for name in n0 {
        let (a, b) = (h0.get(name).expect("a"), h1.get(name).expect("b"));
        let a: Vec<u64> = a.iter().map(|v| v.to_bits()).collect();
        let b: Vec<u64> = b.iter().map(|v| v.to_bits()).collect();
        assert_eq!(a, b, "history {name}");
    }
    // The third epoch had no validation: NaN survives the round trip.
    assert!(h1.get("val_loss").expect("val")[2].is_nan());
    // A frozen layer stays frozen.
    let frozen: Vec<bool> = again.params().iter().map(|p| p.trainable()).collect();
    let expect: Vec<bool> = model.params().iter().map(|p| p.trainable()).collect();
    assert_eq!(frozen, expect);
    assert_eq!(frozen.iter().filter(|t| !**t).count(), 2);
    Ok(())
}

#[test]
fn save_weights_load_weights_round_trip() -> Result<()> {
    let mut a = classifier::<f64>().seed(1);
    a.build()?;
    let path = TempPath::new("weights");
    a.save_weights(&path.0)?;
    let mut b = classifier::<f64>().seed(2);
    b.build()?;
    assert_ne!(a.get_weights(), b.get_weights());
    b.load_weights(&path.0)?;
    assert_eq!(a.get_weights(), b.get_weights());
    // A weights file is not a model file.
    let err = Sequential::<f64>::load_typed(&path.0).unwrap_err();
    assert!(err.to_string().contains("load_weights"), "{err}");
    Ok(())
}

#[test]
fn load_weights_reads_a_full_model_file() -> Result<()> {
    let (x, y) = data::<f32>(16);
    let mut a = classifier::<f32>();
    a.compile(Adam::new(0.01), CategoricalCrossentropy::default(), &[])?;
    a.fit(&x, &y, FitOptions::default().epochs(1).verbose(0))?;
    let path = TempPath::new("full");
    a.save(&path.0)?;
    let mut b = classifier::<f32>().seed(99);
    b.build()?;
    b.load_weights(&path.0)?;
    assert_eq!(a.get_weights(), b.get_weights());
    Ok(())
}

#[test]
fn load_weights_errors_name_the_first_mismatch() -> Result<()> {
    let mut a = Sequential::new(&[4]).add(Dense::new(3));
    a.build()?;
    let path = TempPath::new("mismatch");
    a.save_weights(&path.0)?;

    let mut wider = Sequential::new(&[4]).add(Dense::new(5));
    wider.build()?;
    let before = wider.get_weights();
    let err = wider.load_weights(&path.0).unwrap_err();
    assert!(matches!(err, Error::Format { .. }));
    assert!(
        err.to_string()
            .ends_with("tensor \"dense/kernel\" has shape [4, 3], the model expects [4, 5]"),
        "{err}"
    );
    assert_eq!(wider.get_weights(), before, "nothing changes on error");

    let mut deeper = Sequential::new(&[4]).add(Dense::new(3)).add(Dense::new(2));
    deeper.build()?;
    let err = deeper.load_weights(&path.0).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("no tensor for parameter \"dense_1/kernel\""),
        "{err}"
    );
    Ok(())
}

/// `torch.nn.Sequential(Linear(4, 8), ReLU(), Linear(8, 3))`, seed 0, saved
/// by tests/golden/torch_linear_export.py; the outputs below are torch's.
#[test]
fn pytorch_linear_weights_predict_as_torch_does() -> Result<()> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/torch_linear.safetensors"
    );
    let mut model = Sequential::new(&[4])
        .add(Dense::new(8).activation(Activation::Relu))
        .add(Dense::new(3));
    model.build()?;
    model.load_weights_from_safetensors(
        path,
        &WeightMap::pytorch_linear(&[("0", "dense"), ("2", "dense_1")]),
    )?;
    let x = Tensor::from_vec(
        vec![
            0.5, -1.0, 2.0, 0.25, //
            -0.75, 0.1, 0.0, 1.5, //
            1.0, 1.0, -1.0, -2.0,
        ],
        &[3, 4],
    )?;
    let got = model.predict(&x)?;
    assert_eq!(got.shape(), &[3, 3]);
    for (g, t) in got.as_slice().iter().zip(TORCH_OUT) {
        assert!((f64::from(*g) - t).abs() < 1e-5, "got {g}, torch {t}");
    }
    // A map naming a tensor the file lacks is an error naming it.
    let err = model
        .load_weights_from_safetensors(path, &WeightMap::pytorch_linear(&[("1", "dense")]))
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("no tensor \"1.weight\" in the file"),
        "{err}"
    );
    Ok(())
}

// Printed by tests/golden/torch_linear_export.py (torch's float32 outputs).
const TORCH_OUT: [f64; 9] = [
    0.39918699860572815,
    0.17332729697227478,
    -0.17905406653881073,
    0.16691304743289948,
    -0.24033023416996002,
    0.11672760546207428,
    0.0491194874048233,
    0.11897540092468262,
    0.13464637100696564,
];

#[test]
fn model_checkpoint_saves_best_epochs_only_and_they_reload() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("tapeflow_ckpt_best_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let (x, y) = data::<f32>(30);
    let mut model = classifier::<f32>();
    model.compile(Adam::new(0.01), CategoricalCrossentropy::default(), &[])?;
    let template = dir.join("best-{epoch:02d}-{loss:.3f}.safetensors");
    let best = dir.join("best.safetensors");
    let history = model.fit(
        &x,
        &y,
        FitOptions::default()
            .epochs(8)
            .batch_size(10)
            .verbose(0)
            .callback(
                ModelCheckpoint::new(&template)
                    .monitor("loss")
                    .save_best_only(true),
            )
            .callback(
                ModelCheckpoint::new(&best)
                    .monitor("loss")
                    .save_best_only(true),
            ),
    )?;
    let losses = history.get("loss").expect("loss");
    // The epochs (1-based) at which the loss beat every earlier one.
    let mut expected = Vec::new();
    let mut best_loss = f64::INFINITY;
    for (i, &l) in losses.iter().enumerate() {
        if l < best_loss {
            best_loss = l;
            expected.push(format!("best-{:02}-{l:.3}.safetensors", i + 1));
        }
    }
    expected.push("best.safetensors".to_string());
    expected.sort();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, expected);
    // The best file is the model at its best epoch: its history ends there.
    let reloaded = Sequential::load(&best)?;
    let h = reloaded.history().expect("history");
    assert_eq!(h.last("loss"), Some(best_loss));
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

#[test]
fn model_checkpoint_needs_its_monitor_only_for_best_only() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("tapeflow_ckpt_mon_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let (x, y) = data::<f32>(12);
    let mut model = classifier::<f32>();
    model.compile(
        Sgd::new(0.1),
        CategoricalCrossentropy::default(),
        &[Metric::Accuracy],
    )?;
    let err = model
        .fit(
            &x,
            &y,
            FitOptions::default()
                .epochs(2)
                .verbose(0)
                .callback(ModelCheckpoint::new(dir.join("m.safetensors")).save_best_only(true)),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "ModelCheckpoint: monitor \"val_loss\" is not in the logs; available: [loss, accuracy]"
    );
    // Every epoch, no monitor needed: one file per epoch, numbered from 1.
    model.fit(
        &x,
        &y,
        FitOptions::default()
            .epochs(3)
            .verbose(0)
            .callback(ModelCheckpoint::new(dir.join("e{epoch}.safetensors"))),
    )?;
    for e in 1..=3 {
        assert!(dir.join(format!("e{e}.safetensors")).exists(), "epoch {e}");
    }
    let last = Sequential::load(dir.join("e3.safetensors"))?;
    assert_eq!(last.get_weights(), model.get_weights());
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

/// The documented layout (docs/saving.md): tensor names and metadata keys.
/// With `TAPEFLOW_KEEP_MODEL=<path>` the file is also kept there, for
/// `python3 tests/golden/check_python_load.py <path>`.
#[test]
fn file_layout_is_as_documented() -> Result<()> {
    let (x, y) = data::<f32>(16);
    let mut model = classifier::<f32>();
    model.compile(
        Sgd::new(0.1).momentum(0.9),
        CategoricalCrossentropy::default(),
        &[Metric::Accuracy],
    )?;
    model.fit(&x, &y, FitOptions::default().epochs(2).verbose(0))?;
    let tmp = TempPath::new("layout");
    let path = std::env::var_os("TAPEFLOW_KEEP_MODEL").map_or(tmp.0.clone(), PathBuf::from);
    model.save(&path)?;
    let bytes = std::fs::read(&path).expect("read");
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).expect("header");
    let meta = header.metadata().clone().expect("metadata");
    let mut keys: Vec<&str> = meta.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "compile",
            "dtype",
            "format",
            "format_version",
            "history",
            "model",
            "tapeflow_version"
        ]
    );
    assert_eq!(meta["format"], "tapeflow");
    assert_eq!(meta["format_version"], "1");
    assert_eq!(meta["dtype"], "f32");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors");
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    let mut expected: Vec<String> = ["dense", "dense_1", "dense_2", "dense_3"]
        .iter()
        .flat_map(|l| [format!("{l}/bias"), format!("{l}/kernel")])
        .chain((0..8).map(|i| format!("optimizer/momentum/{i}")))
        .chain(["optimizer/iterations".to_string()])
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(st.tensor("dense/kernel").expect("kernel").shape(), &[4, 16]);
    Ok(())
}

#[test]
fn every_reserved_layer_name_is_refused_at_build_and_save() -> Result<()> {
    use tapeflow::models::RESERVED_LAYER_NAMES;
    assert!(!RESERVED_LAYER_NAMES.is_empty());
    for reserved in RESERVED_LAYER_NAMES {
        for name in [reserved.to_string(), format!("{reserved}/inner")] {
            let mut m = Sequential::new(&[2]).add(Dense::new(1).name(&name));
            let msg = m.build().unwrap_err().to_string();
            assert!(
                msg.starts_with(&format!(
                    "build: layer name {name:?} at position 0 is reserved"
                )),
                "{msg}"
            );
            // Renamed after building: save refuses before writing anything.
            let mut m = Sequential::new(&[2]).add(Dense::new(1));
            m.compile(Adam::new(0.1), MeanSquaredError, &[])?;
            m.layers_mut()[0].set_name(&name);
            let path = TempPath::new("reserved");
            let msg = m.save(&path.0).unwrap_err().to_string();
            assert!(msg.starts_with("save: layer name"), "{msg}");
            assert!(!path.0.exists());
        }
    }
    Ok(())
}

#[test]
fn names_next_to_the_reserved_ones_save_and_load_with_optimizer_state() -> Result<()> {
    let (x, y) = data::<f32>(8);
    for name in [
        "optimizer_1",
        "optimizers",
        "Optimizer",
        "my_optimizer",
        "iterations",
    ] {
        let mut m = Sequential::new(&[4]).add(Dense::new(3).name(name));
        m.compile(Adam::new(0.01), MeanSquaredError, &[])?;
        m.fit(&x, &y, FitOptions::default().verbose(0))?;
        let path = TempPath::new("near_reserved");
        m.save(&path.0)?;
        let back = Sequential::load(&path.0)?;
        assert_eq!(back.layers()[0].name(), name);
        assert_eq!(back.predict(&x)?, m.predict(&x)?);
    }
    Ok(())
}

/// A safetensors file with a `[2, 3]` tensor `k` and a `[3]` tensor `b` of `dtype`.
fn foreign_file(dtype: safetensors::Dtype, k: Vec<u8>, b: Vec<u8>) -> TempPath {
    let path = TempPath::new("foreign");
    let views = vec![
        (
            "k",
            safetensors::tensor::TensorView::new(dtype, vec![2, 3], &k).expect("view"),
        ),
        (
            "b",
            safetensors::tensor::TensorView::new(dtype, vec![3], &b).expect("view"),
        ),
    ];
    std::fs::write(
        &path.0,
        safetensors::serialize(views, None).expect("serialize"),
    )
    .expect("write");
    path
}

fn half_bytes(bits: &[u16]) -> Vec<u8> {
    bits.iter().flat_map(|b| b.to_le_bytes()).collect()
}

fn imported(path: &TempPath) -> Result<Vec<Vec<f32>>> {
    let mut m = Sequential::new(&[2]).add(Dense::new(3));
    m.build()?;
    let map = WeightMap::new()
        .map("k", "dense/kernel")
        .map("b", "dense/bias");
    m.load_weights_from_safetensors(&path.0, &map)?;
    Ok(m.get_weights().iter().map(|w| w.to_vec()).collect())
}

#[test]
fn f16_bf16_and_f64_checkpoints_are_cast_into_an_f32_model() -> Result<()> {
    use safetensors::Dtype;
    let kernel = vec![1.0, -2.0, 0.5, 0.375, -0.25, 1.5];
    // IEEE half: the bit patterns of the kernel, then 6, 2^-24 (the
    // smallest subnormal) and 65504 (the largest finite half).
    let f16 = foreign_file(
        Dtype::F16,
        half_bytes(&[0x3C00, 0xC000, 0x3800, 0x3600, 0xB400, 0x3E00]),
        half_bytes(&[0x4600, 0x0001, 0x7BFF]),
    );
    assert_eq!(
        imported(&f16)?,
        vec![kernel.clone(), vec![6.0, 2f32.powi(-24), 65504.0]]
    );
    // bfloat16: the upper halves of the f32 patterns; 0x4049 is 3.140625.
    let bf16 = foreign_file(
        Dtype::BF16,
        half_bytes(&[0x3F80, 0xC000, 0x3F00, 0x3EC0, 0xBE80, 0x3FC0]),
        half_bytes(&[0x40C0, 0x4049, 0x8000]),
    );
    let got = imported(&bf16)?;
    assert_eq!(got, vec![kernel.clone(), vec![6.0, 3.140625, -0.0]]);
    assert!(got[1][2].is_sign_negative());
    // f64 rounds to the nearest f32, as PyTorch's copy_ does.
    let k64 = [0.1f64, -1.0 / 3.0, 1e-40, 2.5, 1e30, -7.0];
    let f64_bytes = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let f64_file = foreign_file(Dtype::F64, f64_bytes(&k64), f64_bytes(&[0.0, 1.0, -0.2]));
    let want: Vec<f32> = k64.iter().map(|&v| v as f32).collect();
    assert_eq!(
        imported(&f64_file)?,
        vec![want, vec![0.0, 1.0, -0.2f64 as f32]]
    );
    Ok(())
}

#[test]
fn a_cast_that_overflows_or_a_non_float_dtype_is_an_error_naming_the_tensor() {
    use safetensors::Dtype;
    let f64_bytes = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let big = foreign_file(
        Dtype::F64,
        f64_bytes(&[0.0, 0.0, 1e39, 0.0, 0.0, 0.0]),
        f64_bytes(&[0.0; 3]),
    );
    let msg = imported(&big).unwrap_err().to_string();
    assert!(
        msg.ends_with("tensor \"k\" holds 1e39 at index 2, which overflows f32"),
        "{msg}"
    );
    let ints = foreign_file(Dtype::I32, vec![0; 24], vec![0; 12]);
    let msg = imported(&ints).unwrap_err().to_string();
    assert!(msg.contains("tensor \"k\" has dtype I32"), "{msg}");
}
