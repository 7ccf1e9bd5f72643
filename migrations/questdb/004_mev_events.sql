-- mev_events (MevEvent): generated from the entity by dal_backends::questdb::ddl.
CREATE TABLE IF NOT EXISTS "mev_events" (
    "id" UUID,
    "timestamp" TIMESTAMP,
    "trader_id" SYMBOL,
    "sandwich_probability" DOUBLE,
    "estimated_loss_bps" INT,
    "avoided" BOOLEAN,
    "priority_fee" LONG
) TIMESTAMP("timestamp") PARTITION BY DAY TTL 30 DAYS WAL
DEDUP UPSERT KEYS("timestamp", "id");
