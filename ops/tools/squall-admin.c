/*
 * squall-admin: the operator's tool for subjects (users), their namespaces and keys, and
 * namespace limits. It sends one sq.auth.admin request (proto: sq_admin) carrying the admin
 * token to the auth service over NATS and prints the reply as indented JSON on stdout.
 *
 *   squall-admin [--url U] [--token T] [--timeout-ms N] COMMAND ARGS...
 *
 * The URL defaults to $SQ_NATS_URL (else nats://127.0.0.1:4222), the token to
 * $SQ_ADMIN_TOKEN (prefer the environment: a --token is visible to other local users in the
 * process list). Exit status: 0 success, 1 the service answered with an error (or could not
 * be reached; the message goes to stderr), 2 usage error.
 */
#include <nats/nats.h>

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proto/proto.h"
#include "sq/bus.h"
#include "sq/json.h"
#include "sq/mp.h"
#include "sq/util.h"

#define PROG "squall-admin"

static void usage(FILE *f)
{
    fputs(
        "usage: " PROG " [--url U] [--token T] [--timeout-ms N] COMMAND ARGS...\n"
        "\n"
        "commands:\n"
        "  user create SUBJECT [NAMESPACE]    a new subject with a namespace (default: named\n"
        "                                     like the subject) and its key; for an existing\n"
        "                                     subject, one more namespace with its own key\n"
        "  user delete SUBJECT                the subject, its namespaces and keys\n"
        "  user get SUBJECT                   blocked?, namespaces and their key uuids\n"
        "  user list                          every subject\n"
        "  user block SUBJECT                 its keys are refused (403) until unblocked\n"
        "  user unblock SUBJECT\n"
        "  key rotate SUBJECT [NAMESPACE]     a new key replaces the namespace's key(s)\n"
        "  namespace limits get NAMESPACE\n"
        "  namespace limits set NAMESPACE NAME=VALUE...\n"
        "                                     NAME: concurrentInvocations, invocationsPerMinute,\n"
        "                                     firesPerMinute (positive integers),\n"
        "                                     actionTimeoutMax (ms, 100..300000),\n"
        "                                     actionMemoryMax (MB, 128..512);\n"
        "                                     VALUE 'default' goes back to the default\n"
        "\n"
        "options:\n"
        "  --url U          NATS server (default $SQ_NATS_URL, else nats://127.0.0.1:4222)\n"
        "  --token T        admin token (default $SQ_ADMIN_TOKEN; ops/squall keeps it in\n"
        "                   $SQ_STATE_DIR/admin.token)\n"
        "  --timeout-ms N   how long to wait for the auth service (default 5000)\n"
        "  -h, --help       this text\n"
        "\n"
        "The reply is printed as JSON. Exit status: 0 success; 1 error from the service (or\n"
        "NATS/auth unreachable), message on stderr; 2 usage error.\n",
        f);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(try '" PROG " --help')\n");
    return 2;
}

/* NAME=VALUE pairs as the limits map of sq_admin (in z); 2 with a message on a malformed
 * pair. */
static int limits_map(char **pairs, int n, msgpack_zone *z, msgpack_object *out)
{
    msgpack_object_kv *kv = msgpack_zone_malloc(z, sizeof *kv * (size_t)(n > 0 ? n : 1));

    if (kv == NULL)
        return usage_error("%s", "too many limits");
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(pairs[i], '=');
        const char *v;
        char *end = NULL;
        long long x;

        if (eq == NULL || eq == pairs[i] || eq[1] == '\0')
            return usage_error("expected NAME=VALUE, not '%s'", pairs[i]);
        kv[i].key =
            (msgpack_object){ .type = MSGPACK_OBJECT_STR,
                              .via.str = { .size = (uint32_t)(eq - pairs[i]), .ptr = pairs[i] } };
        v = eq + 1;
        if (strcmp(v, "default") == 0) {
            kv[i].val = (msgpack_object){ .type = MSGPACK_OBJECT_NIL };
            continue;
        }
        errno = 0;
        x = strtoll(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0')
            return usage_error("the value in '%s' is not an integer (or 'default')", pairs[i]);
        kv[i].val = x >= 0
                        ? (msgpack_object){ .type = MSGPACK_OBJECT_POSITIVE_INTEGER,
                                            .via.u64 = (uint64_t)x }
                        : (msgpack_object){ .type = MSGPACK_OBJECT_NEGATIVE_INTEGER, .via.i64 = x };
    }
    *out = (msgpack_object){ .type = MSGPACK_OBJECT_MAP,
                             .via.map = { .size = (uint32_t)n, .ptr = kv } };
    return 0;
}

/* The commands: their words (a2 NULL: two), the operation and the arguments they take. */
static const struct command {
    const char *a0, *a1, *a2, *op;
    int min, max;
} COMMANDS[] = {
    { "user", "create", NULL, "user.create", 1, 2 },
    { "user", "delete", NULL, "user.delete", 1, 1 },
    { "user", "get", NULL, "user.get", 1, 1 },
    { "user", "list", NULL, "user.list", 0, 0 },
    { "user", "block", NULL, "user.block", 1, 1 },
    { "user", "unblock", NULL, "user.unblock", 1, 1 },
    { "key", "rotate", NULL, "key.rotate", 1, 2 },
    { "namespace", "limits", "get", "limits.get", 1, 1 },
    { "namespace", "limits", "set", "limits.set", 2, 1 << 20 },
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

/* The command that argv starts with, or NULL after a usage error naming the words that
 * matched none (as far as they went). */
static const struct command *find_command(int argc, char **argv)
{
    const char *w[3] = { argc > 0 ? argv[0] : "", argc > 1 ? argv[1] : "",
                         argc > 2 ? argv[2] : "" };
    int depth = 0; /* how many words some command shares with argv */

    if (argc < 1) {
        usage_error("%s", "no command given");
        return NULL;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const struct command *c = &COMMANDS[i];
        int d = strcmp(c->a0, w[0]) != 0 ? 0 : strcmp(c->a1, w[1]) != 0 ? 1 : 2;
        if (d == 2 && (c->a2 == NULL || strcmp(c->a2, w[2]) == 0))
            return c;
        depth = d > depth ? d : depth;
    }
    char words[512];
    snprintf(words, sizeof words, "%s%s%s%s%s", w[0], depth > 0 ? " " : "", depth > 0 ? w[1] : "",
             depth > 1 ? " " : "", depth > 1 ? w[2] : "");
    usage_error("unknown command '%s'", words);
    return NULL;
}

/* Builds the request for the command in args (token filled in later). 0, or 2 on a usage
 * error (message printed). */
static int build(int argc, char **argv, const char *token, msgpack_zone *z, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_object limits = { .type = MSGPACK_OBJECT_NIL };
    const char *subject = NULL, *ns = NULL;
    char **pairs = NULL;
    int npairs = 0;
    const struct command *c = find_command(argc, argv);

    if (c == NULL)
        return 2;
    argc -= c->a2 ? 3 : 2;
    argv += c->a2 ? 3 : 2;
    if (argc < c->min)
        return usage_error("%s: missing arguments", c->op);
    if (argc > c->max)
        return usage_error("%s: too many arguments", c->op);
    if (strncmp(c->op, "limits.", 7) == 0) {
        ns = argv[0];
        pairs = argv + 1;
        npairs = argc - 1;
    } else if (argc > 0) {
        subject = argv[0];
        ns = argc > 1 ? argv[1] : NULL;
    }

    /* NAME=VALUE pairs become the map that travels as sq_admin.limits */
    if (pairs != NULL && limits_map(pairs, npairs, z, &limits) != 0)
        return 2;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    sq_admin_encode(&(sq_admin){ .token = (char *)token,
                                 .op = (char *)c->op,
                                 .subject = (char *)subject,
                                 .namespace_ = (char *)ns,
                                 .limits = limits },
                    &pk);
    return 0;
}

/* Prints the reply; returns the exit status (0, or 1 for a wire error). */
static int print_reply(const char *data, size_t len)
{
    msgpack_zone z;
    msgpack_object o;
    json_t *j;
    char *text;
    int code, rc = 1;
    const char *m;
    size_t mlen;

    msgpack_zone_init(&z, 4096);
    if (sq_mp_unpack(data, len, &z, &o) != SQ_OK) {
        fprintf(stderr, PROG ": malformed reply from the auth service (%zu bytes)\n", len);
        goto out;
    }
    if (sq_wire_error_get(&o, &code, &m, &mlen)) {
        fprintf(stderr, PROG ": error %d: %.*s\n", code, (int)mlen, m);
        goto out;
    }
    if ((j = sq_mp_to_json(&o)) == NULL || (text = json_dumps(j, JSON_INDENT(2))) == NULL) {
        json_decref(j);
        fprintf(stderr, PROG ": could not print the reply\n");
        goto out;
    }
    printf("%s\n", text);
    free(text);
    json_decref(j);
    rc = 0;
out:
    msgpack_zone_destroy(&z);
    return rc;
}

/* The options before the command: --url, --token, --timeout-ms (each as --x V or --x=V),
 * -h/--help, and -- to end them. *first: the command's index. -1 to go on, else the exit
 * status (0 after the help). */
static int parse_options(int argc, char **argv, const char **url, const char **token,
                         long *timeout_ms, int *first)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strncmp(a, "--url=", 6) == 0 || strncmp(a, "--token=", 8) == 0 ||
            strncmp(a, "--timeout-ms=", 13) == 0)
            v = strchr(a, '=') + 1;
        else if (strcmp(a, "--url") == 0 || strcmp(a, "--token") == 0 ||
                 strcmp(a, "--timeout-ms") == 0) {
            if (i + 1 >= argc)
                return usage_error("option %s needs a value", a);
            v = argv[++i];
        } else
            return usage_error("unknown option '%s'", a);
        if (strncmp(a, "--url", 5) == 0)
            *url = v;
        else if (strncmp(a, "--token", 7) == 0)
            *token = v;
        else {
            char *end = NULL;
            errno = 0;
            *timeout_ms = strtol(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || *timeout_ms <= 0 || *timeout_ms > 3600000)
                return usage_error("bad --timeout-ms '%s'", v);
        }
    }
    *first = i;
    return -1;
}

/* Sends the request in sb to the auth service and prints its reply: the exit status. */
static int ask(const char *url, long timeout_ms, const msgpack_sbuffer *sb)
{
    natsConnection *nc = NULL;
    natsMsg *reply = NULL;
    char shown[512];
    int rc = 1;
    natsStatus s;

    sq_nats_url_redact(url, shown, sizeof shown);         /* for messages: no password */
    s = sq_nats_tool_connect(&nc, url, PROG, timeout_ms); /* the reply: under our prefix */
    if (s != NATS_OK) {
        fprintf(stderr, PROG ": cannot connect to NATS at %s: %s\n", shown, natsStatus_GetText(s));
        goto out;
    }
    s = natsConnection_Request(&reply, nc, SQ_SUBJ_AUTH_ADMIN, sb->data, (int)sb->size, timeout_ms);
    if (s == NATS_NO_RESPONDERS)
        fprintf(stderr, PROG ": the auth service is not running (nobody answers %s on %s)\n",
                SQ_SUBJ_AUTH_ADMIN, shown);
    else if (s == NATS_TIMEOUT)
        fprintf(stderr, PROG ": the auth service did not answer within %ld ms\n", timeout_ms);
    else if (s != NATS_OK)
        fprintf(stderr, PROG ": request failed: %s\n", natsStatus_GetText(s));
    else
        rc = print_reply(natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply));
out:
    natsMsg_Destroy(reply);
    natsConnection_Destroy(nc);
    nats_Close();
    return rc;
}

int main(int argc, char **argv)
{
    const char *url = getenv("SQ_NATS_URL"), *token = getenv("SQ_ADMIN_TOKEN");
    long timeout_ms = 5000;
    int i = 1, rc;
    msgpack_sbuffer sb = { 0 };
    msgpack_zone z;

    if (url == NULL || *url == '\0')
        url = "nats://127.0.0.1:4222";
    if ((rc = parse_options(argc, argv, &url, &token, &timeout_ms, &i)) >= 0)
        return rc;
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[i], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (token == NULL || *token == '\0')
        return usage_error("%s", "no admin token: set SQ_ADMIN_TOKEN or pass --token "
                                 "(ops/squall keeps it in $SQ_STATE_DIR/admin.token)");
    msgpack_zone_init(&z, 1024);
    if ((rc = build(argc - i, argv + i, token, &z, &sb)) == 0)
        rc = ask(url, timeout_ms, &sb);
    if (sb.data != NULL)
        sodium_memzero(sb.data, sb.size); /* the token */
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_destroy(&z);
    return rc;
}
