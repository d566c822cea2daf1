/*
 * keys.h - API keys: creation, listing, revocation, verification.
 *
 * A key is "sfk_" followed by 64 hex digits (32 random bytes). Only its
 * SHA-256 is stored, in DIR/keys (one line per key: id, role, created,
 * revoked, hash, name; rewritten atomically), so the file gives no way to
 * call the API. A key's id is the first 12 hex digits of its hash: what
 * `keys list` shows and `keys revoke` takes.
 *
 * A server verifies keys against the file as it is on disk: a key created or
 * revoked by `shopflow keys` takes effect within a second, without restart.
 */
#ifndef SF_KEYS_H
#define SF_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum sf_role {
    SF_ROLE_NONE = 0,
    SF_ROLE_INGEST = 1,  /* may post transactions */
    SF_ROLE_ANALYST = 2, /* may read history and BI */
    SF_ROLE_ADMIN = 3,   /* may do everything */
} sf_role;

#define SF_KEY_TEXT_LEN 68 /* "sfk_" + 64 hex */
#define SF_KEY_ID_LEN   12
#define SF_KEY_NAME_MAX 63

typedef struct sf_key_info {
    char id[SF_KEY_ID_LEN + 1];
    sf_role role;
    char name[SF_KEY_NAME_MAX + 1];
    int64_t created; /* unix seconds */
    int64_t revoked; /* 0 while valid */
} sf_key_info;

typedef struct sf_keys sf_keys;

/* Parse "ingest", "analyst", "admin"; SF_ROLE_NONE if unknown. */
sf_role sf_role_parse(const char *name);
const char *sf_role_name(sf_role role);

/* Open the key store of data folder dir (the file may not exist yet).
 * Close with sf_keys_close. */
int sf_keys_open(const char *dir, sf_keys **out, sf_error *err);

/* Create a key, store its hash, and write the key text (NUL-terminated)
 * into key_out: the only time it is ever shown. */
int sf_keys_create(sf_keys *k, sf_role role, const char *name, char key_out[SF_KEY_TEXT_LEN + 1],
                   sf_key_info *info, sf_error *err);

/* Revoke the key with this id. SF_ENOENT if there is none. */
int sf_keys_revoke(sf_keys *k, const char *id, sf_error *err);

/* Copy up to cap keys into out; returns how many there are. */
size_t sf_keys_list(sf_keys *k, sf_key_info *out, size_t cap);

/* The role of a presented key, SF_ROLE_NONE when unknown or revoked. Safe
 * from many threads. */
sf_role sf_keys_verify(sf_keys *k, const char *key, size_t len);

void sf_keys_close(sf_keys *k);

#endif
