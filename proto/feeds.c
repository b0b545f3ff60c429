/* What the triggers service keeps for itself: its cache's view of a trigger, the notes of
 * its feeds (NATS subjects, alarms) in key-value buckets, the payload of a NATS message
 * that is not a map, and the feeds' settings in a trigger's annotations. Not on the bus,
 * but encoded (and decoded) here like every message. */
#include <stdio.h>
#include "proto_impl.h"

static const sq_mp_field view_rule_fields[] = {
    F(sq_view_rule, "rule", SQ_F_STR, rule, true),
    F(sq_view_rule, "action_path", SQ_F_STR, action_path, true),
    F(sq_view_rule, "action_name", SQ_F_STR, action_name, true),
    F(sq_view_rule, "invoke_ns", SQ_F_STR, invoke_ns, true),
    F(sq_view_rule, "invoke_name", SQ_F_STR, invoke_name, true),
};

/* "rules" twice: written from the vector, read as the array (then each element) */
static const sq_mp_field view_fields[] = {
    F(sq_trigger_view, "ns", SQ_F_STR, ns, true),
    F(sq_trigger_view, "name", SQ_F_STR, name, true),
    F(sq_trigger_view, "version", SQ_F_STR, version, true),
    F(sq_trigger_view, "parameters", SQ_F_ANY, parameters, true),
    F(sq_trigger_view, "annotations", SQ_F_ANY, annotations, true),
    FV(sq_trigger_view, "rules", rules, nrules, sq_view_rule, view_rule_fields, 0),
    FE(sq_trigger_view, "rules", SQ_F_ARRAY, rules_read, true, SQ_ENC_SKIP),
};

DEFINE_MESSAGE_VEC(sq_trigger_view, view_fields, rules_read, sq_view_rule, view_rule_fields, rules,
                   nrules)

static const sq_mp_field feed_note_fields[] = {
    F(sq_feed_note, "ns", SQ_F_STR, ns, true),
    F(sq_feed_note, "name", SQ_F_STR, name, true),
    F(sq_feed_note, "subject", SQ_F_STR, subject, true),
};

DEFINE_MESSAGE(sq_feed_note, feed_note_fields)

static const sq_mp_field feed_message_fields[] = {
    F(sq_feed_message, "message", SQ_F_ANY, message, true),
};

void sq_feed_message_encode(const sq_feed_message *m, msgpack_packer *pk)
{
    ENCODE(pk, feed_message_fields, m);
}

sq_status sq_feed_message_from(const msgpack_object *o, sq_arena_t *ar, sq_feed_message *out,
                               char *err, size_t errlen)
{
    sq_status st;
    memset(out, 0, sizeof *out);
    st = sq_mp_decode_map(o, SQ_MP_FIELDS(feed_message_fields), ar, out, err, errlen);
    if (st == SQ_OK && out->message.type != MSGPACK_OBJECT_STR) {
        if (err)
            snprintf(err, errlen, "expected a string for message");
        st = SQ_ERR_DECODE;
    }
    return st;
}
DEFINE_DECODE(sq_feed_message)

/* The fields of an sq_alarm_when (member when of T) but created; enc: how they are written */
#define ALARM_WHEN(T, enc)                                                                         \
    F(T, "type", SQ_F_STR, when.type, true), FE(T, "cron", SQ_F_STR, when.cron, false, enc),       \
        FE(T, "minutes", SQ_F_INT, when.minutes, false, enc),                                      \
        FE(T, "date", SQ_F_INT, when.date, false, enc),                                            \
        FE(T, "startDate", SQ_F_INT, when.start_date, false, enc),                                 \
        FE(T, "stopDate", SQ_F_INT, when.stop_date, false, enc)

static const sq_mp_field alarm_note_fields[] = {
    F(sq_alarm_note, "ns", SQ_F_STR, ns, true),
    F(sq_alarm_note, "name", SQ_F_STR, name, true),
    ALARM_WHEN(sq_alarm_note, 0),
    F(sq_alarm_note, "payload", SQ_F_ANY, payload, false),
    F(sq_alarm_note, "created", SQ_F_INT, when.created, false),
};

DEFINE_MESSAGE(sq_alarm_note, alarm_note_fields)

static const sq_mp_field alarm_cfg_fields[] = {
    ALARM_WHEN(sq_alarm_cfg, SQ_ENC_OMIT),
    FE(sq_alarm_cfg, "created", SQ_F_INT, when.created, false, SQ_ENC_OMIT),
    FE(sq_alarm_cfg, "trigger_payload", SQ_F_ANY, trigger_payload, false, SQ_ENC_OMIT),
    FE(sq_alarm_cfg, "paused", SQ_F_BOOL, paused, false, SQ_ENC_OMIT),
};

DEFINE_MESSAGE(sq_alarm_cfg, alarm_cfg_fields)

static const sq_mp_field nats_cfg_fields[] = {
    FE(sq_nats_cfg, "subject", SQ_F_STR, subject, false, SQ_ENC_OMIT),
    FE(sq_nats_cfg, "paused", SQ_F_BOOL, paused, false, SQ_ENC_OMIT),
};

DEFINE_MESSAGE(sq_nats_cfg, nats_cfg_fields)
