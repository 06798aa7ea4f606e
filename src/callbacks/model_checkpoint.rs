//! [`ModelCheckpoint`]: save the model during training, every epoch or
//! whenever a monitored value improves.

use std::path::PathBuf;

use super::{Callback, Logs, MonitorMode, TrainingContext, monitored};
use crate::element::Float;
use crate::error::{Error, Result};

/// Saves the whole model (see `Sequential::save`) at the end of epochs
/// (Keras's `ModelCheckpoint`).
///
/// The path may hold placeholders, filled in at each save as Keras does:
/// `{epoch}` (the epoch number counted from **1**), `{epoch:02d}` (zero
/// padded to 2 digits; any width `0Nd` works), and any logged value by
/// name, `{val_loss}` or `{val_loss:.4f}` (`.Nf`: N decimals). A path
/// without placeholders is overwritten at each save.
///
/// With `save_best_only`, a save happens only when the monitored value
/// improves on the best so far (the first value always does, a NaN never
/// does); otherwise every epoch is saved and the monitor is not read.
///
/// Defaults (Keras's): monitor `"val_loss"`, mode
/// [`Auto`](MonitorMode::Auto), `save_best_only` false. Keras's
/// `save_weights_only` is not offered: the training loop can only save the
/// whole model (whose file `load_weights` also reads).
///
/// # Errors
///
/// [`on_train_begin`](Callback::on_train_begin) rejects a path with a
/// malformed placeholder (naming the template), including a width or
/// precision above 255; [`on_epoch_end`](Callback::on_epoch_end) returns
/// [`Error::InvalidArgument`] naming the value and the names available when
/// `save_best_only` is set and the monitor is not in the logs, or when a
/// placeholder names a value that is not there, and passes on the error of
/// the save.
///
/// # Examples
///
/// ```
/// use tapeflow::prelude::*;
///
/// let dir = std::env::temp_dir().join(format!("tapeflow_doc_ckpt_{}", std::process::id()));
/// std::fs::create_dir_all(&dir).ok();
/// let x = Tensor::from_vec((0..8).map(|i| i as f32 / 8.0).collect(), &[8, 1])?;
/// let y = x.map(|v| 3.0 * v);
/// let mut model = Sequential::new(&[1]).add(Dense::new(1));
/// model.compile(Sgd::new(0.1), MeanSquaredError, &[])?;
/// let checkpoint = ModelCheckpoint::new(dir.join("model-{epoch:02d}.safetensors")).monitor("loss");
/// model.fit(&x, &y, FitOptions::default().epochs(3).verbose(0).callback(checkpoint))?;
/// let third = Sequential::load(dir.join("model-03.safetensors"))?;
/// assert_eq!(third.get_weights(), model.get_weights());
/// assert!(dir.join("model-01.safetensors").exists());
/// std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ModelCheckpoint {
    path: String,
    monitor: String,
    mode: MonitorMode,
    save_best_only: bool,
    save_weights_only: bool,
    best: Option<f64>,
    last_saved: Option<PathBuf>,
}

impl ModelCheckpoint {
    /// Saves to `path` (which may hold placeholders, see the type's docs)
    /// at the end of every epoch.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ModelCheckpoint {
            path: path.into().to_string_lossy().into_owned(),
            monitor: "val_loss".to_string(),
            mode: MonitorMode::Auto,
            save_best_only: false,
            save_weights_only: false,
            best: None,
            last_saved: None,
        }
    }

    /// The logged value that decides "best", e.g. `"loss"` or `"val_accuracy"`.
    pub fn monitor(mut self, name: impl Into<String>) -> Self {
        self.monitor = name.into();
        self
    }

    /// Whether the monitored value should go down or up.
    pub fn mode(mut self, mode: MonitorMode) -> Self {
        self.mode = mode;
        self
    }

    /// Whether to save only when the monitored value improves.
    pub fn save_best_only(mut self, save_best_only: bool) -> Self {
        self.save_best_only = save_best_only;
        self
    }

    /// Whether to write the weights alone (`Sequential::save_weights`, read
    /// back with `load_weights`) instead of the whole model. Default false.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let dir = std::env::temp_dir().join(format!("tapeflow_doc_ckpt_{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).ok();
    /// let path = dir.join("w.safetensors");
    /// let x = Tensor::ones(&[4, 2])?;
    /// let mut model = Sequential::new(&[2]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.1), MeanSquaredError, &[])?;
    /// let ckpt = ModelCheckpoint::new(&path).monitor("loss").save_weights_only(true);
    /// model.fit(&x, &x.sum_axis(1, true)?, FitOptions::default().epochs(2).verbose(0).callback(ckpt))?;
    /// assert!(Sequential::load(&path).is_err());   // weights only: no model metadata
    /// model.load_weights(&path)?;                          // but the weights load
    /// std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn save_weights_only(mut self, save_weights_only: bool) -> Self {
        self.save_weights_only = save_weights_only;
        self
    }

    /// The best monitored value seen with `save_best_only`, if any.
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// The file written by the last save, if any.
    pub fn last_saved(&self) -> Option<&std::path::Path> {
        self.last_saved.as_deref()
    }

    fn improves(&self, value: f64) -> bool {
        self.mode.improves(&self.monitor, value, self.best, 0.0)
    }
}

fn bad(message: String) -> Error {
    Error::InvalidArgument {
        op: "ModelCheckpoint",
        message,
    }
}

/// The widest `{epoch:0Nd}` and the most decimals `{name:.Nf}` a path may
/// ask for: a file name is at most 255 bytes on common file systems (and
/// Rust's formatting panics above 65535).
pub(crate) const MAX_FORMAT_WIDTH: usize = 255;

/// Parses the `N` of a width or precision, at most [`MAX_FORMAT_WIDTH`].
fn format_number(digits: &str, field: &str, template: &str) -> Result<usize> {
    let n = digits.parse::<usize>().map_err(|_| {
        bad(format!(
            "unsupported format {{{field}}} in path {template:?}; use {{epoch:02d}} or {{name:.4f}}"
        ))
    })?;
    if n > MAX_FORMAT_WIDTH {
        return Err(bad(format!(
            "format {{{field}}} in path {template:?} asks for {n} digits; at most {MAX_FORMAT_WIDTH}"
        )));
    }
    Ok(n)
}

/// Fills the placeholders of `template` for `epoch` (0-based; printed
/// 1-based) and `logs`; with no logs only checks the syntax. `{{` and `}}`
/// stand for literal braces, as in Python's `str.format`.
fn format_path(template: &str, epoch: usize, logs: Option<&Logs>) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err(bad(format!(
                "single '}}' in path {template:?}; write '}}}}' for a literal brace"
            )));
        }
        // `tail` starts with '{' (one byte), so slicing at 1 and at the
        // found '}' (one byte) stays on character boundaries.
        let close = tail
            .find('}')
            .ok_or_else(|| bad(format!("unclosed '{{' in path {template:?}")))?;
        let field = &tail[1..close];
        let (key, spec) = field.split_once(':').unwrap_or((field, ""));
        if key.is_empty() || key.contains('{') {
            return Err(bad(format!(
                "placeholder {{{field}}} in path {template:?} names nothing; use {{epoch}} or a logged value such as {{val_loss}}"
            )));
        }
        let text = if key == "epoch" {
            let width = match spec {
                "" | "d" => 0,
                s => match s.strip_prefix('0').and_then(|s| s.strip_suffix('d')) {
                    Some(w) => format_number(w, field, template)?,
                    None => {
                        return Err(bad(format!(
                            "unsupported format {{{field}}} in path {template:?}; use {{epoch}} or {{epoch:02d}}"
                        )));
                    }
                },
            };
            format!("{:0width$}", epoch + 1)
        } else {
            let decimals = match spec {
                "" => None,
                s => match s.strip_prefix('.').and_then(|s| s.strip_suffix('f')) {
                    Some(d) => Some(format_number(d, field, template)?),
                    None => {
                        return Err(bad(format!(
                            "unsupported format {{{field}}} in path {template:?}; use {{{key}}} or {{{key}:.4f}}"
                        )));
                    }
                },
            };
            match logs {
                None => String::new(),
                Some(logs) => {
                    let v = logs.get(key).ok_or_else(|| {
                        let names: Vec<&str> = logs.iter().map(|(n, _)| n).collect();
                        bad(format!(
                            "path placeholder {{{field}}} in {template:?} names no logged value; available: epoch, {}",
                            names.join(", ")
                        ))
                    })?;
                    match decimals {
                        Some(d) => format!("{v:.d$}"),
                        None => v.to_string(),
                    }
                }
            }
        };
        out.push_str(&text);
        rest = &tail[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl<T: Float> Callback<T> for ModelCheckpoint {
    fn on_train_begin(&mut self, _ctx: &mut dyn TrainingContext<T>) -> Result<()> {
        format_path(&self.path, 0, None)?;
        // The best value carries over between calls to `fit`, as in Keras.
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        ctx: &mut dyn TrainingContext<T>,
    ) -> Result<()> {
        if self.save_best_only {
            let current = monitored("ModelCheckpoint", &self.monitor, logs)?;
            if !self.improves(current) {
                return Ok(());
            }
            self.best = Some(current);
        }
        let path = PathBuf::from(format_path(&self.path, epoch, Some(logs))?);
        if self.save_weights_only {
            ctx.save_weights(&path)?;
        } else {
            ctx.save(&path)?;
        }
        self.last_saved = Some(path);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_placeholders_are_one_based_and_padded() {
        let mut logs = Logs::default();
        logs.push("val_loss", 0.123456);
        let f = |t: &str| format_path(t, 4, Some(&logs));
        assert_eq!(f("m-{epoch}.st").unwrap(), "m-5.st");
        assert_eq!(f("m-{epoch:02d}.st").unwrap(), "m-05.st");
        assert_eq!(f("m-{epoch:03d}-{val_loss:.2f}").unwrap(), "m-005-0.12");
        assert_eq!(f("plain").unwrap(), "plain");
        assert!(f("m-{epoch:x}").is_err());
        assert!(f("m-{epoch").is_err());
        assert_eq!(f("m-{{epoch}}").unwrap(), "m-{epoch}");
        assert!(f("m-{epoch:0255d}").is_ok());
        assert!(f("m-{epoch:0256d}").is_err());
        assert!(f("m-{val_loss:.70000f}").is_err());
        assert!(f("m-{}").is_err());
        assert!(f("m-}").is_err());
        let err = f("m-{accuracy}").unwrap_err();
        assert!(
            err.to_string().contains("available: epoch, val_loss"),
            "{err}"
        );
    }
}
