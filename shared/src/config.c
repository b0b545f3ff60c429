/* Configuration tables: defaults, then the optional file named by SQ_CONFIG, then the
 * environment. See config.h. */
#include "sq/config.h"
#include "sq/log.h"
#include "sq/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static sq_status set_value(const sq_cfg_entry *e, const char *v, const char *origin)
{
    char *end;
    long long x;

    switch (e->type) {
    case SQ_CFG_T_INT:
        errno = 0;
        x = strtoll(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0' || x < e->min || x > e->max) {
            sq_error("invalid value \"%s\" for setting \"%s\" (from %s): expected an integer in "
                     "[%lld, %lld]",
                     v, e->name, origin, e->min, e->max);
            return SQ_ERR_BAD_REQUEST;
        }
        *(int *)e->field = (int)x;
        return SQ_OK;
    case SQ_CFG_T_BOOL:
        if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") ||
            !strcasecmp(v, "on"))
            *(bool *)e->field = true;
        else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") ||
                 !strcasecmp(v, "off"))
            *(bool *)e->field = false;
        else {
            sq_error("invalid value \"%s\" for setting \"%s\" (from %s): expected a boolean", v,
                     e->name, origin);
            return SQ_ERR_BAD_REQUEST;
        }
        return SQ_OK;
    case SQ_CFG_T_STR: {
        char *s = strdup(v);
        if (s == NULL)
            return SQ_ERR_NOMEM;
        free(*(char **)e->field);
        *(char **)e->field = s;
        return SQ_OK;
    }
    }
    return SQ_ERR_INTERNAL;
}

static char *trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

sq_common_cfg sq_common;

/* The common settings (config.h), resolved with every service's table. */
static const sq_cfg_entry common_table[] = {
    SQ_CFG_STR("nats_user", "SQ_NATS_USER", NULL, sq_common.nats_user),
    SQ_CFG_SECRET("nats_pass", "SQ_NATS_PASS", NULL, sq_common.nats_pass),
    SQ_CFG_SECRET("nats_token", "SQ_NATS_TOKEN", NULL, sq_common.nats_token),
    SQ_CFG_STR("nats_nkey", "SQ_NATS_NKEY", NULL, sq_common.nats_nkey),
    SQ_CFG_STR("nats_creds", "SQ_NATS_CREDS", NULL, sq_common.nats_creds),
    SQ_CFG_STR("nats_tls_ca", "SQ_NATS_TLS_CA", NULL, sq_common.nats_tls_ca),
    SQ_CFG_STR("nats_tls_cert", "SQ_NATS_TLS_CERT", NULL, sq_common.nats_tls_cert),
    SQ_CFG_STR("nats_tls_key", "SQ_NATS_TLS_KEY", NULL, sq_common.nats_tls_key),
    SQ_CFG_INT("js_replicas", "SQ_JS_REPLICAS", 0, 5, 0, sq_common.js_replicas),
    SQ_CFG_INT("js_activations_max_mb", "SQ_JS_ACTIVATIONS_MAX_MB", 1, 1 << 20, 1024,
               sq_common.js_act_max_mb),
    SQ_CFG_INT("js_work_max_mb", "SQ_JS_WORK_MAX_MB", 1, 1 << 20, 64, sq_common.js_work_max_mb),
};
#define NCOMMON (sizeof common_table / sizeof common_table[0])

/* The entry of the service's table, else of the common one, named k (name or variable). */
static const sq_cfg_entry *find_entry(const sq_cfg_entry *table, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, k) == 0 || (table[i].env && strcmp(table[i].env, k) == 0))
            return &table[i];
    for (size_t i = 0; i < NCOMMON; i++)
        if (strcmp(common_table[i].name, k) == 0 || strcmp(common_table[i].env, k) == 0)
            return &common_table[i];
    return NULL;
}

static sq_status load_file(const sq_cfg_entry *table, size_t n, const char *path)
{
    char line[4096];
    int lineno = 0;
    sq_status st = SQ_OK;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        sq_error("could not open configuration file \"%s\": %s", path, strerror(errno));
        return SQ_ERR_IO;
    }
    while (st == SQ_OK && fgets(line, sizeof line, f) != NULL) {
        char *k, *v, *eq;
        const sq_cfg_entry *e;
        lineno++;
        k = trim(line);
        if (*k == '\0' || *k == '#')
            continue;
        eq = strchr(k, '=');
        if (eq == NULL) {
            sq_error("syntax error in \"%s\" line %d: expected name = value", path, lineno);
            st = SQ_ERR_BAD_REQUEST;
            break;
        }
        *eq = '\0';
        k = trim(k);
        v = trim(eq + 1);
        /* an EnvironmentFile= line may quote its value: "value" or 'value' */
        if ((v[0] == '"' || v[0] == '\'') && strlen(v) >= 2 && v[strlen(v) - 1] == v[0]) {
            v[strlen(v) - 1] = '\0';
            v++;
        }
        if ((e = find_entry(table, n, k)) == NULL)
            sq_warn("unknown setting \"%s\" in \"%s\" line %d ignored", k, path, lineno);
        else
            st = set_value(e, v, path);
    }
    fclose(f);
    return st;
}

/* The directory of the running binary's install prefix: <prefix> for <prefix>/sbin/x,
 * <prefix>/bin/x and <prefix>/lib/squall/x; false otherwise (a build tree). */
static bool install_prefix(char *out, size_t outlen)
{
    char exe[4096], *slash;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    if ((slash = strrchr(exe, '/')) == NULL)
        return false;
    *slash = '\0'; /* exe = the binary's directory */
    n = (ssize_t)strlen(exe);
    if (n >= 5 && strcmp(exe + n - 5, "/sbin") == 0)
        exe[n - 5] = '\0';
    else if (n >= 4 && strcmp(exe + n - 4, "/bin") == 0)
        exe[n - 4] = '\0';
    else if (n >= 11 && strcmp(exe + n - 11, "/lib/squall") == 0)
        exe[n - 11] = '\0';
    else
        return false;
    if ((size_t)snprintf(out, outlen, "%s", exe) >= outlen)
        return false;
    return true;
}

bool sq_installed_path(const char *rel, char *out, size_t outlen)
{
    char prefix[4096], path[8192];
    struct stat sb;
    if (!install_prefix(prefix, sizeof prefix))
        return false;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", prefix, rel) >= sizeof path ||
        stat(path, &sb) != 0 || strlen(path) >= outlen)
        return false;
    memcpy(out, path, strlen(path) + 1);
    return true;
}

/* Defaults, then the environment, of one table (the file comes between, for both). */
static sq_status load_defaults(const sq_cfg_entry *table, size_t n)
{
    sq_status st;
    for (size_t i = 0; i < n; i++) {
        char installed[4096];
        const char *def = table[i].def ? table[i].def : "";
        if (table[i].type == SQ_CFG_T_STR)
            *(char **)table[i].field = NULL;
        if (table[i].installed != NULL &&
            sq_installed_path(table[i].installed, installed, sizeof installed))
            def = installed;
        st = set_value(&table[i], def, "default");
        if (st != SQ_OK)
            return st;
    }
    return SQ_OK;
}

static sq_status load_env(const sq_cfg_entry *table, size_t n)
{
    sq_status st;
    for (size_t i = 0; i < n; i++) {
        const char *v = table[i].env ? getenv(table[i].env) : NULL;
        if (v != NULL && (st = set_value(&table[i], v, table[i].env)) != SQ_OK)
            return st;
    }
    return SQ_OK;
}

sq_status sq_config_load(const sq_cfg_entry *table, size_t n)
{
    const char *file = getenv("SQ_CONFIG");
    sq_status st;

    for (size_t i = 0; i < NCOMMON; i++) /* resolved again: the earlier strings go */
        if (common_table[i].type == SQ_CFG_T_STR) {
            free(*(char **)common_table[i].field);
            *(char **)common_table[i].field = NULL;
        }
    if ((st = load_defaults(common_table, NCOMMON)) != SQ_OK ||
        (st = load_defaults(table, n)) != SQ_OK)
        return st;
    if (file != NULL && *file != '\0' && (st = load_file(table, n, file)) != SQ_OK)
        return st;
    if ((st = load_env(common_table, NCOMMON)) != SQ_OK || (st = load_env(table, n)) != SQ_OK)
        return st;
    sq_common.loaded = true;
    return SQ_OK;
}

static void log_table(const sq_cfg_entry *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const sq_cfg_entry *e = &table[i];
        switch (e->type) {
        case SQ_CFG_T_INT: sq_info("config %s = %d", e->name, *(int *)e->field); break;
        case SQ_CFG_T_BOOL:
            sq_info("config %s = %s", e->name, *(bool *)e->field ? "true" : "false");
            break;
        case SQ_CFG_T_STR: {
            const char *v = *(char **)e->field;
            char shown[2048];
            if (e->secret && v && *v) {
                sq_info("config %s = \"********\"", e->name);
                break;
            }
            /* a URL with a password (nats://user:secret@host), a PostgreSQL connection
             * string with password=...: the password masked */
            sq_mask_secrets(v ? v : "", shown, sizeof shown);
            sq_info("config %s = \"%s\"", e->name, shown);
            break;
        }
        }
    }
}

void sq_config_log(const sq_cfg_entry *table, size_t n)
{
    log_table(table, n);
    log_table(common_table, NCOMMON);
}

void sq_config_free(const sq_cfg_entry *table, size_t n)
{
    for (size_t i = 0; i < NCOMMON; i++)
        if (common_table[i].type == SQ_CFG_T_STR) {
            free(*(char **)common_table[i].field);
            *(char **)common_table[i].field = NULL;
        }
    sq_common.loaded = false;
    for (size_t i = 0; i < n; i++)
        if (table[i].type == SQ_CFG_T_STR) {
            free(*(char **)table[i].field);
            *(char **)table[i].field = NULL;
        }
}

sq_status sq_config_setup(const sq_cfg_entry *table, size_t n)
{
    sq_status st = sq_config_load(table, n);
    if (st == SQ_OK)
        sq_config_log(table, n);
    return st;
}
