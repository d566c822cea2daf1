/*
 * archive_name.c - the archive's object names (see archive_name.h): one
 * place that writes a position as a name does and reads a name back, so
 * that the sink and its readers cannot disagree.
 */
#include "sinks/archive_name.h"

#include <stdio.h>
#include <string.h>

void sf_archive_pos_text(const sf_pos *pos, char out[SF_POS_TEXT_MAX])
{
    uint64_t v;
    if (sf_pos_u64(pos, &v))
        snprintf(out, SF_POS_TEXT_MAX, "%020llu", (unsigned long long)v);
    else
        sf_pos_format(pos, out, SF_POS_TEXT_MAX);
}

bool sf_archive_is_run(const sf_pos *last)
{
    uint64_t v;
    return !sf_pos_u64(last, &v);
}

bool sf_archive_follows(const sf_pos *at, const sf_pos *last)
{
    uint64_t a, l;
    if (sf_archive_is_run(last))
        return sf_pos_cmp(at, last) > 0;
    return sf_pos_u64(at, &a) && sf_pos_u64(last, &l) && a == l + 1;
}

/* The digits at s (at most a position's) as a position: *end past them. */
static bool digits(const char *s, const char **end, sf_pos *out)
{
    size_t n = strspn(s, "0123456789"), zeros = 0;
    while (zeros + 1 < n && s[zeros] == '0')
        zeros++;
    *end = s + n;
    return n > 0 && sf_pos_parse(s + zeros, n - zeros, out, NULL) == 0;
}

bool sf_archive_name_parse(const char *name, uint32_t *part, sf_pos *first, sf_pos *last)
{
    unsigned p;
    int used = 0;
    const char *at;
    if (sscanf(name, "part-%u-%n", &p, &used) != 1 || used == 0 ||
        !digits(name + used, &at, first) || *at != '-' || !digits(at + 1, &at, last) ||
        strcmp(at, ".ndjson.gz") != 0 || sf_pos_cmp(first, last) > 0)
        return false;
    /* Exactly as written: the same name made again from what was read. */
    char again[32 + 2 * SF_POS_TEXT_MAX], from[SF_POS_TEXT_MAX], to[SF_POS_TEXT_MAX];
    sf_archive_pos_text(first, from);
    sf_archive_pos_text(last, to);
    snprintf(again, sizeof again, "part-%04u-%s-%s.ndjson.gz", p, from, to);
    if (strcmp(again, name) != 0)
        return false;
    *part = p;
    return true;
}
