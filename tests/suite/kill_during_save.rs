//! A process killed in the middle of `save` (SIGKILL on Unix, through
//! `Child::kill`) never leaves a torn model file, and the temporary file it
//! leaves behind is removed by the next save of the same path.
//!
//! `killed_savers_never_tear_the_file_and_leave_no_temporary_behind` runs
//! this test binary again, filtered to `child_saves_in_a_loop`, with the
//! model path in an environment variable; the child saves models whose
//! every weight is the save's number, over and over, until it is killed at
//! a varying moment. The child test does nothing when the variable is
//! absent (a plain `cargo test` run), and stops by itself after
//! [`CHILD_LIMIT`], so a parent that dies before killing it (interrupted,
//! or its output pipe closed) never leaves it saving forever.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tapeflow::prelude::*;

const PATH_VAR: &str = "TAPEFLOW_KILL_SAVE_PATH";

/// How long a child saves at most: far beyond the parent's longest wait
/// before its kill (under a second).
const CHILD_LIMIT: Duration = Duration::from_secs(60);

/// A model of about 4 MB of weights, every weight equal to `value`.
fn model(value: f32) -> Sequential {
    let mut m = Sequential::new(&[1000]).add(Dense::new(1000));
    m.compile(Adam::new(0.01), MeanSquaredError, &[])
        .expect("compile");
    let weights = m.get_weights().iter().map(|w| w.map(|_| value)).collect();
    m.set_weights(weights).expect("weights");
    m
}

/// The temporaries beside `path` (`.<name>.tmp-<pid>-<n>`).
fn temporaries(path: &Path) -> Vec<PathBuf> {
    let prefix = format!(
        ".{}.tmp-",
        path.file_name().expect("file name").to_string_lossy()
    );
    std::fs::read_dir(path.parent().expect("dir"))
        .expect("read dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// Loads `path` and returns the one value every weight holds.
fn saved_value(path: &Path) -> f32 {
    let m = Sequential::load(path).expect("the file always loads");
    let w = m.get_weights();
    let v = w[0].as_slice()[0];
    assert!(
        w.iter().all(|t| t.as_slice().iter().all(|&x| x == v)),
        "torn file: weights from two saves"
    );
    v
}

#[test]
fn child_saves_in_a_loop() {
    let Some(path) = std::env::var_os(PATH_VAR) else {
        return;
    };
    let path = PathBuf::from(path);
    let start = Instant::now();
    for k in 1.. {
        model(k as f32).save(&path).expect("save");
        if start.elapsed() > CHILD_LIMIT {
            break;
        }
    }
}

#[test]
fn killed_savers_never_tear_the_file_and_leave_no_temporary_behind() {
    let dir = std::env::temp_dir().join(format!("tapeflow_kill_save_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("model.safetensors");
    model(0.0).save(&path).expect("first save");
    let exe = std::env::current_exe().expect("test binary");
    let mut left_behind = 0;
    let mut values = Vec::new();
    for round in 0..12u64 {
        let mut child = Command::new(&exe)
            .args(["--exact", "kill_during_save::child_saves_in_a_loop"])
            .args(["--nocapture", "--test-threads=1"])
            .env(PATH_VAR, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        // Let the child get into its save loop, then kill it at a moment
        // that differs from round to round (the moment only varies where
        // the kill lands; no outcome depends on it).
        std::thread::sleep(Duration::from_millis(150 + 37 * round));
        child.kill().expect("kill");
        child.wait().expect("reap");

        values.push(saved_value(&path));
        left_behind += temporaries(&path).len();
        // The next save of the same path removes the dead child's temporary.
        model(-1.0).save(&path).expect("save after the kill");
        assert_eq!(temporaries(&path), Vec::<PathBuf>::new());
        assert_eq!(saved_value(&path), -1.0);
    }
    std::fs::remove_dir_all(&dir).ok();
    // Every file read was one whole save: the parent's or a child's.
    assert!(values.iter().all(|&v| v == -1.0 || v >= 0.0), "{values:?}");
    eprintln!("kill_during_save: {left_behind} temporaries left by 12 kills, all removed");
}

#[test]
fn a_stale_temporary_is_removed_and_a_live_writers_is_kept() {
    let dir = std::env::temp_dir().join(format!("tapeflow_stale_tmp_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("m.safetensors");
    // A process that has exited: its pid names no running process.
    let mut done = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "no_such_test", "--test-threads=1"])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let dead = done.id();
    done.wait().expect("reap");
    let stale = dir.join(format!(".m.safetensors.tmp-{dead}-0"));
    std::fs::write(&stale, b"half a file").expect("plant");
    // Another path's temporary, and a name that only looks similar, stay.
    let other = dir.join(format!(".other.safetensors.tmp-{dead}-0"));
    std::fs::write(&other, b"x").expect("plant");
    let lookalike = dir.join(".m.safetensors.tmp-notes");
    std::fs::write(&lookalike, b"x").expect("plant");
    // A temporary of this very process that no save is writing is stale too.
    let own = dir.join(format!(".m.safetensors.tmp-{}-999999", std::process::id()));
    std::fs::write(&own, b"x").expect("plant");

    let mut m = Sequential::new(&[2]).add(Dense::new(1));
    m.build().expect("build");
    m.save_weights(&path).expect("save");
    assert!(!stale.exists() && !own.exists());
    assert!(other.exists() && lookalike.exists());
    if cfg!(target_os = "linux") {
        // Process 1 always runs: its temporary may be a save in progress.
        let live = dir.join(".m.safetensors.tmp-1-0");
        std::fs::write(&live, b"x").expect("plant");
        m.save(&path).expect("save");
        assert!(live.exists());
    }
    std::fs::remove_dir_all(&dir).ok();
}
