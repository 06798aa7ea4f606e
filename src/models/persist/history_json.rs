//! The [`History`] of a model file, as JSON in its metadata: series
//! values that JSON cannot hold (NaN, infinities) are written as strings.

use serde_json::{Value, json};

use crate::models::History;

pub(super) fn history_to_json(h: &History) -> Value {
    let series: Vec<Value> = h
        .names()
        .map(|name| {
            let values: Vec<Value> = h
                .get(name)
                .unwrap_or_default()
                .iter()
                .map(|&v| {
                    if v.is_finite() {
                        json!(v)
                    } else {
                        json!(v.to_string())
                    }
                })
                .collect();
            json!([name, values])
        })
        .collect();
    json!({ "epochs": h.epochs(), "series": series })
}

pub(super) fn history_from_json(v: &Value) -> Option<History> {
    let epochs: Vec<usize> = v["epochs"]
        .as_array()?
        .iter()
        .map(|e| e.as_u64().map(|e| e as usize))
        .collect::<Option<_>>()?;
    let mut columns = Vec::new();
    for s in v["series"].as_array()? {
        let name = s.get(0)?.as_str()?.to_string();
        let values: Vec<f64> = s
            .get(1)?
            .as_array()?
            .iter()
            .map(|x| {
                x.as_f64()
                    .or_else(|| x.as_str().and_then(|t| t.parse().ok()))
            })
            .collect::<Option<_>>()?;
        if values.len() != epochs.len() {
            return None;
        }
        columns.push((name, values));
    }
    let mut h = History::default();
    // Every column was checked above to have one value per epoch.
    h.push_columns(&epochs, &columns);
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_json_reads_floats_exactly() {
        let xs = [1.1332959413528443, 0.09000000000000001, -2.5e-300, 1e22];
        let text = json!({ "xs": xs, "s": "a\"1.5\\", "n": [7, -3] }).to_string();
        let v: Value = serde_json::from_str(&text).expect("valid JSON");
        let back: Vec<f64> = v["xs"]
            .as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_f64().expect("number"))
            .collect();
        assert_eq!(back.map_bits(), xs.map_bits());
        assert_eq!(v["s"], json!("a\"1.5\\"));
        assert_eq!(v["n"], json!([7, -3]));
        assert!(serde_json::from_str::<Value>("[1.2.3]").is_err());
    }

    trait Bits {
        fn map_bits(&self) -> Vec<u64>;
    }
    impl Bits for [f64] {
        fn map_bits(&self) -> Vec<u64> {
            self.iter().map(|x| x.to_bits()).collect()
        }
    }
}
