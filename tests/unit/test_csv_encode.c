/*
 * test_csv_encode.c - sf_csv_encode (csv.h, csv_encode.c), what `replay
 * --send csv` and `demo --send csv` post: every record decodes back to
 * itself through the CSV decoder, quotes only where RFC 4180 needs them,
 * and the size bound is kept.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"
#include "support.h"

/* A record with texts that need quoting, spaces that must survive, no
 * customer, no event id, at their longest: sf_csv_encode's row under
 * SF_CSV_HEADER decodes back to the very same record, on the fast path
 * and through libcsv alike. */
static void test_encode_round_trip(void **state)
{
    (void)state;
    static char quotes[SF_DESCRIPTION_MAX + 1], longest[SF_DESCRIPTION_MAX + 1];
    memset(quotes, '"', SF_DESCRIPTION_MAX);
    memset(longest, 'x', SF_DESCRIPTION_MAX);
    const char *descs[] = {"WHITE HANGING HEART T-LIGHT HOLDER",
                           "SET/2 \"RED\" SPOTTY, BOWLS ",
                           " two\nlines\r\nand a CR\r",
                           "",
                           "\xc2\xa3 caf\xc3\xa9 \"\"",
                           quotes,
                           longest};
    enum { N = sizeof descs / sizeof descs[0] };
    sf_record in[N];
    char *text = malloc(sizeof SF_CSV_HEADER + N * (SF_CSV_RECORD_MAX + 1));
    assert_non_null(text);
    size_t len = strlen(strcpy(text, SF_CSV_HEADER));
    for (int i = 0; i < N; i++) {
        ut_make(&in[i], i % 2 ? "C536379" : "536365", "85123A", descs[i], i % 2 ? -12 : 6,
                UT_T0 + i * 3661, i == 3 ? -11062060 : 2550, i % 3 ? 17850 : SF_NO_CUSTOMER,
                i == 2 ? "Channel, Islands" : "United Kingdom");
        if (i % 2) {
            in[i].event_id_len =
                (uint8_t)snprintf(in[i].event_id, sizeof in[i].event_id, "imp-%060d", i);
        }
        int n = sf_csv_encode(&in[i], text + len, SF_CSV_RECORD_MAX);
        assert_true(n > 0);
        if (i == 0) /* nothing to quote: a line for the fast path */
            assert_null(memchr(text + len, '"', (size_t)n));
        len += (size_t)n;
        text[len++] = '\n';
        text[len] = '\0';
    }
    for (int slow = 0; slow < 2; slow++) {
        ut_cfg cfg = {UT_CSV, SF_FORMAT_CSV, SF_ENC_AUTO, slow, 0};
        ut_sink s;
        ut_sink_init(&s);
        assert_int_equal(ut_decode_cfg(text, len, &cfg, &s), 0);
        if (s.nerr)
            fail_msg("unexpected error: %s", ut_err(&s, 0)->msg);
        assert_int_equal(s.nrec, N);
        for (int i = 0; i < N; i++)
            assert_true(sf_record_equal(ut_rec(&s, (size_t)i), &in[i]));
        ut_sink_free(&s);
    }
    free(text);
    char small[64];
    assert_int_equal(sf_csv_encode(&in[5], small, sizeof small), -1);
    assert_int_equal(sf_csv_encode(&in[0], small, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
