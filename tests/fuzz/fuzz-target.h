/*
 * The two entry points libFuzzer calls in every target (declared here so that the warning
 * flags' -Wmissing-prototypes holds for the harnesses too).
 */
#ifndef XENDM_FUZZ_TARGET_H
#define XENDM_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A check failed: prints the reason and aborts, so libFuzzer keeps the input (fuzz-fail.c). */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
