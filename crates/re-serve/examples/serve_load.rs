//! Load-test client for `kre serve` (and the FastAPI anchor, `scripts/bench/serve_fastapi.py`, which answers the
//! same `/v1/predict` body): at each concurrency level it sends a fixed number of requests — a mix of 1, 1, 2 and
//! 4 KLUE records per request, and with `--texts-every N` every N-th request a `/v1/extract` text written as inline
//! markup of one record — and reports requests/s, p50/p99 latency, statuses, and the server's batch-size
//! distribution (from `/metrics`, where the server has one). Every answer is checked: a 200 must carry exactly the
//! ids sent, in order; anything else is counted as lost/mismatched. Loopback only; bounded by `--requests` and
//! `--max-seconds` per level.
//!
//! ```sh
//! cargo run --release -p re-serve --example serve_load -- --url http://127.0.0.1:8080 \
//!     --records datasets/synthetic-klue-re/test.json --requests 400 --concurrency 1,8,64
//! ```
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};

#[derive(Parser, Debug)]
struct Args {
    /// Base URL of the server (loopback).
    #[arg(long)]
    url: String,
    /// KLUE JSON file whose records are sent.
    #[arg(long)]
    records: PathBuf,
    /// Requests per concurrency level.
    #[arg(long, default_value_t = 400)]
    requests: usize,
    /// Comma-separated concurrency levels.
    #[arg(long, default_value = "1,8,64", value_delimiter = ',')]
    concurrency: Vec<usize>,
    /// Every N-th request is a `/v1/extract` text (0: records only).
    #[arg(long, default_value_t = 0)]
    texts_every: usize,
    /// Stop sending new requests at a level after this many seconds.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
    /// Name of the server in the report.
    #[arg(long, default_value = "kre")]
    name: String,
    /// Append one JSON line per level here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Records per `/v1/predict` request, cycled.
const RECORDS_PER_REQUEST: [usize; 4] = [1, 1, 2, 4];

#[derive(Default)]
struct Outcome {
    latencies: Vec<f64>,
    statuses: BTreeMap<u16, usize>,
    transport_errors: usize,
    mismatched: usize,
    records: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if !args.url.starts_with("http://127.") && !args.url.starts_with("http://localhost") {
        return Err("serve_load sends traffic to loopback addresses only (http://127.x or http://localhost)".into());
    }
    let records: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&args.records)?)?;
    if records.is_empty() {
        return Err(format!("{}: no records", args.records.display()).into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run(args, Arc::new(records)))
}

async fn run(args: Args, records: Arc<Vec<Value>>) -> Result<(), Box<dyn std::error::Error>> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).timeout(Duration::from_secs(60)).build()?;
    println!(
        "| server | concurrency | requests | 200 | 503 | other | lost/mismatched | req/s | records/s | p50 ms | p99 ms | mean batch (records) | batch sizes (records: calls) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &c in &args.concurrency {
        let before = batch_histogram(&client, &args.url).await;
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let deadline = started + Duration::from_secs(args.max_seconds);
        let mut tasks = Vec::new();
        for _ in 0..c.max(1) {
            let (client, url, records, next) =
                (client.clone(), args.url.clone(), Arc::clone(&records), Arc::clone(&next));
            let (total, texts_every) = (args.requests, args.texts_every);
            tasks.push(tokio::spawn(async move {
                let mut out = Outcome::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total || Instant::now() > deadline {
                        return out;
                    }
                    one_request(&client, &url, &records, i, texts_every, &mut out).await;
                }
            }));
        }
        let mut all = Outcome::default();
        for t in tasks {
            let o = t.await?;
            all.latencies.extend(o.latencies);
            for (s, n) in o.statuses {
                *all.statuses.entry(s).or_insert(0) += n;
            }
            all.transport_errors += o.transport_errors;
            all.mismatched += o.mismatched;
            all.records += o.records;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let after = batch_histogram(&client, &args.url).await;
        report(&args, c, &mut all, elapsed, before, after)?;
    }
    Ok(())
}

async fn one_request(
    client: &reqwest::Client,
    url: &str,
    records: &[Value],
    i: usize,
    texts_every: usize,
    out: &mut Outcome,
) {
    let extract = texts_every > 0 && i % texts_every == texts_every - 1;
    let (path, body, ids) = if extract {
        let r = &records[i % records.len()];
        (format!("{url}/v1/extract"), json!({ "texts": [markup(r)], "include_no_relation": true }), None)
    } else {
        let k = RECORDS_PER_REQUEST[i % RECORDS_PER_REQUEST.len()];
        let chosen: Vec<Value> = (0..k).map(|j| records[(i * 4 + j) % records.len()].clone()).collect();
        let ids: Vec<String> = chosen.iter().map(id_of).collect();
        (format!("{url}/v1/predict"), json!({ "records": chosen }), Some(ids))
    };
    let sent = Instant::now();
    let response = client.post(&path).json(&body).send().await;
    let answer = match response {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            Some((status, text))
        }
        Err(_) => None,
    };
    out.latencies.push(sent.elapsed().as_secs_f64());
    let Some((status, text)) = answer else {
        out.transport_errors += 1;
        return;
    };
    *out.statuses.entry(status).or_insert(0) += 1;
    if status != 200 {
        return;
    }
    let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match ids {
        Some(ids) => {
            let got: Vec<String> = parsed["predictions"]
                .as_array()
                .map(|a| a.iter().map(|p| p["id"].as_str().unwrap_or_default().to_string()).collect())
                .unwrap_or_default();
            if got != ids {
                out.mismatched += 1;
            }
            out.records += ids.len();
        }
        None => {
            // One text: every triple belongs to its sentences, "1" or "1.k" when the text is split.
            let ok = parsed["triples"].as_array().is_some_and(|t| {
                t.iter().all(|x| x["sentence_id"].as_str().is_some_and(|id| id == "1" || id.starts_with("1.")))
            });
            if !ok {
                out.mismatched += 1;
            }
            out.records += 1;
        }
    }
}

fn id_of(r: &Value) -> String {
    match r.get("guid").or_else(|| r.get("id")) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

/// The record's sentence with its two entities written as `[[word|TYPE]]` (a `kre extract` markup line).
fn markup(r: &Value) -> String {
    let sentence: Vec<char> = r["sentence"].as_str().unwrap_or_default().chars().collect();
    let mut spans: Vec<(usize, usize, String)> = ["subject_entity", "object_entity"]
        .iter()
        .filter_map(|k| {
            let e = &r[*k];
            Some((e["start_idx"].as_u64()? as usize, e["end_idx"].as_u64()? as usize, e["type"].as_str()?.to_string()))
        })
        .collect();
    spans.sort();
    if spans.len() == 2 && spans[0].1 >= spans[1].0 {
        spans.truncate(1); // overlapping entities cannot both be marked
    }
    let mut out = String::new();
    let mut at = 0;
    for (s, e, t) in spans {
        if s < at || e >= sentence.len() {
            continue;
        }
        out.extend(&sentence[at..s]);
        let word: String = sentence[s..=e].iter().collect();
        out.push_str(&format!("[[{word}|{t}]]"));
        at = e + 1;
    }
    out.extend(&sentence[at.min(sentence.len())..]);
    out
}

/// `(le, cumulative count)` of `kre_batch_size_records` and its sum, if the server exposes it.
async fn batch_histogram(client: &reqwest::Client, url: &str) -> Option<(Vec<(String, f64)>, f64)> {
    let text = client.get(format!("{url}/metrics")).send().await.ok()?.text().await.ok()?;
    let mut buckets = Vec::new();
    let mut sum = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("kre_batch_size_records_bucket{le=\"") {
            let (le, value) = rest.split_once("\"} ")?;
            buckets.push((le.to_string(), value.trim().parse().ok()?));
        } else if let Some(v) = line.strip_prefix("kre_batch_size_records_sum ") {
            sum = v.trim().parse().ok();
        }
    }
    if buckets.is_empty() {
        return None;
    }
    Some((buckets, sum?))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn report(
    args: &Args,
    concurrency: usize,
    o: &mut Outcome,
    elapsed: f64,
    before: Option<(Vec<(String, f64)>, f64)>,
    after: Option<(Vec<(String, f64)>, f64)>,
) -> Result<(), Box<dyn std::error::Error>> {
    o.latencies.sort_by(f64::total_cmp);
    let n = o.latencies.len();
    let ok = o.statuses.get(&200).copied().unwrap_or(0);
    let refused = o.statuses.get(&503).copied().unwrap_or(0);
    let other = n - ok - refused - o.transport_errors;
    let (p50, p99) = (percentile(&o.latencies, 0.5) * 1e3, percentile(&o.latencies, 0.99) * 1e3);
    let (mut mean_batch, mut dist) = (None, String::from("n/a"));
    if let (Some((b0, s0)), Some((b1, s1))) = (before, after) {
        let mut prev = 0.0;
        let mut parts = Vec::new();
        let mut calls = 0.0;
        for ((le, c0), (_, c1)) in b0.iter().zip(&b1) {
            let cumulative = c1 - c0;
            let in_bucket = cumulative - prev;
            prev = cumulative;
            calls = cumulative;
            if in_bucket > 0.0 {
                parts.push(format!("≤{le}: {in_bucket}"));
            }
        }
        if calls > 0.0 {
            mean_batch = Some((s1 - s0) / calls);
        }
        dist = parts.join(", ");
    }
    let rps = n as f64 / elapsed;
    println!(
        "| {} | {concurrency} | {n} | {ok} | {refused} | {} | {} | {rps:.1} | {:.1} | {p50:.2} | {p99:.2} | {} | {dist} |",
        args.name,
        other + o.transport_errors,
        o.mismatched,
        o.records as f64 / elapsed,
        mean_batch.map_or("n/a".to_string(), |m| format!("{m:.2}")),
    );
    if let Some(path) = &args.out {
        use std::io::Write as _;
        let line = json!({
            "server": args.name, "concurrency": concurrency, "requests": n, "ok": ok, "refused_503": refused,
            "other_errors": other + o.transport_errors, "mismatched": o.mismatched, "seconds": elapsed,
            "requests_per_s": rps, "records_per_s": o.records as f64 / elapsed, "p50_ms": p50, "p99_ms": p99,
            "mean_batch_records": mean_batch, "batch_sizes": dist, "texts_every": args.texts_every,
        });
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(f, "{line}")?;
    }
    Ok(())
}
