/*
 * token.c - customer tokens over libjwt (see token.h).
 *
 * libjwt checks the signature; what it does not check is done here: that
 * the algorithm is HS256 and nothing else (a token may not choose "none"),
 * that `exp` is present and in the future, and that `sub` is a customer id.
 */
#include "gateway/token.h"

#include <errno.h>
#include <fcntl.h>
#include <jwt.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"

static int parse_hex(const char *text, size_t len, unsigned char *out, size_t n)
{
    if (len < 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        if (sscanf(text + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int read_secret(const char *path, unsigned char *secret, sf_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sf_error_set(err, errno == ENOENT ? SF_ENOENT : SF_EIO, "%s: %s", path,
                            strerror(errno));
    char text[2 * SF_TOKEN_SECRET_LEN + 2] = {0};
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    if (parse_hex(text, n, secret, SF_TOKEN_SECRET_LEN) < 0)
        return sf_error_set(err, SF_ECORRUPT,
                            "%s: not a token secret (64 hex digits); remove it to make a new one",
                            path);
    return 0;
}

/* Write a new secret to a temp file, then link it into place: link fails
 * if another process got there first, and then its secret is the one. */
static int create_secret(const char *dir, const char *path, sf_error *err)
{
    unsigned char raw[SF_TOKEN_SECRET_LEN];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return sf_error_set(err, SF_EIO, "no random bytes from OpenSSL");
    char text[2 * SF_TOKEN_SECRET_LEN + 2];
    for (int i = 0; i < SF_TOKEN_SECRET_LEN; i++)
        snprintf(text + 2 * i, 3, "%02x", raw[i]);
    text[2 * SF_TOKEN_SECRET_LEN] = '\n';
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s/.token.secret.%ld", dir, (long)getpid()) >= (int)sizeof tmp)
        return sf_error_set(err, SF_EUSAGE, "%s: path too long", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return sf_error_set(err, SF_EIO, "%s: %s", tmp, strerror(errno));
    size_t len = 2 * SF_TOKEN_SECRET_LEN + 1;
    int ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    int write_errno = errno;
    close(fd);
    int linked = ok ? link(tmp, path) : -1;
    int link_errno = errno;
    unlink(tmp);
    if (!ok)
        return sf_error_set(err, SF_EIO, "%s: %s", tmp, strerror(write_errno));
    if (linked < 0 && link_errno != EEXIST)
        return sf_error_set(err, SF_EIO, "%s: %s", path, strerror(link_errno));
    /* Tokens signed with a secret that a crash could take back would all
     * stop working: the secret is made only once its name is durable. */
    return sf_fsync_dir(dir, err);
}

int sf_token_secret(const char *dir, unsigned char secret[SF_TOKEN_SECRET_LEN], sf_error *err)
{
    char path[4200];
    if (snprintf(path, sizeof path, "%s/token.secret", dir) >= (int)sizeof path)
        return sf_error_set(err, SF_EUSAGE, "%s: path too long", dir);
    int rc = read_secret(path, secret, err);
    if (rc != SF_ENOENT)
        return rc;
    if ((rc = create_secret(dir, path, err)) < 0)
        return rc;
    return read_secret(path, secret, err);
}

int sf_token_issue(const unsigned char secret[SF_TOKEN_SECRET_LEN], int32_t customer, int64_t ttl_s,
                   char **out, sf_error *err)
{
    jwt_t *jwt = NULL;
    char sub[16];
    snprintf(sub, sizeof sub, "%ld", (long)customer);
    long now = (long)time(NULL);
    int rc = jwt_new(&jwt);
    if (rc == 0)
        rc = jwt_add_grant(jwt, "sub", sub);
    if (rc == 0)
        rc = jwt_add_grant_int(jwt, "iat", now);
    if (rc == 0)
        rc = jwt_add_grant_int(jwt, "exp", now + (long)ttl_s);
    if (rc == 0)
        rc = jwt_set_alg(jwt, JWT_ALG_HS256, secret, SF_TOKEN_SECRET_LEN);
    char *text = rc == 0 ? jwt_encode_str(jwt) : NULL;
    jwt_free(jwt);
    if (!text)
        return sf_error_set(err, SF_ENOMEM, "cannot make a token (libjwt: %s)",
                            strerror(rc ? rc : ENOMEM));
    *out = text;
    return 0;
}

/* "17850" and nothing else: digits, no sign, in range. */
static int parse_customer(const char *s, int32_t *out)
{
    if (!s || !*s || strlen(s) > 9)
        return -1;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    *out = (int32_t)v;
    return 0;
}

int sf_token_verify(const unsigned char secret[SF_TOKEN_SECRET_LEN], const char *token, int64_t now,
                    int32_t *customer, sf_error *err)
{
    jwt_t *jwt = NULL;
    if (jwt_decode(&jwt, token, secret, SF_TOKEN_SECRET_LEN) != 0 || !jwt)
        return sf_error_set(err, SF_EPERM, "the token is malformed or its signature is wrong");
    int rc = 0;
    if (jwt_get_alg(jwt) != JWT_ALG_HS256)
        rc = sf_error_set(err, SF_EPERM, "the token is not signed with HS256");
    errno = 0;
    long exp = rc == 0 ? jwt_get_grant_int(jwt, "exp") : 0;
    if (rc == 0 && errno != 0)
        rc = sf_error_set(err, SF_EPERM, "the token has no expiry (exp)");
    if (rc == 0 && exp <= now)
        rc = sf_error_set(err, SF_EPERM, "the token expired; ask for a new one");
    if (rc == 0 && parse_customer(jwt_get_grant(jwt, "sub"), customer) < 0)
        rc = sf_error_set(err, SF_EPERM, "the token's subject is not a customer id");
    jwt_free(jwt);
    return rc;
}
