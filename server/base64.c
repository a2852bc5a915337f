/*
 * base64.c: RFC 4648 base64 encoding and strict decoding for SASL.  It
 * works on caller buffers only, allocates nothing, and never accepts two
 * spellings of the same octets.
 */
#include <string.h>

#include "server/base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of base64 character c, or -1. */
static int
value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Encodes len octets into base64 text. */
ssize_t
base64_encode(const void *in, size_t len, char *out, size_t outlen)
{
	const unsigned char	*p = in;
	size_t			 i, o = 0;
	unsigned long		 v;

	if (outlen == 0)
		return BASE64_TOOLONG;
	out[0] = '\0';
	if (len > (((size_t)-1) - 3) / 4 * 3 ||
	    outlen < BASE64_ENCODED_SIZE(len))
		return BASE64_TOOLONG;
	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8 |
		    p[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (i < len) {
		v = (unsigned long)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned long)p[i + 1] << 8;
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (ssize_t)o;
}

/* Decodes strict base64 text into octets. */
ssize_t
base64_decode(const char *in, size_t inlen, void *out, size_t outlen)
{
	const unsigned char	*s = (const unsigned char *)in;
	unsigned char		*o = out;
	size_t			 i, n = 0, pad = 0, need;
	unsigned long		 v;
	int			 j, d;

	if (inlen % 4 != 0)
		goto invalid;
	if (inlen >= 4) {
		if (s[inlen - 1] == '=')
			pad++;
		if (s[inlen - 2] == '=')
			pad++;
		/* "x=y=": a '=' before a data character. */
		if (pad == 1 && s[inlen - 2] == '=')
			goto invalid;
	}
	need = inlen / 4 * 3 - pad;
	if (need > outlen) {
		if (outlen > 0)
			memset(out, 0, outlen);
		return BASE64_TOOLONG;
	}
	for (i = 0; i < inlen; i += 4) {
		v = 0;
		for (j = 0; j < 4; j++) {
			/* '=' only in the last quantum's padding places. */
			if (s[i + j] == '=' && i + 4 == inlen &&
			    j >= 4 - (int)pad)
				d = 0;
			else if ((d = value(s[i + j])) < 0)
				goto invalid;
			v = v << 6 | (unsigned long)d;
		}
		o[n++] = (unsigned char)(v >> 16);
		if (i + 4 < inlen || pad < 2)
			o[n++] = (unsigned char)(v >> 8);
		if (i + 4 < inlen || pad < 1)
			o[n++] = (unsigned char)v;
		/* RFC 4648 3.5: the bits that padding leaves out are 0. */
		if (i + 4 == inlen && ((pad == 1 && (v & 0xff) != 0) ||
		    (pad == 2 && (v & 0xffff) != 0)))
			goto invalid;
	}
	if (n < outlen)
		o[n] = '\0';
	return (ssize_t)n;
invalid:
	if (outlen > 0)
		memset(out, 0, outlen);
	return BASE64_INVALID;
}
