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
 * costs the same single bus round trip as a blocking invoke. */
#include <ctype.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "sq/json.h"
#include "sq/log.h"
#include "sq/mp.h"
#include "sq/util.h"

#define WEB_PREFIX "/api/v1/web/"

static const char NOT_FOUND[] = "The requested resource does not exist.";
static const char NOT_ALLOWED[] =
    "Request defines parameters that are not allowed (e.g., reserved properties).";
static const char NO_PROPERTY[] = "Response does not include requested property.";
static const char CT_ERROR[] = "Response type in header did not match generated content type.";
static const char CT_UNKNOWN[] = "Response did not specify a known content-type.";
static const char PROCESSING[] = "There was an error processing your request.";
static const char NOT_READY[] = "Response not yet ready.";
static const char UNAUTHORIZED[] =
    "The resource requires authentication, which was not supplied with the request";

static const char *const RESERVED[] = { "__ow_method", "__ow_headers", "__ow_path",
                                        "__ow_user",   "__ow_query",   "__ow_body" };

typedef enum { EXT_HTTP, EXT_JSON, EXT_HTML, EXT_SVG, EXT_TEXT } web_ext;
static const char *const EXT_NAMES[] = { ".http", ".json", ".html", ".svg", ".text" };

typedef enum { AUTH_NONE, AUTH_USER, AUTH_FALSE, AUTH_SECRET, AUTH_INVALID } web_auth;

/* What the registry says of an action, as far as the web route cares. */
typedef struct web_meta {
    char key[768]; /* "ns/name" */
    int64_t expires_us;
    bool exported, raw, custom_options;
    web_auth auth;
    char *secret;       /* require-whisk-auth as a string (AUTH_SECRET) */
    char **final_names; /* parameters a request may not override (final: true) */
    size_t nfinal;
    struct web_meta *next;
} web_meta;

typedef struct gw_web {
    web_ext ext;
    char path[1024]; /* __ow_path */
    char method[8];  /* lower case */
    json_t *headers; /* __ow_headers */
    char *query;     /* __ow_query: the query string, re-encoded */
    char *xauth;     /* X-Require-Whisk-Auth */
    char *acrh;      /* Access-Control-Request-Headers */
    bool authenticated;
    json_t *route_params; /* an API route's path parameters (routes.c) */
} gw_web;

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

void gw_web_cache_clear(void)
{
    web_meta *m;
    pthread_mutex_lock(&C.lock);
    m = C.head;
    C.head = NULL;
    C.count = 0;
    pthread_mutex_unlock(&C.lock);
    while (m) {
        web_meta *next = m->next;
        meta_free(m);
        m = next;
    }
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
        web_meta *x = C.head;
        C.head = NULL;
        C.count = 0;
        pthread_mutex_unlock(&C.lock);
        while (x) {
            web_meta *next = x->next;
            meta_free(x);
            x = next;
        }
        pthread_mutex_lock(&C.lock);
    }
    m->next = C.head;
    C.head = m;
    C.count++;
    pthread_mutex_unlock(&C.lock);
    meta_free(old);
}

/* ---- small helpers -------------------------------------------------------------------- */

static const msgpack_object *annotation(const msgpack_object *annots, const char *key)
{
    if (annots == NULL || annots->type != MSGPACK_OBJECT_ARRAY)
        return NULL;
    for (uint32_t i = 0; i < annots->via.array.size; i++) {
        const msgpack_object *kv = &annots->via.array.ptr[i];
        const msgpack_object *k = sq_mp_get(kv, "key");
        if (k && sq_mp_str_eq(k, key))
            return sq_mp_get(kv, "value");
    }
    return NULL;
}

/* OpenWhisk reads a boolean annotation as a JSON boolean; "true"/"yes" strings do not count. */
static bool annotation_true(const msgpack_object *annots, const char *key)
{
    const msgpack_object *v = annotation(annots, key);
    return v && v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
}

/* The media type of a Content-Type value, lower case, without parameters. */
static void media_type(const char *ct, char *out, size_t cap)
{
    size_t n = 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    for (; *ct && *ct != ';' && *ct != ' ' && n + 1 < cap; ct++)
        out[n++] = (char)tolower((unsigned char)*ct);
    out[n] = '\0';
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool json_family(const char *mt)
{
    return strcmp(mt, "application/json") == 0 || ends_with(mt, "+json");
}

/* Whether a media type carries text (false: binary content travels as base64). */
static bool textual(const char *mt)
{
    static const char *const text[] = { "application/json",
                                        "application/xml",
                                        "application/javascript",
                                        "application/ecmascript",
                                        "application/x-www-form-urlencoded",
                                        "application/graphql",
                                        "application/x-sh" };
    if (strncmp(mt, "text/", 5) == 0 || ends_with(mt, "+json") || ends_with(mt, "+xml"))
        return true;
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        if (strcmp(mt, text[i]) == 0)
            return true;
    return false;
}

/* OpenWhisk's test for base64 content: non-empty, a multiple of 4, the base64 alphabet. */
static bool looks_base64(const char *s, size_t n)
{
    if (n == 0 || n % 4 != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '+' || c == '/' || (c == '=' && i >= n - 2)))
            return false;
    }
    return true;
}

static char *b64_encode(const void *data, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(cap);
    if (out)
        sodium_bin2base64(out, cap, data, n, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

/* Decodes standard base64; NULL when s is not valid base64. */
static unsigned char *b64_decode(const char *s, size_t n, size_t *out_len)
{
    unsigned char *out = malloc(n / 4 * 3 + 3);
    if (out == NULL)
        return NULL;
    if (sodium_base642bin(out, n / 4 * 3 + 3, s, n, NULL, out_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes application/x-www-form-urlencoded text in place ('+' is a space); false when it
 * holds a bad escape or a NUL. */
static bool form_decode(char *s)
{
    char *w = s;
    for (char *p = s; *p; p++) {
        if (*p == '+') {
            *w++ = ' ';
        } else if (*p == '%') {
            int hi = hexval((unsigned char)p[1]), lo = hi < 0 ? -1 : hexval((unsigned char)p[2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return false;
            *w++ = (char)(hi << 4 | lo);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return true;
}

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
    return strncmp(path, WEB_PREFIX, sizeof WEB_PREFIX - 1) == 0 || gw_routes_path(path);
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

/* Splits the path into namespace, "pkg/action" (or "action" for the default package),
 * extension and the rest; answers 404 itself when the path names no action. */
bool gw_web_route(gw_req *r)
{
    char path[sizeof r->path];
    char *seg[3], *rest, *p, *save = NULL;
    gw_web *w = r->web;
    size_t n;

    if (w == NULL) {
        gw_respond_error(r, 500, "out of memory");
        return false;
    }
    r->op = OP_WEB;
    switch (r->method) {
    case GW_GET: snprintf(w->method, sizeof w->method, "get"); break;
    case GW_POST: snprintf(w->method, sizeof w->method, "post"); break;
    case GW_PUT: snprintf(w->method, sizeof w->method, "put"); break;
    case GW_DELETE: snprintf(w->method, sizeof w->method, "delete"); break;
    case GW_PATCH: snprintf(w->method, sizeof w->method, "patch"); break;
    case GW_HEAD:
        snprintf(w->method, sizeof w->method, "head");
        r->head_only = true;
        break;
    case GW_OPTIONS: snprintf(w->method, sizeof w->method, "options"); break;
    default: gw_respond_error(r, 405, "Method not allowed."); return false;
    }
    if (strncmp(r->path, WEB_PREFIX, sizeof WEB_PREFIX - 1) != 0)
        return gw_routes_route(r); /* an API route */
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
    gw_apimgmt_match(r);
    return true;
not_found:
    gw_respond_error(r, 404, NOT_FOUND);
    return false;
}

/* ---- starting the invoke ------------------------------------------------------------- */

static bool respond_plain(gw_req *r, int status, const char *ctype, const char *body, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        gw_respond_error(r, 500, "out of memory");
        return true;
    }
    memcpy(copy, body, len);
    copy[len] = '\0';
    gw_respond(r, status, copy, len);
    r->resp_ctype = ctype;
    return true;
}

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

static bool is_reserved(const char *key, const web_meta *m)
{
    for (size_t i = 0; i < sizeof RESERVED / sizeof RESERVED[0]; i++)
        if (strcmp(key, RESERVED[i]) == 0)
            return true;
    for (size_t i = 0; i < m->nfinal; i++)
        if (strcmp(key, m->final_names[i]) == 0)
            return true;
    return false;
}

/* The action's arguments for r; NULL with r answered (400) when the request overrides a
 * reserved or final parameter or its body cannot be read. */
static json_t *arguments(gw_req *r, const web_meta *m)
{
    gw_web *w = r->web;
    json_t *args = json_object(), *body = NULL;
    char mt[128];
    bool textual_body;

    media_type(r->ctype[0] ? r->ctype : "application/octet-stream", mt, sizeof mt);
    textual_body = textual(mt);
    if (!m->raw) {
        for (int i = 0; i < r->nargs; i++) {
            const char *a = r->args[i], *eq = strchr(a, '=');
            char *k = eq ? strndup(a, (size_t)(eq - a)) : strdup(a);
            if (k == NULL)
                continue;
            json_object_set_new(args, k, json_string(eq ? eq + 1 : ""));
            free(k);
        }
        if (r->body_len > 0) {
            if (json_family(mt)) {
                json_error_t je;
                body = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &je);
                if (body == NULL) {
                    json_decref(args);
                    gw_respond_error(r, 400, "The request content was malformed: %s", je.text);
                    return NULL;
                }
            } else if (strcmp(mt, "application/x-www-form-urlencoded") == 0) {
                char *copy = strndup(r->body, r->body_len), *save = NULL;
                body = json_object();
                for (char *kv = copy ? strtok_r(copy, "&", &save) : NULL; kv;
                     kv = strtok_r(NULL, "&", &save)) {
                    char *eq = strchr(kv, '=');
                    if (eq)
                        *eq = '\0';
                    if (!form_decode(kv) || (eq && !form_decode(eq + 1)) ||
                        json_object_set_new(body, kv, json_string(eq ? eq + 1 : "")) != 0) {
                        free(copy);
                        json_decref(body);
                        json_decref(args);
                        gw_respond_error(r, 400,
                                         "The request content was malformed: bad form data.");
                        return NULL;
                    }
                }
                free(copy);
            } else if (textual_body) {
                body = json_stringn(r->body, r->body_len);
            } else {
                char *b = b64_encode(r->body, r->body_len);
                body = b ? json_string(b) : NULL;
                free(b);
            }
            if (body == NULL) {
                json_decref(args);
                gw_respond_error(r, 400, "Content type '%s' is not supported.", mt);
                return NULL;
            }
        }
        /* the request may not set what the platform or the action fixes */
        {
            const char *k;
            json_t *v;
            json_object_foreach(args, k, v) if (is_reserved(k, m)) goto refused;
            if (json_is_object(body))
                json_object_foreach(body, k, v) if (is_reserved(k, m)) goto refused;
        }
        if (json_is_object(body))
            json_object_update(args, body);
        else if (body)
            json_object_set(args, "__ow_body", body);
        json_decref(body);
        /* an API route's path parameters, over query and body */
        if (w->route_params)
            json_object_update(args, w->route_params);
    } else {
        json_object_set_new(args, "__ow_query", json_string(w->query ? w->query : ""));
        if (r->body_len == 0) {
            json_object_set_new(args, "__ow_body", json_string(""));
        } else if (!textual_body || strcmp(mt, "application/json") == 0) {
            char *b = b64_encode(r->body, r->body_len);
            json_object_set_new(args, "__ow_body", json_string(b ? b : ""));
            free(b);
        } else {
            json_t *s = json_stringn(r->body, r->body_len);
            if (s == NULL) { /* not UTF-8: as binary */
                char *b = b64_encode(r->body, r->body_len);
                s = json_string(b ? b : "");
                free(b);
            }
            json_object_set_new(args, "__ow_body", s);
        }
    }
    json_object_set_new(args, "__ow_method", json_string(w->method));
    json_object_set(args, "__ow_headers", w->headers ? w->headers : json_object());
    json_object_set_new(args, "__ow_path", json_string(w->path));
    if (w->authenticated && r->ident.namespace_)
        json_object_set_new(args, "__ow_user", json_string(r->ident.namespace_));
    return args;
refused:
    json_decref(body);
    json_decref(args);
    gw_respond_error(r, 400, NOT_ALLOWED);
    return NULL;
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
        gw_respond_error(r, 404, NOT_FOUND);
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
        gw_respond_error(r, 401, UNAUTHORIZED);
        return true;
    }
    if ((args = arguments(r, m)) == NULL)
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
    if (r->apimgmt)
        return gw_apimgmt_start(r);
    if (r->route)
        return gw_routes_start(r);
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

/* The metadata of the resolved action o (an sq_action); NULL on allocation failure. */
static web_meta *meta_of(const gw_req *r, const msgpack_object *o)
{
    const msgpack_object *annots = sq_mp_get(o, "annotations");
    const msgpack_object *params = sq_mp_get(o, "parameters");
    const msgpack_object *auth;
    web_meta *m = calloc(1, sizeof *m);

    if (m == NULL)
        return NULL;
    snprintf(m->key, sizeof m->key, "%s/%s", r->ns, r->name);
    m->expires_us = sq_mono_us() + (int64_t)G.cfg.web_cache_ms * 1000;
    m->exported = annotation_true(annots, "web-export");
    m->raw = annotation_true(annots, "raw-http");
    m->custom_options = annotation_true(annots, "web-custom-options");
    auth = annotation(annots, "require-whisk-auth");
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
    if (annotation_true(annots, "final") && params && params->type == MSGPACK_OBJECT_ARRAY &&
        params->via.array.size > 0) {
        m->final_names = calloc(params->via.array.size, sizeof *m->final_names);
        for (uint32_t i = 0; m->final_names && i < params->via.array.size; i++) {
            const msgpack_object *k = sq_mp_get(&params->via.array.ptr[i], "key");
            if (k && k->type == MSGPACK_OBJECT_STR &&
                (m->final_names[m->nfinal] = strndup(k->via.str.ptr, k->via.str.size)) != NULL)
                m->nfinal++;
        }
    }
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
        gw_respond_error(r, 404, NOT_FOUND); /* nothing of what is not exported leaks */
    else
        gw_respond_error(r, code, "%.*s", (int)len, msg);
}

void gw_web_on_timeout(gw_req *r)
{
    if (r->leg == GW_LEG_OP && !r->apimgmt)
        gw_respond_error(r, 202, NOT_READY);
    else
        gw_respond_error(r, 503, "The platform did not answer in time.");
}

/* ---- the response ------------------------------------------------------------------- */

/* Serialises j as the response (200 unless status says otherwise). */
static void respond_json_value(gw_req *r, int status, const json_t *j, const char *ctype)
{
    char *txt = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (txt == NULL) {
        gw_respond_error(r, 500, "could not encode the response");
        return;
    }
    gw_respond(r, status, txt, strlen(txt));
    r->resp_ctype = ctype;
}

/* A string field of an object result (body, or the extension's own field), or the result
 * itself when it is not an object. */
static const json_t *projection(const json_t *result, const char *field)
{
    const json_t *v;
    if (!json_is_object(result))
        return result;
    if ((v = json_object_get(result, "body")) != NULL)
        return v;
    return json_object_get(result, field);
}

static void as_html_or_svg(gw_req *r, const json_t *result, const char *field, const char *ctype)
{
    const json_t *v = projection(result, field);
    if (json_is_string(v))
        respond_plain(r, 200, ctype, json_string_value(v), json_string_length(v));
    else
        gw_respond_error(r, 400, "Response is not valid '%s'.",
                         strcmp(field, "html") == 0 ? "text/html" : "image/svg+xml");
}

static void as_text(gw_req *r, const json_t *result)
{
    const json_t *v = projection(result, "text");
    char num[64];
    if (v == NULL) {
        gw_respond_error(r, 404, NO_PROPERTY);
    } else if (json_is_string(v)) {
        respond_plain(r, 200, "text/plain; charset=UTF-8", json_string_value(v),
                      json_string_length(v));
    } else if (json_is_object(v) || json_is_array(v)) {
        char *txt = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
        if (txt) {
            respond_plain(r, 200, "text/plain; charset=UTF-8", txt, strlen(txt));
            free(txt);
        } else {
            gw_respond_error(r, 500, "could not encode the response");
        }
    } else if (json_is_true(v) || json_is_false(v)) {
        snprintf(num, sizeof num, "%s", json_is_true(v) ? "true" : "false");
        respond_plain(r, 200, "text/plain; charset=UTF-8", num, strlen(num));
    } else if (json_is_null(v)) {
        respond_plain(r, 200, "text/plain; charset=UTF-8", "null", 4);
    } else {
        char *txt = json_dumps(v, JSON_ENCODE_ANY);
        respond_plain(r, 200, "text/plain; charset=UTF-8", txt ? txt : "", txt ? strlen(txt) : 0);
        free(txt);
    }
}

/* A header value of an .http result as text; false when it is not a string, number or
 * boolean. */
static bool header_text(const json_t *v, char *out, size_t cap)
{
    if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, cap, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
    else
        return false;
    /* no header splitting through a value */
    return strpbrk(out, "\r\n") == NULL;
}

static bool header_name_ok(const char *k)
{
    if (*k == '\0')
        return false;
    for (; *k; k++)
        if (!(isalnum((unsigned char)*k) || strchr("!#$%&'*+-.^_`|~", *k)))
            return false;
    return true;
}

static void as_http(gw_req *r, const json_t *result)
{
    static const char invalid[] = "Response is not valid 'message/http'.";
    const json_t *headers, *body, *code;
    const char *ctype = NULL;
    char mt[128], value[4096];
    int status = -1;
    const char *k;
    json_t *v;

    if (!json_is_object(result))
        goto invalid;
    headers = json_object_get(result, "headers");
    if (headers && !json_is_object(headers))
        goto invalid;
    code = json_object_get(result, "statusCode");
    if (code) {
        if (json_is_integer(code))
            status = (int)json_integer_value(code);
        else if (json_is_real(code) && json_real_value(code) == (double)(int)json_real_value(code))
            status = (int)json_real_value(code);
        else if (json_is_string(code)) {
            char *end;
            long x = strtol(json_string_value(code), &end, 10);
            if (*end != '\0' || end == json_string_value(code))
                goto invalid;
            status = (int)x;
        } else
            goto invalid;
        if (status < 100 || status > 599)
            goto invalid;
    }
    /* headers first: a bad one fails the whole response */
    free(r->resp_hdrs);
    r->resp_hdrs = NULL;
    r->resp_hdrs_len = 0;
    if (r->cors)
        gw_add_cors(r, r->web ? r->web->acrh : NULL);
    if (headers) {
        json_object_foreach((json_t *)headers, k, v)
        {
            if (!header_name_ok(k))
                goto invalid;
            if (strcasecmp(k, "content-type") == 0) {
                if (!json_is_string(v))
                    goto invalid;
                ctype = json_string_value(v);
                continue;
            }
            if (json_is_array(v)) {
                size_t i;
                json_t *x;
                json_array_foreach(v, i, x)
                {
                    if (!header_text(x, value, sizeof value))
                        goto invalid;
                    gw_add_header(r, k, value);
                }
            } else {
                if (!header_text(v, value, sizeof value))
                    goto invalid;
                gw_add_header(r, k, value);
            }
        }
    }
    body = json_object_get(result, "body");
    if (body == NULL || json_is_null(body) ||
        (json_is_string(body) && json_string_length(body) == 0)) {
        gw_respond(r, status > 0 ? status : 204, NULL, 0);
        return;
    }
    if (ctype != NULL) {
        media_type(ctype, mt, sizeof mt);
        if (mt[0] == '\0' || strchr(mt, '/') == NULL || strpbrk(ctype, "\r\n")) {
            gw_respond_error(r, 400, CT_UNKNOWN);
            return;
        }
    }
    if (!json_is_string(body)) {
        /* JSON: the content type must be of the JSON family */
        if (ctype && !json_family(mt)) {
            gw_respond_error(r, 400, CT_ERROR);
            return;
        }
        respond_json_value(r, status > 0 ? status : 200, body, NULL);
        if (ctype) {
            r->resp_ctype_own = strdup(ctype);
        }
        return;
    }
    {
        const char *s = json_string_value(body);
        size_t n = json_string_length(body);
        if (ctype == NULL) {
            respond_plain(r, status > 0 ? status : 200, "text/html; charset=UTF-8", s, n);
            return;
        }
        if (textual(mt) && !(json_family(mt) && looks_base64(s, n))) {
            respond_plain(r, status > 0 ? status : 200, NULL, s, n);
        } else {
            size_t len = 0;
            unsigned char *bin = b64_decode(s, n, &len);
            if (bin == NULL) {
                gw_respond_error(r, 400, CT_ERROR);
                return;
            }
            gw_respond(r, status > 0 ? status : 200, (char *)bin, len);
        }
        r->resp_ctype_own = strdup(ctype);
        return;
    }
invalid:
    gw_respond_error(r, 400, invalid);
}

void gw_web_on_reply(gw_req *r, const msgpack_object *o)
{
    const msgpack_object *resp = sq_mp_get(o, "response");
    const msgpack_object *code, *res;
    json_t *result = NULL;
    const json_t *proj;
    uint64_t sc = SQ_ACT_INTERNAL;

    if (r->apimgmt) {
        gw_apimgmt_on_reply(r, o);
        return;
    }
    if (resp == NULL) {
        gw_respond_error(r, 202, NOT_READY);
        return;
    }
    code = sq_mp_get(resp, "statusCode");
    if (code && code->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        sc = code->via.u64;
    if (sc != SQ_ACT_SUCCESS && sc != SQ_ACT_APP_ERROR) {
        gw_respond_error(r, 400, PROCESSING);
        return;
    }
    res = sq_mp_get(resp, "result");
    result = res ? sq_mp_to_json(res) : json_object();
    proj = result;
    if (sc == SQ_ACT_APP_ERROR)
        proj = json_is_object(result) ? json_object_get(result, "error") : NULL;
    if (proj == NULL) {
        gw_respond_error(r, 404, NO_PROPERTY);
        json_decref(result);
        return;
    }
    switch (r->web ? r->web->ext : EXT_HTTP) {
    case EXT_JSON:
        if (json_is_object(proj) || json_is_array(proj))
            respond_json_value(r, 200, proj, NULL);
        else
            gw_respond_error(r, 400, "Response is not valid 'application/json'.");
        break;
    case EXT_HTML: as_html_or_svg(r, proj, "html", "text/html; charset=UTF-8"); break;
    case EXT_SVG: as_html_or_svg(r, proj, "svg", "image/svg+xml"); break;
    case EXT_TEXT: as_text(r, proj); break;
    default: as_http(r, proj); break;
    }
    json_decref(result);
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
