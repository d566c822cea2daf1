/*
 * bytes.h - big-endian integers in byte strings, for keys that must sort
 * numerically when compared bytewise (the history store's keys).
 */
#ifndef SF_BYTES_H
#define SF_BYTES_H

#include <stdint.h>

static inline void sf_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static inline void sf_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static inline uint64_t sf_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

#endif
