/*
 * uidl.c: the POP3 unique-id of a message, made from pop3_uidl_format.
 * It only formats: it must never read a message, and never return a
 * unique-id that breaks RFC 1939's 1 to 70 characters 0x21-0x7e.
 */
#include <sys/types.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "protocols/uidl.h"
#include "server/limits.h"
#include "storage/maildir.h"

/* Working room: a format may expand beyond a valid unique-id before it is
 * found too long and digested. */
#define UIDL_WORK	1024

/* One escape of the format. */
struct esc {
	bool	 zero;		/* '0': pad with zeros */
	int	 width;		/* 0: none */
	bool	 hex;		/* 'X' */
	char	 conv;		/* f u v g % */
};

/* Parses the escape after a '%' at *pp into e; advances *pp.  -1 with
 * *err_r set when it is not one. */
static int
parse_esc(const char **pp, struct esc *e, const char **err_r)
{
	const char	*p = *pp;

	memset(e, 0, sizeof(*e));
	if (*p == '0') {
		e->zero = true;
		p++;
	}
	while (*p >= '0' && *p <= '9') {
		e->width = e->width * 10 + (*p++ - '0');
		if (e->width > UIDL_MAX) {
			*err_r = "a width over 70 in pop3_uidl_format";
			return -1;
		}
	}
	if (e->zero && e->width == 0) {
		*err_r = "a '0' without a width in pop3_uidl_format";
		return -1;
	}
	if (*p == 'X') {
		e->hex = true;
		p++;
	}
	e->conv = *p;
	if (e->conv == '\0') {
		*err_r = "pop3_uidl_format ends in the middle of a % escape";
		return -1;
	}
	if (strchr("fuvg%", e->conv) == NULL) {
		*err_r = "pop3_uidl_format has an unknown % escape: only %f, "
		    "%u, %v, %g and %% are known";
		return -1;
	}
	if ((e->hex || e->zero) && (e->conv == 'f' || e->conv == '%')) {
		*err_r = "'0' and 'X' in pop3_uidl_format are only for %u, "
		    "%v and %g";
		return -1;
	}
	if (e->width > 0 && e->conv == '%') {
		*err_r = "a width on %% in pop3_uidl_format";
		return -1;
	}
	*pp = p + 1;
	return 0;
}

/* Checks a format. */
int
uidl_check(const char *fmt, const char **err_r)
{
	struct esc	 e;
	const char	*p;
	int		 needs = 0;
	bool		 any = false;

	if (strlen(fmt) > UIDL_FORMAT_MAX) {
		*err_r = "pop3_uidl_format is too long";
		return -1;
	}
	for (p = fmt; *p != '\0';) {
		if (*p != '%') {
			if (*p < 0x21 || *p > 0x7e) {
				*err_r = "pop3_uidl_format may only hold "
				    "characters from 0x21 to 0x7e";
				return -1;
			}
			p++;
			continue;
		}
		p++;
		if (parse_esc(&p, &e, err_r) == -1)
			return -1;
		if (e.conv == 'u' || e.conv == 'v')
			needs |= UIDL_NEEDS_UIDS;
		else if (e.conv == 'g')
			needs |= UIDL_NEEDS_GIDS;
		if (e.conv == 'f' || e.conv == 'u' || e.conv == 'g')
			any = true;
	}
	if (!any) {
		*err_r = "pop3_uidl_format needs %f, %u or %g: every message "
		    "would have the same unique-id";
		return -1;
	}
	return needs;
}

/* Appends one expanded escape to out (len used of size). */
static void
put_esc(const struct esc *e, const struct mail *m, uint32_t uidvalidity,
    char *out, size_t *len, size_t size)
{
	char		 num[32];
	const char	*v;
	size_t		 vlen, n;
	uint32_t	 x;
	int		 k;

	if (e->conv == '%') {
		v = "%";
		vlen = 1;
	} else if (e->conv == 'f') {
		v = mail_base(m);
		vlen = m->baselen;
	} else {
		x = e->conv == 'u' ? m->uid : e->conv == 'v' ? uidvalidity :
		    m->gid;
		k = snprintf(num, sizeof(num), e->hex ? "%0*x" : "%0*u",
		    e->zero ? e->width : 0, x);
		if (k < 0 || (size_t)k >= sizeof(num))
			k = 0;
		v = num;
		vlen = (size_t)k;
	}
	if (!e->zero && e->width > 0 && vlen > (size_t)e->width)
		vlen = (size_t)e->width;
	n = size - 1 - *len;
	if (vlen > n)
		vlen = n;
	memcpy(out + *len, v, vlen);
	*len += vlen;
}

/* Whether s (len octets) is a valid unique-id. */
static bool
uidl_valid(const char *s, size_t len)
{
	size_t	 i;

	if (len < 1 || len > UIDL_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

/* Writes m's unique-id. */
void
uidl_format(const char *fmt, const struct mail *m, uint32_t uidvalidity,
    char *out, size_t outlen)
{
	unsigned char	 md[SHA256_DIGEST_LENGTH];
	char		 work[UIDL_WORK];
	const char	*p, *err;
	struct esc	 e;
	size_t		 len = 0, i;

	for (p = fmt; *p != '\0' && len < sizeof(work) - 1;) {
		if (*p != '%') {
			work[len++] = *p++;
			continue;
		}
		p++;
		if (parse_esc(&p, &e, &err) == -1)
			break;		/* checked at load: cannot happen */
		put_esc(&e, m, uidvalidity, work, &len, sizeof(work));
	}
	if (uidl_valid(work, len) && len < outlen) {
		memcpy(out, work, len);
		out[len] = '\0';
		return;
	}
	SHA256((const unsigned char *)work, len, md);
	out[0] = 'h';
	out[1] = '\0';
	for (i = 0; i < 16 && 2 * i + 2 < outlen; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
}
