/*
 * poison.c - test support: append one entry that is not a record to a
 * local stream log, well framed (its checksum holds), through the stream
 * port as every writer does.
 *
 *   sf_test_poison LOGDIR INVOICE [junk|kind]
 *
 * The entry is the packed record of a line of INVOICE (so it lands in that
 * invoice's partition) spoilt so that it no longer unpacks: "junk" (the
 * default) adds four bytes after it (its lengths no longer add up), "kind"
 * gives it an unknown record kind. Prints "poison PARTITION OFFSET". The
 * log must not be open for writing by another process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pack.h"
#include "stream/stream.h"

static void done(void *ctx, int status, const uint32_t *parts, const sf_pos *positions,
                 const char *errmsg)
{
    int *rc = ctx;
    *rc = status;
    char at[SF_POS_TEXT_MAX];
    if (status == 0) {
        sf_pos_format(&positions[0], at, sizeof at);
        printf("poison %u %s\n", parts[0], at);
    } else
        fprintf(stderr, "append: %s\n", errmsg ? errmsg : "failed");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sf_test_poison LOGDIR INVOICE [junk|kind]\n");
        return 2;
    }
    const char *how = argc > 3 ? argv[3] : "junk";
    sf_record r = {0};
    snprintf(r.invoice_no, sizeof r.invoice_no, "%s", argv[2]);
    r.invoice_no_len = (uint8_t)strlen(r.invoice_no);
    snprintf(r.stock_code, sizeof r.stock_code, "POISON");
    r.stock_code_len = 6;
    snprintf(r.country, sizeof r.country, "Nowhere");
    r.country_len = 7;
    r.quantity = 1;
    r.invoice_date = 1291191960;
    uint8_t buf[SF_PACK_MAX + 4];
    int len = sf_record_pack(&r, buf, sizeof buf);
    if (strcmp(how, "kind") == 0) {
        buf[1] = 9;
    } else {
        memcpy(buf + len, "JUNK", 4);
        len += 4;
    }
    sf_stream *s = NULL;
    sf_error err = {0};
    sf_stream_opts opts = {0};
    if (sf_stream_open(argv[1], &opts, &s, &err) < 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    uint32_t lens[1] = {(uint32_t)len};
    int rc = 1;
    if (sf_stream_append_packed_async(s, buf, lens, 1, done, &rc, &err) < 0)
        fprintf(stderr, "append: %s\n", err.msg);
    sf_stream_close(s); /* waits for the append's callback */
    return rc == 0 ? 0 : 1;
}
