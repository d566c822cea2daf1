/*
 * test_input.c - input.h, the block reader: plain and gzip files give the
 * same bytes (one member or several, larger than the read-ahead ring), empty
 * files, standard input, truncated and corrupt gzip (SF_EIO "unexpected end
 * of file" after the blocks before it), missing files and directories,
 * progress, closing before the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/input.h"
#include "support.h"

/* n bytes of varied text, malloc'd. */
static char *make_text(size_t n)
{
    char *t = malloc(n + 64);
    assert_non_null(t);
    size_t at = 0;
    for (unsigned i = 0; at < n; i++)
        at += (size_t)snprintf(t + at, 64, "%u,line %u,%u\n", i, i * 2654435761u, i % 977);
    return t;
}

typedef struct read_result {
    char *data;
    size_t len;
    size_t blocks;
    int rc;
    sf_error err;
    bool gzip;
    uint64_t done, total;
} read_result;

/* Read the whole of path into *out (rc is the first failure). */
static void read_all(const char *path, read_result *out)
{
    memset(out, 0, sizeof *out);
    sf_input *in = NULL;
    out->rc = sf_input_open(path, &in, &out->err);
    if (out->rc < 0)
        return;
    out->gzip = sf_input_is_gzip(in);
    size_t cap = 1 << 16;
    out->data = malloc(cap);
    for (;;) {
        const char *block;
        size_t n;
        out->rc = sf_input_read(in, &block, &n, &out->err);
        if (out->rc < 0 || n == 0)
            break;
        while (out->len + n > cap)
            out->data = realloc(out->data, cap *= 2);
        assert_non_null(out->data);
        memcpy(out->data + out->len, block, n);
        out->len += n;
        out->blocks++;
    }
    sf_input_progress(in, &out->done, &out->total);
    sf_input_close(in);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void assert_reads_back(const char *path, const char *text, size_t len, bool gzip)
{
    read_result r;
    read_all(path, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.gzip, gzip);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.data, text, len);
    assert_int_equal(r.total, file_size(path));
    assert_int_equal(r.done, r.total);
    free(r.data);
}

static void test_plain_and_gzip_same_bytes(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], plain[UT_PATH_MAX], gz[UT_PATH_MAX], multi[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(plain, dir, "a.txt");
    ut_join(gz, dir, "a.txt.gz");
    ut_join(multi, dir, "m.gz");
    size_t len = 300000;
    char *text = make_text(len);
    ut_write_file(plain, text, len);
    ut_write_gzip(gz, text, len, 1);
    ut_write_gzip(multi, text, len, 5);
    assert_reads_back(plain, text, len, false);
    assert_reads_back(gz, text, len, true);
    assert_reads_back(multi, text, len, true);
    free(text);
    ut_tmpdir_remove(dir);
}

static void test_larger_than_the_ring(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], plain[UT_PATH_MAX], gz[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(plain, dir, "big.txt");
    ut_join(gz, dir, "big.gz");
    size_t len = 6 * 1024 * 1024 + 12345; /* more than 4 blocks of 1 MiB */
    char *text = make_text(len);
    ut_write_file(plain, text, len);
    ut_write_gzip(gz, text, len, 3);
    assert_reads_back(plain, text, len, false);
    assert_reads_back(gz, text, len, true);
    free(text);
    ut_tmpdir_remove(dir);
}

static void test_empty_files(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], plain[UT_PATH_MAX], gz[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(plain, dir, "empty");
    ut_join(gz, dir, "empty.gz");
    ut_write_file(plain, "", 0);
    ut_write_gzip(gz, "", 0, 1);
    read_result r;
    read_all(plain, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.len, 0);
    assert_int_equal(r.blocks, 0);
    free(r.data);
    read_all(gz, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.len, 0);
    assert_true(r.gzip);
    free(r.data);
    ut_tmpdir_remove(dir);
}

static void test_truncated_gzip(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], gz[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(gz, dir, "t.gz");
    /* Exactly three 1 MiB blocks: a cut trailer then once read as a clean end. */
    size_t len = 3 * 1024 * 1024;
    char *text = make_text(len);
    ut_write_gzip(gz, text, len, 1);
    uint64_t size = file_size(gz);
    const uint64_t cuts[] = {size - 1, size - 8, size / 2, 100, 11, 2};
    char want[UT_PATH_MAX + 64];
    snprintf(want, sizeof want, "%s: unexpected end of file", gz);
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        assert_int_equal(truncate(gz, (off_t)cuts[i]), 0);
        read_result r;
        read_all(gz, &r);
        assert_int_equal(r.rc, SF_EIO);
        assert_int_equal(r.err.code, SF_EIO);
        assert_string_equal(r.err.msg, want);
        assert_true(r.len <= len); /* a cut trailer loses no data, but is still an error */
        assert_memory_equal(r.data, text, r.len); /* what came before the cut is right */
        if (cuts[i] >= size / 2)
            assert_true(r.len > 0);
        free(r.data);
    }
    free(text);
    ut_tmpdir_remove(dir);
}

static void test_error_repeats(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], gz[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(gz, dir, "t.gz");
    ut_write_gzip(gz, "hello, world\n", 13, 1);
    assert_int_equal(truncate(gz, 20), 0);
    sf_input *in = NULL;
    sf_error err;
    assert_int_equal(sf_input_open(gz, &in, &err), 0);
    const char *block;
    size_t n = 99;
    int rc;
    while ((rc = sf_input_read(in, &block, &n, &err)) == 0 && n > 0)
        ;
    assert_int_equal(rc, SF_EIO);
    assert_int_equal(n, 0);
    assert_int_equal(sf_input_read(in, &block, &n, &err), SF_EIO);
    assert_int_equal(n, 0);
    sf_input_close(in);
    ut_tmpdir_remove(dir);
}

static void test_corrupt_gzip(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], gz[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(gz, dir, "c.gz");
    size_t len = 200000;
    char *text = make_text(len);
    ut_write_gzip(gz, text, len, 1);
    /* Spoil the compressed data after the header. */
    int fd = open(gz, O_WRONLY);
    assert_true(fd >= 0);
    char junk[64];
    memset(junk, 0xFF, sizeof junk);
    assert_int_equal(pwrite(fd, junk, sizeof junk, 40), (ssize_t)sizeof junk);
    close(fd);
    read_result r;
    read_all(gz, &r);
    assert_int_equal(r.rc, SF_EIO);
    assert_int_equal(strncmp(r.err.msg, gz, strlen(gz)), 0);
    assert_true(r.len < len);
    free(r.data);
    free(text);
    ut_tmpdir_remove(dir);
}

static void test_missing_and_directory(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(path, dir, "nope.csv");
    sf_input *in = NULL;
    sf_error err;
    assert_int_equal(sf_input_open(path, &in, &err), SF_ENOENT);
    char want[UT_PATH_MAX + 64];
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    assert_string_equal(err.msg, want);
    assert_int_equal(sf_input_open(dir, &in, &err), SF_EIO);
    snprintf(want, sizeof want, "%s: is a directory", dir);
    assert_string_equal(err.msg, want);
    ut_tmpdir_remove(dir);
}

static void test_standard_input(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], gz[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(gz, dir, "in.gz");
    size_t len = 100000;
    char *text = make_text(len);
    ut_write_gzip(gz, text, len, 2);
    int saved = dup(STDIN_FILENO);
    int fd = open(gz, O_RDONLY);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
    close(fd);
    read_result r;
    read_all("-", &r);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.data, text, len);
    free(r.data);
    free(text);
    ut_tmpdir_remove(dir);
}

static void test_close_before_the_end(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], gz[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(gz, dir, "big.gz");
    size_t len = 8 * 1024 * 1024;
    char *text = make_text(len);
    ut_write_gzip(gz, text, len, 1);
    for (int reads = 0; reads < 3; reads++) {
        sf_input *in = NULL;
        sf_error err;
        assert_int_equal(sf_input_open(gz, &in, &err), 0);
        size_t got = 0;
        for (int i = 0; i < reads; i++) {
            const char *block;
            size_t n;
            assert_int_equal(sf_input_read(in, &block, &n, &err), 0);
            assert_true(n > 0);
            assert_memory_equal(block, text + got, n);
            got += n;
        }
        sf_input_close(in); /* the reader thread may be waiting on a full ring */
    }
    sf_input_close(NULL);
    free(text);
    ut_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_gzip_same_bytes),
        cmocka_unit_test(test_larger_than_the_ring),
        cmocka_unit_test(test_empty_files),
        cmocka_unit_test(test_truncated_gzip),
        cmocka_unit_test(test_error_repeats),
        cmocka_unit_test(test_corrupt_gzip),
        cmocka_unit_test(test_missing_and_directory),
        cmocka_unit_test(test_standard_input),
        cmocka_unit_test(test_close_before_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
