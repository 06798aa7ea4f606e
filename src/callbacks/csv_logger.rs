//! [`CsvLogger`]: stream each epoch's logs to a CSV file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use super::{Callback, Logs, TrainingContext};
use crate::element::Float;
use crate::error::{Error, Result};

// The hidden part of the builders' doc examples: a mock training loop
// (`Ctx`) and `log`, which feeds epochs' logs to a `CsvLogger` through it.
macro_rules! doc_log {
    () => {
        concat!(
            doc_mock_ctx!(),
            "# fn log(mut cb: CsvLogger, first_epoch: usize, losses: &[f64]) -> Result<()> {\n",
            "#     let mut ctx = Ctx::default();\n",
            "#     Callback::<f32>::on_train_begin(&mut cb, &mut ctx)?;\n",
            "#     for (k, &loss) in losses.iter().enumerate() {\n",
            "#         let mut logs = Logs::default();\n",
            "#         logs.push(\"loss\", loss);\n",
            "#         logs.push(\"val_loss\", loss * 2.0);\n",
            "#         Callback::<f32>::on_epoch_end(&mut cb, first_epoch + k, &logs, &mut ctx)?;\n",
            "#     }\n",
            "#     Callback::<f32>::on_train_end(&mut cb, &mut ctx)\n",
            "# }\n",
        )
    };
}

/// Writes a header and then one row per epoch to a CSV file (Keras's
/// `CSVLogger`).
///
/// The columns are `epoch` and the names in the first epoch's logs, in their
/// order (`loss`, metrics, `val_loss`, `val_…`). A later epoch missing one
/// of them writes `NA` there; names that first appear later are not
/// written. Values use Rust's shortest round-trip formatting (as
/// [`History::to_csv`](crate::History::to_csv)); a name holding the
/// separator or a quote is quoted. Each row is flushed as it is written, so
/// the file is readable while training runs.
///
/// The file is created (or truncated) at the start of training; with
/// `.append(true)` rows are added to an existing file, and the header is
/// written only if the file is new or empty.
///
/// # Errors
///
/// [`Error::Io`] naming the path when the file cannot be opened
/// ([`on_train_begin`](Callback::on_train_begin)) or written
/// ([`on_epoch_end`](Callback::on_epoch_end));
/// [`Error::InvalidArgument`] at `on_train_begin` for a separator that can
/// occur in a logged name or number (a letter, digit, `.`, `-`, `+`, `_`),
/// a quote or a line break.
///
/// # Examples
///
/// ```
/// use tapeflow::callbacks::{Callback, CsvLogger, Logs};
/// # use tapeflow::{Result, Tensor};
/// # use tapeflow::callbacks::TrainingContext;
/// # #[derive(Default)]
/// # struct Ctx { stop: bool, lr: f64, weights: Vec<Tensor> }
/// # impl TrainingContext for Ctx {
/// #     fn stop_training(&mut self) { self.stop = true }
/// #     fn should_stop(&self) -> bool { self.stop }
/// #     fn learning_rate(&self) -> f64 { self.lr }
/// #     fn set_learning_rate(&mut self, lr: f64) -> Result<()> { self.lr = lr; Ok(()) }
/// #     fn get_weights(&self) -> Vec<Tensor> { self.weights.clone() }
/// #     fn set_weights(&mut self, w: Vec<Tensor>) -> Result<()> { self.weights = w; Ok(()) }
/// #     fn save(&self, _: &std::path::Path) -> Result<()> { Ok(()) }
/// # }
///
/// // `Ctx` is a stand-in for the training loop (hidden here).
/// let path = std::env::temp_dir().join("tapeflow_csv_logger_doc.csv");
/// let mut ctx = Ctx::default();
/// let mut cb = CsvLogger::new(&path).separator(';');
/// Callback::<f32>::on_train_begin(&mut cb, &mut ctx)?;
/// for (epoch, loss) in [0.5, 0.25].into_iter().enumerate() {
///     let mut logs = Logs::default();
///     logs.push("loss", loss);
///     logs.push("val_loss", loss * 2.0);
///     cb.on_epoch_end(epoch, &logs, &mut ctx)?;
/// }
/// Callback::<f32>::on_train_end(&mut cb, &mut ctx)?;
/// let text = std::fs::read_to_string(&path).unwrap();
/// assert_eq!(text, "epoch;loss;val_loss\n0;0.5;1\n1;0.25;0.5\n");
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct CsvLogger {
    path: PathBuf,
    separator: char,
    append: bool,
    file: Option<File>,
    write_header: bool,
    keys: Option<Vec<String>>,
}

impl CsvLogger {
    /// A logger writing to `path`, comma-separated, overwriting the file.
    ///
    /// The file is opened when training begins: a path that cannot be
    /// created makes [`on_train_begin`](Callback::on_train_begin) return
    /// [`Error::Io`] naming it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::CsvLogger;
    #[doc = doc_log!()]
    /// // `log` (hidden) runs `cb` through a mock training loop: one epoch per
    /// // loss, numbered from `first_epoch`, logging `loss` and `val_loss`.
    ///
    /// let path = std::env::temp_dir().join(format!("tapeflow_csv_new_{}.csv", std::process::id()));
    /// log(CsvLogger::new(&path), 0, &[0.5, 0.25])?;
    /// let text = std::fs::read_to_string(&path).unwrap();
    /// assert_eq!(text, "epoch,loss,val_loss\n0,0.5,1\n1,0.25,0.5\n");
    /// # std::fs::remove_file(&path).unwrap();
    /// let missing = std::env::temp_dir().join("tapeflow-no-such-dir").join("log.csv");
    /// assert!(log(CsvLogger::new(missing), 0, &[0.5]).is_err_and(|e| e.to_string().contains("log.csv")));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CsvLogger {
            path: path.into(),
            separator: ',',
            append: false,
            file: None,
            write_header: true,
            keys: None,
        }
    }

    /// The field separator (default `,`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::CsvLogger;
    #[doc = doc_log!()]
    /// // `log` (hidden) runs `cb` through a mock training loop: one epoch per
    /// // loss, numbered from `first_epoch`, logging `loss` and `val_loss`.
    ///
    /// let path = std::env::temp_dir().join(format!("tapeflow_csv_sep_{}.csv", std::process::id()));
    /// log(CsvLogger::new(&path).separator('\t'), 0, &[0.5])?;
    /// let text = std::fs::read_to_string(&path).unwrap();
    /// assert_eq!(text, "epoch\tloss\tval_loss\n0\t0.5\t1\n");
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn separator(mut self, separator: char) -> Self {
        self.separator = separator;
        self
    }

    /// Whether to append to an existing file instead of overwriting it
    /// (default `false`), e.g. when resuming training.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::CsvLogger;
    #[doc = doc_log!()]
    /// // `log` (hidden) runs `cb` through a mock training loop: one epoch per
    /// // loss, numbered from `first_epoch`, logging `loss` and `val_loss`.
    ///
    /// let path = std::env::temp_dir().join(format!("tapeflow_csv_append_{}.csv", std::process::id()));
    /// log(CsvLogger::new(&path), 0, &[0.5])?;
    /// log(CsvLogger::new(&path).append(true), 1, &[0.25])?; // resume at epoch 1
    /// let text = std::fs::read_to_string(&path).unwrap();
    /// assert_eq!(text, "epoch,loss,val_loss\n0,0.5,1\n1,0.25,0.5\n"); // one header
    /// log(CsvLogger::new(&path), 2, &[0.125])?; // without append: overwritten
    /// assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn append(mut self, append: bool) -> Self {
        self.append = append;
        self
    }

    fn io_error(&self, source: std::io::Error) -> Error {
        Error::Io {
            op: "CsvLogger",
            path: self.path.display().to_string(),
            source,
        }
    }

    fn open(&mut self) -> Result<()> {
        // A separator that can occur in a number, a name or a line break
        // would make the file unreadable as CSV.
        let s = self.separator;
        if s.is_alphanumeric() || matches!(s, '.' | '-' | '+' | '_' | '"' | '\n' | '\r') {
            return Err(Error::InvalidArgument {
                op: "CsvLogger",
                message: format!(
                    "separator {s:?} can occur in a logged name or number (or is a quote or line break); use ',', ';', '\\t' or '|'"
                ),
            });
        }
        self.write_header = true;
        let file = if self.append {
            // A file that exists and has content already has its header.
            if let Ok(meta) = std::fs::metadata(&self.path) {
                self.write_header = meta.len() == 0;
            }
            OpenOptions::new()
                .append(true)
                .create(true)
                .open(&self.path)
        } else {
            File::create(&self.path)
        };
        self.file = Some(file.map_err(|e| self.io_error(e))?);
        self.keys = None;
        Ok(())
    }

    fn quoted(&self, field: &str) -> String {
        if field.contains([self.separator, '"', '\n', '\r']) {
            format!("\"{}\"", field.replace('"', "\"\""))
        } else {
            field.to_string()
        }
    }
}

impl<T: Float> Callback<T> for CsvLogger {
    fn on_train_begin(&mut self, _ctx: &mut dyn TrainingContext<T>) -> Result<()> {
        self.open()
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        _ctx: &mut dyn TrainingContext<T>,
    ) -> Result<()> {
        if self.file.is_none() {
            self.open()?;
        }
        let sep = self.separator.to_string();
        let mut text = String::new();
        let keys = match &self.keys {
            Some(keys) => keys.clone(),
            None => {
                let keys: Vec<String> = logs.iter().map(|(n, _)| n.to_string()).collect();
                if self.write_header {
                    let mut header = vec!["epoch".to_string()];
                    header.extend(keys.iter().map(|k| self.quoted(k)));
                    text.push_str(&header.join(&sep));
                    text.push('\n');
                }
                self.keys = Some(keys.clone());
                keys
            }
        };
        let mut row = vec![epoch.to_string()];
        row.extend(keys.iter().map(|k| {
            logs.get(k)
                .map_or_else(|| "NA".to_string(), |v| v.to_string())
        }));
        text.push_str(&row.join(&sep));
        text.push('\n');
        let file = self.file.as_mut().expect("invariant: opened above");
        let written = file.write_all(text.as_bytes()).and_then(|()| file.flush());
        written.map_err(|e| self.io_error(e))
    }

    fn on_train_end(&mut self, _ctx: &mut dyn TrainingContext<T>) -> Result<()> {
        // Dropping the file closes it; rows were flushed as they were written.
        self.file = None;
        Ok(())
    }
}
