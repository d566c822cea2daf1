/*
 * error.c - filling and describing sf_error values (see error.h).
 */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sf_error_set(sf_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int sf_error_prefix(sf_error *err, const char *fmt, ...)
{
    if (!err)
        return SF_EINVAL;
    char prefix[SF_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Truncation is fine here: keep as much of both as fits. */
    char old[SF_ERROR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    size_t plen = strlen(prefix), olen = strnlen(old, sizeof old - 1);
    size_t room = sizeof err->msg - 1 - plen;
    if (olen > room)
        olen = room;
    memcpy(err->msg, prefix, plen);
    memcpy(err->msg + plen, old, olen);
    err->msg[plen + olen] = '\0';
    return err->code;
}

void sf_error_clear(sf_error *err)
{
    if (err) {
        err->code = SF_OK;
        err->msg[0] = '\0';
    }
}

const char *sf_strerror(int code)
{
    switch (code) {
    case SF_OK:
        return "success";
    case SF_EINVAL:
        return "invalid input";
    case SF_ENOMEM:
        return "out of memory";
    case SF_EIO:
        return "input/output error";
    case SF_ENOENT:
        return "not found";
    case SF_ERANGE:
        return "out of range";
    case SF_EFORMAT:
        return "malformed input";
    case SF_ESTOPPED:
        return "stopped";
    case SF_EUSAGE:
        return "usage error";
    case SF_ECORRUPT:
        return "corrupt data";
    case SF_EBUSY:
        return "busy";
    case SF_EFAILED:
        return "failed earlier";
    case SF_EPERM:
        return "not permitted";
    case SF_ESTALE:
        return "stale position";
    default:
        return "unknown error";
    }
}
