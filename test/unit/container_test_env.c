/* The activation's __OW_* variables in warm containers (part of container_test; see
 * container_test.c): each activation sees its own, its child processes too, and setting them
 * costs a warm container no memory (glibc's setenv(3) keeps every string it made: a container
 * grew by some 200 bytes an activation in both runtimes). */
#include "container_test.h"

#include <stdio.h>
#include <string.h>

/* process.env in a warm node container: the per-activation __OW_* variables are the
 * running activation's, and never go into the C environment (node's setenv(3) there made
 * glibc keep every activation's strings: a warm container grew by some 215 bytes an
 * activation); what the action sets itself is a string and does reach the C environment
 * (node's report reads it: uv_os_environ), its child processes get both, and a delete
 * removes it from both. */
void test_env(void)
{
    inv_run_result r;
    inv_outcome oc;
    char buf[256];
    inv_container_t *c = ready_run(
        "const cp = require('child_process');\n"
        "function main(a){\n"
        "  process.env.MINE = a.n;\n"
        "  const c = process.report.getReport().environmentVariables;\n"
        "  const child = cp.execFileSync('/bin/sh', ['-c', 'echo \"$__OW_ACTIVATION_ID $MINE\"'])"
        ".toString().trim();\n"
        "  const out = {ow: process.env.__OW_ACTIVATION_ID, c_ow: c.__OW_ACTIVATION_ID || 'none',\n"
        "    c_mine: c.MINE || 'none', typ: typeof process.env.MINE, child: child};\n"
        "  delete process.env.MINE;\n"
        "  out.gone = ('MINE' in process.env) + '/' + "
        "(process.report.getReport().environmentVariables.MINE || 'none');\n"
        "  return out;\n"
        "}",
        "{\"n\":7}", "env-1", &r);
    if (!c)
        return;
    for (int i = 0; i < 2; i++) {
        if (i == 1) {
            oc = run(c, "{\"n\":8}", "env-2", TIMEOUT, LOGS, &r);
            CHECK(oc == INV_OK, "%s %s", inv_outcome_str(oc), res(&r));
        }
        const char *id = i == 0 ? "env-1" : "env-2", *n = i == 0 ? "7" : "8";
        char want[64];
        CHECK(strcmp(field(r.result, "ow", buf, sizeof buf), id) == 0, "%s", res(&r));
        CHECK(strcmp(field(r.result, "c_ow", buf, sizeof buf), "none") == 0,
              "__OW_ACTIVATION_ID in the C environment: %s", res(&r));
        CHECK(strcmp(field(r.result, "c_mine", buf, sizeof buf), n) == 0, "%s", res(&r));
        CHECK(strcmp(field(r.result, "typ", buf, sizeof buf), "string") == 0, "%s", res(&r));
        snprintf(want, sizeof want, "%s %s", id, n);
        CHECK(strcmp(field(r.result, "child", buf, sizeof buf), want) == 0, "%s", res(&r));
        CHECK(strcmp(field(r.result, "gone", buf, sizeof buf), "false/none") == 0, "%s", res(&r));
        inv_run_result_free(&r);
    }
    inv_container_destroy(c);
}

/* os.environ in a warm python container: from the second activation on, the launcher writes
 * each __OW_* variable in place in one buffer of the C environment (putenv(3)) instead of
 * setenv(3), which kept every activation's string; the action, getenv(3) and child processes
 * see the running activation's value, and the string's address stays the same from one
 * activation to the next (setenv's new string each time moved it); a value set by the action
 * itself lasts its own activation only. */
void test_python_env(void)
{
    static const char *const ids[] = { "py-env-1", "py-env-2", "py-env-3", "py-env-4" };
    char at[4][32] = { "" }, buf[256];
    inv_run_result r;
    inv_container_t *c =
        ready_kind("python:3",
                   "import ctypes, os, subprocess\n"
                   "libc = ctypes.CDLL(None)\n"
                   "libc.getenv.restype = ctypes.c_void_p\n"
                   "def main(a):\n"
                   "    if a.get('mine'): os.environ['__OW_ACTIVATION_ID'] = 'mine'\n"
                   "    p = libc.getenv(b'__OW_ACTIVATION_ID')\n"
                   "    child = subprocess.run(['/bin/sh', '-c', "
                   "'echo $__OW_ACTIVATION_ID'], capture_output=True)\n"
                   "    return {'ow': os.environ.get('__OW_ACTIVATION_ID'),\n"
                   "            'c': ctypes.string_at(p).decode(), 'at': str(p),\n"
                   "            'child': child.stdout.decode().strip()}\n",
                   false, false, 1, 128, true);
    if (!c)
        return;
    for (int i = 0; i < 4; i++) {
        /* the third sets the variable itself: the fourth gets its own again */
        inv_outcome oc = run(c, i == 2 ? "{\"mine\":1}" : "{}", ids[i], TIMEOUT, LOGS, &r);
        const char *want = i == 2 ? "mine" : ids[i];
        CHECK(oc == INV_OK, "%s %s", inv_outcome_str(oc), res(&r));
        CHECK(strcmp(field(r.result, "ow", buf, sizeof buf), want) == 0, "%s", res(&r));
        CHECK(strcmp(field(r.result, "c", buf, sizeof buf), want) == 0, "%s", res(&r));
        CHECK(strcmp(field(r.result, "child", buf, sizeof buf), want) == 0, "%s", res(&r));
        snprintf(at[i], sizeof at[i], "%s", field(r.result, "at", buf, sizeof buf));
        inv_run_result_free(&r);
    }
    /* the second and the fourth: the same buffer, rewritten */
    CHECK(at[1][0] != '\0' && strcmp(at[1], at[3]) == 0,
          "__OW_ACTIVATION_ID moved in the C environment: %s then %s", at[1], at[3]);
    inv_container_destroy(c);
}
