/* test_sha256.c - SHA-256 against the FIPS 180-4 / NIST example vectors, streaming across block
 * boundaries, and the digest of a real dataset file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "data/sha256.h"

static void to_hex(const uint8_t digest[32], char hex[65]) {
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

static void hash_in_one_go(const char *text, char hex[65]) {
    ac_sha256 ctx;
    uint8_t digest[32];
    ac_sha256_init(&ctx);
    ac_sha256_update(&ctx, text, strlen(text));
    ac_sha256_final(&ctx, digest);
    to_hex(digest, hex);
}

static void test_empty_message(void **state) {
    (void)state;
    char hex[65];
    hash_in_one_go("", hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_abc(void **state) {
    (void)state;
    char hex[65];
    hash_in_one_go("abc", hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* 56 bytes: the padding's 1 bit fits, the length does not, so a second block is needed. */
static void test_448_bit_message_needs_a_second_padding_block(void **state) {
    (void)state;
    char hex[65];
    hash_in_one_go("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_million_a_fed_in_odd_chunks(void **state) {
    (void)state;
    static const char *const expected =
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    char a[1000];
    memset(a, 'a', sizeof a);
    static const size_t chunks[] = {1, 63, 64, 65, 127, 3, 997, 55, 56, 57};
    ac_sha256 ctx;
    ac_sha256_init(&ctx);
    size_t done = 0;
    for (int i = 0; done < 1000000; i++) {
        size_t n = chunks[i % (sizeof chunks / sizeof chunks[0])];
        if (n > 1000000 - done) n = 1000000 - done;
        ac_sha256_update(&ctx, a, n);
        done += n;
    }
    uint8_t digest[32];
    char hex[65];
    ac_sha256_final(&ctx, digest);
    to_hex(digest, hex);
    assert_string_equal(hex, expected);

    ac_sha256_init(&ctx); /* and in whole 1000-byte pieces */
    for (int i = 0; i < 1000; i++) ac_sha256_update(&ctx, a, sizeof a);
    ac_sha256_final(&ctx, digest);
    to_hex(digest, hex);
    assert_string_equal(hex, expected);
}

/* Every length from 0 to 200 bytes, one byte at a time against all at once. */
static void test_byte_by_byte_equals_all_at_once(void **state) {
    (void)state;
    uint8_t data[200];
    for (int i = 0; i < 200; i++) data[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof data; n++) {
        ac_sha256 one, many;
        uint8_t d1[32], d2[32];
        ac_sha256_init(&one);
        ac_sha256_update(&one, data, n);
        ac_sha256_final(&one, d1);
        ac_sha256_init(&many);
        for (size_t i = 0; i < n; i++) ac_sha256_update(&many, data + i, 1);
        ac_sha256_final(&many, d2);
        assert_memory_equal(d1, d2, 32);
    }
}

static void test_file_digest_of_the_real_exchange_rate_csv(void **state) {
    (void)state;
    const char *path = "/work/shared/data/exchange_rate.csv";
    if (access(path, R_OK) != 0) skip();
    char hex[65];
    ac_error err;
    assert_int_equal(ac_sha256_file(path, hex, &err), AC_OK);
    assert_string_equal(hex, "48b4d9d3d508f5104162e85b9a6042e3557fde11aa9f2944eba8c0d0efc89842");
}

static void test_file_digest_of_a_written_file(void **state) {
    (void)state;
    char path[] = "/tmp/attncast_sha256_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    close(fd);
    char hex[65];
    ac_error err;
    assert_int_equal(ac_sha256_file(path, hex, &err), AC_OK);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    unlink(path);
}

static void test_missing_file_names_path_and_reason(void **state) {
    (void)state;
    char hex[65];
    ac_error err;
    assert_int_equal(ac_sha256_file("/nonexistent/x.csv", hex, &err), AC_ERR_IO);
    char expected[256];
    snprintf(expected, sizeof expected, "/nonexistent/x.csv: cannot open: %s", strerror(ENOENT));
    assert_string_equal(err.msg, expected);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_message),
        cmocka_unit_test(test_abc),
        cmocka_unit_test(test_448_bit_message_needs_a_second_padding_block),
        cmocka_unit_test(test_million_a_fed_in_odd_chunks),
        cmocka_unit_test(test_byte_by_byte_equals_all_at_once),
        cmocka_unit_test(test_file_digest_of_the_real_exchange_rate_csv),
        cmocka_unit_test(test_file_digest_of_a_written_file),
        cmocka_unit_test(test_missing_file_names_path_and_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
