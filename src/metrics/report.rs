//! Whole-dataset classification summaries on class indices:
//! [`confusion_matrix`] and [`classification_report`] (scikit-learn's
//! text layout).
//!
//! Unlike the accumulators of this module, these take the final predicted
//! classes (e.g. from `Sequential::predict_classes`) and the true classes as
//! plain `usize` slices, and compute everything at once.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// Checks two label slices have the same, non-zero length.
fn check_lengths(op: &'static str, y_true: &[usize], y_pred: &[usize]) -> Result<()> {
    if y_true.len() != y_pred.len() {
        return Err(Error::InvalidArgument {
            op,
            message: format!(
                "y_true has {} labels but y_pred has {}",
                y_true.len(),
                y_pred.len()
            ),
        });
    }
    if y_true.is_empty() {
        return Err(Error::InvalidArgument {
            op,
            message: "no labels: y_true and y_pred are empty".to_string(),
        });
    }
    Ok(())
}

/// The `classes × classes` confusion matrix: entry `[i][j]` counts the
/// samples whose true class is `i` and predicted class is `j` (rows are true
/// classes, columns predicted ones, as in scikit-learn).
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `y_true` and `y_pred` differ in length or
/// are empty, or if a label is not a class index in `0..classes` (naming the
/// slice and the position); [`Error::SizeOverflow`] or
/// [`Error::OutOfMemory`] naming the shape `[classes, classes]` if the matrix
/// cannot be held (`classes = usize::MAX`). The matrix is `classes²` counts:
/// for large sparse labels, relabel them first (or use
/// [`classification_report`], whose memory follows the distinct labels).
///
/// # Examples
///
/// ```
/// use tapeflow::metrics::confusion_matrix;
///
/// let y_true = [0, 1, 2, 2, 2];
/// let y_pred = [0, 0, 2, 2, 1];
/// let m = confusion_matrix(&y_true, &y_pred, 3)?;
/// assert_eq!(m, vec![vec![1, 0, 0], vec![1, 0, 0], vec![0, 1, 2]]);
/// let err = confusion_matrix(&y_true, &y_pred, 2).unwrap_err();
/// assert_eq!(err.to_string(), "confusion_matrix: y_true[2] = 2 is not a class index in 0..2");
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn confusion_matrix(
    y_true: &[usize],
    y_pred: &[usize],
    classes: usize,
) -> Result<Vec<Vec<usize>>> {
    const OP: &str = "confusion_matrix";
    check_lengths(OP, y_true, y_pred)?;
    for (name, labels) in [("y_true", y_true), ("y_pred", y_pred)] {
        if let Some(i) = labels.iter().position(|&c| c >= classes) {
            return Err(Error::InvalidArgument {
                op: OP,
                message: format!(
                    "{name}[{i}] = {} is not a class index in 0..{classes}",
                    labels[i]
                ),
            });
        }
    }
    // One reservation of the whole matrix first: refused at once (an error)
    // when the machine cannot hold it, before any row is touched.
    drop(crate::tensor::try_alloc::<usize>(OP, &[classes, classes])?);
    let mut m = Vec::new();
    m.try_reserve_exact(classes)
        .map_err(|_| out_of_memory(OP, classes))?;
    for _ in 0..classes {
        m.push(crate::tensor::try_filled(OP, &[classes], 0usize)?);
    }
    for (&t, &p) in y_true.iter().zip(y_pred) {
        // Both labels were checked to be below `classes` above.
        m[t][p] += 1;
    }
    Ok(m)
}

/// `a / b`, or 0 when `b` is 0 (scikit-learn's default `zero_division`).
fn out_of_memory(op: &'static str, classes: usize) -> Error {
    Error::OutOfMemory {
        op,
        shape: vec![classes, classes],
        bytes: classes
            .saturating_mul(classes)
            .saturating_mul(std::mem::size_of::<usize>()),
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// A text report of the main classification metrics, in scikit-learn's
/// `classification_report` layout (two decimals).
///
/// One row per class with its precision `TP / (TP + FP)`, recall
/// `TP / (TP + FN)`, F1 score `2·P·R / (P + R)` and support (the number of
/// true samples of the class); a ratio with a zero denominator is 0, as
/// scikit-learn's default. Then the accuracy, the macro average (the
/// unweighted mean over the rows) and the weighted average (weighted by
/// support).
///
/// The rows are the classes `0..names.len()` named by `class_names` when it
/// is given; otherwise the classes that occur in `y_true` or `y_pred`, in
/// increasing order, named by their index.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `y_true` and `y_pred` differ in length or
/// are empty; if `class_names` is empty; or, with `class_names`, for a
/// label that is not an index into it (naming the slice, the position, the
/// label and the number of names).
///
/// Memory is proportional to the number of distinct labels, never to their
/// values: labels `{0, 100000}` or `usize::MAX` are two or one classes.
///
/// # Examples
///
/// scikit-learn's own documented example gives the same text:
///
/// ```
/// use tapeflow::metrics::classification_report;
///
/// let y_true = [0, 1, 2, 2, 2];
/// let y_pred = [0, 0, 2, 2, 1];
/// let names: Vec<String> = ["class 0", "class 1", "class 2"].map(String::from).to_vec();
/// let report = classification_report(&y_true, &y_pred, Some(&names))?;
/// let expected = "              precision    recall  f1-score   support
///
///      class 0       0.50      1.00      0.67         1
///      class 1       0.00      0.00      0.00         1
///      class 2       1.00      0.67      0.80         3
///
///     accuracy                           0.60         5
///    macro avg       0.50      0.56      0.49         5
/// weighted avg       0.70      0.60      0.61         5
/// ";
/// assert_eq!(report, expected);
/// assert!(classification_report(&[0, 1], &[0], None).is_err());
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn classification_report(
    y_true: &[usize],
    y_pred: &[usize],
    class_names: Option<&[String]>,
) -> Result<String> {
    const OP: &str = "classification_report";
    check_lengths(OP, y_true, y_pred)?;
    let (labels, names): (Vec<usize>, Vec<String>) = match class_names {
        Some([]) => {
            return Err(Error::InvalidArgument {
                op: OP,
                message: "class_names is empty".to_string(),
            });
        }
        Some(names) => ((0..names.len()).collect(), names.to_vec()),
        None => {
            let mut seen: Vec<usize> = y_true.iter().chain(y_pred).copied().collect();
            seen.sort_unstable();
            seen.dedup();
            let names = seen.iter().map(usize::to_string).collect();
            (seen, names)
        }
    };
    if let Some(names) = class_names {
        for (slice, values) in [("y_true", y_true), ("y_pred", y_pred)] {
            if let Some(i) = values.iter().position(|&c| c >= names.len()) {
                return Err(Error::InvalidArgument {
                    op: OP,
                    message: format!(
                        "{slice}[{i}] = {} has no name: class_names has {} names (labels 0..{})",
                        values[i],
                        names.len(),
                        names.len()
                    ),
                });
            }
        }
    }
    // Per distinct label: (true positives, support, predicted), counted in
    // a map, so memory follows the number of classes, not the label values.
    let mut counts: BTreeMap<usize, [usize; 3]> = labels.iter().map(|&c| (c, [0; 3])).collect();
    for (&t, &p) in y_true.iter().zip(y_pred) {
        // Every label of y_true and y_pred is a key: either the labels are
        // the distinct values seen, or they are 0..names.len(), checked above.
        if let Some(c) = counts.get_mut(&t) {
            c[1] += 1;
            c[0] += usize::from(t == p);
        }
        if let Some(c) = counts.get_mut(&p) {
            c[2] += 1;
        }
    }

    // Per class: precision, recall, f1, support.
    let rows: Vec<[f64; 4]> = counts
        .values()
        .map(|&[tp, support, predicted]| {
            let (tp, support, predicted) = (tp as f64, support as f64, predicted as f64);
            let (p, r) = (ratio(tp, predicted), ratio(tp, support));
            [p, r, ratio(2.0 * p * r, p + r), support]
        })
        .collect();
    let n = y_true.len() as f64;
    let correct = y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count() as f64;
    let mean = |col: usize, weighted: bool| {
        let (num, den) = rows.iter().fold((0.0, 0.0), |(num, den), r| {
            let w = if weighted { r[3] } else { 1.0 };
            (num + w * r[col], den + w)
        });
        ratio(num, den)
    };

    let width = names
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0)
        .max("weighted avg".len());
    let line = |name: &str, v: [f64; 3], support: usize| {
        format!(
            "{name:>width$}  {:>9.2} {:>9.2} {:>9.2} {:>9}\n",
            v[0], v[1], v[2], support
        )
    };
    let mut out = format!(
        "{:>width$}  {:>9} {:>9} {:>9} {:>9}\n\n",
        "", "precision", "recall", "f1-score", "support"
    );
    for (name, r) in names.iter().zip(&rows) {
        out += &line(name, [r[0], r[1], r[2]], r[3] as usize);
    }
    out += "\n";
    out += &format!(
        "{:>width$}  {:>9} {:>9} {:>9.2} {:>9}\n",
        "accuracy",
        "",
        "",
        correct / n,
        y_true.len()
    );
    for (name, weighted) in [("macro avg", false), ("weighted avg", true)] {
        out += &line(
            name,
            [mean(0, weighted), mean(1, weighted), mean(2, weighted)],
            y_true.len(),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_matrix_counts_true_rows_and_predicted_columns() {
        // true 1 predicted 0 twice, true 0 predicted 0 once, true 1 predicted 1 once
        let m = confusion_matrix(&[1, 0, 1, 1], &[0, 0, 0, 1], 2).unwrap();
        assert_eq!(m, vec![vec![1, 0], vec![2, 1]]);
    }

    #[test]
    fn confusion_matrix_rejects_length_mismatch_empty_and_bad_labels() {
        let e = confusion_matrix(&[0, 1], &[0], 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "confusion_matrix: y_true has 2 labels but y_pred has 1"
        );
        let e = confusion_matrix(&[], &[], 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "confusion_matrix: no labels: y_true and y_pred are empty"
        );
        let e = confusion_matrix(&[0, 1], &[0, 3], 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "confusion_matrix: y_pred[1] = 3 is not a class index in 0..2"
        );
    }

    /// Parses a report's rows into (name, numbers) for value checks.
    fn parse(report: &str) -> Vec<(String, Vec<f64>)> {
        report
            .lines()
            .skip(2)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let (name, rest) = l.split_at(12);
                let nums = rest
                    .split_whitespace()
                    .map(|v| v.parse().unwrap())
                    .collect();
                (name.trim().to_string(), nums)
            })
            .collect()
    }

    #[test]
    fn report_values_match_hand_computation() {
        // Binary: true  [1, 1, 1, 0, 0, 0, 0, 0]
        //         pred  [1, 1, 0, 1, 0, 0, 0, 0]
        // class 1: TP 2, FP 1, FN 1 -> P = 2/3, R = 2/3, F1 = 2/3, support 3
        // class 0: TP 4, FP 1, FN 1 -> P = 4/5, R = 4/5, F1 = 4/5, support 5
        // accuracy 6/8 = 0.75; macro (0.8 + 0.667) / 2 = 0.733;
        // weighted (5·0.8 + 3·0.667) / 8 = 0.75
        let y_true = [1, 1, 1, 0, 0, 0, 0, 0];
        let y_pred = [1, 1, 0, 1, 0, 0, 0, 0];
        let rows = parse(&classification_report(&y_true, &y_pred, None).unwrap());
        let expect = [
            ("0", vec![0.80, 0.80, 0.80, 5.0]),
            ("1", vec![0.67, 0.67, 0.67, 3.0]),
            ("accuracy", vec![0.75, 8.0]),
            ("macro avg", vec![0.73, 0.73, 0.73, 8.0]),
            ("weighted avg", vec![0.75, 0.75, 0.75, 8.0]),
        ];
        assert_eq!(rows.len(), expect.len());
        for ((name, nums), (e_name, e_nums)) in rows.iter().zip(&expect) {
            assert_eq!(name, e_name);
            assert_eq!(nums, e_nums, "row {name}");
        }
    }

    #[test]
    fn report_without_names_lists_only_classes_that_occur() {
        // Labels 2 and 5 only: class 2 never predicted -> precision 0 (0/0), recall 0.
        let report = classification_report(&[2, 5, 5], &[5, 5, 5], None).unwrap();
        let rows = parse(&report);
        assert_eq!(rows[0], ("2".to_string(), vec![0.0, 0.0, 0.0, 1.0]));
        // class 5: P = 2/3, R = 1, F1 = 2·(2/3)/(5/3) = 0.8
        assert_eq!(rows[1], ("5".to_string(), vec![0.67, 1.0, 0.8, 2.0]));
        assert_eq!(rows[2], ("accuracy".to_string(), vec![0.67, 3.0]));
    }

    #[test]
    fn report_widens_the_name_column_for_long_names() {
        let names = vec!["a very long class name".to_string(), "b".to_string()];
        let report = classification_report(&[0, 1], &[0, 1], Some(&names)).unwrap();
        let row = report.lines().nth(2).unwrap();
        assert_eq!(
            row,
            "a very long class name       1.00      1.00      1.00         1"
        );
        assert!(report.lines().all(|l| l.is_empty() || l.len() == row.len()));
    }

    #[test]
    fn report_rejects_bad_input() {
        let names = vec!["a".to_string(), "b".to_string()];
        let e = classification_report(&[0, 2], &[0, 1], Some(&names)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "classification_report: y_true[1] = 2 has no name: class_names has 2 names (labels 0..2)"
        );
        // The label that is out of range is named, not label 0, and without
        // class_names no names are blamed: usize::MAX is just a class.
        let e = classification_report(&[0, usize::MAX], &[0, 1], Some(&names)).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("y_true[1] = {}", usize::MAX)),
            "{e}"
        );
        let r = classification_report(&[0, usize::MAX], &[0, usize::MAX], None).unwrap();
        assert!(r.contains(&usize::MAX.to_string()), "{r}");
        let e = classification_report(&[0], &[0], Some(&[])).unwrap_err();
        assert_eq!(e.to_string(), "classification_report: class_names is empty");
        let e = classification_report(&[], &[], None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "classification_report: no labels: y_true and y_pred are empty"
        );
        let e = classification_report(&[0, 1], &[1], None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "classification_report: y_true has 2 labels but y_pred has 1"
        );
    }
}
