//! Bad model files and bad destinations: every failure is an `Error` naming
//! the path and the problem, never a panic, an absurd allocation, or a
//! clobbered previous file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView};
use tapeflow::Result;
use tapeflow::prelude::*;

/// A fresh folder in the temp folder, removed (made writable first) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "tapeflow_persist_errors_{tag}_{}_{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn trained_model<T: tapeflow::Float>() -> Sequential<T> {
    let mut model = Sequential::<T>::new_typed(&[3])
        .add(Dense::new(4).activation(Activation::Relu))
        .add(Dropout::new(0.2))
        .add(Dense::new(2))
        .seed(4);
    model
        .compile(
            Sgd::new(0.1).momentum(0.5),
            MeanSquaredError,
            &[Metric::MeanAbsoluteError],
        )
        .expect("compile");
    let x = Tensor::from_vec(
        (0..18).map(|i| T::from_f64(i as f64 / 9.0)).collect(),
        &[6, 3],
    )
    .expect("x");
    let y = Tensor::from_vec(
        (0..12).map(|i| T::from_f64(i as f64 / 12.0)).collect(),
        &[6, 2],
    )
    .expect("y");
    model
        .fit(&x, &y, FitOptions::default().epochs(2).verbose(0))
        .expect("fit");
    model
}

/// A saved model's bytes.
fn saved_bytes(dir: &TempDir) -> Vec<u8> {
    let path = dir.join("base.safetensors");
    trained_model::<f32>().save(&path).expect("save");
    std::fs::read(&path).expect("read")
}

type Tensors = Vec<(String, Dtype, Vec<usize>, Vec<u8>)>;

/// Reads a safetensors file, lets `edit` change its metadata and tensors,
/// and writes the result to `out`.
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

/// `load`'s error for `path`, which must be `Error::Format` ending in `tail`.
fn format_error_ending(path: &Path, tail: &str) {
    let err = Sequential::load(path).unwrap_err();
    assert!(matches!(err, Error::Format { op: "load", .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("load: {}: ", path.display())),
        "{msg}"
    );
    assert!(msg.ends_with(tail), "{msg}\n  should end with: {tail}");
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    let dir = TempDir::new("missing");
    let path = dir.join("nope.safetensors");
    let err = Sequential::load(&path).unwrap_err();
    assert!(matches!(err, Error::Io { op: "load", .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("load: {}: ", path.display()))
    );
}

#[test]
fn truncated_files_are_format_errors() {
    let dir = TempDir::new("truncated");
    let bytes = saved_bytes(&dir);
    let header = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let path = dir.join("cut.safetensors");
    for cut in [0, 3, 8, 8 + header / 2, 8 + header, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).expect("write");
        let err = Sequential::load(&path).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "cut at {cut}: {err:?}");
        assert!(
            err.to_string().contains("not a valid safetensors file"),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn random_bytes_and_text_are_not_safetensors() {
    let dir = TempDir::new("garbage");
    let path = dir.join("x.safetensors");
    let noise: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, noise).expect("write");
    let err = Sequential::load(&path).unwrap_err();
    assert!(
        err.to_string().contains("not a valid safetensors file"),
        "{err}"
    );
    std::fs::write(&path, "this is a text file, not a model\n".repeat(10)).expect("write");
    let err = Sequential::load(&path).unwrap_err();
    assert!(matches!(err, Error::Format { .. }));
    assert!(
        err.to_string().contains("not a valid safetensors file"),
        "{err}"
    );
}

#[test]
fn safetensors_without_tapeflow_metadata_points_to_load_weights() -> Result<()> {
    let dir = TempDir::new("plain");
    let full = dir.join("full.safetensors");
    let model = trained_model::<f32>();
    model.save(&full)?;
    let plain = dir.join("plain.safetensors");
    rewrite(&full, &plain, |meta, tensors| {
        meta.clear();
        tensors.retain(|(n, ..)| !n.starts_with("optimizer/"));
    });
    format_error_ending(
        &plain,
        "no tapeflow model metadata (a weights-only file?); build the model and use load_weights",
    );
    let mut fresh = Sequential::new(&[3])
        .add(Dense::new(4).activation(Activation::Relu))
        .add(Dropout::new(0.2))
        .add(Dense::new(2))
        .seed(77);
    fresh.build()?;
    fresh.load_weights(&plain)?;
    assert_eq!(fresh.get_weights(), model.get_weights());
    Ok(())
}

#[test]
fn newer_format_version_is_refused() {
    let dir = TempDir::new("version");
    let src = dir.join("a.safetensors");
    trained_model::<f32>().save(&src).expect("save");
    let out = dir.join("b.safetensors");
    rewrite(&src, &out, |meta, _| {
        meta.insert("format_version".into(), "2".into());
    });
    format_error_ending(
        &out,
        "format version 2 is newer than this tapeflow reads (1); upgrade tapeflow",
    );
}

#[test]
fn unknown_layer_kind_is_named() {
    let dir = TempDir::new("kind");
    let src = dir.join("a.safetensors");
    trained_model::<f32>().save(&src).expect("save");
    let out = dir.join("b.safetensors");
    rewrite(&src, &out, |meta, _| {
        let m = meta["model"].replacen("\"Dropout\"", "\"Conv9D\"", 1);
        meta.insert("model".into(), m);
    });
    format_error_ending(
        &out,
        "layer 1: from_config: unknown layer kind \"Conv9D\"; register it with tapeflow::layers::register::<f32>(\"Conv9D\", ...) before loading",
    );
}

#[test]
fn wrong_dtype_is_named() -> Result<()> {
    let dir = TempDir::new("dtype");
    let f64_file = dir.join("f64.safetensors");
    trained_model::<f64>().save(&f64_file)?;
    // An f64 model file loads into f32 (rounded); see tests/suite/api_model.rs.
    assert_eq!(Sequential::load(&f64_file)?.layers().len(), 3);
    // A file whose metadata claims f32 but holds f64 tensors.
    let lying = dir.join("lying.safetensors");
    rewrite(&f64_file, &lying, |meta, _| {
        meta.insert("dtype".into(), "f32".into());
    });
    format_error_ending(
        &lying,
        "tensor \"dense/kernel\" has dtype F64, the file's metadata says F32",
    );
    // load_weights of f64 weights into an f32 model casts, as PyTorch's
    // load_state_dict does: each weight is the f64 value rounded to f32.
    let mut m = Sequential::new(&[3])
        .add(Dense::new(4))
        .add(Dropout::new(0.2))
        .add(Dense::new(2));
    m.build()?;
    m.load_weights(&f64_file)?;
    let source = trained_model::<f64>().get_weights();
    for (got, want) in m.get_weights().iter().zip(&source) {
        let want: Vec<f32> = want.as_slice().iter().map(|&v| v as f32).collect();
        assert_eq!(got.as_slice(), want.as_slice());
    }
    Ok(())
}

#[test]
fn wrong_shape_is_named() {
    let dir = TempDir::new("shape");
    let src = dir.join("a.safetensors");
    trained_model::<f32>().save(&src).expect("save");
    let out = dir.join("b.safetensors");
    rewrite(&src, &out, |_, tensors| {
        let bias = tensors
            .iter_mut()
            .find(|(n, ..)| n == "dense_1/bias")
            .expect("bias");
        bias.2 = vec![1];
        bias.3.truncate(4);
    });
    format_error_ending(
        &out,
        "tensor \"dense_1/bias\" has shape [1], the model expects [2]",
    );
}

#[test]
fn absurd_sizes_in_the_config_are_errors_not_allocations() {
    let dir = TempDir::new("absurd");
    let src = dir.join("a.safetensors");
    trained_model::<f32>().save(&src).expect("save");
    let huge_units = dir.join("units.safetensors");
    rewrite(&src, &huge_units, |meta, _| {
        let m = meta["model"].replacen("\"units\":4", "\"units\":1000000000000", 1);
        assert_ne!(m, meta["model"], "the edit applies");
        meta.insert("model".into(), m);
    });
    format_error_ending(
        &huge_units,
        "tensor \"dense/kernel\" has shape [3, 4], the model expects [3, 1000000000000]",
    );
    let huge_input = dir.join("input.safetensors");
    rewrite(&src, &huge_input, |meta, _| {
        let m = meta["model"].replacen(
            "\"input_shape\":[3]",
            "\"input_shape\":[4294967296,4294967296,4294967296]",
            1,
        );
        assert_ne!(m, meta["model"], "the edit applies");
        let m = m.replacen(
            "\"layers\":[",
            "\"layers\":[{\"kind\":\"Flatten\",\"config\":{}},",
            1,
        );
        meta.insert("model".into(), m);
    });
    let err = Sequential::load(&huge_input).unwrap_err();
    assert!(err.to_string().contains("overflows"), "{err}");
}

#[test]
fn optimizer_state_for_a_missing_parameter_is_an_error_at_load() {
    let dir = TempDir::new("optstate");
    let src = dir.join("a.safetensors");
    trained_model::<f32>().save(&src).expect("save");
    let out = dir.join("b.safetensors");
    rewrite(&src, &out, |_, tensors| {
        let m = tensors
            .iter_mut()
            .find(|(n, ..)| n == "optimizer/momentum/3")
            .expect("momentum of the last bias");
        m.0 = "optimizer/momentum/9".into();
    });
    format_error_ending(
        &out,
        "optimizer state \"optimizer/momentum/9\" names no parameter (the model has 4)",
    );
}

/// `load` of `bytes` must return (Ok or Err), not panic.
fn load_does_not_panic(dir: &TempDir, bytes: &[u8], what: &str) {
    let path = dir.join("fuzz.safetensors");
    std::fs::write(&path, bytes).expect("write");
    let outcome = std::panic::catch_unwind(|| Sequential::load(&path).map(|_| ()));
    assert!(outcome.is_ok(), "load panicked on {what}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn corrupted_files_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let dir = TempDir::new("prop");
        let mut bytes = saved_bytes(&dir);
        let mut what = Vec::new();
        for (at, xor) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= xor;
            what.push(format!("byte {i} ^= {xor:#04x}"));
        }
        if truncate {
            let n = cut.index(bytes.len());
            bytes.truncate(n);
            what.push(format!("truncated to {n} bytes"));
        }
        load_does_not_panic(&dir, &bytes, &what.join(", "));
    }
}

/// Whether this process can create files in a folder whose mode is 0o555
/// (root can).
#[cfg(unix)]
fn permission_bits_are_ignored(dir: &TempDir) -> bool {
    let probe = dir.join("probe");
    let ok = std::fs::write(&probe, b"x").is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

#[cfg(unix)]
#[test]
fn read_only_folder_fails_and_keeps_the_previous_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("readonly");
    let path = dir.join("model.safetensors");
    let model = trained_model::<f32>();
    model.save(&path).expect("first save");
    let before = std::fs::read(&path).expect("read");
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    if permission_bits_are_ignored(&dir) {
        // Running as root, which ignores the bits: make the destination
        // unwritable another way, an existing folder in its place.
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        destination_folder_fails_cleanly(&dir);
        return;
    }
    let err = model.save(&path).unwrap_err();
    assert!(matches!(err, Error::Io { op: "save", .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("save: {}: ", path.display()))
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "previous file intact"
    );
    assert_eq!(
        dir.entries(),
        ["model.safetensors"],
        "no temporary file left"
    );
}

#[test]
fn parent_that_is_a_file_fails_cleanly() {
    let dir = TempDir::new("parentfile");
    let blocker = dir.join("not_a_dir");
    std::fs::write(&blocker, b"i am a file").expect("write");
    let path = blocker.join("model.safetensors");
    let err = trained_model::<f32>().save(&path).unwrap_err();
    assert!(matches!(err, Error::Io { op: "save", .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("save: {}: ", path.display()))
    );
    assert_eq!(std::fs::read(&blocker).expect("read"), b"i am a file");
    assert_eq!(dir.entries(), ["not_a_dir"]);
    let err = trained_model::<f32>().save_weights(&path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                op: "save_weights",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn destination_that_is_a_folder_fails_and_leaves_no_temporary_file() {
    destination_folder_fails_cleanly(&TempDir::new("destdir"));
}

/// Saving over an existing folder fails, keeps what is in it, and leaves
/// no temporary file (`dir` may already hold `model.safetensors` as a file).
fn destination_folder_fails_cleanly(dir: &TempDir) {
    let path = dir.join("model.safetensors");
    let _ = std::fs::remove_file(&path);
    std::fs::create_dir(&path).expect("mkdir");
    let inner = path.join("keep.txt");
    std::fs::write(&inner, b"previous contents").expect("write");
    let err = trained_model::<f32>().save(&path).unwrap_err();
    assert!(matches!(err, Error::Io { op: "save", .. }), "{err:?}");
    assert_eq!(std::fs::read(&inner).expect("read"), b"previous contents");
    assert_eq!(
        dir.entries(),
        ["model.safetensors"],
        "no temporary file left"
    );
}

#[test]
fn successful_save_replaces_the_file_and_leaves_no_temporary_file() -> Result<()> {
    let dir = TempDir::new("replace");
    let path = dir.join("model.safetensors");
    std::fs::write(&path, b"old").expect("write");
    let model = trained_model::<f32>();
    model.save(&path)?;
    assert_eq!(dir.entries(), ["model.safetensors"]);
    let again = Sequential::load(&path)?;
    assert_eq!(again.get_weights(), model.get_weights());
    Ok(())
}
