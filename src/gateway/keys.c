/*
 * keys.c - the API key store (see keys.h).
 *
 * The whole file is small (one line per key), so it is read whole into an
 * array and rewritten whole (temp + fsync + rename) on every change.
 * Verification hashes the presented key and compares it with every stored
 * hash in constant time (CRYPTO_memcmp), so timing says nothing about how
 * close a guess was.
 *
 * A key that verified once is remembered beside its hash (in memory only), so
 * the next request with it is one constant-time comparison instead of a
 * SHA-256 through OpenSSL's EVP layer (3 % of a single-record POST). The
 * memory goes whenever the file is reloaded, so a revocation by another
 * process still takes effect within a second; in this process it is checked
 * by the revoked field as before.
 */
#include "gateway/keys.h"

#include "core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct stored_key {
    sf_key_info info;
    unsigned char hash[32];
    bool seen;                  /* text holds the key, verified against hash */
    char text[SF_KEY_TEXT_LEN]; /* set under the write lock, once */
} stored_key;

struct sf_keys {
    char *path;
    pthread_rwlock_t lock;
    stored_key *keys;
    size_t n;
    struct timespec mtime; /* of the file when loaded */
    off_t size;
    time_t last_check;
};

static const char *const role_names[] = {"none", "ingest", "analyst", "admin"};

sf_role sf_role_parse(const char *name)
{
    for (int i = 1; i < 4; i++)
        if (strcmp(name, role_names[i]) == 0)
            return (sf_role)i;
    return SF_ROLE_NONE;
}

const char *sf_role_name(sf_role role)
{
    return role >= SF_ROLE_NONE && role <= SF_ROLE_ADMIN ? role_names[role] : "none";
}

static void sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

static void to_hex(const unsigned char *b, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int from_hex(const char *s, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* Parse one line: id role created revoked hash name (tab-separated). */
static int parse_line(char *line, stored_key *k)
{
    char *f[6];
    int nf = 0;
    for (char *save = NULL, *t = strtok_r(line, "\t\n", &save); t && nf < 6;
         t = strtok_r(NULL, "\t\n", &save))
        f[nf++] = t;
    if (nf < 5 || strlen(f[0]) != SF_KEY_ID_LEN || strlen(f[4]) != 64)
        return -1;
    memset(k, 0, sizeof *k);
    snprintf(k->info.id, sizeof k->info.id, "%s", f[0]);
    k->info.role = sf_role_parse(f[1]);
    k->info.created = strtoll(f[2], NULL, 10);
    k->info.revoked = strtoll(f[3], NULL, 10);
    snprintf(k->info.name, sizeof k->info.name, "%s", nf > 5 ? f[5] : "");
    return k->info.role == SF_ROLE_NONE || from_hex(f[4], k->hash, 32) < 0 ? -1 : 0;
}

/* (Re)load the file; a missing file is an empty store. Caller holds the
 * write lock. */
static int load(sf_keys *k, sf_error *err)
{
    FILE *f = fopen(k->path, "r");
    free(k->keys);
    k->keys = NULL;
    k->n = 0;
    if (!f)
        return errno == ENOENT ? 0 : sf_error_set(err, SF_EIO, "%s: %s", k->path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0) {
        k->mtime = st.st_mtim;
        k->size = st.st_size;
    }
    char line[512];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        stored_key sk = {0};
        stored_key *grown = realloc(k->keys, (k->n + 1) * sizeof *grown);
        if (!grown) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            break;
        }
        k->keys = grown;
        if (parse_line(line, &sk) < 0) {
            rc = sf_error_set(err, SF_ECORRUPT, "%s:%d: not a key line", k->path, lineno);
            break;
        }
        k->keys[k->n++] = sk;
    }
    fclose(f);
    return rc;
}

static int save(sf_keys *k, sf_error *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", k->path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return sf_error_set(err, SF_EIO, "%s: %s", tmp, strerror(errno));
    fprintf(f, "# shopflow API keys: id, role, created, revoked, sha256 of the key, name\n");
    for (size_t i = 0; i < k->n; i++) {
        char hex[65];
        to_hex(k->keys[i].hash, 32, hex);
        fprintf(f, "%s\t%s\t%lld\t%lld\t%s\t%s\n", k->keys[i].info.id,
                sf_role_name(k->keys[i].info.role), (long long)k->keys[i].info.created,
                (long long)k->keys[i].info.revoked, hex, k->keys[i].info.name);
    }
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, k->path) != 0)
        return sf_error_set(err, SF_EIO, "%s: cannot write: %s", k->path, strerror(errno));
    int rc = sf_fsync_parent(k->path, err);
    if (rc < 0)
        return rc;
    struct stat st;
    if (stat(k->path, &st) == 0) {
        k->mtime = st.st_mtim;
        k->size = st.st_size;
    }
    return 0;
}

int sf_keys_open(const char *dir, sf_keys **out, sf_error *err)
{
    sf_keys *k = calloc(1, sizeof *k);
    char path[4096];
    snprintf(path, sizeof path, "%s/keys", dir);
    if (!k || !(k->path = strdup(path))) {
        free(k);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    pthread_rwlock_init(&k->lock, NULL);
    k->last_check = time(NULL);
    int rc = load(k, err);
    if (rc < 0) {
        sf_keys_close(k);
        return rc;
    }
    *out = k;
    return 0;
}

void sf_keys_close(sf_keys *k)
{
    if (!k)
        return;
    pthread_rwlock_destroy(&k->lock);
    free(k->keys);
    free(k->path);
    free(k);
}

int sf_keys_create(sf_keys *k, sf_role role, const char *name, char key_out[SF_KEY_TEXT_LEN + 1],
                   sf_key_info *info, sf_error *err)
{
    unsigned char secret[32];
    if (role == SF_ROLE_NONE)
        return sf_error_set(err, SF_EINVAL, "a key needs a role: ingest, analyst or admin");
    if (name && (strchr(name, '\t') || strchr(name, '\n') || strlen(name) > SF_KEY_NAME_MAX))
        return sf_error_set(err, SF_EINVAL, "a key name is one line of at most %d bytes",
                            SF_KEY_NAME_MAX);
    if (RAND_bytes(secret, sizeof secret) != 1)
        return sf_error_set(err, SF_EIO, "no random bytes from OpenSSL");
    memcpy(key_out, "sfk_", 4);
    to_hex(secret, sizeof secret, key_out + 4);
    stored_key sk = {0};
    sha256(key_out, SF_KEY_TEXT_LEN, sk.hash);
    char hex[65];
    to_hex(sk.hash, 32, hex);
    snprintf(sk.info.id, sizeof sk.info.id, "%.*s", SF_KEY_ID_LEN, hex);
    sk.info.role = role;
    sk.info.created = (int64_t)time(NULL);
    snprintf(sk.info.name, sizeof sk.info.name, "%s", name ? name : "");
    pthread_rwlock_wrlock(&k->lock);
    int rc = load(k, err); /* another process may have changed the file */
    stored_key *grown = rc == 0 ? realloc(k->keys, (k->n + 1) * sizeof *grown) : NULL;
    if (rc == 0 && !grown)
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    if (rc == 0) {
        k->keys = grown;
        k->keys[k->n++] = sk;
        rc = save(k, err);
    }
    pthread_rwlock_unlock(&k->lock);
    if (rc == 0 && info)
        *info = sk.info;
    return rc;
}

int sf_keys_revoke(sf_keys *k, const char *id, sf_error *err)
{
    pthread_rwlock_wrlock(&k->lock);
    int rc = load(k, err);
    size_t i = 0;
    while (rc == 0 && i < k->n && strcmp(k->keys[i].info.id, id) != 0)
        i++;
    if (rc == 0 && i == k->n)
        rc = sf_error_set(err, SF_ENOENT, "no key with id %s", id);
    if (rc == 0 && !k->keys[i].info.revoked) {
        k->keys[i].info.revoked = (int64_t)time(NULL);
        rc = save(k, err);
    }
    pthread_rwlock_unlock(&k->lock);
    return rc;
}

size_t sf_keys_list(sf_keys *k, sf_key_info *out, size_t cap)
{
    pthread_rwlock_rdlock(&k->lock);
    size_t n = k->n;
    for (size_t i = 0; i < n && i < cap; i++)
        out[i] = k->keys[i].info;
    pthread_rwlock_unlock(&k->lock);
    return n;
}

/* Reload when the file changed; looked at most once a second. */
static void refresh(sf_keys *k)
{
    time_t now = time(NULL);
    if (__atomic_load_n(&k->last_check, __ATOMIC_RELAXED) == now)
        return;
    __atomic_store_n(&k->last_check, now, __ATOMIC_RELAXED);
    struct stat st;
    bool exists = stat(k->path, &st) == 0;
    pthread_rwlock_wrlock(&k->lock);
    if (!exists ? k->n > 0
                : st.st_size != k->size || st.st_mtim.tv_sec != k->mtime.tv_sec ||
                      st.st_mtim.tv_nsec != k->mtime.tv_nsec) {
        sf_error err = {0};
        load(k, &err); /* a broken file: no key verifies until it is fixed */
    }
    pthread_rwlock_unlock(&k->lock);
}

/* The index of the remembered key equal to key, or -1. Compares with every
 * remembered one in constant time. Caller holds the lock. */
static long remembered(const sf_keys *k, const char *key)
{
    long found = -1;
    for (size_t i = 0; i < k->n; i++)
        if (k->keys[i].seen && CRYPTO_memcmp(k->keys[i].text, key, SF_KEY_TEXT_LEN) == 0)
            found = (long)i;
    return found;
}

sf_role sf_keys_verify(sf_keys *k, const char *key, size_t len)
{
    if (len != SF_KEY_TEXT_LEN || strncmp(key, "sfk_", 4) != 0)
        return SF_ROLE_NONE;
    refresh(k);
    pthread_rwlock_rdlock(&k->lock);
    long i = remembered(k, key);
    sf_role role = i >= 0 && !k->keys[i].info.revoked ? k->keys[i].info.role : SF_ROLE_NONE;
    pthread_rwlock_unlock(&k->lock);
    if (i >= 0)
        return role;
    unsigned char hash[32];
    sha256(key, len, hash);
    pthread_rwlock_wrlock(&k->lock);
    for (size_t j = 0; j < k->n; j++)
        if (CRYPTO_memcmp(hash, k->keys[j].hash, 32) == 0) {
            if (!k->keys[j].info.revoked)
                role = k->keys[j].info.role;
            memcpy(k->keys[j].text, key, SF_KEY_TEXT_LEN);
            k->keys[j].seen = true;
        }
    pthread_rwlock_unlock(&k->lock);
    return role;
}
