/* Unit test of services/invoker/container.c against the real Node.js launcher under
 * bubblewrap: init and run, the four result shapes, logs (format, order, limits, no leaks
 * between activations), timeouts and crashes (and that the sandbox is really gone), the
 * isolation the sandbox promises, and several containers used from several threads.
 *
 * Needs /usr/bin/bwrap and /usr/bin/node. SQ_RUNTIME_DIR names the runtimes directory
 * (default: <repo>/services/invoker/runtimes). Prints "N passed, M failed"; exits non-zero
 * on any failure. Build by hand from the repository root:
 *
 *   gcc -std=c11 -D_GNU_SOURCE -g -Wall -Wextra -fsanitize=address,undefined \
 *       -I services/invoker test/unit/container_test.c services/invoker/container.c \
 *       $(pkg-config --cflags --libs jansson) -pthread -o /tmp/container_test
 *   /tmp/container_test
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "container.h"

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int passed, failed;
static char runtime_dir[PATH_MAX];

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define TIMEOUT 10000
#define LOGS (1u << 20)

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *res(const inv_run_result *r)
{
    return r->result ? r->result : "(null)";
}

static inv_container_t *start(bool sandbox)
{
    inv_container_opts o = {
        .runtime_dir = runtime_dir, .kind = "nodejs:20", .memory_mb = 128, .sandbox = sandbox
    };
    inv_container_t *c = NULL;
    char err[256] = "";
    int rc = inv_container_start(&c, &o, err, sizeof err);
    CHECK(rc == 0 && c, "start: %s", err);
    return c;
}

/* Starts and initialises a container with code; NULL (and a failed check) if init fails. */
static inv_container_t *ready(const char *code, bool sandbox)
{
    inv_container_t *c = start(sandbox);
    if (!c)
        return NULL;
    inv_run_result r;
    inv_outcome oc = inv_container_init(c, code, "main", false, TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OK, "init: %s %s", inv_outcome_str(oc), res(&r));
    inv_run_result_free(&r);
    if (oc != INV_OK) {
        inv_container_destroy(c);
        return NULL;
    }
    return c;
}

/* Runs one activation with the given value (a JSON object text). */
static inv_outcome run(inv_container_t *c, const char *value, const char *activation_id,
                       int timeout_ms, size_t log_limit, inv_run_result *r)
{
    char line[8192];
    snprintf(line, sizeof line,
             "{\"value\":%s,\"activation_id\":\"%s\",\"action_name\":\"/guest/t\","
             "\"deadline\":\"%lld\",\"namespace\":\"guest\",\"api_key\":\"k:s\","
             "\"api_host\":\"http://127.0.0.1:3233\"}",
             value, activation_id, (long long)time(NULL) * 1000 + timeout_ms);
    return inv_container_run(c, line, timeout_ms, log_limit, r);
}

/* The string at key of the JSON object text, or "" (copied into buf). */
static const char *field(const char *json, const char *key, char *buf, size_t n)
{
    buf[0] = '\0';
    json_t *v = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
    json_t *f = json_is_object(v) ? json_object_get(v, key) : NULL;
    if (json_is_string(f))
        snprintf(buf, n, "%s", json_string_value(f));
    else if (f) {
        char *s = json_dumps(f, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(buf, n, "%s", s ? s : "");
        free(s);
    }
    json_decref(v);
    return buf;
}

/* True if line looks like "2026-11-23T10:00:00.123456789Z <stream>: <text>". */
static bool log_is(const char *line, const char *stream, const char *text)
{
    if (strlen(line) < 31)
        return false;
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddddddddZ ";
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)line[i]) : line[i] != shape[i])
            return false;
    }
    char want[512];
    snprintf(want, sizeof want, "%s: %s", stream, text);
    return strcmp(line + 31, want) == 0;
}

static void dump_logs(const inv_run_result *r)
{
    for (size_t i = 0; i < r->nlogs; i++)
        fprintf(stderr, "    log[%zu] %s\n", i, r->logs[i]);
}

/* ---------------------------------------------------------------- process helpers */

static pid_t ppid_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    int ppid = -1;
    if (p)
        sscanf(p + 2, "%*c %d", &ppid);
    return ppid;
}

/* Gone: no such pid, or a zombie nobody has reaped yet. */
static bool pid_gone(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && (p[2] == 'Z' || p[2] == 'X');
}

/* Every live descendant of root (root included). */
static size_t descendants(pid_t root, pid_t *out, size_t max)
{
    size_t n = 0;
    out[n++] = root;
    for (size_t i = 0; i < n; i++) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (!isdigit((unsigned char)e->d_name[0]))
                continue;
            pid_t pid = (pid_t)atoi(e->d_name);
            if (ppid_of(pid) == out[i] && n < max && !pid_gone(pid))
                out[n++] = pid;
        }
        if (d)
            closedir(d);
    }
    return n;
}

/* Host pid of a live process whose command line is exactly argv0 argv1, or -1. */
static pid_t find_cmd(const char *argv0, const char *argv1)
{
    pid_t found = -1;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char path[300], buf[256];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        size_t l0 = strlen(argv0);
        if (n == l0 + strlen(argv1) + 2 && strcmp(buf, argv0) == 0 &&
            strcmp(buf + l0 + 1, argv1) == 0 && !pid_gone(atoi(e->d_name)))
            found = (pid_t)atoi(e->d_name);
    }
    if (d)
        closedir(d);
    return found;
}

/* ---------------------------------------------------------------- tests */

static void test_plain(void)
{
    inv_container_t *c = ready("function main(a){return {hello: a.name}}", true);
    if (!c)
        return;
    inv_run_result r;
    char buf[256];
    inv_outcome oc = run(c, "{\"name\":\"squall\"}", "a1", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OK, "%s %s", inv_outcome_str(oc), res(&r));
    CHECK(strcmp(field(r.result, "hello", buf, sizeof buf), "squall") == 0, "%s", res(&r));
    CHECK(r.nlogs == 0, "%zu logs", r.nlogs);
    CHECK(r.start_ms > 1600000000000LL && r.end_ms >= r.start_ms, "%lld..%lld",
          (long long)r.start_ms, (long long)r.end_ms);
    CHECK(inv_container_alive(c), "not alive after a good run");
    inv_run_result_free(&r);
    inv_container_destroy(c);
}

static void test_logs_and_reuse(void)
{
    inv_container_t *c =
        ready("console.log('loading');\n"
              "function main(a){\n"
              "  console.log('one', a.n);\n"
              "  console.error('two');\n"
              "  console.info('three\\nfour');\n"
              "  console.warn({w: 1});\n"
              "  process.stdout.write('partial');\n"
              "  return {id: process.env.__OW_ACTIVATION_ID, name: process.env.__OW_ACTION_NAME,\n"
              "          ns: process.env.__OW_NAMESPACE, key: process.env.__OW_API_KEY,\n"
              "          host: process.env.__OW_API_HOST, deadline: process.env.__OW_DEADLINE};\n"
              "}",
              true);
    if (!c)
        return;
    inv_run_result r;
    char buf[256];
    inv_outcome oc = run(c, "{\"n\":1}", "act-1", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OK, "%s %s", inv_outcome_str(oc), res(&r));
    CHECK(strcmp(field(r.result, "id", buf, sizeof buf), "act-1") == 0, "%s", res(&r));
    CHECK(strcmp(field(r.result, "name", buf, sizeof buf), "/guest/t") == 0, "%s", res(&r));
    CHECK(strcmp(field(r.result, "ns", buf, sizeof buf), "guest") == 0, "%s", res(&r));
    CHECK(strcmp(field(r.result, "key", buf, sizeof buf), "k:s") == 0, "%s", res(&r));
    CHECK(strncmp(field(r.result, "host", buf, sizeof buf), "http://", 7) == 0, "%s", res(&r));
    CHECK(strlen(field(r.result, "deadline", buf, sizeof buf)) == 13, "%s", res(&r));

    /* Per stream in order; across streams by read time, so only sort by timestamp. */
    const char *want_out[] = { "one 1", "three", "four", "partial" };
    const char *want_err[] = { "two", "{ w: 1 }" };
    size_t io = 0, ie = 0;
    bool shape_ok = r.nlogs == 6;
    for (size_t i = 0; i < r.nlogs; i++) {
        if (io < 4 && log_is(r.logs[i], "stdout", want_out[io]))
            io++;
        else if (ie < 2 && log_is(r.logs[i], "stderr", want_err[ie]))
            ie++;
        else
            shape_ok = false;
        if (i > 0 && strncmp(r.logs[i - 1], r.logs[i], 30) > 0)
            shape_ok = false;
    }
    CHECK(shape_ok && io == 4 && ie == 2, "logs not as expected (%zu lines)", r.nlogs);
    if (!shape_ok)
        dump_logs(&r);
    CHECK(!r.logs_truncated, "truncated");
    inv_run_result_free(&r);

    /* Warm reuse: only this activation's lines, its own activation id. */
    oc = run(c, "{\"n\":2}", "act-2", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OK, "%s %s", inv_outcome_str(oc), res(&r));
    CHECK(strcmp(field(r.result, "id", buf, sizeof buf), "act-2") == 0, "%s", res(&r));
    CHECK(r.nlogs == 6 && log_is(r.logs[0], "stdout", "one 2"), "second run logs");
    for (size_t i = 0; i < r.nlogs; i++)
        CHECK(strstr(r.logs[i], "one 1") == NULL && strstr(r.logs[i], "loading") == NULL,
              "leaked line %s", r.logs[i]);
    inv_run_result_free(&r);
    inv_container_destroy(c);
}

static void test_init_logs(void)
{
    inv_container_t *c = start(true);
    if (!c)
        return;
    inv_run_result r;
    inv_outcome oc = inv_container_init(
        c, "console.log('loading'); console.error('warming'); exports.main = () => ({})", "main",
        false, TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OK, "%s %s", inv_outcome_str(oc), res(&r));
    CHECK(r.nlogs == 2, "%zu init logs", r.nlogs);
    bool a = false, b = false;
    for (size_t i = 0; i < r.nlogs; i++) {
        a = a || log_is(r.logs[i], "stdout", "loading");
        b = b || log_is(r.logs[i], "stderr", "warming");
    }
    CHECK(a && b, "init logs");
    CHECK(r.end_ms >= r.start_ms, "init time");
    inv_run_result_free(&r);
    oc = inv_container_init(c, "exports.main = () => ({})", "main", false, TIMEOUT, LOGS, &r);
    CHECK(oc == INV_INTERNAL, "second init: %s", inv_outcome_str(oc));
    inv_run_result_free(&r);
    inv_container_destroy(c);
}

static void test_forms(void)
{
    static const struct {
        const char *code, *main;
    } forms[] = {
        { "exports.main = function(a){ return {form: 'exports', v: a.v} }", "main" },
        { "module.exports = { main: async (a) => ({form: 'async', v: a.v}) }", "main" },
        { "module.exports.other = (a) => ({form: 'named', v: a.v})", "other" },
        { "const main = (a) => ({form: 'const', v: a.v})", "main" },
        { "'use strict'; function entry(a){ return {form: 'strict', v: a.v} }", "entry" },
        { "global.main = (a) => ({form: 'global', v: a.v})", "main" },
        { "function main(a){ return new Promise(r => setTimeout(() => r({form: 'promise', "
          "v: a.v}), 30)) }",
          "main" },
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        inv_container_t *c = start(true);
        if (!c)
            return;
        inv_run_result r;
        inv_outcome oc =
            inv_container_init(c, forms[i].code, forms[i].main, false, TIMEOUT, LOGS, &r);
        CHECK(oc == INV_OK, "form %zu init: %s %s", i, inv_outcome_str(oc), res(&r));
        inv_run_result_free(&r);
        oc = run(c, "{\"v\":7}", "f", TIMEOUT, LOGS, &r);
        char buf[64];
        CHECK(oc == INV_OK && strcmp(field(r.result, "v", buf, sizeof buf), "7") == 0,
              "form %zu: %s %s", i, inv_outcome_str(oc), res(&r));
        inv_run_result_free(&r);
        inv_container_destroy(c);
    }
}

static void test_outcomes(void)
{
    inv_container_t *c = ready("function main(a){\n"
                               "  switch (a.k) {\n"
                               "  case 'app': return {error: 'nope', detail: 1};\n"
                               "  case 'throw': throw new Error('boom');\n"
                               "  case 'num': return 42;\n"
                               "  case 'arr': return [1, 2];\n"
                               "  case 'null': return null;\n"
                               "  case 'undef': return;\n"
                               "  case 'reject': return Promise.reject(new Error('rej'));\n"
                               "  case 'rejectobj': return Promise.reject({error: 'obj'});\n"
                               "  case 'late': return new Promise(() => setTimeout(() => { throw "
                               "new Error('late') }, 10));\n"
                               "  case 'cycle': { const o = {}; o.o = o; return o; }\n"
                               "  default: return {ok: true};\n"
                               "  }\n"
                               "}",
                               true);
    if (!c)
        return;
    static const struct {
        const char *k;
        inv_outcome want;
        const char *error; /* expected "error" field, or NULL */
    } cases[] = {
        { "app", INV_APP_ERROR, "nope" },
        { "ok", INV_OK, NULL },
        { "throw", INV_THROWN, "An error has occurred: Error: boom" },
        { "num", INV_NOT_OBJECT, "The action did not return a dictionary." },
        { "arr", INV_OK, NULL }, /* an array is a result, as current OpenWhisk runtimes allow */
        { "null", INV_NOT_OBJECT, "The action did not return a dictionary." },
        { "undef", INV_OK, NULL },
        { "reject", INV_APP_ERROR, NULL },
        { "rejectobj", INV_APP_ERROR, "{\"error\":\"obj\"}" },
        { "late", INV_THROWN, "An error has occurred: Error: late" },
        { "cycle", INV_THROWN, NULL },
        { "ok", INV_OK, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char value[64], buf[512];
        snprintf(value, sizeof value, "{\"k\":\"%s\"}", cases[i].k);
        inv_run_result r;
        inv_outcome oc = run(c, value, cases[i].k, TIMEOUT, LOGS, &r);
        CHECK(oc == cases[i].want, "%s: got %s %s", cases[i].k, inv_outcome_str(oc), res(&r));
        if (cases[i].error)
            CHECK(strcmp(field(r.result, "error", buf, sizeof buf), cases[i].error) == 0,
                  "%s: result %s", cases[i].k, res(&r));
        if (oc == INV_THROWN)
            CHECK(strstr(res(&r), "__ow_thrown") == NULL, "marker left in %s", res(&r));
        if (strcmp(cases[i].k, "reject") == 0) {
            json_t *v = json_loads(res(&r), 0, NULL);
            json_t *e = json_object_get(v, "error");
            CHECK(json_is_object(e) &&
                      strcmp(json_string_value(json_object_get(e, "message")), "rej") == 0,
                  "reject: %s", res(&r));
            json_decref(v);
        }
        if (strcmp(cases[i].k, "undef") == 0)
            CHECK(strcmp(res(&r), "{}") == 0, "undefined gives %s", res(&r));
        CHECK(inv_container_alive(c), "%s: container died", cases[i].k);
        inv_run_result_free(&r);
    }
    inv_container_destroy(c);
}

static void test_init_errors(void)
{
    static const struct {
        const char *code, *main;
        bool binary;
        const char *needle;
    } cases[] = {
        { "function main(a) { return {", "main", false, "SyntaxError" },
        { "function notmain(a) { return {} }", "main", false, "is not a function" },
        { "throw new Error('at load')", "main", false, "at load" },
        { "UEsDBA==", "main", true, "not a zip file" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        inv_container_t *c = start(true);
        if (!c)
            return;
        inv_run_result r;
        inv_outcome oc =
            inv_container_init(c, cases[i].code, cases[i].main, cases[i].binary, TIMEOUT, LOGS, &r);
        char buf[2048];
        CHECK(oc == INV_INIT_ERROR, "case %zu: %s %s", i, inv_outcome_str(oc), res(&r));
        CHECK(strstr(field(r.result, "error", buf, sizeof buf), cases[i].needle) != NULL,
              "case %zu: %s", i, res(&r));
        inv_run_result_free(&r);
        CHECK(!inv_container_alive(c), "case %zu: alive after a failed init", i);
        oc = run(c, "{}", "x", TIMEOUT, LOGS, &r);
        CHECK(oc == INV_INTERNAL, "run after failed init: %s", inv_outcome_str(oc));
        inv_run_result_free(&r);
        inv_container_destroy(c);
    }
}

static void test_timeout(void)
{
    inv_container_t *c =
        ready("function main(a){ if (a.spin) { console.log('spinning'); while (true) {} }"
              " return {} }",
              true);
    if (!c)
        return;
    inv_run_result r;
    run(c, "{}", "warm", TIMEOUT, LOGS, &r);
    inv_run_result_free(&r);
    pid_t procs[64];
    size_t n = descendants(inv_container_pid(c), procs, 64);
    CHECK(n >= 3, "expected bwrap, its init and node; found %zu processes", n);

    double t0 = now_ms();
    inv_outcome oc = run(c, "{\"spin\":true}", "spin", 300, LOGS, &r);
    double took = now_ms() - t0;
    char buf[256];
    CHECK(oc == INV_TIMEOUT, "%s %s", inv_outcome_str(oc), res(&r));
    CHECK(took >= 299 && took < 400, "took %.1f ms", took);
    CHECK(strcmp(field(r.result, "error", buf, sizeof buf),
                 "The action exceeded its time limits of 300 milliseconds.") == 0,
          "%s", res(&r));
    CHECK(r.nlogs == 1 && log_is(r.logs[0], "stdout", "spinning"), "logs before the timeout");
    CHECK(!inv_container_alive(c), "alive after timeout");
    for (size_t i = 0; i < n; i++)
        CHECK(pid_gone(procs[i]), "process %d survived the timeout", (int)procs[i]);
    inv_run_result_free(&r);
    oc = run(c, "{}", "after", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_INTERNAL, "run on a dead container: %s", inv_outcome_str(oc));
    inv_run_result_free(&r);
    inv_container_destroy(c);

    /* A timeout during init. */
    c = start(true);
    if (!c)
        return;
    oc = inv_container_init(c, "while (true) {}", "main", false, 300, LOGS, &r);
    CHECK(oc == INV_TIMEOUT, "init: %s", inv_outcome_str(oc));
    CHECK(strcmp(field(r.result, "error", buf, sizeof buf),
                 "The action exceeded its time limits of 300 milliseconds during "
                 "initialization.") == 0,
          "%s", res(&r));
    inv_run_result_free(&r);
    inv_container_destroy(c);
}

static void test_crash(void)
{
    inv_container_t *c = ready("function main(a){ console.log('bye'); process.exit(1) }", true);
    if (!c)
        return;
    pid_t procs[64];
    size_t n = descendants(inv_container_pid(c), procs, 64);
    inv_run_result r;
    char buf[256];
    double t0 = now_ms();
    inv_outcome oc = run(c, "{}", "crash", TIMEOUT, LOGS, &r);
    double took = now_ms() - t0;
    CHECK(oc == INV_CRASH, "%s %s", inv_outcome_str(oc), res(&r));
    CHECK(strcmp(field(r.result, "error", buf, sizeof buf),
                 "The action did not produce a valid response and exited unexpectedly.") == 0,
          "%s", res(&r));
    CHECK(took < 1000, "crash noticed after %.1f ms", took);
    CHECK(r.nlogs >= 1 && log_is(r.logs[0], "stdout", "bye"), "logs before the crash");
    CHECK(!inv_container_alive(c), "alive after crash");
    for (size_t i = 0; i < n; i++)
        CHECK(pid_gone(procs[i]), "process %d survived the crash", (int)procs[i]);
    inv_run_result_free(&r);
    inv_container_destroy(c);

    /* Exit during init. */
    c = start(true);
    if (!c)
        return;
    oc = inv_container_init(c, "process.exit(3)", "main", false, TIMEOUT, LOGS, &r);
    CHECK(oc == INV_CRASH, "init exit: %s", inv_outcome_str(oc));
    CHECK(strcmp(field(r.result, "error", buf, sizeof buf),
                 "The action did not initialize and exited unexpectedly.") == 0,
          "%s", res(&r));
    inv_run_result_free(&r);
    inv_container_destroy(c);
}

static void test_destroy_kills_everything(void)
{
    inv_container_t *c = ready(
        "function main(a){ const cp = require('child_process');\n"
        "  const k = cp.spawn('/usr/bin/sleep', ['987.5'], {detached: true, stdio: 'ignore'});\n"
        "  k.unref(); return {pid: k.pid} }",
        true);
    if (!c)
        return;
    inv_run_result r;
    inv_outcome oc = run(c, "{}", "spawn", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OK, "%s %s", inv_outcome_str(oc), res(&r));
    inv_run_result_free(&r);
    pid_t host = -1;
    for (int i = 0; i < 100 && host < 0; i++) {
        host = find_cmd("/usr/bin/sleep", "987.5");
        if (host < 0)
            usleep(10000);
    }
    CHECK(host > 0, "did not find the detached grandchild");
    inv_container_destroy(c);
    if (host > 0)
        CHECK(pid_gone(host), "detached grandchild %d survived destroy", (int)host);
}

static void test_isolation(void)
{
    inv_container_t *c = ready(
        "const fs = require('fs');\n"
        "function main(a){ return {root: fs.readdirSync('/'), env: process.env, pid: process.pid,\n"
        "  uid: process.getuid(), cwd: process.cwd(),\n"
        "  caps: fs.readFileSync('/proc/self/status', 'utf8').match(/CapEff:\\s*(\\S+)/)[1],\n"
        "  canWriteUsr: (() => { try { fs.writeFileSync('/usr/x', 'x'); return true }\n"
        "                        catch (e) { return false } })(),\n"
        "  tmp: (() => { fs.writeFileSync('/tmp/x', 'x'); return fs.readFileSync('/tmp/x', 'utf8') "
        "})(),\n"
        "  fds: fs.readdirSync('/proc/self/fd').filter(f => { try {\n"
        "         return /^pipe:/.test(fs.readlinkSync('/proc/self/fd/' + f)) } catch (e) { return "
        "false } })\n"
        "}}",
        true);
    if (!c)
        return;
    inv_run_result r;
    inv_outcome oc = run(c, "{}", "iso", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OK, "%s %s", inv_outcome_str(oc), res(&r));
    json_t *v = json_loads(res(&r), 0, NULL);
    json_t *root = json_object_get(v, "root"), *env = json_object_get(v, "env");
    bool has_root = false, has_work = false, has_runtime = false;
    size_t i;
    json_t *e;
    json_array_foreach(root, i, e)
    {
        const char *s = json_string_value(e);
        has_root = has_root || (s && strcmp(s, "root") == 0);
        has_work = has_work || (s && strcmp(s, "work") == 0);
        has_runtime = has_runtime || (s && strcmp(s, "runtime") == 0);
    }
    CHECK(json_array_size(root) > 0 && !has_root && !has_work && has_runtime, "/ holds %s",
          res(&r));
    CHECK(json_object_get(env, "NODE_EXTRA_CA_CERTS") == NULL, "NODE_EXTRA_CA_CERTS leaked");
    CHECK(json_object_get(env, "SQ_SECRET_FOR_TEST") == NULL, "platform env leaked");
    CHECK(json_is_string(json_object_get(env, "PATH")), "no PATH");
    json_int_t pid = json_integer_value(json_object_get(v, "pid"));
    CHECK(pid > 0 && pid < 10, "pid %lld: no own PID namespace", (long long)pid);
    CHECK(json_integer_value(json_object_get(v, "uid")) == 65534, "uid is not nobody");
    CHECK(strcmp(json_string_value(json_object_get(v, "caps")), "0000000000000000") == 0,
          "capabilities left: %s", json_string_value(json_object_get(v, "caps")));
    CHECK(json_is_false(json_object_get(v, "canWriteUsr")), "/usr is writable");
    CHECK(json_is_string(json_object_get(v, "tmp")), "/tmp is not writable");
    CHECK(strcmp(json_string_value(json_object_get(v, "cwd")), "/tmp") == 0, "cwd");
    /* Our four pipes, and no other pipe of the invoker: node's own internal pipes come in
   * pairs (both ends in node), so count the fds below 4 only. */
    json_t *fds = json_object_get(v, "fds");
    int low = 0;
    json_array_foreach(fds, i, e) low += atoi(json_string_value(e)) < 4;
    CHECK(low == 4, "fds 0-3 are not all pipes: %s", res(&r));
    json_decref(v);
    inv_run_result_free(&r);
    inv_container_destroy(c);
}

static void test_log_limit(void)
{
    inv_container_t *c =
        ready("function main(a){ for (let i = 0; i < a.n; i++) console.log('x'.repeat(a.len));\n"
              "  if (a.big) process.stdout.write('y'.repeat(a.big));\n"
              "  return {} }",
              true);
    if (!c)
        return;
    inv_run_result r;
    inv_outcome oc = run(c, "{\"n\":10,\"len\":100}", "l1", TIMEOUT, 350, &r);
    CHECK(oc == INV_OK, "%s %s", inv_outcome_str(oc), res(&r));
    CHECK(r.logs_truncated && r.nlogs == 4, "%zu lines, truncated=%d", r.nlogs, r.logs_truncated);
    if (r.nlogs == 4)
        CHECK(log_is(r.logs[3], "stderr",
                     "Logs were truncated because the total bytes size exceeds the limit of 350 "
                     "bytes."),
              "notice: %s", r.logs[3]);
    inv_run_result_free(&r);

    /* A huge line without a newline, then the sentinel: dropped, and the stream stays in step. */
    oc = run(c, "{\"n\":1,\"len\":10,\"big\":3000000}", "l2", TIMEOUT, 1000, &r);
    CHECK(oc == INV_OK, "%s %s", inv_outcome_str(oc), res(&r));
    CHECK(r.logs_truncated && r.nlogs == 2, "%zu lines", r.nlogs);
    inv_run_result_free(&r);

    /* Zero limit. */
    oc = run(c, "{\"n\":2,\"len\":1}", "l3", TIMEOUT, 0, &r);
    CHECK(oc == INV_OK && r.logs_truncated && r.nlogs == 1, "limit 0: %zu lines", r.nlogs);
    inv_run_result_free(&r);

    /* And the next activation sees none of it. */
    oc = run(c, "{\"n\":1,\"len\":3}", "l4", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OK && !r.logs_truncated && r.nlogs == 1 && log_is(r.logs[0], "stdout", "xxx"),
          "after truncation: %zu lines", r.nlogs);
    inv_run_result_free(&r);
    inv_container_destroy(c);
}

static void test_big_payloads(void)
{
    inv_container_t *c = ready("function main(a){ return {len: a.s.length, echo: a.s.slice(0, 5),"
                               " big: 'z'.repeat(a.out)} }",
                               true);
    if (!c)
        return;
    size_t n = 1500000;
    char *line = malloc(n + 256);
    if (!line)
        return;
    int h = sprintf(line, "{\"value\":{\"out\":300000,\"s\":\"");
    memset(line + h, 'q', n);
    strcpy(line + h + n, "\"},\"activation_id\":\"big\"}");
    inv_run_result r;
    inv_outcome oc = inv_container_run(c, line, TIMEOUT, LOGS, &r);
    char buf[64];
    CHECK(oc == INV_OK, "%s", inv_outcome_str(oc));
    CHECK(strcmp(field(r.result, "len", buf, sizeof buf), "1500000") == 0, "len %s", buf);
    CHECK(r.result && strlen(r.result) > 300000, "big result");
    inv_run_result_free(&r);
    free(line);
    inv_container_destroy(c);
}

static void test_bare(void)
{
    inv_container_t *c = ready("function main(a){ console.log('bare'); return {v: a.v} }", false);
    if (!c)
        return;
    inv_run_result r;
    inv_outcome oc = run(c, "{\"v\":1}", "b", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OK && r.nlogs == 1 && log_is(r.logs[0], "stdout", "bare"), "%s %s",
          inv_outcome_str(oc), res(&r));
    inv_run_result_free(&r);
    inv_container_destroy(c);
}

static void test_misuse(void)
{
    inv_container_destroy(NULL);
    inv_run_result_free(NULL);
    CHECK(!inv_container_alive(NULL), "NULL alive");
    inv_container_t *c = NULL;
    char err[256] = "";
    inv_container_opts o = { .runtime_dir = runtime_dir, .kind = "cobol:1", .sandbox = true };
    CHECK(inv_container_start(&c, &o, err, sizeof err) != 0 && !c && strstr(err, "cobol"),
          "unknown kind: %s", err);
    o = (inv_container_opts){ .runtime_dir = "/nonexistent", .kind = "nodejs:20", .sandbox = true };
    CHECK(inv_container_start(&c, &o, err, sizeof err) != 0 && !c, "bad runtime dir");
    c = start(true);
    if (!c)
        return;
    inv_run_result r;
    CHECK(inv_container_run(c, "{}", TIMEOUT, LOGS, &r) == INV_INTERNAL, "run before init");
    CHECK(r.result != NULL, "no result text");
    inv_run_result_free(&r);
    inv_container_destroy(c); /* a stem cell never initialised */
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void test_no_fd_leak(void)
{
    int before = open_fds();
    for (int i = 0; i < 3; i++) {
        inv_container_t *c = ready("function main(a){ return a }", true);
        if (!c)
            return;
        inv_run_result r;
        run(c, "{}", "fd", TIMEOUT, LOGS, &r);
        inv_run_result_free(&r);
        if (i == 1)
            run(c, "{}", "fd", 1, LOGS, &r); /* maybe a timeout: the kill path */
        inv_run_result_free(&r);
        inv_container_destroy(c);
    }
    CHECK(open_fds() == before, "fds before %d, after %d", before, open_fds());
}

struct worker {
    int id, ok;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    inv_container_opts o = { .runtime_dir = runtime_dir,
                             .kind = "nodejs:default",
                             .sandbox = true };
    inv_container_t *c = NULL;
    char err[256];
    if (inv_container_start(&c, &o, err, sizeof err) != 0)
        return NULL;
    inv_run_result r;
    if (inv_container_init(c, "function main(a){ console.log('w', a.i); return {i: a.i} }", "main",
                           false, TIMEOUT, LOGS, &r) == INV_OK) {
        for (int i = 0; i < 50; i++) {
            inv_run_result_free(&r);
            char line[128], want[32], buf[32];
            snprintf(line, sizeof line, "{\"value\":{\"i\":%d},\"activation_id\":\"w%d\"}",
                     w->id * 1000 + i, w->id);
            snprintf(want, sizeof want, "%d", w->id * 1000 + i);
            if (inv_container_run(c, line, TIMEOUT, LOGS, &r) == INV_OK &&
                strcmp(field(r.result, "i", buf, sizeof buf), want) == 0 && r.nlogs == 1)
                w->ok++;
        }
    }
    inv_run_result_free(&r);
    inv_container_destroy(c);
    return NULL;
}

static void test_threads(void)
{
    enum { N = 4 };
    pthread_t t[N];
    struct worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){ .id = i + 1 };
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].ok == 50, "worker %d: %d/50 runs right", i, w[i].ok);
    }
}

/* ---------------------------------------------------------------- runtimes, limits */

static inv_sandbox_t *sb; /* cgroups + seccomp (NULL when this host gives none) */

#ifndef SQ_NATIVE_LAUNCHER
#define SQ_NATIVE_LAUNCHER ""
#endif
/* the launcher to use: SQ_NATIVE_LAUNCHER, or its staged copy (main) */
static char native_launcher[PATH_MAX] = SQ_NATIVE_LAUNCHER;

static inv_container_t *start_kind(const char *kind, int memory_mb, bool with_sb)
{
    inv_container_opts o = { .runtime_dir = runtime_dir,
                             .kind = kind,
                             .memory_mb = memory_mb,
                             .sandbox = true,
                             .sb = with_sb ? sb : NULL,
                             .native_launcher = native_launcher };
    inv_container_t *c = NULL;
    char err[256] = "";
    int rc = inv_container_start(&c, &o, err, sizeof err);
    CHECK(rc == 0 && c, "start %s: %s", kind, err);
    return c;
}

static inv_container_t *ready_kind(const char *kind, const char *code, bool binary, bool actionloop,
                                   int conc, int memory_mb, bool with_sb)
{
    inv_container_t *c = start_kind(kind, memory_mb, with_sb);
    if (!c)
        return NULL;
    inv_run_result r;
    inv_init_opts io = { .code = code,
                         .binary = binary,
                         .actionloop = actionloop,
                         .concurrency = conc,
                         .memory_mb = memory_mb };
    inv_outcome oc = inv_container_init_ex(c, &io, TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OK, "init %s: %s %s", kind, inv_outcome_str(oc), res(&r));
    if (oc != INV_OK)
        dump_logs(&r);
    inv_run_result_free(&r);
    if (oc != INV_OK) {
        inv_container_destroy(c);
        return NULL;
    }
    return c;
}

static char *b64(const void *data, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    char *out = malloc(n / 3 * 4 + 5), *o = out;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        *o++ = a[(v >> 6) & 63];
        *o++ = a[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        *o++ = i + 1 < n ? a[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

/* A base64 zip of name/content pairs (NULL-terminated), made by python3's zipfile. Entries
 * named "*x" are made executable (the star dropped). */
static char *zip_b64(const char *const *files)
{
    char script[] = "/tmp/sq-zip-XXXXXX";
    int fd = mkstemp(script);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    fprintf(
        f,
        "import "
        "io,zipfile,base64,sys\nb=io.BytesIO()\nz=zipfile.ZipFile(b,'w',zipfile.ZIP_DEFLATED)\n");
    for (int i = 0; files[i]; i += 2) {
        bool x = files[i][0] == '*';
        char *code = b64(files[i + 1], strlen(files[i + 1]));
        fprintf(f,
                "i=zipfile.ZipInfo(%s'%s')\ni.external_attr=(0o%o<<16)\ni.compress_type=zipfile."
                "ZIP_DEFLATED\n"
                "z.writestr(i,base64.b64decode('%s'))\n",
                "", files[i] + (x ? 1 : 0), x ? 0755 : 0644, code);
        free(code);
    }
    fprintf(f, "z.close()\nsys.stdout.write(base64.b64encode(b.getvalue()).decode())\n");
    fclose(f);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "python3 %s", script);
    FILE *p = popen(cmd, "r");
    char *out = calloc(1, 1 << 20);
    size_t n = p && out ? fread(out, 1, (1 << 20) - 1, p) : 0;
    if (p)
        pclose(p);
    unlink(script);
    if (out)
        out[n] = '\0';
    return out;
}

static bool has_log(const inv_run_result *r, const char *stream, const char *text)
{
    for (size_t i = 0; i < r->nlogs; i++)
        if (log_is(r->logs[i], stream, text))
            return true;
    return false;
}

static void test_python(void)
{
    char buf[512];
    inv_run_result r;
    inv_container_t *c = ready_kind("python:3",
                                    "import os, sys\n"
                                    "def main(args):\n"
                                    "    print('hello from python')\n"
                                    "    print('to stderr', file=sys.stderr)\n"
                                    "    if args.get('boom'): raise ValueError('bad input')\n"
                                    "    if args.get('num'): return 42\n"
                                    "    if args.get('err'): return {'error': 'app'}\n"
                                    "    return {'greeting': 'hi ' + args.get('name', 'world'), "
                                    "'id': os.environ.get('__OW_ACTIVATION_ID'),\n"
                                    "            'ns': os.environ.get('__OW_NAMESPACE')}\n",
                                    false, false, 1, 128, false);
    if (!c)
        return;
    inv_outcome oc = run(c, "{\"name\":\"py\"}", "pyid1", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OK, "python run: %s %s", inv_outcome_str(oc), res(&r));
    CHECK(strcmp(field(r.result, "greeting", buf, sizeof buf), "hi py") == 0, "%s", res(&r));
    CHECK(strcmp(field(r.result, "id", buf, sizeof buf), "pyid1") == 0, "%s", res(&r));
    CHECK(strcmp(field(r.result, "ns", buf, sizeof buf), "guest") == 0, "%s", res(&r));
    CHECK(r.nlogs == 2 && has_log(&r, "stdout", "hello from python") &&
              has_log(&r, "stderr", "to stderr"),
          "python logs (%zu)", r.nlogs);
    inv_run_result_free(&r);
    oc = run(c, "{\"boom\":true}", "pyid2", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_THROWN, "python raise: %s %s", inv_outcome_str(oc), res(&r));
    CHECK(strstr(field(r.result, "error", buf, sizeof buf), "bad input") != NULL, "%s", res(&r));
    inv_run_result_free(&r);
    oc = run(c, "{\"num\":true}", "pyid3", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_NOT_OBJECT, "python 42: %s", inv_outcome_str(oc));
    inv_run_result_free(&r);
    oc = run(c, "{\"err\":true}", "pyid4", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_APP_ERROR, "python app error: %s", inv_outcome_str(oc));
    inv_run_result_free(&r);
    CHECK(inv_container_alive(c), "python container died");
    inv_container_destroy(c);

    /* a zip with __main__.py and a module beside it */
    static const char *const files[] = {
        "__main__.py", "import helper\ndef main(args):\n    return {'v': helper.value()}\n",
        "helper.py", "def value():\n    return 'from helper'\n", NULL
    };
    char *zip = zip_b64(files);
    c = zip ? ready_kind("python:3", zip, true, false, 1, 128, false) : NULL;
    free(zip);
    if (!c)
        return;
    oc = run(c, "{}", "pyz", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OK && strcmp(field(r.result, "v", buf, sizeof buf), "from helper") == 0,
          "python zip: %s %s", inv_outcome_str(oc), res(&r));
    inv_run_result_free(&r);
    inv_container_destroy(c);
}

static void test_node_zip(void)
{
    char buf[512];
    inv_run_result r;
    static const char *const pj[] = {
        "package.json",
        "{\"name\":\"z\",\"main\":\"lib/entry.js\"}",
        "lib/entry.js",
        "const h = require('./helper'); exports.main = (a) => ({v: h(), n: a.n});",
        "lib/helper.js",
        "module.exports = () => 'zipped';",
        NULL
    };
    char *zip = zip_b64(pj);
    inv_container_t *c = zip ? ready_kind("nodejs:20", zip, true, false, 1, 128, false) : NULL;
    free(zip);
    if (c) {
        inv_outcome oc = run(c, "{\"n\":7}", "nz", TIMEOUT, LOGS, &r);
        CHECK(oc == INV_OK && strcmp(field(r.result, "v", buf, sizeof buf), "zipped") == 0,
              "node zip: %s %s", inv_outcome_str(oc), res(&r));
        inv_run_result_free(&r);
        inv_container_destroy(c);
    }
    static const char *const idx[] = { "index.js", "module.exports.main = () => ({idx: true});",
                                       NULL };
    zip = zip_b64(idx);
    c = zip ? ready_kind("nodejs:20", zip, true, false, 1, 128, false) : NULL;
    free(zip);
    if (c) {
        inv_outcome oc = run(c, "{}", "nz2", TIMEOUT, LOGS, &r);
        CHECK(oc == INV_OK && strstr(res(&r), "\"idx\":true"), "node zip index.js: %s", res(&r));
        inv_run_result_free(&r);
        inv_container_destroy(c);
    }
    /* an entry that climbs out of the code directory is refused */
    static const char *const evil[] = { "../escape.js", "x", "index.js", "exports.main=()=>({})",
                                        NULL };
    zip = zip_b64(evil);
    c = start_kind("nodejs:20", 128, false);
    if (c && zip) {
        inv_outcome oc = inv_container_init(c, zip, "main", true, TIMEOUT, LOGS, &r);
        CHECK(oc == INV_INIT_ERROR && strstr(res(&r), "outside"), "evil zip: %s %s",
              inv_outcome_str(oc), res(&r));
        inv_run_result_free(&r);
    }
    free(zip);
    inv_container_destroy(c);
}

static void test_native(void)
{
    char buf[512];
    inv_run_result r;
    if (!*native_launcher) {
        CHECK(false, "no native launcher built");
        return;
    }
    /* blackbox: a shell script as text; argv[1] is the value; the last line is the result */
    inv_container_t *c =
        ready_kind("native",
                   "#!/bin/sh\n"
                   "echo \"log line\"\n"
                   "echo \"to stderr\" >&2\n"
                   "echo \"{\\\"arg\\\":$1,\\\"id\\\":\\\"$__OW_ACTIVATION_ID\\\"}\"\n",
                   false, false, 1, 128, false);
    if (c) {
        for (int i = 0; i < 2; i++) {
            inv_outcome oc = run(c, "{\"x\":1}", "natid", TIMEOUT, LOGS, &r);
            CHECK(oc == INV_OK, "native run %d: %s %s", i, inv_outcome_str(oc), res(&r));
            CHECK(strcmp(field(r.result, "id", buf, sizeof buf), "natid") == 0, "%s", res(&r));
            CHECK(strcmp(field(r.result, "arg", buf, sizeof buf), "{\"x\":1}") == 0, "%s", res(&r));
            CHECK(r.nlogs == 2 && has_log(&r, "stdout", "log line") &&
                      has_log(&r, "stderr", "to stderr"),
                  "native logs %zu", r.nlogs);
            if (r.nlogs != 2)
                dump_logs(&r);
            inv_run_result_free(&r);
        }
        inv_container_destroy(c);
    }
    /* binary: base64 of a script; the last line is not an object */
    const char *script = "#!/bin/sh\necho 'not json'\n";
    char *code = b64(script, strlen(script));
    c = ready_kind("native", code, true, false, 1, 128, false);
    free(code);
    if (c) {
        inv_outcome oc = run(c, "{}", "nat2", TIMEOUT, LOGS, &r);
        CHECK(oc == INV_THROWN && strstr(res(&r), "did not return a dictionary"),
              "native not json: %s %s", inv_outcome_str(oc), res(&r));
        CHECK(has_log(&r, "stdout", "not json"), "the bad line is logged");
        inv_run_result_free(&r);
        CHECK(inv_container_alive(c), "a bad result line kills a native container");
        inv_container_destroy(c);
    }
    /* a zip holding exec */
    static const char *const zf[] = { "*exec",
                                      "#!/bin/sh\n. ./lib.sh\necho \"{\\\"z\\\":\\\"$(v)\\\"}\"\n",
                                      "lib.sh", "v() { echo zipped; }\n", NULL };
    char *zip = zip_b64(zf);
    c = zip ? ready_kind("native", zip, true, false, 1, 128, false) : NULL;
    free(zip);
    if (c) {
        inv_outcome oc = run(c, "{}", "nat3", TIMEOUT, LOGS, &r);
        CHECK(oc == INV_OK && strcmp(field(r.result, "z", buf, sizeof buf), "zipped") == 0,
              "native zip: %s %s", inv_outcome_str(oc), res(&r));
        inv_run_result_free(&r);
        inv_container_destroy(c);
    }
    /* actionloop: a python program that acks, then answers line by line and keeps state */
    c = ready_kind(
        "native",
        "#!/usr/bin/python3\n"
        "import os, sys, json\n"
        "out = os.fdopen(3, 'w')\n"
        "if os.environ.get('__OW_WAIT_FOR_ACK'): out.write('{\"ok\":true}\\n'); out.flush()\n"
        "n = 0\n"
        "for line in sys.stdin:\n"
        "    m = json.loads(line); n += 1\n"
        "    print('loop log', n, flush=True)\n"
        "    out.write(json.dumps({'n': n, 'id': m['activation_id'], 'v': m['value']}) + '\\n'); "
        "out.flush()\n",
        false, true, 1, 128, false);
    if (c) {
        for (int i = 1; i <= 3; i++) {
            inv_outcome oc = run(c, "{\"a\":1}", "loopid", TIMEOUT, LOGS, &r);
            snprintf(buf, sizeof buf, "loop log %d", i);
            CHECK(oc == INV_OK && strstr(res(&r), "\"id\": \"loopid\"") &&
                      has_log(&r, "stdout", buf),
                  "actionloop run %d: %s %s", i, inv_outcome_str(oc), res(&r));
            char want[32];
            snprintf(want, sizeof want, "\"n\": %d", i);
            CHECK(strstr(res(&r), want) != NULL, "actionloop keeps its state: %s", res(&r));
            inv_run_result_free(&r);
        }
        inv_container_destroy(c);
    }
}

/* Several activations at once in one nodejs container, each with its own logs. */
struct conc_arg {
    inv_container_t *c;
    int n;
    bool ok;
};

static void *conc_main(void *p)
{
    struct conc_arg *a = p;
    char value[64], id[32], want1[64], want2[64];
    snprintf(value, sizeof value, "{\"n\":%d}", a->n);
    snprintf(id, sizeof id, "conc%d", a->n);
    snprintf(want1, sizeof want1, "start %d", a->n);
    snprintf(want2, sizeof want2, "end %d", a->n);
    inv_run_result r;
    inv_outcome oc = run(a->c, value, id, TIMEOUT, LOGS, &r);
    char buf[64];
    a->ok = oc == INV_OK && atoi(field(r.result, "n", buf, sizeof buf)) == a->n && r.nlogs == 2 &&
            has_log(&r, "stdout", want1) && has_log(&r, "stdout", want2);
    if (!a->ok) {
        fprintf(stderr, "conc %d: %s %s\n", a->n, inv_outcome_str(oc), res(&r));
        dump_logs(&r);
    }
    inv_run_result_free(&r);
    return NULL;
}

static void test_concurrency(void)
{
    enum { N = 4 };
    inv_container_t *c = ready_kind("nodejs:20",
                                    "async function main(a) { console.log('start', a.n); await new "
                                    "Promise(r => setTimeout(r, 300));"
                                    " console.log('end', a.n); return {n: a.n}; }",
                                    false, false, N, 128, false);
    if (!c)
        return;
    CHECK(inv_container_concurrency(c) == N, "concurrency %d", inv_container_concurrency(c));
    pthread_t t[N];
    struct conc_arg a[N];
    double t0 = now_ms();
    for (int i = 0; i < N; i++) {
        a[i] = (struct conc_arg){ .c = c, .n = i + 1 };
        pthread_create(&t[i], NULL, conc_main, &a[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        CHECK(a[i].ok, "concurrent activation %d", i + 1);
    }
    double ms = now_ms() - t0;
    CHECK(ms < 280.0 * N, "%d activations of 300 ms took %.0f ms: not concurrent", N, ms);
    CHECK(inv_container_alive(c), "concurrent container died");
    /* a timeout destroys it, as for a single activation */
    inv_run_result r;
    inv_outcome oc = run(c, "{\"n\":9}", "conc-to", 100, LOGS, &r);
    CHECK(oc == INV_TIMEOUT, "concurrent timeout: %s", inv_outcome_str(oc));
    inv_run_result_free(&r);
    CHECK(!inv_container_alive(c), "alive after a timeout");
    inv_container_destroy(c);
}

static void test_fd3_garbage(void)
{
    inv_run_result r;
    inv_container_t *c = ready(
        "function main(a){ require('fs').writeSync(3, 'garbage\\n'); return {ok: true} }", true);
    if (!c)
        return;
    inv_outcome oc = run(c, "{}", "g1", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_CRASH && strstr(res(&r), "valid JSON"), "garbage: %s %s", inv_outcome_str(oc),
          res(&r));
    inv_run_result_free(&r);
    CHECK(!inv_container_alive(c), "alive after garbage on fd 3");
    inv_container_destroy(c);
    /* a well-formed extra line: the protocol is out of step, the container goes */
    c = ready(
        "function main(a){ require('fs').writeSync(3, '{\"fake\":1}\\n'); return {ok: true} }",
        true);
    if (!c)
        return;
    oc = run(c, "{}", "g2", TIMEOUT, LOGS, &r);
    inv_run_result_free(&r);
    CHECK(!inv_container_alive(c), "alive after two lines on fd 3");
    inv_container_destroy(c);
}

/* Memory, pids, nofile and seccomp: only where this host gives the invoker cgroups. */
static void test_limits(void)
{
    if (!sb || inv_sandbox_cgroup_mode(sb) == INV_CG_NONE) {
        fprintf(stderr, "  (no cgroups here: memory and pids limits not checked)\n");
    } else {
        inv_run_result r;
        inv_container_t *c =
            ready_kind("nodejs:20",
                       "const keep = []; function main(a) { for (let i = 0; i < 100; i++) "
                       "keep.push(Buffer.alloc(16 << 20, 1)); return {survived: true}; }",
                       false, false, 1, 128, true);
        if (c) {
            int64_t used = inv_container_memory_bytes(c);
            CHECK(used > 0 && used < (128LL << 20), "cgroup charge %lld", (long long)used);
            inv_outcome oc = run(c, "{}", "oom", TIMEOUT, LOGS, &r);
            CHECK(oc == INV_OOM && strstr(res(&r), "exhausted its memory"), "oom: %s %s",
                  inv_outcome_str(oc), res(&r));
            inv_run_result_free(&r);
            CHECK(!inv_container_alive(c), "alive after an OOM kill");
            inv_container_destroy(c);
        }
        /* a fork bomb meets pids.max */
        c = ready_kind("python:3",
                       "import os, time\n"
                       "def main(a):\n"
                       "    n = 0\n"
                       "    try:\n"
                       "        for i in range(2000):\n"
                       "            if os.fork() == 0:\n"
                       "                time.sleep(30); os._exit(0)\n"
                       "            n += 1\n"
                       "    except OSError as e:\n"
                       "        return {'forked': n, 'err': str(e)}\n"
                       "    return {'forked': n}\n",
                       false, false, 1, 256, true);
        if (c) {
            char buf[256];
            inv_outcome oc = run(c, "{}", "bomb", TIMEOUT, LOGS, &r);
            int forked = atoi(field(r.result, "forked", buf, sizeof buf));
            CHECK(oc == INV_OK && forked > 0 && forked < 256, "fork bomb: %s %s",
                  inv_outcome_str(oc), res(&r));
            inv_run_result_free(&r);
            pid_t pid = inv_container_pid(c);
            inv_container_destroy(c);
            CHECK(pid_gone(pid), "fork bomb sandbox left");
        }
    }
    /* nofile and seccomp hold with or without cgroups */
    inv_run_result r;
    inv_container_t *c =
        ready_kind("python:3",
                   "import ctypes, errno, resource\n"
                   "libc = ctypes.CDLL(None, use_errno=True)\n"
                   "def call(nr, *args):\n"
                   "    ctypes.set_errno(0)\n"
                   "    rc = libc.syscall(nr, *args)\n"
                   "    return 'ok' if rc >= 0 else errno.errorcode.get(ctypes.get_errno(), '?')\n"
                   "def main(a):\n"
                   "    return {'nofile': list(resource.getrlimit(resource.RLIMIT_NOFILE)),\n"
                   "            'ptrace': call(101, 0, 0, 0, 0), 'mount': call(165, b'none', "
                   "b'/tmp', b'tmpfs', 0, 0),\n"
                   "            'unshare': call(272, 0x10000000), 'bpf': call(321, 0, 0, 0), "
                   "'io_uring': call(425, 1, 0),\n"
                   "            'keyctl': call(250, 0, 0, 0, 0), 'getpid': call(39)}\n",
                   false, false, 1, 128, true);
    if (c) {
        char buf[256];
        inv_outcome oc = run(c, "{}", "sc", TIMEOUT, LOGS, &r);
        CHECK(oc == INV_OK, "seccomp probe: %s %s", inv_outcome_str(oc), res(&r));
        CHECK(strcmp(field(r.result, "nofile", buf, sizeof buf), "[1024,1024]") == 0, "nofile: %s",
              res(&r));
        CHECK(strcmp(field(r.result, "getpid", buf, sizeof buf), "ok") == 0, "getpid: %s", res(&r));
        if (sb) {
            static const char *const eperm[] = { "ptrace", "mount", "unshare", "bpf", "keyctl" };
            for (size_t i = 0; i < sizeof eperm / sizeof eperm[0]; i++)
                CHECK(strcmp(field(r.result, eperm[i], buf, sizeof buf), "EPERM") == 0, "%s: %s",
                      eperm[i], res(&r));
            CHECK(strcmp(field(r.result, "io_uring", buf, sizeof buf), "ENOSYS") == 0,
                  "io_uring: %s", res(&r));
        }
        inv_run_result_free(&r);
        inv_container_destroy(c);
    }
}

/* The cgroup freezer: a frozen container's background timer makes no progress, a thawed one
 * serves again, and destroying a frozen container leaves nothing behind. */
static void test_freeze(void)
{
    if (!inv_sandbox_can_freeze(sb)) {
        fprintf(stderr, "  (no cgroup freezer here: not checked)\n");
        return;
    }
    inv_run_result r;
    char buf[64];
    inv_container_t *c = ready_kind("nodejs:20",
                                    "let n = 0, t = null; function main(a) { if (!t) t = "
                                    "setInterval(() => n++, 5); return {n}; }",
                                    false, false, 1, 256, true);
    if (!c)
        return;
    CHECK(!inv_container_frozen(c), "frozen at start");
    inv_outcome oc = run(c, "{}", "f1", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OK, "first run: %s %s", inv_outcome_str(oc), res(&r));
    inv_run_result_free(&r);
    /* running: the timer ticks */
    usleep(300 * 1000);
    oc = run(c, "{}", "f2", TIMEOUT, LOGS, &r);
    int running = atoi(field(r.result, "n", buf, sizeof buf));
    CHECK(oc == INV_OK && running >= 20, "the timer did not run while thawed: %s", res(&r));
    inv_run_result_free(&r);
    /* frozen: it does not */
    CHECK(inv_container_freeze(c, true) == 0 && inv_container_frozen(c), "freeze failed");
    usleep(50 * 1000); /* freezing is asynchronous */
    oc = INV_OK;
    CHECK(inv_container_freeze(c, false) == 0, "thaw failed");
    oc = run(c, "{}", "f3", TIMEOUT, LOGS, &r);
    int before = atoi(field(r.result, "n", buf, sizeof buf));
    inv_run_result_free(&r);
    CHECK(inv_container_freeze(c, true) == 0, "freeze failed");
    usleep(600 * 1000);
    CHECK(inv_container_freeze(c, false) == 0 && !inv_container_frozen(c), "thaw failed");
    oc = run(c, "{}", "f4", TIMEOUT, LOGS, &r);
    int after = atoi(field(r.result, "n", buf, sizeof buf));
    CHECK(oc == INV_OK, "run after thaw: %s %s", inv_outcome_str(oc), res(&r));
    CHECK(after - before <= 5, "the timer ran %d times in 600 ms while frozen", after - before);
    inv_run_result_free(&r);
    /* destroyed while frozen: nothing left */
    CHECK(inv_container_freeze(c, true) == 0, "freeze failed");
    usleep(20 * 1000);
    pid_t pid = inv_container_pid(c);
    inv_container_destroy(c);
    CHECK(pid_gone(pid), "a frozen sandbox outlived its destruction");
}

int main(void)
{
    const char *dir = getenv("SQ_RUNTIME_DIR");
    if (dir && *dir) {
        snprintf(runtime_dir, sizeof runtime_dir, "%s", dir);
    } else {
#ifdef SQ_SOURCE_DIR
        snprintf(runtime_dir, sizeof runtime_dir, "%s/services/invoker/runtimes", SQ_SOURCE_DIR);
#else
        /* <repo>/test/unit/container_test.c -> <repo>/services/invoker/runtimes */
        const char *cut = strstr(__FILE__, "test/unit/container_test.c");
        int n = cut ? (int)(cut - __FILE__) : 0;
        snprintf(runtime_dir, sizeof runtime_dir, "%.*s%sservices/invoker/runtimes", n, __FILE__,
                 n > 0 ? "" : "./");
#endif
    }
    /* As the invoker: a root test runs bwrap as nobody, who may not reach the tree (a clone
   * in a private home); the runtimes are copied where it can. */
    char staged[PATH_MAX] = "";
    if (geteuid() == 0) {
        char serr[512];
        if (inv_runtime_stage(runtime_dir, native_launcher, staged, sizeof staged, native_launcher,
                              sizeof native_launcher, serr, sizeof serr) != 0) {
            fprintf(stderr, "cannot stage the runtimes: %s\n", serr);
            return 1;
        }
        snprintf(runtime_dir, sizeof runtime_dir, "%s", staged);
    }
    /* Secrets in the invoker's environment must not reach actions. */
    setenv("NODE_EXTRA_CA_CERTS", "/etc/hosts", 1);
    setenv("SQ_SECRET_FOR_TEST", "hunter2", 1);

    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        { "plain", test_plain },
        { "logs_and_reuse", test_logs_and_reuse },
        { "init_logs", test_init_logs },
        { "forms", test_forms },
        { "outcomes", test_outcomes },
        { "init_errors", test_init_errors },
        { "timeout", test_timeout },
        { "crash", test_crash },
        { "destroy_kills_everything", test_destroy_kills_everything },
        { "isolation", test_isolation },
        { "log_limit", test_log_limit },
        { "big_payloads", test_big_payloads },
        { "bare", test_bare },
        { "misuse", test_misuse },
        { "no_fd_leak", test_no_fd_leak },
        { "threads", test_threads },
        { "python", test_python },
        { "node_zip", test_node_zip },
        { "native", test_native },
        { "concurrency", test_concurrency },
        { "fd3_garbage", test_fd3_garbage },
        { "limits", test_limits },
        { "freeze", test_freeze },
    };
    char describe[2048], err[256];
    if (inv_sandbox_create(&sb, "container-test", 256, describe, sizeof describe, err,
                           sizeof err) != 0) {
        fprintf(stderr, "no sandbox policy: %s\n", err);
        failed++;
    } else {
        fprintf(stderr, "sandbox: %s\n", describe);
    }
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int before = failed;
        double t0 = now_ms();
        tests[i].fn();
        fprintf(stderr, "%-26s %s (%.0f ms)\n", tests[i].name, failed == before ? "ok" : "FAILED",
                now_ms() - t0);
    }
    inv_sandbox_destroy(sb);
    if (*staged)
        inv_runtime_unstage(staged);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
