//! A TCP proxy on 127.0.0.1 in front of the test server that forwards the Postgres protocol and,
//! when armed, cuts a connection right after a chosen client message reached the server: it
//! waits until the server has answered it (its `ReadyForQuery`, so the server has finished with
//! it), drops that answer and closes both sides. The client sees its connection lost after
//! sending, with no reply: exactly a reply lost in the network.
//!
//! The proxy frames messages in both directions. It answers the client's `SSLRequest` with
//! `N` itself (the tests' traffic stays in clear text so it can be read); everything else is
//! forwarded unchanged. Dropping the [`Proxy`] stops the listener and every connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Which client message makes the proxy cut the connection (once; then it disarms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Forward everything.
    Never,
    /// A simple-protocol `COMMIT` (a 'Q' message whose text is `COMMIT`: what sqlx sends to
    /// commit a transaction).
    Commit,
    /// The `Sync` after an extended-protocol `Execute` of a statement whose `Parse` text (or a
    /// simple query whose text) contains this. sqlx parses a statement once per connection, so
    /// arm this before the first use of the statement on a fresh connection.
    Statement(String),
    /// `CopyDone`: the end of a `COPY .. FROM STDIN`.
    CopyDone,
}

struct Shared {
    upstream: SocketAddr,
    cut: Mutex<Cut>,
    cuts: AtomicUsize,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// A running proxy; stops when dropped.
pub(crate) struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

/// The server's address in `DATABASE_URL`.
pub(crate) async fn upstream(url: &str) -> SocketAddr {
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("DATABASE_URL");
    let host = format!("{}:{}", options.get_host(), options.get_port());
    tokio::net::lookup_host(host)
        .await
        .expect("resolve DATABASE_URL's host")
        .next()
        .expect("an address")
}

/// `url` with its host and port replaced by `127.0.0.1:port` (user, database and parameters
/// kept).
pub(crate) fn with_port(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let userinfo = authority
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    format!("{scheme}://{userinfo}127.0.0.1:{port}{path}")
}

impl Proxy {
    /// Listens on an ephemeral port of 127.0.0.1, forwarding to `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            upstream,
            cut: Mutex::new(Cut::Never),
            cuts: AtomicUsize::new(0),
            tasks: Mutex::new(Vec::new()),
        });
        let accept = tokio::spawn({
            let shared = Arc::clone(&shared);
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let task = tokio::spawn(relay(client, Arc::clone(&shared)));
                    shared.tasks.lock().expect("tasks").push(task);
                }
            }
        });
        Proxy {
            port,
            shared,
            accept,
        }
    }

    /// The proxy's port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `url` pointed at the proxy.
    pub(crate) fn url(&self, url: &str) -> String {
        with_port(url, self.port)
    }

    /// Cuts the next connection that sends the message `cut` describes.
    pub(crate) fn arm(&self, cut: Cut) {
        *self.shared.cut.lock().expect("cut") = cut;
    }

    /// How many connections were cut so far.
    pub(crate) fn cuts(&self) -> usize {
        self.shared.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for task in self.shared.tasks.lock().expect("tasks").drain(..) {
            task.abort();
        }
    }
}

/// Per-connection progress towards an armed [`Cut::Statement`].
#[derive(Default)]
struct Watch {
    parsed: bool,
    executed: bool,
}

impl Shared {
    /// Whether forwarding this client message (type, body) should cut the connection.
    fn should_cut(&self, watch: &mut Watch, kind: u8, body: &[u8]) -> bool {
        let mut cut = self.cut.lock().expect("cut");
        let text = || String::from_utf8_lossy(body).into_owned();
        let fire = match &*cut {
            Cut::Never => false,
            Cut::Commit => kind == b'Q' && text().trim_end_matches('\0').trim() == "COMMIT",
            Cut::CopyDone => kind == b'c',
            Cut::Statement(needle) => match kind {
                b'Q' => text().contains(needle.as_str()),
                b'P' => {
                    watch.parsed |= text().contains(needle.as_str());
                    false
                }
                b'E' => {
                    watch.executed |= watch.parsed;
                    false
                }
                b'S' => watch.executed,
                _ => false,
            },
        };
        if fire {
            *cut = Cut::Never;
            self.cuts.fetch_add(1, Ordering::SeqCst);
        }
        fire
    }
}

/// The length of the first complete message in `buf` (typed: 1 type byte + 4-byte length; the
/// client's first messages are untyped: 4-byte length only), if it is all there.
fn frame(buf: &[u8], typed: bool) -> Option<usize> {
    let at = usize::from(typed);
    let len = buf.get(at..at + 4)?;
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize + at;
    (buf.len() >= len).then_some(len)
}

const SSL_REQUEST: u32 = 80_877_103;

async fn relay(mut client: TcpStream, shared: Arc<Shared>) {
    let Ok(mut server) = TcpStream::connect(shared.upstream).await else {
        return;
    };
    let (mut client_in, mut client_out) = client.split();
    let (mut server_in, mut server_out) = server.split();
    let (mut from_client, mut from_server) = (Vec::new(), Vec::new());
    let (mut client_chunk, mut server_chunk) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    let mut startup = true;
    let mut cutting = false;
    let mut watch = Watch::default();
    loop {
        tokio::select! {
            n = client_in.read(&mut client_chunk), if !cutting => {
                let Ok(n @ 1..) = n else { return };
                from_client.extend_from_slice(&client_chunk[..n]);
                while let Some(len) = frame(&from_client, !startup) {
                    let msg: Vec<u8> = from_client.drain(..len).collect();
                    if startup {
                        let code = u32::from_be_bytes([msg[4], msg[5], msg[6], msg[7]]);
                        if code == SSL_REQUEST {
                            if client_out.write_all(b"N").await.is_err() {
                                return;
                            }
                            continue;
                        }
                        startup = false;
                        if server_out.write_all(&msg).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    if server_out.write_all(&msg).await.is_err() {
                        return;
                    }
                    if shared.should_cut(&mut watch, msg[0], &msg[5..]) {
                        // Nothing after the trigger reaches the server.
                        cutting = true;
                        break;
                    }
                }
            }
            n = server_in.read(&mut server_chunk) => {
                let Ok(n @ 1..) = n else { return };
                from_server.extend_from_slice(&server_chunk[..n]);
                while let Some(len) = frame(&from_server, true) {
                    let msg: Vec<u8> = from_server.drain(..len).collect();
                    if cutting {
                        if msg[0] == b'Z' {
                            // The server is done with the trigger: drop its answer and both
                            // connections.
                            return;
                        }
                        continue;
                    }
                    if client_out.write_all(&msg).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
