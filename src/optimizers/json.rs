//! Reading typed fields out of optimizer and schedule configs, with errors
//! that name the key. Crate-private helpers.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

fn bad(op: &'static str, message: String) -> Error {
    Error::InvalidArgument { op, message }
}

/// The value as a JSON object.
pub(crate) fn object<'a>(op: &'static str, v: &'a Value) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| bad(op, format!("expected a JSON object, got {v}")))
}

/// A number field; `default` is used when the key is absent (an error if `None`).
pub(crate) fn f64_field(
    op: &'static str,
    map: &Map<String, Value>,
    key: &str,
    default: Option<f64>,
) -> Result<f64> {
    match (map.get(key), default) {
        (Some(v), _) => v
            .as_f64()
            .ok_or_else(|| bad(op, format!("'{key}' must be a number, got {v}"))),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(bad(op, format!("missing '{key}'"))),
    }
}

/// A non-negative integer field; `default` is used when the key is absent.
pub(crate) fn u64_field(
    op: &'static str,
    map: &Map<String, Value>,
    key: &str,
    default: Option<u64>,
) -> Result<u64> {
    match (map.get(key), default) {
        (Some(v), _) => v.as_u64().ok_or_else(|| {
            bad(
                op,
                format!("'{key}' must be a non-negative integer, got {v}"),
            )
        }),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(bad(op, format!("missing '{key}'"))),
    }
}

/// A boolean field, `default` when absent.
pub(crate) fn bool_field(
    op: &'static str,
    map: &Map<String, Value>,
    key: &str,
    default: bool,
) -> Result<bool> {
    match map.get(key) {
        Some(v) => v
            .as_bool()
            .ok_or_else(|| bad(op, format!("'{key}' must be true or false, got {v}"))),
        None => Ok(default),
    }
}

/// An optional number field: absent or `null` is `None`.
pub(crate) fn opt_f64_field(
    op: &'static str,
    map: &Map<String, Value>,
    key: &str,
) -> Result<Option<f64>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => f64_field(op, map, key, None).map(Some),
    }
}
