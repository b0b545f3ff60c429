/* Shared by the libFuzzer harnesses of test/fuzz: the entry point every harness defines
 * and the check that turns a broken property into a crash the fuzzer reports. The same
 * sources build two ways: with clang and -fsanitize=fuzzer (SQ_FUZZ=ON, libFuzzer's main)
 * and with the normal build's compiler and replay.c's main, which replays the corpus and
 * the regression files as a unit test. */
#ifndef SQ_FUZZ_H
#define SQ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property of the code under test that must hold for every input: abort when it does not,
 * so libFuzzer keeps the input as a crash (assert() would vanish under NDEBUG). */
#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
