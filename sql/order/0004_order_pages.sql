-- order/0004_order_pages: "My orders" paged by cursor (src/order_service.c).
--
-- A buyer's orders newest first are read as keyset pages,
-- WHERE user_id = ? AND order_id < ? ORDER BY order_id DESC LIMIT ?: order
-- ids are snowflakes, which grow with time, so this index gives the newest
-- first and any page costs what the first does. Repeatable: IF NOT EXISTS.
CREATE INDEX IF NOT EXISTS idx_order_user_id ON trade_order (user_id, order_id);
