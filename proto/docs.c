/* The registry's documents of packages, triggers and rules as the REST API shows them (the
 * gateway turns them into JSON as they are), after OpenWhisk's WhiskPackage(WithActions),
 * WhiskTrigger and WhiskRuleResponse. Actions are sq_action (entity.c). */
#include <stdio.h>
#include "proto_impl.h"

#define OMIT SQ_ENC_OMIT
#define EMPTY SQ_ENC_EMPTY

static const sq_mp_field path_name_fields[] = {
    F(sq_path_name, "path", SQ_F_STR, path, true),
    F(sq_path_name, "name", SQ_F_STR, name, true),
};

/* {} for a package, {namespace, name} for a binding */
static const sq_mp_field binding_fields[] = {
    FE(sq_binding_ref, "namespace", SQ_F_STR, namespace_, false, OMIT),
    FE(sq_binding_ref, "name", SQ_F_STR, name, false, OMIT),
};

static const sq_mp_field brief_fields[] = {
    F(sq_brief, "name", SQ_F_STR, name, true),
    F(sq_brief, "version", SQ_F_STR, version, true),
    F(sq_brief, "publish", SQ_F_BOOL, publish, false),
    FE(sq_brief, "annotations", SQ_F_ARRAY, annotations, false, EMPTY),
    FE(sq_brief, "parameters", SQ_F_ARRAY, parameters, false, EMPTY),
};

#define PACKAGE_FIELDS                                                                             \
    F(sq_package, "namespace", SQ_F_STR, namespace_, true),                                        \
        F(sq_package, "name", SQ_F_STR, name, true),                                               \
        F(sq_package, "version", SQ_F_STR, version, true),                                         \
        F(sq_package, "publish", SQ_F_BOOL, publish, false),                                       \
        FE(sq_package, "parameters", SQ_F_ARRAY, parameters, false, EMPTY),                        \
        FE(sq_package, "annotations", SQ_F_ARRAY, annotations, false, EMPTY),                      \
        FN(sq_package, "binding", binding, false, binding_fields),                                 \
        F(sq_package, "updated", SQ_F_INT, updated, false)

static const sq_mp_field package_fields[] = { PACKAGE_FIELDS };
/* GET of one package: with its actions and feeds */
static const sq_mp_field package_full_fields[] = {
    PACKAGE_FIELDS,
    FV(sq_package, "actions", actions, nactions, sq_brief, brief_fields, 0),
    FV(sq_package, "feeds", feeds, nfeeds, sq_brief, brief_fields, 0),
};

void sq_package_encode(const sq_package *m, msgpack_packer *pk)
{
    if (m->with_contents)
        ENCODE(pk, package_full_fields, m);
    else
        ENCODE(pk, package_fields, m);
}

sq_status sq_package_from(const msgpack_object *o, sq_arena_t *ar, sq_package *out, char *err,
                          size_t errlen)
{
    memset(out, 0, sizeof *out);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(package_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_package)

/* a trigger's rule: keyed by "ns/rule", {action: {path, name}, status} */
static const sq_mp_field trigger_rule_fields[] = {
    F(sq_trigger_rule, "rule", SQ_F_STR, key, true),
    FN(sq_trigger_rule, "action", action, true, path_name_fields),
    F(sq_trigger_rule, "status", SQ_F_STR, status, true),
};

#define TRIGGER_FIELDS                                                                             \
    F(sq_trigger, "namespace", SQ_F_STR, namespace_, true),                                        \
        F(sq_trigger, "name", SQ_F_STR, name, true),                                               \
        F(sq_trigger, "version", SQ_F_STR, version, true),                                         \
        F(sq_trigger, "publish", SQ_F_BOOL, publish, false),                                       \
        FE(sq_trigger, "parameters", SQ_F_ARRAY, parameters, false, EMPTY),                        \
        FE(sq_trigger, "annotations", SQ_F_ARRAY, annotations, false, EMPTY),                      \
        FE(sq_trigger, "limits", SQ_F_MAP, limits, false, EMPTY),                                  \
        F(sq_trigger, "updated", SQ_F_INT, updated, false)

static const sq_mp_field trigger_fields[] = { TRIGGER_FIELDS };
/* OpenWhisk's trigger document: rules: {"ns/rule": {action: {path, name}, status}} */
static const sq_mp_field trigger_full_fields[] = {
    TRIGGER_FIELDS,
    FV(sq_trigger, "rules", rules, nrules, sq_trigger_rule, trigger_rule_fields, SQ_ENC_KEYED),
};

void sq_trigger_encode(const sq_trigger *m, msgpack_packer *pk)
{
    if (m->with_rules)
        ENCODE(pk, trigger_full_fields, m);
    else
        ENCODE(pk, trigger_fields, m);
}

sq_status sq_trigger_from(const msgpack_object *o, sq_arena_t *ar, sq_trigger *out, char *err,
                          size_t errlen)
{
    memset(out, 0, sizeof *out);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(trigger_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_trigger)

static const sq_mp_field rule_fields[] = {
    F(sq_rule, "namespace", SQ_F_STR, namespace_, true),
    F(sq_rule, "name", SQ_F_STR, name, true),
    F(sq_rule, "version", SQ_F_STR, version, true),
    F(sq_rule, "publish", SQ_F_BOOL, publish, false),
    FE(sq_rule, "annotations", SQ_F_ARRAY, annotations, false, EMPTY),
    F(sq_rule, "status", SQ_F_STR, status, true),
    FN(sq_rule, "trigger", trigger, true, path_name_fields),
    FN(sq_rule, "action", action, true, path_name_fields),
    F(sq_rule, "updated", SQ_F_INT, updated, false),
};

void sq_rule_encode(const sq_rule *m, msgpack_packer *pk)
{
    ENCODE(pk, rule_fields, m);
}

sq_status sq_rule_from(const msgpack_object *o, sq_arena_t *ar, sq_rule *out, char *err,
                       size_t errlen)
{
    memset(out, 0, sizeof *out);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(rule_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_rule)

/* sq.evt.trigger.<ns>.<name>: each rule's outcome */
static const sq_mp_field rule_outcome_fields[] = {
    F(sq_rule_outcome, "rule", SQ_F_STR, rule, true),
    F(sq_rule_outcome, "action", SQ_F_STR, action, true),
    F(sq_rule_outcome, "activationId", SQ_F_STR, id, false),
    F(sq_rule_outcome, "statusCode", SQ_F_INT, status_code, true),
    F(sq_rule_outcome, "success", SQ_F_BOOL, success, true),
    FE(sq_rule_outcome, "error", SQ_F_STR, error, false, OMIT),
};

/* "rules" twice: written from the outcomes, read as the array it is */
static const sq_mp_field trigger_event_fields[] = {
    F(sq_trigger_event, "ns", SQ_F_STR, ns, true),
    F(sq_trigger_event, "name", SQ_F_STR, name, true),
    F(sq_trigger_event, "activationId", SQ_F_STR, id, false),
    F(sq_trigger_event, "payload", SQ_F_ANY, payload, false),
    F(sq_trigger_event, "at", SQ_F_INT, at, true),
    FV(sq_trigger_event, "rules", rules, nrules, sq_rule_outcome, rule_outcome_fields, 0),
    FE(sq_trigger_event, "rules", SQ_F_ARRAY, rules_read, true, SQ_ENC_SKIP),
};

void sq_trigger_event_encode(const sq_trigger_event *m, msgpack_packer *pk)
{
    ENCODE(pk, trigger_event_fields, m);
}

sq_status sq_trigger_event_from(const msgpack_object *o, sq_arena_t *ar, sq_trigger_event *out,
                                char *err, size_t errlen)
{
    sq_status st;
    memset(out, 0, sizeof *out);
    st = sq_mp_decode_map(o, SQ_MP_FIELDS(trigger_event_fields), ar, out, err, errlen);
    for (uint32_t i = 0; st == SQ_OK && i < out->rules_read.via.array.size; i++) {
        sq_rule_outcome r;
        memset(&r, 0, sizeof r);
        st = sq_mp_decode_map(&out->rules_read.via.array.ptr[i], SQ_MP_FIELDS(rule_outcome_fields),
                              ar, &r, err, errlen);
    }
    return st;
}
DEFINE_DECODE(sq_trigger_event)
