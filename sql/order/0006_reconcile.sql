-- order/0006_reconcile: the differences `shop-admin reconcile DAY` found
-- between the provider's trade bill of a day and our books (src/reconcile.c
-- owns this table; it lives in the order service's database beside
-- trade_pay and trade_refund, which it reads).
--
-- One row per difference: kind missing_here (in the bill, not ours),
-- missing_there (ours, not in the bill) or amount_differs; object trade
-- (trade_pay, matched by trade_no) or refund (trade_refund, matched by
-- out_request_no = refund_id). Reconciling a day again updates its rows
-- (uk_reconcile_diff) instead of adding new ones; resolved and note are the
-- operator's.
CREATE TABLE IF NOT EXISTS trade_reconcile_diff (
    id             BIGINT        NOT NULL AUTO_INCREMENT,
    day            DATE          NOT NULL COMMENT 'the bill''s day (UTC)',
    kind           VARCHAR(16)   NOT NULL COMMENT 'missing_here, missing_there, amount_differs',
    object         VARCHAR(8)    NOT NULL COMMENT 'trade or refund',
    trade_no       VARCHAR(64)   NOT NULL DEFAULT '',
    out_trade_no   VARCHAR(64)   NOT NULL DEFAULT '' COMMENT 'the order id',
    out_request_no VARCHAR(64)   NOT NULL DEFAULT '' COMMENT 'a refund''s refund_id',
    our_amount     DECIMAL(10,2) NULL     DEFAULT NULL,
    their_amount   DECIMAL(10,2) NULL     DEFAULT NULL,
    resolved       INT           NOT NULL DEFAULT 0 COMMENT '0 open, 1 resolved by an operator',
    note           VARCHAR(255)  NOT NULL DEFAULT '',
    created_at     DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uk_reconcile_diff (day, object, kind, trade_no, out_request_no),
    KEY idx_reconcile_open (resolved, day),
    CONSTRAINT chk_reconcile_kind CHECK (kind IN ('missing_here', 'missing_there', 'amount_differs')),
    CONSTRAINT chk_reconcile_object CHECK (object IN ('trade', 'refund')),
    CONSTRAINT chk_reconcile_resolved CHECK (resolved IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
