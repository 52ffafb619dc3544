#include "consumer_log.h"

#include <string.h>

/* What a row keeps of a message body. */
#define CONSUMER_LOG_BODY_MAX 4096

static const char SQL_INSERT[] =
    "INSERT INTO trade_mq_consumer_log (group_name, msg_tag, msg_key, msg_id, msg_body, "
    "consumer_status, consumer_times, consumer_timestamp) "
    "VALUES (?, ?, ?, ?, ?, 1, 1, UTC_TIMESTAMP(3))";

static const char SQL_EXISTS[] = "SELECT 1 FROM trade_mq_consumer_log "
                                 "WHERE group_name = ? AND msg_tag = ? AND msg_key = ? "
                                 "LOCK IN SHARE MODE";

enum db_status consumer_log_insert(db_conn *db, const char *group, const char *tag,
                                   const char *key, const char *msg_id, const char *body,
                                   size_t body_len)
{
    if (body_len > CONSUMER_LOG_BODY_MAX)
        body_len = CONSUMER_LOG_BODY_MAX;
    struct db_val p[] = {DB_TEXT(group), DB_TEXT(tag), DB_TEXT(key),
                         DB_TEXT(msg_id ? msg_id : ""), DB_TEXTN(body ? body : "", body_len)};
    return db_exec(db, SQL_INSERT, p, sizeof p / sizeof p[0], NULL);
}

int consumer_log_exists(db_conn *db, const char *group, const char *tag, const char *key)
{
    struct db_val p[] = {DB_TEXT(group), DB_TEXT(tag), DB_TEXT(key)};
    db_result *r = NULL;
    if (db_query(db, SQL_EXISTS, p, 3, 1, &r) != DB_OK)
        return -1;
    int found = db_result_rows(r) > 0;
    db_result_free(r);
    return found;
}
