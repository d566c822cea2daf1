/*
 * money.h - exact decimal numbers: parsing text into scaled integers and
 * printing milli-units back as decimals; and the 128-bit integer every total
 * (a sum over many lines) is kept in.
 *
 * Prices are fixed-point milli-units held in an int64 ("2.55" -> 2550) and
 * never pass through a double: a double cannot hold 2.55, and a sum of half a
 * million of them drifts. The parser is also the integer parser (scale 0), so
 * "17850.0" is the integer 17850 while "17850.5" is refused, never rounded.
 *
 * Why totals are 128-bit: one line's amount is bounded (record.h: |quantity
 * x unit price| <= 10^15 milli-units), but the number of lines is not, and
 * 9,224 lines at the bound already pass INT64_MAX. A sum of fewer than 2^64
 * lines (more than any counter or offset here can count) stays below
 * 2^64 x 10^15 < 2^114 in magnitude, so in 128 bits no total can wrap, and
 * a plain `+` on sf_i128 needs no check. Quantity sums (units) likewise:
 * 2^64 x 10^9 < 2^94.
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

/*
 * A total: a signed 128-bit integer (gcc and clang's __int128), milli-units
 * for money, units for quantities. Its alignment is lowered to 8 so that it
 * can sit in the 8-aligned records of the warehouse's maps, queues and
 * stored headers like any int64 (the compilers then never assume 16; a
 * typedef may lower alignment in both).
 */
typedef __int128 sf_i128 __attribute__((aligned(8)));

#define SF_I128_MAX ((sf_i128)(((unsigned __int128)1 << 127) - 1))
#define SF_I128_MIN (-SF_I128_MAX - 1)

/* -1, 0 or 1 as a < b, a == b, a > b. */
static inline int sf_i128_cmp(sf_i128 a, sf_i128 b)
{
    return (a > b) - (a < b);
}

/* True when v is an int64 (the common case, printed and stored as one). */
static inline bool sf_i128_is_int64(sf_i128 v)
{
    return v >= INT64_MIN && v <= INT64_MAX;
}

/*
 * The stored form of a total in databases that have only 64-bit integers
 * (the warehouse's SQLite and PostgreSQL columns, docs/warehouse.md): two
 * int64, v = hi x 10^18 + lo, where lo has v's sign and |lo| < 10^18
 * (division truncated toward zero). So
 *  - a total below 10^18 (10^15 pounds) is stored as (0, v): every total of
 *    a schema before 128 bits reads back unchanged, with hi 0;
 *  - comparing (hi, lo) pairs in order, as an index on (hi, lo) does, orders
 *    them as their values.
 * Defined for |v| < 10^18 x 2^63 (about 9.2 x 10^36), beyond any total (see
 * above); outside, hi saturates.
 */
#define SF_I128_SPLIT INT64_C(1000000000000000000)
void sf_i128_split(sf_i128 v, int64_t *hi, int64_t *lo);
static inline sf_i128 sf_i128_join(int64_t hi, int64_t lo)
{
    return hi == 0 ? lo : (sf_i128)hi * SF_I128_SPLIT + lo;
}

/*
 * Parse s[0..len) as sf_parse_scaled does (same syntax, digits past the
 * scale must be zeros), into a 128-bit integer: "170141183460469231731687303715884105.727"
 * at scale 3 is SF_I128_MAX. *out is written only on SF_NUM_OK.
 */
sf_num_status sf_parse_i128(const char *s, size_t len, int scale, sf_i128 *out);

/* Longest text sf_format_milli and sf_format_count write, NUL included: a
 * 128-bit total with sign, separators and decimals. */
#define SF_MONEY_TEXT_MAX 64

/*
 * Write milli-units as a decimal with two or three decimals ("2.55",
 * "9747747.934", "-0.50", "0.00"); with thousands separators when asked
 * ("9,747,747.934"). buf must hold SF_MONEY_TEXT_MAX bytes. Returns the
 * length written. Any 128-bit value: sf_parse_i128 at scale 3 reads it back.
 */
size_t sf_format_milli(sf_i128 milli, bool thousands, char buf[SF_MONEY_TEXT_MAX]);

/* Write an integer with thousands separators ("541,909"). buf must hold
 * SF_MONEY_TEXT_MAX bytes. Returns the length written. */
size_t sf_format_count(sf_i128 v, char buf[SF_MONEY_TEXT_MAX]);

/* Write an integer in plain decimal ("-12", no separators). buf must hold
 * SF_MONEY_TEXT_MAX bytes. Returns the length written. */
size_t sf_format_i128(sf_i128 v, char buf[SF_MONEY_TEXT_MAX]);

#endif
