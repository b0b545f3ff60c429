/* A web action request as the action's arguments, as OpenWhisk's WebActions controller
 * builds them: the query and a JSON or form body merged into one object (a body of another
 * type as __ow_body, base64 when binary), or with raw-http the query string and the body
 * untouched; then __ow_method, __ow_headers, __ow_path and __ow_user. A request may not set
 * a reserved (__ow_*) or final parameter. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

static const char *const RESERVED[] = { "__ow_method", "__ow_headers", "__ow_path",
                                        "__ow_user",   "__ow_query",   "__ow_body" };

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

/* The query's name=value pairs, as strings. */
static void query_args(const gw_req *r, json_t *args)
{
    for (int i = 0; i < r->nargs; i++) {
        const char *a = r->args[i], *eq = strchr(a, '=');
        char *k = eq ? strndup(a, (size_t)(eq - a)) : strdup(a);
        if (k == NULL)
            continue;
        json_object_set_new(args, k, json_string(eq ? eq + 1 : ""));
        free(k);
    }
}

/* An application/x-www-form-urlencoded body as an object of strings; NULL when it is not
 * valid form data. */
static json_t *form_body(const gw_req *r)
{
    char *copy = strndup(r->body, r->body_len), *save = NULL;
    json_t *body = json_object();
    for (char *kv = copy ? strtok_r(copy, "&", &save) : NULL; kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        if (!form_decode(kv) || (eq && !form_decode(eq + 1)) ||
            json_object_set_new(body, kv, json_string(eq ? eq + 1 : "")) != 0) {
            json_decref(body);
            body = NULL;
            break;
        }
    }
    free(copy);
    return body;
}

/* The body (of media type mt) as a value: JSON as it is, a form as an object, text as a
 * string, anything else as base64; *out stays NULL for an empty body. False with r
 * answered (400) when the body cannot be read. */
static bool body_value(gw_req *r, const char *mt, json_t **out)
{
    json_t *body;

    *out = NULL;
    if (r->body_len == 0)
        return true;
    if (web_json_family(mt)) {
        json_error_t je;
        if ((body = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &je)) == NULL) {
            gw_respond_error(r, 400, "The request content was malformed: %s", je.text);
            return false;
        }
    } else if (strcmp(mt, "application/x-www-form-urlencoded") == 0) {
        if ((body = form_body(r)) == NULL) {
            gw_respond_error(r, 400, "The request content was malformed: bad form data.");
            return false;
        }
    } else if (web_textual(mt)) {
        body = json_stringn(r->body, r->body_len);
    } else {
        char *b = web_b64_encode(r->body, r->body_len);
        body = b ? json_string(b) : NULL;
        free(b);
    }
    if (body == NULL) {
        gw_respond_error(r, 400, "Content type '%s' is not supported.", mt);
        return false;
    }
    *out = body;
    return true;
}

/* Whether the query or the body sets what the platform or the action fixes. */
static bool overrides(json_t *args, json_t *body, const web_meta *m)
{
    const char *k;
    json_t *v;
    json_object_foreach(args, k, v) if (is_reserved(k, m)) return true;
    if (json_is_object(body))
        json_object_foreach(body, k, v) if (is_reserved(k, m)) return true;
    return false;
}

/* raw-http: the query string and the body as they came (the body base64 unless it is text
 * other than JSON, or not UTF-8). */
static void raw_args(const gw_req *r, const char *mt, json_t *args)
{
    const gw_web *w = r->web;
    json_t *s = NULL;

    json_object_set_new(args, "__ow_query", json_string(w->query ? w->query : ""));
    if (r->body_len == 0) {
        s = json_string("");
    } else if (web_textual(mt) && strcmp(mt, "application/json") != 0) {
        s = json_stringn(r->body, r->body_len);
    }
    if (s == NULL) { /* binary, JSON, or text that is not UTF-8 */
        char *b = web_b64_encode(r->body, r->body_len);
        s = json_string(b ? b : "");
        free(b);
    }
    json_object_set_new(args, "__ow_body", s);
}

json_t *web_arguments(gw_req *r, const web_meta *m)
{
    gw_web *w = r->web;
    json_t *args = json_object(), *body = NULL;
    char mt[128];

    web_media_type(r->ctype[0] ? r->ctype : "application/octet-stream", mt, sizeof mt);
    if (m->raw) {
        raw_args(r, mt, args);
    } else {
        query_args(r, args);
        if (!body_value(r, mt, &body)) {
            json_decref(args);
            return NULL;
        }
        if (overrides(args, body, m)) {
            json_decref(body);
            json_decref(args);
            gw_respond_error(r, 400, WEB_NOT_ALLOWED);
            return NULL;
        }
        if (json_is_object(body))
            json_object_update(args, body);
        else if (body)
            json_object_set(args, "__ow_body", body);
        json_decref(body);
        /* an API route's path parameters, over query and body */
        if (w->route_params)
            json_object_update(args, w->route_params);
    }
    json_object_set_new(args, "__ow_method", json_string(w->method));
    json_object_set(args, "__ow_headers", w->headers ? w->headers : json_object());
    json_object_set_new(args, "__ow_path", json_string(w->path));
    if (w->authenticated && r->ident.namespace_)
        json_object_set_new(args, "__ow_user", json_string(r->ident.namespace_));
    return args;
}
