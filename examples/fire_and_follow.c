/*
 * fire_and_follow: an integrator's view of Squall over NATS alone, with nothing but nats.c
 * and msgpack-c. It fires a trigger by publishing to sq.fire.<ns>.<trigger> and follows what
 * happens on the event subjects:
 *
 *   sq.evt.trigger.<ns>.<trigger>   one event per fire: which rules ran, their activation ids
 *   sq.evt.activation.<ns>          every activation record the platform stores
 *
 * It waits for the trigger event of its own fire, then for the record of every rule
 * activation that fire started, prints each as one line, and exits 0 when all have been seen
 * (1 on an error or when they do not all arrive within the timeout).
 *
 *   fire_and_follow [--url nats://127.0.0.1:4222] [--timeout-ms 10000] NAMESPACE TRIGGER [KEY=VALUE...]
 *
 * The payload is a msgpack map of the KEY=VALUE arguments (values as strings); a JSON object
 * is accepted on sq.fire.* as well. Output lines:
 *
 *   fired <trigger activation id>
 *   rule <ns/rule> <ns/action> <activation id>|error <message>
 *   activation <id> <name> <status> [<result as msgpack-c prints it, when the event has it>]
 *   done <n> activation(s)
 *
 * With Squall's NATS permissions a user listens only below its own inbox prefix,
 * _INBOX_<user> (the user of nats://user:password@host in the URL): requests here use it.
 *
 * Build: cc fire_and_follow.c $(pkg-config --cflags --libs libnats msgpack)
 */
#include <nats/nats.h>
#include <msgpack.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define MAX_IDS 256

/* One subject token from a name: letters, digits, '_' and '-' stay; any other byte becomes
 * %XX (Squall's escaping of namespaces and names inside subjects). */
static int token(const char *s, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '-';
        if (o + (keep ? 1 : 3) >= outlen)
            return -1;
        if (keep)
            out[o++] = (char)c;
        else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return o ? 0 : -1;
}

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The value of key in a msgpack map, or NULL. */
static const msgpack_object *get(const msgpack_object *map, const char *key)
{
    size_t n = strlen(key);
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* Copies a msgpack string into out (truncated); "" when o is not a string. */
static const char *str(const msgpack_object *o, char *out, size_t outlen)
{
    size_t n = 0;
    if (o != NULL && o->type == MSGPACK_OBJECT_STR) {
        n = o->via.str.size < outlen - 1 ? o->via.str.size : outlen - 1;
        memcpy(out, o->via.str.ptr, n);
    }
    out[n] = '\0';
    return out;
}

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* What the fire is waiting for: its trigger event, then the records of the activations the
 * event names. */
typedef struct {
    char fired[64];
    char waiting[MAX_IDS][33];
    int nwaiting, seen;
    bool got_trigger_event;
} follow;

/* 1. Connects (with the user's inbox prefix _INBOX_<user> when the URL has a user) and
 * subscribes to both event subjects first, so that nothing is missed. */
static natsStatus connect_and_subscribe(const char *url, const char *evt_trigger,
                                        const char *evt_act, natsOptions **opts,
                                        natsConnection **nc, natsSubscription **sub_trigger,
                                        natsSubscription **sub_act)
{
    char prefix[80];
    natsStatus s = natsOptions_Create(opts);
    if (s == NATS_OK)
        s = natsOptions_SetURL(*opts, url);
    if (s == NATS_OK) {
        const char *u = strstr(url, "://") ? strstr(url, "://") + 3 : url;
        size_t n = strcspn(u, ":@/,");
        if (u[n] != '\0' && strchr(u, '@') != NULL && strchr(u, '@') < u + strcspn(u, "/,")) {
            snprintf(prefix, sizeof prefix, "_INBOX_%.*s", (int)(n < 64 ? n : 64), u);
            s = natsOptions_SetCustomInboxPrefix(*opts, prefix);
        }
    }
    if (s == NATS_OK)
        s = natsConnection_Connect(nc, *opts);
    if (s == NATS_OK)
        s = natsConnection_SubscribeSync(sub_trigger, *nc, evt_trigger);
    if (s == NATS_OK)
        s = natsConnection_SubscribeSync(sub_act, *nc, evt_act);
    if (s == NATS_OK)
        s = natsConnection_Flush(*nc);
    return s;
}

/* 2. Fires: a msgpack map of the KEY=VALUE arguments, as a request to get the id back.
 * 0 with f->fired set; 1 after an error (printed); -1 when no rule is active (done). */
static int fire(natsConnection *nc, const char *subj, char **kv, int nkv, follow *f)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked up;
    natsMsg *reply = NULL;
    char buf[512];
    int rc = 1;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (size_t)nkv);
    for (int i = 0; i < nkv; i++) {
        const char *eq = strchr(kv[i], '=');
        pack_str(&pk, kv[i], eq ? (size_t)(eq - kv[i]) : strlen(kv[i]));
        if (eq)
            pack_str(&pk, eq + 1, strlen(eq + 1));
        else
            msgpack_pack_true(&pk);
    }
    natsStatus s = natsConnection_Request(&reply, nc, subj, sb.data, (int)sb.size, 5000);
    msgpack_sbuffer_destroy(&sb);
    if (s != NATS_OK) {
        fprintf(stderr, "fire_and_follow: no answer on %s: %s\n", subj, natsStatus_GetText(s));
        return 1;
    }
    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply),
                            NULL) != MSGPACK_UNPACK_SUCCESS)
        fprintf(stderr, "fire_and_follow: the answer is not msgpack\n");
    else if (get(&up.data, "error") != NULL)
        fprintf(stderr, "fire_and_follow: refused: %s\n",
                str(get(get(&up.data, "error"), "message"), buf, sizeof buf));
    else {
        str(get(&up.data, "activationId"), f->fired, sizeof f->fired);
        /* {activationId, rules: 0}: no active rule, nothing will run */
        rc = get(&up.data, "rules") != NULL ? -1 : 0;
        printf(rc ? "fired %s (no active rule)\ndone 0 activation(s)\n" : "fired %s\n", f->fired);
        fflush(stdout);
    }
    msgpack_unpacked_destroy(&up);
    natsMsg_Destroy(reply);
    return rc;
}

/* The trigger event of this fire: the rule activations to wait for. */
static void on_trigger_event(const msgpack_object *ev, follow *f)
{
    const msgpack_object *rules = get(ev, "rules");
    char buf[512];
    if (strcmp(str(get(ev, "activationId"), buf, sizeof buf), f->fired) != 0)
        return;
    f->got_trigger_event = true;
    for (uint32_t i = 0; rules && rules->type == MSGPACK_OBJECT_ARRAY && i < rules->via.array.size;
         i++) {
        const msgpack_object *r = &rules->via.array.ptr[i];
        char rule[256], action[256], id[64];
        str(get(r, "rule"), rule, sizeof rule);
        str(get(r, "action"), action, sizeof action);
        str(get(r, "activationId"), id, sizeof id);
        if (id[0] && f->nwaiting < MAX_IDS) {
            printf("rule %s %s %s\n", rule, action, id);
            memcpy(f->waiting[f->nwaiting++], id, 33);
        } else
            printf("rule %s %s error %s\n", rule, action, str(get(r, "error"), buf, sizeof buf));
    }
    fflush(stdout);
}

/* An activation record: printed when it is one of the fire's. */
static void on_activation(const msgpack_object *rec, follow *f)
{
    char id[64], name[256], status[64];
    const msgpack_object *resp = get(rec, "response"), *result = get(resp, "result");
    str(get(rec, "activationId"), id, sizeof id);
    for (int i = 0; i < f->nwaiting; i++)
        if (strcmp(f->waiting[i], id) == 0) {
            printf("activation %s %s %s", id, str(get(rec, "name"), name, sizeof name),
                   str(get(resp, "status"), status, sizeof status));
            if (result) {
                printf(" ");
                msgpack_object_print(stdout, *result);
            }
            printf("\n");
            fflush(stdout);
            f->waiting[i][0] = '#'; /* seen */
            f->seen++;
        }
}

/* 3. Follows: the trigger event of this fire names the rule activations; then their records
 * (and the trigger's own) arrive on sq.evt.activation.<ns>. 0 when all were seen in time. */
static int follow_until(natsSubscription *sub_trigger, natsSubscription *sub_act,
                        int64_t timeout_ms, follow *f)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline && (!f->got_trigger_event || f->seen < f->nwaiting)) {
        natsMsg *m = NULL;
        msgpack_unpacked up;
        bool is_trigger = false;
        if (!f->got_trigger_event && natsSubscription_NextMsg(&m, sub_trigger, 20) == NATS_OK)
            is_trigger = true;
        else if (m == NULL && natsSubscription_NextMsg(&m, sub_act, 20) != NATS_OK)
            continue;
        msgpack_unpacked_init(&up);
        if (msgpack_unpack_next(&up, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), NULL) ==
            MSGPACK_UNPACK_SUCCESS) {
            if (is_trigger)
                on_trigger_event(&up.data, f);
            else
                on_activation(&up.data, f);
        }
        msgpack_unpacked_destroy(&up);
        natsMsg_Destroy(m);
    }
    if (f->got_trigger_event && f->seen == f->nwaiting) {
        printf("done %d activation(s)\n", f->seen);
        return 0;
    }
    fprintf(stderr, "fire_and_follow: timed out (trigger event %s, %d of %d activation(s) seen)\n",
            f->got_trigger_event ? "seen" : "not seen", f->seen, f->nwaiting);
    return 1;
}

int main(int argc, char **argv)
{
    const char *url = getenv("SQ_NATS_URL") ? getenv("SQ_NATS_URL") : "nats://127.0.0.1:4222";
    int64_t timeout_ms = 10000;
    int a = 1, rc = 1;
    char nstok[256], ttok[256], subj[600], evt_trigger[600], evt_act[600];
    static follow f;
    natsConnection *nc = NULL;
    natsOptions *opts = NULL;
    natsSubscription *sub_trigger = NULL, *sub_act = NULL;
    natsStatus s;

    for (; a < argc && strncmp(argv[a], "--", 2) == 0; a += 2) {
        if (a + 1 >= argc)
            goto usage;
        if (strcmp(argv[a], "--url") == 0)
            url = argv[a + 1];
        else if (strcmp(argv[a], "--timeout-ms") == 0)
            timeout_ms = atoll(argv[a + 1]);
        else
            goto usage;
    }
    if (argc - a < 2)
        goto usage;
    if (token(argv[a], nstok, sizeof nstok) != 0 || token(argv[a + 1], ttok, sizeof ttok) != 0) {
        fprintf(stderr, "fire_and_follow: namespace or trigger name too long\n");
        return 2;
    }
    snprintf(evt_trigger, sizeof evt_trigger, "sq.evt.trigger.%s.%s", nstok, ttok);
    snprintf(evt_act, sizeof evt_act, "sq.evt.activation.%s", nstok);
    snprintf(subj, sizeof subj, "sq.fire.%s.%s", nstok, ttok);

    s = connect_and_subscribe(url, evt_trigger, evt_act, &opts, &nc, &sub_trigger, &sub_act);
    if (s != NATS_OK)
        /* the URL may hold a password: show the host part only */
        fprintf(stderr, "fire_and_follow: could not connect and subscribe at %s: %s\n",
                strrchr(url, '@') ? strrchr(url, '@') + 1 : url, natsStatus_GetText(s));
    else if ((rc = fire(nc, subj, argv + a + 2, argc - a - 2, &f)) == 0)
        rc = follow_until(sub_trigger, sub_act, timeout_ms, &f);
    else if (rc < 0)
        rc = 0;
    natsSubscription_Destroy(sub_trigger);
    natsSubscription_Destroy(sub_act);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(opts);
    nats_Close();
    return rc;
usage:
    fprintf(
        stderr,
        "usage: fire_and_follow [--url URL] [--timeout-ms N] NAMESPACE TRIGGER [KEY=VALUE...]\n");
    return 2;
}
