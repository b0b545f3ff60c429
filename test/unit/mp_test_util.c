/* mp_test's libsq utilities: entity names against OpenWhisk's regular expression, ids, the
 * status table, the wire error and the config table. */
#include <regex.h>
#include <unistd.h>

#include "mp_test.h"
#include "sq/bus.h"
#include "sq/config.h"

/* ---------------------------------------------------------------- names */

static regex_t name_re;

static bool name_by_regex(const char *s)
{
    /* OpenWhisk: \A([\w]|[\w][\w@ .-]*[\w@.-]+)\z, at most 256 characters; \w = [A-Za-z0-9_] */
    return strlen(s) <= 256 && strchr(s, '\n') == NULL && regexec(&name_re, s, 0, NULL, 0) == 0;
}

void test_names(void)
{
    SECTION("sq_name_valid");
    int rc = regcomp(&name_re, "^([A-Za-z0-9_]|[A-Za-z0-9_][A-Za-z0-9_@ .-]*[A-Za-z0-9_@.-]+)$",
                     REG_EXTENDED | REG_NOSUB);
    CHECK(rc == 0, "test bug: regcomp failed");
    if (rc != 0)
        return;

    char n256[258], n257[259];
    memset(n256, 'a', 256);
    n256[256] = '\0';
    memset(n257, 'a', 257);
    n257[257] = '\0';

    static const char *const good[] = {
        "a",
        "Z",
        "_",
        "0",
        "hello",
        "hello_world",
        "hello world",
        "a.b",
        "a-b",
        "a@b",
        "a.",
        "a-",
        "a@",
        "a b c",
        "A1_b2",
        "__init__",
        "x  y",
        "v1.0.0",
        "john@example.com",
        "0-",
        "_.",
        "9 9",
    };
    static const char *const bad[] = {
        "",      " ",    "a ",  " a",   "-x",   ".x",       "@x",        "a/b",
        "/",     "/a",   "a\n", "a\t",  "a\tb", "\xc3\xa9", "a\xc3\xa9", "bad name ",
        "a b/c", "a%20", "a*",  "a?",   "a#b",  "a+b",      "a:b",       "a,b",
        "a'b",   "a\"b", "(a)", "a\\b", "~",    "a\r",      "a b ",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK(sq_name_valid(good[i]), "good name \"%s\" rejected", good[i]);
        CHECK(name_by_regex(good[i]), "test bug: regex rejects \"%s\"", good[i]);
    }
    CHECK(sq_name_valid(n256), "a name of 256 characters rejected");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!sq_name_valid(bad[i]), "bad name \"%s\" accepted", bad[i]);
        CHECK(!name_by_regex(bad[i]), "test bug: regex accepts \"%s\"", bad[i]);
    }
    CHECK(!sq_name_valid(n257), "a name of 257 characters accepted");
    CHECK(!sq_name_valid(NULL), "NULL accepted");

    /* exhaustively: every string of 1 to 4 characters over an alphabet that exercises each
     * branch of the regex agrees with the regex */
    static const char alpha[] = {
        'a', 'Z', '5', '_', ' ', '-', '.', '@', '/', '*', '\t', (char)0xc3
    };
    enum { NA = sizeof alpha };
    int disagree = 0, total = 0;
    for (int len = 1; len <= 4; len++) {
        int combos = 1;
        for (int i = 0; i < len; i++)
            combos *= NA;
        for (int c = 0; c < combos; c++) {
            char s[5];
            int x = c;
            for (int i = 0; i < len; i++) {
                s[i] = alpha[x % NA];
                x /= NA;
            }
            s[len] = '\0';
            total++;
            if (sq_name_valid(s) != name_by_regex(s) && disagree++ < 5)
                CHECK(0, "\"%s\": sq_name_valid says %d, the regex says %d", s, sq_name_valid(s),
                      name_by_regex(s));
        }
    }
    CHECK(disagree == 0, "sq_name_valid disagrees with the regex on %d of %d strings", disagree,
          total);
    regfree(&name_re);
}

/* ---------------------------------------------------------------- ids */

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

void test_ids(void)
{
    SECTION("ids");
    enum { N = 2000 };
    static char ids[N][33];
    int badfmt = 0;
    CHECK(sq_crypto_init() == 0, "sq_crypto_init failed");
    for (int i = 0; i < N; i++) {
        memset(ids[i], 'X', 33);
        sq_id_new(ids[i]);
        bool ok =
            strlen(ids[i]) == 32 && strspn(ids[i], "0123456789abcdef") == 32 && sq_id_valid(ids[i]);
        if (!ok && badfmt++ < 3)
            CHECK(0, "sq_id_new gave \"%.33s\", want 32 lower-case hex characters", ids[i]);
    }
    CHECK(badfmt == 0, "%d of %d ids malformed", badfmt, N);
    qsort(ids, N, 33, cmp_id);
    int dups = 0;
    for (int i = 1; i < N; i++)
        dups += strcmp(ids[i - 1], ids[i]) == 0;
    CHECK(dups == 0, "%d duplicate ids among %d", dups, N);

    CHECK(sq_id_valid("0123456789abcdef0123456789abcdef"), "a valid id rejected");
    CHECK(!sq_id_valid(""), "empty id accepted");
    CHECK(!sq_id_valid("0123456789abcdef0123456789abcde"), "31 characters accepted");
    CHECK(!sq_id_valid("0123456789abcdef0123456789abcdef0"), "33 characters accepted");
    CHECK(!sq_id_valid("0123456789abcdef0123456789abcdeg"), "a 'g' accepted");
    CHECK(!sq_id_valid("0123456789abcdef-123456789abcdef"), "a '-' accepted");
    CHECK(!sq_id_valid(" 123456789abcdef0123456789abcdef"), "a space accepted");
    CHECK(!sq_id_valid("0123456789abcdef0123456789abcde\n"), "a newline accepted");
    CHECK(!sq_id_valid("../../../../../../../../../../.."), "a path accepted");

    char u[37];
    memset(u, 'X', sizeof u);
    sq_uuid_new(u);
    CHECK(strlen(u) == 36 && u[8] == '-' && u[13] == '-' && u[18] == '-' && u[23] == '-' &&
              u[14] == '4' && strchr("89ab", u[19]) != NULL,
          "sq_uuid_new gave \"%.37s\", want a version-4 UUID", u);
}

/* ---------------------------------------------------------------- status table */

void test_status(void)
{
    SECTION("status table");
    static const struct {
        sq_status st;
        int http;
        const char *name;
    } want[] = {
        { SQ_OK, 200, "SQ_OK" },
        { SQ_ACCEPTED, 202, "SQ_ACCEPTED" },
        { SQ_ERR_BAD_REQUEST, 400, "SQ_ERR_BAD_REQUEST" },
        { SQ_ERR_DECODE, 400, "SQ_ERR_DECODE" },
        { SQ_ERR_BAD_NAME, 400, "SQ_ERR_BAD_NAME" },
        { SQ_ERR_UNAUTHORIZED, 401, "SQ_ERR_UNAUTHORIZED" },
        { SQ_ERR_FORBIDDEN, 403, "SQ_ERR_FORBIDDEN" },
        { SQ_ERR_NOT_FOUND, 404, "SQ_ERR_NOT_FOUND" },
        { SQ_ERR_METHOD, 405, "SQ_ERR_METHOD" },
        { SQ_ERR_CONFLICT, 409, "SQ_ERR_CONFLICT" },
        { SQ_ERR_TOO_LARGE, 413, "SQ_ERR_TOO_LARGE" },
        { SQ_ERR_TOO_MANY, 429, "SQ_ERR_TOO_MANY" },
        { SQ_ERR_INTERNAL, 500, "SQ_ERR_INTERNAL" },
        { SQ_ERR_NOMEM, 500, "SQ_ERR_NOMEM" },
        { SQ_ERR_IO, 500, "SQ_ERR_IO" },
        { SQ_ERR_DB, 500, "SQ_ERR_DB" },
        { SQ_ERR_ACTION_FAILED, 502, "SQ_ERR_ACTION_FAILED" },
        { SQ_ERR_UNAVAILABLE, 503, "SQ_ERR_UNAVAILABLE" },
        { SQ_ERR_TIMEOUT, 503, "SQ_ERR_TIMEOUT" },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK_INT(sq_status_http(want[i].st), want[i].http, want[i].name);
        CHECK_STR(sq_status_name(want[i].st), want[i].name, "sq_status_name");
        CHECK(sq_status_str(want[i].st) && sq_status_str(want[i].st)[0], "%s has no message",
              want[i].name);
    }
    CHECK_INT(SQ_STATUS_COUNT_, sizeof want / sizeof want[0],
              "statuses in status.def (this test lists each)");
    for (int a = 0; a < SQ_STATUS_COUNT_; a++)
        for (int b = a + 1; b < SQ_STATUS_COUNT_; b++)
            CHECK(strcmp(sq_status_name(a), sq_status_name(b)) != 0, "duplicate status name %s",
                  sq_status_name(a));
    CHECK_INT(sq_status_http((sq_status)SQ_STATUS_COUNT_), 500, "http of an out-of-range status");
    CHECK_INT(sq_status_http((sq_status)-1), 500, "http of status -1");
    CHECK_STR(sq_status_name((sq_status)999), "SQ_ERR_UNKNOWN", "name of status 999");
    CHECK(sq_status_str((sq_status)999) != NULL, "message of status 999 is NULL");

    CHECK_INT(sq_status_from_http(200), SQ_OK, "from 200");
    CHECK_INT(sq_status_from_http(400), SQ_ERR_BAD_REQUEST, "from 400");
    CHECK_INT(sq_status_from_http(401), SQ_ERR_UNAUTHORIZED, "from 401");
    CHECK_INT(sq_status_from_http(404), SQ_ERR_NOT_FOUND, "from 404");
    CHECK_INT(sq_status_from_http(409), SQ_ERR_CONFLICT, "from 409");
    CHECK_INT(sq_status_from_http(413), SQ_ERR_TOO_LARGE, "from 413");
    CHECK_INT(sq_status_from_http(429), SQ_ERR_TOO_MANY, "from 429");
    CHECK_INT(sq_status_from_http(502), SQ_ERR_ACTION_FAILED, "from 502");
    CHECK_INT(sq_status_from_http(503), SQ_ERR_UNAVAILABLE, "from 503");
    CHECK_INT(sq_status_from_http(599), SQ_ERR_INTERNAL, "from 599");
    CHECK_INT(sq_status_from_http(418), SQ_ERR_BAD_REQUEST, "from 418");
    /* every status survives http -> status -> http */
    for (int s = 0; s < SQ_STATUS_COUNT_; s++)
        CHECK_INT(sq_status_http(sq_status_from_http(sq_status_http(s))), sq_status_http(s),
                  sq_status_name(s));
}

/* ---------------------------------------------------------------- wire error */

void test_wire_error(void)
{
    SECTION("wire error");
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_zone z;
    msgpack_object o;
    int code = 0;
    const char *m = NULL;
    size_t ml = 0;

    msgpack_zone_init(&z, 1024);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sq_wire_error_pack(&pk, SQ_ERR_NOT_FOUND, "action \"x\" not found");
    CHECK(sq_mp_unpack(sb.data, sb.size, &z, &o) == SQ_OK, "a packed wire error does not unpack");
    CHECK(sq_wire_error_get(&o, &code, &m, &ml),
          "sq_wire_error_get did not recognise a wire error");
    CHECK_INT(code, 404, "wire error code");
    CHECK(ml == strlen("action \"x\" not found") && memcmp(m, "action \"x\" not found", ml) == 0,
          "wire error message");
    {
        const msgpack_object *e = sq_mp_get(&o, "error");
        CHECK(o.via.map.size == 1 && e && e->type == MSGPACK_OBJECT_MAP && sq_mp_get(e, "code") &&
                  sq_mp_get(e, "code")->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                  sq_mp_get(e, "message") && sq_mp_get(e, "message")->type == MSGPACK_OBJECT_STR,
              "wire error is not map{error: map{code: int, message: str}}");
    }
    msgpack_sbuffer_destroy(&sb);

    msgpack_sbuffer_init(&sb);
    sq_wire_error_pack(&pk, SQ_ERR_DECODE, NULL);
    CHECK(sq_mp_unpack(sb.data, sb.size, &z, &o) == SQ_OK &&
              sq_wire_error_get(&o, &code, &m, &ml) && code == 400 &&
              ml == strlen(sq_status_str(SQ_ERR_DECODE)),
          "wire error with the default message");
    msgpack_sbuffer_destroy(&sb);

    CHECK(sq_mp_unpack(B("\x81\xa2"
                         "ok\xc3"),
                       &z, &o) == SQ_OK &&
              !sq_wire_error_get(&o, &code, &m, &ml),
          "{ok: true} taken for a wire error");
    CHECK(sq_mp_unpack(B("\x81\xa5"
                         "error\xa1"
                         "x"),
                       &z, &o) == SQ_OK &&
              !sq_wire_error_get(&o, &code, &m, &ml),
          "{error: \"x\"} (not a map) taken for a wire error");
    msgpack_zone_destroy(&z);
}

/* ---------------------------------------------------------------- config */

static int c_port;
static bool c_fast;
static char *c_url, *c_key;
static const sq_cfg_entry cfg_table[] = {
    SQ_CFG_INT("port", "SQT_PORT", 1, 65535, 3233, c_port),
    SQ_CFG_BOOL("fast", "SQT_FAST", false, c_fast),
    SQ_CFG_STR("url", "SQT_URL", "nats://default:4222", c_url),
    SQ_CFG_SECRET("key", "SQT_KEY", NULL, c_key),
};
#define NCFG (sizeof cfg_table / sizeof cfg_table[0])

static char cfg_path[256];

static void write_cfg(const char *text)
{
    FILE *f = fopen(cfg_path, "w");
    if (f == NULL) {
        perror(cfg_path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static void clear_env(void)
{
    unsetenv("SQ_CONFIG");
    unsetenv("SQT_PORT");
    unsetenv("SQT_FAST");
    unsetenv("SQT_URL");
    unsetenv("SQT_KEY");
}

static sq_status cfg_load(void)
{
    sq_config_free(cfg_table, NCFG);
    c_port = -1;
    c_fast = false;
    return sq_config_load(cfg_table, NCFG);
}

void test_config(void)
{
    SECTION("config table");
    sq_status st;
    const char *tmp = getenv("TMPDIR");
    int fd;

    snprintf(cfg_path, sizeof cfg_path, "%s/sq_cfg_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    fd = mkstemp(cfg_path);
    CHECK(fd >= 0, "mkstemp %s failed", cfg_path);
    if (fd < 0)
        return;
    close(fd);

    /* defaults */
    clear_env();
    st = cfg_load();
    CHECK(st == SQ_OK, "defaults: %s", sq_status_name(st));
    CHECK_INT(c_port, 3233, "default port");
    CHECK(c_fast == false, "default bool");
    CHECK_STR(c_url, "nats://default:4222", "default string");
    CHECK_STR(c_key, "", "string without a default");

    /* file over defaults; comments, blank lines, spaces and unknown keys */
    write_cfg("# a comment\n\n   port =  4000  \nfast=yes\nurl = nats://file:1\n  # indented "
              "comment\nunknown = 1\n");
    setenv("SQ_CONFIG", cfg_path, 1);
    st = cfg_load();
    CHECK(st == SQ_OK, "file: %s", sq_status_name(st));
    CHECK_INT(c_port, 4000, "port from the file");
    CHECK(c_fast == true, "bool 'yes' from the file");
    CHECK_STR(c_url, "nats://file:1", "string from the file");
    CHECK_STR(c_key, "", "string absent from the file keeps its default");

    /* environment over file */
    setenv("SQT_PORT", "5000", 1);
    setenv("SQT_URL", "nats://env:2", 1);
    setenv("SQT_KEY", "s3cret", 1);
    st = cfg_load();
    CHECK(st == SQ_OK, "env: %s", sq_status_name(st));
    CHECK_INT(c_port, 5000, "port from the environment beats the file");
    CHECK(c_fast == true, "bool from the file survives when the environment does not set it");
    CHECK_STR(c_url, "nats://env:2", "string from the environment beats the file");
    CHECK_STR(c_key, "s3cret", "secret from the environment");
    setenv("SQT_FAST", "off", 1);
    st = cfg_load();
    CHECK(st == SQ_OK && c_fast == false, "SQT_FAST=off over fast=yes in the file: %s, %d",
          sq_status_name(st), c_fast);

    /* bounds are inclusive */
    setenv("SQT_PORT", "1", 1);
    CHECK(cfg_load() == SQ_OK && c_port == 1, "port 1 (the minimum) refused");
    setenv("SQT_PORT", "65535", 1);
    CHECK(cfg_load() == SQ_OK && c_port == 65535, "port 65535 (the maximum) refused");

    /* bad values from the environment */
    static const struct {
        const char *var, *val;
    } bad_env[] = {
        { "SQT_PORT", "0" },
        { "SQT_PORT", "65536" },
        { "SQT_PORT", "-1" },
        { "SQT_PORT", "12x" },
        { "SQT_PORT", "" },
        { "SQT_PORT", "abc" },
        { "SQT_PORT", "99999999999999999999999" },
        { "SQT_PORT", "4000 " },
        { "SQT_FAST", "maybe" },
        { "SQT_FAST", "" },
        { "SQT_FAST", "2" },
    };
    for (size_t i = 0; i < sizeof bad_env / sizeof bad_env[0]; i++) {
        clear_env();
        setenv(bad_env[i].var, bad_env[i].val, 1);
        st = cfg_load();
        CHECK(st == SQ_ERR_BAD_REQUEST, "%s=\"%s\": got %s, want SQ_ERR_BAD_REQUEST",
              bad_env[i].var, bad_env[i].val, sq_status_name(st));
    }

    /* bad files */
    clear_env();
    setenv("SQ_CONFIG", cfg_path, 1);
    write_cfg("port = 99999\n");
    CHECK(cfg_load() == SQ_ERR_BAD_REQUEST, "port = 99999 in the file accepted");
    write_cfg("port = 4000\nthis line has no equals sign\n");
    CHECK(cfg_load() == SQ_ERR_BAD_REQUEST, "a line without '=' accepted");
    write_cfg("fast = perhaps\n");
    CHECK(cfg_load() == SQ_ERR_BAD_REQUEST, "fast = perhaps accepted");
    /* the environment's names as file keys (an /etc/squall/<svc>.conf that is also a
     * systemd EnvironmentFile=), values quoted as such a file may quote them */
    write_cfg("SQT_PORT = 4100\nSQT_URL=\"nats://quoted:3\"\nSQT_KEY = 'single'\nSQT_FAST = on\n");
    st = cfg_load();
    CHECK(st == SQ_OK, "SQ_* keys in the file: %s", sq_status_name(st));
    CHECK_INT(c_port, 4100, "SQT_PORT from the file");
    CHECK_STR(c_url, "nats://quoted:3", "a double-quoted value loses its quotes");
    CHECK_STR(c_key, "single", "a single-quoted value loses its quotes");
    CHECK(c_fast == true, "SQT_FAST = on from the file");
    write_cfg("url = \"unbalanced\nport = 4000\n");
    CHECK(cfg_load() == SQ_OK, "an unbalanced quote");
    CHECK_STR(c_url, "\"unbalanced", "an unbalanced quote is kept as it is");
    write_cfg("SQT_PORT = 99999\n");
    CHECK(cfg_load() == SQ_ERR_BAD_REQUEST, "SQT_PORT = 99999 in the file accepted");
    /* a unit test binary is not in an installed layout: no installed path */
    {
        char out[256] = "untouched";
        CHECK(!sq_installed_path("share/squall/schemas", out, sizeof out),
              "an installed path for a build-tree binary");
        CHECK_STR(out, "untouched", "sq_installed_path wrote on failure");
    }
    setenv("SQ_CONFIG", "/nonexistent/squall/config", 1);
    st = cfg_load();
    CHECK(st == SQ_ERR_IO, "SQ_CONFIG naming a missing file: got %s, want SQ_ERR_IO",
          sq_status_name(st));
    setenv("SQ_CONFIG", "", 1);
    CHECK(cfg_load() == SQ_OK && c_port == 3233, "SQ_CONFIG empty should mean no file");

    sq_config_free(cfg_table, NCFG);
    CHECK(c_url == NULL && c_key == NULL, "sq_config_free left strings behind");
    clear_env();
    unlink(cfg_path);
}
