/* sq_json_string_lossy() and sq_mp_to_json() with strings that are not valid UTF-8 (a log
 * line cut in the middle of a character, binary output): each invalid sequence becomes
 * U+FFFD, valid text passes unchanged, and nothing becomes null. */
#include <jansson.h>
#include <msgpack.h>

#include "check.h"
#include "sq/json.h"

#define FFFD "\xef\xbf\xbd"

static void lossy(const char *in, size_t len, const char *want, const char *what)
{
    json_t *j = sq_json_string_lossy(in, len);
    CHECK(j != NULL && json_is_string(j), "%s: not a string", what);
    if (j != NULL) {
        CHECK(json_string_length(j) == strlen(want) &&
                  memcmp(json_string_value(j), want, strlen(want)) == 0,
              "%s: got \"%s\", want \"%s\"", what, json_string_value(j), want);
        json_decref(j);
    }
}

int main(void)
{
    SECTION("lossy");
    lossy("", 0, "", "empty");
    lossy(NULL, 0, "", "NULL, empty (msgpack-c's empty string)");
    lossy("plain", 5, "plain", "ascii");
    lossy("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
          "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "valid multibyte");
    lossy("a\xff"
          "b",
          3, "a" FFFD "b", "0xff");
    lossy("\xc3\x28", 2, FFFD "(", "bad continuation");
    lossy("ab\xe2\x82", 4, "ab" FFFD FFFD, "cut at the end");
    lossy("\xc0\xaf", 2, FFFD FFFD, "overlong /");
    lossy("\xe0\x80\xaf", 3, FFFD FFFD FFFD, "overlong 3 bytes");
    lossy("\xed\xa0\x80", 3, FFFD FFFD FFFD, "surrogate");
    lossy("\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD, "past U+10FFFF");
    {
        json_t *j = sq_json_string_lossy("a\0b", 3);
        CHECK(j != NULL && json_string_length(j) == 3 &&
                  memcmp(json_string_value(j), "a\0b", 3) == 0,
              "embedded NUL kept");
        json_decref(j);
    }

    SECTION("sq_mp_to_json");
    {
        /* {"k\xffey": ["a\xffb", "plain"]} */
        static const char raw[] = "\x81"
                                  "\xa4"
                                  "k\xff"
                                  "ey"
                                  "\x92"
                                  "\xa3"
                                  "a\xff"
                                  "b"
                                  "\xa5"
                                  "plain";
        msgpack_unpacked u;
        json_t *j;
        msgpack_unpacked_init(&u);
        CHECK(msgpack_unpack_next(&u, raw, sizeof raw - 1, NULL) == MSGPACK_UNPACK_SUCCESS,
              "unpack");
        j = sq_mp_to_json(&u.data);
        CHECK(j != NULL && json_is_object(j), "a map with an invalid key is still an object");
        if (j != NULL) {
            json_t *a = json_object_get(j, "k" FFFD "ey");
            CHECK(a != NULL && json_is_array(a) && json_array_size(a) == 2, "the key with U+FFFD");
            if (a != NULL && json_array_size(a) == 2) {
                CHECK(json_is_string(json_array_get(a, 0)),
                      "a log line with 0xff is a string, not null");
                CHECK_STR(json_string_value(json_array_get(a, 0)), "a" FFFD "b", "the log line");
                CHECK_STR(json_string_value(json_array_get(a, 1)), "plain", "a valid line");
            }
            json_decref(j);
        }
        msgpack_unpacked_destroy(&u);
    }
    return check_done();
}
