/* The scheduler copies this one has heard on sq.sched.heartbeat (each beats about once a
 * second from its sweeper thread). Their number divides every namespace limit (limits.c)
 * and every invoker's memory (placement.c) into fair shares. A copy is live while its last
 * beat is younger than the heartbeat TTL; this copy always counts. The table is tiny. */
#include <stdlib.h>
#include <string.h>

#include "sched.h"

#define MAX_PEERS 256

struct sched_peers {
    pthread_mutex_t lock;
    char self[33];
    struct peer {
        char id[33];
        int64_t seen_ms;
    } v[MAX_PEERS];
    int n;
};

sched_peers *sched_peers_create(const char *self)
{
    sched_peers *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    strncpy(p->self, self, sizeof p->self - 1);
    return p;
}

void sched_peers_destroy(sched_peers *p)
{
    if (p == NULL)
        return;
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void sched_peers_seen(sched_peers *p, const char *id, int64_t now_ms)
{
    int i, oldest = 0;
    if (strcmp(id, p->self) == 0 || strlen(id) >= sizeof p->v[0].id)
        return;
    pthread_mutex_lock(&p->lock);
    for (i = 0; i < p->n; i++) {
        if (strcmp(p->v[i].id, id) == 0)
            break;
        if (p->v[i].seen_ms < p->v[oldest].seen_ms)
            oldest = i;
    }
    if (i == p->n) {
        if (p->n < MAX_PEERS)
            p->n++;
        else
            i = oldest; /* full: the longest silent one makes room */
        strcpy(p->v[i].id, id);
    }
    p->v[i].seen_ms = now_ms;
    pthread_mutex_unlock(&p->lock);
}

int sched_peers_count(sched_peers *p, int64_t now_ms)
{
    int live = 1;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->n; i++)
        live += now_ms - p->v[i].seen_ms < sched_cfg.heartbeat_ttl_ms;
    pthread_mutex_unlock(&p->lock);
    return live;
}

bool sched_peers_alive(sched_peers *p, const char *id, int64_t now_ms)
{
    bool alive = strcmp(id, p->self) == 0;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->n && !alive; i++)
        alive =
            strcmp(p->v[i].id, id) == 0 && now_ms - p->v[i].seen_ms < sched_cfg.heartbeat_ttl_ms;
    pthread_mutex_unlock(&p->lock);
    return alive;
}
