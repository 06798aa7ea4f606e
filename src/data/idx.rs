//! IDX files as used by MNIST: [`load_idx_images`], [`load_idx_labels`],
//! [`load_idx_dataset`] and [`load_mnist`].
//!
//! An IDX file is a big-endian header (two zero bytes, a type byte, the
//! number of dimensions, then each dimension as a `u32`) followed by the
//! elements. Only the unsigned-byte type (`0x08`) is supported, which is what
//! MNIST and Fashion-MNIST use. A file starting with the gzip magic bytes is
//! decompressed first (with `flate2`), so `.gz` and raw files both load.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::dataset::Dataset;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Reads a whole file, decompressing it if it starts with the gzip magic.
///
/// Decompression stops one byte past the size the IDX header (of `ndims`
/// dimensions) announces, and grows its buffer fallibly: a small file that
/// inflates to terabytes (a gzip bomb) costs at most what its header claims
/// plus one byte, and an allocation the machine refuses is an error.
fn read_maybe_gz(op: &'static str, path: &Path, ndims: u8) -> Result<Vec<u8>> {
    let name = path.display().to_string();
    let raw = std::fs::read(path).map_err(|source| Error::Io {
        op,
        path: name.clone(),
        source,
    })?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let corrupt = |e: std::io::Error| Error::Format {
        op,
        path: name.clone(),
        message: format!("truncated or corrupt gzip data: {e}"),
    };
    let mut gz = MultiGzDecoder::new(raw.as_slice());
    let header_len = 4 + 4 * u64::from(ndims);
    let mut out = Vec::new();
    read_bounded(op, &mut (&mut gz).take(header_len), &mut out).map_err(|e| e.map_io(corrupt))?;
    // The payload size the header announces; unknown (a bad header, which
    // `parse_idx` reports) reads nothing more.
    let announced = out
        .get(4..)
        .filter(|dims| dims.len() as u64 == header_len - 4)
        .and_then(|dims| {
            dims.chunks(4).try_fold(1u64, |acc, c| {
                let d = u32::from_be_bytes(c.try_into().expect("invariant: 4-byte chunks"));
                acc.checked_mul(u64::from(d))
            })
        })
        .unwrap_or(0);
    read_bounded(op, &mut gz.take(announced.saturating_add(1)), &mut out)
        .map_err(|e| e.map_io(corrupt))?;
    Ok(out)
}

/// Why [`read_bounded`] stopped: a read error, or a refused allocation.
enum ReadError {
    Io(std::io::Error),
    Memory(Error),
}

impl ReadError {
    fn map_io(self, f: impl FnOnce(std::io::Error) -> Error) -> Error {
        match self {
            ReadError::Io(e) => f(e),
            ReadError::Memory(e) => e,
        }
    }
}

/// Appends everything `r` yields to `out`, growing `out` with `try_reserve`.
fn read_bounded(
    op: &'static str,
    r: &mut impl Read,
    out: &mut Vec<u8>,
) -> std::result::Result<(), ReadError> {
    let mut chunk = [0u8; 1 << 16];
    loop {
        let k = match r.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::Io(e)),
        };
        out.try_reserve(k).map_err(|_| {
            ReadError::Memory(Error::OutOfMemory {
                op,
                shape: vec![out.len().saturating_add(k)],
                bytes: out.len().saturating_add(k),
            })
        })?;
        out.extend_from_slice(&chunk[..k]);
    }
}

/// Parses the IDX header, checks the magic number and the payload length,
/// and returns the dimensions and the payload.
fn parse_idx<'a>(
    op: &'static str,
    path: &Path,
    bytes: &'a [u8],
    ndims: u8,
) -> Result<(Vec<usize>, &'a [u8])> {
    let fail = |message: String| Error::Format {
        op,
        path: path.display().to_string(),
        message,
    };
    let expected = 0x0800 | u32::from(ndims);
    let Some(magic) = bytes.get(..4) else {
        return Err(fail(format!(
            "file of {} bytes is too short for an IDX header",
            bytes.len()
        )));
    };
    let magic = u32::from_be_bytes(magic.try_into().expect("invariant: 4 bytes"));
    if magic != expected {
        return Err(fail(format!(
            "bad magic number 0x{magic:08x}, expected 0x{expected:08x} (unsigned bytes, {ndims} dimension{})",
            if ndims == 1 { "" } else { "s" }
        )));
    }
    let header_len = 4 + 4 * usize::from(ndims);
    let Some(header) = bytes.get(4..header_len) else {
        return Err(fail(format!(
            "truncated header: {} bytes, expected {header_len}",
            bytes.len()
        )));
    };
    let dims: Vec<usize> = header
        .chunks(4)
        .map(|c| u32::from_be_bytes(c.try_into().expect("invariant: 4-byte chunks")) as usize)
        .collect();
    // `bytes.get(4..header_len)` succeeded, so header_len <= bytes.len().
    let payload = &bytes[header_len..];
    let want = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| fail(format!("dimensions {dims:?} overflow")))?;
    crate::tensor::checked_numel::<u8>(op, &dims)?;
    if payload.len() != want {
        let what = if payload.len() < want {
            "truncated payload"
        } else {
            "trailing bytes after payload"
        };
        return Err(fail(format!(
            "{what}: dimensions {dims:?} need {want} bytes, found {}",
            payload.len()
        )));
    }
    Ok((dims, payload))
}

/// Loads an IDX image file (magic `0x00000803`, `n` images of `rows x cols`
/// bytes) as `[n, rows * cols]` pixels scaled to `[0, 1]` (`byte / 255`).
///
/// Rows are flattened for dense layers; `reshape(&[n, rows, cols])` gives the
/// images back.
///
/// # Errors
///
/// [`Error::Io`] naming the path if it cannot be read; [`Error::Format`]
/// naming the path for corrupt gzip data, a wrong magic number, or a payload
/// shorter or longer than the header says.
///
/// # Examples
///
/// ```
/// use tapeflow::data::load_idx_images;
///
/// let path = std::env::temp_dir().join(format!("tapeflow-doc-images-{}.idx", std::process::id()));
/// let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];   // 2 images of 1 x 2
/// bytes.extend([0, 255, 51, 102]);
/// std::fs::write(&path, &bytes).unwrap();
/// let x = load_idx_images(&path)?;
/// std::fs::remove_file(&path).unwrap();
/// assert_eq!(x.shape(), &[2, 2]);
/// assert_eq!(x.to_vec(), vec![0.0, 1.0, 0.2, 0.4]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn load_idx_images(path: impl AsRef<Path>) -> Result<Tensor<f32>> {
    const OP: &str = "load_idx_images";
    let path = path.as_ref();
    let bytes = read_maybe_gz(OP, path, 3)?;
    let (dims, payload) = parse_idx(OP, path, &bytes, 3)?;
    // parse_idx returned 3 dims whose product (the payload length) fits, so
    // their partial product does too. The f32 pixels take 4 bytes each:
    // checked and allocated fallibly.
    let shape = [dims[0], dims[1] * dims[2]];
    let mut pixels = crate::tensor::try_alloc::<f32>(OP, &shape)?;
    pixels.extend(payload.iter().map(|&b| f32::from(b) / 255.0));
    Tensor::from_vec(pixels, &shape)
}

/// Loads an IDX label file (magic `0x00000801`, `n` bytes) as class indices.
///
/// # Errors
///
/// As [`load_idx_images`], with magic `0x00000801`.
///
/// # Examples
///
/// ```
/// use tapeflow::data::load_idx_labels;
///
/// let path = std::env::temp_dir().join(format!("tapeflow-doc-labels-{}.idx", std::process::id()));
/// std::fs::write(&path, [0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]).unwrap();
/// let y = load_idx_labels(&path)?;
/// std::fs::remove_file(&path).unwrap();
/// assert_eq!(y, vec![7, 2, 1]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn load_idx_labels(path: impl AsRef<Path>) -> Result<Vec<usize>> {
    const OP: &str = "load_idx_labels";
    let path = path.as_ref();
    let bytes = read_maybe_gz(OP, path, 1)?;
    let (_, payload) = parse_idx(OP, path, &bytes, 1)?;
    Ok(payload.iter().map(|&b| usize::from(b)).collect())
}

/// Loads an IDX image file and its label file as one [`Dataset`]: features
/// `[n, rows * cols]` in `[0, 1]`, targets `[n, 1]` class indices.
///
/// # Errors
///
/// The errors of [`load_idx_images`] and [`load_idx_labels`];
/// [`Error::Format`] naming both files if their counts disagree.
///
/// # Examples
///
/// ```
/// use tapeflow::data::load_idx_dataset;
///
/// let dir = std::env::temp_dir();
/// let (xp, yp) = (dir.join(format!("tf-doc-x-{}", std::process::id())), dir.join(format!("tf-doc-y-{}", std::process::id())));
/// std::fs::write(&xp, [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 255]).unwrap();
/// std::fs::write(&yp, [0, 0, 8, 1, 0, 0, 0, 1, 4]).unwrap();
/// let ds = load_idx_dataset(&xp, &yp);
/// std::fs::remove_file(&xp).unwrap();
/// std::fs::remove_file(&yp).unwrap();
/// assert_eq!(ds?.targets().to_vec(), vec![4.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn load_idx_dataset(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Dataset> {
    let (images, labels) = (images.as_ref(), labels.as_ref());
    let x = load_idx_images(images)?;
    let y = load_idx_labels(labels)?;
    if x.shape()[0] != y.len() {
        return Err(Error::Format {
            op: "load_idx_dataset",
            path: images.display().to_string(),
            message: format!(
                "{} images but {} labels in {}",
                x.shape()[0],
                y.len(),
                labels.display()
            ),
        });
    }
    let n = y.len();
    let y = Tensor::from_vec(y.into_iter().map(|c| c as f32).collect(), &[n, 1])?;
    Dataset::new(x, y)
}

/// The MNIST training and test sets.
///
/// # Examples
///
/// ```
/// use tapeflow::data::load_mnist;
///
/// let mnist = load_mnist(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"))?;
/// assert_eq!((mnist.train.len(), mnist.test.len()), (60000, 10000));
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Mnist {
    /// The training set: 60000 images `[n, 784]` in `[0, 1]`, labels `[n, 1]`.
    pub train: Dataset,
    /// The test set: 10000 images `[n, 784]` in `[0, 1]`, labels `[n, 1]`.
    pub test: Dataset,
}

impl Mnist {
    /// Loads MNIST from a folder: the same as [`load_mnist`] (Keras's
    /// `keras.datasets.mnist.load_data()`, with pixels already scaled to
    /// `[0, 1]`).
    ///
    /// # Errors
    ///
    /// As [`load_mnist`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::Mnist;
    ///
    /// let mnist = Mnist::load(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"))?;
    /// assert_eq!(mnist.test.features().shape(), &[10000, 784]);
    /// let err = Mnist::load("no/such/dir").unwrap_err();
    /// assert!(err.to_string().contains("no/such/dir/train-images-idx3-ubyte"), "{err}");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn load(dir: impl AsRef<Path>) -> Result<Mnist> {
        load_mnist(dir)
    }

    /// The first `train_rows` training and `test_rows` test samples (all of
    /// a set if it has fewer), copying nothing: a subset for a quick run.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::Mnist;
    ///
    /// let mnist = Mnist::load(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"))?.take(1000, 200);
    /// assert_eq!(mnist.to_string(), "MNIST: 1000 train, 200 test");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn take(&self, train_rows: usize, test_rows: usize) -> Mnist {
        Mnist {
            train: self.train.take(train_rows),
            test: self.test.take(test_rows),
        }
    }

    /// The images as NHWC tensors `[n, 28, 28, 1]` (one channel) instead of
    /// rows `[n, 784]`, for a convolutional network; nothing is copied.
    ///
    /// # Errors
    ///
    /// [`Error::ElementCount`] (op `reshape`) if the folder held images of
    /// another size than 28 x 28.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::Mnist;
    ///
    /// let mnist = Mnist::load(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"))?.take(10, 10).images()?;
    /// assert_eq!(mnist.train.features().shape(), &[10, 28, 28, 1]);
    /// assert_eq!(mnist.test.targets().shape(), &[10, 1]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn images(&self) -> Result<Mnist> {
        Ok(Mnist {
            train: self.train.reshape_features(&[28, 28, 1])?,
            test: self.test.reshape_features(&[28, 28, 1])?,
        })
    }
}

impl fmt::Display for Mnist {
    /// `MNIST: 60000 train, 10000 test`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MNIST: {} train, {} test",
            self.train.len(),
            self.test.len()
        )
    }
}

/// `dir/name.gz` if it exists, else `dir/name`.
fn find(dir: &Path, name: &str) -> PathBuf {
    let gz = dir.join(format!("{name}.gz"));
    if gz.exists() { gz } else { dir.join(name) }
}

/// Loads MNIST from a folder holding the four files under their usual names
/// (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`), each gzipped
/// (`.gz`, preferred when both exist) or raw.
///
/// # Errors
///
/// [`Error::Io`] naming the raw path of the first missing file, and saying
/// where to get MNIST; the errors of [`load_idx_dataset`] for each pair of
/// files.
///
/// # Examples
///
/// ```
/// use tapeflow::data::load_mnist;
///
/// let mnist = load_mnist(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"))?;
/// assert_eq!(mnist.train.features().shape(), &[60000, 784]);
/// assert_eq!(mnist.to_string(), "MNIST: 60000 train, 10000 test");
/// let err = load_mnist("no/such/dir").unwrap_err().to_string();
/// assert!(err.starts_with("load_mnist: no/such/dir/train-images-idx3-ubyte: no such file"), "{err}");
/// assert!(err.contains("data/README.md"));
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn load_mnist(dir: impl AsRef<Path>) -> Result<Mnist> {
    let dir = dir.as_ref();
    // A missing file is the common case (the published crate leaves MNIST
    // out): say where to get it rather than only "No such file".
    for prefix in ["train", "t10k"] {
        for kind in ["images-idx3", "labels-idx1"] {
            let path = find(dir, &format!("{prefix}-{kind}-ubyte"));
            if !path.exists() {
                return Err(Error::Io {
                    op: "load_mnist",
                    path: path.display().to_string(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "no such file (nor its .gz); MNIST is not in the published crate: \
                         data/README.md in the repository says where to get the four files \
                         and how to check them",
                    ),
                });
            }
        }
    }
    let set = |prefix: &str| {
        load_idx_dataset(
            find(dir, &format!("{prefix}-images-idx3-ubyte")),
            find(dir, &format!("{prefix}-labels-idx1-ubyte")),
        )
    };
    Ok(Mnist {
        train: set("train")?,
        test: set("t10k")?,
    })
}
