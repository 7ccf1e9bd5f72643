-- metrics (MetricPoint): generated from the entity by dal_backends::questdb::ddl.
CREATE TABLE IF NOT EXISTS "metrics" (
    "id" UUID,
    "timestamp" TIMESTAMP,
    "metric_name" SYMBOL,
    "value" DOUBLE,
    "labels" VARCHAR
) TIMESTAMP("timestamp") PARTITION BY DAY TTL 30 DAYS WAL
DEDUP UPSERT KEYS("timestamp", "id");
