-- positions (Position): generated from the entity by dal_backends::questdb::ddl.
CREATE TABLE IF NOT EXISTS "positions" (
    "id" UUID,
    "timestamp" TIMESTAMP,
    "trader_id" SYMBOL,
    "token" SYMBOL,
    "amount" DOUBLE,
    "cost_basis" DOUBLE,
    "current_price" DOUBLE,
    "unrealized_pnl" DOUBLE
) TIMESTAMP("timestamp") PARTITION BY HOUR TTL 30 DAYS WAL
DEDUP UPSERT KEYS("timestamp", "id");
