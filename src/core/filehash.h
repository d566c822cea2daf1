/*
 * filehash.h - the hash of a file's content, the root of deterministic
 * event ids.
 *
 * `shopflow import` and `shopflow replay` both name a row "imp-<hash>-<row>",
 * where <hash> is this function of the file. Both must compute it alike, or a
 * replay after an import (or the other way round) would append every row
 * twice; so it lives here, used by both. The hash is XXH3-128 of the
 * decompressed bytes: the same rows gzipped or not get the same ids.
 */
#ifndef SF_FILEHASH_H
#define SF_FILEHASH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* 32 hex digits and the NUL. */
#define SF_FILE_HASH_LEN 33

/*
 * Read the file at path (gzip or not, see input.h) to its end and write the
 * hash of its decompressed content as 32 lowercase hex digits into out.
 * Standard input ("-") is refused with SF_EUSAGE: it cannot be read twice,
 * and the rows are needed after the hash. Returns 0, SF_ENOENT, SF_EIO or
 * SF_ENOMEM with the message in *err.
 */
int sf_file_content_hash(const char *path, char out[SF_FILE_HASH_LEN], sf_error *err);

/* "<prefix><n>" (prefix "imp-<hash>-") into id, which holds SF_EVENT_ID_MAX
 * + 1 bytes; its length, or 0 if it does not fit. By hand: printf was a
 * tenth of an import's instructions, and runs for every row of both. */
size_t sf_event_id(const char *prefix, uint64_t n, char *id);

#endif
