//! Study storage: where a study's configuration and trials live, behind one trait ([`StudyStorage`]) with three
//! implementations — a directory (`trials.jsonl`, one worker), SQLite (several processes on one machine) and
//! PostgreSQL (several machines). Storage never knows about training: a trial is a number, a state, parameters
//! (internal representation), intermediate values per step, a final value, a heartbeat, the worker that runs it
//! and an opaque JSON payload the study records with it.
//!
//! Several workers share a study as Optuna's RDB storage does: [`StudyStorage::claim`] picks the lowest trial
//! number that is neither finished nor running and stores it as running with its parameters, atomically (SQLite:
//! `BEGIN IMMEDIATE`; PostgreSQL: the study's row locked `FOR NO KEY UPDATE`, and a primary key on
//! (study, number)).
//! Every write of a running trial names the claim's attempt, so a worker whose trial was declared stale and
//! handed to another one cannot overwrite the new attempt. A running trial whose heartbeat is older than the
//! claimer's grace period is marked failed and its number claimed again with the same parameters.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Result, TrainError};

/// Where a trial is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialState {
    /// Claimed by a worker, whose heartbeat keeps it alive.
    Running,
    /// Ran to the end.
    Complete,
    /// Stopped early by the pruner.
    Pruned,
    /// Its worker reported an error or stopped sending heartbeats; the number is claimed again.
    Failed,
}

impl TrialState {
    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Running => "running",
            TrialState::Complete => "complete",
            TrialState::Pruned => "pruned",
            TrialState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => TrialState::Running,
            "complete" => TrialState::Complete,
            "pruned" => TrialState::Pruned,
            "failed" => TrialState::Failed,
            _ => return None,
        })
    }

    /// Complete or pruned: counts towards the study's number of trials.
    pub fn is_finished(self) -> bool {
        matches!(self, TrialState::Complete | TrialState::Pruned)
    }
}

/// One trial as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredTrial {
    pub number: usize,
    pub state: TrialState,
    /// 1 for the first claim, one more each time a failed trial is claimed again.
    pub attempt: u32,
    /// The worker of the latest claim (`host-pid` unless given).
    pub worker: String,
    /// Internal representation (see [`super::Distribution`]).
    pub params: BTreeMap<String, f64>,
    /// The objective after each step (epoch) `0..`, NaN where a step reported none.
    pub intermediate: Vec<f64>,
    /// The final objective value of a finished trial.
    pub value: Option<f64>,
    /// Seconds since the Unix epoch of the latest heartbeat, on the storage's clock (PostgreSQL: the server's).
    pub heartbeat: f64,
    /// Why the trial failed (its latest failure, kept when it is claimed again).
    pub failure: Option<String>,
    /// What the study records with the trial (for `kre search`: its training configuration, the command that
    /// reproduces it, its best epoch), a JSON object.
    pub payload: Value,
}

/// What the study's proposer gives a new trial when it is claimed.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    pub params: BTreeMap<String, f64>,
    pub payload: Value,
}

/// A trial this worker now runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimedTrial {
    pub number: usize,
    pub attempt: u32,
    pub params: BTreeMap<String, f64>,
    pub payload: Value,
}

/// The answer to [`StudyStorage::claim`].
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// Run this trial.
    Run(ClaimedTrial),
    /// Every number below the study's size is finished or running elsewhere: wait, a running one may fail.
    Wait,
    /// Every number below the study's size is finished.
    Done,
}

/// How a claimed trial ended.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialResult {
    /// Complete or pruned.
    pub state: TrialState,
    pub value: f64,
    /// Every step's value, replacing what was reported along the way.
    pub intermediate: Vec<f64>,
    pub payload: Value,
}

/// A study's storage. Every method may be called from several threads (the heartbeat runs on its own); the
/// methods that take a trial's `attempt` change nothing and return `false` when that attempt no longer runs
/// (it was declared stale and the number given to another worker).
pub trait StudyStorage: Send + Sync {
    /// The storage and study, for messages (a PostgreSQL password is not shown).
    fn describe(&self) -> String;
    /// Records `config` as the study's configuration if it has none yet; returns the one it holds.
    fn init_config(&self, config: &str) -> Result<String>;
    /// The study's configuration, `None` when no worker has started it yet.
    fn config(&self) -> Result<Option<String>>;
    /// Every trial of the study, by number.
    fn trials(&self) -> Result<Vec<StoredTrial>>;
    /// In one atomic step: marks failed the running trials whose heartbeat is older than `grace`, then claims
    /// the lowest number in `0..n_trials` that has no trial or a failed one, for `worker`. A failed trial is
    /// claimed again with its stored parameters; a new number gets `propose(number, every trial)`'s.
    fn claim(
        &self,
        n_trials: usize,
        worker: &str,
        grace: Duration,
        propose: &mut dyn FnMut(usize, &[StoredTrial]) -> Result<Proposal>,
    ) -> Result<Claim>;
    /// Records the value of `step` (NaN: none) of a running trial; also a heartbeat.
    fn report(&self, number: usize, attempt: u32, step: usize, value: f64) -> Result<bool>;
    /// Keeps a running trial alive.
    fn heartbeat(&self, number: usize, attempt: u32) -> Result<bool>;
    /// Records how a running trial ended.
    fn finish(&self, number: usize, attempt: u32, result: &TrialResult) -> Result<bool>;
    /// Marks a running trial failed, with the reason; its number will be claimed again.
    fn fail(&self, number: usize, attempt: u32, reason: &str) -> Result<bool>;
}

/// Where a study is stored, as `--storage` names it: `sqlite:PATH`, `postgres://…` (or `postgresql://…`), or a
/// directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageSpec {
    /// `trials.jsonl` and `search.toml` in the directory; one worker at a time.
    Directory(PathBuf),
    /// A SQLite database file (created if missing); several processes on one machine.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user[:password]@host[:port]/database`); several machines.
    Postgres(String),
}

impl std::str::FromStr for StorageSpec {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty storage; expected sqlite:PATH, postgres://… or a directory".into());
        }
        if let Some(rest) = s.strip_prefix("sqlite:") {
            // Optuna/SQLAlchemy spelling: sqlite:///abs/path.db, sqlite://rel.db.
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(format!("`{s}`: no database file after sqlite:"));
            }
            return Ok(StorageSpec::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(StorageSpec::Postgres(s.to_string()));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(format!(
                "unknown storage scheme `{scheme}` (expected sqlite:PATH, postgres://… or a directory)"
            ));
        }
        Ok(StorageSpec::Directory(PathBuf::from(s)))
    }
}

impl std::fmt::Display for StorageSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageSpec::Directory(p) => write!(f, "{}", p.display()),
            StorageSpec::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            StorageSpec::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl StorageSpec {
    /// Opens (creating if needed) study `name` in this storage. A directory holds one study and ignores `name`.
    pub fn open(&self, name: &str) -> Result<Box<dyn StudyStorage>> {
        Ok(match self {
            StorageSpec::Directory(dir) => Box::new(DirectoryStorage::open(dir)?),
            StorageSpec::Sqlite(path) => Box::new(SqlStorage::open_sqlite(path, name)?),
            StorageSpec::Postgres(url) => Box::new(SqlStorage::open_postgres(url, name)?),
        })
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, tail) = rest.split_once('/').map_or((rest, None), |(a, t)| (a, Some(t)));
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            format!("{}:***@{host}", user.split_once(':').map_or(user, |(u, _)| u))
        }
        _ => authority.to_string(),
    };
    match tail {
        Some(t) => format!("{scheme}://{authority}/{t}"),
        None => format!("{scheme}://{authority}"),
    }
}

fn storage_error(what: &str, e: impl std::fmt::Display) -> TrainError {
    TrainError::Storage { storage: what.to_string(), message: e.to_string() }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// What a claim does, decided from the study's trials (after stale ones were failed).
enum Plan {
    Done,
    Wait,
    Retry(Retry),
    New(usize),
}

/// A failed trial run again: its next attempt, with the parameters it was first given.
struct Retry {
    number: usize,
    attempt: u32,
    proposal: Proposal,
    failure: Option<String>,
}

fn plan_claim(trials: &[StoredTrial], n_trials: usize) -> Plan {
    let by_number: BTreeMap<usize, &StoredTrial> = trials.iter().map(|t| (t.number, t)).collect();
    let mut running = false;
    for number in 0..n_trials {
        match by_number.get(&number) {
            None => return Plan::New(number),
            Some(t) if t.state == TrialState::Failed => {
                return Plan::Retry(Retry {
                    number,
                    attempt: t.attempt + 1,
                    proposal: Proposal { params: t.params.clone(), payload: t.payload.clone() },
                    failure: t.failure.clone(),
                })
            }
            Some(t) if t.state == TrialState::Running => running = true,
            Some(_) => {}
        }
    }
    if running {
        Plan::Wait
    } else {
        Plan::Done
    }
}

fn stale_reason(worker: &str, heartbeat: f64, now: f64) -> String {
    format!("no heartbeat from worker {worker} for {:.1} s", now - heartbeat)
}

// ---------------------------------------------------------------------------------------------------------------
// Directory

/// The field `trials.jsonl` has always named the objective value with.
const VALUE_KEY: &str = "best_micro_f1";
/// The storage's own fields of a `trials.jsonl` line; every other field is the payload.
const DIRECTORY_FIELDS: [&str; 5] = ["trial", "status", VALUE_KEY, "curve", "params"];

/// `DIR/trials.jsonl` (one line per finished trial) and `DIR/search.toml`, for one worker: opening takes an
/// exclusive lock on `DIR/.lock` (released when the worker exits, however it exits), so a second worker gets a
/// clear error instead of running the same trials. The running trial lives in memory only: an interrupted study
/// re-proposes it, which gives the same parameters since a trial's parameters depend only on the seed and the
/// trials before it.
pub struct DirectoryStorage {
    dir: PathBuf,
    _lock: std::fs::File,
    trials: Mutex<Vec<StoredTrial>>,
}

impl DirectoryStorage {
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
        let lock_path = dir.join(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| TrainError::io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(storage_error(
                    &dir.display().to_string(),
                    "the study directory is in use by another `kre search` worker; a directory study has one \
                     worker at a time (use --storage sqlite:FILE.db or postgres://… for several)",
                ))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(TrainError::io(&lock_path, e)),
        }
        let trials = read_directory_trials(&dir.join("trials.jsonl"))?;
        Ok(DirectoryStorage { dir: dir.to_path_buf(), _lock: lock, trials: Mutex::new(trials) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<StoredTrial>> {
        self.trials.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `f` to the running trial `number` if `attempt` still runs it.
    fn with_running(&self, number: usize, attempt: u32, f: impl FnOnce(&mut StoredTrial)) -> bool {
        let mut trials = self.lock();
        match trials.iter_mut().find(|t| t.number == number && t.attempt == attempt && t.state == TrialState::Running) {
            Some(t) => {
                f(t);
                true
            }
            None => false,
        }
    }
}

fn json_f64(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// The finished trials of a `trials.jsonl`, missing = none. A torn last line (killed mid-write) is ignored.
fn read_directory_trials(path: &Path) -> Result<Vec<StoredTrial>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainError::io(path, e)),
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out: Vec<StoredTrial> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let parsed = serde_json::from_str::<serde_json::Map<String, Value>>(l)
            .map_err(|e| e.to_string())
            .and_then(directory_line_to_trial);
        match parsed {
            Ok(t) => {
                out.retain(|o| o.number != t.number);
                out.push(t);
            }
            Err(_) if i + 1 == lines.len() => tracing::warn!("{}: ignoring a torn last line", path.display()),
            Err(e) => return Err(TrainError::checkpoint(path, format!("line {}: {e}", i + 1))),
        }
    }
    out.sort_by_key(|t| t.number);
    Ok(out)
}

fn directory_line_to_trial(mut m: serde_json::Map<String, Value>) -> std::result::Result<StoredTrial, String> {
    let number = m.get("trial").and_then(Value::as_u64).ok_or("no trial number")? as usize;
    let state = m
        .get("status")
        .and_then(Value::as_str)
        .and_then(TrialState::parse)
        .filter(|s| s.is_finished())
        .ok_or("status is not complete or pruned")?;
    let value = m.get(VALUE_KEY).map(json_f64);
    let intermediate = match m.get("curve") {
        Some(Value::Array(a)) => a.iter().map(json_f64).collect(),
        _ => Vec::new(),
    };
    let params: BTreeMap<String, f64> = match m.get("params") {
        Some(p) => serde_json::from_value(p.clone()).map_err(|e| format!("params: {e}"))?,
        None => BTreeMap::new(),
    };
    for k in DIRECTORY_FIELDS {
        m.remove(k);
    }
    Ok(StoredTrial {
        number,
        state,
        attempt: 1,
        worker: String::new(),
        params,
        intermediate,
        value,
        heartbeat: 0.0,
        failure: None,
        payload: Value::Object(m),
    })
}

impl StudyStorage for DirectoryStorage {
    fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    fn init_config(&self, config: &str) -> Result<String> {
        let path = self.dir.join("search.toml");
        match std::fs::read_to_string(&path) {
            Ok(prev) => Ok(prev),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                re_data::fsutil::write_atomic(&path, config.as_bytes())?;
                Ok(config.to_string())
            }
            Err(e) => Err(TrainError::io(&path, e)),
        }
    }

    fn config(&self) -> Result<Option<String>> {
        let path = self.dir.join("search.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TrainError::io(&path, e)),
        }
    }

    fn trials(&self) -> Result<Vec<StoredTrial>> {
        Ok(self.lock().clone())
    }

    fn claim(
        &self,
        n_trials: usize,
        worker: &str,
        _grace: Duration,
        propose: &mut dyn FnMut(usize, &[StoredTrial]) -> Result<Proposal>,
    ) -> Result<Claim> {
        let mut trials = self.lock();
        let (number, attempt, proposal, failure) = match plan_claim(&trials, n_trials) {
            Plan::Done => return Ok(Claim::Done),
            Plan::Wait => return Ok(Claim::Wait),
            Plan::Retry(Retry { number, attempt, proposal, failure }) => (number, attempt, proposal, failure),
            Plan::New(n) => (n, 1, propose(n, &trials)?, None),
        };
        trials.retain(|t| t.number != number);
        trials.push(StoredTrial {
            number,
            state: TrialState::Running,
            attempt,
            worker: worker.to_string(),
            params: proposal.params.clone(),
            intermediate: Vec::new(),
            value: None,
            heartbeat: unix_now(),
            failure,
            payload: proposal.payload.clone(),
        });
        trials.sort_by_key(|t| t.number);
        Ok(Claim::Run(ClaimedTrial { number, attempt, params: proposal.params, payload: proposal.payload }))
    }

    fn report(&self, number: usize, attempt: u32, step: usize, value: f64) -> Result<bool> {
        Ok(self.with_running(number, attempt, |t| {
            if t.intermediate.len() <= step {
                t.intermediate.resize(step + 1, f64::NAN);
            }
            t.intermediate[step] = value;
            t.heartbeat = unix_now();
        }))
    }

    fn heartbeat(&self, number: usize, attempt: u32) -> Result<bool> {
        Ok(self.with_running(number, attempt, |t| t.heartbeat = unix_now()))
    }

    fn finish(&self, number: usize, attempt: u32, result: &TrialResult) -> Result<bool> {
        let mut trials = self.lock();
        let Some(t) =
            trials.iter_mut().find(|t| t.number == number && t.attempt == attempt && t.state == TrialState::Running)
        else {
            return Ok(false);
        };
        let mut line = serde_json::Map::new();
        line.insert("trial".into(), Value::from(number));
        line.insert("status".into(), Value::from(result.state.as_str()));
        line.insert(VALUE_KEY.into(), Value::from(result.value));
        if let Value::Object(p) = &result.payload {
            for (k, v) in p.iter().filter(|(k, _)| !DIRECTORY_FIELDS.contains(&k.as_str())) {
                line.insert(k.clone(), v.clone());
            }
        }
        line.insert("curve".into(), Value::from(result.intermediate.clone()));
        line.insert("params".into(), serde_json::to_value(&t.params).unwrap_or_default());
        let path = self.dir.join("trials.jsonl");
        append_line(&path, &Value::Object(line).to_string())?;
        t.state = result.state;
        t.value = Some(result.value);
        t.intermediate = result.intermediate.clone();
        t.payload = result.payload.clone();
        Ok(true)
    }

    fn fail(&self, number: usize, attempt: u32, reason: &str) -> Result<bool> {
        Ok(self.with_running(number, attempt, |t| {
            t.state = TrialState::Failed;
            t.failure = Some(reason.to_string());
        }))
    }
}

fn append_line(path: &Path, line: &str) -> Result<()> {
    use std::io::Write;
    let mut f =
        std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| TrainError::io(path, e))?;
    writeln!(f, "{line}").and_then(|_| f.sync_all()).map_err(|e| TrainError::io(path, e))
}

// ---------------------------------------------------------------------------------------------------------------
// SQL (SQLite and PostgreSQL share the statements)

/// A value bound to or read from a statement.
#[derive(Clone, Debug)]
enum Sql {
    Int(i64),
    Real(Option<f64>),
    Text(Option<String>),
}

impl Sql {
    fn int(&self) -> i64 {
        match self {
            Sql::Int(i) => *i,
            _ => 0,
        }
    }
    fn real(&self) -> Option<f64> {
        match self {
            Sql::Real(r) => *r,
            _ => None,
        }
    }
    fn text(&self) -> Option<&str> {
        match self {
            Sql::Text(t) => t.as_deref(),
            _ => None,
        }
    }
}

/// The column types a query reads, in order.
#[derive(Clone, Copy)]
enum Col {
    Int,
    Real,
    Text,
}

/// The little the storage needs from a database connection. Statements are written with `$1, $2 …`
/// placeholders and `NOW` for the database's clock in seconds since the Unix epoch.
trait Database: Send {
    fn execute(&mut self, sql: &str, params: &[Sql]) -> std::result::Result<u64, String>;
    fn query(&mut self, sql: &str, params: &[Sql], cols: &[Col]) -> std::result::Result<Vec<Vec<Sql>>, String>;
    fn batch(&mut self, sql: &str) -> std::result::Result<(), String>;
    /// Starts the transaction of a claim, which no other claim of `study` may interleave with.
    fn begin_claim(&mut self, study: &str) -> std::result::Result<(), String>;
}

struct Sqlite(rusqlite::Connection);

impl Sqlite {
    fn sql(sql: &str) -> String {
        // `?N` is SQLite's numbered placeholder; julianday keeps milliseconds.
        sql.replace("NOW", "((julianday('now') - 2440587.5) * 86400.0)").replace('$', "?")
    }
    fn bind(params: &[Sql]) -> Vec<rusqlite::types::Value> {
        use rusqlite::types::Value as V;
        params
            .iter()
            .map(|p| match p {
                Sql::Int(i) => V::Integer(*i),
                Sql::Real(Some(r)) if !r.is_nan() => V::Real(*r),
                Sql::Real(_) | Sql::Text(None) => V::Null,
                Sql::Text(Some(t)) => V::Text(t.clone()),
            })
            .collect()
    }
}

impl Database for Sqlite {
    fn execute(&mut self, sql: &str, params: &[Sql]) -> std::result::Result<u64, String> {
        let params = Self::bind(params);
        self.0
            .execute(&Self::sql(sql), rusqlite::params_from_iter(params.iter()))
            .map(|n| n as u64)
            .map_err(|e| e.to_string())
    }

    fn query(&mut self, sql: &str, params: &[Sql], cols: &[Col]) -> std::result::Result<Vec<Vec<Sql>>, String> {
        use rusqlite::types::Value as V;
        let params = Self::bind(params);
        let mut stmt = self.0.prepare(&Self::sql(sql)).map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params.iter()), |row| {
                cols.iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let v: V = row.get(i)?;
                        Ok(match (c, v) {
                            (Col::Int, V::Integer(x)) => Sql::Int(x),
                            (Col::Int, _) => Sql::Int(0),
                            (Col::Real, V::Real(x)) => Sql::Real(Some(x)),
                            (Col::Real, V::Integer(x)) => Sql::Real(Some(x as f64)),
                            (Col::Real, _) => Sql::Real(None),
                            (Col::Text, V::Text(t)) => Sql::Text(Some(t)),
                            (Col::Text, _) => Sql::Text(None),
                        })
                    })
                    .collect()
            })
            .map_err(|e| e.to_string())?;
        rows.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| e.to_string())
    }

    fn batch(&mut self, sql: &str) -> std::result::Result<(), String> {
        self.0.execute_batch(&Self::sql(sql)).map_err(|e| e.to_string())
    }

    fn begin_claim(&mut self, _study: &str) -> std::result::Result<(), String> {
        // Takes the database's write lock now, so the reads below see what no other claim can change.
        self.batch("BEGIN IMMEDIATE")
    }
}

struct Postgres(postgres::Client);

impl Postgres {
    fn sql(sql: &str) -> String {
        sql.replace("NOW", "extract(epoch from clock_timestamp())::float8")
    }
}

impl Database for Postgres {
    fn execute(&mut self, sql: &str, params: &[Sql]) -> std::result::Result<u64, String> {
        let boxed = pg_params(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        self.0.execute(&Self::sql(sql), &refs).map_err(pg_error)
    }

    fn query(&mut self, sql: &str, params: &[Sql], cols: &[Col]) -> std::result::Result<Vec<Vec<Sql>>, String> {
        let boxed = pg_params(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        let rows = self.0.query(&Self::sql(sql), &refs).map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                cols.iter()
                    .enumerate()
                    .map(|(i, c)| {
                        Ok(match c {
                            Col::Int => Sql::Int(row.try_get::<_, i64>(i).map_err(pg_error)?),
                            Col::Real => Sql::Real(row.try_get::<_, Option<f64>>(i).map_err(pg_error)?),
                            Col::Text => Sql::Text(row.try_get::<_, Option<String>>(i).map_err(pg_error)?),
                        })
                    })
                    .collect()
            })
            .collect()
    }

    fn batch(&mut self, sql: &str) -> std::result::Result<(), String> {
        self.0.batch_execute(&Self::sql(sql)).map_err(pg_error)
    }

    fn begin_claim(&mut self, study: &str) -> std::result::Result<(), String> {
        self.batch("BEGIN")?;
        // The study's row is the claims' lock: a second claim waits here until the first commits.
        self.query(
            "SELECT name FROM studies WHERE name = $1 FOR NO KEY UPDATE",
            &[Sql::Text(Some(study.into()))],
            &[Col::Text],
        )
        .map(|_| ())
    }
}

fn pg_params(params: &[Sql]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|p| -> Box<dyn postgres::types::ToSql + Sync> {
            match p {
                Sql::Int(i) => Box::new(*i),
                Sql::Real(r) => Box::new(r.filter(|x| !x.is_nan())),
                Sql::Text(t) => Box::new(t.clone()),
            }
        })
        .collect()
}

fn pg_error(e: postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS studies (name TEXT PRIMARY KEY, config TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    study TEXT NOT NULL, number INTEGER NOT NULL, state TEXT NOT NULL, attempt INTEGER NOT NULL,
    worker TEXT NOT NULL, params TEXT NOT NULL, value REAL, heartbeat REAL NOT NULL, failure TEXT,
    payload TEXT NOT NULL, PRIMARY KEY (study, number));
CREATE TABLE IF NOT EXISTS intermediate_values (
    study TEXT NOT NULL, number INTEGER NOT NULL, step INTEGER NOT NULL, value REAL,
    PRIMARY KEY (study, number, step));
";

const POSTGRES_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS studies (name TEXT PRIMARY KEY, config TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    study TEXT NOT NULL REFERENCES studies (name), number BIGINT NOT NULL, state TEXT NOT NULL,
    attempt BIGINT NOT NULL, worker TEXT NOT NULL, params TEXT NOT NULL, value DOUBLE PRECISION,
    heartbeat DOUBLE PRECISION NOT NULL, failure TEXT, payload TEXT NOT NULL, PRIMARY KEY (study, number));
CREATE TABLE IF NOT EXISTS intermediate_values (
    study TEXT NOT NULL, number BIGINT NOT NULL, step BIGINT NOT NULL, value DOUBLE PRECISION,
    PRIMARY KEY (study, number, step));
";

/// SQLite or PostgreSQL: the tables `studies`, `trials` (one row per (study, number)) and
/// `intermediate_values` (one row per (study, number, step)), shared by any number of studies.
pub struct SqlStorage {
    db: Mutex<Box<dyn Database>>,
    study: String,
    what: String,
}

impl SqlStorage {
    /// Opens study `study` in the SQLite database `path` (created with its tables if missing). WAL journal:
    /// readers do not block the writer; every writer waits up to a minute for the lock.
    pub fn open_sqlite(path: &Path, study: &str) -> Result<Self> {
        let what = format!("sqlite:{} (study {study})", path.display());
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| TrainError::io(parent, e))?;
        }
        let conn = rusqlite::Connection::open(path).map_err(|e| storage_error(&what, e))?;
        conn.busy_timeout(Duration::from_secs(60)).map_err(|e| storage_error(&what, e))?;
        // journal_mode answers with a row, so it is read rather than executed.
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).map_err(|e| storage_error(&what, e))?;
        conn.execute_batch("PRAGMA synchronous = NORMAL").map_err(|e| storage_error(&what, e))?;
        let mut db = Sqlite(conn);
        db.batch(&format!("BEGIN IMMEDIATE; {SQLITE_SCHEMA} COMMIT;")).map_err(|e| storage_error(&what, e))?;
        Self::with(Box::new(db), study, what)
    }

    /// Opens study `study` in the PostgreSQL database at `url` (tables created if missing).
    pub fn open_postgres(url: &str, study: &str) -> Result<Self> {
        let what = format!("{} (study {study})", redact_password(url));
        let client = postgres::Client::connect(url, postgres::NoTls).map_err(|e| storage_error(&what, pg_error(e)))?;
        let mut db = Postgres(client);
        // Several workers starting at once would race on CREATE TABLE IF NOT EXISTS; one lock key for kre's schema.
        db.batch(&format!("BEGIN; SELECT pg_advisory_xact_lock(7142093301); {POSTGRES_SCHEMA} COMMIT;"))
            .map_err(|e| storage_error(&what, e))?;
        Self::with(Box::new(db), study, what)
    }

    fn with(db: Box<dyn Database>, study: &str, what: String) -> Result<Self> {
        if study.trim().is_empty() {
            return Err(storage_error(&what, "the study name is empty"));
        }
        Ok(SqlStorage { db: Mutex::new(db), study: study.to_string(), what })
    }

    fn err(&self, e: impl std::fmt::Display) -> TrainError {
        storage_error(&self.what, e)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Box<dyn Database>> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn name(&self) -> Sql {
        Sql::Text(Some(self.study.clone()))
    }

    /// Runs `f` in a transaction begun by `begin`; rolls back on error.
    fn transaction<T>(
        &self,
        db: &mut Box<dyn Database>,
        claim: bool,
        f: impl FnOnce(&mut Box<dyn Database>) -> Result<T>,
    ) -> Result<T> {
        let begun = if claim { db.begin_claim(&self.study) } else { db.batch("BEGIN") };
        if let Err(e) = begun {
            let _ = db.batch("ROLLBACK");
            return Err(self.err(e));
        }
        match f(db) {
            Ok(v) => {
                db.batch("COMMIT").map_err(|e| self.err(e))?;
                Ok(v)
            }
            Err(e) => {
                let _ = db.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn read_trials(&self, db: &mut Box<dyn Database>) -> Result<Vec<StoredTrial>> {
        let rows = db
            .query(
                "SELECT number, state, attempt, worker, params, value, heartbeat, failure, payload FROM trials \
                 WHERE study = $1 ORDER BY number",
                &[self.name()],
                &[Col::Int, Col::Text, Col::Int, Col::Text, Col::Text, Col::Real, Col::Real, Col::Text, Col::Text],
            )
            .map_err(|e| self.err(e))?;
        let steps = db
            .query(
                "SELECT number, step, value FROM intermediate_values WHERE study = $1 ORDER BY number, step",
                &[self.name()],
                &[Col::Int, Col::Int, Col::Real],
            )
            .map_err(|e| self.err(e))?;
        let mut intermediate: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        for r in steps {
            let curve = intermediate.entry(r[0].int() as usize).or_default();
            let step = r[1].int() as usize;
            if curve.len() <= step {
                curve.resize(step + 1, f64::NAN);
            }
            curve[step] = r[2].real().unwrap_or(f64::NAN);
        }
        rows.into_iter()
            .map(|r| {
                let number = r[0].int() as usize;
                let bad = |what: &str, e: &dyn std::fmt::Display| self.err(format!("trial {number}: {what}: {e}"));
                let state = r[1].text().unwrap_or_default();
                Ok(StoredTrial {
                    number,
                    state: TrialState::parse(state).ok_or_else(|| bad("state", &state))?,
                    attempt: r[2].int() as u32,
                    worker: r[3].text().unwrap_or_default().to_string(),
                    params: serde_json::from_str(r[4].text().unwrap_or("{}")).map_err(|e| bad("params", &e))?,
                    intermediate: intermediate.remove(&number).unwrap_or_default(),
                    value: r[5].real(),
                    heartbeat: r[6].real().unwrap_or(0.0),
                    failure: r[7].text().map(str::to_string),
                    payload: serde_json::from_str(r[8].text().unwrap_or("{}")).map_err(|e| bad("payload", &e))?,
                })
            })
            .collect()
    }

    /// Whether `attempt` still runs trial `number`; refreshes its heartbeat.
    fn touch(&self, db: &mut Box<dyn Database>, number: usize, attempt: u32) -> Result<bool> {
        db.execute(
            "UPDATE trials SET heartbeat = NOW WHERE study = $1 AND number = $2 AND attempt = $3 AND state = 'running'",
            &[self.name(), Sql::Int(number as i64), Sql::Int(attempt as i64)],
        )
        .map(|n| n == 1)
        .map_err(|e| self.err(e))
    }
}

impl StudyStorage for SqlStorage {
    fn describe(&self) -> String {
        self.what.clone()
    }

    fn init_config(&self, config: &str) -> Result<String> {
        let mut db = self.lock();
        let db = &mut *db;
        self.transaction(db, false, |db| {
            db.execute(
                "INSERT INTO studies (name, config) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[self.name(), Sql::Text(Some(config.to_string()))],
            )
            .map_err(|e| self.err(e))?;
            let rows = db
                .query("SELECT config FROM studies WHERE name = $1", &[self.name()], &[Col::Text])
                .map_err(|e| self.err(e))?;
            match rows.first().map(|r| &r[0]) {
                Some(Sql::Text(Some(c))) => Ok(c.clone()),
                _ => Err(self.err("the study's row vanished")),
            }
        })
    }

    fn config(&self) -> Result<Option<String>> {
        let mut db = self.lock();
        let rows = db
            .query("SELECT config FROM studies WHERE name = $1", &[self.name()], &[Col::Text])
            .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().next().and_then(|r| r[0].text().map(str::to_string)))
    }

    fn trials(&self) -> Result<Vec<StoredTrial>> {
        let mut db = self.lock();
        let db = &mut *db;
        // One snapshot for both tables.
        self.transaction(db, false, |db| self.read_trials(db))
    }

    fn claim(
        &self,
        n_trials: usize,
        worker: &str,
        grace: Duration,
        propose: &mut dyn FnMut(usize, &[StoredTrial]) -> Result<Proposal>,
    ) -> Result<Claim> {
        let mut db = self.lock();
        let db = &mut *db;
        self.transaction(db, true, |db| {
            let now = match db.query("SELECT NOW", &[], &[Col::Real]).map_err(|e| self.err(e))?.first() {
                Some(r) => match r[0] {
                    Sql::Real(Some(t)) => t,
                    _ => unix_now(),
                },
                None => unix_now(),
            };
            let mut trials = self.read_trials(db)?;
            let cutoff = now - grace.as_secs_f64();
            for t in trials.iter_mut().filter(|t| t.state == TrialState::Running && t.heartbeat < cutoff) {
                let reason = stale_reason(&t.worker, t.heartbeat, now);
                tracing::warn!("{}: trial {} failed: {reason}; it will run again", self.what, t.number);
                let (number, attempt) = (Sql::Int(t.number as i64), Sql::Int(t.attempt as i64));
                db.execute(
                    "UPDATE trials SET state = 'failed', failure = $4 \
                     WHERE study = $1 AND number = $2 AND attempt = $3",
                    &[self.name(), number, attempt, Sql::Text(Some(reason.clone()))],
                )
                .map_err(|e| self.err(e))?;
                t.state = TrialState::Failed;
                t.failure = Some(reason);
            }
            let (number, attempt, proposal) = match plan_claim(&trials, n_trials) {
                Plan::Done => return Ok(Claim::Done),
                Plan::Wait => return Ok(Claim::Wait),
                Plan::Retry(Retry { number: n, attempt, proposal, .. }) => {
                    db.execute(
                        "UPDATE trials SET state = 'running', attempt = $3, worker = $4, heartbeat = NOW \
                         WHERE study = $1 AND number = $2",
                        &[self.name(), Sql::Int(n as i64), Sql::Int(attempt as i64), Sql::Text(Some(worker.into()))],
                    )
                    .map_err(|e| self.err(e))?;
                    db.execute(
                        "DELETE FROM intermediate_values WHERE study = $1 AND number = $2",
                        &[self.name(), Sql::Int(n as i64)],
                    )
                    .map_err(|e| self.err(e))?;
                    (n, attempt, proposal)
                }
                Plan::New(n) => {
                    let p = propose(n, &trials)?;
                    let params = serde_json::to_string(&p.params).map_err(|e| self.err(e))?;
                    db.execute(
                        "INSERT INTO trials (study, number, state, attempt, worker, params, value, heartbeat, failure, \
                         payload) VALUES ($1, $2, 'running', 1, $3, $4, NULL, NOW, NULL, $5)",
                        &[
                            self.name(),
                            Sql::Int(n as i64),
                            Sql::Text(Some(worker.into())),
                            Sql::Text(Some(params)),
                            Sql::Text(Some(p.payload.to_string())),
                        ],
                    )
                    .map_err(|e| self.err(e))?;
                    (n, 1, p)
                }
            };
            Ok(Claim::Run(ClaimedTrial { number, attempt, params: proposal.params, payload: proposal.payload }))
        })
    }

    fn report(&self, number: usize, attempt: u32, step: usize, value: f64) -> Result<bool> {
        let mut db = self.lock();
        let db = &mut *db;
        self.transaction(db, false, |db| {
            if !self.touch(db, number, attempt)? {
                return Ok(false);
            }
            db.execute(
                "INSERT INTO intermediate_values (study, number, step, value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (study, number, step) DO UPDATE SET value = excluded.value",
                &[self.name(), Sql::Int(number as i64), Sql::Int(step as i64), Sql::Real(Some(value))],
            )
            .map_err(|e| self.err(e))?;
            Ok(true)
        })
    }

    fn heartbeat(&self, number: usize, attempt: u32) -> Result<bool> {
        let mut db = self.lock();
        self.touch(&mut db, number, attempt)
    }

    fn finish(&self, number: usize, attempt: u32, result: &TrialResult) -> Result<bool> {
        let mut db = self.lock();
        let db = &mut *db;
        self.transaction(db, false, |db| {
            let updated = db
                .execute(
                    "UPDATE trials SET state = $4, value = $5, payload = $6, heartbeat = NOW \
                     WHERE study = $1 AND number = $2 AND attempt = $3 AND state = 'running'",
                    &[
                        self.name(),
                        Sql::Int(number as i64),
                        Sql::Int(attempt as i64),
                        Sql::Text(Some(result.state.as_str().into())),
                        Sql::Real(Some(result.value)),
                        Sql::Text(Some(result.payload.to_string())),
                    ],
                )
                .map_err(|e| self.err(e))?;
            if updated != 1 {
                return Ok(false);
            }
            db.execute(
                "DELETE FROM intermediate_values WHERE study = $1 AND number = $2",
                &[self.name(), Sql::Int(number as i64)],
            )
            .map_err(|e| self.err(e))?;
            for (step, v) in result.intermediate.iter().enumerate() {
                db.execute(
                    "INSERT INTO intermediate_values (study, number, step, value) VALUES ($1, $2, $3, $4)",
                    &[self.name(), Sql::Int(number as i64), Sql::Int(step as i64), Sql::Real(Some(*v))],
                )
                .map_err(|e| self.err(e))?;
            }
            Ok(true)
        })
    }

    fn fail(&self, number: usize, attempt: u32, reason: &str) -> Result<bool> {
        let mut db = self.lock();
        db.execute(
            "UPDATE trials SET state = 'failed', failure = $4 \
             WHERE study = $1 AND number = $2 AND attempt = $3 AND state = 'running'",
            &[self.name(), Sql::Int(number as i64), Sql::Int(attempt as i64), Sql::Text(Some(reason.into()))],
        )
        .map(|n| n == 1)
        .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_specs_parse_into_their_kind() {
        let p = |s: &str| s.parse::<StorageSpec>();
        assert_eq!(p("sqlite:runs/s.db"), Ok(StorageSpec::Sqlite("runs/s.db".into())));
        assert_eq!(p("sqlite:///tmp/s.db"), Ok(StorageSpec::Sqlite("/tmp/s.db".into())));
        assert_eq!(p("postgres://kre@db:5432/kre"), Ok(StorageSpec::Postgres("postgres://kre@db:5432/kre".into())));
        assert!(matches!(p("postgresql://h/d"), Ok(StorageSpec::Postgres(_))));
        assert_eq!(p("runs/study"), Ok(StorageSpec::Directory("runs/study".into())));
        assert!(p("mysql://h/d").unwrap_err().contains("mysql"));
        assert!(p("sqlite:").is_err());
        assert!(p(" ").is_err());
        assert_eq!(p("postgres://u:pw@h:1/d").unwrap().to_string(), "postgres://u:***@h:1/d");
        assert_eq!(redact_password("postgres://u@h/d"), "postgres://u@h/d");
    }

    fn trial(number: usize, state: TrialState) -> StoredTrial {
        StoredTrial {
            number,
            state,
            attempt: 1,
            worker: String::new(),
            params: BTreeMap::new(),
            intermediate: Vec::new(),
            value: None,
            heartbeat: 0.0,
            failure: None,
            payload: Value::Null,
        }
    }

    #[test]
    fn claims_take_the_lowest_free_number_and_wait_for_running_ones() {
        use TrialState::*;
        let plan = |t: &[StoredTrial], n| match plan_claim(t, n) {
            Plan::Done => "done".to_string(),
            Plan::Wait => "wait".to_string(),
            Plan::Retry(r) => format!("retry {} (attempt {})", r.number, r.attempt),
            Plan::New(n) => format!("new {n}"),
        };
        assert_eq!(plan(&[], 2), "new 0");
        assert_eq!(plan(&[trial(0, Complete), trial(2, Running)], 3), "new 1");
        assert_eq!(plan(&[trial(0, Pruned), trial(1, Failed), trial(2, Running)], 3), "retry 1 (attempt 2)");
        assert_eq!(plan(&[trial(0, Pruned), trial(1, Running)], 2), "wait");
        assert_eq!(plan(&[trial(0, Pruned), trial(1, Complete), trial(2, Failed)], 2), "done");
        assert_eq!(plan(&[], 0), "done");
    }
}
