//! Bad-input battery for saving and loading: `save`, `save_weights`,
//! `load`, `load_weights` and `load_weights_from_safetensors` on unbuilt
//! models, bad paths, damaged or foreign files. Each case asserts an `Err`
//! whose message names the operation, the path and what is wrong.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView};
use tapeflow::models::WeightMap;
use tapeflow::prelude::*;

/// A fresh folder in the temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p =
            std::env::temp_dir().join(format!("tapeflow_bad_persist_{tag}_{}", std::process::id()));
        std::fs::create_dir_all(&p).expect("mkdir");
        TempDir(p)
    }
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[track_caller]
fn err_with<V: std::fmt::Debug>(r: Result<V>, parts: &[&str]) {
    let msg = r.expect_err("expected an error").to_string();
    for part in parts {
        assert!(msg.contains(part), "{msg:?}\n  lacks {part:?}");
    }
}

/// A compiled, trained `[3] → 4 → 2` model.
fn trained() -> Sequential {
    let mut m = Sequential::new(&[3]).add(Dense::new(4)).add(Dense::new(2));
    m.compile(Adam::new(0.01), MeanSquaredError, &[])
        .expect("compile");
    let x = Tensor::ones(&[4, 3]).expect("x");
    let y = Tensor::zeros(&[4, 2]).expect("y");
    m.fit(&x, &y, FitOptions::default().verbose(0))
        .expect("fit");
    m
}

/// An unfitted built model of the same architecture.
fn same_architecture() -> Sequential {
    let mut m = Sequential::new(&[3]).add(Dense::new(4)).add(Dense::new(2));
    m.build().expect("build");
    m
}

type Tensors = Vec<(String, Dtype, Vec<usize>, Vec<u8>)>;

/// Copies the safetensors file `src` to `out`, letting `edit` change it.
fn rewrite(src: &Path, out: &Path, edit: impl FnOnce(&mut HashMap<String, String>, &mut Tensors)) {
    let bytes = std::fs::read(src).expect("read");
    let (_, header) = SafeTensors::read_metadata(&bytes).expect("header");
    let mut meta = header.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(&bytes).expect("safetensors");
    let mut tensors: Tensors = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    edit(&mut meta, &mut tensors);
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).expect("view")))
        .collect();
    let meta = (!meta.is_empty()).then_some(meta);
    std::fs::write(out, safetensors::serialize(views, meta).expect("serialize")).expect("write");
}

#[test]
fn unbuilt_models_cannot_save_or_load_weights() {
    let dir = TempDir::new("unbuilt");
    let path = dir.join("m.safetensors");
    let mut m = Sequential::new(&[2]).add(Dense::new(1)).name("u");
    let not_built = "model \"u\" is not built; call build or compile first";
    err_with(m.save(&path), &["save: ", not_built]);
    err_with(m.save_weights(&path), &["save_weights: ", not_built]);
    err_with(m.load_weights(&path), &["load_weights: ", not_built]);
    err_with(
        m.load_weights_from_safetensors(&path, &WeightMap::new()),
        &["load_weights_from_safetensors: ", not_built],
    );
    assert!(!path.exists());
}

#[test]
fn saving_to_bad_paths() {
    let dir = TempDir::new("paths");
    let m = trained();
    let missing = dir.join("no/such/dir/m.safetensors");
    let shown = missing.display().to_string();
    err_with(m.save(&missing), &["save: ", &shown]);
    err_with(m.save_weights(&missing), &["save_weights: ", &shown]);
    // A path naming no file.
    err_with(
        m.save(dir.join("..")),
        &["save: ", "the path names no file"],
    );
    err_with(
        m.save_weights("/"),
        &["save_weights: /: the path names no file"],
    );
    // A path that is a folder: the folder is untouched.
    let folder = dir.join("folder");
    std::fs::create_dir_all(&folder).expect("mkdir");
    err_with(m.save(&folder), &["save: ", &folder.display().to_string()]);
    assert!(folder.is_dir());
    // A layer renamed to a reserved name after building.
    let mut r = trained();
    r.layers_mut()[1].set_name("optimizer");
    err_with(
        r.save(dir.join("r.safetensors")),
        &["save: layer name \"optimizer\" at position 1 is reserved"],
    );
    r.layers_mut()[1].set_name("dense");
    err_with(
        r.save_weights(dir.join("r.safetensors")),
        &["save_weights: ", "\"dense/kernel\""],
    );
}

#[test]
fn loading_files_that_are_not_model_files() {
    let dir = TempDir::new("notmodel");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "not a valid safetensors file"),
        (
            "text",
            b"hello, world".to_vec(),
            "not a valid safetensors file",
        ),
        (
            "huge_header",
            u64::MAX.to_le_bytes().to_vec(),
            "not a valid safetensors file",
        ),
        (
            "bad_json",
            [8u64.to_le_bytes().to_vec(), b"{nope!!}".to_vec()].concat(),
            "not a valid safetensors file",
        ),
    ];
    for (name, bytes, tail) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        let shown = path.display().to_string();
        err_with(Sequential::load(&path), &["load: ", &shown, tail]);
        err_with(
            same_architecture().load_weights(&path),
            &["load_weights: ", &shown, tail],
        );
    }
    err_with(
        Sequential::load(dir.join("missing.safetensors")),
        &["load: ", "missing.safetensors"],
    );
    // A weights-only file is not a model file.
    let weights = dir.join("w.safetensors");
    trained().save_weights(&weights).expect("save_weights");
    err_with(
        Sequential::load(&weights),
        &[
            "load: ",
            "no tapeflow model metadata (a weights-only file?)",
        ],
    );
}

#[test]
fn loading_damaged_model_files() {
    let dir = TempDir::new("damaged");
    let base = dir.join("base.safetensors");
    trained().save(&base).expect("save");
    type Edit = Box<dyn FnOnce(&mut HashMap<String, String>, &mut Tensors)>;
    let set = |key: &'static str, value: &'static str| -> Edit {
        Box::new(move |meta, _| {
            meta.insert(key.into(), value.into());
        })
    };
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "v99",
            set("format_version", "99"),
            "format version 99 is newer than this tapeflow reads (1)",
        ),
        (
            "vabc",
            set("format_version", "abc"),
            "metadata has no valid format_version",
        ),
        (
            "f64",
            set("dtype", "f64"),
            "tensor \"dense/kernel\" has dtype F32, the file's metadata says F64",
        ),
        (
            "f16",
            set("dtype", "f16"),
            "metadata dtype is Some(\"f16\"); a model file holds \"f32\" or \"f64\"",
        ),
        (
            "model_json",
            set("model", "{"),
            "metadata \"model\" is not valid JSON",
        ),
        (
            "compile_json",
            set("compile", "[1,"),
            "metadata \"compile\" is not valid JSON",
        ),
        (
            "history",
            set("history", "{\"epochs\": 3}"),
            "metadata \"history\" is not a valid history",
        ),
        (
            "no_model",
            Box::new(|meta, _| {
                meta.remove("model");
            }),
            "metadata has no \"model\"",
        ),
        (
            "shape",
            set("model", "{\"input_shape\": \"x\", \"layers\": []}"),
            "model metadata has no valid input_shape",
        ),
        (
            "layers",
            set("model", "{\"input_shape\": [3]}"),
            "model metadata has no layer list",
        ),
        (
            "kind",
            set(
                "model",
                "{\"input_shape\": [3], \"layers\": [{\"kind\": \"Conv9D\", \"config\": {}}]}",
            ),
            "layer 0: ",
        ),
        (
            "reserved",
            set(
                "model",
                "{\"input_shape\": [3], \"layers\": [{\"kind\": \"Dense\", \"config\": {\"units\": 2, \"name\": \"optimizer\"}}]}",
            ),
            "layer name \"optimizer\" at position 0 is reserved",
        ),
        (
            "missing_tensor",
            Box::new(|_, t| t.retain(|(n, ..)| n != "dense/kernel")),
            "no tensor for parameter \"dense/kernel\"",
        ),
        (
            "wrong_shape",
            Box::new(|_, t| {
                for e in t.iter_mut().filter(|e| e.0 == "dense/bias") {
                    e.2 = vec![2, 2];
                }
            }),
            "tensor \"dense/bias\" has shape [2, 2], the model expects [4]",
        ),
        (
            "slot_shape",
            Box::new(|_, t| {
                for e in t.iter_mut().filter(|e| e.0 == "optimizer/momentum/1") {
                    e.2 = vec![2, 2];
                }
            }),
            "optimizer state \"optimizer/momentum/1\" has shape [2, 2], parameter 1 has shape [4]",
        ),
        (
            "slot_position",
            Box::new(|_, t| {
                let copy = t.iter().find(|e| e.0 == "optimizer/momentum/1").cloned();
                if let Some(mut e) = copy {
                    e.0 = "optimizer/momentum/9".into();
                    t.push(e);
                }
            }),
            "optimizer state \"optimizer/momentum/9\" names no parameter (the model has 4)",
        ),
        (
            "tensor_dtype",
            Box::new(|_, t| {
                for e in t.iter_mut().filter(|e| e.0 == "dense/bias") {
                    e.1 = Dtype::I32;
                }
            }),
            "tensor \"dense/bias\" has dtype I32, the file's metadata says F32",
        ),
    ];
    for (name, edit, tail) in cases {
        let out = dir.join(name);
        rewrite(&base, &out, edit);
        let shown = out.display().to_string();
        err_with(Sequential::load(&out), &["load: ", &shown, tail]);
    }
}

#[test]
fn loading_weights_that_do_not_fit() {
    let dir = TempDir::new("weights");
    let base = dir.join("w.safetensors");
    trained().save_weights(&base).expect("save");
    // Another architecture: the first missing or misshapen tensor is named.
    let mut wider = Sequential::new(&[3]).add(Dense::new(5)).add(Dense::new(2));
    wider.build().expect("build");
    let before = wider.get_weights();
    err_with(
        wider.load_weights(&base),
        &[
            "load_weights: ",
            "tensor \"dense/kernel\" has shape [3, 4], the model expects [3, 5]",
        ],
    );
    assert_eq!(
        wider.get_weights(),
        before,
        "a failed load changed the weights"
    );
    let mut renamed = Sequential::new(&[3])
        .add(Dense::new(4).name("a"))
        .add(Dense::new(2));
    renamed.build().expect("build");
    err_with(
        renamed.load_weights(&base),
        &["no tensor for parameter \"a/kernel\""],
    );
    // A value that overflows f32.
    let big = dir.join("big.safetensors");
    rewrite(&base, &big, |_, t| {
        for e in t.iter_mut().filter(|e| e.0 == "dense/bias") {
            e.1 = Dtype::F64;
            e.3 = [1e300f64, 0.0, 0.0, 0.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
        }
    });
    err_with(
        same_architecture().load_weights(&big),
        &[
            "load_weights: ",
            "tensor \"dense/bias\" holds 1e300 at index 0, which overflows f32",
        ],
    );
}

#[test]
fn importing_with_a_weight_map_that_does_not_fit() {
    let dir = TempDir::new("import");
    let base = dir.join("w.safetensors");
    trained().save_weights(&base).expect("save");
    let full = WeightMap::new()
        .map("dense/kernel", "dense/kernel")
        .map("dense/bias", "dense/bias")
        .map("dense_1/kernel", "dense_1/kernel")
        .map("dense_1/bias", "dense_1/bias");
    assert!(
        same_architecture()
            .load_weights_from_safetensors(&base, &full)
            .is_ok()
    );
    let op = "load_weights_from_safetensors: ";
    let cases: Vec<(WeightMap, &str)> = vec![
        (
            WeightMap::new().map("fc.weight", "dense/kernel"),
            "no tensor \"fc.weight\" in the file",
        ),
        (
            WeightMap::new().map_transposed("dense/bias", "dense/bias"),
            "tensor \"dense/bias\" has shape [4]; only 2-d tensors can be transposed",
        ),
        (
            WeightMap::new().map("dense/kernel", "dense/kernel"),
            "no tensor for parameter \"dense/bias\"",
        ),
        (
            WeightMap::new()
                .map_transposed("dense/kernel", "dense/kernel")
                .map("dense/bias", "dense/bias"),
            "tensor \"dense/kernel\" has shape [4, 3], the model expects [3, 4]",
        ),
    ];
    for (map, tail) in cases {
        let mut m = same_architecture();
        let before = m.get_weights();
        err_with(m.load_weights_from_safetensors(&base, &map), &[op, tail]);
        assert_eq!(m.get_weights(), before);
    }
    err_with(
        same_architecture().load_weights_from_safetensors(dir.join("none"), &full),
        &[op, "none"],
    );
}
