//! Reading a layer's JSON config (crate-internal): typed getters that name
//! the layer kind and the key in their errors, and reject unknown keys so a
//! misspelt setting is not silently dropped.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A layer config being read: a JSON object and the layer kind it is for.
pub(crate) struct Config<'a> {
    kind: &'static str,
    map: &'a Map<String, Value>,
}

impl<'a> Config<'a> {
    /// Checks that `value` is an object whose keys are all in `keys`.
    pub(crate) fn new(kind: &'static str, value: &'a Value, keys: &[&str]) -> Result<Self> {
        let map = value
            .as_object()
            .ok_or_else(|| bad(kind, format!("expected an object, got {value}")))?;
        if let Some(key) = map.keys().find(|k| !keys.contains(&k.as_str())) {
            return Err(bad(kind, format!("unknown setting {key:?}")));
        }
        Ok(Config { kind, map })
    }

    /// The value at `key`, `None` if absent or `null`.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn typed<X>(
        &self,
        key: &str,
        what: &str,
        f: impl Fn(&Value) -> Option<X>,
    ) -> Result<Option<X>> {
        self.get(key)
            .map(|v| f(v).ok_or_else(|| self.bad(format!("{key} must be {what}, got {v}"))))
            .transpose()
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<String>> {
        self.typed(key, "a string", |v| v.as_str().map(str::to_string))
    }

    pub(crate) fn usize(&self, key: &str) -> Result<Option<usize>> {
        self.typed(key, "a non-negative integer", |v| {
            v.as_u64().and_then(|n| usize::try_from(n).ok())
        })
    }

    pub(crate) fn u64(&self, key: &str) -> Result<Option<u64>> {
        self.typed(key, "a non-negative integer", Value::as_u64)
    }

    pub(crate) fn f64(&self, key: &str) -> Result<Option<f64>> {
        self.typed(key, "a number", Value::as_f64)
    }

    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>> {
        self.typed(key, "true or false", Value::as_bool)
    }

    /// `value`, or an error saying `key` is missing.
    pub(crate) fn required<X>(&self, key: &str, value: Option<X>) -> Result<X> {
        value.ok_or_else(|| self.bad(format!("missing {key:?}")))
    }

    pub(crate) fn bad(&self, message: String) -> Error {
        bad(self.kind, message)
    }
}

fn bad(kind: &'static str, message: String) -> Error {
    Error::InvalidArgument {
        op: "from_config",
        message: format!("{kind}: {message}"),
    }
}
