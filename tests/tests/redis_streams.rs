//! Redis streams and pub/sub against the real server (`REDIS_URL`): bounded length, consumer
//! groups with ack, recovery of a dead consumer's entries (and the report of those the length cap
//! trimmed first), poison entries and their advice, pub/sub round trip.

mod redis_common;

use std::collections::BTreeSet;
use std::time::Duration;

use dal::Error;
use dal_backends::redis::driver::{self, AsyncCommands};
use dal_backends::redis::{Redis, RedisChannel, RedisStream};
use redis_common::*;

#[tokio::test]
async fn maxlen_keeps_the_stream_near_its_bound() {
    let Some(redis) = redis("st_len").await else {
        return;
    };
    let stream: RedisStream<Price> = RedisStream::new(&redis, "prices");
    let batch: Vec<Price> = (0..1_000)
        .map(|i| price(&format!("T{i}"), f64::from(i)))
        .collect();
    for _ in 0..15 {
        let ids = stream.publish_all(&batch).await.expect("publish_all");
        assert_eq!(ids.len(), 1_000);
    }
    let len = stream.len().await.expect("XLEN");
    // `MAXLEN ~` trims whole radix-tree nodes (100 entries by default): never below the bound,
    // never far above it.
    assert!((10_000..=10_200).contains(&len), "length {len}");
    assert!(stream.destroy().await.expect("DEL"));
}

#[tokio::test]
async fn group_read_and_ack() {
    let Some(redis) = redis("st_group").await else {
        return;
    };
    let stream: RedisStream<Price> = RedisStream::new(&redis, "events");
    let consumer = stream.consumer("g", "c1").await.expect("consumer");
    // Nothing yet: a short blocking read returns empty.
    assert!(
        consumer
            .read(10, Duration::from_millis(50))
            .await
            .expect("read")
            .is_empty()
    );

    let sent: Vec<Price> = (0..5)
        .map(|i| price(&format!("P{i}"), f64::from(i)))
        .collect();
    for p in &sent {
        stream.publish(p).await.expect("publish");
    }
    let got = consumer
        .read(10, Duration::from_millis(500))
        .await
        .expect("read");
    let entities: Vec<Price> = got
        .iter()
        .map(|e| e.entity.as_ref().expect("decodes").clone())
        .collect();
    assert_eq!(entities, sent);
    assert_eq!(consumer.pending_count().await.expect("XPENDING"), 5);
    assert_eq!(consumer.ack(&got).await.expect("XACK"), 5);
    assert_eq!(consumer.pending_count().await.expect("XPENDING"), 0);
    // Delivered once per group: nothing new to read.
    assert!(
        consumer
            .read(10, Duration::ZERO)
            .await
            .expect("read")
            .is_empty()
    );
    // Creating the group again is harmless.
    assert!(!stream.create_group("g").await.expect("XGROUP CREATE"));
    stream.destroy().await.expect("DEL");
}

#[tokio::test]
async fn a_dead_consumers_entries_are_reclaimed_by_another() {
    let Some(redis) = redis("st_claim").await else {
        return;
    };
    let stream: RedisStream<Price> = RedisStream::new(&redis, "orders");
    let sent: Vec<Price> = (0..50)
        .map(|i| price(&format!("O{i}"), f64::from(i)))
        .collect();
    stream.publish_all(&sent).await.expect("publish_all");

    // Worker A reads everything and "dies" without acknowledging.
    let a = stream.consumer("workers", "a").await.expect("consumer a");
    let read_by_a = a.read(100, Duration::from_millis(200)).await.expect("read");
    assert_eq!(read_by_a.len(), 50);
    let a_ids: BTreeSet<String> = read_by_a.iter().map(|e| e.id.clone()).collect();
    drop(a);

    // Worker B gets nothing new, but reclaims every stale entry.
    let b = stream.consumer("workers", "b").await.expect("consumer b");
    assert!(b.read(100, Duration::ZERO).await.expect("read").is_empty());
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut reclaimed = Vec::new();
    // Small steps, to exercise XAUTOCLAIM's cursor.
    loop {
        let step = b
            .claim_stale(Duration::from_millis(20), 7)
            .await
            .expect("XAUTOCLAIM");
        if step.is_empty() {
            break;
        }
        assert!(step.trimmed.is_empty(), "nothing was trimmed");
        b.ack(&step.entries).await.expect("XACK");
        reclaimed.extend(step.entries);
    }
    let b_ids: BTreeSet<String> = reclaimed.iter().map(|e| e.id.clone()).collect();
    assert_eq!(b_ids, a_ids, "every entry A read is recovered by B");
    let entities: Vec<Price> = reclaimed
        .into_iter()
        .map(|e| e.entity.expect("decodes"))
        .collect();
    assert_eq!(entities, sent);
    assert_eq!(b.pending_count().await.expect("XPENDING"), 0);
    stream.destroy().await.expect("DEL");
}

#[tokio::test]
async fn a_restarted_consumer_rereads_its_pending_entries() {
    let Some(redis) = redis("st_pending").await else {
        return;
    };
    let stream: RedisStream<Price> = RedisStream::new(&redis, "fills");
    stream.create_group("g").await.expect("XGROUP CREATE");
    for i in 0..3 {
        stream
            .publish(&price(&format!("F{i}"), 1.0))
            .await
            .expect("publish");
    }
    let first = stream.consumer("g", "w").await.expect("consumer");
    assert_eq!(
        first
            .read(10, Duration::from_millis(200))
            .await
            .expect("read")
            .len(),
        3
    );
    drop(first);
    let again = stream.consumer("g", "w").await.expect("same name again");
    let pending = again.read_pending(10).await.expect("read pending");
    assert_eq!(pending.entries.len(), 3);
    assert!(pending.trimmed.is_empty());
    again.ack(&pending.entries).await.expect("XACK");
    assert!(
        again
            .read_pending(10)
            .await
            .expect("read pending")
            .is_empty()
    );
    stream.destroy().await.expect("DEL");
}

#[tokio::test]
async fn poison_entries_are_delivered_as_codec_errors() {
    let Some(redis) = redis("st_poison").await else {
        return;
    };
    let stream: RedisStream<Price> = RedisStream::new(&redis, "mixed");
    let consumer = stream.consumer("g", "c").await.expect("consumer");
    let mut conn = redis.connection();
    let _: String = conn
        .xadd(stream.key(), "*", &[("v", b"garbage".as_slice())])
        .await
        .expect("XADD");
    let _: String = conn
        .xadd(stream.key(), "*", &[("other", "x")])
        .await
        .expect("XADD");
    // Another entity's value in the same stream.
    let other: RedisStream<Impostor> = RedisStream::new(&redis, "mixed");
    other
        .publish(&Impostor {
            token: "x".into(),
            text: "y".into(),
        })
        .await
        .expect("publish");
    stream.publish(&price("OK", 1.0)).await.expect("publish");

    let got = consumer
        .read(10, Duration::from_millis(200))
        .await
        .expect("read");
    assert_eq!(got.len(), 4);
    for e in &got[..3] {
        assert!(
            matches!(
                e.entity,
                Err(Error::Codec {
                    entity: "Price",
                    ..
                })
            ),
            "{:?}",
            e.entity
        );
    }
    assert_eq!(got[3].entity.as_ref().expect("good entry").token, "OK");
    // The advice is the stream's (acknowledge), not the cache's (rewrite or invalidate).
    for e in &got[..3] {
        let text = e.entity.as_ref().expect_err("poison").to_string();
        assert!(
            text.contains("acknowledge it") && !text.contains("invalidate"),
            "{text}"
        );
    }
    assert_eq!(consumer.ack(&got).await.expect("XACK"), 4);
    stream.destroy().await.expect("DEL");
}

#[tokio::test]
async fn pubsub_round_trip() {
    let Some(redis) = redis("st_pubsub").await else {
        return;
    };
    let channel: RedisChannel<Price> = RedisChannel::new(&redis, "ticks");
    let mut sub = channel.subscribe().await.expect("subscribe");
    let sent = price("SOL", 150.5);
    let receivers = channel.publish(&sent).await.expect("publish");
    assert_eq!(receivers, 1);
    let got = tokio::time::timeout(Duration::from_secs(2), sub.next())
        .await
        .expect("message within 2 s")
        .expect("subscription open")
        .expect("decodes");
    assert_eq!(got, sent);

    // A message of another entity is a typed error, not a misread.
    let wrong: RedisChannel<Impostor> = RedisChannel::new(&redis, "ticks");
    wrong
        .publish(&Impostor {
            token: "x".into(),
            text: "y".into(),
        })
        .await
        .expect("publish");
    let err = tokio::time::timeout(Duration::from_secs(2), sub.next())
        .await
        .expect("message within 2 s")
        .expect("subscription open");
    assert!(
        matches!(
            err,
            Err(Error::Codec {
                entity: "Price",
                ..
            })
        ),
        "{err:?}"
    );
    let text = err.expect_err("codec error").to_string();
    assert!(
        text.contains("another entity")
            && text.contains("keep receiving")
            && !text.contains("invalidate"),
        "{text}"
    );

    // Nobody listens on another namespace's channel of the same name.
    let elsewhere = redis.namespaced("st_pubsub_elsewhere").expect("namespace");
    let lonely: RedisChannel<Price> = RedisChannel::new(&elsewhere, "ticks");
    assert_eq!(lonely.publish(&sent).await.expect("publish"), 0);
}

/// Publishes `n` entries to push older ones past the `MAXLEN ~` cap, and checks that the entries
/// `gone` were trimmed.
async fn trim_past(redis: &Redis, stream: &RedisStream<Price>, n: usize, gone: &BTreeSet<String>) {
    let filler: Vec<Price> = (0..n).map(|i| price(&format!("X{i}"), 0.0)).collect();
    stream.publish_all(&filler).await.expect("publish_all");
    let (first, last) = (gone.first().expect("ids"), gone.last().expect("ids"));
    let left: Vec<driver::Value> = driver::cmd("XRANGE")
        .arg(stream.key())
        .arg(first)
        .arg(last)
        .query_async(&mut redis.connection())
        .await
        .expect("XRANGE");
    assert!(left.is_empty(), "the cap did not trim them: {left:?}");
}

#[tokio::test]
async fn entries_trimmed_while_pending_are_reported_by_claim_stale() {
    let Some(redis) = redis("st_trim").await else {
        return;
    };
    let stream: RedisStream<Price> = RedisStream::new(&redis, "fills").with_max_len(10);
    let early: Vec<Price> = (0..5).map(|i| price(&format!("E{i}"), 1.0)).collect();
    stream.publish_all(&early).await.expect("publish_all");

    // Worker A reads the first five and dies; the cap trims them before anyone reclaims them.
    let a = stream.consumer("workers", "a").await.expect("consumer a");
    let read_by_a = a.read(5, Duration::from_millis(200)).await.expect("read");
    assert_eq!(read_by_a.len(), 5);
    let a_ids: BTreeSet<String> = read_by_a.iter().map(|e| e.id.clone()).collect();
    drop(a);
    trim_past(&redis, &stream, 1_000, &a_ids).await;

    // Worker C reads three entries that survive the cap, and dies too.
    let c = stream.consumer("workers", "c").await.expect("consumer c");
    let read_by_c = c.read(3, Duration::from_millis(200)).await.expect("read");
    assert_eq!(read_by_c.len(), 3);
    let c_ids: BTreeSet<String> = read_by_c.iter().map(|e| e.id.clone()).collect();
    drop(c);

    let b = stream.consumer("workers", "b").await.expect("consumer b");
    assert_eq!(b.pending_count().await.expect("XPENDING"), 8);
    tokio::time::sleep(Duration::from_millis(30)).await;
    // Steps of two, so trimmed ids come through XAUTOCLAIM's cursor too.
    let (mut claimed, mut trimmed) = (Vec::new(), Vec::new());
    loop {
        let step = b
            .claim_stale(Duration::from_millis(20), 2)
            .await
            .expect("XAUTOCLAIM");
        if step.is_empty() {
            break;
        }
        assert!(step.entries.len() <= 2);
        b.ack(&step.entries).await.expect("XACK");
        claimed.extend(step.entries);
        trimmed.extend(step.trimmed);
    }
    // Exactly A's entries are reported trimmed, each once, in id order; C's are delivered.
    let trimmed_ids: BTreeSet<String> = trimmed.iter().cloned().collect();
    assert_eq!(trimmed.len(), 5, "{trimmed:?}");
    assert_eq!(trimmed_ids, a_ids);
    let claimed_ids: BTreeSet<String> = claimed.iter().map(|e| e.id.clone()).collect();
    assert_eq!(claimed_ids, c_ids);
    for e in &claimed {
        assert_eq!(e.entity.as_ref().expect("decodes").usd, 0.0);
    }
    assert_eq!(b.pending_count().await.expect("XPENDING"), 0);
    stream.destroy().await.expect("DEL");
}

#[tokio::test]
async fn the_pending_count_drops_by_the_trimmed_entries_reported() {
    let Some(redis) = redis("st_trim_count").await else {
        return;
    };
    let stream: RedisStream<Price> = RedisStream::new(&redis, "orders").with_max_len(10);
    let early: Vec<Price> = (0..4).map(|i| price(&format!("E{i}"), 1.0)).collect();
    stream.publish_all(&early).await.expect("publish_all");
    let a = stream.consumer("g", "a").await.expect("consumer a");
    let a_ids: BTreeSet<String> = a
        .read(4, Duration::from_millis(200))
        .await
        .expect("read")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(a_ids.len(), 4);
    drop(a);
    trim_past(&redis, &stream, 1_000, &a_ids).await;
    let c = stream.consumer("g", "c").await.expect("consumer c");
    assert_eq!(
        c.read(6, Duration::from_millis(200))
            .await
            .expect("read")
            .len(),
        6
    );
    drop(c);

    let b = stream.consumer("g", "b").await.expect("consumer b");
    let before = b.pending_count().await.expect("XPENDING");
    assert_eq!(before, 10);
    tokio::time::sleep(Duration::from_millis(30)).await;
    let got = b
        .claim_stale(Duration::from_millis(20), 100)
        .await
        .expect("XAUTOCLAIM");
    assert_eq!(got.trimmed.iter().cloned().collect::<BTreeSet<_>>(), a_ids);
    assert_eq!(got.entries.len(), 6);
    // The claimed entries stay pending (now for B); the trimmed ones are gone from the group.
    let after = b.pending_count().await.expect("XPENDING");
    assert_eq!(after, before - got.trimmed.len() as u64);
    assert_eq!(after, got.entries.len() as u64);
    // Reported once: a second claim finds nothing trimmed.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let again = b
        .claim_stale(Duration::from_millis(20), 100)
        .await
        .expect("XAUTOCLAIM");
    assert!(again.trimmed.is_empty(), "{:?}", again.trimmed);
    assert_eq!(
        again.entries.len(),
        6,
        "B's own stale entries, claimed again"
    );
    stream.destroy().await.expect("DEL");
}

#[tokio::test]
async fn a_restarted_consumer_is_told_which_pending_entries_were_trimmed() {
    let Some(redis) = redis("st_trim_pending").await else {
        return;
    };
    let stream: RedisStream<Price> = RedisStream::new(&redis, "fills").with_max_len(10);
    let early: Vec<Price> = (0..5).map(|i| price(&format!("E{i}"), 1.0)).collect();
    stream.publish_all(&early).await.expect("publish_all");
    let first = stream.consumer("g", "w").await.expect("consumer");
    let ids: BTreeSet<String> = first
        .read(5, Duration::from_millis(200))
        .await
        .expect("read")
        .into_iter()
        .map(|e| e.id)
        .collect();
    drop(first);
    trim_past(&redis, &stream, 1_000, &ids).await;

    let again = stream.consumer("g", "w").await.expect("same name again");
    assert_eq!(again.pending_count().await.expect("XPENDING"), 5);
    let pending = again.read_pending(10).await.expect("read pending");
    assert!(pending.entries.is_empty());
    assert_eq!(
        pending.trimmed.iter().cloned().collect::<BTreeSet<_>>(),
        ids
    );
    assert_eq!(again.pending_count().await.expect("XPENDING"), 0);
    assert!(
        again
            .read_pending(10)
            .await
            .expect("read pending")
            .is_empty()
    );
    stream.destroy().await.expect("DEL");
}
