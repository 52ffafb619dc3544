-- Demo data of the goods service: a small catalogue.
--
-- Loaded by `scripts/migrate --demo` after the migrations, into the goods
-- service's database. Idempotent: REPLACE puts every demo row back to the
-- state below (stock is reset; orders are left alone). Ids are fixed so tests
-- and pages can name them.

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
