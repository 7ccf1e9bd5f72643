-- A time series' identity is (ids, timestamp) on every backend: rows with the same id and the
-- same timestamp replace each other, distinct timestamps are distinct rows. The tables of
-- 20251101000002 were keyed by the id alone, so dal's append (an upsert on the primary key)
-- overwrote a row when the same id came again at a new timestamp. Key them as dal derives it
-- (dal_backends::postgres::ddl::key_fields): the ids, then the designated timestamp.

ALTER TABLE trades DROP CONSTRAINT trades_pkey, ADD PRIMARY KEY (id, "timestamp");
ALTER TABLE positions DROP CONSTRAINT positions_pkey, ADD PRIMARY KEY (id, "timestamp");
ALTER TABLE metrics DROP CONSTRAINT metrics_pkey, ADD PRIMARY KEY (id, "timestamp");
ALTER TABLE mev_events DROP CONSTRAINT mev_events_pkey, ADD PRIMARY KEY (id, "timestamp");
