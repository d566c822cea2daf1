/*
 * wide_stream.h - a stream of wide, sparse positions for the unit tests,
 * as Kinesis numbers its records, over a local log (no emulator needed):
 * the record at offset o of the log is at position ut_wide_pos(o), 2^184 +
 * 1024 * o (56 decimal digits, as Kinesis's sequence numbers have), and a
 * read's `next` is its last entry's position + 1, as the Kinesis adapter
 * gives it. Its info gives the start where the log's first record would be
 * (ut_wide_pos(0): like a shard's starting sequence number, retention does
 * not move it) and the end past the newest record; its end is no witness.
 *
 * ut_wide_hide(s, p, below) makes a read of partition p that starts before
 * offset `below` begin there instead, as Kinesis does once retention has
 * removed the records before (its start stays where it was); ut_wide_show
 * makes it grow as a reshard does.
 */
#ifndef SF_UT_WIDE_STREAM_H
#define SF_UT_WIDE_STREAM_H

#include <stdint.h>

#include "stream/stream.h"

/* A sequence number of Kinesis's (56 digits), and the largest position
 * there is (129 nines). */
#define UT_KSEQ "49590338271490256608559692538361571095921575989136588898"
#define UT_NINES                                                                                   \
    "999999999999999999999999999999999999999999999999999999999999999999999999999999"               \
    "999999999999999999999999999999999999999999999999999"

/* The position written so in decimal (fails the test when it is not one). */
sf_pos ut_parsed(const char *text);

/* The position of offset o. */
sf_pos ut_wide_pos(uint64_t o);

/* A wide stream over inner (which it then owns: sf_stream_close closes
 * both). Fails the test on error. */
sf_stream *ut_wide_stream(sf_stream *inner);

/* Records of partition p below offset `below` are no longer read. */
void ut_wide_hide(sf_stream *s, uint32_t p, uint64_t below);

/* Show only the first n partitions (0: all), as a Kinesis stream before a
 * reshard added the others: appends into the others still land, their
 * callbacks naming partitions the stream did not have yet. */
void ut_wide_show(sf_stream *s, uint32_t n);

#endif
