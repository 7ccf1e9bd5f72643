//! Redis failure behaviour without disturbing the shared server: a closed port, our own
//! connection killed mid-run, our namespace flushed, and a throwaway `redis-server` child that is
//! stopped and restarted on the same port. Every failure must be transient, and the same handle
//! must work again once the server is back.

mod redis_common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dal::{Backend, CacheStore, Error, Repository};
use dal_backends::redis::{Redis, RedisOptions};
use redis_common::*;

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

fn quick() -> RedisOptions {
    RedisOptions::default()
        .with_connection_timeout(Duration::from_millis(300))
        .with_response_timeout(Duration::from_millis(500))
        .with_reconnect_attempts(1)
}

fn assert_transient<T: std::fmt::Debug>(r: &dal::Result<T>) {
    if let Err(e) = r {
        assert!(e.is_transient(), "expected a transient error, got {e:?}");
        assert!(
            matches!(e, Error::Unavailable { .. } | Error::Timeout { .. }),
            "{e:?}"
        );
    }
}

#[tokio::test]
async fn connecting_to_a_closed_port_is_transient() {
    // Runs without REDIS_URL: nothing listens on the port.
    let port = free_port();
    let started = Instant::now();
    let result = Redis::connect_with(&format!("redis://:hunter2@127.0.0.1:{port}"), quick()).await;
    let err = result.expect_err("nothing listens there");
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(
        !format!("{err} {err:?}").contains("hunter2"),
        "no password in errors"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded in time"
    );
}

#[tokio::test]
async fn a_killed_connection_recovers_without_rebuilding_the_handle() {
    let Some(redis) = redis_with("ft_kill", quick()).await else {
        return;
    };
    let prices: Repository<Price, Redis> = Repository::new(redis.clone());
    prices.put(&price("SOL", 1.0)).await.expect("put");

    let id: i64 = dal_backends::redis::driver::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut redis.connection())
        .await
        .expect("CLIENT ID");
    // Kill it from another connection, as an operator (or a proxy) would.
    let url = dal_tests::store_url("REDIS_URL").expect("set");
    let admin = Redis::connect(&url).await.expect("admin connection");
    let killed: i64 = dal_backends::redis::driver::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query_async(&mut admin.connection())
        .await
        .expect("CLIENT KILL");
    assert_eq!(killed, 1);

    let mut ok = 0;
    for _ in 0..20 {
        let r = prices.lookup(&"SOL".into()).await;
        assert_transient(&r);
        if let Ok(v) = r {
            assert_eq!(v.map(|p| p.usd), Some(1.0));
            ok += 1;
            if ok == 3 {
                break;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(ok, 3, "the same handle works again");
    let new_id: i64 = dal_backends::redis::driver::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut redis.connection())
        .await
        .expect("CLIENT ID");
    assert_ne!(new_id, id, "a new connection replaced the killed one");
    clear_namespace(&redis).await;
}

#[tokio::test]
async fn a_flushed_namespace_reads_as_misses() {
    let Some(redis) = redis("ft_flush").await else {
        return;
    };
    let prices: Repository<Price, Redis> = Repository::new(redis.clone());
    let batch: Vec<Price> = (0..20).map(|i| price(&format!("T{i}"), 1.0)).collect();
    prices.put_all(&batch).await.expect("put_all");
    clear_namespace(&redis).await;
    let keys: Vec<String> = (0..20).map(|i| format!("T{i}")).collect();
    let got = prices.lookup_many(&keys).await.expect("lookup_many");
    assert!(got.iter().all(Option::is_none));
    assert_eq!(prices.lookup(&"T3".into()).await.expect("lookup"), None);
    prices.put(&batch[3]).await.expect("put again");
    assert!(prices.lookup(&"T3".into()).await.expect("lookup").is_some());
    clear_namespace(&redis).await;
}

/// A `redis-server` child on its own port, killed on drop whatever happens.
struct Throwaway {
    port: u16,
    child: Option<Child>,
    password: &'static str,
}

impl Throwaway {
    fn start(port: u16, password: &'static str) -> Option<Self> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                password,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(child) => Some(Throwaway {
                port,
                child: Some(child),
                password,
            }),
            Err(e) => {
                assert!(
                    !dal_tests::in_ci(),
                    "redis-server must be installed in CI: {e}"
                );
                eprintln!("SKIPPED: cannot start redis-server: {e}");
                None
            }
        }
    }

    fn url(&self) -> String {
        format!("redis://:{}@127.0.0.1:{}", self.password, self.port)
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn a_server_that_goes_down_and_comes_back() {
    // Needs no REDIS_URL: the test owns its server.
    let port = free_port();
    let Some(mut server) = Throwaway::start(port, "s3cret-pw") else {
        return;
    };
    server.wait_ready().await;
    let redis = Redis::connect_with(&server.url(), quick().with_namespace("ft_down"))
        .await
        .expect("connect to the throwaway server");
    let debug = format!("{redis:?}");
    assert!(
        !debug.contains("s3cret-pw") && debug.contains("***"),
        "{debug}"
    );
    let prices: Repository<Price, Redis> = Repository::new(redis.clone());
    prices.put(&price("SOL", 2.0)).await.expect("put");
    assert!(
        prices
            .lookup(&"SOL".into())
            .await
            .expect("lookup")
            .is_some()
    );

    server.stop();
    let down_since = Instant::now();
    let mut failures = 0;
    for _ in 0..3 {
        let r = prices.lookup(&"SOL".into()).await;
        assert!(r.is_err(), "the server is gone: {r:?}");
        assert_transient(&r);
        let h = redis.health_check().await;
        assert!(h.is_err());
        assert_transient(&h);
        failures += 1;
    }
    assert_eq!(failures, 3);
    assert!(
        down_since.elapsed() < Duration::from_secs(15),
        "failures are reported promptly"
    );

    // An application that starts while Redis is down: a lazy handle, transient errors until
    // the server is back.
    let lazy = Redis::connect_lazy(&server.url(), quick().with_namespace("ft_down"))
        .expect("lazy handle without a server");
    let early = lazy.health_check().await;
    assert!(early.is_err());
    assert_transient(&early);

    let Some(restarted) = Throwaway::start(port, "s3cret-pw") else {
        return;
    };
    server = restarted;
    server.wait_ready().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let value = loop {
        let r = prices.lookup(&"SOL".into()).await;
        assert_transient(&r);
        if let Ok(v) = r {
            break v;
        }
        assert!(Instant::now() < deadline, "no recovery within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The restarted server kept nothing (no persistence): a miss, not an error.
    assert_eq!(value, None);
    prices
        .put(&price("SOL", 3.0))
        .await
        .expect("put after restart");
    assert_eq!(
        prices
            .lookup(&"SOL".into())
            .await
            .expect("lookup")
            .map(|p| p.usd),
        Some(3.0)
    );
    let n: u64 = dal_backends::redis::driver::cmd("DBSIZE")
        .query_async(&mut redis.connection())
        .await
        .expect("DBSIZE");
    assert_eq!(n, 1);
    // The lazy handle connects once the server is there.
    let lazy_prices: Repository<Price, Redis> = Repository::new(lazy.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = lazy_prices.lookup(&"SOL".into()).await;
        assert_transient(&r);
        if let Ok(v) = r {
            assert_eq!(v.map(|p| p.usd), Some(3.0));
            break;
        }
        assert!(Instant::now() < deadline, "the lazy handle never connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(server);
}
