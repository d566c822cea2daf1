/*
 * money.h - exact decimal numbers: parsing text into scaled integers and
 * printing milli-units back as decimals.
 *
 * Prices are fixed-point milli-units held in an int64 ("2.55" -> 2550) and
 * never pass through a double: a double cannot hold 2.55, and a sum of half a
 * million of them drifts. The parser is also the integer parser (scale 0), so
 * "17850.0" is the integer 17850 while "17850.5" is refused, never rounded.
 */
#ifndef SF_MONEY_H
#define SF_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sf_num_status {
    SF_NUM_OK = 0,
    SF_NUM_SYNTAX = -1,    /* not a decimal number */
    SF_NUM_PRECISION = -2, /* non-zero digits beyond the scale */
    SF_NUM_RANGE = -3,     /* outside [min, max] */
} sf_num_status;

/*
 * Parse s[0..len) as a decimal number and scale it by 10^scale (scale 0..18):
 * with scale 3, "2.55" gives 2550 and "-11062.06" gives -11062060.
 * Accepted: optional spaces around, an optional sign, digits with an optional
 * '.', at least one digit, an optional exponent ("1.5e2"). Digits past the
 * scale must be zeros ("2.5500" is fine, "2.5501" is SF_NUM_PRECISION).
 * The result must lie in [min, max]. *out is written only on SF_NUM_OK.
 */
sf_num_status sf_parse_scaled(const char *s, size_t len, int scale, int64_t min, int64_t max,
                              int64_t *out);

/* Longest text sf_format_milli writes, NUL included. */
#define SF_MONEY_TEXT_MAX 32

/*
 * Write milli-units as a decimal with two or three decimals ("2.55",
 * "9747747.934", "-0.50", "0.00"); with thousands separators when asked
 * ("9,747,747.934"). buf must hold SF_MONEY_TEXT_MAX bytes. Returns the
 * length written.
 */
size_t sf_format_milli(int64_t milli, bool thousands, char buf[SF_MONEY_TEXT_MAX]);

/* Write an integer with thousands separators ("541,909"). buf must hold
 * SF_MONEY_TEXT_MAX bytes. Returns the length written. */
size_t sf_format_count(int64_t v, char buf[SF_MONEY_TEXT_MAX]);

#endif
