-- The seed's Postgres schema (seeds/001: tokens, trader_config, order_rules, node_health and
-- the updated_at trigger), adapted to the trading example's entities so that it matches their
-- derived DDL (tests/tests/postgres_drift.rs checks it):
--   * TIMESTAMP -> TIMESTAMPTZ: the entities hold DateTime<Utc>;
--   * NOT NULL wherever the entity field is not an Option (defaults kept for hand-written SQL);
--   * text columns COLLATE "C": keys order bytewise, as dal's keyset pagination expects;
--   * the symbol index carries dal's derived name.
-- DECIMAL(20, 8) and DECIMAL(5, 4) keep the seed's precision (NUMERIC to dal).

CREATE TABLE tokens (
    address VARCHAR(50) COLLATE "C" PRIMARY KEY,
    symbol VARCHAR(20) COLLATE "C" NOT NULL,
    name VARCHAR(255) COLLATE "C",
    decimals INTEGER NOT NULL,
    has_transfer_fee BOOLEAN NOT NULL DEFAULT false,
    transfer_fee_bps INTEGER,
    extensions JSONB,  -- Token-2022 extension data
    last_updated TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX tokens_symbol_idx ON tokens (symbol);

CREATE TABLE trader_config (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) COLLATE "C" NOT NULL,
    mode VARCHAR(20) COLLATE "C" NOT NULL CHECK (mode IN ('paper', 'live')),
    max_position_size DECIMAL(20, 8) NOT NULL,
    max_daily_loss DECIMAL(20, 8) NOT NULL,
    max_slippage_bps INTEGER NOT NULL,
    mev_protection_enabled BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE order_rules (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    trader_id UUID NOT NULL REFERENCES trader_config(id),
    position_token VARCHAR(50) COLLATE "C" NOT NULL,
    rule_type VARCHAR(20) COLLATE "C" NOT NULL CHECK (rule_type IN ('stop_loss', 'take_profit')),
    trigger_price DECIMAL(20, 8) NOT NULL,
    amount DECIMAL(20, 8) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    triggered_at TIMESTAMPTZ
);

CREATE TABLE node_health (
    "timestamp" TIMESTAMPTZ PRIMARY KEY,
    latency_ms INTEGER NOT NULL,
    error_rate DECIMAL(5, 4),
    circuit_breaker_status VARCHAR(20) COLLATE "C" NOT NULL,
    last_failure TIMESTAMPTZ
);

-- Keeps updated_at current on every UPDATE (an upsert that hits an existing key included).
CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$$ language 'plpgsql';

CREATE TRIGGER update_trader_config_updated_at
BEFORE UPDATE ON trader_config
FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
