/* Small things every service needs: clocks, ids, names, signals. */
#ifndef SQ_UTIL_H
#define SQ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sq/status.h"

/* Wall clock in milliseconds / nanoseconds since the epoch. */
int64_t sq_now_ms(void);
int64_t sq_now_ns(void);
/* Monotonic clock in microseconds. */
int64_t sq_mono_us(void);

/* Initialises libsodium; call once at start (idempotent). Returns 0 on success. */
int sq_crypto_init(void);
/* A new activation id: 32 lower-case hex characters, as OpenWhisk's. out holds 33 bytes. */
void sq_id_new(char out[33]);
/* A random version-4 UUID, 36 characters. out holds 37 bytes. */
void sq_uuid_new(char out[37]);
/* True when id is exactly 32 hex characters. */
bool sq_id_valid(const char *id);

/* True when name matches OpenWhisk's entity name rule \A([\w]|[\w][\w@ .-]*[\w@.-]+)\z
 * (at most 256 characters; \w is ASCII letters, digits and underscore). */
bool sq_name_valid(const char *name);

/* Copies s into out (outlen bytes, always terminated, cut short when it does not fit) with
 * the secrets a connection string or URL can carry replaced by "********": the value of
 * every keyword ending in "password" (libpq's `password=x`, `password = 'a b'`, a URI's
 * `?password=x&...`) and the password in a URL's user information (`nats://u:secret@h`).
 * For log lines: configuration values, PostgreSQL and NATS messages. */
void sq_mask_secrets(const char *s, char *out, size_t outlen);

/* Blocks the calling thread until SIGTERM or SIGINT arrives; returns the signal. Call
 * sq_signals_block() first thing in main, before any thread starts, so that every thread
 * inherits the blocked mask and the signal is delivered here. */
void sq_signals_block(void);
int sq_signals_wait(void);

/* A service's first and last words: sq_service_begin blocks the stop signals, names the
 * log after the program and initialises libsodium (0, or -1 logged); sq_service_wait waits
 * for SIGTERM or SIGINT, logs "received signal N, <doing>" and returns the signal. */
int sq_service_begin(const char *program);
int sq_service_wait(const char *doing);

/* FNV-1a, 64 bits: the one string hash of the tree (hash tables, home invokers, cache
 * buckets). Incremental: start from SQ_HASH_INIT and feed pieces in order;
 * sq_hash_str(sq_hash_byte(sq_hash_str(SQ_HASH_INIT, ns), '/'), name) hashes "ns/name".
 * Standard FNV-1a values, the same in every process (the home invoker of an action
 * depends on them: every scheduler copy must agree). */
#define SQ_HASH_INIT 14695981039346656037ULL /* the offset basis */
uint64_t sq_hash_bytes(uint64_t h, const void *p, size_t n);
uint64_t sq_hash_str(uint64_t h, const char *s);
static inline uint64_t sq_hash_byte(uint64_t h, unsigned char c)
{
    return (h ^ c) * 1099511628211ULL;
}

/* Formats a message into err (errlen bytes; nothing when err is NULL or errlen 0) and
 * returns st: `return sq_errf(SQ_ERR_BAD_REQUEST, err, errlen, "bad %s", what);` */
sq_status sq_errf(sq_status st, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
