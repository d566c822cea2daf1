/*
 * location.c - locations taken apart and adapters picked by scheme (see
 * location.h).
 */
#include "core/location.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The length of the scheme location starts with (before its ':'), or 0
 * when it starts with none (RFC 3986: ALPHA *(ALPHA / DIGIT / "+" / "-" /
 * ".")). One letter is no scheme: "C:..." is a path somewhere. */
static size_t scheme_len(const char *s)
{
    size_t n = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
           (s[n] >= '0' && s[n] <= '9') || s[n] == '+' || s[n] == '-' || s[n] == '.')
        n++;
    return s[n] == ':' && n >= 2 ? n : 0;
}

/* "file, s3" into out: every scheme of the table, in its order. */
static void known(const sf_adapter *table, size_t n, char *out, size_t cap)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < 4 && table[i].schemes[k]; k++) {
            int w = snprintf(out + at, cap - at, "%s%s", at ? ", " : "", table[i].schemes[k]);
            if (w < 0 || (size_t)w >= cap - at)
                return;
            at += (size_t)w;
        }
}

int sf_location_pick(const char *port, const sf_adapter *table, size_t n, const char *location,
                     const void **ops, sf_location *loc, sf_error *err)
{
    if (!location || !*location)
        return sf_error_set(err, SF_EUSAGE, "%s: an empty location", port);
    size_t len = scheme_len(location);
    *loc = (sf_location){location, table[0].schemes[0], location, true};
    *ops = table[0].ops;
    if (len == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < 4 && table[i].schemes[k]; k++) {
            const char *s = table[i].schemes[k];
            if (strlen(s) == len && strncasecmp(location, s, len) == 0) {
                *loc = (sf_location){location, s, location + len + 1, false};
                *ops = table[i].ops;
                return 0;
            }
        }
    char list[256];
    known(table, n, list, sizeof list);
    return sf_error_set(err, SF_EUSAGE, "%s: no adapter for '%.*s:' in '%s' (known: %s)", port,
                        (int)len, location, location, list);
}

int sf_location_no_extra(const sf_location *loc, const char *what, const char *port,
                         const char *const *extra, size_t nextra, sf_error *err)
{
    if (nextra == 0)
        return 0;
    return sf_error_set(err, SF_EUSAGE, "%s: %s takes no %s option ('%s')", loc->rest, what, port,
                        extra[0]);
}
