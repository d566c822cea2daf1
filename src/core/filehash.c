/*
 * filehash.c - the content hash of a file (see filehash.h).
 */
#include "core/filehash.h"

#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "core/input.h"
#include "core/record.h"

int sf_file_content_hash(const char *path, char out[SF_FILE_HASH_LEN], sf_error *err)
{
    if (strcmp(path, "-") == 0)
        return sf_error_set(err, SF_EUSAGE,
                            "cannot read standard input (it has no content hash to make "
                            "event ids from); give a file");
    sf_input *in;
    int rc = sf_input_open(path, &in, err);
    if (rc < 0)
        return rc;
    XXH3_state_t *st = XXH3_createState();
    if (!st) {
        sf_input_close(in);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    XXH3_128bits_reset(st);
    const char *block;
    size_t len;
    while ((rc = sf_input_read(in, &block, &len, err)) == 0 && len > 0)
        XXH3_128bits_update(st, block, len);
    XXH128_hash_t h = XXH3_128bits_digest(st);
    snprintf(out, SF_FILE_HASH_LEN, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
    XXH3_freeState(st);
    sf_input_close(in);
    return rc;
}

size_t sf_event_id(const char *prefix, uint64_t n, char *id)
{
    char digits[24], *d = digits + sizeof digits;
    do {
        *--d = (char)('0' + n % 10);
    } while (n /= 10);
    size_t plen = strlen(prefix), dlen = (size_t)(digits + sizeof digits - d);
    if (plen + dlen > SF_EVENT_ID_MAX)
        return 0;
    memcpy(id, prefix, plen);
    memcpy(id + plen, d, dlen);
    id[plen + dlen] = '\0';
    return plen + dlen;
}
