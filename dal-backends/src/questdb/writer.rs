//! The batch writer: appends are encoded into a bounded staging buffer and sent by one task every
//! 100 ms, or sooner when a row or byte threshold is reached, without ever losing a row to a slow
//! or absent server.
//!
//! How it keeps its promises:
//! - **Bounded, with backpressure.** Every queued row holds one permit of a semaphore of
//!   [`WriterOptions::max_pending_rows`] (rows staged plus rows in flight), and the staging buffer
//!   is capped at [`WriterOptions::max_pending_bytes`]. When QuestDB is slow or down the permits
//!   run out and `append` waits; nothing is dropped. This bounded staging buffer is the queue:
//!   rows are encoded once, straight into the `Buffer` that will be sent, where a channel of
//!   rows would clone every entity and encode it later, on the writer task.
//! - **Never blocks the runtime.** questdb-rs's HTTP sender is synchronous (ureq); each request
//!   runs on `spawn_blocking`, and the sender moves into and out of that closure.
//! - **Retries the same bytes.** One ILP-over-HTTP request is all-or-nothing, so a failed batch is
//!   sent again as it is, with exponential backoff ([`dal::RetryPolicy::backoff`]), until it is
//!   acknowledged. Transient failures are retried without limit (the writer gives up only at
//!   shutdown, after [`WriterOptions::shutdown_timeout`]). Deduplicated tables
//!   (`DEDUP UPSERT KEYS`) make a retry of a request whose acknowledgement was lost harmless.
//! - **Rows are checked and encoded at `append`**, so a row QuestDB cannot hold (see
//!   [`super::codec::LIMITS`]) is refused at once, with an error naming its field, instead of
//!   poisoning a batch of other rows later.
//! - **A refused row never blocks the others.** Only transient failures (connection lost,
//!   server unavailable, timeouts, a failed commit) are retried. When QuestDB refuses a batch
//!   because of what a row holds (`code: invalid`, e.g. a table changed outside dal), the writer
//!   sends the rows before the line QuestDB names, then the rest, splitting again (in halves when
//!   no line is named) until each refused row is alone; every other row is delivered. Refused
//!   rows are logged, counted in [`WriterStats::rejected_rows`], reported by the next
//!   [`BatchWriter::flush`], and described by [`BatchWriter::take_refused`] (entity, table, ids
//!   and timestamp, and QuestDB's reason). A request refused whatever it holds (bad credentials,
//!   a wrong endpoint) cannot be delivered as configured: its rows are refused the same way.
//! - **`flush` means acknowledged.** Rows are numbered as they are appended; `flush` waits until
//!   every row numbered before the call is resolved.
//! - **Shutdown flushes.** [`BatchWriter::shutdown`] (or dropping the last clone) sends everything
//!   still queued before the task ends.
//!
//! Only ILP over HTTP can report a failed request; over TCP QuestDB closes the connection and the
//! rows of the failed write are lost silently, so the guarantees above hold for `http::`/`https::`.

use std::collections::VecDeque;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dal::{BatchReport, Entity, EntityMeta, Error, Result, RetryPolicy};
use questdb::ingress::{Buffer, ProtocolVersion, Sender, SenderBuilder};
use tokio::sync::{Notify, Semaphore, watch};

use super::codec::encode_row;
use super::error::{self, IlpFailure, NAME};
use super::lines::{self, Line};

/// Refused rows kept for [`BatchWriter::take_refused`]; older ones are dropped first (they are
/// still counted in [`WriterStats::rejected_rows`]).
pub const MAX_REFUSED_KEPT: usize = 10_000;

/// A row re-sent alone after an `internal error` is tried this many times before it counts as
/// refused (such an error may be a passing condition of the server).
const INTERNAL_ATTEMPTS: u32 = 3;

/// Tuning of a [`BatchWriter`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WriterOptions {
    /// Staged rows are sent at least this often (100 ms, the seed's interval).
    pub flush_interval: Duration,
    /// Send as soon as this many rows are staged.
    pub flush_rows: usize,
    /// Send as soon as the staged ILP text reaches this many bytes.
    pub flush_bytes: usize,
    /// Rows queued (staged or in flight) before `append` waits.
    pub max_pending_rows: usize,
    /// Staged bytes before `append` waits (keep it under the sender's `max_buf_size`, 100 MiB).
    pub max_pending_bytes: usize,
    /// Backoff between attempts to send a failed batch; attempts never stop for transient errors
    /// (only `initial_backoff` and `max_backoff` are used).
    pub retry: RetryPolicy,
    /// How long [`BatchWriter::flush`] waits before returning [`Error::Timeout`] (the rows stay
    /// queued and are still delivered). `None` waits as long as it takes.
    pub flush_timeout: Option<Duration>,
    /// How long shutdown keeps retrying an unreachable server before giving up on the rest.
    pub shutdown_timeout: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            flush_interval: Duration::from_millis(100),
            flush_rows: 10_000,
            flush_bytes: 4 << 20,
            max_pending_rows: 200_000,
            max_pending_bytes: 64 << 20,
            retry: RetryPolicy {
                max_attempts: u32::MAX,
                initial_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_secs(2),
                max_elapsed: Duration::MAX,
            },
            flush_timeout: Some(Duration::from_secs(60)),
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// Counters of a [`BatchWriter`], since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterStats {
    /// Rows accepted by `append`/`append_all`.
    pub appended_rows: u64,
    /// Rows acknowledged by QuestDB.
    pub delivered_rows: u64,
    /// Rows QuestDB refused (not stored; see [`BatchWriter::take_refused`]).
    pub rejected_rows: u64,
    /// Rows given up at shutdown because QuestDB stayed unreachable.
    pub abandoned_rows: u64,
    /// HTTP requests that succeeded.
    pub batches: u64,
    /// Failed attempts that were retried.
    pub retries: u64,
    /// ILP bytes acknowledged.
    pub bytes_sent: u64,
    /// The error of the last failed attempt, while the writer is failing (cleared on success).
    pub failing: Option<String>,
    /// Requests sent to isolate refused rows (parts of refused batches sent again).
    pub isolation_requests: u64,
}

/// A row QuestDB refused, as returned by [`BatchWriter::take_refused`].
#[derive(Debug)]
#[non_exhaustive]
pub struct RefusedRow {
    /// The entity the row was appended as.
    pub entity: &'static str,
    /// The table it was written to.
    pub table: String,
    /// Its ids and designated timestamp, for humans (`id=7, ts=2023-11-14T22:13:20+00:00`).
    pub key: String,
    /// Why QuestDB refused it (never transient).
    pub error: Error,
}

/// A cheap `Clone` handle on one batch-writing task. See the module docs.
///
/// Must be created inside a Tokio runtime. When the last clone is dropped the task sends what is
/// still queued and ends (as long as the runtime keeps running).
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

impl std::fmt::Debug for BatchWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchWriter")
            .field("protocol", &self.shared.protocol)
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

/// Closes the writer when the last handle goes away.
struct Owner {
    shared: Arc<Shared>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.begin_close();
    }
}

struct Shared {
    staging: Mutex<Staging>,
    /// Refused rows not yet taken by [`BatchWriter::take_refused`].
    refused: Mutex<VecDeque<RefusedRow>>,
    conf: ClientConf,
    permits: Semaphore,
    wake: Notify,
    progress: watch::Sender<Progress>,
    options: WriterOptions,
    protocol: ProtocolVersion,
    /// Rejections already reported by a `flush` (the rest are reported by the next one).
    reported_rejections: AtomicU64,
    retries: AtomicU64,
    batches: AtomicU64,
    bytes_sent: AtomicU64,
    isolation_requests: AtomicU64,
}

/// Where one staged row's line ends in the batch, and what it is.
#[derive(Clone, Copy)]
struct RowMark {
    end: usize,
    entity: &'static EntityMeta,
}

struct Staging {
    buf: Buffer,
    /// One mark per row in `buf`, in order.
    rows: Vec<RowMark>,
    /// Rows accepted since the start; row `n` is the `n`th accepted.
    appended: u64,
    closing: bool,
}

#[derive(Debug, Clone, Default)]
struct Progress {
    /// Rows resolved (delivered, rejected or abandoned), in append order.
    resolved: u64,
    delivered: u64,
    rejected: u64,
    abandoned: u64,
    last_rejection: Option<Arc<str>>,
    failing: Option<Arc<str>>,
    stopped: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Staging> {
        // Nothing panics while holding the lock except an allocation failure; a poisoned lock
        // still guards a consistent buffer (encode_row rewinds on error).
        self.staging
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn new_buffer(&self) -> Buffer {
        Buffer::new(self.protocol)
    }

    fn begin_close(&self) {
        self.lock().closing = true;
        self.permits.close();
        self.wake.notify_one();
    }

    fn wake_if_due(&self, st: &Staging) {
        if st.rows.len() >= self.options.flush_rows || st.buf.len() >= self.options.flush_bytes {
            self.wake.notify_one();
        }
    }
}

impl Staging {
    /// Records the row just encoded at the end of `buf`.
    #[inline]
    fn mark<T: Entity>(&mut self) {
        self.rows.push(RowMark {
            end: self.buf.len(),
            entity: T::META,
        });
    }
}

fn closed() -> Error {
    Error::backend(NAME, false, "the QuestDB batch writer is shut down")
}

/// Parsed parts of a questdb-rs configuration string that the writer needs before it builds a
/// sender.
#[derive(Debug, Clone)]
pub(crate) struct ClientConf {
    /// The configuration as given (for the endpoint check).
    given: Arc<str>,
    /// The configuration the sender is built from (with the writer's defaults added).
    conf: Arc<str>,
    protocol: ProtocolVersion,
    http: bool,
}

impl ClientConf {
    /// Checks `conf` and adds the writer's defaults: `protocol_version=3` for HTTP, so the sender
    /// starts while the server is down (negotiating the version needs the server), and
    /// `retry_timeout=0`, so failed requests come back to the writer's own retry loop at once.
    ///
    /// For HTTP(S) a sender is built, which contacts no server and checks everything questdb-rs
    /// checks before sending (credentials given in pairs, TLS settings, buffer sizes), so a
    /// configuration that could never send is refused here rather than when the first batch
    /// goes out. Building a TCP sender connects, so a TCP configuration is only parsed.
    ///
    /// # Errors
    /// [`Error::Config`] with questdb-rs's reason (secret values masked).
    pub(crate) fn parse(conf: &str) -> Result<ClientConf> {
        let scheme = conf.split("::").next().unwrap_or("").trim();
        let http = matches!(scheme, "http" | "https");
        let mut full = conf.trim().to_owned();
        if !full.ends_with(';') {
            full.push(';');
        }
        let protocol = match conf_value(conf, "protocol_version") {
            Some("1") => ProtocolVersion::V1,
            Some("2") => ProtocolVersion::V2,
            Some("3") => ProtocolVersion::V3,
            Some(other) => {
                return Err(Error::config(
                    NAME,
                    format!(
                        "protocol_version={other} is not supported by the batch writer, which must start while QuestDB is down: give 1, 2 or 3"
                    ),
                ));
            }
            None if http => {
                full.push_str("protocol_version=3;");
                ProtocolVersion::V3
            }
            None => ProtocolVersion::V1,
        };
        if http && conf_value(conf, "retry_timeout").is_none() {
            full.push_str("retry_timeout=0;");
        }
        let builder = SenderBuilder::from_conf(&full).map_err(|e| error::config(conf, &e))?;
        if http {
            builder.build().map_err(|e| error::config(conf, &e))?;
        }
        Ok(ClientConf {
            given: conf.into(),
            conf: full.into(),
            protocol,
            http,
        })
    }

    /// The configuration of a probe of the endpoint: for HTTP the protocol version is left to
    /// negotiate, so building the sender asks the server (`GET /settings`, with the configured
    /// credentials and TLS); a failed request is not retried for long.
    fn probe(&self) -> String {
        let params = self.given.split_once("::").map_or(&*self.given, |(_, p)| p);
        let scheme = self.given.split("::").next().unwrap_or("").trim();
        let mut out = format!("{scheme}::");
        for kv in params.split(';').filter(|kv| !kv.trim().is_empty()) {
            let key = kv.split_once('=').map_or(kv, |(k, _)| k).trim();
            if self.http && key == "protocol_version" {
                continue;
            }
            out.push_str(kv);
            out.push(';');
        }
        if self.http {
            if conf_value(&self.given, "retry_timeout").is_none() {
                out.push_str("retry_timeout=0;");
            }
            if conf_value(&self.given, "request_timeout").is_none() {
                out.push_str("request_timeout=5000;");
            }
        }
        out
    }

    /// Whether the transport is ILP over HTTP(S), the one that reports failed writes.
    pub(crate) fn is_http(&self) -> bool {
        self.http
    }

    fn build(&self) -> questdb::Result<Sender> {
        Sender::from_conf(&*self.conf)
    }
}

/// The value of `key` in a questdb-rs configuration string (`scheme::k=v;k=v;`), if present.
pub(crate) fn conf_value<'a>(conf: &'a str, key: &str) -> Option<&'a str> {
    let params = conf.split_once("::").map_or(conf, |(_, p)| p);
    params.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == key).then(|| v.trim())
    })
}

impl BatchWriter {
    /// Starts a writer for a questdb-rs configuration string (e.g. `http::addr=host:9000;`).
    ///
    /// Nothing is sent until the first batch: the writer starts while QuestDB is down.
    ///
    /// # Errors
    /// A configuration that questdb-rs refuses. Panics outside a Tokio runtime.
    pub fn start(conf: &str, options: WriterOptions) -> Result<BatchWriter> {
        let conf = ClientConf::parse(conf)?;
        Ok(Self::start_with(conf, options))
    }

    pub(crate) fn start_with(conf: ClientConf, options: WriterOptions) -> BatchWriter {
        let permits = options.max_pending_rows.clamp(1, Semaphore::MAX_PERMITS);
        let shared = Arc::new(Shared {
            staging: Mutex::new(Staging {
                buf: Buffer::new(conf.protocol),
                rows: Vec::new(),
                appended: 0,
                closing: false,
            }),
            refused: Mutex::new(VecDeque::new()),
            conf: conf.clone(),
            permits: Semaphore::new(permits),
            wake: Notify::new(),
            progress: watch::channel(Progress::default()).0,
            options,
            protocol: conf.protocol,
            reported_rejections: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            isolation_requests: AtomicU64::new(0),
        });
        tokio::spawn(run(shared.clone(), conf));
        BatchWriter {
            _owner: Arc::new(Owner {
                shared: shared.clone(),
            }),
            shared,
        }
    }

    /// The ILP protocol version of the batches.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.shared.protocol
    }

    /// Queues one row for `table`. Waits while the queue is full.
    ///
    /// # Errors
    /// The row holds a value QuestDB cannot store ([`Error::Validation`] naming the field) or
    /// cannot be encoded ([`Error::Codec`]), or the writer is shut down.
    pub async fn append<T: Entity>(&self, table: &str, row: &T) -> Result<()> {
        let permit = self.shared.permits.acquire().await.map_err(|_| closed())?;
        self.with_room(|st| {
            encode_row(&mut st.buf, table, row)?;
            st.mark::<T>();
            Ok(1)
        })
        .await??;
        permit.forget();
        Ok(())
    }

    /// Queues many rows for `table`, waiting for room as needed. A row that cannot be encoded is
    /// reported in the [`BatchReport`]; every other row is queued.
    ///
    /// # Errors
    /// The writer is shut down before any row was queued.
    pub async fn append_all<T: Entity>(&self, table: &str, rows: &[T]) -> Result<BatchReport> {
        // Chunks keep the staging lock short and never ask for more permits than exist.
        let chunk_len = (self.shared.options.max_pending_rows / 4).clamp(1, 1024);
        let mut report = BatchReport::default();
        for (c, chunk) in rows.chunks(chunk_len).enumerate() {
            let first = c * chunk_len;
            let n = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            let queued = match self.shared.permits.acquire_many(n).await {
                Ok(permits) => {
                    let mut failed = Vec::new();
                    let queued = self
                        .with_room(|st| {
                            failed.clear();
                            let mut ok = 0;
                            for (i, row) in chunk.iter().enumerate() {
                                if let Err(e) = encode_row(&mut st.buf, table, row) {
                                    failed.push((first + i, e));
                                } else {
                                    st.mark::<T>();
                                    ok += 1;
                                }
                            }
                            Ok(ok)
                        })
                        .await
                        .and_then(|r| r);
                    if let Ok(ok) = queued {
                        permits.forget();
                        // Refused rows give their permits back.
                        self.shared.permits.add_permits(chunk.len() - ok);
                        report.failed.append(&mut failed);
                    }
                    queued
                }
                Err(_) => Err(closed()),
            };
            match queued {
                Ok(ok) => report.written += ok,
                Err(e) if report.written == 0 && report.failed.is_empty() => return Err(e),
                Err(_) => {
                    report
                        .failed
                        .extend((first..rows.len()).map(|i| (i, closed())));
                    return Ok(report);
                }
            }
        }
        Ok(report)
    }

    /// Runs `f` on the staging buffer once it has room (fewer than
    /// [`WriterOptions::max_pending_bytes`] staged), counting the rows `f` reports as queued.
    async fn with_room(
        &self,
        mut f: impl FnMut(&mut Staging) -> Result<usize>,
    ) -> Result<Result<usize>> {
        let mut rx: Option<watch::Receiver<Progress>> = None;
        loop {
            {
                let mut st = self.shared.lock();
                if st.closing {
                    return Err(closed());
                }
                if st.buf.len() < self.shared.options.max_pending_bytes {
                    let r = f(&mut st);
                    if let Ok(n) = r {
                        st.appended += n as u64;
                        self.shared.wake_if_due(&st);
                    }
                    return Ok(r);
                }
            }
            match rx.as_mut() {
                // Subscribe, then look again: a batch resolved in between is not missed.
                None => rx = Some(self.shared.progress.subscribe()),
                Some(rx) => {
                    self.shared.wake.notify_one();
                    rx.changed().await.map_err(|_| closed())?;
                }
            }
        }
    }

    /// Returns once every row appended before the call is acknowledged by QuestDB.
    ///
    /// # Errors
    /// [`Error::Timeout`] after [`WriterOptions::flush_timeout`] (rows stay queued and are
    /// delivered later); a permanent error when QuestDB refused rows since the last `flush`
    /// reported some (those rows are not stored; every other row is: see
    /// [`BatchWriter::take_refused`]); the writer stopped.
    pub async fn flush(&self) -> Result<()> {
        let target = self.shared.lock().appended;
        self.shared.wake.notify_one();
        let mut rx = self.shared.progress.subscribe();
        let wait = async {
            loop {
                {
                    let p = rx.borrow_and_update();
                    if p.resolved >= target {
                        return Ok(());
                    }
                    if p.stopped {
                        return Err(closed());
                    }
                }
                rx.changed().await.map_err(|_| closed())?;
            }
        };
        match self.shared.options.flush_timeout {
            Some(limit) => tokio::time::timeout(limit, wait).await.map_err(|_| {
                let failing = self.shared.progress.borrow().failing.clone();
                Error::Timeout {
                    backend: NAME,
                    operation: match failing {
                        Some(why) => format!("flush (rows stay queued; last error: {why})"),
                        None => "flush (rows stay queued)".to_owned(),
                    },
                }
            })??,
            None => wait.await?,
        }
        self.take_rejections()
    }

    fn take_rejections(&self) -> Result<()> {
        let p = self.shared.progress.borrow().clone();
        let before = self
            .shared
            .reported_rejections
            .fetch_max(p.rejected, Ordering::SeqCst);
        if p.rejected > before {
            let why = p.last_rejection.as_deref().unwrap_or("no reason given");
            return Err(Error::backend(
                NAME,
                false,
                format!(
                    "QuestDB refused {} queued row(s), which are not stored (every other row was delivered; take_refused() lists them); last reason: {why}",
                    p.rejected - before
                ),
            ));
        }
        Ok(())
    }

    /// Stops accepting rows, sends everything queued and waits for the task to end.
    ///
    /// # Errors
    /// Rows were rejected, or abandoned because QuestDB stayed unreachable for
    /// [`WriterOptions::shutdown_timeout`].
    pub async fn shutdown(&self) -> Result<()> {
        self.shared.begin_close();
        let mut rx = self.shared.progress.subscribe();
        loop {
            if rx.borrow_and_update().stopped {
                break;
            }
            if rx.changed().await.is_err() {
                break;
            }
        }
        let p = self.shared.progress.borrow().clone();
        if p.abandoned > 0 {
            return Err(Error::unavailable(
                NAME,
                format!(
                    "{} row(s) were not delivered before the shutdown timeout: {}",
                    p.abandoned,
                    p.failing.as_deref().unwrap_or("QuestDB unreachable")
                ),
            ));
        }
        self.take_rejections()
    }

    /// Counters since the writer started.
    pub fn stats(&self) -> WriterStats {
        let appended = self.shared.lock().appended;
        let p = self.shared.progress.borrow().clone();
        WriterStats {
            appended_rows: appended,
            delivered_rows: p.delivered,
            rejected_rows: p.rejected,
            abandoned_rows: p.abandoned,
            batches: self.shared.batches.load(Ordering::Relaxed),
            retries: self.shared.retries.load(Ordering::Relaxed),
            bytes_sent: self.shared.bytes_sent.load(Ordering::Relaxed),
            failing: p.failing.as_deref().map(str::to_owned),
            isolation_requests: self.shared.isolation_requests.load(Ordering::Relaxed),
        }
    }

    /// Takes the descriptions of the rows QuestDB refused since the last call (at most
    /// [`MAX_REFUSED_KEPT`], the most recent), oldest first.
    pub fn take_refused(&self) -> Vec<RefusedRow> {
        let mut refused = self
            .shared
            .refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        refused.drain(..).collect()
    }

    /// Checks that the ILP endpoint answers: over HTTP(S) a `GET /settings` with the configured
    /// credentials and TLS (questdb-rs's protocol negotiation), which must offer the protocol
    /// version the writer uses; over TCP a connection (and authentication).
    ///
    /// # Errors
    /// [`Error::Unavailable`] naming the endpoint when it cannot be reached; a permanent error
    /// when it refuses the credentials or does not speak the protocol version in use.
    pub async fn check_endpoint(&self) -> Result<()> {
        let conf = self.shared.conf.clone();
        let probe = conf.probe();
        let want = self.shared.protocol;
        let built = tokio::task::spawn_blocking(move || {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                Sender::from_conf(&probe).map(|s| s.protocol_version())
            }))
        })
        .await;
        let addr = conf_value(&conf.given, "addr").unwrap_or("?").to_owned();
        match built {
            Ok(Ok(Ok(offered))) if !conf.http || offered >= want => Ok(()),
            Ok(Ok(Ok(offered))) => Err(Error::backend(
                NAME,
                false,
                format!(
                    "the ILP endpoint at {addr} offers protocol version {offered:?} at most; the writer uses {want:?} (set protocol_version in the client configuration, or upgrade QuestDB)"
                ),
            )),
            Ok(Ok(Err(e))) => {
                let why = error::redact_values(&conf.given, e.msg());
                let message = format!("ILP endpoint at {addr}: {why}");
                match e.code() {
                    questdb::ErrorCode::AuthError | questdb::ErrorCode::ConfigError => {
                        Err(Error::backend(NAME, false, message))
                    }
                    _ => Err(Error::unavailable(NAME, message)),
                }
            }
            Ok(Err(_)) | Err(_) => Err(Error::unavailable(
                NAME,
                format!("ILP endpoint at {addr}: the probe failed"),
            )),
        }
    }

    /// The error of the last failed send while the writer is failing; `None` when healthy.
    pub fn failing(&self) -> Option<String> {
        self.shared
            .progress
            .borrow()
            .failing
            .as_deref()
            .map(str::to_owned)
    }
}

/// The writer task: takes the staged batch on every tick or wake-up and delivers it.
async fn run(shared: Arc<Shared>, conf: ClientConf) {
    let mut link = Link {
        conf,
        sender: None,
        deadline: None,
    };
    let mut spare: Option<(Buffer, Vec<RowMark>)> = None;
    // The first tick comes one interval after the start (a plain `interval` ticks at once).
    let period = shared.options.flush_interval.max(Duration::from_millis(1));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let closing = shared.lock().closing;
        if closing {
            link.deadline
                .get_or_insert_with(|| Instant::now() + shared.options.shutdown_timeout);
        } else {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shared.wake.notified() => {}
            }
        }
        let batch = {
            let mut st = shared.lock();
            if st.rows.is_empty() {
                None
            } else {
                let (buf, rows) = spare
                    .take()
                    .unwrap_or_else(|| (shared.new_buffer(), Vec::new()));
                let batch = std::mem::replace(&mut st.buf, buf);
                let rows = std::mem::replace(&mut st.rows, rows);
                Some((batch, rows))
            }
        };
        match batch {
            Some((batch, rows)) => {
                let (mut buf, mut rows) = deliver(&shared, &mut link, batch, rows).await;
                buf.clear();
                rows.clear();
                spare = Some((buf, rows));
            }
            None if closing => break,
            None => {}
        }
    }
    shared.progress.send_modify(|p| p.stopped = true);
}

/// The connection to QuestDB: its configuration, the sender (built on first use and after a
/// failure that closed it) and, once shutting down, when to give up.
struct Link {
    conf: ClientConf,
    sender: Option<Sender>,
    deadline: Option<Instant>,
}

/// How one request ended.
enum Sent {
    Delivered,
    /// Refused, for the reason given (never transient).
    Refused(IlpFailure, Arc<str>),
    /// Given up at shutdown, or lost with the runtime.
    Abandoned(Arc<str>),
}

/// Sends one request until it is acknowledged, refused, or (at shutdown) given up: transient
/// failures are retried with backoff; an `internal error` is tried `internal_attempts` times in
/// all before it counts as a refusal.
async fn send(
    shared: &Arc<Shared>,
    link: &mut Link,
    batch: Buffer,
    rows: usize,
    internal_attempts: u32,
) -> (Buffer, Sent) {
    let mut batch = batch;
    let mut attempt = 0u32;
    let mut internal = 0u32;
    loop {
        attempt = attempt.saturating_add(1);
        let taken = link.sender.take();
        let conf = link.conf.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut s = match taken {
                Some(s) => s,
                None => match conf.build() {
                    Ok(s) => s,
                    Err(e) => return (None, batch, Err(e)),
                },
            };
            // A panic inside the driver must not take the batch with it.
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| s.flush_and_keep(&batch)))
                .unwrap_or_else(|_| {
                    Err(questdb::Error::new(
                        questdb::ErrorCode::SocketError,
                        "the ILP sender panicked while sending",
                    ))
                });
            (Some(s), batch, r)
        })
        .await;
        let (s, b, result) = match joined {
            Ok(t) => t,
            Err(join) => {
                // Only a runtime shutting down cancels a blocking task; the batch is gone with
                // it. Resolve the rows so no `flush` waits forever.
                tracing::error!(backend = NAME, rows, error = %join, "ILP send task lost");
                return (
                    shared.new_buffer(),
                    Sent::Abandoned(Arc::from(join.to_string())),
                );
            }
        };
        batch = b;
        link.sender = s.filter(|s| !s.must_close());
        let e = match result {
            Ok(()) => {
                shared.batches.fetch_add(1, Ordering::Relaxed);
                shared
                    .bytes_sent
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                return (batch, Sent::Delivered);
            }
            Err(e) => e,
        };
        let why: Arc<str> = Arc::from(error::redact_values(&link.conf.given, e.msg()));
        let failure = error::classify_ilp(&e);
        let retry = match failure {
            IlpFailure::Transient => true,
            IlpFailure::Rows { internal: true, .. } => {
                internal += 1;
                internal < internal_attempts
            }
            _ => false,
        };
        if !retry {
            return (batch, Sent::Refused(failure, why));
        }
        shared.retries.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(backend = NAME, rows, attempt, error = %why, "ILP batch not delivered; retrying");
        shared
            .progress
            .send_modify(|p| p.failing = Some(why.clone()));
        if !link.conf.is_http() {
            // A TCP connection that failed is unusable; HTTP (ureq) reconnects by itself.
            link.sender = None;
        }
        if shared.lock().closing {
            let limit = *link
                .deadline
                .get_or_insert_with(|| Instant::now() + shared.options.shutdown_timeout);
            if Instant::now() >= limit {
                tracing::error!(backend = NAME, rows, error = %why, "QuestDB unreachable at shutdown; rows abandoned");
                return (batch, Sent::Abandoned(why));
            }
        }
        tokio::time::sleep(shared.options.retry.backoff(attempt)).await;
    }
}

/// Delivers one staged batch: every row is delivered, refused (and described), or abandoned at
/// shutdown. Returns the buffers for reuse.
async fn deliver(
    shared: &Arc<Shared>,
    link: &mut Link,
    batch: Buffer,
    rows: Vec<RowMark>,
) -> (Buffer, Vec<RowMark>) {
    let n = rows.len();
    let (batch, sent) = send(shared, link, batch, n, INTERNAL_ATTEMPTS).await;
    let (failure, why) = match sent {
        Sent::Delivered => {
            resolve(shared, n as u64, Outcome::Delivered);
            return (batch, rows);
        }
        Sent::Abandoned(why) => {
            resolve(shared, n as u64, Outcome::Abandoned(why));
            return (batch, rows);
        }
        Sent::Refused(failure, why) => (failure, why),
    };
    tracing::warn!(backend = NAME, rows = n, error = %why, "QuestDB refused an ILP batch; isolating the refused rows");
    let tally = isolate(shared, link, &batch, &rows, failure, why).await;
    shared.progress.send_modify(|p| {
        p.resolved += n as u64;
        p.delivered += tally.delivered;
        p.rejected += tally.refused;
        p.abandoned += tally.abandoned;
        if let Some(why) = tally.last_refusal {
            p.last_rejection = Some(why);
        }
        if tally.delivered > 0 {
            p.failing = None;
        }
        if let Some(why) = tally.last_abandon {
            p.failing = Some(why);
        }
    });
    shared.permits.add_permits(n);
    (batch, rows)
}

#[derive(Default)]
struct Tally {
    delivered: u64,
    refused: u64,
    abandoned: u64,
    last_refusal: Option<Arc<str>>,
    last_abandon: Option<Arc<str>>,
}

/// Rows of a batch still to send, and their refusal when it is already known.
type Part = (Range<usize>, Option<(IlpFailure, Arc<str>)>);

/// Sends the parts of a refused batch again until every row is delivered or refused alone.
///
/// Rows are taken in order. A part QuestDB refuses at line `L` is split into the rows before
/// `L` (which QuestDB read and appended without complaint), row `L`, and the rows after it; a
/// part refused without a line is halved. A refusal that is not about rows (credentials, the
/// endpoint) refuses every row left.
async fn isolate(
    shared: &Arc<Shared>,
    link: &mut Link,
    batch: &Buffer,
    rows: &[RowMark],
    failure: IlpFailure,
    why: Arc<str>,
) -> Tally {
    let mut tally = Tally::default();
    // Parts still to send, last first; the whole batch's refusal is already known.
    let mut parts: Vec<Part> = vec![(0..rows.len(), Some((failure, why)))];
    while let Some((part, known)) = parts.pop() {
        let (failure, why) = match known {
            Some(k) => k,
            None => {
                let sub = lines::rebuild(batch, part.clone().map(|i| line_range(rows, i)));
                let sub = match sub {
                    Ok(sub) => sub,
                    Err(e) => {
                        // Cannot happen for lines encode_row wrote; refuse rather than loop.
                        let why: Arc<str> = Arc::from(format!("internal: {e}"));
                        for i in part {
                            refuse(shared, batch, rows, i, &why, &mut tally);
                        }
                        continue;
                    }
                };
                shared.isolation_requests.fetch_add(1, Ordering::Relaxed);
                let attempts = if part.len() == 1 {
                    INTERNAL_ATTEMPTS
                } else {
                    1
                };
                match send(shared, link, sub, part.len(), attempts).await {
                    (_, Sent::Delivered) => {
                        tally.delivered += part.len() as u64;
                        continue;
                    }
                    (_, Sent::Abandoned(why)) => {
                        tally.abandoned += part.len() as u64;
                        tally.last_abandon = Some(why);
                        continue;
                    }
                    (_, Sent::Refused(failure, why)) => (failure, why),
                }
            }
        };
        match failure {
            IlpFailure::Rows { line, internal } if part.len() > 1 => {
                let halves = || {
                    let mid = part.start + part.len() / 2;
                    [part.start..mid, mid..part.end]
                };
                match line.filter(|&l| l <= part.len()) {
                    // A row refused for what it holds is refused alone too; an internal error
                    // is tried alone before it counts.
                    Some(l) => {
                        let at = part.start + l - 1;
                        parts.push((at + 1..part.end, None));
                        let alone = (!internal).then(|| (failure, why.clone()));
                        parts.push((at..at + 1, alone));
                        parts.push((part.start..at, None));
                    }
                    None => {
                        let [a, b] = halves();
                        parts.push((b, None));
                        parts.push((a, None));
                    }
                }
                parts.retain(|(p, _)| !p.is_empty());
            }
            IlpFailure::Rows { .. } => {
                for i in part {
                    refuse(shared, batch, rows, i, &why, &mut tally);
                }
            }
            IlpFailure::Batch | IlpFailure::Transient => {
                // Not about a row: nothing left can be delivered as configured.
                for i in part.start..part.end {
                    refuse(shared, batch, rows, i, &why, &mut tally);
                }
                for (rest, _) in parts.drain(..) {
                    for i in rest {
                        refuse(shared, batch, rows, i, &why, &mut tally);
                    }
                }
            }
        }
    }
    tally
}

/// The byte range of row `i`'s line in the batch.
fn line_range(rows: &[RowMark], i: usize) -> Range<usize> {
    let start = if i == 0 { 0 } else { rows[i - 1].end };
    start..rows[i].end
}

/// Records row `i` of `batch` as refused for `why`.
fn refuse(
    shared: &Shared,
    batch: &Buffer,
    rows: &[RowMark],
    i: usize,
    why: &Arc<str>,
    tally: &mut Tally,
) {
    let mark = rows[i];
    let line = batch
        .as_bytes()
        .get(line_range(rows, i))
        .and_then(|b| Line::parse(b, batch.protocol_version()).ok());
    let (table, key) = match &line {
        Some(l) => (l.table().to_owned(), l.key(mark.entity)),
        None => (String::new(), String::new()),
    };
    tracing::error!(backend = NAME, entity = mark.entity.name, table, key, error = %why, "QuestDB refused a row; it is not stored");
    let row = RefusedRow {
        entity: mark.entity.name,
        table,
        key,
        error: Error::backend(NAME, false, format!("QuestDB refused the row: {why}")),
    };
    let mut refused = shared
        .refused
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if refused.len() >= MAX_REFUSED_KEPT {
        refused.pop_front();
    }
    refused.push_back(row);
    tally.refused += 1;
    tally.last_refusal = Some(why.clone());
}

enum Outcome {
    Delivered,
    Abandoned(Arc<str>),
}

fn resolve(shared: &Shared, rows: u64, outcome: Outcome) {
    shared.progress.send_modify(|p| {
        p.resolved += rows;
        match outcome {
            Outcome::Delivered => {
                p.delivered += rows;
                p.failing = None;
            }
            Outcome::Abandoned(why) => {
                p.abandoned += rows;
                p.failing = Some(why);
            }
        }
    });
    shared
        .permits
        .add_permits(usize::try_from(rows).unwrap_or(usize::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_defaults_are_added_only_when_missing() {
        let c = ClientConf::parse("http::addr=127.0.0.1:9000;").unwrap();
        assert_eq!(c.protocol, ProtocolVersion::V3);
        assert!(c.conf.contains("protocol_version=3;"));
        assert!(c.conf.contains("retry_timeout=0;"));
        let c =
            ClientConf::parse("http::addr=127.0.0.1:9000;protocol_version=2;retry_timeout=500;")
                .unwrap();
        assert_eq!(c.protocol, ProtocolVersion::V2);
        assert_eq!(c.conf.matches("protocol_version").count(), 1);
        assert_eq!(c.conf.matches("retry_timeout").count(), 1);
        let c = ClientConf::parse("tcp::addr=127.0.0.1:9009;").unwrap();
        assert_eq!(c.protocol, ProtocolVersion::V1);
        assert!(!c.is_http());
        assert!(ClientConf::parse("http::addr=127.0.0.1:9000;protocol_version=auto;").is_err());
        assert!(ClientConf::parse("nonsense").is_err());
    }
}
