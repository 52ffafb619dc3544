-- order/0003_paying: what paying needs (src/pay_service.c, src/order_log.c).
-- The pay service owns trade_pay and trade_pay_mismatch, the log service
-- trade_order_log; all three live in the order service's database (the
-- outbox the pay service writes with them is there too). Was
-- migrations/0004_paying.sql.

-- trade_pay (0001): one row per order (uk_pay_order), created or reused when
-- the buyer starts paying; is_paid 1 -> 2 once, by a conditional update, when
-- the provider's verified notification matches pay_amount. The provider's
-- trade number and payment time are kept.
ALTER TABLE trade_pay
    ADD COLUMN IF NOT EXISTS user_id     BIGINT      NOT NULL DEFAULT 0 AFTER order_id,
    ADD COLUMN IF NOT EXISTS provider    VARCHAR(16) NOT NULL DEFAULT 'alipay' AFTER is_paid,
    ADD COLUMN IF NOT EXISTS trade_no    VARCHAR(64) NULL     DEFAULT NULL
        COMMENT 'the provider''s trade number, set when paid' AFTER provider,
    ADD COLUMN IF NOT EXISTS create_time DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
        COMMENT 'when paying started' AFTER trade_no,
    ADD COLUMN IF NOT EXISTS paid_time   DATETIME(3) NULL     DEFAULT NULL
        COMMENT 'the provider''s gmt_payment (UTC)' AFTER create_time,
    ADD COLUMN IF NOT EXISTS notify_time DATETIME(3) NULL     DEFAULT NULL
        COMMENT 'when the notification was applied' AFTER paid_time;

-- Notifications the pay service did not apply, for an operator: the amount
-- differs from trade_pay.pay_amount ("amount"), the order was paid already by
-- another trade ("duplicate"), or there is no payment row for it
-- ("unknown"). One row per (order, provider trade); nothing is marked paid.
-- An operator resolves a row (refund at the provider, or correct by hand) and
-- sets resolved = 1.
CREATE TABLE IF NOT EXISTS trade_pay_mismatch (
    order_id        BIGINT        NOT NULL COMMENT 'out_trade_no',
    trade_no        VARCHAR(64)   NOT NULL,
    reason          VARCHAR(16)   NOT NULL COMMENT 'amount, duplicate or unknown',
    notify_amount   DECIMAL(10,2) NOT NULL COMMENT 'total_amount the provider notified',
    expected_amount DECIMAL(10,2) NULL     DEFAULT NULL COMMENT 'trade_pay.pay_amount',
    notify_body     TEXT          NULL     COMMENT 'the pay.notify event',
    resolved        INT           NOT NULL DEFAULT 0 COMMENT '0 open, 1 resolved by an operator',
    created_at      DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (order_id, trade_no),
    KEY idx_pay_mismatch_open (resolved, created_at),
    CONSTRAINT chk_pay_mismatch_resolved CHECK (resolved IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The order's history as the log service saw it (the timeline of the order
-- page): one row per (order, event), written by `shop-consumer log` from the
-- order.* and pay.* events, each at most once.
CREATE TABLE IF NOT EXISTS trade_order_log (
    log_id     BIGINT       NOT NULL COMMENT 'snowflake',
    order_id   BIGINT       NOT NULL,
    event      VARCHAR(64)  NOT NULL COMMENT 'the routing key, e.g. order.paid',
    detail     VARCHAR(255) NOT NULL DEFAULT '' COMMENT 'one line for the buyer',
    created_at DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (log_id),
    UNIQUE KEY uk_order_log_event (order_id, event),
    KEY idx_order_log_time (order_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
