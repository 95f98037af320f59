//! Study storage: the trait's semantics on every backend (directory, SQLite, PostgreSQL), and several worker
//! processes sharing one study — each trial run exactly once, none lost, a worker killed with SIGKILL mid-trial
//! replaced through its missed heartbeat.
//!
//! The workers are this test binary started again on [`search_worker_process`] (ignored in normal runs), so no
//! extra binary is built; they train nothing: an injected trial function scores each configuration with a cheap
//! deterministic formula, one short sleep per epoch, and reports every epoch to the pruner as training would.
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use re_train::config::TrainConfig;
use re_train::progress::{Silent, TrainObserver};
use re_train::search::storage::{Claim, Proposal, StoredTrial, TrialResult};
use re_train::search::{
    run_study_in, Pruner, SamplerConfig, SamplerKind, SearchConfig, SearchSpace, StorageSpec, StudyStorage, TrialState,
    WorkerOptions,
};
use re_train::trainer::{EpochMetrics, TrainSummary};
use serde_json::json;

// ---------------------------------------------------------------------------------------------------------------
// The trait's semantics

fn no_proposal(n: usize, _: &[StoredTrial]) -> re_train::Result<Proposal> {
    panic!("trial {n} should have been claimed with its stored parameters, not proposed again")
}

fn propose_x(n: usize, _: &[StoredTrial]) -> re_train::Result<Proposal> {
    Ok(Proposal { params: BTreeMap::from([("x".to_string(), n as f64 + 0.5)]), payload: json!({ "n": n }) })
}

fn run(claim: Claim) -> (usize, u32) {
    match claim {
        Claim::Run(c) => {
            assert_eq!(c.params["x"], c.number as f64 + 0.5, "stored parameters come back");
            assert_eq!(c.payload, json!({ "n": c.number }));
            (c.number, c.attempt)
        }
        other => panic!("expected a trial to run, got {other:?}"),
    }
}

fn result(state: TrialState, curve: &[f64]) -> TrialResult {
    TrialResult {
        state,
        value: curve.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        intermediate: curve.to_vec(),
        payload: json!({ "best_epoch": curve.len() }),
    }
}

const LONG: Duration = Duration::from_secs(3600);

/// What every backend does: the configuration is kept, claims take the lowest free number once, intermediate
/// values are visible to others, only the claiming attempt may write, a failed trial is claimed again with its
/// stored parameters, and everything is there after reopening. `open` gives a new connection (a new worker);
/// with `concurrent`, two may be open at once and a silent worker's trial is failed after the grace period.
fn storage_semantics(open: &dyn Fn() -> Box<dyn StudyStorage>, concurrent: bool) {
    let a = open();
    assert_eq!(a.init_config("config one").unwrap(), "config one");
    assert_eq!(a.init_config("config two").unwrap(), "config one", "the first configuration stays");
    let (n0, at0) = run(a.claim(4, "A", LONG, &mut propose_x).unwrap());
    let (n1, _) = run(a.claim(4, "A", LONG, &mut propose_x).unwrap());
    assert_eq!((n0, at0, n1), (0, 1, 1));
    // Intermediate values, NaN for an epoch without one; a wrong attempt writes nothing.
    assert!(a.report(0, 1, 0, 40.0).unwrap());
    assert!(a.report(0, 1, 1, f64::NAN).unwrap());
    assert!(a.heartbeat(0, 1).unwrap());
    assert!(!a.report(0, 2, 2, 99.0).unwrap());
    assert!(!a.heartbeat(3, 1).unwrap(), "no such trial");
    let t0 = a.trials().unwrap().into_iter().find(|t| t.number == 0).unwrap();
    assert_eq!(t0.state, TrialState::Running);
    assert_eq!(t0.worker, "A");
    assert_eq!(t0.intermediate.len(), 2);
    assert_eq!(t0.intermediate[0], 40.0);
    assert!(t0.intermediate[1].is_nan());
    // Finishing replaces the intermediate values; a second finish of the same attempt is refused.
    assert!(a.finish(0, 1, &result(TrialState::Complete, &[40.0, 60.0])).unwrap());
    assert!(!a.finish(0, 1, &result(TrialState::Pruned, &[1.0])).unwrap());
    assert!(!a.report(0, 1, 2, 1.0).unwrap(), "a finished trial takes no more values");
    // A failed trial is claimed again, same parameters, next attempt; the number below it comes first.
    assert!(a.fail(1, 1, "out of memory").unwrap());
    let (n, attempt) = run(a.claim(4, "A", LONG, &mut no_proposal).unwrap());
    assert_eq!((n, attempt), (1, 2));
    let t1 = a.trials().unwrap().into_iter().find(|t| t.number == 1).unwrap();
    assert_eq!((t1.state, t1.failure.as_deref()), (TrialState::Running, Some("out of memory")));
    assert!(!a.report(1, 1, 0, 5.0).unwrap(), "the failed attempt can no longer write");
    assert!(a.finish(1, 2, &result(TrialState::Pruned, &[10.0])).unwrap());

    if concurrent {
        // A second worker sees the first one's trials and claims the next number.
        let b = open();
        assert_eq!(b.init_config("config three").unwrap(), "config one");
        let (n2, _) = run(a.claim(4, "A", LONG, &mut propose_x).unwrap());
        let (n3, _) = run(b.claim(4, "B", LONG, &mut propose_x).unwrap());
        assert_eq!((n2, n3), (2, 3));
        assert!(a.report(2, 1, 0, 7.0).unwrap());
        let seen = b.trials().unwrap();
        assert_eq!(seen.iter().find(|t| t.number == 2).unwrap().intermediate, vec![7.0]);
        assert_eq!(b.claim(4, "B", LONG, &mut propose_x).unwrap(), Claim::Wait, "2 and 3 are running");
        // A keeps trial 2 alive, B's trial 3 goes silent: after the grace period B's next claim fails 3 only.
        // Generous against a loaded CI machine: A's heartbeats come every 50 ms, B's trial is silent for 1.5 s.
        let grace = Duration::from_millis(1000);
        let start = Instant::now();
        while start.elapsed() < grace + Duration::from_millis(500) {
            assert!(a.heartbeat(2, 1).unwrap());
            std::thread::sleep(Duration::from_millis(50));
        }
        let (n, attempt) = run(a.claim(4, "A", grace, &mut no_proposal).unwrap());
        assert_eq!((n, attempt), (3, 2), "the silent trial is failed and claimed again");
        let t3 = a.trials().unwrap().into_iter().find(|t| t.number == 3).unwrap();
        assert!(t3.failure.as_deref().unwrap_or("").contains("no heartbeat from worker B"), "{:?}", t3.failure);
        assert!(!b.finish(3, 1, &result(TrialState::Complete, &[99.0])).unwrap(), "B lost trial 3");
        assert!(a.finish(3, 2, &result(TrialState::Complete, &[30.0])).unwrap());
        assert!(a.finish(2, 1, &result(TrialState::Complete, &[20.0, 50.0])).unwrap());
    } else {
        for n in [2, 3] {
            assert_eq!(run(a.claim(4, "A", LONG, &mut propose_x).unwrap()), (n, 1));
            assert!(a.finish(n, 1, &result(TrialState::Complete, &[n as f64])).unwrap());
        }
    }
    assert_eq!(a.claim(4, "A", LONG, &mut propose_x).unwrap(), Claim::Done);
    drop(a);

    // Reopened: everything is there; a larger study continues with the next number.
    let c = open();
    assert_eq!(c.init_config("config four").unwrap(), "config one");
    let trials = c.trials().unwrap();
    assert_eq!(trials.iter().map(|t| t.number).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    assert!(trials.iter().all(|t| t.state.is_finished()));
    assert_eq!((trials[0].value, &trials[0].intermediate), (Some(60.0), &vec![40.0, 60.0]));
    assert_eq!((trials[1].state, trials[1].value), (TrialState::Pruned, Some(10.0)));
    assert_eq!(trials[1].payload, json!({ "best_epoch": 1 }));
    assert!(trials.iter().all(|t| t.params["x"] == t.number as f64 + 0.5));
    assert_eq!(run(c.claim(5, "C", LONG, &mut propose_x).unwrap()), (4, 1));
}

#[test]
fn directory_storage_semantics_and_one_worker_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("study");
    let spec = StorageSpec::Directory(study.clone());
    storage_semantics(&|| spec.open("ignored").unwrap(), false);
    let first = spec.open("x").unwrap();
    let e = spec.open("x").err().expect("a second worker on a directory study is refused").to_string();
    assert!(e.contains("another `kre search` worker") && e.contains("sqlite:"), "{e}");
    drop(first);
    assert!(spec.open("x").is_ok(), "the lock goes with its worker");
}

#[test]
fn sqlite_storage_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let spec = StorageSpec::Sqlite(dir.path().join("sub/study.db"));
    storage_semantics(&|| spec.open("s1").unwrap(), true);
    // Studies of one database are separate.
    let other = spec.open("s2").unwrap();
    assert!(other.trials().unwrap().is_empty());
    assert_eq!(other.init_config("mine").unwrap(), "mine");
}

/// Four threads, each its own connection, claim and finish until the study is done: every number once.
fn concurrent_claims_are_unique(open: &(dyn Fn() -> Box<dyn StudyStorage> + Sync)) {
    let n = 40;
    let ran: Vec<Vec<usize>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|w| {
                s.spawn(move || {
                    let st = open();
                    let mut mine = Vec::new();
                    loop {
                        match st.claim(n, &format!("t{w}"), LONG, &mut propose_x).unwrap() {
                            Claim::Run(c) => {
                                mine.push(c.number);
                                assert!(st.finish(c.number, c.attempt, &result(TrialState::Complete, &[1.0])).unwrap());
                            }
                            Claim::Wait => std::thread::sleep(Duration::from_millis(2)),
                            Claim::Done => return mine,
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<usize> = ran.iter().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<_>>(), "each number claimed exactly once");
}

#[test]
fn sqlite_concurrent_claims_are_unique() {
    let dir = tempfile::tempdir().unwrap();
    let spec = StorageSpec::Sqlite(dir.path().join("claims.db"));
    spec.open("c").unwrap().init_config("c").unwrap();
    concurrent_claims_are_unique(&|| spec.open("c").unwrap());
}

// ---------------------------------------------------------------------------------------------------------------
// Worker processes

/// The study the worker processes share. `variant` "random": random sampler, no pruning — trial k's parameters
/// then depend on (seed, k) only and its value on its parameters only, so any number of workers must produce
/// exactly a single worker's (number → parameters, value) set. "tpe": TPE after 3 trials and median pruning
/// from epoch 2, whose proposals depend on which trials finished first, so only completeness is compared.
fn study_config(variant: &str) -> SearchConfig {
    let base = TrainConfig { epochs: 3, ..TrainConfig::default() };
    let space = SearchSpace { batch_size: vec![16, 32], ..SearchSpace::default() };
    let (sampler, pruner) = match variant {
        "random" => (SamplerConfig { kind: SamplerKind::Random, ..SamplerConfig::default() }, Pruner::None),
        "tpe" => (
            SamplerConfig { n_startup_trials: 3, ..SamplerConfig::default() },
            Pruner::Median { n_startup_trials: 2, n_warmup_steps: 1, interval_steps: 1 },
        ),
        other => panic!("unknown variant {other}"),
    };
    SearchConfig { seed: 21, base, space, sampler, pruner }
}

/// The injected trial function: dev "micro-F1" after epoch e is a fixed function of the configuration times
/// e / epochs; `epoch_ms` of sleep per epoch. With `log`, appends `start N PID` / `end N PID` lines.
fn fake_train(
    epoch_ms: u64,
    log: Option<PathBuf>,
) -> impl FnMut(&TrainConfig, &mut dyn TrainObserver) -> re_train::Result<TrainSummary> {
    move |tc, observer| {
        let number: usize = tc
            .out
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("trial-"))
            .and_then(|n| n.parse().ok())
            .expect("trial directories are trial-NNN");
        let note = |what: &str| {
            if let Some(log) = &log {
                // One write per line: `writeln!` on a File issues a write per formatted piece, and the pieces of
                // two workers appending at once interleave into lines that parse as neither.
                let line = format!("{what} {number} {}\n", std::process::id());
                let mut f = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
                f.write_all(line.as_bytes()).unwrap();
            }
        };
        note("start");
        let lr = tc.lr.unwrap_or(1e-3);
        let target = 80.0 - 30.0 * (lr.log10() + 2.8).powi(2) - 20.0 * tc.dropout
            + if tc.batch_size == 16 { 3.0 } else { 0.0 }
            + tc.max_length as f64 / 100.0;
        let mut epochs = Vec::new();
        let mut stopped_early = false;
        for e in 1..=tc.epochs {
            std::thread::sleep(Duration::from_millis(epoch_ms));
            let m = EpochMetrics {
                epoch: e,
                step: e,
                train_loss: 1.0 / e as f64,
                lr,
                dev_loss: None,
                micro_f1: Some(target * e as f64 / tc.epochs as f64),
                auprc: None,
                accuracy: None,
                fallback_spans: 0,
                label_smoothing: 0.0,
                samples_per_sec: 0.0,
                epoch_seconds: 0.0,
            };
            observer.on_epoch_end(&m);
            epochs.push(m.clone());
            if observer.should_stop(&m) {
                stopped_early = true;
                break;
            }
        }
        note("end");
        let (best_epoch, best) = epochs
            .iter()
            .map(|m| (m.epoch, m.micro_f1.unwrap_or(f64::NAN)))
            .fold((0, f64::NEG_INFINITY), |acc, x| if x.1 > acc.1 { x } else { acc });
        Ok(TrainSummary { run_dir: tc.out.clone(), best_micro_f1: best, best_epoch, epochs, stopped_early })
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// A worker process of the tests below (they start this test binary again on this test alone); does nothing
/// when run by hand.
#[test]
#[ignore = "a worker process of the multi-worker tests, started by them"]
fn search_worker_process() {
    let Ok(storage) = std::env::var("KRE_TEST_WORKER_STORAGE") else { return };
    let spec: StorageSpec = storage.parse().unwrap();
    let st = spec.open(&env("KRE_TEST_WORKER_STUDY")).unwrap();
    let ms = |name: &str| Duration::from_millis(env(name).parse().unwrap());
    let worker = WorkerOptions {
        worker_id: env("KRE_TEST_WORKER_ID"),
        heartbeat_interval: ms("KRE_TEST_WORKER_HEARTBEAT_MS"),
        grace: ms("KRE_TEST_WORKER_GRACE_MS"),
    };
    let cfg = study_config(&env("KRE_TEST_WORKER_VARIANT"));
    let mut train =
        fake_train(env("KRE_TEST_WORKER_EPOCH_MS").parse().unwrap(), Some(env("KRE_TEST_WORKER_LOG").into()));
    let trials: usize = env("KRE_TEST_WORKER_TRIALS").parse().unwrap();
    run_study_in(&*st, &cfg, trials, Path::new(&env("KRE_TEST_WORKER_RUNS")), &worker, &mut Silent, &mut train)
        .unwrap();
}

struct Study<'a> {
    storage: &'a str,
    name: &'a str,
    variant: &'a str,
    trials: usize,
    epoch_ms: u64,
    heartbeat_ms: u64,
    grace_ms: u64,
    dir: &'a Path,
}

impl Study<'_> {
    fn log(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.name))
    }

    fn spawn(&self, id: &str) -> Worker {
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["search_storage::search_worker_process", "--exact", "--ignored", "--test-threads", "1"])
            .env("KRE_TEST_WORKER_STORAGE", self.storage)
            .env("KRE_TEST_WORKER_STUDY", self.name)
            .env("KRE_TEST_WORKER_ID", id)
            .env("KRE_TEST_WORKER_VARIANT", self.variant)
            .env("KRE_TEST_WORKER_TRIALS", self.trials.to_string())
            .env("KRE_TEST_WORKER_EPOCH_MS", self.epoch_ms.to_string())
            .env("KRE_TEST_WORKER_HEARTBEAT_MS", self.heartbeat_ms.to_string())
            .env("KRE_TEST_WORKER_GRACE_MS", self.grace_ms.to_string())
            .env("KRE_TEST_WORKER_LOG", self.log())
            .env("KRE_TEST_WORKER_RUNS", self.dir.join(format!("{}-runs", self.name)))
            // libtest prints a failing worker's panic on stdout: kept for the failure message.
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Worker(child)
    }

    /// (trial number → process ids that started it), from the workers' log.
    fn starts(&self) -> BTreeMap<usize, Vec<u32>> {
        let mut out: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for line in std::fs::read_to_string(self.log()).unwrap().lines() {
            let f: Vec<&str> = line.split(' ').collect();
            assert!(f.len() == 3 && ["start", "end"].contains(&f[0]), "malformed worker log line {line:?}");
            if f[0] == "start" {
                out.entry(f[1].parse().unwrap()).or_default().push(f[2].parse().unwrap());
            }
        }
        out
    }
}

/// A worker process, killed if the test fails before it exits.
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Waits for every worker (at most `limit`), asserting each succeeded; kills them all on timeout.
fn wait_all(workers: &mut [Worker], limit: Duration) {
    let mut children: Vec<&mut Child> = workers.iter_mut().map(|w| &mut w.0).collect();
    let start = Instant::now();
    loop {
        let mut running = false;
        for c in children.iter_mut() {
            running |= c.try_wait().unwrap().is_none();
        }
        if !running {
            break;
        }
        if start.elapsed() > limit {
            for c in children.iter_mut() {
                let _ = c.kill();
            }
            panic!("the workers did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for c in children {
        let status = c.wait().unwrap();
        let (mut stdout, mut stderr) = (String::new(), String::new());
        if let (Some(mut o), Some(mut e)) = (c.stdout.take(), c.stderr.take()) {
            use std::io::Read;
            let _ = o.read_to_string(&mut stdout);
            let _ = e.read_to_string(&mut stderr);
        }
        assert!(status.success(), "a worker failed ({status}):\n{stdout}\n{stderr}");
    }
}

/// number → (parameters, value, state) of the finished trials.
type Results = BTreeMap<usize, (BTreeMap<String, f64>, Option<f64>, TrialState)>;

fn results(trials: &[StoredTrial]) -> Results {
    trials.iter().filter(|t| t.state.is_finished()).map(|t| (t.number, (t.params.clone(), t.value, t.state))).collect()
}

/// Three worker processes on one study: every number ran exactly once (one `start` in the log, attempt 1), none
/// is missing, more than one worker ran trials, and the results are exactly a single in-process worker's.
fn three_workers_equal_one(storage: &str, dir: &Path) {
    let study = Study {
        storage,
        name: "three",
        variant: "random",
        trials: 12,
        epoch_ms: 40,
        heartbeat_ms: 200,
        grace_ms: 5000,
        dir,
    };
    let mut workers: Vec<Worker> = (0..3).map(|i| study.spawn(&format!("w{i}"))).collect();
    wait_all(&mut workers, Duration::from_secs(60));
    let spec: StorageSpec = storage.parse().unwrap();
    let shared = spec.open("three").unwrap().trials().unwrap();
    assert_eq!(shared.len(), 12);
    assert!(shared.iter().all(|t| t.state == TrialState::Complete && t.attempt == 1), "{shared:?}");
    let starts = study.starts();
    assert_eq!(starts.keys().copied().collect::<Vec<_>>(), (0..12).collect::<Vec<_>>());
    assert!(starts.values().all(|pids| pids.len() == 1), "a trial ran twice: {starts:?}");
    let pids: BTreeSet<u32> = starts.values().flatten().copied().collect();
    assert!(pids.len() >= 2, "the workers did not share the study: {starts:?}");
    let workers: BTreeSet<&str> = shared.iter().map(|t| t.worker.as_str()).collect();
    assert!(workers.len() >= 2 && workers.iter().all(|w| ["w0", "w1", "w2"].contains(w)), "{workers:?}");

    // The single-worker reference, in this process, in its own study.
    let reference = spec.open("three-reference").unwrap();
    let runs = dir.join("reference-runs");
    let mut train = fake_train(0, None);
    let cfg = study_config("random");
    run_study_in(&*reference, &cfg, 12, &runs, &WorkerOptions::default(), &mut Silent, &mut train).unwrap();
    assert_eq!(results(&shared), results(&reference.trials().unwrap()));
}

/// Three workers; once worker w0 has reported epoch 1 of a trial it is killed with SIGKILL. Its trial's heartbeat
/// stops, another worker fails it after the grace period and runs it again (attempt 2, same parameters);
/// every other trial ran once and the study completes.
fn killed_worker_is_replaced(storage: &str, dir: &Path) {
    let study = Study {
        storage,
        name: "kill",
        variant: "tpe",
        trials: 8,
        epoch_ms: 150,
        heartbeat_ms: 100,
        // Fifteen missed heartbeats: a live worker on a loaded machine is not declared stale.
        grace_ms: 1500,
        dir,
    };
    let spec: StorageSpec = storage.parse().unwrap();
    let mut victim = study.spawn("w0");
    let mut others: Vec<Worker> = (1..3).map(|i| study.spawn(&format!("w{i}"))).collect();
    let watcher = loop {
        // The study's tables exist once a worker opened it.
        match spec.open("kill") {
            Ok(s) => break s,
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let start = Instant::now();
    let killed_params = loop {
        // Generous: on 2 loaded cores (the rest of the suite running beside it) a worker process took over 30 s
        // to start, claim and report once.
        assert!(start.elapsed() < Duration::from_secs(90), "w0 never reported an epoch in 90 s");
        let trials = watcher.trials().unwrap_or_default();
        if let Some(t) =
            trials.iter().find(|t| t.worker == "w0" && t.state == TrialState::Running && !t.intermediate.is_empty())
        {
            victim.0.kill().unwrap();
            victim.0.wait().unwrap();
            break t.params.clone();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Which trial w0 held when it died (it cannot have moved on: no pruning at epoch 1, 150 ms per epoch).
    let after_kill = watcher.trials().unwrap();
    let held: Vec<&StoredTrial> =
        after_kill.iter().filter(|t| t.worker == "w0" && t.state == TrialState::Running).collect();
    assert_eq!(held.len(), 1, "{after_kill:?}");
    let killed = held[0].number;
    assert_eq!(held[0].params, killed_params);
    wait_all(&mut others, Duration::from_secs(60));

    let trials = watcher.trials().unwrap();
    assert_eq!(trials.iter().map(|t| t.number).collect::<Vec<_>>(), (0..8).collect::<Vec<_>>());
    assert!(trials.iter().all(|t| t.state.is_finished()), "{trials:?}");
    let k = &trials[killed];
    assert_eq!(k.attempt, 2, "the killed trial ran again");
    assert_ne!(k.worker, "w0");
    assert_eq!(k.params, killed_params, "with the parameters it was claimed with");
    assert!(k.failure.as_deref().unwrap_or("").contains("no heartbeat from worker w0"), "{:?}", k.failure);
    let starts = study.starts();
    for (number, pids) in &starts {
        assert_eq!(pids.len(), if *number == killed { 2 } else { 1 }, "trial {number}: {starts:?}");
    }
    assert!(trials.iter().filter(|t| t.number != killed).all(|t| t.attempt == 1));
}

#[test]
fn sqlite_three_worker_processes_run_each_trial_once() {
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sqlite:{}", dir.path().join("study.db").display());
    three_workers_equal_one(&storage, dir.path());
}

#[test]
fn sqlite_worker_killed_mid_trial_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sqlite:{}", dir.path().join("study.db").display());
    killed_worker_is_replaced(&storage, dir.path());
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL

/// A throwaway server from `scripts/start-postgres.sh`, stopped (and its directory removed) on drop, also when
/// the test fails.
struct PostgresServer {
    dir: String,
    url: String,
}

impl PostgresServer {
    fn start() -> Self {
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts");
        let out = Command::new("bash").arg(scripts.join("start-postgres.sh")).output().unwrap();
        assert!(
            out.status.success(),
            "scripts/start-postgres.sh failed (PostgreSQL's server is needed: `apt-get install postgresql`, \
             done by scripts/install-test-deps.sh):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("start-postgres.sh printed no {key}: {text}"))
                .to_string()
        };
        PostgresServer { dir: value("PGDIR"), url: value("DATABASE_URL") }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts");
        let _ = Command::new("bash").arg(scripts.join("stop-postgres.sh")).arg(&self.dir).status();
    }
}

/// One server for all of PostgreSQL's checks: the trait's semantics, unique concurrent claims, three worker
/// processes against a single worker, and the SIGKILL test.
#[test]
fn postgres_storage_semantics_and_worker_processes() {
    let server = PostgresServer::start();
    let spec = StorageSpec::Postgres(server.url.clone());
    storage_semantics(&|| spec.open("semantics").unwrap(), true);
    spec.open("claims").unwrap().init_config("c").unwrap();
    concurrent_claims_are_unique(&|| spec.open("claims").unwrap());
    let dir = tempfile::tempdir().unwrap();
    three_workers_equal_one(&server.url, dir.path());
    killed_worker_is_replaced(&server.url, dir.path());
}
