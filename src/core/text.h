/*
 * text.h - text fields into records: UTF-8 validation and ISO-8859-1
 * conversion.
 *
 * Inputs arrive as UTF-8 (the bundled file) or as ISO-8859-1 (the widely
 * shared data.csv export writes '£' as the single byte 0xA3). Records always
 * hold valid UTF-8, so every text field passes through sf_text_copy, which
 * applies the decoder's encoding policy. Bytes are otherwise copied exactly:
 * no trimming, no normalisation.
 */
#ifndef SF_TEXT_H
#define SF_TEXT_H

#include <stdbool.h>
#include <stddef.h>

typedef enum sf_encoding {
    /* Each field that is valid UTF-8 is taken as UTF-8, any other as
     * ISO-8859-1. Latin-1 text is almost never valid UTF-8 by accident (it
     * would need a byte 0xC2-0xF4 followed by 0x80-0xBF), so this reads
     * both exports correctly; say latin1 to force it. */
    SF_ENC_AUTO = 0,
    SF_ENC_UTF8,   /* invalid UTF-8 is an error */
    SF_ENC_LATIN1, /* every byte is an ISO-8859-1 character */
} sf_encoding;

/* Parse "auto", "utf-8"/"utf8", "latin1"/"iso-8859-1"; -1 if unknown. */
int sf_encoding_parse(const char *name, sf_encoding *out);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool sf_utf8_valid(const char *s, size_t len);

/*
 * Copy src[0..len) into dst as UTF-8 under the policy enc, NUL-terminate it
 * and return the length written (<= cap). dst must hold cap + 1 bytes.
 * Returns -1 and sets *why when the text contains a NUL byte, is not valid
 * UTF-8 under SF_ENC_UTF8, or is longer than cap bytes once in UTF-8.
 */
int sf_text_copy(char *dst, size_t cap, const char *src, size_t len, sf_encoding enc,
                 const char **why);

#endif
