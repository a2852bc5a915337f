/*
 * fuzz_base64.c: libFuzzer harness for server/base64.c and the SASL
 * exchanges of server/sasl.c fed arbitrary base64 lines.  Decoding is
 * checked against a model written another way (and the encoder against
 * the decoder, both ways); an exchange against what its mechanism's
 * responses decode to.  It never writes a file and keeps no state.
 */
#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/common.h"
#include "server/base64.h"
#include "server/limits.h"
#include "server/sasl.h"

/* Octet 0: what the rest of the input is. */
#define MODE_MASK	0x03
#define MODE_DECODE	0x00	/* text to decode (then encode again) */
#define MODE_ENCODE	0x01	/* octets to encode (then decode again) */
#define MODE_PLAIN	0x02	/* PLAIN responses, one a line */
#define MODE_LOGIN	0x03	/* LOGIN responses, one a line */
#define FLAG_IR		0x04	/* the first line is the initial response */
#define FLAG_TIGHT	0x08	/* decode into just enough room */

static const char ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* model_decode: the strict RFC 4648 decoding written the slow way: the
 * octets into out (room enough), their number, or -1 if not canonical. */
static ssize_t
model_decode(const char *in, size_t len, uint8_t *out)
{
	const char	*p;
	uint32_t	 v;
	size_t		 i, j, pad = 0, n = 0;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		v = 0;
		for (j = 0; j < 4; j++) {
			if (in[i + j] == '=' && i + 4 == len && j >= 2 &&
			    (j == 3 || in[i + 3] == '=')) {
				pad++;
				v <<= 6;
				continue;
			}
			if (in[i + j] == '\0' || pad > 0 ||
			    (p = strchr(ALPHABET, in[i + j])) == NULL)
				return -1;
			v = (v << 6) | (uint32_t)(p - ALPHABET);
		}
		/* Pad bits must be zero. */
		if ((pad == 1 && (v & 0xff) != 0) ||
		    (pad == 2 && (v & 0xffff) != 0))
			return -1;
		out[n++] = (uint8_t)(v >> 16);
		if (pad < 2)
			out[n++] = (uint8_t)(v >> 8);
		if (pad < 1)
			out[n++] = (uint8_t)v;
	}
	return (ssize_t)n;
}

/* all_zero: whether len octets of p are zero. */
static bool
all_zero(const void *p, size_t len)
{
	const uint8_t	*q = p;
	size_t		 i;

	for (i = 0; i < len; i++)
		if (q[i] != 0)
			return false;
	return true;
}

/* check_decode: base64_decode on text against the model; what decodes
 * must encode back to text itself. */
static void
check_decode(const char *text, size_t len, bool tight)
{
	uint8_t		*out, *model;
	char		*enc;
	size_t		 room = len / 4 * 3 + 1, enclen;
	ssize_t		 n, m;

	FUZZ_CHECK((out = malloc(room)) != NULL);
	FUZZ_CHECK((model = malloc(room)) != NULL);
	m = model_decode(text, len, model);
	memset(out, 0xa5, room);
	n = base64_decode(text, len, out, room);
	if (m < 0) {
		FUZZ_CHECK(n == BASE64_INVALID);
		FUZZ_CHECK(all_zero(out, room));
		goto done;
	}
	FUZZ_CHECK(n == m);
	FUZZ_CHECK(memcmp(out, model, (size_t)n) == 0);
	FUZZ_CHECK(out[n] == 0);		/* room was left */
	/* Just enough room: no NUL; one octet less: too long, zeroed. */
	if (tight && n > 0) {
		memset(out, 0xa5, room);
		FUZZ_CHECK(base64_decode(text, len, out, (size_t)n) == n);
		FUZZ_CHECK(memcmp(out, model, (size_t)n) == 0);
		FUZZ_CHECK(out[n] == 0xa5);
		memset(out, 0xa5, room);
		FUZZ_CHECK(base64_decode(text, len, out, (size_t)n - 1) ==
		    BASE64_TOOLONG);
		FUZZ_CHECK(all_zero(out, (size_t)n - 1));
	}
	/* Canonical: one meaning, so the encoding is the text itself. */
	enclen = BASE64_ENCODED_SIZE((size_t)n);
	FUZZ_CHECK((enc = malloc(enclen)) != NULL);
	FUZZ_CHECK(base64_encode(model, (size_t)n, enc, enclen) ==
	    (ssize_t)len);
	FUZZ_CHECK(memcmp(enc, text, len) == 0 && enc[len] == '\0');
	free(enc);
done:
	free(model);
	free(out);
}

/* check_encode: octets encode to BASE64_ENCODED_SIZE - 1 characters of
 * the alphabet that decode back; one octet less room is refused. */
static void
check_encode(const uint8_t *data, size_t len)
{
	size_t		 enclen = BASE64_ENCODED_SIZE(len), i;
	uint8_t		*back;
	char		*enc;
	ssize_t		 n;

	FUZZ_CHECK((enc = malloc(enclen)) != NULL);
	FUZZ_CHECK((back = malloc(len + 1)) != NULL);
	n = base64_encode(data, len, enc, enclen);
	FUZZ_CHECK(n >= 0 && (size_t)n == enclen - 1 && enc[n] == '\0');
	for (i = 0; i < (size_t)n; i++)
		FUZZ_CHECK(strchr(ALPHABET, enc[i]) != NULL ||
		    (enc[i] == '=' && i + 2 >= (size_t)n));
	FUZZ_CHECK(base64_decode(enc, (size_t)n, back, len + 1) ==
	    (ssize_t)len);
	FUZZ_CHECK(memcmp(back, data, len) == 0);
	FUZZ_CHECK(base64_encode(data, len, enc, enclen - 1) ==
	    BASE64_TOOLONG);
	FUZZ_CHECK(enc[0] == '\0');
	free(back);
	free(enc);
}

/* check_challenge: a CONTINUE's challenge is the mechanism's prompt in
 * base64. */
static void
check_challenge(const struct sasl *sa)
{
	char	 buf[SASL_CHALLENGE_MAX];
	ssize_t	 n;

	n = base64_decode(sa->challenge, strlen(sa->challenge), buf,
	    sizeof(buf) - 1);
	FUZZ_CHECK(n >= 0);
	buf[n] = '\0';
	if (sa->mech == SASL_PLAIN)
		FUZZ_CHECK(n == 0);
	else
		FUZZ_CHECK(strcmp(buf, sa->step == 0 ? "Username:" :
		    "Password:") == 0);
}

/* check_field: a decoded field as sasl.h fills it: 1 to max octets, no
 * NUL, equal to the model's len octets at p. */
static void
check_field(const char *got, size_t max, const uint8_t *p, size_t len)
{
	FUZZ_CHECK(len > 0 && len <= max);
	FUZZ_CHECK(strlen(got) == len && memcmp(got, p, len) == 0);
}

/*
 * check_response: what the exchange answered to one response, against
 * the model's decoding of it.  step is the LOGIN step it answered.
 */
static void
check_response(const struct sasl *sa, enum sasl_status st, const char *b64,
    int step)
{
	uint8_t		*m;
	const uint8_t	*z1, *z2;
	size_t		 len = strlen(b64);
	ssize_t		 n;

	FUZZ_CHECK((m = malloc(len / 4 * 3 + 1)) != NULL);
	n = model_decode(b64, len, m);
	switch (st) {
	case SASL_BAD_BASE64:
		FUZZ_CHECK(n < 0);
		break;
	case SASL_CONTINUE:
		FUZZ_CHECK(sa->mech == SASL_LOGIN && step == 0 &&
		    sa->step == 1);
		check_field(sa->authcid, USER_MAX, m, (size_t)n);
		break;
	case SASL_DONE:
		FUZZ_CHECK(n >= 0);
		if (sa->mech == SASL_LOGIN) {
			FUZZ_CHECK(step == 1);
			check_field(sa->passwd, PASSWORD_MAX, m, (size_t)n);
			break;
		}
		/* PLAIN: authzid NUL authcid NUL passwd, the authzid
		 * empty or the authcid. */
		FUZZ_CHECK((z1 = memchr(m, '\0', (size_t)n)) != NULL);
		FUZZ_CHECK((z2 = memchr(z1 + 1, '\0',
		    (size_t)(m + n - z1 - 1))) != NULL);
		check_field(sa->authcid, USER_MAX, z1 + 1,
		    (size_t)(z2 - z1 - 1));
		check_field(sa->passwd, PASSWORD_MAX, z2 + 1,
		    (size_t)(m + n - z2 - 1));
		FUZZ_CHECK(z1 == m || ((size_t)(z1 - m) ==
		    strlen(sa->authcid) && memcmp(m, sa->authcid,
		    (size_t)(z1 - m)) == 0));
		break;
	case SASL_AUTHZID:
		FUZZ_CHECK(sa->mech == SASL_PLAIN && n > 0 && m[0] != 0);
		FUZZ_CHECK(sa->authcid[0] != '\0');
		FUZZ_CHECK(all_zero(sa->passwd, sizeof(sa->passwd)));
		break;
	case SASL_MALFORMED:
	case SASL_CANCELLED:
		FUZZ_CHECK(all_zero(sa, sizeof(*sa)));
		break;
	}
	if (st == SASL_BAD_BASE64)
		FUZZ_CHECK(all_zero(sa, sizeof(*sa)));
	free(m);
}

/* next_line: the next line of *p (before end), its "\r\n" or "\n" cut,
 * as a NUL-terminated copy in buf of room len; NULL at the end. */
static char *
next_line(const uint8_t **p, const uint8_t *end, char *buf, size_t len)
{
	const uint8_t	*nl;
	size_t		 n;

	if (*p >= end)
		return NULL;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	n = (size_t)((nl != NULL ? nl : end) - *p);
	if (n > 0 && (*p)[n - 1] == '\r')
		n--;
	if (n >= len)
		n = len - 1;
	memcpy(buf, *p, n);
	buf[n] = '\0';
	*p = nl != NULL ? nl + 1 : end;
	return buf;
}

/* run_sasl: one exchange of mech on the input's lines. */
static void
run_sasl(enum sasl_mech mech, bool ir, const uint8_t *p, const uint8_t *end)
{
	static char	 line[8192];
	struct sasl	 sa;
	enum sasl_status st;
	const char	*l;
	int		 step;

	memset(&sa, 0x5a, sizeof(sa));
	if (ir && (l = next_line(&p, end, line, sizeof(line))) != NULL) {
		st = sasl_start(&sa, mech, l);
		FUZZ_CHECK((st != SASL_CONTINUE && st != SASL_DONE) ||
		    sa.mech == mech);
		check_response(&sa, st, strcmp(l, "=") == 0 ? "" : l, 0);
	} else {
		st = sasl_start(&sa, mech, NULL);
		FUZZ_CHECK(st == SASL_CONTINUE && sa.step == 0);
		FUZZ_CHECK(sa.authcid[0] == '\0' && sa.passwd[0] == '\0');
	}
	while (st == SASL_CONTINUE) {
		check_challenge(&sa);
		if ((l = next_line(&p, end, line, sizeof(line))) == NULL)
			break;
		step = sa.step;
		st = sasl_step(&sa, l);
		if (strcmp(l, "*") == 0)
			FUZZ_CHECK(st == SASL_CANCELLED);
		check_response(&sa, st, l, step);
	}
	sasl_clear(&sa);
	FUZZ_CHECK(all_zero(&sa, sizeof(sa)));
}

/* LLVMFuzzerInitialize: quiet logging; the mechanisms' names. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init("fuzz_base64");
	FUZZ_CHECK(sasl_mech_find("plain") == SASL_PLAIN);
	FUZZ_CHECK(sasl_mech_find("LOGIN") == SASL_LOGIN);
	FUZZ_CHECK(sasl_mech_find("CRAM-MD5") == -1);
	FUZZ_CHECK(strcmp(sasl_mech_name(SASL_PLAIN), "PLAIN") == 0);
	FUZZ_CHECK(sasl_mech_name(SASL_NMECHS) == NULL);
	return 0;
}

/* LLVMFuzzerTestOneInput: one decoding, encoding or SASL exchange. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*text;
	unsigned flags;

	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	switch (flags & MODE_MASK) {
	case MODE_DECODE:
		/* A copy of exactly size octets, not NUL-terminated: a
		 * read past it is seen. */
		FUZZ_CHECK((text = malloc(size > 0 ? size : 1)) != NULL);
		memcpy(text, data, size);
		check_decode(text, size, (flags & FLAG_TIGHT) != 0);
		free(text);
		break;
	case MODE_ENCODE:
		check_encode(data, size);
		break;
	case MODE_PLAIN:
	case MODE_LOGIN:
		run_sasl((flags & MODE_MASK) == MODE_PLAIN ? SASL_PLAIN :
		    SASL_LOGIN, (flags & FLAG_IR) != 0, data, data + size);
		break;
	}
	return 0;
}
