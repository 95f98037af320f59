//! The model thread and its bounded queue (dynamic batching).
//!
//! Dedicated OS threads own the model, one copy each (burn's CPU work must not run on tokio's reactor threads;
//! with `compute_threads_per_model`, each thread computes on its own rayon pool, so copies do not queue behind
//! each other). Request handlers put a [`Job`] (their records + a reply channel) into a bounded queue with
//! `try_send`: a full queue is answered at once with 503 instead of piling up latency. The thread takes a job and
//! every job already queued, then waits at most `max_wait` for more, until `max_batch_size` records are
//! gathered, scores them all in one [`Scorer::score`] call and sends
//! each job its own rows. A job that would overflow the batch starts the next one; a job with more records than
//! `max_batch_size` is scored alone. Within a call, the scorer runs the records in length-sorted chunks of
//! `encoder_batch_size`. With several model threads, a thread stops gathering once it holds one encoder chunk
//! and another thread is idle, so the other thread scores the next requests at the same time instead of waiting
//! for a batch of many chunks that one thread runs one after another.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use burn::tensor::backend::Backend;
use re_data::record::RelationRecord;
use re_extract::{CandidatePair, Candidates, ExtractError, ExtractOptions, Extractor, Sentence, Triple};
use re_train::predict::{Predictions, TrainedModel};
use tokio::sync::oneshot;

use crate::config::ServeConfig;
use crate::error::{Result, ServeError};
use crate::metrics::Metrics;

/// Why scoring failed.
#[derive(Debug, Clone)]
pub enum ScoreError {
    /// A record could not be encoded (spans, markers, tokenization); the message names it.
    Record(String),
    /// A request this server cannot do (text without entities and no mention finder).
    Unsupported(String),
    /// Anything else (the model itself failed).
    Model(String),
}

/// What the model thread runs: class probabilities for records, row-major `[records, labels()]`, in input order.
/// [`TrainedModel`] is the real one; tests use small fakes.
pub trait Scorer {
    fn labels(&self) -> &[String];
    /// What `/healthz` shows about the model (directory, engine, …).
    fn describe(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn score(&self, records: &[RelationRecord], batch_size: usize) -> std::result::Result<Vec<f64>, ScoreError>;
}

impl<B: Backend> Scorer for TrainedModel<B> {
    fn labels(&self) -> &[String] {
        TrainedModel::labels(self)
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "dir": self.dir().display().to_string(),
            "engine": self.engine().to_string(),
            "max_length": self.spec().max_length,
        })
    }

    fn score(&self, records: &[RelationRecord], batch_size: usize) -> std::result::Result<Vec<f64>, ScoreError> {
        match self.predict(records, batch_size) {
            Ok(p) => Ok(p.probs),
            Err(re_train::TrainError::Data(e)) => Err(ScoreError::Record(e.to_string())),
            Err(e) => Err(ScoreError::Model(e.to_string())),
        }
    }
}

/// What the model thread runs for one request.
enum Work {
    /// Score these records (`/v1/predict`).
    Records(Vec<RelationRecord>),
    /// Find candidate pairs, score them, keep triples (`/v1/extract`).
    Extract { sentences: Vec<Sentence>, options: ExtractOptions },
}

/// What a request gets back.
enum Answer {
    Probs(Vec<f64>),
    Triples(Vec<Triple>),
}

type Reply = oneshot::Sender<std::result::Result<Answer, ScoreError>>;

/// One request waiting for the model thread.
struct Job {
    work: Work,
    reply: Reply,
}

/// A job whose records are known (an extraction job's candidate pairs found), ready to join a batch.
struct Prepared {
    records: Vec<RelationRecord>,
    then: Then,
    reply: Reply,
}

/// What to do with a prepared job's probabilities.
enum Then {
    Answer,
    Triples { sentences: Vec<Sentence>, pairs: Vec<CandidatePair>, options: ExtractOptions },
}

/// What the model thread owns: the scorer and, for `/v1/extract`, the extractor (mention finder + allowed type
/// pairs). Both stay on that thread (the mention finder holds a MeCab handle).
pub struct Served<S> {
    pub scorer: S,
    pub extractor: Option<Extractor>,
}

impl<B: Backend> Served<TrainedModel<B>> {
    /// `model` with its extractor ([`Extractor::for_model_with`]: the type pairs stored in the model, MeCab if
    /// present, `candidates` as `kre extract --candidates`).
    pub fn with_extractor(model: TrainedModel<B>, candidates: Candidates) -> std::result::Result<Self, String> {
        let extractor = Extractor::for_model_with(&model, candidates).map_err(|e| e.to_string())?;
        Ok(Served { scorer: model, extractor: Some(extractor) })
    }
}

/// The request side of the queue: cheap to clone, shared by all handlers.
#[derive(Clone, Debug)]
pub struct ModelQueue {
    sender: SyncSender<Job>,
    labels: Arc<[String]>,
    info: Arc<serde_json::Value>,
    capacity: usize,
    metrics: Arc<Metrics>,
}

impl ModelQueue {
    /// Label names, in the order of each probability row.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The model as [`Scorer::describe`] tells it.
    pub fn info(&self) -> &serde_json::Value {
        &self.info
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Scores `records` (batched with other requests' records): row-major probabilities in input order.
    /// A full queue is [`ServeError::QueueFull`]; a record that cannot be encoded is [`ServeError::BadRequest`].
    pub async fn score(&self, records: Vec<RelationRecord>) -> Result<Vec<f64>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        match self.submit(Work::Records(records)).await? {
            Answer::Probs(p) => Ok(p),
            Answer::Triples(_) => Err(ServeError::Model("the model thread answered triples to records".into())),
        }
    }

    /// Triples of `sentences`: their candidate pairs are scored in the same batches as other requests' records.
    pub async fn extract(&self, sentences: Vec<Sentence>, options: ExtractOptions) -> Result<Vec<Triple>> {
        if sentences.is_empty() {
            return Ok(Vec::new());
        }
        match self.submit(Work::Extract { sentences, options }).await? {
            Answer::Triples(t) => Ok(t),
            Answer::Probs(_) => Err(ServeError::Model("the model thread answered probabilities to texts".into())),
        }
    }

    async fn submit(&self, work: Work) -> Result<Answer> {
        let (reply, answer) = oneshot::channel();
        self.metrics.queue_push();
        if let Err(e) = self.sender.try_send(Job { work, reply }) {
            self.metrics.queue_pop();
            return Err(match e {
                TrySendError::Full(_) => ServeError::QueueFull { capacity: self.capacity },
                TrySendError::Disconnected(_) => ServeError::Unavailable("the model thread has stopped".into()),
            });
        }
        match answer.await {
            Ok(Ok(a)) => Ok(a),
            Ok(Err(ScoreError::Record(m))) => Err(ServeError::BadRequest(m)),
            Ok(Err(ScoreError::Unsupported(m))) => Err(ServeError::Unprocessable(m)),
            Ok(Err(ScoreError::Model(m))) => Err(ServeError::Model(m)),
            Err(_) => Err(ServeError::Unavailable("the model thread stopped before answering".into())),
        }
    }
}

/// The model thread and the queue that feeds it. Drop every clone of [`WorkerHandle::queue`] (the server does when
/// it stops), then [`WorkerHandle::join`]: the thread finishes the jobs already queued and exits.
#[derive(Debug)]
pub struct WorkerHandle {
    pub queue: ModelQueue,
    threads: Vec<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Waits for the model thread to finish its queued jobs and exit.
    pub fn join(self) -> Result<()> {
        let WorkerHandle { queue, threads } = self;
        drop(queue);
        let mut result = Ok(());
        for t in threads {
            if t.join().is_err() {
                result = Err(ServeError::Model("a model thread panicked".into()));
            }
        }
        result
    }
}

/// Starts `config.model_threads` model threads: `load` runs on each (so a model never crosses threads; each
/// thread has its own copy) and the call returns once every model is loaded, or with the first loading error.
/// The threads share one queue: one at a time gathers a batch, then scores it while the next thread gathers.
pub fn spawn_worker<S, F>(load: F, config: &ServeConfig, metrics: Arc<Metrics>) -> Result<WorkerHandle>
where
    S: Scorer,
    F: Fn() -> std::result::Result<Served<S>, String> + Send + Sync + 'static,
{
    config.validate().map_err(ServeError::Startup)?;
    let (sender, receiver) = sync_channel::<Job>(config.queue_capacity);
    let receiver = Arc::new(Mutex::new(receiver));
    let idle = Arc::new(AtomicUsize::new(0));
    let load = Arc::new(load);
    type Ready = std::result::Result<(Vec<String>, serde_json::Value), String>;
    let (ready_tx, ready_rx) = sync_channel::<Ready>(config.model_threads);
    let mut threads = Vec::with_capacity(config.model_threads);
    for i in 0..config.model_threads {
        let (load, receiver, ready_tx) = (Arc::clone(&load), Arc::clone(&receiver), ready_tx.clone());
        let idle = Arc::clone(&idle);
        let (thread_config, thread_metrics) = (config.clone(), Arc::clone(&metrics));
        let thread = std::thread::Builder::new().name(format!("kre-model-{i}")).spawn(move || {
            // This thread becomes the only caller of its own pool, so model copies do not queue on one pool.
            let _pool = match thread_config.compute_threads_per_model.map(own_pool).transpose() {
                Ok(pool) => pool,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("starting the model thread's compute pool: {e}")));
                    return;
                }
            };
            let served = match catch_unwind(AssertUnwindSafe(|| load())) {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
                Err(_) => {
                    let _ = ready_tx.send(Err("loading the model panicked".into()));
                    return;
                }
            };
            let mut info = served.scorer.describe();
            if let Some(map) = info.as_object_mut() {
                let finder = served.extractor.as_ref().is_some_and(|e| e.finder().is_some());
                map.insert("mention_finder".into(), finder.into());
                map.insert("model_threads".into(), thread_config.model_threads.into());
                map.insert("compute_threads_per_model".into(), rayon::current_num_threads().into());
            }
            let _ = ready_tx.send(Ok((served.scorer.labels().to_vec(), info)));
            drop(ready_tx);
            run(&served, &receiver, &idle, &thread_config, &thread_metrics);
        });
        match thread {
            Ok(t) => threads.push(t),
            Err(e) => {
                drop(sender);
                threads.into_iter().for_each(|t| drop(t.join()));
                return Err(e.into());
            }
        }
    }
    drop(ready_tx);
    let mut ready = None;
    let mut failure = None;
    for _ in 0..config.model_threads {
        match ready_rx.recv() {
            Ok(Ok(r)) => ready = ready.or(Some(r)),
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(_) => failure = failure.or(Some("a model thread stopped while loading".to_string())),
        }
    }
    let (labels, info) = match (ready, failure) {
        (Some(r), None) => r,
        (_, failure) => {
            drop(sender);
            threads.into_iter().for_each(|t| drop(t.join()));
            return Err(ServeError::Startup(failure.unwrap_or_else(|| "no model thread started".into())));
        }
    };
    let queue =
        ModelQueue { sender, labels: labels.into(), info: Arc::new(info), capacity: config.queue_capacity, metrics };
    Ok(WorkerHandle { queue, threads })
}

/// A rayon pool of `threads` threads that the calling thread belongs to (as its first worker): rayon work started
/// on this thread (the fused engine's parallel loops and GEMMs) runs on this pool instead of the global one.
/// The pool lives as long as the returned handle.
fn own_pool(threads: usize) -> std::result::Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).use_current_thread().build()
}

/// A model thread's loop: gather a batch (holding the queue), score it (not holding it), answer; until every
/// sender is gone and the queue is empty. `idle` counts the model threads waiting for the queue.
fn run<S: Scorer>(
    served: &Served<S>,
    receiver: &Mutex<Receiver<Job>>,
    idle: &AtomicUsize,
    config: &ServeConfig,
    metrics: &Metrics,
) {
    let mut next: Option<Prepared> = None;
    loop {
        let jobs = {
            idle.fetch_add(1, Ordering::SeqCst);
            // A poisoned lock only means another model thread panicked while gathering; the channel is intact.
            let receiver = receiver.lock().unwrap_or_else(|e| e.into_inner());
            idle.fetch_sub(1, Ordering::SeqCst);
            let another_idle = || idle.load(Ordering::SeqCst) > 0;
            gather(served, &receiver, &mut next, config, metrics, another_idle)
        };
        match jobs {
            Some(jobs) => score_batch(served, jobs, config, metrics),
            None => return,
        }
    }
}

/// One batch: `next` (a job left over from the last batch) or the next job, then whatever arrives within
/// `max_wait` up to `max_batch_size` records; but no more than one encoder chunk while `another_idle()` (a model
/// thread that could score the rest in parallel). `None` when the queue is closed and empty.
fn gather<S: Scorer>(
    served: &Served<S>,
    receiver: &Receiver<Job>,
    next: &mut Option<Prepared>,
    config: &ServeConfig,
    metrics: &Metrics,
    another_idle: impl Fn() -> bool,
) -> Option<Vec<Prepared>> {
    let first = loop {
        if let Some(job) = next.take() {
            break job;
        }
        let job = receiver.recv().ok()?;
        metrics.queue_pop();
        if let Some(p) = prepare(served, job) {
            break p;
        }
    };
    let deadline = Instant::now() + config.max_wait;
    let mut size = first.records.len();
    let mut jobs = vec![first];
    while size < config.max_batch_size && !(size >= config.encoder_batch_size && another_idle()) {
        // Jobs already queued join at once; only then is it worth waiting (up to the deadline) for more.
        let job = match receiver.try_recv() {
            Ok(job) => Ok(job),
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                receiver.recv_timeout(deadline - now)
            }
        };
        match job {
            Ok(job) => {
                metrics.queue_pop();
                let Some(job) = prepare(served, job) else { continue };
                if size + job.records.len() > config.max_batch_size {
                    *next = Some(job);
                    break;
                }
                size += job.records.len();
                jobs.push(job);
            }
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    Some(jobs)
}

/// The records a job needs scored; `None` when it was answered already (no candidate pairs, an error, or a client
/// that has gone).
fn prepare<S: Scorer>(served: &Served<S>, job: Job) -> Option<Prepared> {
    let Job { work, reply } = job;
    if reply.is_closed() {
        return None;
    }
    match work {
        Work::Records(records) => Some(Prepared { records, then: Then::Answer, reply }),
        Work::Extract { sentences, options } => {
            let Some(extractor) = &served.extractor else {
                let _ = reply.send(Err(ScoreError::Unsupported("this server does not extract from text".into())));
                return None;
            };
            let found = catch_unwind(AssertUnwindSafe(|| extractor.pairs(&sentences)))
                .unwrap_or_else(|_| Err(ExtractError::Options("finding mentions panicked".into())));
            match found {
                Ok(pairs) if pairs.is_empty() => {
                    let _ = reply.send(Ok(Answer::Triples(Vec::new())));
                    None
                }
                Ok(pairs) => {
                    let records = pairs.iter().map(|p| p.record.clone()).collect();
                    Some(Prepared { records, then: Then::Triples { sentences, pairs, options }, reply })
                }
                Err(e @ ExtractError::NoMentionFinder { .. }) => {
                    let _ = reply.send(Err(ScoreError::Unsupported(e.to_string())));
                    None
                }
                Err(e) => {
                    let _ = reply.send(Err(ScoreError::Model(e.to_string())));
                    None
                }
            }
        }
    }
}

fn score_guarded<S: Scorer>(
    scorer: &S,
    records: &[RelationRecord],
    batch_size: usize,
) -> std::result::Result<Vec<f64>, ScoreError> {
    let num_labels = scorer.labels().len();
    match catch_unwind(AssertUnwindSafe(|| scorer.score(records, batch_size))) {
        Ok(Ok(p)) if p.len() == records.len() * num_labels => Ok(p),
        Ok(Ok(p)) => Err(ScoreError::Model(format!(
            "expected {} probabilities, the model gave {}",
            records.len() * num_labels,
            p.len()
        ))),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ScoreError::Model("the model panicked on this batch".into())),
    }
}

/// Scores the jobs' records in one call and answers each job from its rows. When the merged call fails, each job is
/// scored alone, so one request's bad record fails that request only.
fn score_batch<S: Scorer>(served: &Served<S>, mut jobs: Vec<Prepared>, config: &ServeConfig, metrics: &Metrics) {
    // A client that gave up (closed connection) needs no answer.
    jobs.retain(|j| !j.reply.is_closed());
    if jobs.is_empty() {
        return;
    }
    let scorer = &served.scorer;
    let num_labels = scorer.labels().len();
    let lens: Vec<usize> = jobs.iter().map(|j| j.records.len()).collect();
    let mut records = Vec::with_capacity(lens.iter().sum());
    for job in &mut jobs {
        records.append(&mut job.records);
    }
    metrics.record_batch(records.len(), jobs.len());
    match score_guarded(scorer, &records, config.encoder_batch_size) {
        Ok(probs) => {
            let mut rows = probs.chunks(num_labels.max(1));
            for (job, n) in jobs.into_iter().zip(lens) {
                let mine: Vec<f64> = rows.by_ref().take(n).flatten().copied().collect();
                finish(served, job, Ok(mine));
            }
        }
        Err(e) if jobs.len() == 1 => {
            if let Some(job) = jobs.pop() {
                finish(served, job, Err(e));
            }
        }
        Err(_) => {
            let mut rest = records.into_iter();
            for (job, n) in jobs.into_iter().zip(lens) {
                let mine: Vec<RelationRecord> = rest.by_ref().take(n).collect();
                let probs = score_guarded(scorer, &mine, config.encoder_batch_size);
                finish(served, job, probs);
            }
        }
    }
}

/// Answers a job from its probabilities: as they are, or as triples.
fn finish<S: Scorer>(served: &Served<S>, job: Prepared, probs: std::result::Result<Vec<f64>, ScoreError>) {
    let answer = probs.map(|probs| match job.then {
        Then::Answer => Answer::Probs(probs),
        Then::Triples { sentences, pairs, options } => {
            let labels = served.scorer.labels();
            let predictions = Predictions { num_labels: labels.len(), probs, fallback_spans: 0, truncated_entities: 0 };
            let triples = served
                .extractor
                .as_ref()
                .map(|x| x.triples(&sentences, &pairs, &predictions, labels, &options))
                .unwrap_or_default();
            Answer::Triples(triples)
        }
    });
    let _ = job.reply.send(answer);
}

#[cfg(test)]
mod tests {
    use super::*;
    use re_data::record::Entity;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Probabilities that encode the record: `[len(sentence), 1]`; fails on a sentence "bad"; counts its calls.
    struct Echo {
        labels: Vec<String>,
        calls: Arc<AtomicUsize>,
        delay: Duration,
        /// Names of the threads that scored, each with the rayon threads it computed on.
        threads: Arc<Mutex<std::collections::BTreeSet<(String, usize)>>>,
    }

    impl Scorer for Echo {
        fn labels(&self) -> &[String] {
            &self.labels
        }
        fn score(&self, records: &[RelationRecord], _: usize) -> std::result::Result<Vec<f64>, ScoreError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let name = std::thread::current().name().unwrap_or_default().to_string();
            self.threads.lock().unwrap().insert((name, rayon::current_num_threads()));
            std::thread::sleep(self.delay);
            if let Some(r) = records.iter().find(|r| r.sentence == "bad") {
                return Err(ScoreError::Record(format!("record {}: cannot encode", r.id)));
            }
            let n = self.labels.len();
            Ok(records.iter().flat_map(|r| [r.sentence.chars().count() as f64, 1.0].into_iter().take(n)).collect())
        }
    }

    fn record(id: &str, sentence: &str) -> RelationRecord {
        RelationRecord {
            id: id.into(),
            sentence: sentence.into(),
            subject: Entity::new("a", 0, 0, "PER"),
            object: Entity::new("b", 1, 1, "ORG"),
            label: None,
            source: None,
        }
    }

    fn start(config: &ServeConfig, delay: Duration) -> (WorkerHandle, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        let load = move || {
            let scorer =
                Echo { labels: vec!["x".into(), "y".into()], calls: Arc::clone(&c), delay, threads: Arc::default() };
            Ok(Served { scorer, extractor: Some(Extractor::new(None, None)) })
        };
        (spawn_worker(load, config, Arc::new(Metrics::default())).unwrap(), calls)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
    }

    #[test]
    fn concurrent_requests_share_one_call_and_get_their_own_rows() {
        let config = ServeConfig { max_wait: Duration::from_millis(200), max_batch_size: 64, ..Default::default() };
        let (worker, calls) = start(&config, Duration::ZERO);
        let rt = runtime();
        let answers = rt.block_on(async {
            let mut tasks = Vec::new();
            for i in 0..8 {
                let q = worker.queue.clone();
                let sentence = "가".repeat(i + 1);
                tasks.push(tokio::spawn(async move { q.score(vec![record(&i.to_string(), &sentence)]).await }));
            }
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap().unwrap());
            }
            out
        });
        for (i, a) in answers.iter().enumerate() {
            assert_eq!(a, &vec![(i + 1) as f64, 1.0]);
        }
        // 8 requests within 200 ms: far fewer calls than requests.
        assert!(calls.load(Ordering::SeqCst) < 8, "{} calls", calls.load(Ordering::SeqCst));
        let h = worker.queue.metrics().batch_records();
        assert_eq!(h.sum(), 8.0);
        assert!(h.count() < 8);
        worker.join().unwrap();
    }

    #[test]
    fn a_bad_record_fails_only_its_own_request() {
        let config = ServeConfig { max_wait: Duration::from_millis(200), ..Default::default() };
        let (worker, _) = start(&config, Duration::ZERO);
        let rt = runtime();
        let (good, bad) = rt.block_on(async {
            let (q1, q2) = (worker.queue.clone(), worker.queue.clone());
            let good = tokio::spawn(async move { q1.score(vec![record("g", "좋은"), record("h", "문장")]).await });
            let bad = tokio::spawn(async move { q2.score(vec![record("b", "bad")]).await });
            (good.await.unwrap(), bad.await.unwrap())
        });
        assert_eq!(good.unwrap(), vec![2.0, 1.0, 2.0, 1.0]);
        match bad {
            Err(ServeError::BadRequest(m)) => assert!(m.contains("record b"), "{m}"),
            other => panic!("{other:?}"),
        }
        worker.join().unwrap();
    }

    #[test]
    fn a_full_queue_refuses_at_once_and_nothing_is_lost() {
        // A slow model and a queue of 2: of 12 simultaneous requests, some must be refused, and every accepted one
        // is answered with its own row.
        let config =
            ServeConfig { queue_capacity: 2, max_batch_size: 1, max_wait: Duration::ZERO, ..Default::default() };
        let (worker, _) = start(&config, Duration::from_millis(50));
        let rt = runtime();
        let results = rt.block_on(async {
            let mut tasks = Vec::new();
            for i in 0..12 {
                let q = worker.queue.clone();
                let sentence = "나".repeat(i + 1);
                tasks.push(tokio::spawn(async move { q.score(vec![record(&i.to_string(), &sentence)]).await }));
            }
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        });
        let mut full = 0;
        for (i, r) in results.iter().enumerate() {
            match r {
                Ok(row) => assert_eq!(row, &vec![(i + 1) as f64, 1.0]),
                Err(ServeError::QueueFull { capacity: 2 }) => full += 1,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert!(full > 0 && full < 12, "{full} refused");
        assert_eq!(worker.queue.metrics().queue_depth(), 0);
        worker.join().unwrap();
    }

    /// Eight one-record requests at once (after `settle`, for the threads to reach the queue) to a worker of
    /// `config` whose scorer takes 50 ms per call; each answer is checked. Returns the (thread name, rayon threads)
    /// that scored, and the records the batches held in all.
    fn eight_requests_to_slow_threads(config: &ServeConfig, settle: Duration) -> (Vec<(String, usize)>, f64) {
        let threads: Arc<Mutex<std::collections::BTreeSet<(String, usize)>>> = Arc::default();
        let seen = Arc::clone(&threads);
        let load = move || {
            let scorer = Echo {
                labels: vec!["x".into()],
                calls: Arc::default(),
                delay: Duration::from_millis(50),
                threads: Arc::clone(&seen),
            };
            Ok(Served { scorer, extractor: None })
        };
        let worker = spawn_worker(load, config, Arc::new(Metrics::default())).unwrap();
        std::thread::sleep(settle);
        let rt = runtime();
        rt.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    let q = worker.queue.clone();
                    tokio::spawn(async move { q.score(vec![record(&i.to_string(), &"다".repeat(i + 1))]).await })
                })
                .collect();
            for (i, t) in tasks.into_iter().enumerate() {
                assert_eq!(t.await.unwrap().unwrap(), vec![(i + 1) as f64]);
            }
        });
        let records = worker.queue.metrics().batch_records().sum();
        worker.join().unwrap();
        let seen = threads.lock().unwrap().iter().cloned().collect();
        (seen, records)
    }

    #[test]
    fn model_threads_share_the_queue() {
        let config =
            ServeConfig { model_threads: 2, max_batch_size: 1, max_wait: Duration::ZERO, ..Default::default() };
        let (seen, _) = eight_requests_to_slow_threads(&config, Duration::ZERO);
        let names: Vec<String> = seen.into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["kre-model-0", "kre-model-1"]);
    }

    #[test]
    fn requests_queued_while_the_model_is_busy_share_the_next_call_without_waiting() {
        // No wait at all: the first request is scored alone; the four sent while it runs are already queued when
        // the thread comes back, so they make one call, not four.
        let config = ServeConfig { max_wait: Duration::ZERO, max_batch_size: 32, ..Default::default() };
        let (worker, calls) = start(&config, Duration::from_millis(150));
        let rt = runtime();
        let answers = rt.block_on(async {
            let q = worker.queue.clone();
            let first = tokio::spawn(async move { q.score(vec![record("0", "가")]).await });
            tokio::time::sleep(Duration::from_millis(50)).await;
            let rest: Vec<_> = (1..5)
                .map(|i| {
                    let q = worker.queue.clone();
                    tokio::spawn(async move { q.score(vec![record(&i.to_string(), &"가".repeat(i + 1))]).await })
                })
                .collect();
            let mut out = vec![first.await.unwrap().unwrap()];
            for t in rest {
                out.push(t.await.unwrap().unwrap());
            }
            out
        });
        for (i, a) in answers.iter().enumerate() {
            assert_eq!(a, &vec![(i + 1) as f64, 1.0]);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        worker.join().unwrap();
    }

    #[test]
    fn an_idle_model_thread_takes_what_is_beyond_one_encoder_chunk() {
        // Two model threads on one core each, chunks of 2 records, a long wait: eight requests at once are not
        // gathered into one batch by one thread while the other idles; both score, each on its own one-thread pool.
        let config = ServeConfig {
            model_threads: 2,
            compute_threads_per_model: Some(1),
            encoder_batch_size: 2,
            max_batch_size: 32,
            max_wait: Duration::from_millis(200),
            ..Default::default()
        };
        let (seen, records) = eight_requests_to_slow_threads(&config, Duration::from_millis(50));
        assert_eq!(records, 8.0);
        assert_eq!(seen, [("kre-model-0".to_string(), 1), ("kre-model-1".to_string(), 1)]);
    }

    #[test]
    fn a_failed_load_is_a_startup_error() {
        let load = || -> std::result::Result<Served<Echo>, String> { Err("no model here".into()) };
        match spawn_worker(load, &ServeConfig::default(), Arc::new(Metrics::default())) {
            Err(ServeError::Startup(m)) => assert_eq!(m, "no model here"),
            other => panic!("{other:?}"),
        }
    }
}
