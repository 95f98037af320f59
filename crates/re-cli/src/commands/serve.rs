//! `kre serve`: a trained run over HTTP. Argument parsing, the tokio runtime, signal handling and terminal output
//! live here; routes, batching and metrics are in `re-serve`.
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use burn::tensor::backend::AutodiffBackend;
use clap::Args;
use re_serve::metrics::Metrics;
use re_serve::ServeConfig;
use re_train::config::{DeviceSpec, Precision};
use re_train::predict::TrainedModel;
use re_train::InferenceEngine;

use super::train::{on_backend, precision_parser, resolve_engine, BackendJob, EngineArg};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// A run directory (uses RUN_DIR/best) or a saved model directory.
    #[arg(long)]
    pub model_dir: PathBuf,
    /// Address to listen on; port 0 picks a free port (the bound address is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Most records in one model call (records of concurrent requests are merged up to this).
    #[arg(long, default_value_t = 32)]
    pub max_batch_size: usize,
    /// Records per encoder forward pass inside one model call (the call's records are sorted by length and run
    /// in chunks of this size: less padding than one large batch; on the CPU small chunks are faster).
    #[arg(long, default_value_t = 8)]
    pub encoder_batch_size: usize,
    /// Model threads, each with its own copy of the model, taking batches from one queue. Default: the CPU cores
    /// (at most 4) with --device cpu, 1 on a GPU. On the CPU each thread computes on its own share of the cores
    /// (cores / model threads).
    #[arg(long)]
    pub model_threads: Option<usize>,
    /// How long a model thread, after taking a request and the requests already queued, waits for more to fill
    /// the batch, in milliseconds. 0: no wait (requests that arrive while the model is busy still share a batch).
    #[arg(long, default_value_t = 0)]
    pub max_wait_ms: u64,
    /// Requests waiting for the model; more are answered 503 with Retry-After.
    #[arg(long, default_value_t = 256)]
    pub queue_capacity: usize,
    /// Largest request body in bytes (larger: 413).
    #[arg(long, default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Longest sentence in characters (longer: 422).
    #[arg(long, default_value_t = 2000)]
    pub max_sentence_chars: usize,
    /// cpu | cuda | cuda:N (with several GPUs listed, the first one serves).
    #[arg(long, default_value = "cpu")]
    pub device: DeviceSpec,
    /// The float type of the forward pass (bf16/f16 need --device cuda).
    #[arg(long, default_value = "f32", value_parser = precision_parser())]
    pub precision: Precision,
    /// What runs the encoder (default: fused on the CPU, burn on CUDA), as for `kre predict`.
    #[arg(long, value_enum)]
    pub engine: Option<EngineArg>,
    /// `/v1/extract` mention candidates where entities are not given, as `kre extract --candidates`: all | outermost.
    #[arg(long, default_value = "all")]
    pub candidates: re_extract::Candidates,
    /// Threads answering HTTP (the model has its own thread). Default: 2.
    #[arg(long, default_value_t = 2)]
    pub http_threads: usize,
}

impl ServeArgs {
    fn config(&self) -> ServeConfig {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpu = self.device.is_cpu();
        let model_threads = self.model_threads.unwrap_or(if cpu { cores.min(4) } else { 1 });
        ServeConfig {
            max_batch_size: self.max_batch_size,
            encoder_batch_size: self.encoder_batch_size,
            model_threads,
            // Model copies sharing rayon's global pool queue behind each other's parallel loops.
            compute_threads_per_model: cpu.then(|| (cores / model_threads.max(1)).max(1)),
            max_wait: Duration::from_millis(self.max_wait_ms),
            queue_capacity: self.queue_capacity,
            max_body_bytes: self.max_body_bytes,
            max_sentence_chars: self.max_sentence_chars,
            ..ServeConfig::default()
        }
    }
}

pub fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let config = a.config();
    config.validate().map_err(anyhow::Error::msg)?;
    let engine = resolve_engine(&a.device, a.engine)?;
    let job = ServeJob { args: &a, config, engine };
    on_backend(&a.device, a.precision, job)?
}

struct ServeJob<'a> {
    args: &'a ServeArgs,
    config: ServeConfig,
    engine: InferenceEngine,
}

impl BackendJob for ServeJob<'_> {
    type Output = anyhow::Result<()>;
    fn run<B: AutodiffBackend>(self, devices: &[B::Device]) -> re_train::Result<anyhow::Result<()>> {
        let device = devices[0].clone();
        let model_dir = self.args.model_dir.clone();
        let (engine, candidates) = (self.engine, self.args.candidates);
        // The model is loaded on its own thread and never leaves it.
        let load = move || {
            let model =
                TrainedModel::<B::InnerBackend>::load(&model_dir, engine, &device).map_err(|e| e.to_string())?;
            re_serve::Served::with_extractor(model, candidates)
        };
        Ok(run_server(self.args, self.config, load))
    }
}

fn run_server<S, F>(a: &ServeArgs, config: ServeConfig, load: F) -> anyhow::Result<()>
where
    S: re_serve::Scorer,
    F: Fn() -> Result<re_serve::Served<S>, String> + Send + Sync + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.http_threads.max(1))
        .thread_name("kre-http")
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    let worker = re_serve::spawn_worker(load, &config, Arc::new(Metrics::default()))?;
    tracing::info!("model loaded: {}", worker.queue.info());
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.addr).await.with_context(|| format!("binding {}", a.addr))?;
        let bound = listener.local_addr()?;
        // Tests and scripts read this line to find the port (with --addr …:0).
        println!("listening on http://{bound}");
        std::io::stdout().flush()?;
        re_serve::serve(listener, worker, config, shutdown_signal()).await?;
        eprintln!("stopped");
        Ok(())
    })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM: the server then stops accepting and finishes what is in flight.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    eprintln!("shutting down: finishing in-flight requests");
}
