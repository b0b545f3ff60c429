/* The msgpack shapes of packages, triggers and rules as the REST API shows them (the
 * gateway turns them into JSON as they are). Actions use sq_action_encode() of proto/.
 * Shapes follow OpenWhisk's WhiskPackage(WithActions), WhiskTrigger and WhiskRuleResponse. */
#include "registry.h"

#include <string.h>

static void pack_kv_array(msgpack_packer *pk, const char *key, const msgpack_object *a)
{
    sq_mp_pack_str(pk, key);
    if (a->type == MSGPACK_OBJECT_ARRAY)
        msgpack_pack_object(pk, *a);
    else
        msgpack_pack_array(pk, 0);
}

/* {path, name}: OpenWhisk's serialisation of a FullyQualifiedEntityName. */
static void pack_path_name(msgpack_packer *pk, const char *key, const char *path, const char *name)
{
    sq_mp_pack_str(pk, key);
    msgpack_pack_map(pk, 2);
    sq_mp_kv_str(pk, "path", path);
    sq_mp_kv_str(pk, "name", name);
}

static void pack_briefs(msgpack_packer *pk, const char *key, const reg_brief *a, size_t n,
                        bool feeds)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += reg_kv_has(&a[i].annotations, "feed") == feeds;
    sq_mp_pack_str(pk, key);
    msgpack_pack_array(pk, count);
    for (size_t i = 0; i < n; i++) {
        if (reg_kv_has(&a[i].annotations, "feed") != feeds)
            continue;
        msgpack_pack_map(pk, 5);
        sq_mp_kv_str(pk, "name", a[i].name);
        sq_mp_kv_str(pk, "version", a[i].version);
        sq_mp_kv_bool(pk, "publish", a[i].publish);
        pack_kv_array(pk, "annotations", &a[i].annotations);
        pack_kv_array(pk, "parameters", &a[i].parameters);
    }
}

void reg_package_encode(const reg_package *p, const reg_brief *actions, size_t nactions,
                        bool with_contents, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 8 + (with_contents ? 2 : 0));
    sq_mp_kv_str(pk, "namespace", p->namespace_);
    sq_mp_kv_str(pk, "name", p->name);
    sq_mp_kv_str(pk, "version", p->version);
    sq_mp_kv_bool(pk, "publish", p->publish);
    pack_kv_array(pk, "parameters", &p->parameters);
    pack_kv_array(pk, "annotations", &p->annotations);
    sq_mp_pack_str(pk, "binding");
    if (p->binding_ns != NULL) {
        msgpack_pack_map(pk, 2);
        sq_mp_kv_str(pk, "namespace", p->binding_ns);
        sq_mp_kv_str(pk, "name", p->binding_name);
    } else {
        msgpack_pack_map(pk, 0);
    }
    sq_mp_kv_int(pk, "updated", p->updated);
    if (with_contents) {
        pack_briefs(pk, "actions", actions, nactions, false);
        pack_briefs(pk, "feeds", actions, nactions, true);
    }
}

void reg_trigger_encode(const reg_trigger *t, const reg_rule *rules, size_t nrules, bool with_rules,
                        msgpack_packer *pk)
{
    msgpack_pack_map(pk, 8 + (with_rules ? 1 : 0));
    sq_mp_kv_str(pk, "namespace", t->namespace_);
    sq_mp_kv_str(pk, "name", t->name);
    sq_mp_kv_str(pk, "version", t->version);
    sq_mp_kv_bool(pk, "publish", t->publish);
    pack_kv_array(pk, "parameters", &t->parameters);
    pack_kv_array(pk, "annotations", &t->annotations);
    sq_mp_pack_str(pk, "limits");
    msgpack_pack_map(pk, 0);
    sq_mp_kv_int(pk, "updated", t->updated);
    if (with_rules) {
        /* OpenWhisk's trigger document: rules: {"ns/rule": {action: {path, name}, status}} */
        sq_mp_pack_str(pk, "rules");
        msgpack_pack_map(pk, nrules);
        for (size_t i = 0; i < nrules; i++) {
            const reg_rule *r = &rules[i];
            size_t a = strlen(r->namespace_), b = strlen(r->name);
            msgpack_pack_str(pk, a + 1 + b);
            msgpack_pack_str_body(pk, r->namespace_, a);
            msgpack_pack_str_body(pk, "/", 1);
            msgpack_pack_str_body(pk, r->name, b);
            msgpack_pack_map(pk, 2);
            pack_path_name(pk, "action", r->action_path, r->action_name);
            sq_mp_kv_str(pk, "status", r->status);
        }
    }
}

void reg_rule_encode(const reg_rule *r, const char *status_override, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 9);
    sq_mp_kv_str(pk, "namespace", r->namespace_);
    sq_mp_kv_str(pk, "name", r->name);
    sq_mp_kv_str(pk, "version", r->version);
    sq_mp_kv_bool(pk, "publish", r->publish);
    pack_kv_array(pk, "annotations", &r->annotations);
    sq_mp_kv_str(pk, "status", status_override ? status_override : r->status);
    pack_path_name(pk, "trigger", r->trigger_ns, r->trigger_name);
    pack_path_name(pk, "action", r->action_path, r->action_name);
    sq_mp_kv_int(pk, "updated", r->updated);
}
