/* Fuzzes every proto/ decoder (one harness for all, so a short run covers them in one
 * budget): the first byte of the input picks the message, the rest is the buffer as it
 * would come off the bus. Properties: a decoder never reads past the buffer or crashes (the
 * sanitizers), a refusal is SQ_ERR_DECODE/SQ_ERR_NOMEM with a message, and whatever it
 * accepts re-encodes into a buffer that decodes again and encodes to the same bytes (what
 * the services do when they forward a message). A new message in proto.h gets a line in
 * messages[] below. */
#include <string.h>

#include "fuzz.h"
#include "proto/body.h"
#include "proto/proto.h"

/* decode (len bytes of buf), then the round trip; one function per message type */
#define MESSAGE(t)                                                                                 \
    static void fz_##t(const char *buf, size_t len)                                                \
    {                                                                                              \
        sq_arena_t z1, z2;                                                                         \
        t m1, m2;                                                                                  \
        char err[256] = "";                                                                        \
        msgpack_sbuffer sb1, sb2;                                                                  \
        msgpack_packer pk1, pk2;                                                                   \
        sq_status st;                                                                              \
        msgpack_zone_init(&z1, 1024);                                                              \
        st = t##_decode(buf, len, &z1, &m1, err, sizeof err);                                      \
        if (st != SQ_OK) {                                                                         \
            FZ_CHECK(st == SQ_ERR_DECODE || st == SQ_ERR_NOMEM);                                   \
            FZ_CHECK(err[0] != '\0' && strlen(err) < sizeof err);                                  \
            msgpack_zone_destroy(&z1);                                                             \
            return;                                                                                \
        }                                                                                          \
        sq_proto_buf_init(&sb1, &pk1);                                                             \
        t##_encode(&m1, &pk1);                                                                     \
        FZ_CHECK(sq_mp_check(sb1.data, sb1.size) == SQ_OK);                                        \
        msgpack_zone_init(&z2, 1024);                                                              \
        st = t##_decode(sb1.data, sb1.size, &z2, &m2, err, sizeof err);                            \
        if (st != SQ_OK)                                                                           \
            fprintf(stderr, #t ": its own encoding does not decode: %s\n", err);                   \
        FZ_CHECK(st == SQ_OK);                                                                     \
        sq_proto_buf_init(&sb2, &pk2);                                                             \
        t##_encode(&m2, &pk2);                                                                     \
        FZ_CHECK(sb1.size == sb2.size && memcmp(sb1.data, sb2.data, sb1.size) == 0);               \
        msgpack_sbuffer_destroy(&sb1);                                                             \
        msgpack_sbuffer_destroy(&sb2);                                                             \
        msgpack_zone_destroy(&z2);                                                                 \
        msgpack_zone_destroy(&z1);                                                                 \
    }

MESSAGE(sq_auth_verify)
MESSAGE(sq_identity)
MESSAGE(sq_action)
MESSAGE(sq_reg_put)
MESSAGE(sq_reg_ref)
MESSAGE(sq_reg_list)
MESSAGE(sq_entity_event)
MESSAGE(sq_ns_ref)
MESSAGE(sq_ns_limits)
MESSAGE(sq_admin)
MESSAGE(sq_invoke)
MESSAGE(sq_work)
MESSAGE(sq_heartbeat)
MESSAGE(sq_sched_beat)
MESSAGE(sq_sched_moved)
MESSAGE(sq_fire)
MESSAGE(sq_activation)
MESSAGE(sq_act_query)
MESSAGE(sq_act_ref)
MESSAGE(sq_count)
MESSAGE(sq_act_error)
MESSAGE(sq_act_logs)
MESSAGE(sq_run_note)
MESSAGE(sq_package)
MESSAGE(sq_trigger)
MESSAGE(sq_rule)
MESSAGE(sq_trigger_event)
MESSAGE(sq_auth_event)
MESSAGE(sq_admin_key)
MESSAGE(sq_admin_user)
MESSAGE(sq_admin_deleted)
MESSAGE(sq_admin_blocked)
MESSAGE(sq_admin_subjects)
MESSAGE(sq_trigger_view)
MESSAGE(sq_feed_note)
MESSAGE(sq_feed_message)
MESSAGE(sq_alarm_note)
MESSAGE(sq_kv)
MESSAGE(sq_route)
MESSAGE(sq_route_put)
MESSAGE(sq_route_query)
MESSAGE(sq_log_event)
MESSAGE(sq_tenancy_event)
MESSAGE(sq_entity_body)
MESSAGE(sq_exec_body)
MESSAGE(sq_limits_body)
MESSAGE(sq_binding_body)
MESSAGE(sq_kv_entry)
MESSAGE(sq_limits)
MESSAGE(sq_alarm_cfg)
MESSAGE(sq_nats_cfg)
MESSAGE(sq_route_list)
MESSAGE(sq_health)
MESSAGE(sq_conductor_step)
MESSAGE(sq_brief)
MESSAGE(sq_invoke_batch)
MESSAGE(sq_invoke_outcomes)

/* The selector byte of a corpus file is its index here: append, never reorder. */
static void (*const messages[])(const char *, size_t) = {
    fz_sq_auth_verify,    fz_sq_identity,     fz_sq_action,        fz_sq_reg_put,
    fz_sq_reg_ref,        fz_sq_reg_list,     fz_sq_entity_event,  fz_sq_ns_ref,
    fz_sq_ns_limits,      fz_sq_admin,        fz_sq_invoke,        fz_sq_work,
    fz_sq_heartbeat,      fz_sq_sched_beat,   fz_sq_sched_moved,   fz_sq_fire,
    fz_sq_activation,     fz_sq_act_query,    fz_sq_act_ref,       fz_sq_count,
    fz_sq_act_error,      fz_sq_act_logs,     fz_sq_run_note,      fz_sq_package,
    fz_sq_trigger,        fz_sq_rule,         fz_sq_trigger_event, fz_sq_auth_event,
    fz_sq_admin_key,      fz_sq_admin_user,   fz_sq_admin_deleted, fz_sq_admin_blocked,
    fz_sq_admin_subjects, fz_sq_trigger_view, fz_sq_feed_note,     fz_sq_feed_message,
    fz_sq_alarm_note,     fz_sq_kv,           fz_sq_route,         fz_sq_route_put,
    fz_sq_route_query,    fz_sq_log_event,    fz_sq_tenancy_event, fz_sq_entity_body,
    fz_sq_exec_body,      fz_sq_limits_body,  fz_sq_binding_body,  fz_sq_kv_entry,
    fz_sq_route_query,    fz_sq_log_event,    fz_sq_tenancy_event, fz_sq_limits,
    fz_sq_alarm_cfg,      fz_sq_nats_cfg,     fz_sq_route_list,    fz_sq_health,
    fz_sq_conductor_step, fz_sq_brief,        fz_sq_invoke_batch,  fz_sq_invoke_outcomes,
};
#define NMESSAGES (sizeof messages / sizeof messages[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf;

    if (size < 1)
        return 0;
    /* an exact-size copy of the message, so ASan catches a read one past its end */
    buf = malloc(size - 1 ? size - 1 : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, size - 1);
    messages[data[0] % NMESSAGES](buf, size - 1);
    free(buf);
    return 0;
}
