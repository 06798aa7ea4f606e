//! Fuzzes `Sequential::<f32>::load`: any bytes must give `Ok` or `Err`,
//! never a panic, an abort or an absurd allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tapeflow::Sequential;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!(
        "tapeflow_fuzz_load_{}.safetensors",
        std::process::id()
    ));
    if std::fs::write(&path, data).is_ok() {
        let _ = Sequential::load(&path);
    }
});
