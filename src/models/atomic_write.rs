//! Atomic file writes for `save` and `save_weights`: a temporary file
//! beside the destination, flushed and renamed over it; and the removal of
//! the temporaries an interrupted save left behind.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::weights::{format_error, io_error};
use crate::error::Result;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The temporary files this process is writing right now: a save in one
/// thread must not remove another thread's temporary of the same path.
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn in_flight() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    // A panic while holding the lock leaves a valid list behind.
    IN_FLIGHT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How long a temporary whose writer cannot be checked (no `/proc`) must
/// be left alone before a later save removes it.
const STALE_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Whether process `pid` is running, where the system can tell (Linux,
/// through `/proc`); `None` elsewhere.
fn process_alive(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    if cfg!(target_os = "linux") && proc.join("self").exists() {
        return Some(proc.join(pid.to_string()).exists());
    }
    None
}

/// Removes the temporaries an interrupted save of `file_name` in `dir`
/// left behind (`.<name>.tmp-<pid>-<n>`): those of a process that is no
/// longer running, those of this process that no save is writing, and,
/// where the system cannot tell whether a process runs, those older than a
/// day. Best effort: a file that cannot be removed is left.
fn remove_stale_temporaries(dir: &Path, file_name: &str) {
    let prefix = format!(".{file_name}.tmp-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some((pid, n)) = name.strip_prefix(&prefix).and_then(|r| r.split_once('-')) else {
            continue;
        };
        let (Ok(pid), Ok(_)) = (pid.parse::<u32>(), n.parse::<u64>()) else {
            continue;
        };
        let path = entry.path();
        let stale = if pid == me {
            !in_flight().contains(&path)
        } else {
            match process_alive(pid) {
                Some(alive) => !alive,
                None => entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > STALE_AGE),
            }
        };
        if stale {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Writes `bytes` to `path` atomically: to a new temporary file in the
/// same folder (`.<name>.tmp-<pid>-<n>`, `<pid>` the writing process,
/// `<n>` a counter), flushed to disk, then renamed over `path`, and the
/// folder flushed so the rename itself is durable. On any failure the
/// temporary file is removed and the previous `path`, if any, is
/// untouched. If `path` is a symbolic link, the link is replaced. A process
/// killed mid-save cannot remove its temporary; the next save of the same
/// path does (see [`remove_stale_temporaries`]).
pub(crate) fn write_atomic(op: &'static str, path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| format_error(op, path, "the path names no file".to_string()))?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    in_flight().push(tmp.clone());
    remove_stale_temporaries(&dir, &file_name);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    in_flight().retain(|p| p != &tmp);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(op, path, e));
    }
    // Best effort: persist the directory entry (not possible on every
    // platform or file system; the data itself is already synced).
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
