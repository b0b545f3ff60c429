/* Unit test of the container module, second part (see container_test.c for the first and
 * main): log limits, big payloads, bare containers, misuse, fd leaks, threads; the python
 * and native runtimes, node code as a zip, concurrent containers, fd 3 garbage, the cgroup
 * limits (memory, pids) and the freezer. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "container_test.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
/* ---------------------------------------------------------------- logs, sizes, threads */

void test_log_limit(void)
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

void test_big_payloads(void)
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

void test_bare(void)
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

void test_misuse(void)
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

void test_no_fd_leak(void)
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

void test_threads(void)
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

inv_container_t *ready_kind(const char *kind, const char *code, bool binary, bool actionloop,
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

/* One run of value in a container of kind given a zip of files (name/content pairs, as
 * zip_b64) as its code, then the container destroyed: the outcome in *oc and the result in
 * *r (the caller frees it). False when nothing ran: no zip (python3 is missing) or no ready
 * container (a check has failed then). */
static bool zip_run(const char *kind, const char *const *files, const char *value,
                    const char *activation_id, inv_outcome *oc, inv_run_result *r)
{
    char *zip = zip_b64(files);
    inv_container_t *c = zip ? ready_kind(kind, zip, true, false, 1, 128, false) : NULL;
    free(zip);
    if (!c)
        return false;
    *oc = run(c, value, activation_id, TIMEOUT, LOGS, r);
    inv_container_destroy(c);
    return true;
}

static bool has_log(const inv_run_result *r, const char *stream, const char *text)
{
    for (size_t i = 0; i < r->nlogs; i++)
        if (log_is(r->logs[i], stream, text))
            return true;
    return false;
}

void test_python(void)
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
    if (!zip_run("python:3", files, "{}", "pyz", &oc, &r))
        return;
    CHECK(oc == INV_OK && strcmp(field(r.result, "v", buf, sizeof buf), "from helper") == 0,
          "python zip: %s %s", inv_outcome_str(oc), res(&r));
    inv_run_result_free(&r);
}

void test_node_zip(void)
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
    inv_outcome oc;
    if (zip_run("nodejs:20", pj, "{\"n\":7}", "nz", &oc, &r)) {
        CHECK(oc == INV_OK && strcmp(field(r.result, "v", buf, sizeof buf), "zipped") == 0,
              "node zip: %s %s", inv_outcome_str(oc), res(&r));
        inv_run_result_free(&r);
    }
    static const char *const idx[] = { "index.js", "module.exports.main = () => ({idx: true});",
                                       NULL };
    if (zip_run("nodejs:20", idx, "{}", "nz2", &oc, &r)) {
        CHECK(oc == INV_OK && strstr(res(&r), "\"idx\":true"), "node zip index.js: %s", res(&r));
        inv_run_result_free(&r);
    }
    /* an entry that climbs out of the code directory is refused */
    static const char *const evil[] = { "../escape.js", "x", "index.js", "exports.main=()=>({})",
                                        NULL };
    char *zip = zip_b64(evil);
    inv_container_t *c = start_kind("nodejs:20", 128, false);
    if (c && zip) {
        oc = inv_container_init(c, zip, "main", true, TIMEOUT, LOGS, &r);
        CHECK(oc == INV_INIT_ERROR && strstr(res(&r), "outside"), "evil zip: %s %s",
              inv_outcome_str(oc), res(&r));
        inv_run_result_free(&r);
    }
    free(zip);
    inv_container_destroy(c);
}

void test_native(void)
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
    inv_outcome oc;
    if (zip_run("native", zf, "{}", "nat3", &oc, &r)) {
        CHECK(oc == INV_OK && strcmp(field(r.result, "z", buf, sizeof buf), "zipped") == 0,
              "native zip: %s %s", inv_outcome_str(oc), res(&r));
        inv_run_result_free(&r);
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
            oc = run(c, "{\"a\":1}", "loopid", TIMEOUT, LOGS, &r);
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

void test_concurrency(void)
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

void test_fd3_garbage(void)
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

/* The cgroup of pid in the v1 hierarchy of controller ctl ("memory", "pids", "freezer"),
 * or on v2 the one of "0::", into out; false when it has none. */
static bool cgroup_of(pid_t pid, const char *ctl, char *out, size_t len)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
    FILE *f = fopen(path, "r");
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f)) {
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b)
            continue;
        *b = '\0';
        b[1 + strcspn(b + 1, "\n")] = '\0';
        found = b == a + 1 || strcmp(a + 1, ctl) == 0;
        if (found)
            snprintf(out, len, "%s", b + 1);
    }
    if (f)
        fclose(f);
    return found;
}

/* pids (pids[0] the root) share one cgroup per controller, none of them ours. */
static void check_cgroups(const int *pids, int n)
{
    static const char *const ctls[] = { "memory", "pids", "freezer" };
    for (size_t k = 0; k < sizeof ctls / sizeof ctls[0]; k++) {
        char ours[1024], first[1024], cg[1024];
        if (!cgroup_of(getpid(), ctls[k], ours, sizeof ours) ||
            !cgroup_of(pids[0], ctls[k], first, sizeof first))
            continue;
        CHECK(strcmp(first, ours) != 0, "process 0 is in our %s cgroup %s", ctls[k], ours);
        for (int i = 1; i < n; i++)
            CHECK(cgroup_of(pids[i], ctls[k], cg, sizeof cg) && strcmp(cg, first) == 0,
                  "process %d is in %s cgroup %s, not %s", i, ctls[k], cg, first);
    }
}

/* Every process of a started sandbox (bwrap, its child, the runtime) is in the container's
 * own cgroups, not in ours, before any code was sent: tenant code never runs outside them. */
static void check_sandbox_cgroups(inv_container_t *c)
{
    int pids[32], n = 1;
    pids[0] = inv_container_pid(c);
    for (int i = 0, m; i < n && (m = inv_proc_children(pids[i], pids, n, 32)) >= 0; i++)
        n = m;
    CHECK(n >= 3, "%d processes in a started sandbox", n);
    check_cgroups(pids, n);
}

/* inv_cg_attach_tree(): a process, its child and grandchild, all forked before the move,
 * end up in the container's cgroups (the invoker moves a starting sandbox in this way). */
void test_attach_tree(void)
{
    inv_cg_t cg;
    char err[256] = "";
    if (!sb || inv_sandbox_cgroup_mode(sb) == INV_CG_NONE) {
        fprintf(stderr, "  (no cgroups here: not checked)\n");
        return;
    }
    int p[2];
    CHECK(inv_cg_create(sb, &cg, 64, err, sizeof err) == 0 && pipe(p) == 0, "cgroup: %s", err);
    pid_t pids[3];
    pids[0] = fork();
    if (pids[0] == 0) {
        setpgid(0, 0);
        if (fork() == 0 && fork() == 0) { /* the grandchild reports both */
            pid_t got[2] = { getppid(), getpid() };
            if (write(p[1], got, sizeof got) != (ssize_t)sizeof got)
                _exit(1);
        }
        pause();
        _exit(0);
    }
    setpgid(pids[0], pids[0]);
    CHECK(read(p[0], pids + 1, 2 * sizeof(pid_t)) == 2 * (ssize_t)sizeof(pid_t), "no grandchild");
    CHECK(inv_cg_attach(&cg, pids[0]) == 0 && inv_cg_attach_tree(&cg, pids[0]) == 0, "attach: %s",
          strerror(errno));
    check_cgroups(pids, 3);
    kill(-pids[0], SIGKILL);
    waitpid(pids[0], NULL, 0);
    close(p[0]);
    close(p[1]);
    inv_cg_destroy(&cg);
}

/* A cold node container: all of it in its cgroups, its start-up charged, an OOM kill at the
 * limit. */
static void memory_limit(void)
{
    inv_run_result r;
    inv_container_t *c =
        ready_kind("nodejs:20",
                   "const keep = []; function main(a) { for (let i = 0; i < 100; i++) "
                   "keep.push(Buffer.alloc(16 << 20, 1)); return {survived: true}; }",
                   false, false, 1, 128, true);
    if (!c)
        return;
    check_sandbox_cgroups(c);
    /* the runtime's own heap is charged too (node: well over 4 MiB) */
    int64_t used = inv_container_memory_bytes(c);
    CHECK(used > (4LL << 20) && used < (128LL << 20), "cgroup charge %lld", (long long)used);
    inv_outcome oc = run(c, "{}", "oom", TIMEOUT, LOGS, &r);
    CHECK(oc == INV_OOM && strstr(res(&r), "exhausted its memory"), "oom: %s %s",
          inv_outcome_str(oc), res(&r));
    inv_run_result_free(&r);
    CHECK(!inv_container_alive(c), "alive after an OOM kill");
    inv_container_destroy(c);
}

/* The same with the other way of joining (v2's default on v1, and v1's on v2): the invoker
 * moves bwrap's processes in while the sandbox is built, the runtime waits for it. */
void test_limits_by_parent(void)
{
    if (!sb || inv_sandbox_cgroup_mode(sb) == INV_CG_NONE) {
        fprintf(stderr, "  (no cgroups here: not checked)\n");
        return;
    }
    bool v2 = inv_sandbox_cgroup_mode(sb) == INV_CG_V2;
    inv_sandbox_set_attach(sb, !v2);
    memory_limit();
    inv_sandbox_set_attach(sb, v2);
}

/* A python:3 container of code under the sandbox's cgroups and seccomp (memory_mb), ready,
 * and one run of {} in it: the container (NULL, with a failed check, when it is not ready),
 * the outcome in *oc and the result in *r (the caller frees it). */
static inv_container_t *python_run(const char *code, int memory_mb, const char *activation_id,
                                   inv_outcome *oc, inv_run_result *r)
{
    inv_container_t *c = ready_kind("python:3", code, false, false, 1, memory_mb, true);
    if (c)
        *oc = run(c, "{}", activation_id, TIMEOUT, LOGS, r);
    return c;
}

/* Memory, pids, nofile and seccomp: only where this host gives the invoker cgroups. */
void test_limits(void)
{
    char buf[256];
    inv_outcome oc;
    inv_run_result r;

    if (!sb || inv_sandbox_cgroup_mode(sb) == INV_CG_NONE) {
        fprintf(stderr, "  (no cgroups here: memory and pids limits not checked)\n");
    } else {
        memory_limit();
        /* a fork bomb meets pids.max */
        inv_container_t *c = python_run("import os, time\n"
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
                                        256, "bomb", &oc, &r);
        if (c) {
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
    inv_container_t *c =
        python_run("import ctypes, errno, resource\n"
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
                   128, "sc", &oc, &r);
    if (c) {
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
void test_freeze(void)
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
