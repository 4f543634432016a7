/* sha256.h - SHA-256 (FIPS 180-4) for verifying downloaded and mirrored datasets. */
#ifndef ATTNCAST_SHA256_H
#define ATTNCAST_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "attncast/error.h"

typedef struct ac_sha256 {
    uint32_t state[8];
    uint64_t length; /* bytes hashed so far */
    uint8_t block[64];
    size_t used; /* bytes in block */
} ac_sha256;

void ac_sha256_init(ac_sha256 *ctx);
void ac_sha256_update(ac_sha256 *ctx, const void *data, size_t n);
void ac_sha256_final(ac_sha256 *ctx, uint8_t digest[32]);

/* Lower-case hex digest of a whole file into hex (65 bytes with the NUL). */
ac_status ac_sha256_file(const char *path, char hex[65], ac_error *err);

#endif
