/* The registry's entities as the REST API shows them: the stored structs copied into proto/'s
 * documents (sq_package, sq_trigger, sq_rule), which proto/ encodes. Actions use
 * sq_action_encode() of proto/. */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The briefs of a (feeds) or not (!feeds) annotated "feed", into out (n entries at most). */
static size_t briefs(const reg_brief *a, size_t n, bool feeds, sq_brief *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (reg_kv_has(&a[i].annotations, "feed") == feeds)
            out[k++] = (sq_brief){ .name = a[i].name,
                                   .version = a[i].version,
                                   .publish = a[i].publish,
                                   .annotations = a[i].annotations,
                                   .parameters = a[i].parameters };
    return k;
}

void reg_package_encode(const reg_package *p, const reg_brief *actions, size_t nactions,
                        bool with_contents, msgpack_packer *pk)
{
    sq_package d = { .namespace_ = p->namespace_,
                     .name = p->name,
                     .version = p->version,
                     .publish = p->publish,
                     .parameters = p->parameters,
                     .annotations = p->annotations,
                     .binding = { .namespace_ = p->binding_ns, .name = p->binding_name },
                     .updated = p->updated,
                     .with_contents = with_contents };
    sq_brief *acts = NULL, *feeds = NULL;

    if (with_contents && nactions > 0) {
        acts = calloc(nactions, sizeof *acts);
        feeds = calloc(nactions, sizeof *feeds);
        if (acts != NULL && feeds != NULL) {
            d.nactions = briefs(actions, nactions, false, acts);
            d.nfeeds = briefs(actions, nactions, true, feeds);
        }
        d.actions = acts;
        d.feeds = feeds;
    }
    sq_package_encode(&d, pk);
    free(acts);
    free(feeds);
}

void reg_trigger_encode(const reg_trigger *t, const reg_rule *rules, size_t nrules, bool with_rules,
                        msgpack_packer *pk)
{
    sq_trigger d = { .namespace_ = t->namespace_,
                     .name = t->name,
                     .version = t->version,
                     .publish = t->publish,
                     .parameters = t->parameters,
                     .annotations = t->annotations,
                     .updated = t->updated,
                     .with_rules = with_rules };
    sq_trigger_rule *tr = NULL;
    char *keys = NULL;
    size_t need = 0, off = 0;

    for (size_t i = 0; with_rules && i < nrules; i++)
        need += strlen(rules[i].namespace_) + strlen(rules[i].name) + 2;
    if (with_rules && nrules > 0 && (tr = calloc(nrules, sizeof *tr)) != NULL &&
        (keys = malloc(need)) != NULL) {
        for (size_t i = 0; i < nrules; i++) {
            const reg_rule *r = &rules[i];
            tr[i].key = keys + off;
            off += (size_t)sprintf(tr[i].key, "%s/%s", r->namespace_, r->name) + 1;
            tr[i].action = (sq_path_name){ .path = r->action_path, .name = r->action_name };
            tr[i].status = r->status;
        }
        d.rules = tr;
        d.nrules = nrules;
    }
    sq_trigger_encode(&d, pk);
    free(keys);
    free(tr);
}

void reg_rule_encode(const reg_rule *r, const char *status_override, msgpack_packer *pk)
{
    sq_rule d = { .namespace_ = r->namespace_,
                  .name = r->name,
                  .version = r->version,
                  .publish = r->publish,
                  .annotations = r->annotations,
                  .status = (char *)(status_override ? status_override : r->status),
                  .trigger = { .path = r->trigger_ns, .name = r->trigger_name },
                  .action = { .path = r->action_path, .name = r->action_name },
                  .updated = r->updated };
    sq_rule_encode(&d, pk);
}
