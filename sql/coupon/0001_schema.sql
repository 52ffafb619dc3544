-- coupon/0001_schema: the coupon service's table (src/coupon_service.c).
-- Was part of migrations/0001_schema.sql.
--
-- The rules every table follows are in sql/README.md (money DECIMAL(10,2),
-- snowflake BIGINT ids, DATETIME(3) in UTC, InnoDB utf8mb4, unique keys as
-- the idempotency keys). Applied once by scripts/migrate; CREATE TABLE IF NOT
-- EXISTS only so that a run interrupted half-way can be repeated.

-- Coupons: one row per coupon, owned by one user, used by at most one order.
CREATE TABLE IF NOT EXISTS trade_coupon (
    coupon_id    BIGINT        NOT NULL,
    coupon_price DECIMAL(10,2) NOT NULL DEFAULT 0.00,
    user_id      BIGINT        NOT NULL,
    order_id     BIGINT        NULL     DEFAULT NULL COMMENT 'the order that used it',
    is_used      INT           NOT NULL DEFAULT 0    COMMENT '0 unused, 1 used',
    used_time    DATETIME(3)   NULL     DEFAULT NULL,
    PRIMARY KEY (coupon_id),
    KEY idx_coupon_user (user_id),
    CONSTRAINT chk_coupon_price CHECK (coupon_price >= 0),
    CONSTRAINT chk_coupon_is_used CHECK (is_used IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
