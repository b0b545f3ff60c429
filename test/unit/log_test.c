/* Unit tests of the log lines (sq/log.h): with SQ_LOG_FORMAT=json every line is one JSON
 * object (ts, level, service, instance, msg, then the fields) that a strict parser reads,
 * whatever bytes a message quotes (quotes, control bytes, bytes that are not UTF-8, a
 * message longer than a line); in text every line carries the instance id. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sq/log.h"

/* Runs fn with stderr going to a temporary file; returns what it wrote (malloc'd). */
static char *capture(void (*fn)(void))
{
    char path[] = "/tmp/sq_log_test_XXXXXX";
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    char *buf = calloc(1, 1 << 20);
    ssize_t n;

    dup2(fd, STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, (1 << 20) - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return buf;
}

static void hostile_lines(void)
{
    char longmsg[6000];
    memset(longmsg, 'x', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    sq_info("plain \"quoted\" back\\slash");
    sq_warn("control \x01\x1f\t\r\n bytes and DEL \x7f");
    sq_error("not utf-8: \xff\xfe \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 truncated \xe2\x82");
    sq_info("utf-8 kept: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    sq_info("%s", longmsg);
    sq_log_fields(SQ_LOG_INFO,
                  (sq_log_field[]){ { "request_id", "abc123" }, { "path", "/a\"b\x01" } }, 2,
                  "with fields");
    sq_debug("below the level: not written");
}

static void text_lines(void)
{
    sq_info("a text line");
    sq_log_fields(SQ_LOG_WARN, (sq_log_field[]){ { "status", "404" } }, 1, "with a field");
}

int main(void)
{
    char *out, *save = NULL;
    int lines = 0;

    SECTION("json");
    setenv("SQ_LOG_FORMAT", "json", 1);
    setenv("SQ_INSTANCE_ID", "unit-1", 1);
    unsetenv("SQ_LOG_LEVEL");
    sq_log_init("squall-logtest");
    CHECK(sq_log_json(), "SQ_LOG_FORMAT=json");
    out = capture(hostile_lines);
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t err;
        json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &err);
        lines++;
        CHECK(j != NULL && json_is_object(j), "line %d parses: %s (%s)", lines, line, err.text);
        if (j == NULL)
            continue;
        CHECK_STR(json_string_value(json_object_get(j, "service")), "logtest", "service");
        CHECK_STR(json_string_value(json_object_get(j, "instance")), "unit-1", "instance");
        CHECK(json_string_value(json_object_get(j, "ts")) != NULL &&
                  strlen(json_string_value(json_object_get(j, "ts"))) == 24,
              "ts");
        CHECK(json_string_value(json_object_get(j, "level")) != NULL, "level");
        CHECK(json_string_value(json_object_get(j, "msg")) != NULL, "msg");
        if (lines == 1)
            CHECK_STR(json_string_value(json_object_get(j, "msg")), "plain \"quoted\" back\\slash",
                      "quotes and backslashes round-trip");
        if (lines == 4)
            CHECK_STR(json_string_value(json_object_get(j, "msg")),
                      "utf-8 kept: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "UTF-8 kept");
        if (lines == 6) {
            CHECK_STR(json_string_value(json_object_get(j, "request_id")), "abc123", "field");
            CHECK_STR(json_string_value(json_object_get(j, "path")), "/a\"b\x01", "field escaped");
        }
        json_decref(j);
    }
    CHECK_INT(lines, 6, "one line per event, debug filtered");
    free(out);

    SECTION("text");
    setenv("SQ_LOG_FORMAT", "text", 1);
    sq_log_init("squall-logtest");
    CHECK(!sq_log_json(), "text");
    out = capture(text_lines);
    CHECK(strstr(out, " squall-logtest[unit-1] info: a text line\n") != NULL, "text line: %s", out);
    CHECK(strstr(out, " squall-logtest[unit-1] warning: with a field status=404\n") != NULL,
          "text fields: %s", out);
    free(out);
    sq_log_set_instance("other-2");
    out = capture(text_lines);
    CHECK(strstr(out, "squall-logtest[other-2] info:") != NULL, "instance replaced: %s", out);
    free(out);
    return check_done();
}
