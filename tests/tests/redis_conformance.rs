//! The conformance suite against real Redis (`REDIS_URL`): records and cache, each case under a
//! key prefix of its own so cases run in parallel; TTL cases use real expiry.

use dal_backends::redis::driver::AsyncCommands;
use dal_backends::redis::{Redis, RedisOptions};

/// Deletes keys that earlier runs left behind: conformance namespaces embed the pid of the test
/// process (`dal_<case>_<pid hex>_..`), so a key whose process is gone is garbage. Runs once per
/// test binary; only looks at processes on this machine (CI runs Redis locally).
async fn collect_garbage(redis: &Redis) {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let mut conn = redis.connection();
        let mut stale: Vec<String> = Vec::new();
        if let Ok(mut keys) = conn.scan_match::<_, String>("dal_*").await {
            while let Some(Ok(key)) = keys.next_item().await {
                let pid = key
                    .split('_')
                    .nth(2)
                    .and_then(|p| u32::from_str_radix(p, 16).ok());
                if pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
                    stale.push(key);
                }
            }
        }
        let mut conn = redis.connection();
        for chunk in stale.chunks(1_000) {
            let _: Result<u64, _> = conn.del(chunk).await;
        }
    })
    .await;
}

async fn setup(namespace: String) -> Option<Redis> {
    let url = dal_tests::store_url("REDIS_URL")?;
    let redis = Redis::connect_with(&url, RedisOptions::default().with_namespace(namespace))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to REDIS_URL: {e}"));
    collect_garbage(&redis).await;
    Some(redis)
}

dal::conformance_suite! {
    backend: redis,
    setup: setup,
    stores: [records, cache, differential_records, differential_cache],
}
