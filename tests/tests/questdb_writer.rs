//! Layer (b) of the QuestDB backend: the batch writer against a loopback HTTP endpoint that
//! records what it receives and fails on demand. No QuestDB needed; runs in CI.
//!
//! The endpoint speaks just enough HTTP/1.1 for questdb-rs's ILP-over-HTTP sender: it answers
//! `POST /write` with 204 and records the request's rows, or fails the request (500/503/400) or
//! the connection (a closed port) as the test asks. It can also refuse particular rows the way
//! QuestDB does: the first line holding a refused id fails the whole request with QuestDB's
//! JSON error (400 `invalid`, or 500 `internal error`) naming that line. A failed request records
//! nothing, like QuestDB, whose HTTP requests are all-or-nothing. `GET /settings` answers as
//! QuestDB 9.3 does (ILP protocol versions 1 to 3); other paths get 404. The tests here use ILP
//! protocol version 1, so rows are plain text lines and can be counted by their `id`; the
//! differential test (`questdb_writer_differential`) uses the writer's default, version 3, and
//! decodes every line the fake received.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use dal::{Entity, Error};
use dal_backends::questdb::{BatchWriter, QuestDb, QuestDbOptions, WriterOptions};

mod questdb_writer_differential;

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "wt", questdb(partition = "day", dedup))]
struct Row {
    #[entity(id)]
    id: i64,
    #[entity(timestamp)]
    ts: DateTime<Utc>,
    #[entity(symbol)]
    s: String,
    v: i64,
}

fn row(id: i64) -> Row {
    Row {
        id,
        ts: Utc
            .timestamp_micros(1_700_000_000_000_000 + id)
            .single()
            .expect("valid timestamp"),
        s: "x".into(),
        v: id * 10,
    }
}

/// How the endpoint treats the next requests.
#[derive(Debug, Clone)]
enum Mode {
    Ok,
    /// The port is closed: connections are refused, open ones are dropped.
    Down,
    /// Answer with this status and body (not recorded).
    Fail(u16, &'static str),
}

/// How the endpoint refuses the rows whose id is in [`State::refuse`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum Refusal {
    /// 400 `invalid` naming the line, as for a line QuestDB cannot parse or append.
    Invalid,
    /// 500 `internal error` naming the line, as for a designated timestamp after 9999.
    Internal,
    /// 400 `invalid` without a line number.
    InvalidNoLine,
}

#[derive(Default)]
struct Received {
    /// Every request answered 2xx: arrival time and row ids.
    batches: Vec<(Instant, Vec<i64>)>,
    /// The body of every request answered 2xx, in arrival order.
    bodies: Vec<Vec<u8>>,
    /// Requests answered with an error, or dropped.
    failed: usize,
    /// Requests refused because of a refused id.
    refusals: usize,
}

impl Received {
    fn rows(&self) -> usize {
        self.batches.iter().map(|(_, ids)| ids.len()).sum()
    }

    /// How often each id arrived.
    fn counts(&self) -> BTreeMap<i64, usize> {
        let mut m = BTreeMap::new();
        for (_, ids) in &self.batches {
            for id in ids {
                *m.entry(*id).or_insert(0) += 1;
            }
        }
        m
    }
}

struct State {
    mode: Mode,
    /// Failures still to serve before going back to `Ok` (for `Fail` modes).
    fail_budget: Option<usize>,
    delay: Duration,
    /// Ids whose lines are refused, and how.
    refuse: BTreeSet<i64>,
    refusal: Refusal,
    received: Received,
}

/// A loopback ILP-over-HTTP endpoint. Dropping it stops it.
struct FakeQuestDb {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl FakeQuestDb {
    fn start() -> FakeQuestDb {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Ok,
            fail_budget: None,
            delay: Duration::ZERO,
            refuse: BTreeSet::new(),
            refusal: Refusal::Invalid,
            received: Received::default(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || accept_loop(Some(listener), addr, st, sp));
        FakeQuestDb { addr, state, stop }
    }

    fn conf(&self) -> String {
        format!("http::addr={};protocol_version=1;", self.addr)
    }

    fn set(&self, mode: Mode) {
        let mut s = self.state.lock().expect("state");
        s.mode = mode;
        s.fail_budget = None;
    }

    /// Fail the next `n` requests with `status`, then answer normally.
    fn fail_next(&self, n: usize, status: u16, body: &'static str) {
        let mut s = self.state.lock().expect("state");
        s.mode = Mode::Fail(status, body);
        s.fail_budget = Some(n);
    }

    /// Refuse every line holding one of `ids`, as `how`.
    fn refuse(&self, ids: impl IntoIterator<Item = i64>, how: Refusal) {
        let mut s = self.state.lock().expect("state");
        s.refuse = ids.into_iter().collect();
        s.refusal = how;
    }

    fn delay(&self, d: Duration) {
        self.state.lock().expect("state").delay = d;
    }

    fn with<R>(&self, f: impl FnOnce(&Received) -> R) -> R {
        f(&self.state.lock().expect("state").received)
    }

    fn rows(&self) -> usize {
        self.with(Received::rows)
    }
}

impl Drop for FakeQuestDb {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn accept_loop(
    mut listener: Option<TcpListener>,
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::SeqCst) {
        let down = matches!(state.lock().map(|s| s.mode.clone()), Ok(Mode::Down));
        match (&listener, down) {
            (Some(_), true) => listener = None, // close the port: connects are refused
            (None, false) => listener = TcpListener::bind(addr).ok(),
            _ => {}
        }
        let Some(l) = &listener else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        if l.set_nonblocking(true).is_err() {
            continue;
        }
        match l.accept() {
            Ok((stream, _)) => {
                let (st, sp) = (state.clone(), stop.clone());
                std::thread::spawn(move || serve(stream, st, sp));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// Serves requests on one keep-alive connection.
fn serve(stream: TcpStream, state: Arc<Mutex<State>>, stop: Arc<AtomicBool>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        // Request line and headers.
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) => return,
                Ok(_) => {
                    if line == "\r\n" || line == "\n" {
                        break;
                    }
                    head.push(line);
                }
                Err(e)
                    if head.is_empty()
                        && matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                {
                    // Idle keep-alive connection: close it when the port goes down.
                    if matches!(state.lock().map(|s| s.mode.clone()), Ok(Mode::Down)) {
                        return;
                    }
                    continue;
                }
                Err(_) => return,
            }
        }
        let Some(request_line) = head.first() else {
            return;
        };
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned();
        let len = head
            .iter()
            .find_map(|h| {
                let (k, v) = h.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        let _ = reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(5)));
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let _ = reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(200)));

        let (mode, delay) = {
            let s = state.lock().expect("state");
            (s.mode.clone(), s.delay)
        };
        std::thread::sleep(delay);
        let response = match (&mode, path.starts_with("/write")) {
            (Mode::Down, _) => {
                state.lock().expect("state").received.failed += 1;
                return; // drop the connection without an answer
            }
            (_, false) if path.starts_with("/settings") => {
                // What QuestDB 9.3 answers (trimmed): questdb-rs negotiates the protocol from it.
                let body = r#"{"config":{"release.type":"OSS","release.version":"9.3.5","line.proto.support.versions":[1,2,3],"cairo.max.file.name.length":127},"preferences.version":0,"preferences":{}}"#;
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
            }
            (_, false) => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned(),
            (Mode::Fail(status, body), true) => {
                let mut s = state.lock().expect("state");
                s.received.failed += 1;
                if let Some(left) = s.fail_budget.as_mut() {
                    *left = left.saturating_sub(1);
                    if *left == 0 {
                        s.mode = Mode::Ok;
                        s.fail_budget = None;
                    }
                }
                // What QuestDB 9.3 sends with its JSON errors.
                let ctype = if body.starts_with('{') {
                    "application/json; charset=utf-8"
                } else {
                    "text/plain"
                };
                format!(
                    "HTTP/1.1 {status} Failing\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
            }
            (Mode::Ok, true) => {
                let ids = parse_ids(&body);
                let mut s = state.lock().expect("state");
                match ids.iter().position(|id| s.refuse.contains(id)) {
                    None => {
                        s.received.batches.push((Instant::now(), ids));
                        s.received.bodies.push(body);
                        "HTTP/1.1 204 No Content\r\n\r\n".to_owned()
                    }
                    Some(i) => {
                        s.received.failed += 1;
                        s.received.refusals += 1;
                        let line = i + 1;
                        let (status, body) = match s.refusal {
                            Refusal::Invalid => (
                                400,
                                format!(
                                    r#"{{"code":"invalid","message":"failed to parse line protocol:errors encountered on line(s):\nerror in line {line}: cast error","line":{line},"errorId":"fake-{line}"}}"#
                                ),
                            ),
                            Refusal::Internal => (
                                500,
                                format!(
                                    r#"{{"code":"internal error","message":"write error: wt, errno: 0, error: timestamp beyond 9999","line":{line},"errorId":"fake-{line}"}}"#
                                ),
                            ),
                            Refusal::InvalidNoLine => (
                                400,
                                r#"{"code":"invalid","message":"cast error","errorId":"fake"}"#
                                    .to_owned(),
                            ),
                        };
                        format!(
                            "HTTP/1.1 {status} Refused\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        )
                    }
                }
            }
        };
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// The `id=<n>i` of every ILP v1 line of a request body.
fn parse_ids(body: &[u8]) -> Vec<i64> {
    String::from_utf8_lossy(body)
        .lines()
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let start = l.find(" id=")? + 4;
            let end = start + l[start..].find('i')?;
            l[start..end].parse().ok()
        })
        .collect()
}

fn options() -> WriterOptions {
    let mut o = WriterOptions::default();
    o.retry.initial_backoff = Duration::from_millis(10);
    o.retry.max_backoff = Duration::from_millis(50);
    o.flush_timeout = Some(Duration::from_secs(10));
    o.shutdown_timeout = Duration::from_secs(5);
    o
}

async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn rows_are_sent_in_batches_every_interval() {
    let server = FakeQuestDb::start();
    let writer = BatchWriter::start(&server.conf(), options()).expect("writer");
    let start = Instant::now();
    let mut id = 0;
    // ~1 s of appends, one every 5 ms: a writer sending per row would make ~200 requests.
    while start.elapsed() < Duration::from_secs(1) {
        writer.append("wt", &row(id)).await.expect("append");
        id += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    writer.flush().await.expect("flush");
    let (requests, rows, min_gap) = server.with(|r| {
        let gaps = r.batches.windows(2).map(|w| w[1].0 - w[0].0);
        (r.batches.len(), r.rows(), gaps.min())
    });
    assert_eq!(rows, id as usize);
    // About one request per 100 ms (plus the final flush).
    assert!(
        (5..=14).contains(&requests),
        "{requests} requests for {id} rows"
    );
    let min_gap = min_gap.expect("several requests");
    // Interval ticks are 100 ms apart; only the final flush may come sooner.
    let early = server.with(|r| {
        r.batches
            .windows(2)
            .filter(|w| w[1].0 - w[0].0 < Duration::from_millis(60))
            .count()
    });
    assert!(
        early <= 1,
        "{early} requests came early; min gap {min_gap:?}"
    );
}

#[tokio::test]
async fn row_and_byte_thresholds_send_before_the_interval() {
    let server = FakeQuestDb::start();
    let mut o = options();
    o.flush_interval = Duration::from_secs(3600);
    o.flush_rows = 10;
    let writer = BatchWriter::start(&server.conf(), o).expect("writer");
    for i in 0..5 {
        writer.append("wt", &row(i)).await.expect("append");
    }
    // Below the threshold, rows wait for the (hour-long) interval or a flush.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.rows(), 0);
    for i in 5..15 {
        writer.append("wt", &row(i)).await.expect("append");
    }
    wait_until("a row-threshold batch", Duration::from_secs(5), || {
        server.rows() == 15
    })
    .await;
    writer.flush().await.expect("flush");
    assert_eq!(server.with(|r| r.batches.len()), 1);

    let server = FakeQuestDb::start();
    let mut o = options();
    o.flush_interval = Duration::from_secs(3600);
    o.flush_bytes = 300; // a row is ~40 bytes
    let writer = BatchWriter::start(&server.conf(), o).expect("writer");
    for i in 0..4 {
        writer.append("wt", &row(i)).await.expect("append");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.rows(), 0, "160 bytes are below the byte threshold");
    for i in 4..9 {
        writer.append("wt", &row(i)).await.expect("append");
    }
    wait_until("a byte-threshold batch", Duration::from_secs(5), || {
        server.rows() == 9
    })
    .await;
}

#[tokio::test]
async fn append_waits_while_the_server_is_down_and_the_queue_is_full() {
    let server = FakeQuestDb::start();
    server.set(Mode::Down);
    let mut o = options();
    o.max_pending_rows = 10;
    o.flush_rows = 5;
    let writer = BatchWriter::start(&server.conf(), o).expect("writer");
    let w = writer.clone();
    let producer = tokio::spawn(async move {
        for i in 0..30 {
            w.append("wt", &row(i)).await.expect("append");
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Ten rows fill the queue; the producer waits for room instead of dropping rows.
    assert_eq!(writer.stats().appended_rows, 10);
    assert!(!producer.is_finished());
    assert!(
        writer.failing().is_some(),
        "the writer reports why it is stuck"
    );
    assert_eq!(server.rows(), 0);

    server.set(Mode::Ok);
    tokio::time::timeout(Duration::from_secs(10), producer)
        .await
        .expect("the producer finishes once the server is back")
        .expect("producer task");
    writer.flush().await.expect("flush");
    let counts = server.with(Received::counts);
    assert_eq!(counts.len(), 30);
    assert!(counts.values().all(|&n| n == 1), "every row exactly once");
    assert_eq!(writer.failing(), None);
}

#[tokio::test]
async fn transient_http_errors_are_retried_with_the_same_rows() {
    let server = FakeQuestDb::start();
    server.fail_next(3, 503, "busy");
    let writer = BatchWriter::start(&server.conf(), options()).expect("writer");
    for i in 0..50 {
        writer.append("wt", &row(i)).await.expect("append");
    }
    writer.flush().await.expect("flush after retries");
    let stats = writer.stats();
    assert!(stats.retries >= 3, "{stats:?}");
    assert_eq!(stats.delivered_rows, 50);
    let counts = server.with(Received::counts);
    assert_eq!(counts.len(), 50);
    assert!(counts.values().all(|&n| n == 1));

    // A 500 with QuestDB's JSON "internal error" body is transient too.
    server.fail_next(
        2,
        500,
        r#"{"code":"internal error","message":"disk full","errorId":"e-1"}"#,
    );
    writer.append("wt", &row(50)).await.expect("append");
    writer.flush().await.expect("flush after 500s");
    assert_eq!(server.rows(), 51);
}

#[tokio::test]
async fn rows_sent_equal_rows_received_across_an_outage() {
    let server = Arc::new(FakeQuestDb::start());
    let mut o = options();
    o.max_pending_rows = 500;
    let writer = BatchWriter::start(&server.conf(), o).expect("writer");
    let total = 3000i64;
    let producer = {
        let w = writer.clone();
        tokio::spawn(async move {
            for chunk in (0..total).collect::<Vec<_>>().chunks(25) {
                let rows: Vec<Row> = chunk.iter().map(|&i| row(i)).collect();
                let report = w.append_all("wt", &rows).await.expect("append_all");
                assert!(report.is_complete());
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    // Down for a while in the middle, then a burst of 503s.
    wait_until("some rows delivered", Duration::from_secs(10), || {
        server.rows() > 200
    })
    .await;
    server.set(Mode::Down);
    tokio::time::sleep(Duration::from_millis(600)).await;
    server.set(Mode::Ok);
    server.fail_next(4, 503, "restarting");
    producer.await.expect("producer");
    writer.flush().await.expect("flush");
    let counts = server.with(Received::counts);
    assert_eq!(counts.len(), total as usize, "every row arrived");
    let dupes: HashMap<_, _> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(dupes.is_empty(), "rows received more than once: {dupes:?}");
    let stats = writer.stats();
    assert_eq!(stats.delivered_rows, total as u64);
    assert!(stats.retries >= 1);
}

#[tokio::test]
async fn flush_returns_only_after_the_rows_are_acknowledged() {
    let server = FakeQuestDb::start();
    server.delay(Duration::from_millis(300));
    let mut o = options();
    o.flush_interval = Duration::from_secs(3600);
    let writer = BatchWriter::start(&server.conf(), o).expect("writer");
    for i in 0..10 {
        writer.append("wt", &row(i)).await.expect("append");
    }
    assert_eq!(server.rows(), 0);
    writer.flush().await.expect("flush");
    assert_eq!(
        server.rows(),
        10,
        "flush returned before the server had the rows"
    );
    // Nothing pending: flush returns at once and sends nothing.
    writer.flush().await.expect("empty flush");
    assert_eq!(server.with(|r| r.batches.len()), 1);
}

#[tokio::test]
async fn flush_times_out_while_down_but_keeps_the_rows() {
    let server = FakeQuestDb::start();
    server.set(Mode::Down);
    let mut o = options();
    o.flush_timeout = Some(Duration::from_millis(300));
    let writer = BatchWriter::start(&server.conf(), o).expect("writer");
    for i in 0..5 {
        writer.append("wt", &row(i)).await.expect("append");
    }
    let e = writer.flush().await.expect_err("server is down");
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert!(e.is_transient());
    server.set(Mode::Ok);
    writer.flush().await.expect("flush once back");
    assert_eq!(server.rows(), 5);
}

/// QuestDB named line 1 of the batch: that row is refused, the two after it are sent again and
/// delivered. (Before rows were isolated, the whole batch of three was dropped.)
#[tokio::test]
async fn a_batch_refused_by_the_server_is_reported_by_flush() {
    let server = FakeQuestDb::start();
    server.fail_next(
        1,
        400,
        r#"{"code":"invalid","message":"failed to parse line protocol","line":1,"errorId":"e-2"}"#,
    );
    let mut o = options();
    o.flush_interval = Duration::from_secs(3600);
    let writer = BatchWriter::start(&server.conf(), o).expect("writer");
    for i in 0..3 {
        writer.append("wt", &row(i)).await.expect("append");
    }
    let e = writer.flush().await.expect_err("a row was refused");
    assert!(!e.is_transient());
    assert!(e.to_string().contains("1 queued row(s)"), "{e}");
    assert_eq!(writer.stats().rejected_rows, 1);
    assert_eq!(writer.stats().delivered_rows, 2);
    // Reported once; the writer keeps working.
    writer.append("wt", &row(3)).await.expect("append");
    writer.flush().await.expect("later rows are delivered");
    assert_eq!(
        server
            .with(Received::counts)
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
}

#[tokio::test]
async fn shutdown_sends_everything_and_refuses_new_rows() {
    let server = FakeQuestDb::start();
    let mut o = options();
    o.flush_interval = Duration::from_secs(3600);
    let writer = BatchWriter::start(&server.conf(), o.clone()).expect("writer");
    for i in 0..7 {
        writer.append("wt", &row(i)).await.expect("append");
    }
    writer.shutdown().await.expect("shutdown");
    assert_eq!(server.rows(), 7);
    assert!(writer.append("wt", &row(8)).await.is_err());

    // Dropping the last handle sends what is queued, too.
    let server = FakeQuestDb::start();
    let writer = BatchWriter::start(&server.conf(), o).expect("writer");
    writer.append("wt", &row(1)).await.expect("append");
    drop(writer);
    wait_until("rows of a dropped writer", Duration::from_secs(5), || {
        server.rows() == 1
    })
    .await;
}

#[tokio::test]
async fn shutdown_gives_up_after_its_timeout_when_the_server_stays_down() {
    let server = FakeQuestDb::start();
    server.set(Mode::Down);
    let mut o = options();
    o.shutdown_timeout = Duration::from_millis(300);
    let writer = BatchWriter::start(&server.conf(), o).expect("writer");
    for i in 0..4 {
        writer.append("wt", &row(i)).await.expect("append");
    }
    let e = writer
        .shutdown()
        .await
        .expect_err("nothing could be delivered");
    assert!(e.to_string().contains("4 row(s)"), "{e}");
    assert_eq!(writer.stats().abandoned_rows, 4);
}

#[tokio::test(flavor = "current_thread")]
async fn a_slow_server_does_not_block_the_runtime() {
    let server = FakeQuestDb::start();
    server.delay(Duration::from_millis(400));
    let writer = BatchWriter::start(&server.conf(), options()).expect("writer");
    writer.append("wt", &row(1)).await.expect("append");
    let flushing = {
        let w = writer.clone();
        tokio::spawn(async move { w.flush().await })
    };
    // On a single-threaded runtime these ticks only happen if the blocking HTTP request runs
    // elsewhere.
    let mut ticks = 0;
    while !flushing.is_finished() {
        tokio::time::sleep(Duration::from_millis(10)).await;
        ticks += 1;
    }
    flushing.await.expect("join").expect("flush");
    assert!(
        ticks >= 10,
        "the runtime ticked only {ticks} times during a 400 ms request"
    );
    assert_eq!(server.rows(), 1);
}

#[tokio::test]
async fn a_row_that_cannot_be_encoded_is_refused_at_append() {
    let server = FakeQuestDb::start();
    let writer = BatchWriter::start(&server.conf(), options()).expect("writer");
    let mut bad = row(1);
    bad.ts = Utc.timestamp_micros(-5).single().expect("ts");
    let e = writer.append("wt", &bad).await.expect_err("before 1970");
    assert!(
        matches!(
            e,
            Error::Validation {
                entity: "Row",
                field: Some("ts"),
                ..
            }
        ),
        "{e}"
    );
    let mut null_v = row(1);
    null_v.v = i64::MIN;
    let e = writer
        .append("wt", &null_v)
        .await
        .expect_err("QuestDB's NULL of LONG");
    assert!(
        matches!(
            e,
            Error::Validation {
                field: Some("v"),
                ..
            }
        ),
        "{e}"
    );
    let report = writer
        .append_all("wt", &[row(2), bad, row(3)])
        .await
        .expect("append_all");
    assert_eq!(report.written, 2);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, 1);
    writer.flush().await.expect("flush");
    assert_eq!(
        server
            .with(Received::counts)
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(writer.stats().appended_rows, 2);
}

/// Appends `ids` in one batch (the interval is an hour: only `flush` sends) and flushes.
async fn one_batch(server: &FakeQuestDb, ids: std::ops::Range<i64>) -> (BatchWriter, Error) {
    let mut o = options();
    o.flush_interval = Duration::from_secs(3600);
    let writer = BatchWriter::start(&server.conf(), o).expect("writer");
    let rows: Vec<Row> = ids.map(row).collect();
    let report = writer.append_all("wt", &rows).await.expect("append_all");
    assert!(report.is_complete());
    let e = writer.flush().await.expect_err("some rows are refused");
    assert!(!e.is_transient(), "{e}");
    (writer, e)
}

/// The reported failure: 104 good rows and one QuestDB refuses gave 0 visible rows and a writer
/// retrying for ever. Now the refused row is isolated and the 104 others are delivered once.
#[tokio::test]
async fn a_refused_row_is_isolated_and_every_other_row_is_delivered() {
    let server = FakeQuestDb::start();
    server.refuse([50], Refusal::Invalid);
    let (writer, e) = one_batch(&server, 0..105).await;
    assert!(e.to_string().contains("1 queued row(s)"), "{e}");
    let counts = server.with(Received::counts);
    assert_eq!(counts.len(), 104);
    assert!(!counts.contains_key(&50));
    assert!(counts.values().all(|&n| n == 1), "every row exactly once");
    let stats = writer.stats();
    assert_eq!((stats.delivered_rows, stats.rejected_rows), (104, 1));
    assert!(stats.isolation_requests >= 1, "{stats:?}");

    let refused = writer.take_refused();
    assert_eq!(refused.len(), 1);
    let r = &refused[0];
    assert_eq!((r.entity, r.table.as_str()), ("Row", "wt"));
    assert!(
        r.key.starts_with("id=50, ts=2023-11-14T22:13:20.000050"),
        "{}",
        r.key
    );
    assert!(!r.error.is_transient());
    assert!(r.error.to_string().contains("cast error"), "{}", r.error);
    assert!(writer.take_refused().is_empty(), "taken once");

    // Later rows are not blocked, and the refusal was reported once.
    writer.append("wt", &row(500)).await.expect("append");
    writer.flush().await.expect("a later flush succeeds");
    assert_eq!(server.with(Received::counts).get(&500), Some(&1));
}

/// Without a line number the writer halves the refused part until each refused row is alone.
#[tokio::test]
async fn scattered_refusals_without_a_line_are_isolated_by_halving() {
    let server = FakeQuestDb::start();
    let bad = [0, 17, 18, 63];
    server.refuse(bad, Refusal::InvalidNoLine);
    let (writer, e) = one_batch(&server, 0..64).await;
    assert!(e.to_string().contains("4 queued row(s)"), "{e}");
    let counts = server.with(Received::counts);
    assert_eq!(counts.len(), 60);
    assert!(bad.iter().all(|id| !counts.contains_key(id)));
    assert!(counts.values().all(|&n| n == 1));
    let mut refused: Vec<String> = writer.take_refused().into_iter().map(|r| r.key).collect();
    refused.sort();
    assert_eq!(refused.len(), 4);
    for (key, id) in refused.iter().zip([0, 17, 18, 63]) {
        assert!(key.starts_with(&format!("id={id}, ")), "{key}");
    }
}

/// QuestDB answers a designated timestamp after 9999 with 500 `internal error` on its line.
/// That row is tried alone a few times, then refused; it neither blocks the batch nor is
/// retried for ever.
#[tokio::test]
async fn an_internal_error_on_a_line_refuses_that_row_only() {
    let server = FakeQuestDb::start();
    server.refuse([7], Refusal::Internal);
    let (writer, e) = one_batch(&server, 0..20).await;
    assert!(!matches!(e, Error::Timeout { .. }), "{e}");
    let counts = server.with(Received::counts);
    assert_eq!(counts.len(), 19);
    assert!(!counts.contains_key(&7));
    assert_eq!(writer.stats().rejected_rows, 1);
    // The whole batch and the row alone were each tried a bounded number of times.
    let refusals = server.with(|r| r.refusals);
    assert!((2..=8).contains(&refusals), "{refusals} refused requests");
}

/// A refusal that is not about a row (credentials) refuses the batch without splitting it.
#[tokio::test]
async fn a_refusal_of_the_credentials_is_not_split() {
    let server = FakeQuestDb::start();
    server.fail_next(1, 403, "forbidden");
    let (writer, e) = one_batch(&server, 0..10).await;
    assert!(e.to_string().contains("10 queued row(s)"), "{e}");
    let stats = writer.stats();
    assert_eq!((stats.rejected_rows, stats.isolation_requests), (10, 0));
    assert_eq!(writer.take_refused().len(), 10);
    assert_eq!(server.rows(), 0);
}

/// Refused rows leave room for new ones: the permits of isolated rows come back.
#[tokio::test]
async fn isolated_rows_give_their_permits_back() {
    let server = FakeQuestDb::start();
    server.refuse([1, 2], Refusal::Invalid);
    let mut o = options();
    o.max_pending_rows = 4;
    o.flush_rows = 4;
    let writer = BatchWriter::start(&server.conf(), o).expect("writer");
    for i in 0..40 {
        writer.append("wt", &row(i)).await.expect("append");
    }
    let _ = writer.flush().await;
    assert_eq!(server.rows(), 38);
    assert_eq!(writer.stats().rejected_rows, 2);
}

#[tokio::test]
async fn the_endpoint_check_reaches_the_ilp_server() {
    let server = FakeQuestDb::start();
    let writer = BatchWriter::start(&server.conf(), options()).expect("writer");
    writer.check_endpoint().await.expect("the fake answers");
    server.set(Mode::Down);
    let e = writer
        .check_endpoint()
        .await
        .expect_err("the port is closed");
    assert!(e.is_transient(), "{e}");
    assert!(e.to_string().contains(&server.addr.to_string()), "{e}");
}

/// questdb-rs parses `password=` without `username=` but cannot build a sender from it; rows
/// were then accepted and dropped at send time. Now the configuration is refused up front.
#[tokio::test]
async fn a_configuration_that_cannot_send_is_refused_when_connecting() {
    for conf in [
        "http::addr=127.0.0.1:9000;password=s3cret-pw;",
        "http::addr=127.0.0.1:9000;username=admin;",
        "https::addr=127.0.0.1:9000;token=s3cret-pw;username=admin;password=x;",
    ] {
        let e = BatchWriter::start(conf, options()).expect_err(conf);
        assert!(matches!(e, Error::Config { .. }), "{conf}: {e}");
        let e = QuestDb::connect(QuestDbOptions::new(
            conf,
            "postgres://admin:quest@127.0.0.1:8812/qdb",
        ))
        .expect_err(conf);
        assert!(matches!(e, Error::Config { .. }), "{conf}: {e}");
        for shown in [e.to_string(), format!("{e:?}")] {
            assert!(!shown.contains("s3cret-pw"), "{shown}");
        }
    }
}

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "wt_pg", questdb(partition = "day"))]
struct PgRow {
    #[entity(timestamp)]
    ts: DateTime<Utc>,
    v: f64,
}

/// A handle whose PG wire is `url`, with every wait long: an error must come from knowing the
/// cause, not from a timeout.
fn pg_handle(server: &FakeQuestDb, url: &str) -> QuestDb {
    let mut o = QuestDbOptions::new(server.conf(), url);
    o.connect_timeout = Duration::from_secs(600);
    o.writer.flush_timeout = Some(Duration::from_secs(600));
    QuestDb::connect(o).expect("handle")
}

/// A wrong PG-wire port or host is reported with the address and the cause, not as "pool timed
/// out" after the pool's timeout, and the first append of an entity does not wait for it.
#[tokio::test]
async fn a_wrong_pg_address_names_the_address_and_the_cause() {
    use dal::{Backend, Repository, TimeSeriesStore};
    let server = FakeQuestDb::start();
    // A port nothing listens on: bind one, then free it.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let cases = [
        (
            format!("postgres://admin:s3cret-pw@127.0.0.1:{port}/qdb"),
            format!("127.0.0.1:{port}"),
            "refused",
        ),
        (
            "postgres://admin:s3cret-pw@no-such-host.invalid:8812/qdb".to_owned(),
            "no-such-host.invalid:8812".to_owned(),
            "resolve",
        ),
    ];
    for (url, addr, cause) in cases {
        let db = pg_handle(&server, &url);
        // Well under the 600 s the handle would wait for a connection or a table.
        let limit = Duration::from_secs(60);
        let health = tokio::time::timeout(limit, db.health_check())
            .await
            .expect("the cause is known at once");
        let repo: Repository<PgRow, QuestDb> = Repository::new(db.clone());
        let row = PgRow {
            ts: Utc.timestamp_micros(1).single().expect("ts"),
            v: 1.0,
        };
        let append = tokio::time::timeout(limit, repo.append(&row))
            .await
            .expect("the first append does not wait for the PG wire");
        for e in [health.expect_err(&url), append.expect_err(&url)] {
            assert!(matches!(e, Error::Unavailable { .. }), "{e}");
            let shown = e.to_string();
            assert!(shown.contains(&addr), "{shown}");
            assert!(shown.to_lowercase().contains(cause), "{shown}");
            assert!(!shown.contains("s3cret-pw") && !format!("{e:?}").contains("s3cret-pw"));
        }
        assert_eq!(server.rows(), 0, "no row goes out before its table exists");
    }
}
