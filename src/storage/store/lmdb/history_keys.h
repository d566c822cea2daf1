/*
 * history_keys.h - (the LMDB adapter's own) the layout of the history store
 * in LMDB: every key and value its writer (writer.c) puts and its reader
 * (reader.c) gets, written down once. Nothing outside storage/store/lmdb/
 * knows it: the sink and the API speak to the port (store.h).
 *
 * Folders written by earlier shopflow have exactly this layout (it is the
 * one the history sink wrote itself before the port knew invoices), so they
 * open and answer as before.
 *
 * Keys (bytes; integers big-endian so that keys sort numerically):
 *   'o' partition(u32)                      -> the sink's position (POS)
 *   'i' invoice_no                          -> the invoice's header (below)
 *   'l' invoice_no 0x00 line(u32)           -> the line, as a packed record
 *                                              (core/pack.h)
 *   'c' customer(u32) date(u64) invoice_no  -> "" (a customer's invoices by
 *                                              date; the date is stored
 *                                              + 2^63, so it sorts unsigned)
 *   'q' partition(u32) POS                  -> an entry set aside: when
 *        (SF_STORE_TIME_LEN bytes of UTC text), the reason's
 *        length (u16, big-endian), the reason, the entry's bytes
 *
 * A stream position (core/pos.h) POS is written as it was when positions
 * were the local log's offsets: a position below 2^64 (every local and
 * Kafka one) is its u64, 8 bytes big-endian; only a wider one (a Kinesis
 * sequence number) is written otherwise, as the 'o' value its stored form
 * (core/pos.h: len || bytes, 10 to 55 bytes), and in a 'q' key as 8 bytes
 * of 0xff then its stored form. So a folder of a local log or of Kafka is
 * byte for byte what shopflow before wide positions wrote and reads back
 * with no migration; an 8-byte value or key part is never a stored form
 * (a stored form of 8 bytes would be a position below 2^56); and 'q' keys
 * still sort by position within a partition (2^64 - 1, eight 0xff bytes,
 * is a prefix of every wider key, and stored forms sort with memcmp). *
 * An invoice's header, integers in host order (one host, one format).
 * Version 2 (128-bit totals):
 *   date i64 | total i128 | units i128 | customer i32 | lines u32 | kind u8 |
 *   country_len u8 | country | 0x00 0x02
 * Version 1 (shopflow before 128-bit totals) was the struct's bytes up to its
 * country as they lay in memory:
 *   date i64 | total i64 | units i64 | customer i32 | lines u32 | kind u8 |
 *   country_len u8 | country_len u8 | country
 * A version 1 value never has a 0 byte just before its last (that is a byte
 * of the country, which is not empty and holds no NUL, or its length), so
 * the trailer tells the two apart. Both are read; only version 2 is
 * written (the sink rewrites a version 1 header when its invoice gets
 * another line).
 *
 * The functions below write a key or value into a buffer the caller owns,
 * of the size the matching _MAX or _LEN says, and return its length; the
 * decoders return 0 or SF_ECORRUPT with err filled.
 */
#ifndef SF_LMDB_HISTORY_KEYS_H
#define SF_LMDB_HISTORY_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/money.h"
#include "core/pos.h"
#include "core/record.h"
#include "storage/store/store.h" /* sf_invoice_header, SF_STORE_TIME_LEN */

/* The first byte of each kind of key. */
enum {
    SF_HISTORY_KEY_POSITION = 'o',
    SF_HISTORY_KEY_INVOICE = 'i',
    SF_HISTORY_KEY_LINE = 'l',
    SF_HISTORY_KEY_CUSTOMER = 'c',
    SF_HISTORY_KEY_QUARANTINE = 'q',
};

#define SF_HISTORY_DATE_BIAS           (UINT64_C(1) << 63)
#define SF_HISTORY_POSITION_KEY_LEN    5
#define SF_HISTORY_POSITION_VALUE_LEN  8 /* a 64-bit position; wider: its stored form */
#define SF_HISTORY_POSITION_VALUE_MAX  SF_POS_STORED_MAX
#define SF_HISTORY_INVOICE_KEY_MAX     (1 + SF_INVOICE_NO_MAX)
#define SF_HISTORY_LINE_KEY_MAX        (1 + SF_INVOICE_NO_MAX + 1 + 4)
#define SF_HISTORY_CUSTOMER_PREFIX_LEN 5
#define SF_HISTORY_CUSTOMER_KEY_MAX    (SF_HISTORY_CUSTOMER_PREFIX_LEN + 8 + SF_INVOICE_NO_MAX)
#define SF_HISTORY_QUARANTINE_KEY_LEN  13 /* a 64-bit position's */
#define SF_HISTORY_QUARANTINE_KEY_MAX  (SF_HISTORY_QUARANTINE_KEY_LEN + SF_POS_STORED_MAX)
#define SF_HISTORY_HEADER_MAX          (50 + SF_COUNTRY_MAX + 2)

/* 'o' partition: key holds SF_HISTORY_POSITION_KEY_LEN bytes. */
size_t sf_history_position_key(uint32_t partition, uint8_t *key);

/* The value of position next (SF_HISTORY_POSITION_VALUE_MAX bytes); its
 * length. */
size_t sf_history_position_encode(const sf_pos *next, uint8_t *val);

/* A stored position's value into *next; SF_ECORRUPT if it is not one. */
int sf_history_position_decode(const void *val, size_t len, sf_pos *next, sf_error *err);

/* 'i' invoice_no: key holds SF_HISTORY_INVOICE_KEY_MAX bytes. */
size_t sf_history_invoice_key(const char *invoice_no, size_t len, uint8_t *key);

/* 'l' invoice_no 0x00: the prefix of an invoice's lines (key holds
 * SF_HISTORY_LINE_KEY_MAX bytes), and with line its key. */
size_t sf_history_line_prefix(const char *invoice_no, size_t len, uint8_t *key);
size_t sf_history_line_key(const char *invoice_no, size_t len, uint32_t line, uint8_t *key);

/* 'c' customer: the prefix of a customer's index keys
 * (SF_HISTORY_CUSTOMER_PREFIX_LEN bytes). */
size_t sf_history_customer_prefix(int32_t customer, uint8_t *key);

/* 'c' customer date invoice_no (key holds SF_HISTORY_CUSTOMER_KEY_MAX
 * bytes). With len 0 it is the first key of that date: a bound to scan
 * from or to. */
size_t sf_history_customer_key(int32_t customer, int64_t date, const char *invoice_no, size_t len,
                               uint8_t *key);

/* The date and invoice number of a customer index key (*invoice_no points
 * into key); SF_ECORRUPT if key is not one. */
int sf_history_customer_key_parse(const void *key, size_t klen, int64_t *date,
                                  const char **invoice_no, size_t *len, sf_error *err);

/* An invoice's header as stored (version 2) into buf (SF_HISTORY_HEADER_MAX
 * bytes); its length. */
size_t sf_history_encode_header(const sf_invoice_header *h, uint8_t *buf);

/* A stored header of either version into *h; SF_ECORRUPT if damaged. */
int sf_history_decode_header(const void *val, size_t len, sf_invoice_header *h, sf_error *err);

/* 'q' partition POS: key holds SF_HISTORY_QUARANTINE_KEY_MAX bytes. */
size_t sf_history_quarantine_key(uint32_t partition, const sf_pos *pos, uint8_t *key);

/* An entry set aside, as stored under its 'q' key (pointers into the key
 * and value; reason is not NUL-terminated). */
typedef struct sf_history_quarantined {
    uint32_t partition;
    sf_pos pos;
    const char *at; /* SF_STORE_TIME_LEN bytes */
    const char *reason;
    size_t reason_len;
    const uint8_t *data;
    size_t len;
} sf_history_quarantined;

/* The value of q (q->partition and q->pos are the key's, not stored in
 * it): its length, and the value written into val when val is not NULL
 * (reason_len is cut to 65,535). */
size_t sf_history_quarantine_encode(const sf_history_quarantined *q, uint8_t *val);

/* A 'q' key and its value into *q; SF_ECORRUPT if they are not one. */
int sf_history_quarantine_decode(const void *key, size_t klen, const void *val, size_t vlen,
                                 sf_history_quarantined *q, sf_error *err);

#endif
