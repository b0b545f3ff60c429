/* Media types and base64 for web actions: what a Content-Type says (JSON, text or binary)
 * and the base64 in which binary bodies travel inside JSON arguments and results. */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

void web_media_type(const char *ct, char *out, size_t cap)
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

bool web_json_family(const char *mt)
{
    return strcmp(mt, "application/json") == 0 || ends_with(mt, "+json");
}

/* Whether a media type carries text (false: binary content travels as base64). */
bool web_textual(const char *mt)
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
bool web_looks_base64(const char *s, size_t n)
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

char *web_b64_encode(const void *data, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(cap);
    if (out)
        sodium_bin2base64(out, cap, data, n, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

/* Decodes standard base64; NULL when s is not valid base64. */
unsigned char *web_b64_decode(const char *s, size_t n, size_t *out_len)
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
