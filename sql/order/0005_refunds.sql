-- order/0005_refunds: money going back to the buyer through the provider's
-- refund API (../shared/CONTRACT.md, "After paying"). The refund service
-- (src/refund_service.c) owns trade_refund; it lives in the order service's
-- database, beside trade_pay and the outbox it commits its events with.
--
-- One row per refund. refund_id (a snowflake) is also the refund's
-- out_request_no at the provider: fixed when the row is written, so however
-- often the refund consumer retries, the provider refunds it at most once.
-- dedupe_key makes the creation of each refund idempotent:
--   late:<order_id>:<trade_no>   a payment that arrived for a cancelled order
--   second:<order_id>:<trade_no> a second payment of an order paid already
--   buyer:<order_id>             a buyer's request (one per order)
-- refund_status moves requested -> approved | rejected, approved -> sent ->
-- succeeded | failed, failed -> approved (an operator's retry); refunds the
-- shop owes by itself (late, second) start approved.
CREATE TABLE IF NOT EXISTS trade_refund (
    refund_id     BIGINT        NOT NULL COMMENT 'snowflake; the out_request_no at the provider',
    dedupe_key    VARCHAR(100)  NOT NULL,
    order_id      BIGINT        NOT NULL,
    pay_id        BIGINT        NOT NULL DEFAULT 0 COMMENT 'trade_pay of the order (0: none)',
    user_id       BIGINT        NOT NULL,
    trade_no      VARCHAR(64)   NOT NULL COMMENT 'the provider''s trade refunded',
    refund_amount DECIMAL(10,2) NOT NULL,
    reason        VARCHAR(16)   NOT NULL COMMENT 'late, second or buyer',
    refund_status VARCHAR(16)   NOT NULL DEFAULT 'requested'
        COMMENT 'requested, approved, rejected, sent, succeeded, failed',
    note          VARCHAR(255)  NOT NULL DEFAULT '' COMMENT 'the buyer''s or operator''s words',
    last_error    VARCHAR(255)  NOT NULL DEFAULT '' COMMENT 'the provider''s last refusal',
    attempts      INT           NOT NULL DEFAULT 0 COMMENT 'refund calls made',
    create_time   DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    update_time   DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    refund_time   DATETIME(3)   NULL     DEFAULT NULL COMMENT 'when the provider refunded (UTC)',
    PRIMARY KEY (refund_id),
    UNIQUE KEY uk_refund_dedupe (dedupe_key),
    KEY idx_refund_order (order_id),
    KEY idx_refund_status (refund_status, update_time),
    KEY idx_refund_time (refund_time),
    CONSTRAINT chk_refund_amount CHECK (refund_amount > 0),
    CONSTRAINT chk_refund_reason CHECK (reason IN ('late', 'second', 'buyer')),
    CONSTRAINT chk_refund_status CHECK (refund_status IN
        ('requested', 'approved', 'rejected', 'sent', 'succeeded', 'failed'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
