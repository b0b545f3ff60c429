/* The stale cache: keys auth verified against PostgreSQL lately, kept so that a database
 * outage does not turn every invoke into 503. Bounded in size (SQ_AUTH_STALE_MAX keys, a
 * 4-way set-associative table: a full set gives up its oldest key) and in age
 * (SQ_AUTH_STALE_MS since the last verification against the database).
 *
 * Only what a verification needs is kept: the key's uuid, its salt and hash (never the
 * secret) and the identity answered. It is read only when the database fails; every
 * successful lookup refreshes the entry, a key the database refuses (unknown, wrong secret,
 * blocked subject) leaves it, and every sq.evt.auth event (a key rotated, a subject blocked
 * or deleted, on any copy of the service) drops the subject's keys. */
#include "auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "sq/log.h"
#include "sq/util.h"

#define WAYS 4

typedef struct stale_entry {
    char uuid[AUTH_UUID_LEN + 1]; /* "" : free */
    unsigned char salt[AUTH_SALT_LEN];
    unsigned char hash[AUTH_HASH_LEN];
    char *subject, *ns;
    char **namespaces;
    size_t nnamespaces;
    int64_t at; /* verified against the database, ms */
} stale_entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static stale_entry *table;
static size_t nsets;
static int64_t max_age_ms;
static int64_t warned_ms;

static void entry_clear(stale_entry *e)
{
    free(e->subject);
    free(e->ns);
    for (size_t i = 0; i < e->nnamespaces; i++)
        free(e->namespaces[i]);
    free(e->namespaces);
    memset(e, 0, sizeof *e);
}

void auth_stale_init(int max_keys, int max_age)
{
    max_age_ms = max_age;
    if (max_keys <= 0 || max_age <= 0) {
        sq_info("stale key cache off: every key needs PostgreSQL");
        return;
    }
    nsets = ((size_t)max_keys + WAYS - 1) / WAYS;
    table = calloc(nsets * WAYS, sizeof *table);
    if (table == NULL) {
        nsets = 0;
        sq_warn("no memory for the stale key cache: it is off");
    }
}

void auth_stale_free(void)
{
    for (size_t i = 0; table && i < nsets * WAYS; i++)
        entry_clear(&table[i]);
    free(table);
    table = NULL;
    nsets = 0;
}

static stale_entry *set_of(const char *uuid)
{
    uint64_t h = sq_hash_str(SQ_HASH_INIT, uuid);
    return &table[(h % nsets) * WAYS];
}

static stale_entry *find(const char *uuid)
{
    stale_entry *set = set_of(uuid);
    for (int i = 0; i < WAYS; i++)
        if (set[i].uuid[0] && strcmp(set[i].uuid, uuid) == 0)
            return &set[i];
    return NULL;
}

void auth_stale_put(const char *uuid, const auth_key_row *row)
{
    stale_entry *e, *set;
    if (nsets == 0)
        return;
    pthread_mutex_lock(&lock);
    if ((e = find(uuid)) == NULL) {
        set = set_of(uuid);
        e = &set[0];
        for (int i = 0; i < WAYS; i++) {
            if (!set[i].uuid[0]) {
                e = &set[i];
                break;
            }
            if (set[i].at < e->at)
                e = &set[i];
        }
    }
    entry_clear(e);
    memcpy(e->salt, row->salt, sizeof e->salt);
    memcpy(e->hash, row->hash, sizeof e->hash);
    e->subject = strdup(row->subject ? row->subject : "");
    e->ns = strdup(row->namespace_ ? row->namespace_ : "");
    e->namespaces = calloc(row->nnamespaces + 1, sizeof *e->namespaces);
    if (e->subject == NULL || e->ns == NULL || e->namespaces == NULL) {
        entry_clear(e);
        pthread_mutex_unlock(&lock);
        return;
    }
    for (size_t i = 0; i < row->nnamespaces; i++)
        if ((e->namespaces[i] = strdup(row->namespaces[i])) != NULL)
            e->nnamespaces++;
    snprintf(e->uuid, sizeof e->uuid, "%s", uuid);
    e->at = sq_now_ms();
    pthread_mutex_unlock(&lock);
}

void auth_stale_drop(const char *uuid)
{
    stale_entry *e;
    if (nsets == 0)
        return;
    pthread_mutex_lock(&lock);
    if ((e = find(uuid)) != NULL)
        entry_clear(e);
    pthread_mutex_unlock(&lock);
}

void auth_stale_drop_subject(const char *subject)
{
    size_t n = 0;
    if (nsets == 0)
        return;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nsets * WAYS; i++)
        if (table[i].uuid[0] && table[i].subject && strcmp(table[i].subject, subject) == 0) {
            entry_clear(&table[i]);
            n++;
        }
    pthread_mutex_unlock(&lock);
    if (n > 0)
        sq_debug("stale key cache: dropped %zu key(s) of subject \"%s\"", n, subject);
}

bool auth_stale_verify(const char *uuid, const char *secret, sq_arena_t *ar, sq_identity *out)
{
    stale_entry *e;
    bool ok = false;
    int64_t now = sq_now_ms();
    if (nsets == 0)
        return false;
    pthread_mutex_lock(&lock);
    e = find(uuid);
    if (e != NULL && now - e->at > max_age_ms) {
        entry_clear(e);
        e = NULL;
    }
    if (e != NULL && auth_key_check(e->salt, e->hash, secret)) {
        char **ns = msgpack_zone_malloc(ar, (e->nnamespaces + 1) * sizeof *ns);
        out->subject = msgpack_zone_malloc(ar, strlen(e->subject) + 1);
        out->namespace_ = msgpack_zone_malloc(ar, strlen(e->ns) + 1);
        if (ns && out->subject && out->namespace_) {
            strcpy(out->subject, e->subject);
            strcpy(out->namespace_, e->ns);
            for (size_t i = 0; i < e->nnamespaces; i++) {
                ns[i] = msgpack_zone_malloc(ar, strlen(e->namespaces[i]) + 1);
                if (ns[i])
                    strcpy(ns[i], e->namespaces[i]);
            }
            ns[e->nnamespaces] = NULL;
            out->namespaces = ns;
            out->nnamespaces = e->nnamespaces;
            ok = true;
            for (size_t i = 0; i < e->nnamespaces; i++)
                ok = ok && ns[i] != NULL;
        }
    } else if (e == NULL)
        auth_key_check_dummy(secret);
    if (ok && now - warned_ms > 10000) {
        warned_ms = now;
        sq_warn("PostgreSQL unreachable: answering keys verified in the last %lld s from the stale "
                "cache",
                (long long)(max_age_ms / 1000));
    }
    pthread_mutex_unlock(&lock);
    return ok;
}

/* sq.evt.auth {op, subject, ...}: whatever happened to the subject, its keys leave. */
void auth_on_event(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    msgpack_zone z;
    sq_auth_event ev;
    msgpack_zone_init(&z, 512);
    if (sq_auth_event_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &ev,
                             NULL, 0) == SQ_OK)
        auth_stale_drop_subject(ev.subject);
    msgpack_zone_destroy(&z);
}
