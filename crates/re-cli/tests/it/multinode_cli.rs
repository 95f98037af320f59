//! `kre train --nodes 2`: two node processes × one CPU device on 127.0.0.1, rank 0 running the coordinator
//! (burn-collective's global orchestrator). The run equals the single-process run with the same global batch, only
//! rank 0 writes, and a node that dies or never joins stops the other with an error naming it, leaving a `last/`
//! from which both nodes resume.
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

use crate::common::{kre, s, slice};

type Cpu = burn::backend::NdArray<f32>;

/// A tiny encoder without dropout (so that splitting a batch changes nothing but float rounding), `epochs` epochs
/// of batch 16 on CPU.
fn train_args(train: &Path, dev: &Path, out: &Path, epochs: usize) -> Vec<String> {
    let args = [
        "train",
        "--model",
        "tiny",
        "--tiny-vocab-size",
        "500",
        "--tiny-hidden-size",
        "32",
        "--tiny-layers",
        "1",
        "--tiny-heads",
        "2",
        "--tiny-intermediate-size",
        "64",
        "--tiny-dropout",
        "0",
        "--dropout",
        "0",
        "--batch-size",
        "16",
        "--max-length",
        "64",
        "--lr",
        "3e-3",
        "--markers",
        "typed",
        "--device",
        "cpu",
    ];
    let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    v.extend(
        ["--train", s(train), "--dev", s(dev), "--out", s(out), "--epochs", &epochs.to_string()].map(String::from),
    );
    v
}

/// A loopback port `p` with `p + 1` and `p + 2` free as well (the coordinator and the two nodes' tensor services).
fn free_ports() -> u16 {
    for _ in 0..50 {
        let p = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if p < 65000 && (1..=2).all(|i| TcpListener::bind(("0.0.0.0", p + i)).is_ok()) {
            return p;
        }
    }
    panic!("no three consecutive free ports");
}

/// Starts `kre` with `args` and `env`, stdout/stderr into `log` (a file: pipes could fill and block the child).
fn spawn(args: &[String], env: &[(&str, String)], log: &Path) -> Child {
    let file = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_kre"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file))
        .spawn()
        .expect("running kre")
}

/// Waits at most `limit` for `child`; kills it and panics past that.
fn wait(child: &mut Child, limit: Duration, log: &Path) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kre did not finish within {limit:?}: {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn node(args: &[String], rank: u32, port: u16, timeout_s: u32) -> Vec<String> {
    let mut v = args.to_vec();
    let flags = ["--nodes", "2", "--node-rank", &rank.to_string(), "--coordinator", &format!("127.0.0.1:{port}")];
    v.extend(flags.map(String::from));
    v.extend(["--peer-timeout".to_string(), timeout_s.to_string()]);
    v
}

/// Every float parameter of the model saved in `dir`, in module order.
fn parameters(dir: &Path) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor<Cpu> for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Cpu, D>>) {
            self.0.extend(param.val().into_data().to_vec::<f32>().unwrap());
        }
    }
    let (model, _) = re_train::trainer::load_model::<Cpu>(dir, &Default::default()).unwrap();
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

fn metrics(run: &Path) -> Vec<re_train::trainer::EpochMetrics> {
    re_train::trainer::read_metrics(&run.join("metrics.jsonl")).unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn two_nodes_train_like_one_process_and_only_rank_0_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (train, dev) = (slice("train.json", 64, d), slice("dev.json", 24, d));
    let single = d.join("single");
    let out = kre(&train_args(&train, &dev, &single, 2).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let port = free_ports();
    let (run0, run1) = (d.join("rank0"), d.join("rank1"));
    let (log0, log1) = (d.join("rank0.log"), d.join("rank1.log"));
    // Rank 0 by flags, rank 1 by torchrun-style environment variables.
    let mut rank0 = spawn(&node(&train_args(&train, &dev, &run0, 2), 0, port, 60), &[], &log0);
    let env = [
        ("KRE_NODES", "2".to_string()),
        ("KRE_NODE_RANK", "1".to_string()),
        ("KRE_COORDINATOR", format!("127.0.0.1:{port}")),
    ];
    let mut rank1 = spawn(&train_args(&train, &dev, &run1, 2), &env, &log1);
    let limit = Duration::from_secs(300);
    let (status0, status1) = (wait(&mut rank0, limit, &log0), wait(&mut rank1, limit, &log1));
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    assert!(status0.success(), "rank 0: {}", read(&log0));
    assert!(status1.success(), "rank 1: {}", read(&log1));
    assert!(read(&log1).contains("node 1 of 2"), "{}", read(&log1));

    // Rank 1 wrote nothing; rank 0 wrote the whole run directory.
    assert!(!run1.exists(), "rank 1 wrote {}", run1.display());
    for f in ["train_config.toml", "metrics.jsonl", "best/model.mpk", "last/model.mpk", "last/state.json"] {
        assert!(run0.join(f).exists(), "rank 0 did not write {f}");
    }
    // Same losses, dev scores and weights as one process with the same global batch.
    let (m1, m2) = (metrics(&single), metrics(&run0));
    assert_eq!(m1.len(), 2);
    assert_eq!(m2.len(), 2);
    for (a, b) in m1.iter().zip(&m2) {
        assert_eq!((a.epoch, a.step, a.fallback_spans), (b.epoch, b.step, b.fallback_spans));
        assert!((a.train_loss - b.train_loss).abs() < 1e-5, "train loss {} vs {}", a.train_loss, b.train_loss);
        let (da, db) = (a.dev_loss.unwrap(), b.dev_loss.unwrap());
        assert!((da - db).abs() < 1e-5, "dev loss {da} vs {db}");
        assert!((a.micro_f1.unwrap() - b.micro_f1.unwrap()).abs() < 1e-9);
    }
    let diff = max_abs_diff(&parameters(&single.join("last")), &parameters(&run0.join("last")));
    let loss_diff = m1.iter().zip(&m2).map(|(a, b)| (a.train_loss - b.train_loss).abs()).fold(0.0, f64::max);
    eprintln!("2 nodes vs 1 process, 2 epochs: max |Δ train loss| {loss_diff:.2e}, max |Δ parameter| {diff:.2e}");
    assert!(diff < 1e-5, "parameters after 2 epochs differ by {diff}");
}

#[test]
fn a_node_that_dies_stops_the_other_and_last_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (train, dev) = (slice("train.json", 256, d), slice("dev.json", 16, d));
    let port = free_ports();
    let (run0, run1) = (d.join("rank0"), d.join("rank1"));
    let (log0, log1) = (d.join("rank0.log"), d.join("rank1.log"));
    let epochs = 6;
    let mut rank0 = spawn(&node(&train_args(&train, &dev, &run0, epochs), 0, port, 5), &[], &log0);
    let mut rank1 = spawn(&node(&train_args(&train, &dev, &run1, epochs), 1, port, 5), &[], &log1);

    // Kill rank 1 as soon as rank 0 has finished an epoch (it is then inside the next one).
    let start = Instant::now();
    while !run0.join("last/state.json").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "no epoch finished: {}",
            std::fs::read_to_string(&log0).unwrap()
        );
        assert!(rank1.try_wait().unwrap().is_none(), "rank 1 ended early: {}", std::fs::read_to_string(&log1).unwrap());
        std::thread::sleep(Duration::from_millis(10));
    }
    rank1.kill().unwrap();
    rank1.wait().unwrap();
    let killed = Instant::now();

    let status = wait(&mut rank0, Duration::from_secs(60), &log0);
    let log = std::fs::read_to_string(&log0).unwrap();
    assert!(!status.success(), "rank 0 succeeded without rank 1: {log}");
    assert!(killed.elapsed() < Duration::from_secs(30), "rank 0 took {:?} to stop", killed.elapsed());
    assert!(log.contains("node 1"), "the error does not name node 1: {log}");
    eprintln!("rank 0 stopped {:?} after rank 1 was killed: {}", killed.elapsed(), log.lines().last().unwrap_or(""));
    assert!(!log.contains("panicked"), "{log}");

    // `last/` is a completed epoch before the end. Both nodes resume from it (rank 1 has no copy: rank 0 sends
    // it) and finish the run; rank 1 still writes nothing.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run0.join("last/state.json")).unwrap()).unwrap();
    let done = state["epochs_done"].as_u64().unwrap() as usize;
    assert!((1..epochs).contains(&done), "epochs done {done}");
    assert_eq!(metrics(&run0).len(), done);
    let port = free_ports();
    let resume = |run: &Path, rank: u32| {
        let mut args = node(&train_args(&train, &dev, run, epochs), rank, port, 60);
        args.push("--resume".into());
        args
    };
    let mut rank0 = spawn(&resume(&run0, 0), &[], &log0);
    let mut rank1 = spawn(&resume(&run1, 1), &[("RUST_LOG", "re_train=info".to_string())], &log1);
    let limit = Duration::from_secs(300);
    let (status0, status1) = (wait(&mut rank0, limit, &log0), wait(&mut rank1, limit, &log1));
    assert!(status0.success(), "resumed rank 0: {}", std::fs::read_to_string(&log0).unwrap());
    assert!(status1.success(), "resumed rank 1: {}", std::fs::read_to_string(&log1).unwrap());
    let log = std::fs::read_to_string(&log1).unwrap();
    assert!(
        log.contains("resuming from rank 0's last/") && log.contains(&format!("resuming after epoch {done}")),
        "{log}"
    );
    assert_eq!(metrics(&run0).len(), epochs);
    assert!(!run1.exists(), "rank 1 wrote {}", run1.display());
}

#[test]
fn a_node_that_never_joins_is_named_and_bad_flags_fail_early() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (train, dev) = (slice("train.json", 32, d), slice("dev.json", 8, d));
    let run = d.join("alone");
    let port = free_ports();
    let log = d.join("alone.log");
    let started = Instant::now();
    let mut alone = spawn(&node(&train_args(&train, &dev, &run, 1), 0, port, 3), &[], &log);
    let status = wait(&mut alone, Duration::from_secs(60), &log);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!status.success());
    assert!(started.elapsed() < Duration::from_secs(40), "took {:?}", started.elapsed());
    assert!(text.contains("node 0 of 2") && text.contains("node 1 stopped or never joined"), "{text}");
    assert!(!run.join("last").exists());

    let base = train_args(&train, &dev, &d.join("never"), 1);
    let with = |extra: &[&str]| {
        let mut v: Vec<&str> = base.iter().map(String::as_str).collect();
        v.extend(extra);
        kre(&v)
    };
    let cases: [(&[&str], &str); 4] = [
        (&["--nodes", "2", "--node-rank", "0"], "--coordinator"),
        (&["--nodes", "2", "--coordinator", "127.0.0.1:1"], "--node-rank"),
        (&["--nodes", "2", "--node-rank", "2", "--coordinator", "127.0.0.1:1"], "--node-rank 2"),
        (&["--nodes", "2", "--node-rank", "0", "--coordinator", "nowhere"], "HOST:PORT"),
    ];
    for (extra, needle) in cases {
        let out = with(extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(needle), "{extra:?}: {err}");
    }
    assert!(!d.join("never").exists());
}
