/* API routes (wsk api), the gateway's half: serving. /api/{namespace}{basepath}{relpath}
 * runs the route's web action (the same path as /api/v1/web/..., so everything web actions
 * do applies: arguments, __ow_*, response types, CORS) with the route's response type;
 * {name} segments of the relpath match one segment and become arguments; __ow_path is the
 * path after the namespace (OpenWhisk: "starting with the base path"). A namespace's routes
 * are read from the registry once and kept until a route of any namespace changes
 * (sq.evt.entity.*.route) or web_cache_ms passes. Managing them (createApi, getApi,
 * deleteApi) is apimgmt.c's. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "sq/json.h"
#include "sq/log.h"
#include "sq/mp.h"
#include "sq/util.h"

#define API_PREFIX "/api/"

static const char NOT_FOUND[] = "The requested resource does not exist.";

/* ---- the route tables ------------------------------------------------------------------- */

#define MAX_SEGS 32
#define TABLES_MAX 1024

typedef struct rt_entry {
    char method[8];
    char *segs[MAX_SEGS]; /* basepath then relpath segments; "{x}" is a parameter */
    int nsegs, nparams;
    char *action_ns, *action; /* "name" or "pkg/name" */
    char type[8];
} rt_entry;

typedef struct rt_table {
    char ns[256];
    int64_t expires_us;
    rt_entry *v;
    size_t n;
    struct rt_table *next;
} rt_table;

static struct {
    pthread_mutex_t lock;
    rt_table *head;
    int count;
    uint64_t gen; /* bumped by every clear: a table read before is not kept */
} T = { PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0 };

static void table_free(rt_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        for (int k = 0; k < t->v[i].nsegs; k++)
            free(t->v[i].segs[k]);
        free(t->v[i].action_ns);
        free(t->v[i].action);
    }
    free(t->v);
    free(t);
}

static void tables_free(rt_table *t)
{
    while (t) {
        rt_table *next = t->next;
        table_free(t);
        t = next;
    }
}

void gw_routes_cache_clear(void)
{
    rt_table *t;
    pthread_mutex_lock(&T.lock);
    t = T.head;
    T.head = NULL;
    T.count = 0;
    T.gen++;
    pthread_mutex_unlock(&T.lock);
    tables_free(t);
}

/* Appends the non-empty segments of path to e; false when there are too many. */
static bool add_segs(rt_entry *e, const char *path)
{
    for (const char *s = path; *s;) {
        const char *end;
        size_t len;
        while (*s == '/')
            s++;
        if (*s == '\0')
            break;
        end = strchr(s, '/');
        len = end ? (size_t)(end - s) : strlen(s);
        if (e->nsegs == MAX_SEGS || (e->segs[e->nsegs] = strndup(s, len)) == NULL)
            return false;
        if (s[0] == '{')
            e->nparams++;
        e->nsegs++;
        s += len;
    }
    return true;
}

/* e from route rt */
static bool entry_of(rt_entry *e, const sq_route *rt)
{
    if (!add_segs(e, rt->basepath) || !add_segs(e, rt->relpath) ||
        (e->action_ns = strdup(rt->action_ns)) == NULL)
        return false;
    snprintf(e->method, sizeof e->method, "%s", rt->method);
    snprintf(e->type, sizeof e->type, "%s", rt->response_type);
    if (rt->action_pkg[0]) {
        size_t n = strlen(rt->action_pkg) + strlen(rt->action_name) + 2;
        if ((e->action = malloc(n)) != NULL)
            snprintf(e->action, n, "%s/%s", rt->action_pkg, rt->action_name);
    } else {
        e->action = strdup(rt->action_name);
    }
    return e->action != NULL;
}

/* The table of ns from the registry's reply {items: [sq_route]}; NULL on a malformed reply
 * or no memory. */
static rt_table *table_of(const char *ns, const msgpack_object *o)
{
    msgpack_zone z;
    sq_route_list l;
    rt_table *t = calloc(1, sizeof *t);

    msgpack_zone_init(&z, 2048);
    if (t == NULL || sq_route_list_from(o, &z, &l, NULL, 0) != SQ_OK)
        goto fail;
    snprintf(t->ns, sizeof t->ns, "%s", ns);
    t->expires_us = sq_mono_us() + (int64_t)G.cfg.web_cache_ms * 1000;
    if (l.nroutes > 0 && (t->v = calloc(l.nroutes, sizeof *t->v)) == NULL)
        goto fail;
    for (size_t i = 0; i < l.nroutes; i++)
        if (!entry_of(&t->v[t->n++], &l.routes[i]))
            goto fail;
    msgpack_zone_destroy(&z);
    return t;
fail:
    msgpack_zone_destroy(&z);
    table_free(t);
    return NULL;
}

/* What a request path matched: a route (status 0) or 404 / 405. */
typedef struct rt_match {
    int status;
    char *action_ns, *action, type[8];
    json_t *params;
} rt_match;

static bool seg_matches(const rt_entry *e, char *const *segs, int n)
{
    if (e->nsegs != n)
        return false;
    for (int i = 0; i < n; i++)
        if (e->segs[i][0] != '{' && strcmp(e->segs[i], segs[i]) != 0)
            return false;
    return true;
}

/* Matches the request (method, the path after /api/{ns}) against t: the route with the
 * method and the fewest parameters; HEAD falls back to GET; OPTIONS goes to any route of the
 * path (the web action answers the preflight, or takes it with web-custom-options). */
static void match(const rt_table *t, const char *method, const char *rest, rt_match *m)
{
    char copy[1024], *segs[MAX_SEGS], *save = NULL;
    int n = 0;
    const rt_entry *best = NULL, *any = NULL, *get = NULL;

    memset(m, 0, sizeof *m);
    m->status = 404;
    snprintf(copy, sizeof copy, "%s", rest);
    for (char *s = strtok_r(copy, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (n == MAX_SEGS)
            return;
        segs[n++] = s;
    }
    for (size_t i = 0; i < t->n; i++) {
        const rt_entry *e = &t->v[i];
        if (!seg_matches(e, segs, n))
            continue;
        if (any == NULL || e->nparams < any->nparams)
            any = e;
        if (strcmp(e->method, method) == 0 && (best == NULL || e->nparams < best->nparams))
            best = e;
        if (strcmp(e->method, "get") == 0 && (get == NULL || e->nparams < get->nparams))
            get = e;
    }
    if (best == NULL && strcmp(method, "head") == 0)
        best = get;
    if (best == NULL && strcmp(method, "options") == 0)
        best = any;
    if (best == NULL) {
        m->status = any ? 405 : 404;
        return;
    }
    m->status = 0;
    m->action_ns = strdup(best->action_ns);
    m->action = strdup(best->action);
    snprintf(m->type, sizeof m->type, "%s", best->type);
    m->params = json_object();
    for (int i = 0; i < n; i++)
        if (best->segs[i][0] == '{') {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)strlen(best->segs[i]) - 2, best->segs[i] + 1);
            json_object_set_new(m->params, name, json_string(segs[i]));
        }
    if (m->action_ns == NULL || m->action == NULL || m->params == NULL)
        m->status = 500;
}

static void match_free(rt_match *m)
{
    free(m->action_ns);
    free(m->action);
    json_decref(m->params);
}

/* Takes ownership of t, read from the registry when the cache's generation was gen: a change
 * announced since (the event may overtake the reply) leaves it out of the cache. */
static void table_put(rt_table *t, uint64_t gen)
{
    rt_table *drop = NULL;
    pthread_mutex_lock(&T.lock);
    if (gen != T.gen) {
        pthread_mutex_unlock(&T.lock);
        table_free(t);
        return;
    }
    for (rt_table **pp = &T.head; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->ns, t->ns) == 0) {
            drop = *pp;
            *pp = drop->next;
            drop->next = NULL;
            T.count--;
            break;
        }
    if (T.count >= TABLES_MAX) { /* full: start again rather than track ages */
        rt_table *all = T.head;
        T.head = NULL;
        T.count = 0;
        if (drop)
            drop->next = all;
        else
            drop = all;
    }
    t->next = T.head;
    T.head = t;
    T.count++;
    pthread_mutex_unlock(&T.lock);
    tables_free(drop);
}

/* ---- serving ---------------------------------------------------------------------------- */

bool gw_routes_path(const char *path)
{
    const char *ns = path + sizeof API_PREFIX - 1;
    if (strncmp(path, API_PREFIX, sizeof API_PREFIX - 1) != 0 || *ns == '\0' || *ns == '/')
        return false;
    /* /api/v1 is the REST API */
    return !(strncmp(ns, "v1", 2) == 0 && (ns[2] == '\0' || ns[2] == '/'));
}

/* The path after /api/{ns}. */
static const char *rest_of(const gw_req *r)
{
    const char *p = strchr(r->path + sizeof API_PREFIX - 1, '/');
    return p ? p : "";
}

bool gw_routes_route(gw_req *r)
{
    const char *ns = r->path + sizeof API_PREFIX - 1, *end = strchr(ns, '/');
    size_t n = end ? (size_t)(end - ns) : strlen(ns);

    if (n >= sizeof r->ns) {
        gw_respond_error(r, 404, NOT_FOUND);
        return false;
    }
    memcpy(r->ns, ns, n);
    r->ns[n] = '\0';
    if (!sq_name_valid(r->ns) || strcmp(r->ns, "_") == 0) {
        gw_respond_error(r, 404, NOT_FOUND);
        return false;
    }
    r->route = true;
    return true;
}

/* Answers r from its match (true) or starts its web action (as gw_web_start). */
static bool go(gw_req *r, rt_match *m)
{
    bool done;
    if (m->status == 404) {
        gw_respond_error(r, 404, NOT_FOUND);
        done = true;
    } else if (m->status == 405) {
        gw_respond_error(r, 405, "The API has no operation '%s' for this path.",
                         gw_method_name(r->method, true));
        done = true;
    } else if (m->status != 0) {
        gw_respond_error(r, 500, "out of memory");
        done = true;
    } else {
        r->route = false;
        r->via_route = true;
        gw_web_set_target(r, m->action_ns, m->action, m->type, rest_of(r), m->params);
        m->params = NULL; /* taken */
        done = gw_web_start(r);
    }
    match_free(m);
    return done;
}

bool gw_routes_start(gw_req *r)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    rt_match m;
    bool hit = false, done;
    int64_t now = sq_mono_us();

    pthread_mutex_lock(&T.lock);
    for (rt_table *t = T.head; t; t = t->next)
        if (strcmp(t->ns, r->ns) == 0 && t->expires_us > now) {
            match(t, gw_method_name(r->method, true), rest_of(r), &m);
            hit = true;
            break;
        }
    r->route_gen = T.gen;
    pthread_mutex_unlock(&T.lock);
    if (hit)
        return go(r, &m);
    sq_proto_buf_init(&sb, &pk);
    sq_route_query_encode(&(sq_route_query){ .ns = r->ns }, &pk);
    r->leg = GW_LEG_ROUTES;
    done = gw_send_leg(r, SQ_SUBJ_REG_ROUTE_GET, &sb, G.cfg.op_timeout_ms);
    msgpack_sbuffer_destroy(&sb);
    return done;
}

bool gw_routes_reply(gw_req *r, const msgpack_object *o)
{
    rt_table *t = table_of(r->ns, o);
    rt_match m;

    if (t == NULL) {
        gw_respond_error(r, 502, "The registry gave a malformed route table.");
        return false;
    }
    match(t, gw_method_name(r->method, true), rest_of(r), &m);
    if (G.cfg.web_cache_ms > 0)
        table_put(t, r->route_gen);
    else
        table_free(t);
    return !go(r, &m);
}
