/* checkpoint_seal.c - the checksum in a checkpoint's HDF5 user block.
 *
 * HDF5 cannot be trusted with a damaged file: a few overwritten bytes in the global heap of
 * variable-length strings make H5Aread segfault. So checkpoint_write.c creates every file with a
 * user block of CK_USERBLOCK bytes (HDF5, h5py and h5dump skip it) and, once the file is whole,
 * writes one line into it:
 *
 *     attncast-checkpoint-seal sha256 <64 hex digits> <bytes after the user block>\n
 *
 * followed by zeros. checkpoint_read.c checks that line before HDF5 sees the file, and refuses a
 * file whose length or digest disagrees. A file without the line (written by another program,
 * or by attncast before the seal existed, or edited so that the line was cleared) is not sealed
 * and goes through the reader's own checks as before.
 */
#include "checkpoint_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/sha256.h"

#define SEAL_MAGIC "attncast-checkpoint-seal sha256 "
#define READ_CHUNK (1 << 16)

static void digest_hex(const uint8_t digest[32], char hex[65]) {
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

void ac_ck_seal_image(unsigned char *image, size_t size) {
    ac_sha256 ctx;
    ac_sha256_init(&ctx);
    ac_sha256_update(&ctx, image + CK_USERBLOCK, size - CK_USERBLOCK);
    uint8_t digest[32];
    ac_sha256_final(&ctx, digest);
    char hex[65];
    digest_hex(digest, hex);
    memset(image, 0, CK_USERBLOCK);
    snprintf((char *)image, CK_USERBLOCK, "%s%s %zu\n", SEAL_MAGIC, hex,
             size - (size_t)CK_USERBLOCK);
}

/* The digest and length a seal line records; false when the line after the magic is garbled. */
static bool parse_seal(const char *block, char hex[65], uint64_t *length) {
    const char *p = block + strlen(SEAL_MAGIC);
    for (int i = 0; i < 64; i++) {
        char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        hex[i] = c;
    }
    hex[64] = '\0';
    if (p[64] != ' ' || p[65] < '0' || p[65] > '9') return false;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(p + 65, &end, 10);
    if (errno || *end != '\n') return false;
    *length = n;
    return true;
}

/* SHA-256 of what fd holds from its current offset to its end, as hex. */
static bool hash_rest(int fd, char hex[65]) {
    unsigned char *buf = malloc(READ_CHUNK);
    if (!buf) return false;
    ac_sha256 ctx;
    ac_sha256_init(&ctx);
    ssize_t got;
    while ((got = read(fd, buf, READ_CHUNK)) != 0) {
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            free(buf);
            return false;
        }
        ac_sha256_update(&ctx, buf, (size_t)got);
    }
    free(buf);
    uint8_t digest[32];
    ac_sha256_final(&ctx, digest);
    digest_hex(digest, hex);
    return true;
}

static ac_status mismatch(const char *path, ac_error *err) {
    return ac_error_set(err, AC_ERR_FORMAT,
                        "%s: checksum mismatch: the file is damaged (or was changed after attncast "
                        "wrote it)",
                        path);
}

static bool read_block(int fd, char *block) {
    size_t done = 0;
    while (done < CK_USERBLOCK) {
        ssize_t n = read(fd, block + done, CK_USERBLOCK - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += (size_t)n;
    }
    return true;
}

/* Whether a file shorter than the user block starts like a seal line: an attncast checkpoint
 * cut short, rather than some other small file. */
static bool truncated_seal(int fd, off_t size) {
    char head[sizeof SEAL_MAGIC];
    size_t want = (size_t)size < strlen(SEAL_MAGIC) ? (size_t)size : strlen(SEAL_MAGIC);
    ssize_t got = pread(fd, head, want, 0);
    return want >= 8 && got == (ssize_t)want && memcmp(head, SEAL_MAGIC, want) == 0;
}

static ac_status check_open_file(int fd, const char *path, bool *sealed, ac_error *err) {
    char block[CK_USERBLOCK + 1];
    block[CK_USERBLOCK] = '\0';
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size < CK_USERBLOCK && truncated_seal(fd, st.st_size))
        return ac_error_set(err, AC_ERR_FORMAT,
                            "%s: cannot be read as HDF5 (truncated file): %lld bytes, less than "
                            "the %d-byte user block attncast writes first",
                            path, (long long)st.st_size, CK_USERBLOCK);
    if (fstat(fd, &st) != 0 || st.st_size < CK_USERBLOCK || !read_block(fd, block) ||
        strncmp(block, SEAL_MAGIC, strlen(SEAL_MAGIC)) != 0)
        return AC_OK; /* not sealed: the reader's own checks decide */
    *sealed = true;
    char want[65], got[65];
    uint64_t length = 0;
    if (!parse_seal(block, want, &length))
        return ac_error_set(err, AC_ERR_FORMAT,
                            "%s: checksum mismatch: the checksum line in the HDF5 user block is "
                            "garbled (the file is damaged)",
                            path);
    uint64_t have = (uint64_t)st.st_size - CK_USERBLOCK;
    if (have < length)
        return ac_error_set(err, AC_ERR_FORMAT,
                            "%s: cannot be read as HDF5 (truncated or damaged file): %" PRIu64
                            " bytes after the user block, attncast wrote %" PRIu64,
                            path, have, length);
    if (have > length) return mismatch(path, err);
    if (!hash_rest(fd, got))
        return ac_error_set(err, AC_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    return strcmp(want, got) == 0 ? AC_OK : mismatch(path, err);
}

ac_status ac_ck_check_seal(const char *path, bool *sealed, ac_error *err) {
    *sealed = false;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return ac_error_set(err, AC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    ac_status status = check_open_file(fd, path, sealed, err);
    close(fd);
    return status;
}
