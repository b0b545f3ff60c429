/* What the files of proto_test share (proto_test.c: values from JSON, a full, valid sample of
 * each message, the encode/decode helpers and main; proto_test_msgs.c: the message descriptors,
 * their comparators and field specs; proto_test_roundtrip.c: round trips and semantic
 * rejections; proto_test_hostile.c: truncation, mutations and garbage; proto_test_docs.c:
 * subject tokens, the records' annotations and causes, documents and views): the counters, the
 * descriptors, the samples and the helpers. */
#ifndef SQ_TEST_PROTO_TEST_H
#define SQ_TEST_PROTO_TEST_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CHECK and its counters (check.h), shared by the files; proto_test.c defines them */
#define CHECK_SHARED_COUNTERS
#include "check.h"

#include "mp_obj.h"
#include "proto/body.h"
#include "proto/proto.h"
#include "sq/json.h"
#include "sq/mp.h"
#include "sq/util.h"

/* ---------------------------------------------------------------- values from JSON */

extern msgpack_zone g_zone;
extern msgpack_sbuffer g_bufs[256];
extern int g_nbufs;

msgpack_object J(const char *json);
bool obj_eq(const msgpack_object *a, const msgpack_object *b);
char *long_string(size_t n, char c);

/* ---------------------------------------------------------------- message descriptors */

typedef sq_status (*dec_fn)(const char *buf, size_t len, sq_arena_t *ar, void *out, char *err,
                            size_t errlen);
typedef void (*enc_fn)(const void *m, msgpack_packer *pk);
typedef void (*cmp_fn)(const void *want, const void *got, const char *what);

/* Field classes for the wrong-type mutations. */
typedef enum {
    C_STR,
    C_INT,
    C_BOOL,
    C_MAP,
    C_ARRAY,
    C_STRS,
    C_MAPNIL,
    C_MAPARR,
    C_MAPARRNIL,
    C_ANY
} fclass;

typedef struct {
    const char *path; /* "exec.kind": keys through nested maps */
    fclass cls;
    bool required;
} fspec;

typedef struct {
    const char *name;
    dec_fn dec;
    enc_fn enc;
    cmp_fn cmp;
    size_t size;
    const void *sample; /* a full, valid message */
    const fspec *fields;
    size_t nfields;
} msgdesc;

extern char what_buf[256];
#define WHAT(fmt, ...) (snprintf(what_buf, sizeof what_buf, fmt, __VA_ARGS__), what_buf)

/* The descriptors, a message each (proto_test_msgs.c). */
extern const msgdesc msgs[];
extern const size_t nmsgs;
#define NMSGS nmsgs

/* Samples are filled in at start by make_samples (proto_test.c). */
extern sq_package s_package;
extern sq_trigger s_trigger;
extern sq_rule s_rule;
extern sq_trigger_event s_trigger_event;
extern sq_invoke_batch s_invoke_batch;
extern const sq_invoke_outcomes s_invoke_outcomes;
extern sq_auth_event s_auth_event;
extern sq_admin_key s_admin_key;
extern sq_admin_user s_admin_user;
extern sq_admin_deleted s_admin_deleted;
extern sq_admin_blocked s_admin_blocked;
extern sq_admin_subjects s_admin_subjects;
extern sq_trigger_view s_trigger_view;
extern sq_feed_note s_feed_note;
extern sq_feed_message s_feed_message;
extern sq_alarm_note s_alarm_note;
extern sq_kv s_kv;
extern sq_limits s_limits;
extern sq_alarm_cfg s_alarm_cfg;
extern sq_nats_cfg s_nats_cfg;
extern sq_route_list s_route_list;
extern sq_health s_health;
extern sq_conductor_step s_conductor_step;
extern sq_brief s_brief;
extern sq_trigger s_trigger_rules;
extern sq_act_ref s_act_ref;
extern sq_count s_count;
extern sq_act_error s_act_error;
extern sq_act_logs s_act_logs;
extern sq_act_record_logs s_act_record_logs;
extern sq_run_note s_run_note;
extern sq_auth_verify s_auth_verify;
extern sq_identity s_identity;
extern sq_action s_action;
extern sq_reg_put s_reg_put;
extern sq_reg_ref s_reg_ref;
extern sq_reg_list s_reg_list;
extern sq_entity_body s_entity_body;
extern sq_exec_body s_exec_body;
extern sq_limits_body s_limits_body;
extern sq_binding_body s_binding_body;
extern sq_kv_entry s_kv_entry;
extern sq_entity_event s_entity_event;
extern sq_route s_route;
extern sq_route_put s_route_put;
extern sq_route_query s_route_query;
extern sq_log_event s_log_event;
extern sq_invoke s_invoke;
extern sq_work s_work;
extern sq_heartbeat s_heartbeat;
extern sq_sched_beat s_sched_beat;
extern sq_sched_moved s_sched_moved;
extern sq_activation s_activation;
extern sq_act_query s_act_query;
extern sq_ns_ref s_ns_ref;
extern sq_ns_limits s_ns_limits;
extern sq_admin s_admin;
extern sq_fire s_fire;
extern sq_tenancy_event s_tenancy_event;
void make_samples(void);

/* ---------------------------------------------------------------- encode / decode helpers */

void encode(const msgdesc *d, const void *m, msgpack_sbuffer *sb);
sq_status decode(const msgdesc *d, const char *buf, size_t len, msgpack_zone *z, void *out,
                 char *err, size_t errlen, char **keep);
sq_status decode_status(const msgdesc *d, const char *buf, size_t len, void *out, char *err,
                        size_t errlen);
void roundtrip(const msgdesc *d, const void *m, const char *label);

/* ---------------------------------------------------------------- the tests */

/* proto_test_roundtrip.c */
void test_roundtrips(void);
void test_semantic(void);
/* proto_test_hostile.c */
void test_truncation(void);
void test_mutations(void);
void test_garbage(void);
/* proto_test_docs.c */
void test_subj_token(void);
void test_act_annots(void);
void test_record_causes(void);
void test_activation_event(void);
void test_record_logs(void);
void test_documents(void);
void test_views(void);

#endif
