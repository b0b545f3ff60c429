/* Unit tests of the registry's rules without a database or a bus: names and references
 * (relative, absolute, "_"), the PUT body of every kind (actions of each kind, sequences,
 * binary code, the 48 MB limit, limits, packages and bindings, triggers, rules and rule
 * states) with every wrong JSON type refused with a message, OpenWhisk's update semantics
 * (version bump, parameters replaced, annotations merged, delAnnotations, limits merged per
 * field, bindings kept, rule status kept), parameter layering, and the shapes of packages,
 * triggers and rules. The registry's validate.c and entities.c are compiled in. */
#include "../../services/registry/validate.c"
#include "../../services/registry/validate_action.c"
#include "../../services/registry/entities.c"

#include <stdlib.h>
#include "check.h"
#include "mp_obj.h"
#include "sq/json.h"
#include "sq/log.h"

static msgpack_zone Z;

/* A msgpack object for JSON text, in Z (lives until the end). */
static msgpack_object J(const char *json)
{
    return obj_json(&Z, json);
}

/* The JSON text of o (for comparisons), in Z. */
static const char *T(const msgpack_object *o)
{
    size_t n;
    char *s = sq_mp_to_json_text(o, &n), *copy;
    if (s == NULL)
        return "<none>";
    copy = msgpack_zone_malloc(&Z, n + 1);
    memcpy(copy, s, n);
    copy[n] = '\0';
    free(s);
    return copy;
}

static const msgpack_object *annotation(const msgpack_object *a, const char *key)
{
    for (uint32_t i = 0; a->type == MSGPACK_OBJECT_ARRAY && i < a->via.array.size; i++) {
        const msgpack_object *k = sq_mp_get(&a->via.array.ptr[i], "key");
        if (k && sq_mp_str_eq(k, key))
            return sq_mp_get(&a->via.array.ptr[i], "value");
    }
    return NULL;
}

static char err[512];

/* ---------------------------------------------------------------- names */

static void test_names(void)
{
    char *pkg, *base;
    reg_fqn f;

    SECTION("names");
    CHECK_INT(reg_name_split("hello", true, &Z, &pkg, &base), SQ_OK, "plain name");
    CHECK(pkg == NULL && strcmp(base, "hello") == 0, "plain name parts");
    CHECK_INT(reg_name_split("p/hello", true, &Z, &pkg, &base), SQ_OK, "packaged name");
    CHECK_STR(pkg, "p", "package part");
    CHECK_STR(base, "hello", "name part");
    CHECK_INT(reg_name_split("p/hello", false, &Z, &pkg, &base), SQ_ERR_BAD_NAME,
              "no package allowed");
    CHECK_INT(reg_name_split("a/b/c", true, &Z, &pkg, &base), SQ_ERR_BAD_NAME, "nested");
    CHECK_INT(reg_name_split("bad name!", true, &Z, &pkg, &base), SQ_ERR_BAD_NAME,
              "bad characters");
    CHECK_INT(reg_name_split("/x", true, &Z, &pkg, &base), SQ_ERR_BAD_NAME, "empty package");
    CHECK_INT(reg_name_split("p/", true, &Z, &pkg, &base), SQ_ERR_BAD_NAME, "empty name");

    static const struct {
        const char *in, *ns, *pkg, *name;
    } good[] = {
        { "a", "me", NULL, "a" },
        { "p/a", "me", "p", "a" },
        { "/ns/a", "ns", NULL, "a" },
        { "/ns/p/a", "ns", "p", "a" },
        { "ns/p/a", "ns", "p", "a" },
        { "/_/a", "me", NULL, "a" },
        { "/_/p/a", "me", "p", "a" },
        { "/whisk.system/utils/echo", "whisk.system", "utils", "echo" },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK_INT(reg_fqn_parse(good[i].in, "me", &Z, &f, "action", err, sizeof err), SQ_OK,
                  good[i].in);
        CHECK_STR(f.ns, good[i].ns, good[i].in);
        CHECK_STR(f.pkg, good[i].pkg, good[i].in);
        CHECK_STR(f.name, good[i].name, good[i].in);
    }
    static const char *const badrefs[] = { "",         "/",         "/ns",  "/ns/",   "a/b/c/d",
                                           "/a/b/c/d", "bad name!", "a//b", "/ns/p/", " a" };
    for (size_t i = 0; i < sizeof badrefs / sizeof badrefs[0]; i++) {
        err[0] = '\0';
        CHECK_INT(reg_fqn_parse(badrefs[i], "me", &Z, &f, "trigger", err, sizeof err),
                  SQ_ERR_BAD_REQUEST, badrefs[i]);
        CHECK(strstr(err, "trigger name") != NULL, "message names the kind: %s", err);
    }
    f = (reg_fqn){ "ns", "p", "a" };
    CHECK_STR(reg_fqn_str(&f, &Z), "/ns/p/a", "fqn with package");
    f.pkg = NULL;
    CHECK_STR(reg_fqn_str(&f, &Z), "/ns/a", "fqn without package");
    CHECK_STR(reg_path_str("ns", "p", &Z), "ns/p", "path");
    CHECK_STR(reg_path_str("ns", NULL, &Z), "ns", "path without package");
}

/* ---------------------------------------------------------------- actions */

static void test_action_parse(void)
{
    reg_patch p;
    msgpack_object e;

    SECTION("action parse");
    /* family:default is stored as the kind it stands for */
    static const char *const kinds[][2] = {
        { "nodejs:20", "nodejs:20" }, { "nodejs:default", "nodejs:20" },
        { "python:3", "python:3" },   { "python:default", "python:3" },
        { "native", "native" },       { "native:default", "native" }
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"exec\":{\"kind\":\"%s\",\"code\":\"x\"}}", kinds[i][0]);
        e = J(body);
        CHECK_INT(reg_patch_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK, kinds[i][0]);
        CHECK(p.has_exec && strcmp(p.exec.kind, kinds[i][1]) == 0, "kind %s stored as %s",
              kinds[i][0], p.exec.kind);
        CHECK(!p.exec.binary, "code x is not binary");
    }
    /* base64 code without a flag is binary (OpenWhisk's Exec.isBinaryCode) */
    e = J("{\"exec\":{\"kind\":\"nodejs:20\",\"code\":\"UEsDBA==\"}}");
    CHECK_INT(reg_patch_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK, "base64 code");
    CHECK(p.exec.binary, "base64 code without a flag is binary");
    /* the skeleton image runs on native; other images are refused */
    e = J("{\"exec\":{\"kind\":\"blackbox\",\"image\":\"openwhisk/dockerskeleton:1.3.3\","
          "\"code\":\"UEsDBA==\",\"binary\":true}}");
    CHECK_INT(reg_patch_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK, "skeleton");
    CHECK(strcmp(p.exec.kind, "native") == 0, "skeleton runs on native");
    e = J("{\"exec\":{\"kind\":\"blackbox\",\"image\":\"evilopenwhisk/dockerskeleton\","
          "\"code\":\"UEsDBA==\"}}");
    CHECK_INT(reg_patch_parse(&e, "me", &Z, &p, err, sizeof err), SQ_ERR_BAD_REQUEST,
              "look-alike image");
    e = J("{\"exec\":{\"kind\":\"sequence\",\"components\":[\"a\",\"/_/p/b\",\"/other/c\",\"o2/q/"
          "d\"],"
          "\"code\":\"ignored\"}}");
    CHECK_INT(reg_patch_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK, "sequence");
    CHECK(p.exec.code == NULL, "a sequence has no code");
    CHECK_INT(p.ncomponents, 4, "components");
    CHECK_STR(T(&p.exec.components), "[\"/me/a\",\"/me/p/b\",\"/other/c\",\"/o2/q/d\"]",
              "components resolved");

    e = J("{\"exec\":{\"kind\":\"native\",\"code\":\"aGVsbG8gd29ybGQ=\",\"binary\":true}}");
    CHECK_INT(reg_patch_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK, "binary base64");
    CHECK(p.exec.binary, "binary flag");
    e = J("{\"exec\":{\"kind\":\"native\",\"code\":\"aGVs\\nbG8\",\"binary\":true}}");
    CHECK_INT(reg_patch_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK,
              "base64 unpadded, newline");
    e = J("{\"exec\":{\"kind\":\"nodejs:20\",\"code\":\"x\"},\"parameters\":[{\"key\":\"a\","
          "\"value\":{\"deep\":[1]}}],"
          "\"annotations\":[{\"key\":\"final\",\"value\":true}],\"limits\":{\"timeout\":100,"
          "\"memory\":512.0,\"logs\":0,"
          "\"concurrency\":500},\"publish\":true,\"delAnnotations\":[\"x\"],\"version\":\"9.9.9\","
          "\"namespace\":5}");
    CHECK_INT(reg_patch_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK, "every field");
    CHECK(p.has_parameters && p.has_annotations && p.has_publish && p.publish && p.ndel == 1,
          "flags");
    CHECK(p.has_timeout && p.limits.timeout == 100 && p.has_memory && p.limits.memory == 512 &&
              p.has_logs && p.limits.logs == 0 && p.has_concurrency && p.limits.concurrency == 500,
          "limits at bounds");
    e = J("{\"limits\":{\"instances\":null,\"memory\":null}}");
    CHECK_INT(reg_patch_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK,
              "a null limit gives nothing, known or not");
    CHECK(!p.has_memory, "null memory is absent");
    e = J("{\"exec\":null,\"parameters\":null}");
    CHECK_INT(reg_patch_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK, "nulls are absent");
    CHECK(!p.has_exec && !p.has_parameters, "nothing given");

    static const struct {
        const char *body, *msg;
        sq_status st;
    } bad[] = {
        { "[]", "must be an object", SQ_ERR_BAD_REQUEST },
        { "{\"exec\":\"x\"}", "exec must be an object", SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"code\":\"x\"}}", "exec.kind is required", SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"kind\":7,\"code\":\"x\"}}", "exec.kind must be a string",
          SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"kind\":\"cobol:1\",\"code\":\"x\"}}", "not supported", SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"kind\":\"blackbox\",\"image\":\"x\"}}", "does not run container images",
          SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"kind\":\"nodejs:20\"}}", "'code' must be a string", SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"kind\":\"nodejs:20\",\"code\":1}}", "'code' must be a string",
          SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"kind\":\"nodejs:20\",\"code\":\"x\",\"main\":[]}}", "exec.main",
          SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"kind\":\"nodejs:20\",\"code\":\"x\",\"binary\":1}}", "exec.binary",
          SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"kind\":\"nodejs:20\",\"code\":\"not base64!\",\"binary\":true}}", "base64",
          SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"kind\":\"nodejs:20\",\"code\":\"abcde\",\"binary\":true}}", "base64",
          SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"kind\":\"sequence\"}}", "No component specified", SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"kind\":\"sequence\",\"components\":[]}}", "No component specified",
          SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"kind\":\"sequence\",\"components\":\"a\"}}", "components must be an array",
          SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"kind\":\"sequence\",\"components\":[1]}}", "components must be an array",
          SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"kind\":\"sequence\",\"components\":[\"bad name!\"]}}",
          "sequence component name", SQ_ERR_BAD_REQUEST },
        { "{\"exec\":{\"kind\":\"sequence\",\"components\":[\"/a/b/c/d\"]}}",
          "sequence component name", SQ_ERR_BAD_REQUEST },
        { "{\"parameters\":{}}", "parameters must be an array", SQ_ERR_BAD_REQUEST },
        { "{\"parameters\":[1]}", "parameters must be an array", SQ_ERR_BAD_REQUEST },
        { "{\"parameters\":[{\"key\":1,\"value\":1}]}", "parameters must be an array",
          SQ_ERR_BAD_REQUEST },
        { "{\"parameters\":[{\"key\":\"a\"}]}", "parameters must be an array", SQ_ERR_BAD_REQUEST },
        { "{\"annotations\":\"x\"}", "annotations must be an array", SQ_ERR_BAD_REQUEST },
        { "{\"delAnnotations\":\"x\"}", "delAnnotations", SQ_ERR_BAD_REQUEST },
        { "{\"delAnnotations\":[1]}", "delAnnotations", SQ_ERR_BAD_REQUEST },
        { "{\"limits\":[]}", "limits must be an object", SQ_ERR_BAD_REQUEST },
        { "{\"limits\":{\"instances\":2}}", "limits.instances is not supported",
          SQ_ERR_BAD_REQUEST },
        { "{\"limits\":{\"timeout\":1000,\"bogus\":false}}", "limits.bogus is not supported",
          SQ_ERR_BAD_REQUEST },
        { "{\"limits\":{\"timeout\":99}}", "timeout 99 milliseconds below", SQ_ERR_BAD_REQUEST },
        { "{\"limits\":{\"timeout\":300001}}", "exceeds allowed threshold", SQ_ERR_BAD_REQUEST },
        { "{\"limits\":{\"timeout\":\"1000\"}}", "whole number", SQ_ERR_BAD_REQUEST },
        { "{\"limits\":{\"timeout\":1000.5}}", "whole number", SQ_ERR_BAD_REQUEST },
        { "{\"limits\":{\"memory\":127}}", "memory 127 MB below", SQ_ERR_BAD_REQUEST },
        { "{\"limits\":{\"memory\":513}}", "memory 513 MB exceeds", SQ_ERR_BAD_REQUEST },
        { "{\"limits\":{\"logs\":-1}}", "logs -1 MB below", SQ_ERR_BAD_REQUEST },
        { "{\"limits\":{\"logs\":11}}", "logs 11 MB exceeds", SQ_ERR_BAD_REQUEST },
        { "{\"limits\":{\"concurrency\":0}}", "concurrency 0 below", SQ_ERR_BAD_REQUEST },
        { "{\"limits\":{\"concurrency\":501}}", "concurrency 501 exceeds", SQ_ERR_BAD_REQUEST },
        { "{\"publish\":\"yes\"}", "publish must be a boolean", SQ_ERR_BAD_REQUEST },
        { "{\"version\":1}", "version must be a string", SQ_ERR_BAD_REQUEST },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        e = J(bad[i].body);
        CHECK_INT(reg_patch_parse(&e, "me", &Z, &p, err, sizeof err), bad[i].st, bad[i].body);
        CHECK(strstr(err, bad[i].msg) != NULL, "%s: message \"%s\" lacks \"%s\"", bad[i].body, err,
              bad[i].msg);
    }

    /* 51 components; 50 are fine */
    char seq[4096] = "{\"exec\":{\"kind\":\"sequence\",\"components\":[";
    for (int i = 0; i < 51; i++)
        strcat(seq, i ? ",\"a\"" : "\"a\"");
    strcat(seq, "]}}");
    e = J(seq);
    CHECK_INT(reg_patch_parse(&e, "me", &Z, &p, err, sizeof err), SQ_ERR_BAD_REQUEST,
              "51 components");
    CHECK(strstr(err, "Too many actions in the sequence.") != NULL, "too many: %s", err);
    strcpy(strstr(seq, ",\"a\"]}}"), "]}}");
    e = J(seq);
    CHECK_INT(reg_patch_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK, "50 components");

    /* code size: the limit itself is fine, one byte more is 413 */
    size_t big = (size_t)REG_CODE_MAX + 1;
    char *code = malloc(big + 1);
    memset(code, 'x', big);
    code[big] = '\0';
    msgpack_object_kv exec_kv[2] = {
        { .key = { .type = MSGPACK_OBJECT_STR, .via.str = { 4, "kind" } },
          .val = { .type = MSGPACK_OBJECT_STR, .via.str = { 9, "nodejs:20" } } },
        { .key = { .type = MSGPACK_OBJECT_STR, .via.str = { 4, "code" } },
          .val = { .type = MSGPACK_OBJECT_STR, .via.str = { (uint32_t)big, code } } }
    };
    msgpack_object_kv body_kv[1] = {
        { .key = { .type = MSGPACK_OBJECT_STR, .via.str = { 4, "exec" } },
          .val = { .type = MSGPACK_OBJECT_MAP, .via.map = { 2, exec_kv } } }
    };
    e = (msgpack_object){ .type = MSGPACK_OBJECT_MAP, .via.map = { 1, body_kv } };
    CHECK_INT(reg_patch_parse(&e, "me", &Z, &p, err, sizeof err), SQ_ERR_TOO_LARGE,
              "code over 48 MB");
    CHECK(strstr(err, "larger than allowed") != NULL, "413 message: %s", err);
    exec_kv[1].val.via.str.size = (uint32_t)REG_CODE_MAX;
    msgpack_zone big_zone;
    msgpack_zone_init(&big_zone, 4096);
    CHECK_INT(reg_patch_parse(&e, "me", &big_zone, &p, err, sizeof err), SQ_OK, "code of 48 MB");
    msgpack_zone_destroy(&big_zone);
    free(code);
}

static void test_action_apply(void)
{
    reg_patch p;
    sq_action v1, v2, v3;
    msgpack_object e;

    SECTION("action apply");
    e = J("{\"limits\":{\"timeout\":1000}}");
    reg_patch_parse(&e, "me", &Z, &p, err, sizeof err);
    CHECK_INT(reg_patch_apply(NULL, &p, "me", "a", &Z, &v1, err, sizeof err), SQ_ERR_BAD_REQUEST,
              "create needs exec");
    CHECK_STR(err, "exec undefined", "message");

    e = J("{\"exec\":{\"kind\":\"nodejs:20\",\"code\":\"c1\"},\"parameters\":[{\"key\":\"a\","
          "\"value\":1},{\"key\":\"a\",\"value\":2}],"
          "\"annotations\":[{\"key\":\"k\",\"value\":1},{\"key\":\"exec\",\"value\":\"lie\"}],"
          "\"limits\":{\"memory\":128}}");
    CHECK_INT(reg_patch_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK, "v1 body");
    CHECK_INT(reg_patch_apply(NULL, &p, "me/pkg", "a", &Z, &v1, err, sizeof err), SQ_OK, "create");
    CHECK_STR(v1.version, "0.0.1", "first version");
    CHECK_STR(v1.namespace_, "me/pkg", "path");
    CHECK_STR(T(&v1.parameters), "[{\"key\":\"a\",\"value\":2}]",
              "duplicate keys collapse, last wins");
    CHECK_STR(T(annotation(&v1.annotations, "exec")), "\"nodejs:20\"", "exec annotation set");
    CHECK_STR(T(annotation(&v1.annotations, "provide-api-key")), "false",
              "provide-api-key false on create");
    CHECK(v1.limits.memory == 128 && v1.limits.timeout == 60000 && v1.limits.logs == 10 &&
              v1.limits.concurrency == 1,
          "limits: given + defaults");
    CHECK(!v1.publish && v1.updated > 0, "publish default, updated set");

    e = J("{\"annotations\":[{\"key\":\"n\",\"value\":2}],\"limits\":{\"timeout\":2000},"
          "\"publish\":true}");
    reg_patch_parse(&e, "me", &Z, &p, err, sizeof err);
    CHECK_INT(reg_patch_apply(&v1, &p, "me/pkg", "a", &Z, &v2, err, sizeof err), SQ_OK, "update");
    CHECK_STR(v2.version, "0.0.2", "version bumped");
    CHECK_STR(v2.exec.code, "c1", "exec kept");
    CHECK_STR(T(&v2.parameters), "[{\"key\":\"a\",\"value\":2}]", "parameters kept when not given");
    CHECK_STR(T(annotation(&v2.annotations, "k")), "1", "annotations merged: old key kept");
    CHECK(annotation(&v2.annotations, "n") != NULL && annotation(&v2.annotations, "exec") != NULL,
          "new + exec");
    CHECK_STR(T(annotation(&v2.annotations, "provide-api-key")), "false",
              "provide-api-key kept on update");
    CHECK(v2.limits.memory == 128 && v2.limits.timeout == 2000, "limits merged per field");
    CHECK(v2.publish, "publish given");

    e = J("{\"parameters\":[],\"delAnnotations\":[\"n\"],\"exec\":{\"kind\":\"sequence\","
          "\"components\":[\"x\"]}}");
    reg_patch_parse(&e, "me", &Z, &p, err, sizeof err);
    CHECK_INT(reg_patch_apply(&v2, &p, "me", "a", &Z, &v3, err, sizeof err), SQ_OK, "update 2");
    CHECK_STR(v3.version, "0.0.3", "bumped again");
    CHECK_STR(T(&v3.parameters), "[]", "parameters replaced by []");
    CHECK(annotation(&v3.annotations, "n") == NULL, "delAnnotations drops kept ones");
    CHECK_STR(T(annotation(&v3.annotations, "k")), "1", "the others stay");

    /* a sequence that becomes code does not keep the sequence's parameters (OpenWhisk) */
    sq_action v4, v5;
    e = J("{\"annotations\":[{\"key\":\"k\",\"value\":3}],\"parameters\":[{\"key\":\"s\",\"value\":"
          "1}]}");
    reg_patch_parse(&e, "me", &Z, &p, err, sizeof err);
    CHECK_INT(reg_patch_apply(&v3, &p, "me", "a", &Z, &v4, err, sizeof err), SQ_OK, "update 3");
    CHECK_STR(T(annotation(&v4.annotations, "k")), "3",
              "a given annotation replaces the old value");
    e = J("{\"exec\":{\"kind\":\"nodejs:20\",\"code\":\"c\"}}");
    reg_patch_parse(&e, "me", &Z, &p, err, sizeof err);
    CHECK_INT(reg_patch_apply(&v4, &p, "me", "a", &Z, &v5, err, sizeof err), SQ_OK, "update 4");
    CHECK_STR(T(&v5.parameters), "[]", "sequence parameters do not leak into code");
    CHECK_STR(T(annotation(&v5.annotations, "exec")), "\"nodejs:20\"",
              "exec annotation follows kind");
    CHECK_STR(T(annotation(&v3.annotations, "exec")), "\"sequence\"",
              "exec annotation follows kind");
    CHECK(v3.publish, "publish kept");

    char v[64];
    reg_version_bump("1.2.3", v, sizeof v);
    CHECK_STR(v, "1.2.4", "bump");
    reg_version_bump("junk", v, sizeof v);
    CHECK_STR(v, "0.0.1", "bump of junk");
    reg_version_bump("1.2.3x", v, sizeof v);
    CHECK_STR(v, "0.0.1", "bump of trailing junk");
}

/* ---------------------------------------------------------------- packages */

static void test_packages(void)
{
    reg_entity_patch p;
    reg_package v1, v2, b1, b2;
    msgpack_object e;

    SECTION("packages");
    e = J("{\"parameters\":[{\"key\":\"a\",\"value\":1}],\"annotations\":[{\"key\":\"binding\","
          "\"value\":\"fake\"},"
          "{\"key\":\"d\",\"value\":1}],\"publish\":true,\"binding\":{}}");
    CHECK_INT(reg_package_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK, "package");
    CHECK(!p.has_binding, "binding {} is no binding");
    CHECK_INT(reg_package_apply(NULL, &p, "me", "pkg", &Z, &v1, err, sizeof err), SQ_OK, "create");
    CHECK(v1.binding_ns == NULL && v1.publish, "a published package");
    CHECK(annotation(&v1.annotations, "binding") == NULL, "a user's binding annotation is dropped");
    CHECK_STR(v1.version, "0.0.1", "version");

    e = J("{\"annotations\":[]}");
    reg_package_parse(&e, "me", &Z, &p, err, sizeof err);
    CHECK_INT(reg_package_apply(&v1, &p, "me", "pkg", &Z, &v2, err, sizeof err), SQ_OK, "update");
    CHECK_STR(v2.version, "0.0.2", "bumped");
    CHECK_STR(T(&v2.annotations), "[]", "annotations replaced");
    CHECK_STR(T(&v2.parameters), "[{\"key\":\"a\",\"value\":1}]", "parameters kept");
    CHECK(v2.publish, "publish kept");

    static const struct {
        const char *body, *ns, *name;
    } binds[] = {
        { "{\"binding\":{\"namespace\":\"other\",\"name\":\"p\"}}", "other", "p" },
        { "{\"binding\":{\"namespace\":\"/other\",\"name\":\"p\"}}", "other", "p" },
        { "{\"binding\":{\"namespace\":\"_\",\"name\":\"p\"}}", "me", "p" },
        { "{\"binding\":{\"name\":\"p\"}}", "me", "p" },
    };
    for (size_t i = 0; i < 4; i++) {
        e = J(binds[i].body);
        CHECK_INT(reg_package_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK, binds[i].body);
        CHECK(p.has_binding, "binding given");
        CHECK_STR(p.binding.ns, binds[i].ns, binds[i].body);
        CHECK_STR(p.binding.name, binds[i].name, binds[i].body);
    }
    CHECK_INT(reg_package_apply(NULL, &p, "me", "b", &Z, &b1, err, sizeof err), SQ_OK, "binding");
    CHECK_STR(b1.binding_ns, "me", "bound namespace");
    CHECK_STR(T(annotation(&b1.annotations, "binding")), "{\"namespace\":\"me\",\"name\":\"p\"}",
              "binding annotation");
    e = J("{\"parameters\":[{\"key\":\"z\",\"value\":0}]}");
    reg_package_parse(&e, "me", &Z, &p, err, sizeof err);
    CHECK_INT(reg_package_apply(&b1, &p, "me", "b", &Z, &b2, err, sizeof err), SQ_OK,
              "binding update");
    CHECK_STR(b2.binding_name, "p", "binding kept");
    CHECK(annotation(&b2.annotations, "binding") != NULL, "annotation kept");
    e = J("{\"binding\":{\"namespace\":\"me\",\"name\":\"q\"}}");
    reg_package_parse(&e, "me", &Z, &p, err, sizeof err);
    CHECK_INT(reg_package_apply(&v1, &p, "me", "pkg", &Z, &b2, err, sizeof err), SQ_ERR_CONFLICT,
              "a package never becomes a binding");
    CHECK(strstr(err, "cannot be converted into a binding") != NULL, "message: %s", err);

    static const struct {
        const char *body, *msg;
    } bad[] = {
        { "5", "must be an object" },
        { "{\"parameters\":5}", "parameters must be an array" },
        { "{\"annotations\":[{\"key\":\"a\"}]}", "annotations must be an array" },
        { "{\"publish\":\"x\"}", "publish must be a boolean" },
        { "{\"version\":[]}", "version must be a string" },
        { "{\"binding\":\"me/p\"}", "binding must be an object" },
        { "{\"binding\":{\"namespace\":\"me\"}}", "binding.name is required" },
        { "{\"binding\":{\"namespace\":1,\"name\":\"p\"}}", "binding must be an object" },
        { "{\"binding\":{\"namespace\":\"me\",\"name\":\"\"}}", "binding must be an object" },
        { "{\"binding\":{\"namespace\":\"me\",\"name\":\"bad name!\"}}",
          "not a valid package name" },
        { "{\"binding\":{\"namespace\":\"me\",\"name\":\"a/b\"}}", "not a valid package name" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        e = J(bad[i].body);
        CHECK_INT(reg_package_parse(&e, "me", &Z, &p, err, sizeof err), SQ_ERR_BAD_REQUEST,
                  bad[i].body);
        CHECK(strstr(err, bad[i].msg) != NULL, "%s: message \"%s\" lacks \"%s\"", bad[i].body, err,
              bad[i].msg);
    }
}

/* ---------------------------------------------------------------- triggers and rules */

static void test_triggers_rules(void)
{
    reg_entity_patch p;
    reg_trigger t1, t2;
    reg_rule r1, r2;
    msgpack_object e;
    const char *status;

    SECTION("triggers");
    e = J("{\"parameters\":[{\"key\":\"a\",\"value\":1}],\"limits\":{},\"publish\":false}");
    CHECK_INT(reg_trigger_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK, "trigger");
    CHECK_INT(reg_trigger_apply(NULL, &p, "me", "t", &Z, &t1), SQ_OK, "create");
    e = J("{\"annotations\":[{\"key\":\"x\",\"value\":1}]}");
    reg_trigger_parse(&e, "me", &Z, &p, err, sizeof err);
    CHECK_INT(reg_trigger_apply(&t1, &p, "me", "t", &Z, &t2), SQ_OK, "update");
    CHECK_STR(t2.version, "0.0.2", "bumped");
    CHECK_STR(T(&t2.parameters), "[{\"key\":\"a\",\"value\":1}]", "parameters kept");
    static const char *const tbad[] = { "[]",
                                        "{\"limits\":5}",
                                        "{\"limits\":[]}",
                                        "{\"parameters\":\"a\"}",
                                        "{\"annotations\":{}}",
                                        "{\"publish\":0}" };
    for (size_t i = 0; i < sizeof tbad / sizeof tbad[0]; i++) {
        e = J(tbad[i]);
        CHECK_INT(reg_trigger_parse(&e, "me", &Z, &p, err, sizeof err), SQ_ERR_BAD_REQUEST,
                  tbad[i]);
    }

    SECTION("rules");
    e = J("{\"trigger\":\"t\"}");
    CHECK_INT(reg_rule_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK, "trigger only parses");
    CHECK_INT(reg_rule_apply(NULL, &p, "me", "r", &Z, &r1, err, sizeof err), SQ_ERR_BAD_REQUEST,
              "a new rule needs both");
    CHECK_STR(err, "rule requires a valid trigger and a valid action", "message");
    e = J("{\"trigger\":\"/_/t\",\"action\":\"/whisk.system/utils/"
          "echo\",\"annotations\":[],\"status\":\"\"}");
    CHECK_INT(reg_rule_parse(&e, "me", &Z, &p, err, sizeof err), SQ_OK, "rule");
    CHECK_INT(reg_rule_apply(NULL, &p, "me", "r", &Z, &r1, err, sizeof err), SQ_OK, "create");
    CHECK_STR(r1.status, "active", "active on create");
    CHECK_STR(r1.trigger_ns, "me", "trigger namespace resolved");
    CHECK_STR(r1.action_path, "whisk.system/utils", "action path");
    CHECK_STR(r1.action_name, "echo", "action name");
    r1.status = REG_RULE_INACTIVE;
    e = J("{\"action\":\"p/a\"}");
    reg_rule_parse(&e, "me", &Z, &p, err, sizeof err);
    CHECK_INT(reg_rule_apply(&r1, &p, "me", "r", &Z, &r2, err, sizeof err), SQ_OK, "update");
    CHECK_STR(r2.status, "inactive", "an update keeps the status");
    CHECK_STR(r2.trigger_name, "t", "trigger kept");
    CHECK_STR(r2.action_path, "me/p", "relative packaged action");
    CHECK_STR(r2.version, "0.0.2", "bumped");
    static const struct {
        const char *body, *msg;
    } rbad[] = {
        { "{\"trigger\":5,\"action\":\"a\"}", "trigger must be a non-empty string" },
        { "{\"trigger\":\"\",\"action\":\"a\"}", "trigger must be a non-empty string" },
        { "{\"trigger\":\"t\",\"action\":[]}", "action must be a non-empty string" },
        { "{\"trigger\":\"p/t\",\"action\":\"a\"}", "triggers are not in packages" },
        { "{\"trigger\":\"bad name!\",\"action\":\"a\"}", "trigger name" },
        { "{\"trigger\":\"t\",\"action\":\"/x\"}", "action name" },
        { "{\"trigger\":\"t\",\"action\":\"a\",\"status\":\"on\"}", "status must be" },
        { "{\"trigger\":\"t\",\"action\":\"a\",\"status\":true}", "status must be" },
        { "{\"trigger\":\"t\",\"action\":\"a\",\"publish\":1}", "publish" },
        { "{\"trigger\":\"t\",\"action\":\"a\",\"annotations\":1}", "annotations" },
    };
    for (size_t i = 0; i < sizeof rbad / sizeof rbad[0]; i++) {
        err[0] = '\0';
        e = J(rbad[i].body);
        CHECK_INT(reg_rule_parse(&e, "me", &Z, &p, err, sizeof err), SQ_ERR_BAD_REQUEST,
                  rbad[i].body);
        CHECK(strstr(err, rbad[i].msg) != NULL, "%s: message \"%s\" lacks \"%s\"", rbad[i].body,
              err, rbad[i].msg);
    }
    e = J("{\"status\":\"inactive\"}");
    CHECK_INT(reg_rule_status_parse(&e, &status, err, sizeof err), SQ_OK, "inactive");
    CHECK_STR(status, "inactive", "status");
    e = J("{\"status\":\"active\"}");
    CHECK_INT(reg_rule_status_parse(&e, &status, err, sizeof err), SQ_OK, "active");
    static const char *const sbad[] = { "{}", "{\"status\":\"\"}", "{\"status\":\"on\"}",
                                        "{\"status\":1}", "[]" };
    for (size_t i = 0; i < sizeof sbad / sizeof sbad[0]; i++) {
        e = J(sbad[i]);
        CHECK_INT(reg_rule_status_parse(&e, &status, err, sizeof err), SQ_ERR_BAD_REQUEST, sbad[i]);
    }
}

/* ---------------------------------------------------------------- layering and shapes */

static reg_brief g_briefs[2];
static void pack_pkg(msgpack_packer *pk, const void *p)
{
    reg_package_encode(p, g_briefs, 2, true, pk);
}
static reg_rule g_rule;
static void pack_trigger(msgpack_packer *pk, const void *t)
{
    reg_trigger_encode(t, &g_rule, 1, true, pk);
}
static void pack_rule(msgpack_packer *pk, const void *r)
{
    reg_rule_encode(r, NULL, pk);
}

static void test_shapes(void)
{
    msgpack_object out,
        a = J("[{\"key\":\"a\",\"value\":\"pkg\"},{\"key\":\"b\",\"value\":\"pkg\"}]"),
        b = J("[{\"key\":\"a\",\"value\":\"bind\"}]"),
        c = J("[{\"key\":\"c\",\"value\":\"act\"},{\"key\":\"b\",\"value\":\"act\"}]"),
        nil = { .type = MSGPACK_OBJECT_NIL };
    const msgpack_object *layers[4] = { &a, &b, &nil, &c };

    SECTION("layering");
    CHECK_INT(reg_kv_merge(layers, 4, &Z, &out), SQ_OK, "merge");
    CHECK_STR(T(&out),
              "[{\"key\":\"a\",\"value\":\"bind\"},{\"key\":\"b\",\"value\":\"act\"},{\"key\":"
              "\"c\",\"value\":\"act\"}]",
              "package < binding < action");
    CHECK(reg_kv_has(&a, "b") && !reg_kv_has(&a, "z") && !reg_kv_has(&nil, "a"), "kv_has");

    SECTION("shapes");
    reg_package p = { .namespace_ = "me",
                      .name = "b",
                      .version = "0.0.3",
                      .publish = true,
                      .parameters = b,
                      .annotations = J("[]"),
                      .binding_ns = "o",
                      .binding_name = "p",
                      .updated = 5 };
    g_briefs[0] = (reg_brief){
        .name = "x", .version = "0.0.1", .annotations = J("[]"), .parameters = J("[]")
    };
    g_briefs[1] = (reg_brief){ .name = "f",
                               .version = "0.0.2",
                               .annotations = J("[{\"key\":\"feed\",\"value\":true}]"),
                               .parameters = nil };
    out = obj_packed(&Z, pack_pkg, &p);
    CHECK_STR(T(&out),
              "{\"namespace\":\"me\",\"name\":\"b\",\"version\":\"0.0.3\",\"publish\":true,"
              "\"parameters\":[{\"key\":\"a\",\"value\":\"bind\"}],\"annotations\":[],"
              "\"binding\":{\"namespace\":\"o\",\"name\":\"p\"},\"updated\":5,"
              "\"actions\":[{\"name\":\"x\",\"version\":\"0.0.1\",\"publish\":false,"
              "\"annotations\":[],\"parameters\":[]}],"
              "\"feeds\":[{\"name\":\"f\",\"version\":\"0.0.2\",\"publish\":false,"
              "\"annotations\":[{\"key\":\"feed\",\"value\":true}],\"parameters\":[]}]}",
              "package with actions and feeds");
    p.binding_ns = p.binding_name = NULL;
    {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        reg_package_encode(&p, NULL, 0, false, &pk);
        sq_mp_unpack(sb.data, sb.size, &Z, &out);
        CHECK_STR(T(sq_mp_get(&out, "binding")), "{}", "no binding is {}");
        CHECK(sq_mp_get(&out, "actions") == NULL, "no actions without contents");
        msgpack_sbuffer_destroy(&sb);
    }
    reg_trigger t = { .namespace_ = "me",
                      .name = "t",
                      .version = "0.0.1",
                      .parameters = nil,
                      .annotations = nil,
                      .updated = 7 };
    g_rule = (reg_rule){ .namespace_ = "me",
                         .name = "r",
                         .version = "0.0.1",
                         .annotations = nil,
                         .status = "active",
                         .trigger_ns = "me",
                         .trigger_name = "t",
                         .action_path = "me/p",
                         .action_name = "a",
                         .updated = 8 };
    out = obj_packed(&Z, pack_trigger, &t);
    CHECK_STR(T(&out),
              "{\"namespace\":\"me\",\"name\":\"t\",\"version\":\"0.0.1\",\"publish\":false,"
              "\"parameters\":[],\"annotations\":[],\"limits\":{},\"updated\":7,"
              "\"rules\":{\"me/r\":{\"action\":{\"path\":\"me/"
              "p\",\"name\":\"a\"},\"status\":\"active\"}}}",
              "trigger with rules");
    out = obj_packed(&Z, pack_rule, &g_rule);
    CHECK_STR(
        T(&out),
        "{\"namespace\":\"me\",\"name\":\"r\",\"version\":\"0.0.1\",\"publish\":false,"
        "\"annotations\":[],\"status\":\"active\",\"trigger\":{\"path\":\"me\",\"name\":\"t\"},"
        "\"action\":{\"path\":\"me/p\",\"name\":\"a\"},\"updated\":8}",
        "rule");
}

int main(void)
{
    sq_log_init("registry_validate_test");
    if (sq_crypto_init() != 0)
        return 1;
    msgpack_zone_init(&Z, 1 << 16);
    test_names();
    test_action_parse();
    test_action_apply();
    test_packages();
    test_triggers_rules();
    test_shapes();
    msgpack_zone_destroy(&Z);
    return check_done();
}
