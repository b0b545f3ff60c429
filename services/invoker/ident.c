/* The invoker's id: unique by default, and never shared by two live invokers.
 *
 * SQ_INVOKER_ID wins when set. Otherwise the id is <host name>-<6 random hex digits>, made
 * once and kept in <state dir>/invoker-id (SQ_INVOKER_STATE_DIR, else $STATE_DIRECTORY that
 * systemd's StateDirectory= sets), so a restart keeps its durable work consumer; without a
 * state dir it is new at every start (and said so in the log).
 *
 * Before it serves, the invoker listens to sq.invoker.heartbeat for SQ_INVOKER_ID_CHECK_MS:
 * a heartbeat with its id from another process (another `started`, the per-process nonce
 * every heartbeat carries) means the id is taken by a live invoker, and this one refuses to
 * start (exit 1, an error in the log). Afterwards such a heartbeat is logged as an error. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "invoker.h"
#include "sq/log.h"
#include "sq/util.h"

static natsSubscription *hb_sub;
static volatile int64_t clash_started; /* `started` of another live invoker with our id; 0: none */
static int64_t clash_logged_ms;

/* A host name as an id: letters, digits and '-' kept, anything else '-'. */
static void host_part(char *out, size_t outlen)
{
    char host[256] = "";
    size_t k = 0;
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        snprintf(host, sizeof host, "invoker");
    for (char *p = host; *p && *p != '.' && k + 1 < outlen && k < 40; p++)
        out[k++] = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-')
                       ? *p
                       : '-';
    out[k] = '\0';
}

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

int inv_ident_resolve(void)
{
    char fresh[80], rnd[33], path[4200], buf[128];
    const char *dir =
        I.cfg.state_dir && *I.cfg.state_dir ? I.cfg.state_dir : getenv("STATE_DIRECTORY");
    FILE *f;

    if (I.cfg.id && *I.cfg.id)
        return 0;
    host_part(fresh, 48);
    sq_id_new(rnd);
    snprintf(fresh + strlen(fresh), sizeof fresh - strlen(fresh), "-%.6s", rnd);
    if (dir == NULL || *dir == '\0') {
        sq_warn("no SQ_INVOKER_ID and no state dir (SQ_INVOKER_STATE_DIR): the id \"%s\" is new at "
                "every start",
                fresh);
        goto use_fresh;
    }
    /* systemd may give several directories, colon-separated: the first */
    snprintf(path, sizeof path, "%.*s/invoker-id", (int)strcspn(dir, ":"), dir);
    if ((f = fopen(path, "re")) != NULL) {
        if (fgets(buf, sizeof buf, f) != NULL) {
            buf[strcspn(buf, "\r\n")] = '\0';
            if (id_ok(buf)) {
                fclose(f);
                free(I.cfg.id);
                I.cfg.id = strdup(buf);
                sq_info("invoker id \"%s\" (from %s)", I.cfg.id, path);
                return I.cfg.id ? 0 : -1;
            }
        }
        fclose(f);
        sq_error("%s does not hold a valid invoker id (letters, digits, '-', '_'): remove it",
                 path);
        return -1;
    }
    if (errno != ENOENT) {
        sq_error("could not read %s: %s", path, strerror(errno));
        return -1;
    }
    {
        char tmp[4300];
        int fd;
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || dprintf(fd, "%s\n", fresh) < 0 || fsync(fd) != 0 || close(fd) != 0 ||
            rename(tmp, path) != 0) {
            sq_error("could not keep the invoker id in %s: %s", path, strerror(errno));
            return -1;
        }
        sq_info("invoker id \"%s\" made and kept in %s", fresh, path);
    }
use_fresh:
    free(I.cfg.id);
    I.cfg.id = strdup(fresh);
    return I.cfg.id ? 0 : -1;
}

static void on_heartbeat(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    msgpack_zone z;
    sq_heartbeat hb;
    char err[128];

    msgpack_zone_init(&z, 1024);
    if (sq_heartbeat_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &hb, err,
                            sizeof err) == SQ_OK &&
        hb.id && strcmp(hb.id, I.cfg.id) == 0 && hb.started != I.started_ms) {
        clash_started = hb.started ? hb.started : 1;
        if (I.serving && sq_now_ms() - clash_logged_ms > 10000) {
            clash_logged_ms = sq_now_ms();
            sq_error("another invoker (started at %lld ms) sends heartbeats with this invoker's id "
                     "\"%s\": "
                     "give each invoker its own SQ_INVOKER_ID",
                     (long long)hb.started, I.cfg.id);
        }
    }
    msgpack_zone_destroy(&z);
    natsMsg_Destroy(msg);
}

int inv_ident_claim(void)
{
    natsStatus s = natsConnection_Subscribe(&hb_sub, sq_bus_nc(I.bus), SQ_SUBJ_INVOKER_HEARTBEAT,
                                            on_heartbeat, NULL);
    if (s != NATS_OK || natsConnection_Flush(sq_bus_nc(I.bus)) != NATS_OK) {
        sq_error("could not listen to %s: %s", SQ_SUBJ_INVOKER_HEARTBEAT, natsStatus_GetText(s));
        return -1;
    }
    for (int waited = 0; waited < I.cfg.id_check_ms && !clash_started; waited += 50)
        usleep(50 * 1000);
    if (clash_started) {
        sq_error(
            "refusing to start: invoker id \"%s\" is taken by a live invoker (started at %lld ms, "
            "heartbeats on %s); give each invoker its own SQ_INVOKER_ID, or leave it unset for a "
            "unique one",
            I.cfg.id, (long long)clash_started, SQ_SUBJ_INVOKER_HEARTBEAT);
        return -1;
    }
    return 0;
}

void inv_ident_close(void)
{
    if (hb_sub != NULL) {
        natsSubscription_Unsubscribe(hb_sub);
        natsSubscription_Destroy(hb_sub);
        hb_sub = NULL;
    }
}
