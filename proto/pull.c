/* The loop every follower of a JetStream pull consumer runs (see js.h): the tenancy
 * followers (tenancy.c) and the triggers' alarms (their trigger events). */
#include <unistd.h>

#include "proto/js.h"

void sq_pull_loop(natsSubscription *sub, int batch, const atomic_bool *stop, sq_pull_fn fn,
                  void *closure)
{
    while (!atomic_load(stop)) {
        natsMsgList list = { 0 };
        jsErrCode jerr = 0;
        natsStatus s = natsSubscription_Fetch(&list, sub, batch, SQ_PULL_WAIT_MS, &jerr);
        if (s != NATS_OK) {
            if (s != NATS_TIMEOUT)
                usleep(200 * 1000);
            continue;
        }
        for (int i = 0; i < list.Count; i++) {
            int64_t again = fn(list.Msgs[i], closure);
            if (again == 0)
                natsMsg_Ack(list.Msgs[i], NULL);
            else if (again > 0)
                natsMsg_NakWithDelay(list.Msgs[i], again, NULL);
            else
                natsMsg_Nak(list.Msgs[i], NULL);
        }
        natsMsgList_Destroy(&list);
    }
}
