/* A web action's result as the HTTP response, as the extension of its URL says: .json
 * (the object), .html and .svg (a string field), .text (any value as text) and .http (the
 * action decides status, headers and body; binary bodies come as base64). Runs on the
 * NATS thread with the invoke's reply. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sq/json.h"
#include "sq/mp.h"
#include "web.h"

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
        gw_respond_error(r, 404, WEB_NO_PROPERTY);
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

/* The statusCode of an .http result: -1 when it has none, 0 when it is not a status. */
static int http_status(const json_t *result)
{
    const json_t *code = json_object_get(result, "statusCode");
    int status;

    if (code == NULL)
        return -1;
    if (json_is_integer(code))
        status = (int)json_integer_value(code);
    else if (json_is_real(code) && json_real_value(code) == (double)(int)json_real_value(code))
        status = (int)json_real_value(code);
    else if (json_is_string(code)) {
        char *end;
        long x = strtol(json_string_value(code), &end, 10);
        if (*end != '\0' || end == json_string_value(code))
            return 0;
        status = (int)x;
    } else
        return 0;
    return status < 100 || status > 599 ? 0 : status;
}

/* Sets r's response headers from an .http result's headers object (the content type is
 * kept apart in *ctype); false when one of them is not valid. */
static bool http_headers(gw_req *r, const json_t *headers, const char **ctype)
{
    char value[4096];
    const char *k;
    json_t *v;

    free(r->resp_hdrs);
    r->resp_hdrs = NULL;
    r->resp_hdrs_len = 0;
    if (r->cors)
        gw_add_cors(r, r->web ? r->web->acrh : NULL);
    if (headers == NULL)
        return true;
    json_object_foreach((json_t *)headers, k, v)
    {
        if (!header_name_ok(k))
            return false;
        if (strcasecmp(k, "content-type") == 0) {
            if (!json_is_string(v))
                return false;
            *ctype = json_string_value(v);
            continue;
        }
        if (json_is_array(v)) {
            size_t i;
            json_t *x;
            json_array_foreach(v, i, x)
            {
                if (!header_text(x, value, sizeof value))
                    return false;
                gw_add_header(r, k, value);
            }
        } else {
            if (!header_text(v, value, sizeof value))
                return false;
            gw_add_header(r, k, value);
        }
    }
    return true;
}

/* An .http result's non-empty body as the response, under its content type (NULL: none
 * said): JSON as JSON, text as it is, anything else decoded from base64. */
static void http_body(gw_req *r, int status, const json_t *body, const char *ctype)
{
    const char *s = json_string_value(body);
    size_t n = json_string_length(body), len = 0;
    unsigned char *bin;
    char mt[128];

    if (ctype != NULL) {
        web_media_type(ctype, mt, sizeof mt);
        if (mt[0] == '\0' || strchr(mt, '/') == NULL || strpbrk(ctype, "\r\n")) {
            gw_respond_error(r, 400, WEB_CT_UNKNOWN);
            return;
        }
    }
    if (!json_is_string(body)) {
        /* JSON: the content type must be of the JSON family */
        if (ctype && !web_json_family(mt)) {
            gw_respond_error(r, 400, WEB_CT_ERROR);
            return;
        }
        respond_json_value(r, status, body, NULL);
    } else if (ctype == NULL) {
        respond_plain(r, status, "text/html; charset=UTF-8", s, n);
        return;
    } else if (web_textual(mt) && !(web_json_family(mt) && web_looks_base64(s, n))) {
        respond_plain(r, status, NULL, s, n);
    } else if ((bin = web_b64_decode(s, n, &len)) != NULL) {
        gw_respond(r, status, (char *)bin, len);
    } else {
        gw_respond_error(r, 400, WEB_CT_ERROR);
        return;
    }
    if (ctype)
        r->resp_ctype_own = strdup(ctype);
}

static void as_http(gw_req *r, const json_t *result)
{
    const json_t *headers, *body;
    const char *ctype = NULL;
    int status;

    if (!json_is_object(result))
        goto invalid;
    headers = json_object_get(result, "headers");
    if ((headers && !json_is_object(headers)) || (status = http_status(result)) == 0)
        goto invalid;
    /* headers first: a bad one fails the whole response */
    if (!http_headers(r, headers, &ctype))
        goto invalid;
    body = json_object_get(result, "body");
    if (body == NULL || json_is_null(body) ||
        (json_is_string(body) && json_string_length(body) == 0)) {
        gw_respond(r, status > 0 ? status : 204, NULL, 0);
        return;
    }
    http_body(r, status > 0 ? status : 200, body, ctype);
    return;
invalid:
    gw_respond_error(r, 400, "Response is not valid 'message/http'.");
}

void gw_web_on_reply(gw_req *r, const msgpack_object *o)
{
    msgpack_zone z;
    sq_activation a;
    json_t *result = NULL;
    const json_t *proj;
    sq_act_status sc;

    msgpack_zone_init(&z, 1024);
    if (sq_activation_from(o, &z, &a, NULL, 0) != SQ_OK) {
        msgpack_zone_destroy(&z);
        gw_respond_error(r, 202, WEB_NOT_READY); /* {activationId}: queued */
        return;
    }
    sc = a.status;
    if (sc != SQ_ACT_SUCCESS && sc != SQ_ACT_APP_ERROR) {
        msgpack_zone_destroy(&z);
        gw_respond_error(r, 400, WEB_PROCESSING);
        return;
    }
    result = a.result.type != MSGPACK_OBJECT_NIL ? sq_mp_to_json(&a.result) : json_object();
    msgpack_zone_destroy(&z);
    proj = result;
    if (sc == SQ_ACT_APP_ERROR)
        proj = json_is_object(result) ? json_object_get(result, "error") : NULL;
    if (proj == NULL) {
        gw_respond_error(r, 404, WEB_NO_PROPERTY);
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
