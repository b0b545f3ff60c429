/* Declarative configuration: each service lists its settings in one table (name,
 * environment variable, bounds, default, field), the way Redis's config.c does. Values
 * resolve as defaults < file (named by SQ_CONFIG, `name = value` lines, # comments) <
 * environment. The resolved table is logged at start with secrets masked. */
#ifndef SQ_CONFIG_H
#define SQ_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include "sq/status.h"

typedef enum { SQ_CFG_T_INT, SQ_CFG_T_STR, SQ_CFG_T_BOOL } sq_cfg_type;

typedef struct sq_cfg_entry {
    const char *name; /* file key */
    const char *env;  /* environment variable */
    sq_cfg_type type;
    long long min, max; /* bounds for SQ_CFG_T_INT */
    const char *def;    /* default, as text; NULL for no value (strings become "") */
    void *field; /* int * (INT), bool * (BOOL) or char ** (STR, malloc'd, owned by the table) */
    bool secret; /* masked in the log */
    const char *installed; /* SQ_CFG_PATH: the default relative to the install prefix */
} sq_cfg_entry;

#define SQ_CFG_INT(name, env, min, max, def, field)                                                \
    {                                                                                              \
        name, env, SQ_CFG_T_INT, min, max, #def, &(field), false, NULL                             \
    }
#define SQ_CFG_BOOL(name, env, def, field)                                                         \
    {                                                                                              \
        name, env, SQ_CFG_T_BOOL, 0, 1, def ? "true" : "false", &(field), false, NULL              \
    }
#define SQ_CFG_STR(name, env, def, field)                                                          \
    {                                                                                              \
        name, env, SQ_CFG_T_STR, 0, 0, def, &(field), false, NULL                                  \
    }
#define SQ_CFG_SECRET(name, env, def, field)                                                       \
    {                                                                                              \
        name, env, SQ_CFG_T_STR, 0, 0, def, &(field), true, NULL                                   \
    }

/* A path whose default is found relative to the installed binary: when the running binary
 * is <prefix>/sbin/x, <prefix>/bin/x or <prefix>/lib/squall/x and <prefix>/<installed>
 * exists, that is the default (an installed tree: /usr/share/squall/schemas...); otherwise
 * def (the source-tree layout, for the build tree). */
#define SQ_CFG_PATH(name, env, installed, def, field)                                              \
    {                                                                                              \
        name, env, SQ_CFG_T_STR, 0, 0, def, &(field), false, installed                             \
    }

/* Settings every service shares, resolved by every sq_config_load() besides the service's
 * own table (same file keys and variables, logged with it): how to reach NATS and how
 * JetStream keeps what is in flight. Read by sq_bus_connect() and the stream helpers of
 * proto/; a process that never calls sq_config_load() (a tool) gets them from the
 * environment at its first sq_bus_connect(). Strings are "" when unset. */
typedef struct sq_common_cfg {
    char *nats_user;     /* SQ_NATS_USER (a user in the URL wins) */
    char *nats_pass;     /* SQ_NATS_PASS */
    char *nats_token;    /* SQ_NATS_TOKEN */
    char *nats_nkey;     /* SQ_NATS_NKEY: a user nkey seed file */
    char *nats_creds;    /* SQ_NATS_CREDS: a .creds file (user JWT and seed) */
    char *nats_tls_ca;   /* SQ_NATS_TLS_CA: CA file; set, the connection is TLS */
    char *nats_tls_cert; /* SQ_NATS_TLS_CERT, SQ_NATS_TLS_KEY: client certificate */
    char *nats_tls_key;
    int js_replicas;    /* SQ_JS_REPLICAS: 0 = 3 when the cluster allows it, else 1 */
    int js_act_max_mb;  /* SQ_JS_ACTIVATIONS_MAX_MB: byte cap of SQ_ACTIVATIONS */
    int js_work_max_mb; /* SQ_JS_WORK_MAX_MB: byte cap of SQ_WORK */
    bool loaded;        /* resolved by a sq_config_load() */
} sq_common_cfg;

extern sq_common_cfg sq_common;

/* <prefix>/<rel> of the running binary (see SQ_CFG_PATH) into out when it exists; false
 * (out untouched) when the binary is not in an installed layout or the path is missing. */
bool sq_installed_path(const char *rel, char *out, size_t outlen);

/* Resolves every entry of table into its field. The file's keys are the entries' names or
 * their environment variables' names (SQ_NATS_URL = ...), so one file can serve as a
 * systemd EnvironmentFile= and as SQ_CONFIG. Returns SQ_ERR_BAD_REQUEST (and logs which
 * setting) when a value does not parse or is out of bounds, SQ_ERR_IO when SQ_CONFIG names
 * a file that cannot be read. */
sq_status sq_config_load(const sq_cfg_entry *table, size_t n);
/* table may be NULL (n 0): only the common settings (sq_common) are resolved. */
/* Logs the resolved values, secrets masked. */
void sq_config_log(const sq_cfg_entry *table, size_t n);
/* Frees the strings the table owns. */
void sq_config_free(const sq_cfg_entry *table, size_t n);

/* sq_config_load, then sq_config_log when it succeeded: what every service does at start. */
sq_status sq_config_setup(const sq_cfg_entry *table, size_t n);

/* Defines `sq_status load(void)` (sq_config_setup of table) and `void unload(void)`
 * (sq_config_free of table): a service's config.c is its table and this line. */
#define SQ_CONFIG_DEFINE(load, unload, table)                                                      \
    sq_status load(void)                                                                           \
    {                                                                                              \
        return sq_config_setup((table), sizeof(table) / sizeof((table)[0]));                       \
    }                                                                                              \
    void unload(void)                                                                              \
    {                                                                                              \
        sq_config_free((table), sizeof(table) / sizeof((table)[0]));                               \
    }

#endif
