/*
 * token.h - customer tokens: a JWT (HS256) whose `sub` is a customer id and
 * whose `exp` bounds its life, signed with a secret kept in the data folder.
 *
 * A customer token reads only that customer's purchase history. The secret
 * is 32 random bytes in DIR/token.secret (hex, mode 0600), created on first
 * use by whichever of `shopflow token` and `shopflow serve` comes first;
 * creation is atomic (write a temp file, then link it into place, so two
 * processes racing both end up with the same secret). Replacing the file
 * (and restarting the server) revokes every token issued before.
 */
#ifndef SF_TOKEN_H
#define SF_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define SF_TOKEN_SECRET_LEN 32

/* Load DIR/token.secret, creating it if it does not exist. */
int sf_token_secret(const char *dir, unsigned char secret[SF_TOKEN_SECRET_LEN], sf_error *err);

/* Issue a token for customer, valid until now + ttl_s. *out is malloc'd
 * (the caller frees it). */
int sf_token_issue(const unsigned char secret[SF_TOKEN_SECRET_LEN], int32_t customer, int64_t ttl_s,
                   char **out, sf_error *err);

/* Verify a token at time now (unix seconds): its signature (HS256 only, any
 * other algorithm is refused), its expiry, and its subject, a customer id.
 * 0 and *customer; SF_EPERM when it is forged, expired or malformed (err
 * says which, for the 401's message). */
int sf_token_verify(const unsigned char secret[SF_TOKEN_SECRET_LEN], const char *token, int64_t now,
                    int32_t *customer, sf_error *err);

#endif
