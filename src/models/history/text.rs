//! The text forms of a [`History`]: CSV and a plain-text table.

use std::fmt;

use super::History;

impl History {
    /// The history as CSV: a header `epoch,<series…>` and one row per epoch.
    /// Values use Rust's shortest round-trip formatting, so parsing them
    /// back gives the same numbers.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// let mut logs = Logs::default();
    /// logs.push("loss", 0.1);
    /// logs.push("val_loss", 0.2);
    /// h.push(0, &logs);
    /// let csv = h.to_csv();
    /// assert_eq!(csv, "epoch,loss,val_loss\n0,0.1,0.2\n");
    /// let back: f64 = csv.lines().nth(1).unwrap().split(',').nth(1).unwrap().parse().unwrap();
    /// assert_eq!(back, 0.1);
    /// ```
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
                // invariant: every series has one value per epoch.
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
    /// assert_eq!(h.to_string(), "epoch    loss\n    0  0.5000\n");
    /// assert_eq!(format!("{h:.1}"), "epoch  loss\n    0   0.5\n");
    /// ```
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
                        // invariant: every series has one value per epoch.
                        .map(|(_, v)| format!("{:.*}", precision, v[i])),
                );
                row
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|c| {
                rows.iter()
                    // invariant: every row has one cell per header column.
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
                // Padded by hand: a width from the content (a logged name
                // can be any length) could exceed what `{:>w$}` accepts.
                .map(|(c, w)| format!("{}{c}", " ".repeat(w.saturating_sub(c.chars().count()))))
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
    use crate::callbacks::Logs;

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
