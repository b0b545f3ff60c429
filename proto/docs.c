/* The registry's documents of packages, triggers and rules as the REST API shows them (the
 * gateway turns them into JSON as they are), after OpenWhisk's WhiskPackage(WithActions),
 * WhiskTrigger and WhiskRuleResponse. Actions are sq_action (entity.c). */
#include <stdio.h>
#include "proto_impl.h"

/* A document written with its full table when m->flag (a GET of one), else with its base
 * table (lists); read with the base table */
#define DEFINE_DOCUMENT(type, base, full, flag)                                                    \
    void type##_encode(const type *m, msgpack_packer *pk)                                          \
    {                                                                                              \
        if (m->flag)                                                                               \
            ENCODE(pk, full, m);                                                                   \
        else                                                                                       \
            ENCODE(pk, base, m);                                                                   \
    }                                                                                              \
    sq_status type##_from(const msgpack_object *o, sq_arena_t *ar, type *out, char *err,           \
                          size_t errlen)                                                           \
    {                                                                                              \
        memset(out, 0, sizeof *out);                                                               \
        return sq_mp_decode_map(o, SQ_MP_FIELDS(base), ar, out, err, errlen);                      \
    }                                                                                              \
    DEFINE_DECODE(type)

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

DEFINE_MESSAGE(sq_brief, brief_fields)

/* What every entity document begins with (type T has these members) */
#define ENTITY_HEAD(T)                                                                             \
    F(T, "namespace", SQ_F_STR, namespace_, true), F(T, "name", SQ_F_STR, name, true),             \
        F(T, "version", SQ_F_STR, version, true), F(T, "publish", SQ_F_BOOL, publish, false),      \
        FE(T, "parameters", SQ_F_ARRAY, parameters, false, EMPTY),                                 \
        FE(T, "annotations", SQ_F_ARRAY, annotations, false, EMPTY)

#define PACKAGE_FIELDS                                                                             \
    ENTITY_HEAD(sq_package), FN(sq_package, "binding", binding, false, binding_fields),            \
        F(sq_package, "updated", SQ_F_INT, updated, false)

static const sq_mp_field package_fields[] = { PACKAGE_FIELDS };
/* GET of one package: with its actions and feeds */
static const sq_mp_field package_full_fields[] = {
    PACKAGE_FIELDS,
    FV(sq_package, "actions", actions, nactions, sq_brief, brief_fields, 0),
    FV(sq_package, "feeds", feeds, nfeeds, sq_brief, brief_fields, 0),
};

DEFINE_DOCUMENT(sq_package, package_fields, package_full_fields, with_contents)

/* a trigger's rule: keyed by "ns/rule", {action: {path, name}, status} */
static const sq_mp_field trigger_rule_fields[] = {
    F(sq_trigger_rule, "rule", SQ_F_STR, key, true),
    FN(sq_trigger_rule, "action", action, true, path_name_fields),
    F(sq_trigger_rule, "status", SQ_F_STR, status, true),
};

/* "rules" read (as the map it is) by every table, written only by the full one */
#define TRIGGER_FIELDS                                                                             \
    ENTITY_HEAD(sq_trigger), FE(sq_trigger, "limits", SQ_F_MAP, limits, false, EMPTY),             \
        F(sq_trigger, "updated", SQ_F_INT, updated, false),                                        \
        FE(sq_trigger, "rules", SQ_F_MAP, rules_read, false, SQ_ENC_SKIP)

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
    sq_trigger_rule *rules = NULL;
    sq_status st;

    memset(out, 0, sizeof *out);
    st = sq_mp_decode_map(o, SQ_MP_FIELDS(trigger_fields), ar, out, err, errlen);
    if (st != SQ_OK || out->rules_read.type != MSGPACK_OBJECT_MAP)
        return st;
    out->with_rules = true;
    st = sq_proto_decode_keyed(&out->rules_read, SQ_MP_FIELDS(trigger_rule_fields), ar,
                               sizeof *rules, &rules, &out->nrules, err, errlen);
    out->rules = rules;
    return st;
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

DEFINE_MESSAGE(sq_rule, rule_fields)

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

DEFINE_MESSAGE_VEC(sq_trigger_event, trigger_event_fields, rules_read, sq_rule_outcome,
                   rule_outcome_fields, rules, nrules)
