//! Redis streams and pub/sub against the real server (`REDIS_URL`): bounded length, consumer
//! groups with ack, recovery of a dead consumer's entries, poison entries, pub/sub round trip.

mod redis_common;

use std::collections::BTreeSet;
use std::time::Duration;

use dal::Error;
use dal_backends::redis::driver::AsyncCommands;
use dal_backends::redis::{RedisChannel, RedisStream};
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
        b.ack(&step).await.expect("XACK");
        reclaimed.extend(step);
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
    assert_eq!(pending.len(), 3);
    again.ack(&pending).await.expect("XACK");
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

    // Nobody listens on another namespace's channel of the same name.
    let elsewhere = redis.namespaced("st_pubsub_elsewhere").expect("namespace");
    let lonely: RedisChannel<Price> = RedisChannel::new(&elsewhere, "ticks");
    assert_eq!(lonely.publish(&sent).await.expect("publish"), 0);
}
