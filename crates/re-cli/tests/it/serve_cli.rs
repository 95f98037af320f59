//! `kre serve` end to end on loopback: each route's happy path, each error status (400/404/405/413/422/503),
//! batching of concurrent requests (seen in /metrics), graceful shutdown on SIGTERM, and answers equal to
//! `kre predict` on the same records. One tiny run is trained per test binary and shared.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::Duration;

use crate::common::{kre, s, slice, train_tiny, TinySize};
use re_data::io::submission::Submission;

struct TinyRun {
    _dir: tempfile::TempDir,
    run: PathBuf,
    /// 64 unlabeled records of the shipped synthetic test set (KLUE JSON).
    test: PathBuf,
}

/// A tiny model trained once for all tests of this module (a few seconds).
fn tiny_run() -> &'static TinyRun {
    static RUN: OnceLock<TinyRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (train, dev, test) = (slice("train.json", 200, d), slice("dev.json", 48, d), slice("test.json", 64, d));
        let run = train_tiny(d, TinySize::TWO_LAYERS, &train, &dev, &[]);
        TinyRun { _dir: dir, run, test }
    })
}

/// A running `kre serve` on a free loopback port; killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(run: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kre"))
            .args(["serve", "--model-dir", s(run), "--addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(120)).expect("kre serve printed no address in 120 s");
        let addr = line.trim().strip_prefix("listening on http://").unwrap_or_else(|| panic!("{line:?}"));
        Server { addr: addr.parse().unwrap(), child }
    }

    fn request(&self, method: &str, path: &str, body: &[u8]) -> Response {
        http(self.addr, method, path, body)
    }

    fn post_json(&self, path: &str, body: &serde_json::Value) -> Response {
        self.request("POST", path, body.to_string().as_bytes())
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on our own child's pid with a valid signal number has no memory effects.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("kre serve did not exit within 30 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_string()
    }
}

/// A minimal HTTP/1.1 client (one request per connection), enough for loopback tests without a client crate.
fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) before reading a large body and close: a failed write is not the test's concern.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("{head}"));
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    Response { status, head: head.to_string(), body }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

fn test_records() -> Vec<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(&tiny_run().test).unwrap()).unwrap()
}

/// The value of a metric line `name value` in a Prometheus text answer.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[test]
fn serve_answers_like_kre_predict_and_each_error_has_its_status() {
    let t = tiny_run();
    let server =
        Server::start(&t.run, &["--max-body-bytes", "65536", "--max-sentence-chars", "300", "--max-batch-size", "16"]);

    let health = server.request("GET", "/healthz", b"");
    assert_eq!(health.status, 200, "{health:?}");
    let labels: Vec<String> = serde_json::from_value(health.json()["labels"].clone()).unwrap();
    assert_eq!(labels.len(), 30);
    assert_eq!(health.json()["model"]["engine"], "fused");

    // The answers equal `kre predict` on the same file (same engine; batches differ, so within 1e-5).
    let sub_path = t.run.parent().unwrap().join("serve-predict.csv");
    let out = kre(&["predict", "--model-dir", s(&t.run), "--data", s(&t.test), "--out", s(&sub_path)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = Submission::read(&sub_path).unwrap();
    let records = test_records();
    let answer = server.post_json("/v1/predict", &serde_json::json!({ "records": records }));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let predictions = answer.json()["predictions"].as_array().unwrap().clone();
    assert_eq!(predictions.len(), expected.rows.len());
    let mut diff = 0.0f64;
    for (p, row) in predictions.iter().zip(&expected.rows) {
        assert_eq!(p["id"].as_str().unwrap(), row.id);
        assert_eq!(p["label"].as_str().unwrap(), row.pred_label, "id {}", row.id);
        let probs: Vec<f64> = serde_json::from_value(p["probs"].clone()).unwrap();
        assert_eq!(probs.len(), 30);
        for (a, b) in probs.iter().zip(&row.probs) {
            diff = diff.max((a - b).abs());
        }
    }
    println!("kre serve vs kre predict on {} records: max |Δ| = {diff:.3e}", predictions.len());
    assert!(diff <= 1e-5, "max |Δ| {diff}");

    // A bare array of records is accepted too, answered in input order.
    let two = serde_json::Value::Array(vec![records[3].clone(), records[1].clone()]);
    let answer = server.post_json("/v1/predict", &two);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let ids: Vec<String> = answer.json()["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, [expected.rows[3].id.clone(), expected.rows[1].id.clone()]);

    // 400: malformed JSON, a missing field, wrong offsets — each message names the field and the record.
    let bad = server.request("POST", "/v1/predict", b"{\"records\": [");
    assert_eq!(bad.status, 400);
    assert!(bad.error().contains("JSON"), "{}", bad.body);
    let mut no_word = records[2].clone();
    no_word["object_entity"].as_object_mut().unwrap().remove("word");
    let bad = server.post_json("/v1/predict", &serde_json::json!([records[0], no_word]));
    assert_eq!(bad.status, 400);
    let m = bad.error();
    assert!(m.contains("record 2") && m.contains("object_entity") && m.contains("word"), "{m}");
    let mut shifted = records[0].clone();
    shifted["subject_entity"]["end_idx"] = serde_json::json!(9999);
    let bad = server.post_json("/v1/predict", &serde_json::json!({ "records": [shifted] }));
    assert_eq!(bad.status, 400);
    let id = records[0]["guid"].as_str().unwrap();
    assert!(bad.error().contains(&format!("record 1 (id={id})")), "{}", bad.body);

    // 413: a body over --max-body-bytes; 422: a sentence over --max-sentence-chars.
    let big = serde_json::json!({ "records": vec![records[0].clone(); 400] });
    assert!(big.to_string().len() > 65536);
    let too_large = server.post_json("/v1/predict", &big);
    assert_eq!(too_large.status, 413, "{too_large:?}");
    let mut long = records[0].clone();
    let sentence = format!("{}{}", long["sentence"].as_str().unwrap(), " 가".repeat(200));
    long["sentence"] = serde_json::json!(sentence);
    let unprocessable = server.post_json("/v1/predict", &serde_json::json!([long]));
    assert_eq!(unprocessable.status, 422, "{}", unprocessable.body);
    assert!(unprocessable.error().contains("at most 300"), "{}", unprocessable.body);

    // 404 and 405 answer JSON too; nasty bodies get 4xx and the server keeps serving.
    assert_eq!(server.request("GET", "/v2/nothing", b"").status, 404);
    assert_eq!(server.request("GET", "/v1/predict", b"").status, 405);
    for body in [&b""[..], b"null", b"[null]", b"\xff\xfe", b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]"] {
        let r = server.request("POST", "/v1/predict", body);
        assert_eq!(r.status, 400, "{body:?}: {r:?}");
    }
    assert_eq!(server.request("GET", "/healthz", b"").status, 200);

    let metrics = server.request("GET", "/metrics", b"");
    assert_eq!(metrics.status, 200);
    assert!(metrics.head.to_ascii_lowercase().contains("text/plain"), "{}", metrics.head);
    let m = &metrics.body;
    assert_eq!(metric(m, "kre_http_requests_total{route=\"/v1/predict\",status=\"200\"}"), 2.0);
    assert_eq!(metric(m, "kre_http_requests_total{route=\"/v1/predict\",status=\"400\"}"), 8.0);
    assert_eq!(metric(m, "kre_http_requests_total{route=\"/v1/predict\",status=\"413\"}"), 1.0);
    assert_eq!(metric(m, "kre_http_requests_total{route=\"/v1/predict\",status=\"422\"}"), 1.0);
    assert_eq!(metric(m, "kre_http_requests_total{route=\"other\",status=\"404\"}"), 1.0);
    assert_eq!(metric(m, "kre_records_scored_total"), 66.0);
    assert_eq!(metric(m, "kre_queue_depth"), 0.0);
    assert!(m.contains("kre_http_request_duration_seconds_bucket{route=\"/v1/predict\",le=\"+Inf\"}"), "{m}");
    assert!(server.terminate().success());
}

#[test]
fn concurrent_requests_are_batched_and_a_full_queue_answers_503() {
    let t = tiny_run();
    let records = test_records();
    // 16 single-record requests released together, 50 ms to gather: fewer model calls than requests.
    let server = Server::start(&t.run, &["--max-wait-ms", "50", "--max-batch-size", "32"]);
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let (barrier, addr, record) = (Arc::clone(&barrier), server.addr, records[i].clone());
            std::thread::spawn(move || {
                barrier.wait();
                let r = http(addr, "POST", "/v1/predict", serde_json::json!([record]).to_string().as_bytes());
                assert_eq!(r.status, 200, "{}", r.body);
                assert_eq!(r.json()["predictions"][0]["id"], record["guid"]);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let m = server.request("GET", "/metrics", b"").body;
    let calls = metric(&m, "kre_batch_size_records_count");
    assert_eq!(metric(&m, "kre_batch_size_records_sum"), 16.0);
    assert!(calls < 16.0, "16 concurrent requests took {calls} model calls:\n{m}");
    assert!(metric(&m, "kre_batch_size_records_bucket{le=\"1\"}") < calls || calls == 1.0, "{m}");
    drop(server);

    // A queue of 1 and batches of 1 request: of 48 simultaneous 64-record requests, some are refused with 503 and
    // Retry-After, and every accepted one is answered with its own records.
    let server = Server::start(&t.run, &["--queue-capacity", "1", "--max-batch-size", "64", "--max-wait-ms", "0"]);
    let body = serde_json::json!({ "records": records }).to_string();
    let barrier = Arc::new(Barrier::new(48));
    let handles: Vec<_> = (0..48)
        .map(|_| {
            let (barrier, addr, body) = (Arc::clone(&barrier), server.addr, body.clone());
            std::thread::spawn(move || {
                barrier.wait();
                http(addr, "POST", "/v1/predict", body.as_bytes())
            })
        })
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for h in handles {
        let r = h.join().unwrap();
        match r.status {
            200 => {
                ok += 1;
                assert_eq!(r.json()["predictions"].as_array().unwrap().len(), 64);
            }
            503 => {
                refused += 1;
                assert!(r.head.to_ascii_lowercase().contains("retry-after: 1"), "{}", r.head);
                assert!(r.error().contains("queue is full"), "{}", r.body);
            }
            other => panic!("{other}: {}", r.body),
        }
    }
    assert_eq!(ok + refused, 48);
    assert!(ok > 0 && refused > 0, "{ok} answered, {refused} refused");
    let m = server.request("GET", "/metrics", b"").body;
    assert_eq!(metric(&m, "kre_http_requests_total{route=\"/v1/predict\",status=\"503\"}"), refused as f64);
    assert_eq!(metric(&m, "kre_records_scored_total"), (ok * 64) as f64);
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_exits_0() {
    let t = tiny_run();
    let record = test_records()[0].clone();
    // A single record waits the full 1.5 s for companions: SIGTERM arrives while it is in flight.
    let server = Server::start(&t.run, &["--max-wait-ms", "1500"]);
    let addr = server.addr;
    let pending = std::thread::spawn(move || {
        http(addr, "POST", "/v1/predict", serde_json::json!([record]).to_string().as_bytes())
    });
    std::thread::sleep(Duration::from_millis(400));
    let status = server.terminate();
    let r = pending.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["predictions"].as_array().unwrap().len(), 1);
    assert!(status.success(), "{status:?}");
}

/// The record's sentence with its entities written as `[[word|TYPE]]` (a `kre extract` markup line).
fn markup(r: &serde_json::Value) -> String {
    let chars: Vec<char> = r["sentence"].as_str().unwrap().chars().collect();
    let mut spans: Vec<(usize, usize, String)> = ["subject_entity", "object_entity"]
        .iter()
        .map(|k| {
            let e = &r[*k];
            (
                e["start_idx"].as_u64().unwrap() as usize,
                e["end_idx"].as_u64().unwrap() as usize,
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    spans.sort();
    let mut out = String::new();
    let mut at = 0;
    for (start, end, ty) in spans {
        out.extend(&chars[at..start]);
        out.push_str(&format!("[[{}|{ty}]]", chars[start..=end].iter().collect::<String>()));
        at = end + 1;
    }
    out.extend(&chars[at..]);
    out
}

#[test]
fn extract_scores_candidate_pairs_like_predict_scores_the_same_records() {
    let t = tiny_run();
    let records: Vec<serde_json::Value> = test_records().into_iter().take(12).collect();
    let server = Server::start(&t.run, &["--max-sentence-chars", "300"]);
    let texts: Vec<String> = records.iter().map(markup).collect();
    let answer = server.post_json("/v1/extract", &serde_json::json!({ "texts": texts, "include_no_relation": true }));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let triples = answer.json()["triples"].as_array().unwrap().clone();
    assert!(triples.len() >= 12, "{} triples for 12 texts with two entities each", triples.len());
    // Each triple (with no_relation kept, one per scored pair) carries the label and top probability that
    // /v1/predict gives the same pair as a record.
    let pair_records: Vec<serde_json::Value> = triples
        .iter()
        .enumerate()
        .map(|(k, x)| {
            let entity = |e: &serde_json::Value| {
                serde_json::json!({ "word": e["word"], "start_idx": e["start"], "end_idx": e["end"], "type": e["type"] })
            };
            serde_json::json!({ "guid": k.to_string(), "sentence": x["sentence"],
                "subject_entity": entity(&x["subject"]), "object_entity": entity(&x["object"]) })
        })
        .collect();
    let predicted = server.post_json("/v1/predict", &serde_json::json!(pair_records));
    assert_eq!(predicted.status, 200, "{}", predicted.body);
    let predictions = predicted.json()["predictions"].as_array().unwrap().clone();
    assert_eq!(predictions.len(), triples.len());
    for (triple, p) in triples.iter().zip(&predictions) {
        assert_eq!(triple["relation"], p["label"], "{triple}");
        let top = p["probs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).fold(0.0, f64::max);
        assert!((triple["probability"].as_f64().unwrap() - top).abs() <= 1e-5, "{triple} vs {top}");
    }
    // The texts' own entity pairs are among them (split into sentences, the first keeps the offsets).
    let own = records
        .iter()
        .filter(|r| {
            triples.iter().any(|x| {
                x["subject"]["start"] == r["subject_entity"]["start_idx"]
                    && x["object"]["start"] == r["object_entity"]["start_idx"]
                    && x["subject"]["word"] == r["subject_entity"]["word"]
            })
        })
        .count();
    assert!(own >= 6, "only {own} of 12 records' own pairs were scored");

    // Options as `kre extract` has them: top_k per sentence, a threshold; bad options are a 400.
    let top1 = server
        .post_json("/v1/extract", &serde_json::json!({ "texts": texts, "include_no_relation": true, "top_k": 1 }));
    assert_eq!(top1.status, 200);
    let n = top1.json()["triples"].as_array().unwrap().len();
    let sentences: std::collections::BTreeSet<String> =
        triples.iter().map(|x| x["sentence_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(n, sentences.len(), "top_k 1: one triple per sentence with pairs");
    let none = server.post_json("/v1/extract", &serde_json::json!({ "texts": texts, "threshold": 1.0 }));
    assert_eq!(none.status, 200);
    assert!(none.json()["triples"].as_array().unwrap().is_empty());
    let bad = server.post_json("/v1/extract", &serde_json::json!({ "texts": texts, "threshold": 3 }));
    assert_eq!(bad.status, 400);
    assert!(bad.error().contains("threshold"), "{}", bad.body);
    let bad = server.post_json("/v1/extract", &serde_json::json!({ "texts": ["[[a|PER]] 와 [[b|XYZ]]", 5] }));
    assert_eq!(bad.status, 400);
    let long = format!("[[이순신|PER]]{}", "가".repeat(400));
    let too_long = server.post_json("/v1/extract", &serde_json::json!({ "text": long }));
    assert_eq!(too_long.status, 422, "{}", too_long.body);
    let m = server.request("GET", "/metrics", b"").body;
    assert_eq!(metric(&m, "kre_http_requests_total{route=\"/v1/extract\",status=\"200\"}"), 3.0);
    assert!(server.terminate().success());
}

#[test]
fn extract_answers_equal_kre_extract_on_the_same_lines() {
    let t = tiny_run();
    let records: Vec<serde_json::Value> = test_records().into_iter().take(16).collect();
    let lines: Vec<String> = records.iter().map(markup).collect();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.txt");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out_path = dir.path().join("triples.jsonl");
    let out = kre(&[
        "extract",
        "--model-dir",
        s(&t.run),
        "--input",
        s(&input),
        "--out",
        s(&out_path),
        "--include-no-relation",
    ]);
    assert!(out.status.success(), "kre extract: {}", String::from_utf8_lossy(&out.stderr));
    let key = |x: &serde_json::Value| {
        (x["sentence_id"].as_str().unwrap().to_string(), x["subject"]["start"].as_u64(), x["object"]["start"].as_u64())
    };
    let mut from_cli: Vec<serde_json::Value> =
        std::fs::read_to_string(&out_path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let server = Server::start(&t.run, &[]);
    let answer = server.post_json("/v1/extract", &serde_json::json!({ "texts": lines, "include_no_relation": true }));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let mut from_server = answer.json()["triples"].as_array().unwrap().clone();
    assert!(from_cli.len() >= 16, "{} triples", from_cli.len());
    assert_eq!(from_server.len(), from_cli.len());
    from_cli.sort_by_key(key);
    from_server.sort_by_key(key);
    for (a, b) in from_server.iter().zip(&from_cli) {
        for field in ["sentence_id", "sentence", "subject", "object", "relation"] {
            assert_eq!(a[field], b[field], "{field}: {a} vs {b}");
        }
        let (p, q) = (a["probability"].as_f64().unwrap(), b["probability"].as_f64().unwrap());
        assert!((p - q).abs() <= 1e-5, "{a} vs {b}");
    }
    assert!(server.terminate().success());
}
