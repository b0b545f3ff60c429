/* What the files of container_test share (container_test.c: the protocol, logs, limits of
 * time, crashes, isolation, threads, and main; container_test_kinds.c: the other runtimes,
 * concurrency, cgroup limits and the freezer; container_test_env.c: the activation's
 * variables in warm containers): the counters, the runtimes directory, the
 * sandbox policy and the helpers that start, initialise and run containers. */
#ifndef SQ_TEST_CONTAINER_TEST_H
#define SQ_TEST_CONTAINER_TEST_H

#include "container.h"

/* CHECK and its counters (check.h), shared by the two files; container_test.c defines them */
#define CHECK_SHARED_COUNTERS
#include "check.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

extern char runtime_dir[PATH_MAX];
extern inv_sandbox_t *sb;              /* cgroups + seccomp (NULL when this host gives none) */
extern char native_launcher[PATH_MAX]; /* SQ_NATIVE_LAUNCHER, or its staged copy (main) */

#define TIMEOUT 10000
#define LOGS (1u << 20)

double now_ms(void);
/* The result text, or "(null)". */
const char *res(const inv_run_result *r);
/* A sandboxed (or bare) nodejs:20 stem cell. */
inv_container_t *start(bool sandbox);
/* A nodejs:20 stem cell (sandboxed or bare) given code whose entry is main: the container, with
 * the init's outcome in *oc and its result in *r (the caller frees it); NULL (and a failed
 * check) when it does not start, *oc and *r then untouched. */
inv_container_t *start_init(bool sandbox, const char *code, const char *main, bool binary,
                            int timeout_ms, inv_outcome *oc, inv_run_result *r);
/* Starts and initialises a container with code; NULL (and a failed check) if init fails. */
inv_container_t *ready(const char *code, bool sandbox);
/* ready(code, true), then one run of value that must succeed (a failed check otherwise): the
 * container, its result in *r (the caller frees it); NULL when it is not ready, *r then
 * untouched. */
inv_container_t *ready_run(const char *code, const char *value, const char *activation_id,
                           inv_run_result *r);
/* Runs one activation with the given value (a JSON object text). */
inv_outcome run(inv_container_t *c, const char *value, const char *activation_id, int timeout_ms,
                size_t log_limit, inv_run_result *r);
/* The string at key of the JSON object text, or "" (copied into buf). */
const char *field(const char *json, const char *key, char *buf, size_t n);
bool log_is(const char *line, const char *stream, const char *text);
void dump_logs(const inv_run_result *r);
bool pid_gone(pid_t pid);

/* A container of kind (python:3, native, ...) initialised with code: NULL (and a failed check)
 * if it does not start or its init fails. */
inv_container_t *ready_kind(const char *kind, const char *code, bool binary, bool actionloop,
                            int conc, int memory_mb, bool with_sb);

/* container_test_kinds.c */
void test_log_limit(void);
void test_big_payloads(void);
void test_bare(void);
void test_misuse(void);
void test_no_fd_leak(void);
void test_threads(void);
void test_python(void);
void test_node_zip(void);
void test_native(void);
void test_concurrency(void);
void test_fd3_garbage(void);
void test_limits(void);
void test_attach_tree(void);
void test_limits_by_parent(void);
void test_freeze(void);
/* container_test_env.c */
void test_env(void);
void test_python_env(void);

#endif
