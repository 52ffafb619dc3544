-- goods/0002_catalogue_search: search in the catalogue (?q=, src/goods_service.c).
--
-- A FULLTEXT index over name and description: a search asks for every word
-- of the buyer's (each also as the start of a longer one) in BOOLEAN MODE and
-- reads the matching rows from the index's inverted lists, so its cost
-- follows the number of matches, not the size of the catalogue (a LIKE
-- '%word%' reads every row). Pages of a search are keyset pages on
-- goods_id like the plain catalogue.
--
-- Without InnoDB's stopword list: with it, a word like "the" or "a" is not
-- indexed and a search for "The C Programming Language" finds nothing. The
-- setting is taken when a table gets its first FULLTEXT index, so it is set
-- for this session just before. Repeatable: IF NOT EXISTS.
SET SESSION innodb_ft_enable_stopword = OFF;
ALTER TABLE trade_goods ADD FULLTEXT INDEX IF NOT EXISTS ft_goods_search (goods_name, goods_desc);
