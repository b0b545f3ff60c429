/* The console: a single page and its few static files, served from cfg.console_dir at
 * /console (index.html) and /console/<file>. No key is needed to load it: the page asks for
 * one and speaks to the WebSocket API. Only plain file names in that directory are served. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gateway.h"

#define CONSOLE_MAX_FILE (4 * 1024 * 1024)

bool gw_console_path(const char *path)
{
    return strcmp(path, "/console") == 0 || strncmp(path, "/console/", 9) == 0;
}

static const char *ctype_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot == NULL)
        return "application/octet-stream";
    if (strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    if (strcmp(dot, ".png") == 0)
        return "image/png";
    if (strcmp(dot, ".ico") == 0)
        return "image/x-icon";
    return "application/octet-stream";
}

static bool plain_name(const char *name)
{
    if (name[0] == '\0' || name[0] == '.' || strlen(name) > 64)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_'))
            return false;
    return true;
}

void gw_console_serve(gw_req *r)
{
    const char *name = strcmp(r->path, "/console") == 0 || strcmp(r->path, "/console/") == 0
                           ? "index.html"
                           : r->path + 9;
    char file[4096];
    struct stat st;
    FILE *f = NULL;
    char *buf = NULL;

    if (r->method != GW_GET && r->method != GW_HEAD) {
        gw_respond_error(r, 405, "Method not allowed.");
        return;
    }
    r->head_only = r->method == GW_HEAD;
    if (!plain_name(name) ||
        snprintf(file, sizeof file, "%s/%s", G.cfg.console_dir, name) >= (int)sizeof file ||
        stat(file, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CONSOLE_MAX_FILE ||
        (f = fopen(file, "rb")) == NULL) {
        gw_respond_error(r, 404, "The requested resource does not exist.");
        return;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        fclose(f);
        free(buf);
        gw_respond_error(r, 500, "The console file could not be read.");
        return;
    }
    fclose(f);
    gw_respond(r, 200, buf, (size_t)st.st_size);
    r->resp_ctype = ctype_of(name);
    gw_add_header(r, "cache-control", "no-cache");
    gw_add_header(r, "x-content-type-options", "nosniff");
    gw_add_header(r, "content-security-policy",
                  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
                  "style-src 'self'; script-src 'self'; frame-ancestors 'none'");
}
