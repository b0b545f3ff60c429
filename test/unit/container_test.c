/* Unit test of the invoker's container module (services/invoker/container*.c) against the
 * real Node.js launcher under bubblewrap: init and run, the four result shapes, logs (format,
 * order, no leaks between activations), timeouts and crashes (and that the sandbox is really
 * gone), the isolation the sandbox promises; container_test_kinds.c holds the rest (log
 * limits, threads, the other runtimes, concurrency, cgroup limits, the freezer) and
 * container_test.h what both share. main runs them all.
 *
 * Needs /usr/bin/bwrap and /usr/bin/node. SQ_RUNTIME_DIR names the runtimes directory
 * (default: <repo>/services/invoker/runtimes). Prints "N passed, M failed"; exits non-zero
 * on any failure. Built by test/CMakeLists.txt (target container_test, linking the invoker's
 * invcontainer library).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "container_test.h"

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

CHECK_DEFINE_COUNTERS;
char runtime_dir[PATH_MAX];
inv_sandbox_t *sb;

#ifndef SQ_NATIVE_LAUNCHER
#define SQ_NATIVE_LAUNCHER ""
#endif
char native_launcher[PATH_MAX] = SQ_NATIVE_LAUNCHER;

double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

const char *res(const inv_run_result *r)
{
    return r->result ? r->result : "(null)";
}

inv_container_t *start(bool sandbox)
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

inv_container_t *start_init(bool sandbox, const char *code, const char *main, bool binary,
                            int timeout_ms, inv_outcome *oc, inv_run_result *r)
{
    inv_container_t *c = start(sandbox);
    if (c)
        *oc = inv_container_init(c, code, main, binary, timeout_ms, LOGS, r);
    return c;
}

/* Starts and initialises a container with code; NULL (and a failed check) if init fails. */
inv_container_t *ready(const char *code, bool sandbox)
{
    inv_run_result r;
    inv_outcome oc;
    inv_container_t *c = start_init(sandbox, code, "main", false, TIMEOUT, &oc, &r);
    if (!c)
        return NULL;
    CHECK(oc == INV_OK, "init: %s %s", inv_outcome_str(oc), res(&r));
    inv_run_result_free(&r);
    if (oc != INV_OK) {
        inv_container_destroy(c);
        return NULL;
    }
    return c;
}

inv_container_t *ready_run(const char *code, const char *value, const char *activation_id,
                           inv_run_result *r)
{
    inv_container_t *c = ready(code, true);
    if (c) {
        inv_outcome oc = run(c, value, activation_id, TIMEOUT, LOGS, r);
        CHECK(oc == INV_OK, "run %s: %s %s", activation_id, inv_outcome_str(oc), res(r));
    }
    return c;
}

/* Runs one activation with the given value (a JSON object text). */
inv_outcome run(inv_container_t *c, const char *value, const char *activation_id, int timeout_ms,
                size_t log_limit, inv_run_result *r)
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
const char *field(const char *json, const char *key, char *buf, size_t n)
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
bool log_is(const char *line, const char *stream, const char *text)
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

void dump_logs(const inv_run_result *r)
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
bool pid_gone(pid_t pid)
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
    inv_run_result r;
    char buf[256];
    inv_container_t *c =
        ready_run("function main(a){return {hello: a.name}}", "{\"name\":\"squall\"}", "a1", &r);
    if (!c)
        return;
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
    inv_run_result r;
    inv_outcome oc;
    char buf[256];
    inv_container_t *c = ready_run(
        "console.log('loading');\n"
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
        "{\"n\":1}", "act-1", &r);
    if (!c)
        return;
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
    inv_run_result r;
    inv_outcome oc;
    inv_container_t *c = start_init(
        true, "console.log('loading'); console.error('warming'); exports.main = () => ({})", "main",
        false, TIMEOUT, &oc, &r);
    if (!c)
        return;
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

/* A nodejs stem cell warmed while it waits (as the pool does): the warm-up answers nothing
 * and keeps nothing — the init that follows is the first answer, with only its own logs,
 * the action sees no module, global or variable of the warm-up — and a container that has
 * its code takes no warm line. */
static void test_warm_stem(void)
{
    inv_container_t *c = start(true);
    if (!c)
        return;
    CHECK(inv_container_warm(c) == 0, "warm a fresh nodejs container");
    usleep(200 * 1000); /* the launcher has read and run it */
    inv_run_result r;
    inv_outcome oc = inv_container_init(
        c,
        "console.log('loading');\n"
        "function main(a){ return {n: a.n, g: typeof globalThis.main, ow: Object.keys(process.env)"
        ".filter(k => k.startsWith('__OW_WARM')).length, cached: "
        "Object.keys(require.cache).filter(k => k.startsWith('/action')).length}; }",
        "main", false, TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OK, "init after the warm-up: %s %s", inv_outcome_str(oc), res(&r));
    CHECK(r.nlogs == 1 && log_is(r.logs[0], "stdout", "loading"), "init logs: %zu", r.nlogs);
    inv_run_result_free(&r);
    oc = run(c, "{\"n\":7}", "w1", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OK, "%s %s", inv_outcome_str(oc), res(&r));
    CHECK(r.result && strstr(r.result, "\"n\":7") && strstr(r.result, "\"g\":\"undefined\"") &&
              strstr(r.result, "\"ow\":0") && strstr(r.result, "\"cached\":0"),
          "the action's view after a warm-up: %s", res(&r));
    CHECK(r.nlogs == 0, "%zu run logs", r.nlogs);
    inv_run_result_free(&r);
    CHECK(inv_container_warm(c) == -1, "no warm line once the code is in");
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
        inv_run_result r;
        inv_outcome oc;
        inv_container_t *c =
            start_init(true, forms[i].code, forms[i].main, false, TIMEOUT, &oc, &r);
        if (!c)
            return;
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
        inv_run_result r;
        inv_outcome oc;
        inv_container_t *c =
            start_init(true, cases[i].code, cases[i].main, cases[i].binary, TIMEOUT, &oc, &r);
        if (!c)
            return;
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
    /* 300 ms, and a loaded machine's delay in noticing it */
    CHECK(took >= 299 && took < 1000, "took %.1f ms", took);
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
    c = start_init(true, "while (true) {}", "main", false, 300, &oc, &r);
    if (!c)
        return;
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
    c = start_init(true, "process.exit(3)", "main", false, TIMEOUT, &oc, &r);
    if (!c)
        return;
    CHECK(oc == INV_CRASH, "init exit: %s", inv_outcome_str(oc));
    CHECK(strcmp(field(r.result, "error", buf, sizeof buf),
                 "The action did not initialize and exited unexpectedly.") == 0,
          "%s", res(&r));
    inv_run_result_free(&r);
    inv_container_destroy(c);
}

static void test_destroy_kills_everything(void)
{
    inv_run_result r;
    inv_container_t *c = ready_run(
        "function main(a){ const cp = require('child_process');\n"
        "  const k = cp.spawn('/usr/bin/sleep', ['987.5'], {detached: true, stdio: 'ignore'});\n"
        "  k.unref(); return {pid: k.pid} }",
        "{}", "spawn", &r);
    if (!c)
        return;
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
    inv_run_result r;
    inv_container_t *c = ready_run(
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
        "{}", "iso", &r);
    if (!c)
        return;
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
        { "env", test_env },
        { "init_logs", test_init_logs },
        { "warm_stem", test_warm_stem },
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
        { "python_env", test_python_env },
        { "node_zip", test_node_zip },
        { "native", test_native },
        { "concurrency", test_concurrency },
        { "fd3_garbage", test_fd3_garbage },
        { "limits", test_limits },
        { "attach_tree", test_attach_tree },
        { "limits_by_parent", test_limits_by_parent },
        { "freeze", test_freeze },
    };
    char describe[2048], err[256];
    if (inv_sandbox_create(&sb, "container-test", 256, describe, sizeof describe, err,
                           sizeof err) != 0) {
        CHECK(false, "no sandbox policy: %s", err);
    } else {
        fprintf(stderr, "sandbox: %s\n", describe);
    }
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int before = check_failed_;
        double t0 = now_ms();
        tests[i].fn();
        fprintf(stderr, "%-26s %s (%.0f ms)\n", tests[i].name,
                check_failed_ == before ? "ok" : "FAILED", now_ms() - t0);
    }
    inv_sandbox_destroy(sb);
    if (*staged)
        inv_runtime_unstage(staged);
    return check_done();
}
