-- The trading example's time series (QuestDB tables in the seed), for running them on Postgres:
-- exactly the DDL dal derives from Trade, Position, MetricPoint and MevEvent (primary key on
-- the id, an index on the designated timestamp, one on each symbol column with the timestamp).

CREATE TABLE trades (
    id UUID NOT NULL,
    "timestamp" TIMESTAMPTZ NOT NULL,
    trader_id TEXT COLLATE "C" NOT NULL,
    mode TEXT COLLATE "C" NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    base_token TEXT COLLATE "C" NOT NULL,
    quote_token TEXT COLLATE "C" NOT NULL,
    amount DOUBLE PRECISION NOT NULL,
    price DOUBLE PRECISION NOT NULL,
    slippage DOUBLE PRECISION NOT NULL,
    fee DOUBLE PRECISION NOT NULL,
    priority_fee BIGINT NOT NULL,
    transfer_fee DOUBLE PRECISION,
    tx_signature TEXT COLLATE "C",
    latency_ms INTEGER NOT NULL,
    mev_protected BOOLEAN NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX trades_timestamp_idx ON trades ("timestamp");
CREATE INDEX trades_trader_id_timestamp_idx ON trades (trader_id, "timestamp");
CREATE INDEX trades_mode_timestamp_idx ON trades (mode, "timestamp");
CREATE INDEX trades_action_timestamp_idx ON trades (action, "timestamp");
CREATE INDEX trades_base_token_timestamp_idx ON trades (base_token, "timestamp");
CREATE INDEX trades_quote_token_timestamp_idx ON trades (quote_token, "timestamp");

CREATE TABLE positions (
    id UUID NOT NULL,
    "timestamp" TIMESTAMPTZ NOT NULL,
    trader_id TEXT COLLATE "C" NOT NULL,
    token TEXT COLLATE "C" NOT NULL,
    amount DOUBLE PRECISION NOT NULL,
    cost_basis DOUBLE PRECISION NOT NULL,
    current_price DOUBLE PRECISION NOT NULL,
    unrealized_pnl DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX positions_timestamp_idx ON positions ("timestamp");
CREATE INDEX positions_trader_id_timestamp_idx ON positions (trader_id, "timestamp");
CREATE INDEX positions_token_timestamp_idx ON positions (token, "timestamp");

CREATE TABLE metrics (
    id UUID NOT NULL,
    "timestamp" TIMESTAMPTZ NOT NULL,
    metric_name TEXT COLLATE "C" NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    labels JSONB NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX metrics_timestamp_idx ON metrics ("timestamp");
CREATE INDEX metrics_metric_name_timestamp_idx ON metrics (metric_name, "timestamp");

CREATE TABLE mev_events (
    id UUID NOT NULL,
    "timestamp" TIMESTAMPTZ NOT NULL,
    trader_id TEXT COLLATE "C" NOT NULL,
    sandwich_probability DOUBLE PRECISION NOT NULL,
    estimated_loss_bps INTEGER NOT NULL,
    avoided BOOLEAN NOT NULL,
    priority_fee BIGINT NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX mev_events_timestamp_idx ON mev_events ("timestamp");
CREATE INDEX mev_events_trader_id_timestamp_idx ON mev_events (trader_id, "timestamp");
