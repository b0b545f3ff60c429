/* One line per event on stderr: `2026-11-23T10:00:00.123Z squall-gateway info: message`.
 * Thread-safe (one write(2) per line). Messages in PostgreSQL's voice: lower case, no final
 * period, objects quoted. */
#ifndef SQ_LOG_H
#define SQ_LOG_H

typedef enum { SQ_LOG_DEBUG = 0, SQ_LOG_INFO, SQ_LOG_WARN, SQ_LOG_ERROR } sq_log_level;

/* Sets the program name printed on every line and the level from SQ_LOG_LEVEL. */
void sq_log_init(const char *program);
void sq_log_set_level(sq_log_level lvl);
void sq_log(sq_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sq_debug(...) sq_log(SQ_LOG_DEBUG, __VA_ARGS__)
#define sq_info(...) sq_log(SQ_LOG_INFO, __VA_ARGS__)
#define sq_warn(...) sq_log(SQ_LOG_WARN, __VA_ARGS__)
#define sq_error(...) sq_log(SQ_LOG_ERROR, __VA_ARGS__)

#endif
