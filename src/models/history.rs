//! [`History`]: what `fit` returns — per-epoch loss and metrics, train and
//! validation — and its text forms (CSV and a plain-text table).

use std::fmt;

use crate::callbacks::Logs;

/// Per-epoch training results, Keras's `History.history`.
///
/// Series are named as Keras names them: `loss`, each metric (`accuracy`,
/// `mean_absolute_error`, …), then `val_loss` and `val_…` when there is
/// validation data. Epoch numbers count from 0 and continue across calls to
/// `fit` with `initial_epoch`.
///
/// # Examples
///
/// ```
/// use tapeflow::callbacks::Logs;
/// use tapeflow::History;
///
/// let mut h = History::default();
/// let mut logs = Logs::default();
/// logs.push("loss", 0.5);
/// h.push(0, &logs);
/// logs.push("loss", 0.25);
/// h.push(1, &logs);
/// assert_eq!(h.get("loss"), Some(&[0.5, 0.25][..]));
/// assert_eq!(h.epochs(), &[0, 1]);
/// assert_eq!(h.to_csv(), "epoch,loss\n0,0.5\n1,0.25\n");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    epochs: Vec<usize>,
    series: Vec<(String, Vec<f64>)>,
}

impl History {
    /// Records one epoch's logs. A series that appears late is padded with
    /// NaN for the epochs before it.
    pub fn push(&mut self, epoch: usize, logs: &Logs) {
        let n = self.epochs.len();
        for (name, value) in logs.iter() {
            match self.series.iter_mut().find(|(s, _)| s == name) {
                Some((_, values)) => values.push(value),
                None => {
                    let mut values = vec![f64::NAN; n];
                    values.push(value);
                    self.series.push((name.to_string(), values));
                }
            }
        }
        self.epochs.push(epoch);
        for (_, values) in &mut self.series {
            values.resize(n + 1, f64::NAN);
        }
    }

    /// The values of one series, one per epoch.
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        self.series
            .iter()
            .find(|(s, _)| s == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The epoch numbers recorded.
    pub fn epochs(&self) -> &[usize] {
        &self.epochs
    }

    /// The number of epochs recorded.
    pub fn len(&self) -> usize {
        self.epochs.len()
    }

    /// Whether no epoch has been recorded.
    pub fn is_empty(&self) -> bool {
        self.epochs.is_empty()
    }

    /// The series' names, in the order they first appeared.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.series.iter().map(|(s, _)| s.as_str())
    }

    /// The last recorded value of a series.
    pub fn last(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|v| v.last().copied())
    }

    /// Appends another history (a later call to `fit`) to this one.
    pub fn extend(&mut self, other: &History) {
        for (i, &epoch) in other.epochs.iter().enumerate() {
            let mut logs = Logs::default();
            for (name, values) in &other.series {
                logs.push(name.clone(), values[i]);
            }
            self.push(epoch, &logs);
        }
    }

    /// The history as CSV: a header `epoch,<series…>` and one row per epoch.
    /// Values use Rust's shortest round-trip formatting, so parsing them
    /// back gives the same numbers.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("epoch");
        for (name, _) in &self.series {
            out.push(',');
            out.push_str(name);
        }
        out.push('\n');
        for (i, epoch) in self.epochs.iter().enumerate() {
            out.push_str(&epoch.to_string());
            for (_, values) in &self.series {
                out.push(',');
                out.push_str(&values[i].to_string());
            }
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for History {
    /// A plain-text table, one row per epoch, values to 4 decimals
    /// (or the precision given, as in `{:.6}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let precision = f.precision().unwrap_or(4);
        let mut header = vec!["epoch".to_string()];
        header.extend(self.series.iter().map(|(s, _)| s.clone()));
        let rows: Vec<Vec<String>> = self
            .epochs
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut row = vec![e.to_string()];
                row.extend(
                    self.series
                        .iter()
                        .map(|(_, v)| format!("{:.*}", precision, v[i])),
                );
                row
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|c| {
                rows.iter()
                    .map(|r| r[c].len())
                    .chain([header[c].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:>w$}"))
                .collect::<Vec<_>>()
                .join("  ")
        };
        writeln!(f, "{}", line(&header))?;
        for row in &rows {
            writeln!(f, "{}", line(row))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_series_are_padded_and_table_aligns() {
        let mut h = History::default();
        let mut a = Logs::default();
        a.push("loss", 1.0);
        h.push(0, &a);
        a.push("val_loss", 2.0);
        h.push(1, &a);
        assert!(h.get("val_loss").unwrap()[0].is_nan());
        let table = format!("{h:.2}");
        assert_eq!(
            table,
            "epoch  loss  val_loss\n    0  1.00       NaN\n    1  1.00      2.00\n"
        );
    }
}
