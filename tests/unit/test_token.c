/*
 * test_token.c - token.h: a secret made once and kept, tokens that verify,
 * and every way one must not: expired, forged, another secret's, alg none,
 * no expiry, a subject that is not a customer id, garbage.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jwt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gateway/token.h"
#include "support.h"

static unsigned char secret[SF_TOKEN_SECRET_LEN];

static void test_secret_is_kept(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX];
    ut_tmpdir(dir);
    sf_error err = {0};
    unsigned char a[SF_TOKEN_SECRET_LEN], b[SF_TOKEN_SECRET_LEN];
    assert_int_equal(sf_token_secret(dir, a, &err), 0);
    assert_int_equal(sf_token_secret(dir, b, &err), 0);
    assert_memory_equal(a, b, sizeof a);
    ut_join(path, dir, "token.secret");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    ut_write_file(path, "not hex\n", 8);
    assert_int_equal(sf_token_secret(dir, a, &err), SF_ECORRUPT);
    assert_non_null(strstr(err.msg, "token.secret"));
    ut_tmpdir_remove(dir);
}

static void test_round_trip(void **state)
{
    (void)state;
    char *t = NULL;
    sf_error err = {0};
    assert_int_equal(sf_token_issue(secret, 17850, 3600, &t, &err), 0);
    int32_t customer = 0;
    assert_int_equal(sf_token_verify(secret, t, (int64_t)time(NULL), &customer, &err), 0);
    assert_int_equal(customer, 17850);
    /* Expired an hour later. */
    assert_int_equal(sf_token_verify(secret, t, (int64_t)time(NULL) + 3601, &customer, &err),
                     SF_EPERM);
    assert_non_null(strstr(err.msg, "expired"));
    /* Forged: one character of the signature changed. */
    size_t n = strlen(t);
    t[n - 2] = t[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(sf_token_verify(secret, t, (int64_t)time(NULL), &customer, &err), SF_EPERM);
    free(t);
    /* Another secret's token. */
    unsigned char other[SF_TOKEN_SECRET_LEN] = {1};
    assert_int_equal(sf_token_issue(other, 17850, 3600, &t, &err), 0);
    assert_int_equal(sf_token_verify(secret, t, (int64_t)time(NULL), &customer, &err), SF_EPERM);
    free(t);
}

/* A token made with libjwt directly, to say what sf_token_issue never would. */
static char *hand_made(jwt_alg_t alg, const char *sub, long exp)
{
    jwt_t *jwt;
    assert_int_equal(jwt_new(&jwt), 0);
    if (sub)
        jwt_add_grant(jwt, "sub", sub);
    if (exp)
        jwt_add_grant_int(jwt, "exp", exp);
    jwt_set_alg(jwt, alg, alg == JWT_ALG_NONE ? NULL : secret,
                alg == JWT_ALG_NONE ? 0 : (int)sizeof secret);
    char *t = jwt_encode_str(jwt);
    jwt_free(jwt);
    assert_non_null(t);
    return t;
}

static void test_refused(void **state)
{
    (void)state;
    long later = (long)time(NULL) + 3600;
    struct {
        jwt_alg_t alg;
        const char *sub;
        long exp;
    } cases[] = {
        {JWT_ALG_NONE, "17850", later}, {JWT_ALG_HS512, "17850", later},
        {JWT_ALG_HS256, "17850", 0},    {JWT_ALG_HS256, NULL, later},
        {JWT_ALG_HS256, "-5", later},   {JWT_ALG_HS256, "17850x", later},
        {JWT_ALG_HS256, "", later},     {JWT_ALG_HS256, "12345678901", later},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = hand_made(cases[i].alg, cases[i].sub, cases[i].exp);
        int32_t customer = 0;
        sf_error err = {0};
        assert_int_equal(sf_token_verify(secret, t, (int64_t)time(NULL), &customer, &err),
                         SF_EPERM);
        assert_true(err.msg[0] != '\0');
        free(t);
    }
    const char *garbage[] = {"", "x", "a.b.c", "....", "sfk_123"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        int32_t customer;
        sf_error err = {0};
        assert_int_equal(sf_token_verify(secret, garbage[i], 0, &customer, &err), SF_EPERM);
    }
}

int main(void)
{
    for (size_t i = 0; i < sizeof secret; i++)
        secret[i] = (unsigned char)(i * 7 + 3);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_is_kept),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
