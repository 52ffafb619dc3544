-- Demo data of the coupon service: the demo users' coupons (users in
-- sql/demo/user.sql).
--
-- Loaded by `scripts/migrate --demo` after the migrations, into the coupon
-- service's database. Idempotent: REPLACE puts every demo row back to the
-- state below (unused again; orders are left alone). Ids are fixed so tests
-- and pages can name them.

REPLACE INTO trade_coupon (coupon_id, coupon_price, user_id, order_id, is_used, used_time) VALUES
(3001, 10.00, 2001, NULL, 0, NULL),
(3002, 20.00, 2001, NULL, 0, NULL),
(3003,  5.00, 2002, NULL, 0, NULL);
