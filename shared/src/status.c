/* The status table compiled into lookups: names, messages and HTTP codes. */
#include "sq/status.h"

static const struct {
    const char *name;
    int http;
    const char *msg;
} table[] = {
#define X(name, http, msg) { #name, http, msg },
#include "sq/status.def"
#undef X
};

#define VALID(st) ((unsigned)(st) < SQ_STATUS_COUNT_)

const char *sq_status_name(sq_status st)
{
    return VALID(st) ? table[st].name : "SQ_ERR_UNKNOWN";
}
const char *sq_status_str(sq_status st)
{
    return VALID(st) ? table[st].msg : "unknown status";
}
int sq_status_http(sq_status st)
{
    return VALID(st) ? table[st].http : 500;
}

sq_status sq_status_from_http(int code)
{
    for (unsigned i = 0; i < SQ_STATUS_COUNT_; i++)
        if (table[i].http == code)
            return (sq_status)i;
    return code >= 500 ? SQ_ERR_INTERNAL : SQ_ERR_BAD_REQUEST;
}
