/* Status codes for every fallible call in Squall, generated from status.def so that the
 * enum, its names, its messages and its HTTP codes cannot drift apart. */
#ifndef SQ_STATUS_H
#define SQ_STATUS_H

typedef enum sq_status {
#define X(name, http, msg) name,
#include "sq/status.def"
#undef X
    SQ_STATUS_COUNT_
} sq_status;

/* The enum's name, e.g. "SQ_ERR_NOT_FOUND". */
const char *sq_status_name(sq_status st);
/* The default human message for st. */
const char *sq_status_str(sq_status st);
/* The HTTP status code the gateway answers with for st. */
int sq_status_http(sq_status st);
/* The status for an HTTP code received on the wire (first match in the table; unknown
 * codes of 500 and above map to SQ_ERR_INTERNAL, others to SQ_ERR_BAD_REQUEST). */
sq_status sq_status_from_http(int code);

#endif
