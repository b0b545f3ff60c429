/* The system packages of /whisk.system, installed at every start from files: each
 * directory <dir>/<pkg> becomes the published package /whisk.system/<pkg> and each
 * <dir>/<pkg>/<name>.js (nodejs:20) or <name>.py (python:3) its action <name>. The first
 * comment line of a file (// or #) becomes the action's "description" annotation, the first
 * line of <dir>/<pkg>/DESCRIPTION the package's. Installing is idempotent and safe when
 * several registries start at once: the store compares and writes in one transaction under
 * the lock of the namespace, so only what changed is written (and announced). */
#include "registry.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sq/log.h"
#include "sq/util.h"

#define SYSTEM_FILE_MAX (1L << 20) /* a system action's source, bytes */
#define SYSTEM_MAX_ACTIONS 64

/* The contents of path as a string in the arena, or NULL (logged). */
static char *read_file(const char *path, sq_arena_t *ar)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL) {
        sq_error("could not open \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > SYSTEM_FILE_MAX ||
        fseek(f, 0, SEEK_SET) != 0) {
        sq_error("could not read \"%s\": too large or not a file", path);
        goto out;
    }
    if ((buf = msgpack_zone_malloc(ar, (size_t)n + 1)) == NULL)
        goto out;
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        sq_error("could not read \"%s\": %s", path, strerror(errno));
        buf = NULL;
        goto out;
    }
    buf[n] = '\0';
out:
    fclose(f);
    return buf;
}

/* The text of the first line of s when it is a comment ("// text" or "# text"); NULL if
 * none. Lines starting with "#!" are skipped. */
static char *first_comment(const char *s, sq_arena_t *ar)
{
    while (strncmp(s, "#!", 2) == 0 && strchr(s, '\n') != NULL)
        s = strchr(s, '\n') + 1;
    if (strncmp(s, "//", 2) == 0)
        s += 2;
    else if (s[0] == '#')
        s += 1;
    else
        return NULL;
    while (*s == ' ' || *s == '*')
        s++;
    size_t n = strcspn(s, "\r\n");
    char *p = msgpack_zone_malloc(ar, n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return n > 0 ? p : NULL;
}

/* [{key: "description", value: text}] (or []) as a msgpack array in the arena. */
static sq_status description_annotations(const char *text, sq_arena_t *ar, msgpack_object *out)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char *copy;
    sq_status st = SQ_ERR_NOMEM;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (text == NULL) {
        msgpack_pack_array(&pk, 0);
    } else {
        sq_kv d = { .key = "description",
                    .value = { .type = MSGPACK_OBJECT_STR,
                               .via.str = { .size = (uint32_t)strlen(text), .ptr = text } } };
        msgpack_pack_array(&pk, 1);
        sq_kv_encode(&d, &pk);
    }
    if ((copy = msgpack_zone_malloc(ar, sb.size)) != NULL) {
        memcpy(copy, sb.data, sb.size);
        st = sq_mp_unpack(copy, sb.size, ar, out);
    }
    msgpack_sbuffer_destroy(&sb);
    return st;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static const char *kind_of(const char *file, size_t *stem)
{
    size_t n = strlen(file);
    if (n > 3 && strcmp(file + n - 3, ".js") == 0) {
        *stem = n - 3;
        return "nodejs:20";
    }
    if (n > 3 && strcmp(file + n - 3, ".py") == 0) {
        *stem = n - 3;
        return "python:3";
    }
    return NULL;
}

/* The package's own patch: published, its DESCRIPTION's first line as its annotations. */
static sq_status package_patch(const char *dir, const char *pkg, msgpack_zone *z,
                               reg_entity_patch *pp)
{
    char path[4096];
    char *text, *nl;

    memset(pp, 0, sizeof *pp);
    pp->has_publish = pp->publish = true;
    snprintf(path, sizeof path, "%s/%s/DESCRIPTION", dir, pkg);
    text = access(path, R_OK) == 0 ? read_file(path, z) : NULL;
    nl = text ? strpbrk(text, "\r\n") : NULL;
    if (nl != NULL)
        *nl = '\0';
    pp->has_annotations = true;
    return description_annotations(text && *text ? text : NULL, z, &pp->annotations);
}

/* The action of file (dir/pkg/file) into *a: 1 when it is one, 0 when the file is skipped
 * (not a runtime's source, or not a valid name), -1 on an error. */
static int action_of_file(const char *dir, const char *pkg, const char *file, msgpack_zone *z,
                          reg_system_action *a)
{
    char path[4096];
    const char *kind;
    size_t stem;
    char *code;

    if ((kind = kind_of(file, &stem)) == NULL)
        return 0;
    memset(a, 0, sizeof *a);
    if ((a->name = msgpack_zone_malloc(z, stem + 1)) == NULL)
        return -1;
    memcpy(a->name, file, stem);
    a->name[stem] = '\0';
    if (!sq_name_valid(a->name)) {
        sq_warn("skipped system action file \"%s/%s/%s\": not a valid entity name", dir, pkg, file);
        return 0;
    }
    snprintf(path, sizeof path, "%s/%s/%s", dir, pkg, file);
    if ((code = read_file(path, z)) == NULL)
        return -1;
    a->patch.has_exec = true;
    a->patch.exec.kind = (char *)kind;
    a->patch.exec.code = code;
    a->patch.exec.components.type = MSGPACK_OBJECT_NIL;
    a->patch.has_annotations = true;
    if (description_annotations(first_comment(code, z), z, &a->patch.annotations) != SQ_OK)
        return -1;
    a->patch.limits = SQ_LIMITS_DEFAULT;
    return 1;
}

/* Logs and announces (sq.evt) what an install changed. */
static void announce(const reg_change *changed, size_t nchanged, sq_bus_t *bus)
{
    for (size_t i = 0; i < nchanged; i++) {
        sq_info("%s /%s/%s version %s",
                strcmp(changed[i].op, "delete") == 0 ? "removed" : "installed", REG_SYSTEM_NS,
                changed[i].name, changed[i].version);
        if (bus != NULL)
            reg_publish_event(bus, REG_SYSTEM_NS, changed[i].kind, changed[i].name, changed[i].op,
                              changed[i].version);
    }
}

static sq_status install_package(reg_store_t *s, const char *dir, const char *pkg, sq_bus_t *bus)
{
    reg_system_action actions[SYSTEM_MAX_ACTIONS];
    reg_entity_patch pp;
    struct dirent **list = NULL;
    reg_change *changed;
    size_t n = 0, nchanged;
    char path[4096];
    msgpack_zone z;
    sq_status st = SQ_ERR_IO;
    int count = 0;

    msgpack_zone_init(&z, 1 << 16);
    if (package_patch(dir, pkg, &z, &pp) != SQ_OK)
        goto out;
    snprintf(path, sizeof path, "%s/%s", dir, pkg);
    if ((count = scandir(path, &list, NULL, by_name)) < 0) {
        sq_error("could not read system package directory \"%s\": %s", path, strerror(errno));
        goto out;
    }
    for (int i = 0; i < count; i++) {
        int got;
        if (n == SYSTEM_MAX_ACTIONS && kind_of(list[i]->d_name, &(size_t){ 0 }) != NULL) {
            sq_error("system package \"%s\" has more than %d actions", pkg, SYSTEM_MAX_ACTIONS);
            goto out;
        }
        if (n == SYSTEM_MAX_ACTIONS)
            continue;
        if ((got = action_of_file(dir, pkg, list[i]->d_name, &z, &actions[n])) < 0)
            goto out;
        n += (size_t)got;
    }
    st = reg_store_system_package(s, pkg, &pp, actions, n, &z, &changed, &nchanged);
    if (st != SQ_OK) {
        sq_error("could not install system package \"/%s/%s\": %s", REG_SYSTEM_NS, pkg,
                 sq_status_str(st));
        goto out;
    }
    announce(changed, nchanged, bus);
    sq_info("system package \"/%s/%s\" has %zu actions%s", REG_SYSTEM_NS, pkg, n,
            nchanged ? "" : ", unchanged");
out:
    for (int i = 0; list != NULL && i < count; i++)
        free(list[i]);
    free(list);
    msgpack_zone_destroy(&z);
    return st;
}

sq_status reg_system_install(reg_store_t *s, const char *dir, sq_bus_t *bus)
{
    struct dirent **list = NULL;
    sq_status st = SQ_OK;
    int count;

    if ((count = scandir(dir, &list, NULL, by_name)) < 0) {
        sq_warn("no system packages installed: could not read \"%s\": %s", dir, strerror(errno));
        return SQ_OK;
    }
    for (int i = 0; i < count; i++) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
        if (list[i]->d_name[0] == '.' || stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        if (!sq_name_valid(list[i]->d_name)) {
            sq_warn("skipped system package directory \"%s\": not a valid entity name", path);
            continue;
        }
        if (st == SQ_OK)
            st = install_package(s, dir, list[i]->d_name, bus);
    }
    for (int i = 0; i < count; i++)
        free(list[i]);
    free(list);
    return st;
}
