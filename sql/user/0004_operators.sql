-- user/0004_operators: operator accounts and the operators' audit log
-- (src/user_service.c). An operator logs in like a buyer; /admin and
-- /api/admin/... answer 404 to every session whose user is not one.

ALTER TABLE trade_user
    ADD COLUMN IF NOT EXISTS user_is_operator TINYINT NOT NULL DEFAULT 0
        COMMENT '1: may use the operators'' console' AFTER user_money;

-- What operators did that is not about one order (an order's actions go on
-- its timeline, trade_order_log): goods created and edited, stock adjusted,
-- coupons issued. Newest first by admin_log_id (a snowflake).
CREATE TABLE IF NOT EXISTS trade_admin_log (
    admin_log_id  BIGINT       NOT NULL,
    operator_id   BIGINT       NOT NULL,
    operator_name VARCHAR(64)  NOT NULL,
    action        VARCHAR(32)  NOT NULL COMMENT 'goods.create, goods.edit, goods.stock, coupon.issue',
    target_id     BIGINT       NOT NULL COMMENT 'the goods or coupon id',
    detail        VARCHAR(500) NOT NULL,
    created_at    DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (admin_log_id),
    KEY idx_admin_log_target (target_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
