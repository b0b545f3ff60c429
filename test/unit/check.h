/* The smallest test harness that does the job: CHECK-style macros that count passes and
 * failures, print every failure with its file, line and the values involved, and a
 * check_done() that prints `N passed, M failed` and gives the exit status. Header-only;
 * each unit test is one program that includes it once. */
#ifndef SQ_TEST_CHECK_H
#define SQ_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The counters and the current section: one set per program. A program of several files
 * defines CHECK_SHARED_COUNTERS before it includes this header (in each file) and
 * CHECK_DEFINE_COUNTERS in one of them. */
#ifdef CHECK_SHARED_COUNTERS
extern int check_passed_, check_failed_;
extern const char *check_section_;
#define CHECK_DEFINE_COUNTERS                                                                      \
    int check_passed_, check_failed_;                                                              \
    const char *check_section_ = ""
#else
static int check_passed_, check_failed_;
static const char *check_section_ = "";
#endif

/* Names the group of checks that follow; failures quote it. */
#define SECTION(name) (check_section_ = (name))

#define CHECK_REPORT_(ok, ...)                                                                     \
    do {                                                                                           \
        if (ok) {                                                                                  \
            check_passed_++;                                                                       \
        } else {                                                                                   \
            check_failed_++;                                                                       \
            fprintf(stderr, "FAIL %s:%d [%s]: ", __FILE__, __LINE__, check_section_);              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* CHECK(cond, "what was expected %s", args...): the message is printed on failure. */
#define CHECK(cond, ...) CHECK_REPORT_((cond) ? 1 : 0, __VA_ARGS__)

#define CHECK_INT(got, want, what)                                                                 \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        CHECK_REPORT_(g_ == w_, "%s: got %lld, want %lld", (what), g_, w_);                        \
    } while (0)

#define CHECK_STR(got, want, what)                                                                 \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        CHECK_REPORT_((g_ == NULL && w_ == NULL) || (g_ && w_ && strcmp(g_, w_) == 0),             \
                      "%s: got %s%s%s, want %s%s%s", (what), g_ ? "\"" : "", g_ ? g_ : "NULL",     \
                      g_ ? "\"" : "", w_ ? "\"" : "", w_ ? w_ : "NULL", w_ ? "\"" : "");           \
    } while (0)

/* Prints the totals in the form CI reads and returns the process exit status. */
static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_passed_, check_failed_);
    fflush(stdout);
    return check_failed_ == 0 && check_passed_ > 0 ? 0 : 1;
}

/* Deterministic pseudo-random numbers (xorshift64*), so a failing buffer can be replayed. */
static inline uint64_t check_rand_(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* A heap copy of exactly len bytes (malloc(0) for len 0), so a decoder that reads past the
 * end trips ASan. */
static inline char *check_dup_exact_(const void *p, size_t len)
{
    char *c = malloc(len);
    if (c == NULL && len > 0) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    if (len)
        memcpy(c, p, len);
    return c;
}

#endif
