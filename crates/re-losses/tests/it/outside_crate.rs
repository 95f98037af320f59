//! `examples/uses-re-losses`: a crate outside the workspace that depends on re-losses alone builds with its own
//! committed Cargo.lock, offline, and computes the losses. This keeps "re-losses is usable from another Rust
//! project" checked by `cargo test --workspace` (CI).
//!
//! It builds in `<target>/uses-re-losses`, not in the workspace's own build directory: burn is compiled there
//! with different features anyway (nothing to share), and a nested cargo must not wait on the build lock of the
//! cargo running this test. The first build compiles ~135 crates (burn with the NdArray backend, unoptimised): about
//! 2 CPU-minutes; later runs only re-check it (about a second).
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The target directory the workspace builds into (`CARGO_TARGET_DIR` when set, else `<root>/target`). A relative
/// `CARGO_TARGET_DIR` is taken from the workspace root (tests run in the crate's directory, not where cargo ran).
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

#[test]
fn crate_outside_the_workspace_builds_and_runs_with_re_losses_alone() {
    let manifest = workspace_root().join("examples/uses-re-losses/Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // --frozen: the committed Cargo.lock must resolve as is, without the network.
    let mut child = Command::new(cargo)
        .args(["run", "--quiet", "--frozen", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", target_dir().join("uses-re-losses"))
        // Settings of the cargo running this test that must not leak into the nested build.
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_PKG_NAME")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running cargo");
    // A hung build (e.g. waiting on a lock) fails the test instead of stalling CI.
    let deadline = Instant::now() + Duration::from_secs(30 * 60);
    while child.try_wait().expect("waiting for cargo").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("building {} took more than 30 minutes", manifest.display());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().expect("cargo output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{}", stdout, String::from_utf8_lossy(&out.stderr));

    // `focal=… ce=…`, values as in the workspace's own computation of the same batch.
    let values: Vec<f64> = stdout
        .split_whitespace()
        .map(|kv| kv.split_once('=').and_then(|(_, v)| v.parse().ok()).unwrap_or(f64::NAN))
        .collect();
    assert_eq!(values.len(), 2, "{stdout}");
    let expected = expected_losses();
    for (got, want) in values.iter().zip(expected) {
        assert!((got - want).abs() < 1e-5, "{stdout}: expected focal={} ce={}", expected[0], expected[1]);
    }
}

/// The same two losses computed here, in the workspace (f64 reference from the formulas).
fn expected_losses() -> [f64; 2] {
    let logits = [[2.0f64, 0.5, -1.0], [0.1, 0.2, 3.0]];
    let targets = [0usize, 2];
    let alpha = [0.25, 0.5, 0.25];
    let (mut focal, mut ce) = (0.0, 0.0);
    for (row, &t) in logits.iter().zip(&targets) {
        let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let log_z = max + row.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
        let log_p: Vec<f64> = row.iter().map(|x| x - log_z).collect();
        let p_t = log_p[t].exp();
        focal += -alpha[t] * (1.0 - p_t).powi(2) * log_p[t];
        // ε = 0.1, K = 3: (1 − ε)(−log p_t) + (ε / K) Σ_c (−log p_c)
        ce += 0.9 * -log_p[t] + 0.1 / 3.0 * log_p.iter().map(|l| -l).sum::<f64>();
    }
    [focal / 2.0, ce / 2.0]
}
