/* The key of a trigger in the feeds' JetStream KV buckets. Both feeds key by it (alarms.c's
 * timers, natsfeed.c's subscriptions), so it lives apart from both: natsfeed.c no longer
 * depends on alarms.c. */
#include <stdbool.h>
#include <stddef.h>

#include "triggers.h"

int trg_kv_key(const char *ns, const char *name, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *parts[2] = { ns, name };
    size_t o = 0;
    if (outlen < 3)
        return -1;
    out[o++] = 'a';
    for (int p = 0; p < 2; p++) {
        if (o + 1 >= outlen)
            return -1;
        out[o++] = '.';
        for (const char *s = parts[p]; *s; s++) {
            unsigned char c = (unsigned char)*s;
            bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-';
            if (o + (keep ? 1 : 3) >= outlen)
                return -1;
            if (keep)
                out[o++] = (char)c;
            else {
                out[o++] = '=';
                out[o++] = hex[c >> 4];
                out[o++] = hex[c & 15];
            }
        }
    }
    out[o] = '\0';
    return 0;
}
