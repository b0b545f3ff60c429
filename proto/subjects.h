/* Every NATS subject and JetStream stream of Squall, in one place. Subjects with a
 * namespace or an id in them are built with the *_FMT patterns after the token has been
 * escaped with sq_subj_token() (a namespace may hold '.', ' ' or '@'). */
#ifndef SQ_PROTO_SUBJECTS_H
#define SQ_PROTO_SUBJECTS_H

#include <stddef.h>

/* auth: verify an API key -> sq_identity; a namespace's limits; the admin interface */
#define SQ_SUBJ_AUTH_VERIFY "sq.auth.verify"
#define SQ_SUBJ_AUTH_LIMITS "sq.auth.limits"
#define SQ_SUBJ_AUTH_ADMIN "sq.auth.admin"

/* registry: entities (actions for now) */
#define SQ_SUBJ_REG_PUT "sq.registry.put"
#define SQ_SUBJ_REG_GET "sq.registry.get"
#define SQ_SUBJ_REG_DELETE "sq.registry.delete"
#define SQ_SUBJ_REG_LIST "sq.registry.list"
#define SQ_SUBJ_REG_RESOLVE "sq.registry.resolve"
#define SQ_SUBJ_REG_RULE_STATE "sq.registry.rulestate"
/* registry: API routes (wsk api), see sq_route_put and sq_route_query; one token after
 * "sq.registry." like every registry subject (its NATS user may subscribe to sq.registry.*) */
#define SQ_SUBJ_REG_ROUTE_PUT "sq.registry.route_put"
#define SQ_SUBJ_REG_ROUTE_GET "sq.registry.route_get"
#define SQ_SUBJ_REG_ROUTE_DELETE "sq.registry.route_delete"

/* scheduler: invoke an action (blocking or not) */
#define SQ_SUBJ_SCHED_INVOKE "sq.sched.invoke"
/* header of an sq.sched.invoke request that is an sq_invoke_batch (any value) */
#define SQ_HDR_BATCH "Sq-Batch"
/* scheduler copies announce themselves to each other (fair shares of limits and capacity) */
#define SQ_SUBJ_SCHED_HEARTBEAT "sq.sched.heartbeat"
/* a copy moved queued work off a dead invoker (sq_sched_moved) */
#define SQ_SUBJ_SCHED_MOVED "sq.sched.moved"

/* triggers: fire a trigger (gateway), or publish to sq.fire.<ns>.<trigger> (integrators) */
#define SQ_SUBJ_TRIGGER_FIRE "sq.trigger.fire"
#define SQ_SUBJ_FIRE_FMT "sq.fire.%s.%s" /* namespace, trigger */
#define SQ_SUBJ_FIRE_ALL "sq.fire.>"

/* invokers: heartbeats to the schedulers, and blocking work sent straight to one invoker */
#define SQ_SUBJ_INVOKER_HEARTBEAT "sq.invoker.heartbeat"
#define SQ_SUBJ_INVOKER_RUN_FMT "sq.invoker.%s.run"

/* activation store queries */
#define SQ_SUBJ_ACT_GET "sq.activations.get"
#define SQ_SUBJ_ACT_LIST "sq.activations.list"
#define SQ_SUBJ_ACT_LOGS "sq.activations.logs"

/* JetStream: durable work (work-queue retention) and activation records */
#define SQ_STREAM_WORK "SQ_WORK"
#define SQ_SUBJ_WORK_FMT "sq.work.%s" /* invoker id */
#define SQ_SUBJ_WORK_ALL "sq.work.>"
#define SQ_STREAM_ACTIVATIONS "SQ_ACTIVATIONS"
#define SQ_SUBJ_ACT_FMT "sq.act.%s" /* namespace */
#define SQ_SUBJ_ACT_ALL "sq.act.>"

/* JetStream: namespaces deleted by auth (sq_tenancy_event), followed durably by the services
 * that keep something of a namespace */
#define SQ_STREAM_TENANCY "SQ_TENANCY"
#define SQ_SUBJ_TENANCY_DELETE_FMT "sq.tenancy.delete.%s" /* namespace */
#define SQ_SUBJ_TENANCY_ALL "sq.tenancy.>"

/* Events for integrators (core NATS) */
#define SQ_SUBJ_EVT_ACTIVATION_FMT "sq.evt.activation.%s" /* namespace */
#define SQ_SUBJ_EVT_ENTITY_FMT "sq.evt.entity.%s.%s"      /* namespace, kind */
#define SQ_SUBJ_EVT_ENTITY_ALL "sq.evt.entity.>"
#define SQ_SUBJ_EVT_AUTH "sq.evt.auth"
#define SQ_SUBJ_EVT_TRIGGER_FMT "sq.evt.trigger.%s.%s" /* namespace, trigger */
/* an action's log lines while it runs, then an end marker (sq_log_event; invoker -> gateways) */
#define SQ_SUBJ_EVT_LOG_FMT "sq.evt.log.%s.%s" /* namespace, activation id */
#define SQ_SUBJ_EVT_LOG_ALL "sq.evt.log.>"
#define SQ_SUBJ_EVT_ACTIVATION_ALL "sq.evt.activation.>"

/* Health of each service: sq.<svc>.health */
#define SQ_SUBJ_HEALTH_FMT "sq.%s.health"

/* Escapes s into one subject token: letters, digits, '_' and '-' stay; every other byte
 * becomes %XX. Writes at most outlen bytes including the NUL; returns 0, or -1 when it does
 * not fit. */
int sq_subj_token(const char *s, char *out, size_t outlen);

#endif
