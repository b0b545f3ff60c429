/* Fuzzes JSON -> msgpack -> JSON (shared/src/json.c), the path of every request body
 * through the gateway and of every result through the invoker. Properties: whatever JSON
 * text sq_json_text_to_mp accepts becomes msgpack that sq_mp_check and the decoders accept
 * (the depth limit holds); that msgpack turns back into JSON text; and converting that text
 * again gives the same msgpack bytes (no value changes on the way through the platform). */
#include <string.h>

#include "fuzz.h"
#include "sq/json.h"
#include "sq/mp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *txt = malloc(size ? size : 1);
    msgpack_sbuffer sb1, sb2;
    msgpack_packer pk1, pk2;
    char err[256] = "";
    sq_status st;

    if (txt == NULL)
        return 0;
    memcpy(txt, data, size);
    msgpack_sbuffer_init(&sb1);
    msgpack_packer_init(&pk1, &sb1, msgpack_sbuffer_write);
    st = sq_json_text_to_mp(txt, size, &pk1, err, sizeof err);
    if (st != SQ_OK) {
        FZ_CHECK(st == SQ_ERR_BAD_REQUEST && err[0] != '\0');
    } else {
        msgpack_zone z;
        msgpack_object o;
        char *back;
        size_t blen = 0;

        FZ_CHECK(sq_mp_check(sb1.data, sb1.size) == SQ_OK);
        msgpack_zone_init(&z, 1024);
        FZ_CHECK(sq_mp_unpack(sb1.data, sb1.size, &z, &o) == SQ_OK);
        back = sq_mp_to_json_text(&o, &blen);
        FZ_CHECK(back != NULL);
        msgpack_sbuffer_init(&sb2);
        msgpack_packer_init(&pk2, &sb2, msgpack_sbuffer_write);
        st = sq_json_text_to_mp(back, blen, &pk2, err, sizeof err);
        if (st != SQ_OK)
            fprintf(stderr, "JSON from msgpack does not convert back: %s\n", err);
        FZ_CHECK(st == SQ_OK);
        if (sb1.size != sb2.size || memcmp(sb1.data, sb2.data, sb1.size) != 0)
            fprintf(stderr, "value changed through msgpack -> JSON: %s\n", back);
        FZ_CHECK(sb1.size == sb2.size && memcmp(sb1.data, sb2.data, sb1.size) == 0);
        msgpack_sbuffer_destroy(&sb2);
        free(back);
        msgpack_zone_destroy(&z);
    }
    msgpack_sbuffer_destroy(&sb1);
    free(txt);
    return 0;
}
