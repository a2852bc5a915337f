/*
 * base64.h: RFC 4648 base64 with the standard alphabet, as SASL
 * (RFC 4422) carries it in POP3, IMAP and MRP.  Decoding is strict: no
 * white space, no line breaks, padding exactly as RFC 4648 section 4
 * says, and pad bits zero (section 3.5), so that every input has one
 * meaning.
 */
#ifndef POSTERN_BASE64_H
#define POSTERN_BASE64_H

#include <sys/types.h>
#include <stddef.h>

/* base64_decode's failures. */
#define BASE64_INVALID	(-1)	/* not canonical base64 */
#define BASE64_TOOLONG	(-2)	/* the result would not fit in out */

/* Octets base64_encode writes for len octets, its NUL included. */
#define BASE64_ENCODED_SIZE(len)	(((len) + 2) / 3 * 4 + 1)

/*
 * Encodes len octets of in into out, NUL-terminated.  Returns the length
 * written (the NUL not counted), or BASE64_TOOLONG when outlen is smaller
 * than BASE64_ENCODED_SIZE(len) (out is then "").
 */
ssize_t	base64_encode(const void *in, size_t len, char *out, size_t outlen);

/*
 * Decodes inlen characters of in into out, which is NUL-terminated after
 * the result when room is left (the result may itself hold NULs).
 * Returns the number of octets decoded, BASE64_INVALID when in is not
 * canonical base64 (a character outside the alphabet, a length that is
 * not a multiple of 4, misplaced or excess '=', non-zero pad bits), or
 * BASE64_TOOLONG when the result needs more than outlen octets.  On a
 * failure out holds nothing of the input (it is zeroed).  An empty input
 * decodes to 0 octets.
 */
ssize_t	base64_decode(const char *in, size_t inlen, void *out,
	    size_t outlen);

#endif
