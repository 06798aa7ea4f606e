//! `Sequential::summary`: Keras's model table as a `String`.

use super::Sequential;
use crate::element::Float;

/// `1234567` → `"1,234,567"`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Splits `text` into lines of at most `width` characters, breaking after
/// the last space that fits when there is one, else inside the word.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    while rest.len() > width.max(1) {
        let cut = rest[..=width]
            .iter()
            .rposition(|&c| c == ' ')
            .filter(|&i| i > 0);
        let (line, skip) = match cut {
            Some(i) => (rest[..i].iter().collect(), i + 1),
            None => (rest[..width.max(1)].iter().collect(), width.max(1)),
        };
        lines.push(line);
        rest.drain(..skip);
    }
    lines.push(rest.into_iter().collect());
    lines
}

impl<T: Float> Sequential<T> {
    /// The Keras summary table: each layer's name and type, output shape
    /// (`None` for the batch dimension; `?` before the model is built) and
    /// parameter count, then the total, trainable and non-trainable counts.
    ///
    /// Columns are 30, 26 and 10 characters wide, as Keras prints them. A
    /// name or shape too long for its column (one space kept before the
    /// next) wraps onto continuation lines, breaking at a space when one
    /// fits, as Keras 2's `print_summary` does, so the columns stay aligned
    /// and nothing is cut off.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[784])
    ///     .add(Dense::new(64).activation(Activation::Relu))
    ///     .add(Dense::new(10));
    /// model.build()?;
    /// let s = model.summary();
    /// assert!(s.contains(" dense (Dense)                 (None, 64)                    50,240"));
    /// assert!(s.contains("Total params: 50,890"));
    /// assert!(s.contains("Non-trainable params: 0"));
    ///
    /// // A long name wraps inside its column.
    /// let mut long = Sequential::<f32>::new(&[4]).add(Dense::new(2).name("a_rather_long_dense_layer_name"));
    /// long.build()?;
    /// let s = long.summary();
    /// assert!(s.contains(" a_rather_long_dense_layer_nam (None, 2)                         10\n"));
    /// assert!(s.contains("\n e (Dense)\n"));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn summary(&self) -> String {
        const W: [usize; 3] = [30, 26, 10];
        let rule = |c: char| c.to_string().repeat(W.iter().sum::<usize>() + 1);
        let row = |a: &str, b: &str, c: &str| {
            let (a, b) = (wrap(a, W[0] - 1), wrap(b, W[1] - 1));
            let mut out = String::new();
            for i in 0..a.len().max(b.len()) {
                let cell = |col: &[String]| col.get(i).cloned().unwrap_or_default();
                let c = if i == 0 { c } else { "" };
                let line = format!(
                    " {:<w0$}{:<w1$}{c:>w2$}",
                    cell(&a),
                    cell(&b),
                    w0 = W[0],
                    w1 = W[1],
                    w2 = W[2]
                );
                out += line.trim_end();
                out.push('\n');
            }
            out
        };
        let mut s = format!("Model: \"{}\"\n{}\n", self.name, rule('_'));
        s += &row("Layer (type)", "Output Shape", "Param #");
        s += &format!("{}\n", rule('='));
        for (i, layer) in self.layers.iter().enumerate() {
            let shape = match self.shapes.get(i) {
                Some(shape) if self.is_built() => {
                    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
                    if dims.is_empty() {
                        "(None,)".to_string()
                    } else {
                        format!("(None, {})", dims.join(", "))
                    }
                }
                _ => "?".to_string(),
            };
            s += &row(
                &format!("{} ({})", layer.name(), layer.kind()),
                &shape,
                &thousands(layer.param_count()),
            );
        }
        let total = self.param_count();
        let trainable: usize = self
            .trainable_params()
            .iter()
            .map(|p| p.value().len())
            .sum();
        s += &format!("{}\n", rule('='));
        s += &format!("Total params: {}\n", thousands(total));
        s += &format!("Trainable params: {}\n", thousands(trainable));
        s += &format!("Non-trainable params: {}\n", thousands(total - trainable));
        s += &format!("{}\n", rule('_'));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::{thousands, wrap};

    #[test]
    fn wrap_breaks_at_spaces_and_inside_long_words() {
        assert_eq!(wrap("dense (Dense)", 29), vec!["dense (Dense)"]);
        assert_eq!(wrap("abcdef (Dense)", 8), vec!["abcdef", "(Dense)"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), vec![""]);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
