/* sq_workers_serve against a real nats-server on a free 127.0.0.1 port: every request is
 * answered, subscription i only ever hands its messages to worker i and always on the same
 * thread (so a worker's arena needs no lock), the load spreads over the workers, and after
 * sq_workers_drain nobody answers any more. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "sq/bus.h"
#include "sq/workers.h"

#define NWORKERS 4
#define NREQUESTS 400

typedef struct worker {
    int index;
    atomic_int handled;
    atomic_int wrong; /* messages seen on another thread than the first */
    pthread_t thread;
    atomic_bool seen;
} worker;

static void on_msg(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    worker *w = closure;
    char answer[16];
    if (!atomic_exchange(&w->seen, true))
        w->thread = pthread_self();
    else if (!pthread_equal(w->thread, pthread_self()))
        atomic_fetch_add(&w->wrong, 1);
    atomic_fetch_add(&w->handled, 1);
    snprintf(answer, sizeof answer, "%d", w->index);
    sq_bus_respond(bus, msg, answer, strlen(answer));
}

static int free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static pid_t start_server(int port)
{
    char p[16];
    pid_t pid;
    snprintf(p, sizeof p, "%d", port);
    if ((pid = fork()) == 0) {
        execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", p, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int main(void)
{
    worker workers[NWORKERS];
    sq_workers *pool = NULL;
    sq_bus_t *bus = NULL;
    char url[64];
    int port = free_port(), answered = 0, used = 0, total = 0, wrong = 0;
    pid_t server;
    natsMsg *reply = NULL;

    SECTION("a real nats-server");
    CHECK(port > 0, "a free port");
    server = start_server(port);
    CHECK(server > 0, "nats-server started");
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    sq_bus_opts o = { .url = url, .name = "workers_test" };
    CHECK_INT(sq_bus_connect(&bus, &o), SQ_OK, "connect");
    if (bus == NULL)
        goto out;

    SECTION("N workers on one subject");
    memset(workers, 0, sizeof workers);
    for (int i = 0; i < NWORKERS; i++)
        workers[i].index = i;
    CHECK_INT(
        sq_workers_serve(bus, "t.work", "q", on_msg, workers, sizeof workers[0], NWORKERS, &pool),
        SQ_OK, "serve");
    for (int i = 0; i < NREQUESTS; i++) {
        if (sq_bus_request(bus, "t.work", "x", 1, 2000, &reply) == SQ_OK) {
            int idx = -1;
            char buf[16] = "";
            memcpy(buf, natsMsg_GetData(reply),
                   (size_t)natsMsg_GetDataLength(reply) < sizeof buf - 1
                       ? (size_t)natsMsg_GetDataLength(reply)
                       : sizeof buf - 1);
            if (sscanf(buf, "%d", &idx) == 1 && idx >= 0 && idx < NWORKERS)
                answered++;
            natsMsg_Destroy(reply);
        }
    }
    CHECK_INT(answered, NREQUESTS, "every request answered by a worker");
    for (int i = 0; i < NWORKERS; i++) {
        total += atomic_load(&workers[i].handled);
        used += atomic_load(&workers[i].handled) > 0;
        wrong += atomic_load(&workers[i].wrong);
    }
    CHECK_INT(total, NREQUESTS, "each handled once");
    CHECK(used >= 2, "the load spreads (%d worker(s) used)", used);
    CHECK_INT(wrong, 0, "a worker always runs on its subscription's thread");

    SECTION("drain");
    sq_workers_drain(pool, 2000);
    CHECK(sq_bus_request(bus, "t.work", "x", 1, 500, &reply) != SQ_OK, "nobody answers after it");
    natsMsg_Destroy(reply);
    sq_workers_destroy(pool);
    sq_workers_destroy(NULL);
    sq_workers_drain(NULL, 0);
out:
    sq_bus_destroy(bus);
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
    }
    nats_Close();
    return check_done();
}
