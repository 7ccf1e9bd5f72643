-- trades (Trade): generated from the entity by dal_backends::questdb::ddl.
CREATE TABLE IF NOT EXISTS "trades" (
    "id" UUID,
    "timestamp" TIMESTAMP,
    "trader_id" SYMBOL,
    "mode" SYMBOL,
    "action" SYMBOL,
    "base_token" SYMBOL,
    "quote_token" SYMBOL,
    "amount" DOUBLE,
    "price" DOUBLE,
    "slippage" DOUBLE,
    "fee" DOUBLE,
    "priority_fee" LONG,
    "transfer_fee" DOUBLE,
    "tx_signature" VARCHAR,
    "latency_ms" INT,
    "mev_protected" BOOLEAN
) TIMESTAMP("timestamp") PARTITION BY DAY TTL 30 DAYS WAL
DEDUP UPSERT KEYS("timestamp", "id");
