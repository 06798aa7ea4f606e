//! Fuzzes `read_csv`: any bytes, with each kind of label column, must give
//! `Ok` or `Err`, never a panic, an abort or a hang; a loaded table holds
//! no infinity the text did not spell out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tapeflow::data::{LabelColumn, read_csv};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the label column, the rest is the file.
    let Some((&pick, text)) = data.split_first() else {
        return;
    };
    let label = match pick % 4 {
        0 => LabelColumn::None,
        1 => LabelColumn::Last,
        2 => LabelColumn::Index(usize::from(pick / 4)),
        _ => LabelColumn::Name("target".to_string()),
    };
    if let Ok(table) = read_csv(text, label) {
        let (n, d) = (table.features.shape()[0], table.features.shape()[1]);
        assert!(n > 0, "an empty table loaded");
        assert_eq!(table.missing.len(), d);
        assert_eq!(table.feature_names.len(), d);
        let spelled_inf = String::from_utf8_lossy(text).to_ascii_lowercase().contains("inf");
        if !spelled_inf {
            assert!(
                table.features.as_slice().iter().all(|v| !v.is_infinite()),
                "an overflowing value loaded as inf"
            );
        }
    }
});
