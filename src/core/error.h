/*
 * error.h - shopflow's error codes and the error message carrier.
 *
 * Every fallible function in shopflow returns 0 on success or one of the
 * negative SF_E* codes below, and fills an sf_error the caller passed in with
 * a message written for people ("line 12: Quantity: \"abc\" is not an
 * integer"). The code says what kind of failure it was (so callers can map it
 * to an exit status or an HTTP status); the message says what and where.
 *
 * An sf_error is a plain value owned by the caller: no allocation, safe to
 * put on the stack, safe to pass NULL where the caller does not care.
 */
#ifndef SF_ERROR_H
#define SF_ERROR_H

#include <stddef.h>

enum {
    SF_OK = 0,
    SF_EINVAL = -1,   /* invalid argument or input that fails validation */
    SF_ENOMEM = -2,   /* out of memory */
    SF_EIO = -3,      /* an operating-system read/write failed */
    SF_ENOENT = -4,   /* file or key not found */
    SF_ERANGE = -5,   /* a number does not fit where it must go */
    SF_EFORMAT = -6,  /* malformed input that cannot be decoded any further */
    SF_ESTOPPED = -7, /* a callback asked the producer to stop */
    SF_EUSAGE = -8,   /* the command line or configuration is wrong */
    SF_ECORRUPT = -9, /* stored data fails its checksum or structure */
    SF_EBUSY = -10,   /* held by another process (a lock) */
    SF_EFAILED = -11, /* the component failed earlier and refuses work until reopened */
    SF_EPERM = -12,   /* credentials missing, forged, expired, or not allowed this */
    SF_ESTALE = -13,  /* a write from a stale position: another writer moved on (fenced) */
};

#define SF_ERROR_MSG_MAX 512

typedef struct sf_error {
    int code;                   /* one of SF_E*, SF_OK when nothing failed */
    char msg[SF_ERROR_MSG_MAX]; /* NUL-terminated, for people */
} sf_error;

/* Record a failure in *err (when err is not NULL) and return code, so a
 * function can write `return sf_error_set(err, SF_EINVAL, "...", ...);`. */
int sf_error_set(sf_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the message already in *err with more context ("file.csv: ").
 * Returns err->code. */
int sf_error_prefix(sf_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reset *err to "no error". */
void sf_error_clear(sf_error *err);

/* A short static description of a code ("invalid input"). Never NULL. */
const char *sf_strerror(int code);

#endif
