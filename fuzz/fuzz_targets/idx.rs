//! Fuzzes the IDX loader (`load_idx_images`, `load_idx_labels`), raw and
//! gzipped: any bytes must give `Ok` or `Err`, never a panic, an abort or
//! an allocation beyond what the header announces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tapeflow::data::{load_idx_images, load_idx_labels};

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("tapeflow_fuzz_idx_{}.idx", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(x) = load_idx_images(&path) {
        assert_eq!(x.shape().len(), 2);
        assert!(x.as_slice().iter().all(|v| (0.0..=1.0).contains(v)));
    }
    if let Ok(y) = load_idx_labels(&path) {
        assert!(y.iter().all(|&c| c < 256));
    }
});
