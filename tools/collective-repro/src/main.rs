//! Minimal reproduction: burn-collective 0.21's global (multi-node) all-reduce completes once per registration.
//!
//! Two node processes on 127.0.0.1, one NdArray device each, and an orchestrator in this parent process. Each node
//! all-reduces a small tensor `STEPS` times, in one of two modes:
//!
//! - `once`: register once, all-reduce every step, finish at the end (what burn-train's DDP does). Expected with
//!   the bug: step 0 completes, step 1 never returns (the node's `SyncService` keeps every peer that ever synced,
//!   so its "all peers synced" check never holds again).
//! - `per-step`: register, all-reduce, finish every step (what kre's local data parallelism already does). Each
//!   registration makes a fresh global node, so each sync starts from an empty peer list.
//!
//! Run: `cargo run --manifest-path tools/collective-repro/Cargo.toml -- [STEPS]` (default 4). Prints, per mode,
//! which steps each node completed within the time limit, and the reduced values (node r sends `[r + 1, step]`,
//! so every node must get `[3, 2·step]`). Loopback only; bounded by a 30 s limit per mode.
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use burn::backend::NdArray;
use burn::collective::{
    all_reduce, finish_collective, register, AllReduceStrategy, CollectiveConfig, PeerId, ReduceOperation,
};
use burn::tensor::{Tensor, TensorPrimitive};

type B = NdArray<f32>;
const LIMIT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("node") {
        let [rank, mode, orchestrator, data, steps] = [2, 3, 4, 5, 6].map(|i| args[i].clone());
        return node(rank.parse().unwrap(), &mode, &orchestrator, data.parse().unwrap(), steps.parse().unwrap());
    }
    let steps: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(4);
    let mut ok = true;
    for mode in ["once", "per-step"] {
        ok &= run_mode(mode, steps);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A free loopback port (bound and released; good enough for a manual reproduction).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn run_mode(mode: &str, steps: usize) -> bool {
    let orchestrator = free_port();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(burn_collective::start_global_orchestrator(orchestrator));
    });
    std::thread::sleep(Duration::from_millis(300));
    let (tx, rx) = mpsc::channel();
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<Child> = (0..2)
        .map(|rank: usize| {
            let mut child = Command::new(&exe)
                .args(["node", &rank.to_string(), mode, &orchestrator.to_string()])
                .args([free_port().to_string(), steps.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let _ = tx.send((rank, line));
                }
            });
            child
        })
        .collect();
    drop(tx);
    let start = Instant::now();
    let mut done = [0usize; 2];
    let mut correct = true;
    while done.iter().any(|&d| d < steps) && start.elapsed() < LIMIT {
        match rx.recv_timeout(LIMIT.saturating_sub(start.elapsed())) {
            Ok((rank, line)) => {
                // Only the nodes' step lines (burn's own log lines go to stdout too).
                if let Some(rest) = line.strip_prefix("step ") {
                    println!("  [{mode}] node {rank}: {line}");
                    let (step, values) = rest.split_once(' ').unwrap();
                    let step: usize = step.parse().unwrap();
                    correct &= values == format!("[3.0, {:.1}]", 2.0 * step as f32);
                    done[rank] = step + 1;
                }
            }
            Err(_) => break,
        }
    }
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    let complete = done.iter().all(|&d| d == steps) && correct;
    println!(
        "{mode}: node 0 completed {} of {steps} all-reduces, node 1 {} of {steps}, in {:.1} s{}; {}",
        done[0],
        done[1],
        start.elapsed().as_secs_f64(),
        if correct { "" } else { " (WRONG VALUES)" },
        if complete { "OK" } else { "HUNG or failed (stopped at the time limit)" }
    );
    complete
}

fn node(rank: u32, mode: &str, orchestrator: &str, data_port: u16, steps: usize) -> ExitCode {
    let device = Default::default();
    let config = CollectiveConfig::default()
        .with_num_devices(1)
        .with_num_nodes(2)
        .with_global_address(format!("ws://127.0.0.1:{orchestrator}").parse().unwrap())
        .with_node_address(format!("ws://127.0.0.1:{data_port}").parse().unwrap())
        .with_data_service_port(data_port)
        .with_global_all_reduce_strategy(AllReduceStrategy::Centralized);
    let peer = PeerId(rank);
    let per_step = mode == "per-step";
    if !per_step {
        register::<B>(peer, device, config.clone()).expect("register");
    }
    for step in 0..steps {
        if per_step {
            register::<B>(peer, device, config.clone()).expect("register");
        }
        let tensor = Tensor::<B, 1>::from_floats([rank as f32 + 1.0, step as f32], &device);
        let reduced = all_reduce::<B>(peer, tensor.into_primitive().tensor(), ReduceOperation::Sum).expect("all_reduce");
        let values: Vec<f32> = Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(reduced)).into_data().to_vec().unwrap();
        println!("step {step} {values:?}");
        if per_step {
            finish_collective::<B>(peer).expect("finish");
        }
    }
    if !per_step {
        finish_collective::<B>(peer).expect("finish");
    }
    ExitCode::SUCCESS
}
