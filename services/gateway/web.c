/* Web actions: /api/v1/web/{namespace}/{package|default}/{action}[.{ext}][/{path}], as
 * Apache OpenWhisk serves them (docs/webactions.md and its WebActions controller). The
 * request becomes the action's arguments (query and body merged, or raw with raw-http,
 * plus __ow_method, __ow_headers, __ow_path and __ow_user), the action runs as a blocking
 * invoke in its owner's namespace, and its result becomes the HTTP response as the
 * extension says (.json .html .text .svg .http).
 *
 * What decides whether and how an action answers (web-export, raw-http,
 * web-custom-options, require-whisk-auth, final and the names of its parameters) is read
 * from the registry once and kept in a small cache, dropped whenever an action or a package
 * of the namespace changes (sq.evt.entity) and after web_cache_ms, so a warm web action
 * costs the same single bus round trip as a blocking invoke. The request's arguments are
 * built in web_args.c, the response in web_result.c (web.h). */
#include <ctype.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq/json.h"
#include "sq/log.h"
#include "sq/mp.h"
#include "sq/util.h"
#include "web.h"

#define WEB_PREFIX "/api/v1/web/"

static const char *const EXT_NAMES[] = { ".http", ".json", ".html", ".svg", ".text" };

/* ---- the metadata cache --------------------------------------------------------------- */

#define CACHE_MAX 4096

static struct {
    pthread_mutex_t lock;
    web_meta *head;
    int count;
} C = { PTHREAD_MUTEX_INITIALIZER, NULL, 0 };

static void meta_free(web_meta *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nfinal; i++)
        free(m->final_names[i]);
    free(m->final_names);
    free(m->secret);
    free(m);
}

/* Empties the cache (C.lock held); the entries are the caller's to free with metas_free. */
static web_meta *take_all_locked(void)
{
    web_meta *m = C.head;
    C.head = NULL;
    C.count = 0;
    return m;
}

static void metas_free(web_meta *m)
{
    while (m) {
        web_meta *next = m->next;
        meta_free(m);
        m = next;
    }
}

void gw_web_cache_clear(void)
{
    web_meta *m;
    pthread_mutex_lock(&C.lock);
    m = take_all_locked();
    pthread_mutex_unlock(&C.lock);
    metas_free(m);
}

/* A deep copy of m (the caller frees it), or NULL. */
static web_meta *meta_copy(const web_meta *m)
{
    web_meta *copy = calloc(1, sizeof *copy);
    if (copy == NULL)
        return NULL;
    *copy = *m;
    copy->next = NULL;
    copy->secret = m->secret ? strdup(m->secret) : NULL;
    copy->final_names = m->nfinal ? calloc(m->nfinal, sizeof *copy->final_names) : NULL;
    copy->nfinal = 0;
    for (size_t i = 0; copy->final_names && i < m->nfinal; i++)
        if ((copy->final_names[i] = strdup(m->final_names[i])) != NULL)
            copy->nfinal++;
    if ((m->secret && copy->secret == NULL) || copy->nfinal != m->nfinal) {
        meta_free(copy);
        return NULL;
    }
    return copy;
}

/* A copy of the cached entry for key (the caller frees it), or NULL. */
static web_meta *cache_get(const char *key)
{
    web_meta *m, *copy = NULL;
    int64_t now = sq_mono_us();
    pthread_mutex_lock(&C.lock);
    for (m = C.head; m; m = m->next)
        if (strcmp(m->key, key) == 0 && m->expires_us > now)
            break;
    if (m)
        copy = meta_copy(m);
    pthread_mutex_unlock(&C.lock);
    return copy;
}

/* Takes ownership of m. */
static void cache_put(web_meta *m)
{
    web_meta *old = NULL;
    pthread_mutex_lock(&C.lock);
    for (web_meta **pp = &C.head; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->key, m->key) == 0) {
            old = *pp;
            *pp = old->next;
            C.count--;
            break;
        }
    if (C.count >= CACHE_MAX) { /* full: start again rather than track ages */
        web_meta *x = take_all_locked();
        pthread_mutex_unlock(&C.lock);
        metas_free(x);
        pthread_mutex_lock(&C.lock);
    }
    m->next = C.head;
    C.head = m;
    C.count++;
    pthread_mutex_unlock(&C.lock);
    meta_free(old);
}

/* ---- small helpers -------------------------------------------------------------------- */

/* OpenWhisk reads a boolean annotation as a JSON boolean; "true"/"yes" strings do not count. */
static bool annotation_true(const msgpack_object *annots, const char *key)
{
    const msgpack_object *v = sq_kv_value(annots, key);
    return v && v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
}

/* The media type of a Content-Type value, lower case, without parameters. */
static void url_encode_append(char **buf, size_t *len, size_t *cap, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (*len + 4 >= *cap) {
            size_t ncap = *cap ? *cap * 2 : 256;
            char *nb = realloc(*buf, ncap);
            if (nb == NULL)
                return;
            *buf = nb;
            *cap = ncap;
        }
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            (*buf)[(*len)++] = (char)c;
        } else {
            snprintf(*buf + *len, 4, "%%%02X", c);
            *len += 3;
        }
        (*buf)[*len] = '\0';
    }
}

static void append_raw(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t ncap = (*len + n + 1) * 2;
        char *nb = realloc(*buf, ncap);
        if (nb == NULL)
            return;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

/* ---- request side (lws thread) -------------------------------------------------------- */

bool gw_web_path(const char *path)
{
    return strncmp(path, WEB_PREFIX, sizeof WEB_PREFIX - 1) == 0;
}

static bool header_wanted(const char *name)
{
    /* the caller's key never reaches the action owner's code */
    return strcmp(name, "authorization") != 0;
}

void gw_web_capture(struct lws *wsi, gw_req *r)
{
    gw_web *w = calloc(1, sizeof *w);
    char *val = NULL;
    size_t qlen = 0, qcap = 0;

    if (w == NULL)
        return;
    r->web = w;
    w->headers = json_object();
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        const char *name = (const char *)lws_token_to_string((enum lws_token_indexes)t);
        char lname[64];
        size_t n;
        int len;
        if (name == NULL || name[0] == ':' || (n = strlen(name)) < 2 || name[n - 1] != ':' ||
            n >= sizeof lname || (len = lws_hdr_total_length(wsi, (enum lws_token_indexes)t)) <= 0)
            continue;
        for (size_t i = 0; i + 1 < n; i++)
            lname[i] = (char)tolower((unsigned char)name[i]);
        lname[n - 1] = '\0';
        if (!header_wanted(lname) || (val = realloc(val, (size_t)len + 1)) == NULL)
            continue;
        if (lws_hdr_copy(wsi, val, len + 1, (enum lws_token_indexes)t) >= 0)
            json_object_set_new(w->headers, lname, json_string(val));
    }
    /* headers lws does not know by name: the configured list */
    if (G.cfg.web_headers && *G.cfg.web_headers) {
        char *list = strdup(G.cfg.web_headers), *save = NULL;
        for (char *h = list ? strtok_r(list, ", ", &save) : NULL; h;
             h = strtok_r(NULL, ", ", &save)) {
            char name[80];
            int len;
            for (char *p = h; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            snprintf(name, sizeof name, "%s:", h);
            if (json_object_get(w->headers, h) || !header_wanted(h) ||
                (len = lws_hdr_custom_length(wsi, name, (int)strlen(name))) < 0 ||
                (val = realloc(val, (size_t)len + 1)) == NULL)
                continue;
            if (lws_hdr_custom_copy(wsi, val, len + 1, name, (int)strlen(name)) >= 0) {
                json_object_set_new(w->headers, h, json_string(val));
                if (strcmp(h, "x-require-whisk-auth") == 0)
                    w->xauth = strdup(val);
            }
        }
        free(list);
    }
    {
        const char *n = "x-require-whisk-auth:";
        int len = lws_hdr_custom_length(wsi, n, (int)strlen(n));
        if (w->xauth == NULL && len >= 0 && (val = realloc(val, (size_t)len + 1)) != NULL &&
            lws_hdr_custom_copy(wsi, val, len + 1, n, (int)strlen(n)) >= 0)
            w->xauth = strdup(val);
    }
    {
        int len = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AC_REQUEST_HEADERS);
        if (len > 0 && (val = realloc(val, (size_t)len + 1)) != NULL &&
            lws_hdr_copy(wsi, val, len + 1, WSI_TOKEN_HTTP_AC_REQUEST_HEADERS) >= 0)
            w->acrh = strdup(val);
    }
    free(val);
    /* __ow_query: the arguments as they came (lws hands them over decoded), re-encoded */
    for (int i = 0; i < r->nargs; i++) {
        const char *a = r->args[i], *eq = strchr(a, '=');
        char *name = eq ? strndup(a, (size_t)(eq - a)) : strdup(a);
        if (name == NULL)
            continue;
        if (i > 0)
            append_raw(&w->query, &qlen, &qcap, "&");
        url_encode_append(&w->query, &qlen, &qcap, name);
        if (eq) {
            append_raw(&w->query, &qlen, &qcap, "=");
            url_encode_append(&w->query, &qlen, &qcap, eq + 1);
        }
        free(name);
    }
}

void gw_web_free(gw_web *w)
{
    if (w == NULL)
        return;
    json_decref(w->headers);
    json_decref(w->route_params);
    free(w->query);
    free(w->xauth);
    free(w->acrh);
    free(w);
}

bool gw_web_begin(gw_req *r)
{
    gw_web *w = r->web;

    if (w == NULL) {
        gw_respond_error(r, 500, "out of memory");
        return false;
    }
    r->op = OP_WEB;
    if (r->method >= GW_OTHER) {
        gw_respond_error(r, 405, "Method not allowed.");
        return false;
    }
    snprintf(w->method, sizeof w->method, "%s", gw_method_name(r->method, true));
    r->head_only = r->method == GW_HEAD;
    return true;
}

/* Splits the path into namespace, "pkg/action" (or "action" for the default package),
 * extension and the rest; answers 404 itself when the path names no action. */
bool gw_web_route(gw_req *r)
{
    char path[sizeof r->path];
    char *seg[3], *rest, *p, *save = NULL;
    gw_web *w = r->web;
    size_t n;

    snprintf(path, sizeof path, "%s", r->path + sizeof WEB_PREFIX - 1);
    p = path;
    for (int i = 0; i < 3; i++) {
        seg[i] = strtok_r(i == 0 ? p : NULL, "/", &save);
        if (seg[i] == NULL)
            goto not_found;
    }
    rest = save && *save ? save : NULL;
    /* the extension ends the action's name; the path after it goes to the action */
    w->ext = EXT_HTTP;
    n = strlen(seg[2]);
    for (size_t i = 0; i < sizeof EXT_NAMES / sizeof EXT_NAMES[0]; i++) {
        size_t e = strlen(EXT_NAMES[i]);
        if (n > e && strcmp(seg[2] + n - e, EXT_NAMES[i]) == 0) {
            w->ext = (web_ext)i;
            seg[2][n - e] = '\0';
            break;
        }
    }
    if (!sq_name_valid(seg[0]) || strcmp(seg[0], "_") == 0 ||
        (strcmp(seg[1], "default") != 0 && !sq_name_valid(seg[1])) || !sq_name_valid(seg[2]))
        goto not_found;
    snprintf(r->ns, sizeof r->ns, "%s", seg[0]);
    if (strcmp(seg[1], "default") == 0)
        snprintf(r->name, sizeof r->name, "%s", seg[2]);
    else
        snprintf(r->name, sizeof r->name, "%s/%s", seg[1], seg[2]);
    if (rest)
        snprintf(w->path, sizeof w->path, "/%s", rest);
    return true;
not_found:
    gw_respond_error(r, 404, WEB_NOT_FOUND);
    return false;
}

/* ---- starting the invoke ------------------------------------------------------------- */

/* Whether the request may run the action under its require-whisk-auth annotation. */
static bool authorized(const gw_req *r, const web_meta *m)
{
    switch (m->auth) {
    case AUTH_NONE:
    case AUTH_FALSE: return true;
    case AUTH_USER: return r->web->authenticated;
    case AUTH_SECRET: {
        const char *got = r->web->xauth;
        size_t a, b;
        /* an API route stands for the secret, as OpenWhisk's API gateway sends the
         * X-Require-Whisk-Auth its route was created with */
        if (r->via_route)
            return true;
        if (got == NULL || m->secret == NULL)
            return false;
        a = strlen(got);
        b = strlen(m->secret);
        /* constant time in the secret's content */
        return a == b && sodium_memcmp(got, m->secret, a) == 0;
    }
    default: return false;
    }
}

/* With the action's metadata at hand: answers r (true) or sends the invoke (false). */
static bool web_go(gw_req *r, const web_meta *m)
{
    msgpack_sbuffer sb, tmp;
    msgpack_packer pk, tpk;
    msgpack_zone z;
    msgpack_object params;
    json_t *args;
    bool done;

    if (!m->exported) {
        gw_respond_error(r, 404, WEB_NOT_FOUND);
        return true;
    }
    r->cors = !m->custom_options;
    if (r->method == GW_OPTIONS && !m->custom_options) {
        gw_add_cors(r, r->web->acrh);
        gw_respond(r, 200, NULL, 0);
        return true;
    }
    if (r->cors)
        gw_add_cors(r, r->web->acrh);
    if (!(r->method == GW_OPTIONS && m->custom_options) && !authorized(r, m)) {
        gw_respond_error(r, 401, WEB_UNAUTHORIZED);
        return true;
    }
    if ((args = web_arguments(r, m)) == NULL)
        return true;
    msgpack_sbuffer_init(&tmp);
    msgpack_packer_init(&tpk, &tmp, msgpack_sbuffer_write);
    msgpack_zone_init(&z, 1024);
    if (sq_json_to_mp_max(args, &tpk, SQ_MP_MAX_DEPTH - 5) != SQ_OK ||
        sq_mp_unpack(tmp.data, tmp.size, &z, &params) != SQ_OK) {
        json_decref(args);
        msgpack_zone_destroy(&z);
        msgpack_sbuffer_destroy(&tmp);
        gw_respond_error(r, 400, "The request content was malformed: it nests too deeply.");
        return true;
    }
    json_decref(args);
    sq_id_new(r->actid);
    r->blocking = true;
    sq_proto_buf_init(&sb, &pk);
    /* the owner's namespace runs, pays and keeps the record, as in OpenWhisk; the caller's
     * key, if any, is not passed on */
    sq_invoke_encode(&(sq_invoke){ .id = r->actid,
                                   .ns = r->ns,
                                   .name = r->name,
                                   .subject = r->ns,
                                   .key = "",
                                   .params = params,
                                   .blocking = true,
                                   .wait_ms = G.cfg.blocking_wait_ms,
                                   .caller_ns = r->ns },
                     &pk);
    r->leg = GW_LEG_OP;
    done = gw_send_leg(r, SQ_SUBJ_SCHED_INVOKE, &sb, G.cfg.blocking_wait_ms);
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&tmp);
    return done;
}

bool gw_web_start(gw_req *r)
{
    char key[sizeof((web_meta *)0)->key];
    web_meta *m;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    bool done;

    r->web->authenticated = r->ident.subject != NULL;
    snprintf(key, sizeof key, "%s/%s", r->ns, r->name);
    if ((m = cache_get(key)) != NULL) {
        done = web_go(r, m);
        meta_free(m);
        return done;
    }
    sq_proto_buf_init(&sb, &pk);
    sq_reg_ref_encode(
        &(sq_reg_ref){ .ns = r->ns, .name = r->name, .kind = SQ_KIND_ACTION, .code = false }, &pk);
    r->leg = GW_LEG_WEB_META;
    done = gw_send_leg(r, SQ_SUBJ_REG_RESOLVE, &sb, G.cfg.op_timeout_ms);
    msgpack_sbuffer_destroy(&sb);
    return done;
}

/* The names of the parameters of a (malloc'd, in *m) */
static void final_names(web_meta *m, const msgpack_object *params, msgpack_zone *z)
{
    if (params->type != MSGPACK_OBJECT_ARRAY || params->via.array.size == 0)
        return;
    m->final_names = calloc(params->via.array.size, sizeof *m->final_names);
    for (uint32_t i = 0; m->final_names && i < params->via.array.size; i++) {
        sq_kv kv;
        if (sq_kv_from(&params->via.array.ptr[i], z, &kv, NULL, 0) == SQ_OK &&
            (m->final_names[m->nfinal] = strdup(kv.key)) != NULL)
            m->nfinal++;
    }
}

/* The metadata of the resolved action o (an sq_action); NULL on allocation failure. */
static web_meta *meta_of(const gw_req *r, const msgpack_object *o)
{
    msgpack_zone z;
    sq_action a;
    const msgpack_object *annots, *auth;
    web_meta *m = calloc(1, sizeof *m);

    if (m == NULL)
        return NULL;
    msgpack_zone_init(&z, 1024);
    if (sq_action_from(o, &z, &a, NULL, 0) != SQ_OK)
        a.annotations.type = a.parameters.type = MSGPACK_OBJECT_NIL; /* nothing exported */
    annots = &a.annotations;
    snprintf(m->key, sizeof m->key, "%s/%s", r->ns, r->name);
    m->expires_us = sq_mono_us() + (int64_t)G.cfg.web_cache_ms * 1000;
    m->exported = annotation_true(annots, "web-export");
    m->raw = annotation_true(annots, "raw-http");
    m->custom_options = annotation_true(annots, "web-custom-options");
    auth = sq_kv_value(annots, "require-whisk-auth");
    if (auth == NULL) {
        m->auth = AUTH_NONE;
    } else if (auth->type == MSGPACK_OBJECT_BOOLEAN) {
        m->auth = auth->via.boolean ? AUTH_USER : AUTH_FALSE;
    } else if (auth->type == MSGPACK_OBJECT_STR) {
        m->auth = AUTH_SECRET;
        m->secret = strndup(auth->via.str.ptr, auth->via.str.size);
    } else if (auth->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        char num[32];
        snprintf(num, sizeof num, "%llu", (unsigned long long)auth->via.u64);
        m->auth = AUTH_SECRET;
        m->secret = strdup(num);
    } else if (auth->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)auth->via.i64);
        m->auth = AUTH_SECRET;
        m->secret = strdup(num);
    } else {
        m->auth = AUTH_INVALID;
    }
    if (annotation_true(annots, "final"))
        final_names(m, &a.parameters, &z);
    msgpack_zone_destroy(&z);
    return m;
}

bool gw_web_meta_reply(gw_req *r, const msgpack_object *o)
{
    web_meta *m = meta_of(r, o), *copy;
    bool done;

    if (m == NULL) {
        gw_respond_error(r, 500, "out of memory");
        return false;
    }
    /* run with a copy: the cached entry may be dropped by another thread meanwhile */
    copy = meta_copy(m);
    if (G.cfg.web_cache_ms > 0)
        cache_put(m);
    else
        meta_free(m);
    if (copy == NULL) {
        gw_respond_error(r, 500, "out of memory");
        return false;
    }
    done = web_go(r, copy);
    meta_free(copy);
    return !done;
}

void gw_web_on_error(gw_req *r, int code, const char *msg, size_t len)
{
    if (r->apimgmt || r->leg == GW_LEG_ROUTES)
        gw_respond_error(r, code, "%.*s", (int)len, msg);
    else if (r->leg == GW_LEG_WEB_META && (code == 404 || code == 403 || code == 400))
        gw_respond_error(r, 404, WEB_NOT_FOUND); /* nothing of what is not exported leaks */
    else
        gw_respond_error(r, code, "%.*s", (int)len, msg);
}

void gw_web_on_timeout(gw_req *r)
{
    if (r->leg == GW_LEG_OP && !r->apimgmt)
        gw_respond_error(r, 202, WEB_NOT_READY);
    else
        gw_respond_error(r, 503, "The platform did not answer in time.");
}

/* ---- for API routes (routes.c) ---------------------------------------------------------- */

void gw_web_set_target(gw_req *r, const char *ns, const char *name, const char *ext,
                       const char *path, json_t *params)
{
    gw_web *w = r->web;
    snprintf(r->ns, sizeof r->ns, "%s", ns);
    snprintf(r->name, sizeof r->name, "%s", name);
    w->ext = EXT_HTTP;
    for (size_t i = 0; i < sizeof EXT_NAMES / sizeof EXT_NAMES[0]; i++)
        if (strcmp(ext, EXT_NAMES[i] + 1) == 0)
            w->ext = (web_ext)i;
    snprintf(w->path, sizeof w->path, "%s", path);
    json_decref(w->route_params);
    w->route_params = params;
}

const char *gw_web_header(const gw_req *r, const char *name)
{
    const json_t *v = r->web && r->web->headers ? json_object_get(r->web->headers, name) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}
