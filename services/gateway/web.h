/* Web actions' internals, shared by web.c (the route, the metadata cache, the invoke),
 * web_args.c (the request as the action's arguments), web_result.c (the action's result as
 * the HTTP response) and web_mime.c (media types and base64). The rest of the gateway uses
 * gateway.h only. */
#ifndef GW_WEB_H
#define GW_WEB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "gateway.h"

/* OpenWhisk's messages, word for word (clients compare them) */
#define WEB_NOT_FOUND "The requested resource does not exist."
#define WEB_NOT_ALLOWED                                                                            \
    "Request defines parameters that are not allowed (e.g., reserved properties)."
#define WEB_NO_PROPERTY "Response does not include requested property."
#define WEB_CT_ERROR "Response type in header did not match generated content type."
#define WEB_CT_UNKNOWN "Response did not specify a known content-type."
#define WEB_PROCESSING "There was an error processing your request."
#define WEB_NOT_READY "Response not yet ready."
#define WEB_UNAUTHORIZED                                                                           \
    "The resource requires authentication, which was not supplied with the request"

typedef enum { EXT_HTTP, EXT_JSON, EXT_HTML, EXT_SVG, EXT_TEXT } web_ext;

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

/* web_mime.c */
/* The media type of a Content-Type value, lower case, without parameters. */
void web_media_type(const char *ct, char *out, size_t cap);
/* application/json or any +json type. */
bool web_json_family(const char *mt);
/* Whether a media type carries text (false: binary content travels as base64). */
bool web_textual(const char *mt);
/* OpenWhisk's test for base64 content: non-empty, a multiple of 4, the base64 alphabet. */
bool web_looks_base64(const char *s, size_t n);
/* Standard base64 of data, malloc'd (NULL: out of memory). */
char *web_b64_encode(const void *data, size_t n);
/* Decodes standard base64 into a malloc'd buffer; NULL when s is not valid base64. */
unsigned char *web_b64_decode(const char *s, size_t n, size_t *out_len);

/* web_args.c: the action's arguments for r (query and body merged, or raw with raw-http,
 * and the __ow_* fields); NULL with r answered (400) when the request overrides a reserved
 * or final parameter or its body cannot be read. Lws or NATS thread, whoever holds r. */
json_t *web_arguments(gw_req *r, const web_meta *m);

#endif
