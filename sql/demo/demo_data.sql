-- Demo data: a small catalogue, three users and their coupons.
--
-- Loaded by `scripts/migrate --demo` after the migrations. Idempotent: REPLACE
-- puts every demo row back to the state below (stock, balances and coupons
-- are reset; orders are left alone). Ids are fixed so tests and pages can
-- name them.
--
-- Logins (user_password is a libsodium crypto_pwhash_str argon2id string,
-- OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE):
--   alice / 13800000001, password alice-pass-1, balance 500.00, coupons 10.00 and 20.00
--   bob   / 13800000002, password bob-pass-2,   balance  50.00, coupon 5.00
--   carol / 13800000003, password carol-pass-3, balance   0.00, no coupon

REPLACE INTO trade_goods (goods_id, goods_name, goods_number, goods_price, goods_desc, add_time) VALUES
(1001, 'Enamel Camp Mug', 250, 9.90,
 'A 350 ml white enamel mug with a navy rim. Survives campfires, dishwashers and Monday mornings.',
 '2024-01-01 08:00:00.000'),
(1002, 'The C Programming Language', 40, 49.50,
 'Kernighan & Ritchie, second edition. The classic: 272 pages, every exercise still worth doing.',
 '2024-01-01 08:00:00.000'),
(1003, 'Braided USB-C Cable, 2 m', 120, 99.99,
 'Nylon-braided USB-C to USB-C cable, 100 W power delivery and 10 Gbit/s data. Tested for 20,000 bends.',
 '2024-01-01 08:00:00.000'),
(1004, 'Oak Desk Lamp', 25, 100.00,
 'Solid oak base, linen shade, warm 2700 K LED bulb included. A soft light for late reading.',
 '2024-01-01 08:00:00.000'),
(1005, 'Mechanical Keyboard', 3, 129.00,
 'Tenkeyless, hot-swappable tactile switches, PBT keycaps and a detachable USB-C cable. Only a few left.',
 '2024-01-01 08:00:00.000'),
(1006, 'Noise-Cancelling Headphones', 12, 2999.00,
 'Over-ear wireless headphones with adaptive noise cancelling, 30 hours of battery and a folding case.',
 '2024-01-01 08:00:00.000'),
(1007, 'Dot-Grid Notebook', 500, 19.00,
 'A5, 192 pages of 100 g/m2 ivory paper, lay-flat binding, numbered pages and two ribbons.',
 '2024-01-01 08:00:00.000'),
(1008, 'Pour-Over Coffee Set', 8, 159.00,
 'Ceramic dripper, 600 ml glass server and 100 paper filters. Slow coffee, properly made.',
 '2024-01-01 08:00:00.000');

REPLACE INTO trade_user (user_id, user_name, user_password, user_mobile, user_score, user_reg_time, user_money) VALUES
(2001, 'alice',
 '$argon2id$v=19$m=65536,t=2,p=1$JqLGY2Wzv9dBp/50JlgkMQ$xorHmWV0HUrXov7hK60E2GSQO95njk8R/LmGnFjyf6w',
 '13800000001', 0, '2024-01-01 08:00:00.000', 500.00),
(2002, 'bob',
 '$argon2id$v=19$m=65536,t=2,p=1$m4V4p0d5lRg921jKhK6kfw$eI7YuHvm5paI5vLHvnZ6l0CcJmHbomTyGXq2X/b9wCE',
 '13800000002', 0, '2024-01-01 08:00:00.000', 50.00),
(2003, 'carol',
 '$argon2id$v=19$m=65536,t=2,p=1$o5Kbm0OJRPH8oJuLV7fFVA$3w8L5jnTpAas7VDrqjDcazD29hUjazEnOgH+fqOyMTE',
 '13800000003', 0, '2024-01-01 08:00:00.000', 0.00);

REPLACE INTO trade_coupon (coupon_id, coupon_price, user_id, order_id, is_used, used_time) VALUES
(3001, 10.00, 2001, NULL, 0, NULL),
(3002, 20.00, 2001, NULL, 0, NULL),
(3003,  5.00, 2002, NULL, 0, NULL);
