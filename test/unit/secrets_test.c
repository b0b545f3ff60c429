/* Unit tests of what keeps passwords out of the logs: sq_mask_secrets on connection strings
 * and URLs, the configuration log, and libsq's PostgreSQL messages (a connection string that
 * does not parse, a connection that fails, a message with a password in it). The log lines
 * are captured from stderr and searched for every secret. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sq/config.h"
#include "sq/log.h"
#include "sq/pg.h"
#include "sq/util.h"

static char *masked(const char *s)
{
    static char buf[512];
    sq_mask_secrets(s, buf, sizeof buf);
    return buf;
}

static void test_mask(void)
{
    char small[12];

    SECTION("sq_mask_secrets");
    CHECK_STR(masked("host=/run/pg port=5432 dbname=squall user=sq_auth password=s3cret"),
              "host=/run/pg port=5432 dbname=squall user=sq_auth password=********",
              "libpq keyword");
    CHECK_STR(masked("password = 's3 \\' cret' user=x"), "password = ******** user=x",
              "quoted, escaped, blanks");
    CHECK_STR(masked("user=x password='unterminated"), "user=x password=********",
              "unterminated quote");
    CHECK_STR(masked("sslpassword=s3cret host=h"), "sslpassword=******** host=h",
              "any keyword ending in password");
    CHECK_STR(masked("PASSWORD=s3cret"), "PASSWORD=********", "any case");
    CHECK_STR(masked("postgresql://u:s3cret@h:5/db?password=s3cret&sslmode=x"),
              "postgresql://u:********@h:5/db?password=********&sslmode=x", "URI with both");
    CHECK_STR(masked("nats://ops:s3cret@127.0.0.1:4222"), "nats://ops:********@127.0.0.1:4222",
              "NATS URL");
    CHECK_STR(masked("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222", "no user info: unchanged");
    CHECK_STR(masked("nats://tok@127.0.0.1:4222/x"), "nats://tok@127.0.0.1:4222/x",
              "user without password");
    CHECK_STR(masked("host=/tmp passfile=/s/pgpass/auth user=sq_auth"),
              "host=/tmp passfile=/s/pgpass/auth user=sq_auth", "passfile is not a password");
    CHECK_STR(masked("password authentication failed for user \"sq_auth\""),
              "password authentication failed for user \"sq_auth\"", "the word alone");
    CHECK_STR(masked(""), "", "empty");
    sq_mask_secrets("password=s3cretlonger", small, sizeof small);
    CHECK_STR(small, "password=**", "cut short, never the secret");
    CHECK(strstr(sq_pg_text("FATAL:  bad\nDETAIL: password=s3cret\n"), "s3cret") == NULL,
          "sq_pg_text masks");
    CHECK_STR(sq_pg_text("line one\nline two\n"), "line one line two", "sq_pg_text: one line");
}

/* Runs fn with stderr going to a file; returns what it wrote (malloc'd). */
static char *capture(void (*fn)(void))
{
    char path[] = "/tmp/sq_secrets_test_XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    char *out = calloc(1, 65536);
    FILE *f;

    if (fd < 0 || saved < 0 || out == NULL) {
        fprintf(stderr, "capture: setup failed\n");
        exit(2);
    }
    fflush(stderr);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    if ((f = fopen(path, "r")) != NULL) {
        size_t n = fread(out, 1, 65535, f);
        out[n] = '\0';
        fclose(f);
    }
    unlink(path);
    return out;
}

static char *c_dsn, *c_url, *c_plain;
static const sq_cfg_entry table[] = {
    SQ_CFG_STR("pg_dsn", "SQT_PG_DSN", "", c_dsn),
    SQ_CFG_STR("nats_url", "SQT_NATS_URL", "", c_url),
    SQ_CFG_STR("plain", "SQT_PLAIN", "", c_plain),
};

static void log_config(void)
{
    setenv("SQT_PG_DSN", "host=/x dbname=squall user=sq_auth password=pgs3cret", 1);
    setenv("SQT_NATS_URL", "nats://auth:natss3cret@127.0.0.1:4222", 1);
    setenv("SQT_PLAIN", "visible", 1);
    if (sq_config_load(table, sizeof table / sizeof table[0]) == SQ_OK)
        sq_config_log(table, sizeof table / sizeof table[0]);
}

static sq_status bad_parse, bad_connect;

static void connect_badly(void)
{
    PGconn *c = NULL;
    /* does not parse: libpq would quote "xq9z" (the part after the blank) */
    bad_parse = sq_pg_connect(&c, "host=/nonexistent password=s3 xq9z", 0);
    /* parses, cannot connect */
    bad_connect =
        sq_pg_connect(&c, "host=/nonexistent/squall-test dbname=x user=y password=pgs3cret", 0);
}

static void test_logs(void)
{
    char *out;

    SECTION("config log");
    out = capture(log_config);
    CHECK(strstr(out, "pgs3cret") == NULL, "the PostgreSQL password is in the config log: %s", out);
    CHECK(strstr(out, "natss3cret") == NULL, "the NATS password is in the config log: %s", out);
    CHECK(strstr(out, "user=sq_auth password=********") != NULL, "the DSN is logged masked: %s",
          out);
    CHECK(strstr(out, "nats://auth:********@127.0.0.1:4222") != NULL,
          "the URL is logged masked: %s", out);
    CHECK(strstr(out, "\"visible\"") != NULL, "a plain value is logged: %s", out);
    free(out);
    sq_config_free(table, sizeof table / sizeof table[0]);

    SECTION("PostgreSQL messages");
    out = capture(connect_badly);
    CHECK_INT(bad_parse, SQ_ERR_BAD_REQUEST, "a connection string that does not parse");
    CHECK_INT(bad_connect, SQ_ERR_DB, "a server that is not there");
    CHECK(strstr(out, "xq9z") == NULL, "a password fragment is in the log: %s", out);
    CHECK(strstr(out, "could not parse the PostgreSQL connection string") != NULL,
          "parse error logged: %s", out);
    CHECK(strstr(out, "could not connect to PostgreSQL") != NULL, "connect error logged: %s", out);
    free(out);
}

int main(void)
{
    sq_log_init("secrets_test");
    test_mask();
    test_logs();
    return check_done();
}
