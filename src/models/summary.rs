//! `Sequential::summary`: Keras's model table as a `String`.

use super::Sequential;
use crate::element::Float;

/// `1234567` → `"1,234,567"`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl<T: Float> Sequential<T> {
    /// The Keras summary table: each layer's name and type, output shape
    /// (`None` for the batch dimension; `?` before the model is built) and
    /// parameter count, then the total, trainable and non-trainable counts.
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
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn summary(&self) -> String {
        const W: [usize; 3] = [30, 26, 10];
        let rule = |c: char| c.to_string().repeat(W.iter().sum::<usize>() + 1);
        let row = |a: &str, b: &str, c: &str| {
            format!(
                " {a:<w0$}{b:<w1$}{c:>w2$}\n",
                w0 = W[0],
                w1 = W[1],
                w2 = W[2]
            )
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
    use super::thousands;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
