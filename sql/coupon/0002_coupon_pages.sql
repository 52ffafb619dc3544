-- coupon/0002_coupon_pages: a user's coupons paged by cursor
-- (src/coupon_service.c).
--
-- Unused first, then by id, read as keyset pages on
-- (user_id, is_used, coupon_id): any page costs what the first does.
-- Repeatable: IF NOT EXISTS.
CREATE INDEX IF NOT EXISTS idx_coupon_user_used ON trade_coupon (user_id, is_used, coupon_id);
