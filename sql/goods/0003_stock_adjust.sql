-- goods/0003_stock_adjust: stock an operator adds or takes away in the
-- console, with the reason and who (src/goods_service.c,
-- goods_adjust_stock). The saga's moves stay in trade_goods_number_log (one
-- per order and direction); these are not about an order, so they are kept
-- beside it, one row per adjustment, in the same transaction as the change.
CREATE TABLE IF NOT EXISTS trade_goods_stock_adjust (
    adjust_id     BIGINT       NOT NULL,
    goods_id      BIGINT       NOT NULL,
    delta         INT          NOT NULL COMMENT 'added (> 0) or taken away (< 0)',
    stock_after   INT          NOT NULL,
    reason        VARCHAR(200) NOT NULL,
    operator_name VARCHAR(64)  NOT NULL,
    created_at    DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (adjust_id),
    KEY idx_stock_adjust_goods (goods_id, adjust_id),
    CONSTRAINT chk_stock_adjust_delta CHECK (delta <> 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
