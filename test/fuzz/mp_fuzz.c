/* Fuzzes the msgpack side of shared/: sq_mp_check (the hostile-buffer gate every decoder
 * passes first), sq_mp_unpack, the table-driven sq_mp_decode_map with a table of every field
 * type, and msgpack -> JSON (sq_mp_to_json_text, what the gateway answers with).
 * Properties: the check agrees with msgpack-c (what it accepts unpacks whole, with no
 * trailing byte); what unpacks re-packs into a buffer the check accepts; the JSON made from
 * it is valid JSON that converts back to msgpack within the depth limit. */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "sq/json.h"
#include "sq/mp.h"
#define REC_TOP_REQUIRED false /* every field optional: more inputs decode */
#include "../unit/mp_fields.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    sq_status chk, st;
    msgpack_zone z;
    msgpack_object o;
    size_t off = 0;
    msgpack_unpack_return r;

    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    chk = sq_mp_check(buf, size);
    FZ_CHECK(chk == SQ_OK || chk == SQ_ERR_DECODE);

    msgpack_zone_init(&z, 1024);
    if (chk == SQ_OK) {
        /* what the check lets through, msgpack-c unpacks completely */
        r = msgpack_unpack(buf, size, &off, &z, &o);
        FZ_CHECK(r == MSGPACK_UNPACK_SUCCESS && off == size);
    }
    msgpack_zone_destroy(&z);

    msgpack_zone_init(&z, 1024);
    st = sq_mp_unpack(buf, size, &z, &o);
    FZ_CHECK(st == (chk == SQ_OK ? SQ_OK : SQ_ERR_DECODE) || st == SQ_ERR_NOMEM);
    if (st == SQ_OK) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        rec e;
        char err[256] = "";
        char *json;
        size_t jlen = 0;

        /* re-packing is not byte-identical (msgpack-c picks the shortest forms) but valid */
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_object(&pk, o);
        FZ_CHECK(sq_mp_check(sb.data, sb.size) == SQ_OK);
        msgpack_sbuffer_destroy(&sb);

        memset(&e, 0, sizeof e);
        st = sq_mp_decode_map(&o, SQ_MP_FIELDS(rec_fields), &z, &e, err, sizeof err);
        FZ_CHECK(st == SQ_OK || ((st == SQ_ERR_DECODE || st == SQ_ERR_NOMEM) && err[0] != '\0'));
        if (st == SQ_OK && e.strs != NULL) {
            FZ_CHECK(e.strs[e.nstrs] == NULL);
            for (size_t i = 0; i < e.nstrs; i++)
                FZ_CHECK(strlen(e.strs[i]) < 1u << 31);
        }
        if (st == SQ_OK && e.nest.x != NULL)
            FZ_CHECK(strlen(e.nest.x) < 1u << 31);

        json = sq_mp_to_json_text(&o, &jlen);
        FZ_CHECK(json != NULL); /* no allocation fails at these sizes */
        FZ_CHECK(strlen(json) == jlen);
        {
            /* the direct writer gives jansson's bytes exactly */
            size_t rlen = 0;
            char *ref = sq_mp_to_json_text_jansson(&o, &rlen);
            FZ_CHECK(ref != NULL);
            if (rlen != jlen || memcmp(ref, json, jlen) != 0) {
                fprintf(stderr, "direct JSON differs from jansson's:\n%s\n%s\n", json, ref);
                FZ_CHECK(0);
            }
            free(ref);
        }
        {
            msgpack_sbuffer sb2;
            msgpack_packer pk2;
            msgpack_sbuffer_init(&sb2);
            msgpack_packer_init(&pk2, &sb2, msgpack_sbuffer_write);
            st = sq_json_text_to_mp(json, jlen, &pk2, err, sizeof err);
            /* jansson writes a key holding U+0000 but does not read one back: valid JSON
             * all the same, and no other parser minds */
            if (st != SQ_OK && strstr(err, "NUL byte in object key") == NULL) {
                fprintf(stderr, "JSON made from msgpack does not convert back: %s\n", err);
                FZ_CHECK(st == SQ_OK);
            }
            if (st == SQ_OK)
                FZ_CHECK(sq_mp_check(sb2.data, sb2.size) == SQ_OK);
            msgpack_sbuffer_destroy(&sb2);
        }
        free(json);
    }
    msgpack_zone_destroy(&z);
    free(buf);
    return 0;
}
