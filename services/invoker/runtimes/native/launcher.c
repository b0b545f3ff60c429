/* squall-native-launcher: the runtime of kind "native", speaking the invoker's actionloop
 * variant (runtimes/nodejs/launcher.js has the protocol) for an executable the user uploaded.
 * Bound read-only at /runtime/launcher inside the sandbox and run there as the container's
 * main process.
 *
 * init  {"init":{"code":"...","binary":true|false,"main":"...","actionloop":true?}}
 *       binary code is base64: a zip (unpacked into /action with libarchive; it must hold an
 *       executable "exec" at its root, OpenWhisk's docker-skeleton convention) or the
 *       executable itself (an ELF binary, or a script with a shebang); text code is a script.
 *       Either way the program is /action/exec, mode 0755.
 *
 * Two ways to run it:
 *   - blackbox (default; OpenWhisk's docker skeleton): per activation a new process
 *     `/action/exec '<the value as JSON>'` (also on its stdin; past 128 KiB only there), with
 *     __OW_API_HOST, __OW_API_KEY, __OW_NAMESPACE, __OW_ACTION_NAME, __OW_ACTIVATION_ID and
 *     __OW_DEADLINE in its environment. Its stderr and every line of its stdout but the last
 *     are the logs; the last line of stdout is the result (a JSON object, else "The action
 *     did not return a dictionary."). The process is waited for; whatever it left running is
 *     not (the invoker's timeout covers the rest).
 *   - actionloop, when the action has the annotation actionloop: true (the init carries
 *     "actionloop": true): /action/exec is started once at init with __OW_WAIT_FOR_ACK=1 and
 *     must answer {"ok":true} on fd 3 (as OpenWhisk's actionloop runtimes do); it then gets
 *     the invoker's activation lines on its stdin directly and writes one JSON line per
 *     activation on fd 3, which this launcher forwards, adding the sentinels after the logs
 *     (as OpenWhisk's Go proxy does). The program is kept warm like any runtime.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SENTINEL "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n"
#define RESULT_FD 3
#define ARG_MAX_LEN 131071 /* MAX_ARG_STRLEN - 1 */

static char action_dir[256] = "/action";
static char exec_path[300];

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd pf = { .fd = fd, .events = POLLOUT };
                poll(&pf, 1, 100);
                continue;
            }
            _exit(71); /* the invoker is gone */
        }
        c += w;
        n -= (size_t)w;
    }
}

static void write_str(int fd, const char *s)
{
    write_all(fd, s, strlen(s));
}

static void sentinels(void)
{
    write_str(1, SENTINEL);
    write_str(2, SENTINEL);
}

/* One line on fd 3, then the sentinels. */
static void answer(const char *line)
{
    size_t n = strlen(line);
    char *b = malloc(n + 1);
    if (!b)
        _exit(72);
    memcpy(b, line, n);
    b[n] = '\n';
    write_all(RESULT_FD, b, n + 1);
    free(b);
    sentinels();
}

static void answer_error(const char *fmt, const char *detail)
{
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, detail ? detail : "");
    json_t *o = json_pack("{s:s}", "error", msg);
    char *t = json_dumps(o, JSON_COMPACT);
    answer(t ? t : "{\"error\":\"out of memory\"}");
    free(t);
    json_decref(o);
}

static void thrown(const char *msg)
{
    json_t *o = json_pack("{s:s,s:b}", "error", msg, "__ow_thrown", 1);
    char *t = json_dumps(o, JSON_COMPACT);
    answer(t ? t : "{\"error\":\"out of memory\",\"__ow_thrown\":true}");
    free(t);
    json_decref(o);
}

/* Reads one line from fd (buffered; what follows the newline stays for the next call).
 * The invoker sends nothing after the init line before it has the answer, so nothing is
 * left over when stdin is handed to an actionloop program. NULL at EOF. */
static char *rbuf;
static size_t rlen, rcap;

static char *read_line(int fd, size_t *len)
{
    for (size_t scanned = 0;;) {
        char *nl = rlen > scanned ? memchr(rbuf + scanned, '\n', rlen - scanned) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - rbuf);
            char *line = malloc(n + 1);
            if (!line)
                return NULL;
            memcpy(line, rbuf, n);
            line[n] = '\0';
            memmove(rbuf, nl + 1, rlen - n - 1);
            rlen -= n + 1;
            *len = n;
            return line;
        }
        scanned = rlen;
        if (rcap - rlen < 65536) {
            char *nb = realloc(rbuf, rcap ? rcap * 2 : 262144);
            if (!nb)
                return NULL;
            rbuf = nb;
            rcap = rcap ? rcap * 2 : 262144;
        }
        ssize_t r = read(fd, rbuf + rlen, rcap - rlen);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return NULL;
        rlen += (size_t)r;
    }
}

/* ---------------------------------------------------------------- the code */

static unsigned char *b64decode(const char *s, size_t *outlen)
{
    static signed char t[256];
    static bool ready;
    if (!ready) {
        memset(t, -1, sizeof t);
        const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < 64; i++)
            t[(unsigned char)a[i]] = (signed char)i;
        t['-'] = 62; /* url-safe variant too */
        t['_'] = 63;
        ready = true;
    }
    size_t n = strlen(s);
    unsigned char *out = malloc(n / 4 * 3 + 4);
    if (!out)
        return NULL;
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '=')
            break;
        if (t[ch] < 0) {
            if (ch == '\n' || ch == '\r' || ch == ' ')
                continue;
            free(out);
            return NULL;
        }
        v = (v << 6) | (unsigned)t[ch];
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(v >> bits);
        }
    }
    *outlen = o;
    return out;
}

static int unzip(const unsigned char *data, size_t len, char *err, size_t errlen)
{
    struct archive *a = archive_read_new(), *w = archive_write_disk_new();
    struct archive_entry *e;
    int rc = -1;
    archive_read_support_format_zip(a);
    archive_read_support_filter_none(a);
    archive_write_disk_set_options(w, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                          ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
    /* relative entry names only (the secure options refuse the others), so from the dir */
    if (chdir(action_dir) != 0) {
        snprintf(err, errlen, "cannot enter %s: %s", action_dir, strerror(errno));
        goto out;
    }
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
        snprintf(err, errlen, "%s", archive_error_string(a));
        goto out;
    }
    for (;;) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK) {
            snprintf(err, errlen, "%s", archive_error_string(a));
            goto out;
        }
        if (archive_write_header(w, e) != ARCHIVE_OK) {
            snprintf(err, errlen, "%s", archive_error_string(w));
            goto out;
        }
        const void *buf;
        size_t size;
        la_int64_t off;
        while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK)
            if (archive_write_data_block(w, buf, size, off) != ARCHIVE_OK) {
                snprintf(err, errlen, "%s", archive_error_string(w));
                goto out;
            }
        if (r != ARCHIVE_EOF) {
            snprintf(err, errlen, "%s", archive_error_string(a));
            goto out;
        }
        archive_write_finish_entry(w);
    }
    rc = 0;
out:
    archive_read_free(a);
    archive_write_free(w);
    return rc;
}

static int write_exec(const void *data, size_t len, char *err, size_t errlen)
{
    int fd = open(exec_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", exec_path, strerror(errno));
        return -1;
    }
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errlen, "cannot write %s: %s", exec_path, strerror(errno));
            close(fd);
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    fchmod(fd, 0755);
    close(fd);
    return 0;
}

/* 0, or -1 with a message for the init error. */
static int install(const char *code, bool binary, char *err, size_t errlen)
{
    if (access("/action", W_OK) != 0) {
        /* unsandboxed (tests): a private directory */
        snprintf(action_dir, sizeof action_dir, "/tmp/squall-native-XXXXXX");
        if (!mkdtemp(action_dir)) {
            snprintf(err, errlen, "cannot make a code directory: %s", strerror(errno));
            return -1;
        }
    }
    snprintf(exec_path, sizeof exec_path, "%s/exec", action_dir);
    if (!binary)
        return write_exec(code, strlen(code), err, errlen);
    size_t len = 0;
    unsigned char *bytes = b64decode(code, &len);
    if (!bytes) {
        snprintf(err, errlen, "the code is not valid base64");
        return -1;
    }
    int rc;
    if (len >= 4 && memcmp(bytes, "PK\x03\x04", 4) == 0) {
        rc = unzip(bytes, len, err, errlen);
        if (rc == 0 && access(exec_path, F_OK) != 0) {
            snprintf(err, errlen, "the zip file has no 'exec' at its root");
            rc = -1;
        }
        if (rc == 0)
            chmod(exec_path, 0755);
    } else {
        rc = write_exec(bytes, len, err, errlen);
    }
    free(bytes);
    return rc;
}

/* ---------------------------------------------------------------- blackbox */

/* The environment of the program: ours plus __OW_<KEY> for every key of msg but "value". */
static char **make_env(json_t *msg, const char *extra)
{
    extern char **environ;
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + json_object_size(msg) + 2, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "__OW_", 5) != 0)
            env[k++] = strdup(environ[i]);
    const char *key;
    json_t *v;
    json_object_foreach(msg, key, v)
    {
        if (strcmp(key, "value") == 0)
            continue;
        char *txt = json_is_string(v) ? strdup(json_string_value(v))
                                      : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        char *kv = NULL;
        if (txt && asprintf(&kv, "__OW_%s=%s", key, txt) > 0) {
            for (char *p = kv + 5; *p && *p != '='; p++)
                if (*p >= 'a' && *p <= 'z')
                    *p = (char)(*p - 'a' + 'A');
            env[k++] = kv;
        }
        free(txt);
    }
    if (extra)
        env[k++] = strdup(extra);
    env[k] = NULL;
    return env;
}

static void free_env(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

/* One blackbox run: the program, our ends of its pipes, its stdout collected. */
typedef struct {
    pid_t pid;
    int pidfd;
    int in_fd;  /* its stdin: the argument is written there too; -1 once all is written */
    int out_fd; /* its stdout */
    const char *arg;
    size_t in_off, in_len;
    char *buf; /* stdout not yet logged: the last line is the result */
    size_t len, cap;
} blackbox_t;

/* Forks the program with arg as its argument (and on its stdin) and env. 0, or -1 when it
 * could not be started (the pipes are then closed). */
static int bb_start(blackbox_t *b, const char *arg, char **env)
{
    int outp[2], inp[2];
    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(inp, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(inp[0], 0);
        dup2(outp[1], 1);
        /* stderr: ours, so it is logged as it comes; fd 3 is not the program's */
        close(RESULT_FD);
        signal(SIGPIPE, SIG_DFL);
        char *argv[] = { exec_path, strlen(arg) <= ARG_MAX_LEN ? (char *)arg : NULL, NULL };
        execve(exec_path, argv, env);
        fprintf(stderr, "could not run the action: %s\n", strerror(errno));
        _exit(127);
    }
    close(outp[1]);
    close(inp[0]);
    if (pid < 0) {
        close(outp[0]);
        close(inp[1]);
        return -1;
    }
    *b = (blackbox_t){ .pid = pid,
                       .pidfd = (int)syscall(SYS_pidfd_open, pid, 0),
                       .in_fd = inp[1],
                       .out_fd = outp[0],
                       .arg = arg,
                       .in_len = strlen(arg),
                       .cap = 65536 };
    fcntl(b->in_fd, F_SETFL, O_NONBLOCK);
    fcntl(b->out_fd, F_SETFL, O_NONBLOCK);
    b->buf = malloc(b->cap);
    return 0;
}

/* Writes what its stdin takes of the argument; closes it once all is written. */
static void bb_write(blackbox_t *b)
{
    ssize_t w = write(b->in_fd, b->arg + b->in_off, b->in_len - b->in_off);
    if (w > 0)
        b->in_off += (size_t)w;
    if (w < 0 && errno != EAGAIN)
        b->in_off = b->in_len;
    if (b->in_off >= b->in_len) {
        close(b->in_fd);
        b->in_fd = -1;
    }
}

/* Reads what its stdout holds; complete lines go to the logs as soon as a later line exists.
 * Returns true at EOF. */
static bool bb_read(blackbox_t *b)
{
    bool eof = false;
    for (;;) {
        if (b->cap - b->len < 65536) {
            char *nb = realloc(b->buf, b->cap * 2);
            if (!nb)
                break;
            b->buf = nb;
            b->cap *= 2;
        }
        ssize_t got = read(b->out_fd, b->buf + b->len, b->cap - b->len);
        if (got > 0) {
            b->len += (size_t)got;
            continue;
        }
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
            eof = true;
        break;
    }
    /* everything up to the last complete line that is followed by more is log */
    char *last = NULL, *buf = b->buf;
    for (char *q = buf; (q = memchr(q, '\n', (size_t)(buf + b->len - q))); q++)
        if (q + 1 < buf + b->len)
            last = q;
    if (last) {
        write_all(1, buf, (size_t)(last - buf + 1));
        memmove(buf, last + 1, (size_t)(buf + b->len - last - 1));
        b->len = (size_t)(buf + b->len - last - 1);
    }
    return eof;
}

/* Feeds the argument and collects stdout until it ends (or the program is gone and only
 * something it left behind holds the pipe); then reaps it. Returns its wait status. */
static int bb_wait(blackbox_t *b)
{
    bool exited = false, eof = false;
    while (!eof && b->buf) {
        struct pollfd p[3] = { { .fd = b->out_fd, .events = POLLIN },
                               { .fd = b->pidfd, .events = POLLIN },
                               { .fd = b->in_off < b->in_len ? b->in_fd : -1, .events = POLLOUT } };
        int r = poll(p, 3, exited ? 0 : -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (p[2].revents)
            bb_write(b);
        if (p[1].revents)
            exited = true;
        if (p[0].revents || exited) {
            eof = bb_read(b);
            if (exited && !eof && !(p[0].revents & POLLIN))
                break; /* it is gone; something it left behind holds the pipe */
        }
    }
    if (b->in_fd >= 0)
        close(b->in_fd);
    close(b->out_fd);
    int status = 0;
    while (waitpid(b->pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (b->pidfd >= 0)
        close(b->pidfd);
    return status;
}

/* The answer from what is left of stdout: its last non-empty line if it is a JSON object
 * (the lines before it are logs), else a developer error. */
static void bb_answer(char *buf, size_t len, int status)
{
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        len--;
    buf[len] = '\0';
    char *res = buf;
    char *nl = strrchr(buf, '\n');
    if (nl) {
        write_all(1, buf, (size_t)(nl - buf + 1));
        res = nl + 1;
    }
    json_error_t jerr;
    json_t *v = *res ? json_loads(res, JSON_DECODE_ANY, &jerr) : NULL;
    if (json_is_object(v)) {
        char *t = json_dumps(v, JSON_COMPACT);
        answer(t ? t : "{}");
        free(t);
    } else {
        if (*res) {
            write_all(1, res, strlen(res));
            write_all(1, "\n", 1);
        }
        if (WIFSIGNALED(status)) {
            char m[128];
            snprintf(m, sizeof m,
                     "The action did not return a dictionary (it was killed by signal %d).",
                     WTERMSIG(status));
            thrown(m);
        } else {
            thrown("The action did not return a dictionary.");
        }
    }
    json_decref(v);
}

/* One activation of a blackbox program (OpenWhisk's convention): a new process per
 * activation, the parameters as its argument and on its stdin, the __OW_ variables in its
 * environment, the last line of its stdout the result. */
static void run_blackbox(json_t *msg)
{
    json_t *value = json_object_get(msg, "value");
    char *arg = json_dumps(value ? value : json_object(), JSON_ENCODE_ANY | JSON_COMPACT);
    char **env = make_env(msg, NULL);
    blackbox_t b;
    if (!arg || !env || bb_start(&b, arg, env) != 0) {
        thrown("could not start the action");
        free(arg);
        free_env(env);
        return;
    }
    free_env(env);
    int status = bb_wait(&b);
    free(arg);
    if (!b.buf) {
        thrown("out of memory");
        return;
    }
    bb_answer(b.buf, b.len, status);
    free(b.buf);
}

/* ---------------------------------------------------------------- actionloop */

static void copy_available(int from, int to, bool *open_)
{
    char b[65536];
    for (;;) {
        ssize_t r = read(from, b, sizeof b);
        if (r > 0) {
            write_all(to, b, (size_t)r);
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EINTR))
            *open_ = false;
        return;
    }
}

/* The program of an actionloop action and our ends of its fd 3, stdout and stderr. */
typedef struct {
    pid_t pid;
    int pidfd, res, out, err;
    bool acked, o_open, e_open;
    char *line; /* what came on fd 3 and is not handled yet */
    size_t len, cap;
} loop_t;

/* Starts the program with our stdin (it reads the invoker's lines itself). 0, or -1 when it
 * could not be started (said to the invoker). */
static int loop_start(loop_t *l)
{
    int res[2], out[2], err[2];
    if (pipe2(res, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
        answer_error("could not start the action: %s", strerror(errno));
        return -1;
    }
    json_t *none = json_object();
    char **env = make_env(none, "__OW_WAIT_FOR_ACK=1");
    json_decref(none);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        dup2(res[1], RESULT_FD);
        signal(SIGPIPE, SIG_DFL);
        char *argv[] = { exec_path, NULL };
        execve(exec_path, argv, env);
        fprintf(stderr, "could not run the action: %s\n", strerror(errno));
        _exit(127);
    }
    free_env(env);
    close(res[1]);
    close(out[1]);
    close(err[1]);
    if (pid < 0) {
        answer_error("could not start the action: %s", strerror(errno));
        return -1;
    }
    close(0); /* the program reads the invoker's lines itself */
    *l = (loop_t){ .pid = pid,
                   .pidfd = (int)syscall(SYS_pidfd_open, pid, 0),
                   .res = res[0],
                   .out = out[0],
                   .err = err[0],
                   .o_open = true,
                   .e_open = true };
    fcntl(l->out, F_SETFL, O_NONBLOCK);
    fcntl(l->err, F_SETFL, O_NONBLOCK);
    fcntl(l->res, F_SETFL, O_NONBLOCK);
    return 0;
}

/* Reads what fd 3 holds. Returns false once it is closed (the program is going). */
static bool loop_read(loop_t *l)
{
    for (;;) {
        if (l->cap - l->len < 65536) {
            char *nb = realloc(l->line, l->cap ? l->cap * 2 : 131072);
            if (!nb)
                _exit(72);
            l->line = nb;
            l->cap = l->cap ? l->cap * 2 : 131072;
        }
        ssize_t r = read(l->res, l->line + l->len, l->cap - l->len);
        if (r > 0) {
            l->len += (size_t)r;
            continue;
        }
        return r != 0;
    }
}

/* Hands on the complete fd 3 lines: the first must be the ack ({"ok": true}: the init's
 * answer; anything else ends the container), every other one is a result, followed by the
 * logs printed before it and the sentinels. */
static void loop_lines(loop_t *l)
{
    char *nl;
    while ((nl = memchr(l->line, '\n', l->len)) != NULL) {
        size_t n = (size_t)(nl - l->line);
        if (!l->acked) {
            json_t *v = json_loadb(l->line, n, 0, NULL);
            bool ok = json_is_true(json_object_get(v, "ok"));
            json_decref(v);
            if (!ok) {
                answer_error("The action did not initialize properly (no {\"ok\":true} on fd 3).",
                             NULL);
                kill(l->pid, SIGKILL);
                _exit(0);
            }
            l->acked = true;
            answer("{\"ok\":true}");
        } else {
            write_all(RESULT_FD, l->line, n + 1);
            /* what it logged before answering is in the pipes: take it, then the sentinels */
            copy_available(l->out, 1, &l->o_open);
            copy_available(l->err, 2, &l->e_open);
            sentinels();
        }
        memmove(l->line, nl + 1, l->len - n - 1);
        l->len -= n + 1;
    }
}

/* Starts the program with our stdin, waits for its ack, then forwards until it exits; the
 * launcher exits with it (the invoker sees the container end). */
static void actionloop(void)
{
    loop_t l;
    if (loop_start(&l) != 0)
        return;
    for (;;) {
        struct pollfd p[4] = { { .fd = l.res, .events = POLLIN },
                               { .fd = l.o_open ? l.out : -1, .events = POLLIN },
                               { .fd = l.e_open ? l.err : -1, .events = POLLIN },
                               { .fd = l.pidfd, .events = POLLIN } };
        if (poll(p, 4, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            copy_available(l.out, 1, &l.o_open);
        if (p[2].revents)
            copy_available(l.err, 2, &l.e_open);
        if (p[0].revents) {
            if (!loop_read(&l))
                p[3].revents = POLLIN; /* fd 3 closed: it is going */
            loop_lines(&l);
        }
        if (p[3].revents) {
            copy_available(l.out, 1, &l.o_open);
            copy_available(l.err, 2, &l.e_open);
            if (!l.acked)
                answer_error("Command exited abruptly during initialization.", NULL);
            int st;
            waitpid(l.pid, &st, 0);
            _exit(0); /* the invoker sees the container end */
        }
    }
    _exit(0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    size_t len;
    char *first = read_line(0, &len);
    if (!first)
        return 0;
    json_error_t jerr;
    json_t *msg = json_loadb(first, len, 0, &jerr);
    free(first);
    json_t *init = json_object_get(msg, "init");
    const char *code = json_string_value(json_object_get(init, "code"));
    if (!json_is_object(init) || !code) {
        answer_error("Missing main/no code to execute.", NULL);
        return 0;
    }
    char err[512] = "";
    /* parameters annotated init: true (OpenWhisk), as environment variables of the program */
    const char *ek;
    json_t *ev;
    json_object_foreach(json_object_get(init, "env"), ek, ev)
    {
        if (json_is_string(ev) && strncmp(ek, "__OW_", 5) != 0)
            setenv(ek, json_string_value(ev), 1);
    }
    if (install(code, json_is_true(json_object_get(init, "binary")), err, sizeof err) != 0) {
        answer_error("Initialization has failed due to: %s", err);
        return 0;
    }
    bool loop = json_is_true(json_object_get(init, "actionloop"));
    json_decref(msg);
    if (loop) {
        actionloop();
        return 0;
    }
    if (access(exec_path, X_OK) != 0) {
        answer_error("Initialization has failed due to: %s is not executable", exec_path);
        return 0;
    }
    answer("{\"ok\":true}");
    for (;;) {
        char *line = read_line(0, &len);
        if (!line)
            return 0;
        json_t *m = json_loadb(line, len, 0, &jerr);
        free(line);
        if (!json_is_object(m)) {
            write_str(2, "launcher: bad message on stdin\n");
            return 70;
        }
        run_blackbox(m);
        json_decref(m);
    }
}
