//! A Postgres that cannot be reached, or refuses who connects, is reported at once by `connect`
//! with the address (never the password) and the cause, not as "pool timed out" after the whole
//! acquire timeout; a later acquire that times out says why too. Every test configures a 60 s
//! acquire timeout and requires an answer within 30 s: an answer at all proves it did not wait
//! for the timeout, without measuring time.

mod postgres_common;

use std::time::Duration;

use dal::{Backend, Entity, Error, RecordStore, Repository};
use dal_backends::postgres::{Postgres, PostgresOptions};
use postgres_common::proxy::{self, Proxy};

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "pings")]
struct Ping {
    #[entity(id)]
    id: i64,
}

const ACQUIRE: Duration = Duration::from_secs(60);
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

async fn connect_error(url: &str) -> Error {
    let connecting = Postgres::connect_with(PostgresOptions::new(url).acquire_timeout(ACQUIRE));
    tokio::time::timeout(ANSWER_WITHIN, connecting)
        .await
        .expect("connect answers long before its 60 s acquire timeout")
        .expect_err("cannot connect")
}

fn assert_names(e: &Error, address: &str, cause: &str) {
    let text = format!("{e}");
    eprintln!("{text}");
    assert!(
        text.contains(address) && text.contains(cause),
        "the error names {address:?} and {cause:?}: {text}"
    );
    let all = format!("{e} {e:?}");
    assert!(!all.contains("hunter2"), "the password leaked: {all}");
    assert!(!text.contains("pool timed out"), "{text}");
}

#[tokio::test]
async fn a_closed_port_is_refused_at_once_naming_the_address() {
    // Port 1 on localhost: nothing listens.
    let e = connect_error("postgres://app:hunter2@127.0.0.1:1/trading").await;
    assert_names(&e, "app@127.0.0.1:1/trading", "connection refused");
    assert!(
        matches!(e, Error::Unavailable { .. }) && e.is_transient(),
        "{e:?}"
    );
}

#[tokio::test]
async fn an_unresolvable_host_is_a_dns_failure_naming_the_host() {
    let e = connect_error("postgres://app:hunter2@nonexistent.invalid:5432/trading").await;
    assert_names(&e, "app@nonexistent.invalid:5432/trading", "resolve");
    assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
}

#[tokio::test]
async fn a_role_or_database_that_does_not_exist_is_a_configuration_error() {
    let Some(url) = dal_tests::store_url("DATABASE_URL") else {
        return;
    };
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("DATABASE_URL");
    let server = format!("{}:{}", options.get_host(), options.get_port());
    let db = options.get_database().unwrap_or("postgres").to_owned();

    let no_role = format!("postgres://dal_no_such_role:hunter2@{server}/{db}");
    let e = connect_error(&no_role).await;
    assert_names(
        &e,
        &format!("dal_no_such_role@{server}/{db}"),
        "dal_no_such_role",
    );
    assert!(e.to_string().contains("authentication failed"), "{e}");
    assert!(
        matches!(e, Error::Config { .. }) && !e.is_transient(),
        "{e:?}"
    );

    let user = options.get_username();
    let no_db = format!("postgres://{user}:hunter2@{server}/dal_no_such_database");
    let e = connect_error(&no_db).await;
    assert_names(&e, "dal_no_such_database", "does not exist");
    assert!(matches!(e, Error::Config { .. }), "{e:?}");
}

#[tokio::test]
async fn a_server_gone_after_connect_is_reported_with_its_cause() {
    let Some(url) = dal_tests::store_url("DATABASE_URL") else {
        return;
    };
    let proxy = Proxy::start(proxy::upstream(&url).await).await;
    let port = proxy.port();
    let pg = Postgres::connect_with(
        PostgresOptions::new(proxy.url(&url))
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(1)),
    )
    .await
    .expect("connect through the proxy");
    pg.health_check().await.expect("reachable");
    // The server's address stops answering: the pool's connection is gone and new ones are
    // refused. The pool retries refused connections until its acquire timeout (1 s here: it
    // rides through a restart), then says why it has none.
    drop(proxy);
    let repo: Repository<Ping, Postgres> = Repository::new(pg.clone());
    let mut last = None;
    for _ in 0..3 {
        match tokio::time::timeout(ANSWER_WITHIN, repo.get(&1)).await {
            Ok(Err(e)) => last = Some(e),
            Ok(Ok(_)) => panic!("nothing listens on port {port} any more"),
            Err(_) => panic!("no answer within {ANSWER_WITHIN:?}"),
        }
    }
    let e = last.expect("an error");
    assert_names(&e, &format!("127.0.0.1:{port}"), "connection refused");
    assert!(e.is_transient(), "{e:?}");
}

#[tokio::test]
async fn an_exhausted_pool_says_so() {
    let Some(url) = dal_tests::store_url("DATABASE_URL") else {
        return;
    };
    let pg = Postgres::connect_with(
        PostgresOptions::new(url)
            .max_connections(1)
            .acquire_timeout(Duration::from_millis(200)),
    )
    .await
    .expect("connect");
    let tx = pg.begin().await.expect("begin holds the only connection");
    let e = tokio::time::timeout(ANSWER_WITHIN, pg.health_check())
        .await
        .expect("an answer")
        .expect_err("no connection left");
    assert!(
        e.to_string()
            .contains("all 1 connections of the pool stayed in use"),
        "{e}"
    );
    assert!(e.is_transient());
    drop(tx);
    pg.close().await;
}
