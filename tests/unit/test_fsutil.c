/*
 * test_fsutil.c - sf_mkdirs (mkdir -p for data folders), the folder syncs,
 * and their errors: SF_E* codes with the folder named, errno kept.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "core/fsutil.h"
#include "support.h"

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_makes_parents(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX + 64];
    ut_tmpdir(dir);
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    assert_int_equal(sf_mkdirs(path, NULL), 0);
    assert_true(is_dir(path));
    /* There already, with a trailing slash or a doubled one: still fine. */
    assert_int_equal(sf_mkdirs(path, NULL), 0);
    snprintf(path, sizeof path, "%s/a//b/c/", dir);
    assert_int_equal(sf_mkdirs(path, NULL), 0);
    ut_tmpdir_remove(dir);
}

static void test_errors(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX + 64];
    ut_tmpdir(dir);
    /* A file where a folder should be, at the end or on the way. */
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    sf_error err = {0};
    errno = 0;
    assert_int_equal(sf_mkdirs(path, &err), SF_EIO);
    assert_int_equal(errno, ENOTDIR);
    assert_non_null(strstr(err.msg, "/file: cannot make the folder: Not a directory"));
    snprintf(path, sizeof path, "%s/file/below", dir);
    errno = 0;
    assert_int_equal(sf_mkdirs(path, &err), SF_EIO);
    assert_int_equal(errno, ENOTDIR);
    assert_non_null(strstr(err.msg, "/file/below: cannot make the folder"));
    errno = 0;
    assert_int_equal(sf_mkdirs("", &err), SF_EINVAL);
    assert_int_equal(errno, ENOENT);
    assert_string_equal(err.msg, "an empty folder name");
    char long_path[5000];
    memset(long_path, 'x', sizeof long_path - 1);
    long_path[sizeof long_path - 1] = '\0';
    errno = 0;
    assert_int_equal(sf_mkdirs(long_path, NULL), SF_EINVAL);
    assert_int_equal(errno, ENAMETOOLONG);
    ut_tmpdir_remove(dir);
}

static void test_syncs(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX + 64];
    ut_tmpdir(dir);
    sf_error err = {0};
    assert_int_equal(sf_fsync_dir(dir, &err), 0);
    snprintf(path, sizeof path, "%s/not-yet", dir);
    assert_int_equal(sf_fsync_parent(path, &err), 0);            /* its folder is there */
    assert_int_equal(sf_fsync_parent("relative-name", &err), 0); /* ".", the working folder */
    errno = 0;
    assert_int_equal(sf_fsync_dir(path, &err), SF_EIO);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err.msg, "/not-yet: cannot open the folder to sync it"));
    snprintf(path, sizeof path, "%s/gone/x", dir);
    assert_int_equal(sf_fsync_parent(path, &err), SF_EIO);
    assert_non_null(strstr(err.msg, "/gone: cannot open the folder"));
    ut_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_makes_parents),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_syncs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
