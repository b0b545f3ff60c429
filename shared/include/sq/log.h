/* One line per event on stderr, carrying the instance id:
 *   text (the default):        `2026-11-23T10:00:00.123Z squall-gateway[host-123] info: message`
 *   SQ_LOG_FORMAT=json:        {"ts":"2026-11-23T10:00:00.123Z","level":"info",
 *                               "service":"gateway","instance":"host-123","msg":"message"}
 * (fields of sq_log_fields() follow: ` key=value` in text, members in JSON). Thread-safe
 * (one write(2) per line). Messages in PostgreSQL's voice: lower case, no final period,
 * objects quoted. */
#ifndef SQ_LOG_H
#define SQ_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { SQ_LOG_DEBUG = 0, SQ_LOG_INFO, SQ_LOG_WARN, SQ_LOG_ERROR } sq_log_level;

/* Sets the program name printed on every line and the level from SQ_LOG_LEVEL. */
void sq_log_init(const char *program);
void sq_log_set_level(sq_log_level lvl);
void sq_log(sq_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The instance id every line carries (sq_log_init sets sq_instance_id(); the health
 * subjects' instance replaces it when they are served). Copied. */
void sq_log_set_instance(const char *instance);
/* true when SQ_LOG_FORMAT=json. */
bool sq_log_json(void);

/* A line with fields: string pairs (a JSON member each with SQ_LOG_FORMAT=json). */
typedef struct sq_log_field {
    const char *key, *value;
} sq_log_field;
void sq_log_fields(sq_log_level lvl, const sq_log_field *fields, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define sq_debug(...) sq_log(SQ_LOG_DEBUG, __VA_ARGS__)
#define sq_info(...) sq_log(SQ_LOG_INFO, __VA_ARGS__)
#define sq_warn(...) sq_log(SQ_LOG_WARN, __VA_ARGS__)
#define sq_error(...) sq_log(SQ_LOG_ERROR, __VA_ARGS__)

/* This process's instance id: SQ_INSTANCE_ID when set (letters, digits, '-', '_'), else
 * <host name>-<pid>. */
const char *sq_instance_id(void);
/* in with every character but letters, digits, '-' and '_' made '-', into out. */
void sq_instance_token(const char *in, char *out, size_t outlen);

#endif
