/* The runtimes Squall runs, as OpenWhisk's runtime manifest lists them: the registry accepts
 * these kinds (and "family:default"), the invoker runs them, GET / shows them. */
#include <string.h>

#include "proto/proto.h"

static const sq_runtime RUNTIMES[] = {
    { "nodejs", "nodejs:20", true, false, "squall/nodejs:20" },
    { "python", "python:3", true, false, "squall/python:3" },
    { "native", "native", true, false, "squall/native" },
};
#define NRUNTIMES (sizeof RUNTIMES / sizeof RUNTIMES[0])

const sq_runtime *sq_runtimes(size_t *n)
{
    *n = NRUNTIMES;
    return RUNTIMES;
}

const char *sq_kind_resolve(const char *kind)
{
    const char *colon;

    if (kind == NULL)
        return NULL;
    for (size_t i = 0; i < NRUNTIMES; i++)
        if (strcmp(kind, RUNTIMES[i].kind) == 0)
            return RUNTIMES[i].kind;
    colon = strchr(kind, ':');
    if (colon != NULL && strcmp(colon + 1, "default") == 0)
        for (size_t i = 0; i < NRUNTIMES; i++)
            if (RUNTIMES[i].is_default && strlen(RUNTIMES[i].family) == (size_t)(colon - kind) &&
                strncmp(kind, RUNTIMES[i].family, (size_t)(colon - kind)) == 0)
                return RUNTIMES[i].kind;
    return NULL;
}
