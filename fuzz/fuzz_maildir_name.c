/*
 * fuzz_maildir_name.c: libFuzzer harness for Maildir names: the ,S= and
 * ,W= size fields (maildir_name_sizes), the delivery time
 * (maildir_name_time), the info flags (flags_parse, flags_format), the
 * listing order, and the rename of a message marked seen.  Input: two
 * octets of marks, then up to four file names separated by "/", created
 * in a fresh temporary Maildir, listed, marked, committed and checked.
 * It must never touch a Maildir but its own.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/common.h"
#include "server/limits.h"
#include "storage/flags.h"
#include "storage/maildir.h"

#define NAMES_MAX	4
#define NAME_LEN_MAX	255	/* NAME_MAX on Linux and the BSDs */

/* Every file holds this message; its network size is MESSAGE_SIZE. */
static const char MESSAGE[] = "Subject: x\n\nbody\n";
#define MESSAGE_SIZE	20

static char	 md[PATH_MAX];

/* One name of the input. */
struct name {
	char	 s[NAME_LEN_MAX + 1];
	bool	 cur;		/* created in cur/, not new/ */
	bool	 seen, deleted;	/* marks to set */
	bool	 made;		/* the file was created */
	bool	 listed;	/* maildrop_open() listed it */
};

/* fresh: an empty Maildir, no index, lock or keywords left over. */
static void
fresh(void)
{
	static const char *const subs[] = { "new", "cur", "tmp" };
	char	 path[PATH_MAX];
	size_t	 i;

	FUZZ_CHECK(fuzz_empty_dir(md) == 0);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		fuzz_path(path, sizeof(path), md, subs[i]);
		FUZZ_CHECK(mkdir(path, 0700) == 0);
	}
}

/* LLVMFuzzerInitialize: an empty temporary Maildir. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init("fuzz_maildir_name");
	fuzz_path(md, sizeof(md), fuzz_tempdir("maildir"), "Maildir");
	FUZZ_CHECK(mkdir(md, 0700) == 0);
	fresh();
	return 0;
}

/* model_size: a size field's value worked out another way: 1 to 19
 * digits after leading zeros, no larger than the largest off_t nor than
 * MAIL_SIZE_MAX (server/limits.h), else -1. */
static off_t
model_size(const char *s, size_t len)
{
	static const char max[] = "9223372036854775807";
	off_t	 v = 0;
	size_t	 i;

	_Static_assert(sizeof(off_t) == 8, "off_t has 64 bits");
	if (len == 0)
		return -1;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	while (len > 1 && *s == '0') {
		s++;
		len--;
	}
	if (len > 19 || (len == 19 && memcmp(s, max, 19) > 0))
		return -1;
	for (i = 0; i < len; i++)
		v = v * 10 + (s[i] - '0');
	return v > MAIL_SIZE_MAX ? -1 : v;
}

/* check_sizes: maildir_name_sizes() against the rule of maildir.h: the
 * first S= and first W= field of the part before ':' after the unique
 * name, each -1 when absent or malformed. */
static void
check_sizes(const char *base, size_t len)
{
	off_t		 s, w, ms = -1, mw = -1;
	size_t		 i, j, end;
	bool		 have_s = false, have_w = false;

	maildir_name_sizes(base, len, &s, &w);
	for (end = 0; end < len && base[end] != ':'; end++)
		;
	/* Fields start after each ','; the first field is skipped. */
	for (i = 0; i < end; i++) {
		if (base[i] != ',')
			continue;
		for (j = i + 1; j < end && base[j] != ','; j++)
			;
		if (j - i - 1 >= 2 && base[i + 2] == '=') {
			if (base[i + 1] == 'S' && !have_s) {
				have_s = true;
				ms = model_size(base + i + 3, j - i - 3);
			} else if (base[i + 1] == 'W' && !have_w) {
				have_w = true;
				mw = model_size(base + i + 3, j - i - 3);
			}
		}
	}
	FUZZ_CHECK(s == ms);
	FUZZ_CHECK(w == mw);
	maildir_name_sizes(base, len, NULL, NULL);
}

/* check_time: maildir_name_time() against its rule: the digits a name
 * starts with, when a '.' follows them; maildir.c takes at most eleven
 * (the year 5138), more are no time. */
static void
check_time(const char *base, size_t len)
{
	time_t	 t = maildir_name_time(base, len), v = 0;
	size_t	 d;

	for (d = 0; d < len && base[d] >= '0' && base[d] <= '9'; d++)
		if (d < 11)
			v = v * 10 + (base[d] - '0');
	if (d == 0 || d > 11 || d == len || base[d] != '.')
		FUZZ_CHECK(t == -1);
	else
		FUZZ_CHECK(t == v);
}

/* check_flags: flags_parse() against flags.h's rule, and flags_format()
 * of what it parsed reads back the same, in order, without repeats. */
static void
check_flags(const char *info)
{
	char		 out[FLAGS_INFO_MAX], *p;
	uint32_t	 f, k, f2, k2;
	const char	*c;
	bool		 ok = true;
	size_t		 n;

	if (*info != '\0') {
		ok = strncmp(info, ":2,", 3) == 0;
		for (c = info + 3; ok && *c != '\0'; c++)
			ok = (*c >= 'A' && *c <= 'Z') ||
			    (*c >= 'a' && *c <= 'z');
	}
	FUZZ_CHECK(flags_parse(info, &f, &k) == (ok ? 0 : -1));
	if (!ok) {
		FUZZ_CHECK(f == 0 && k == 0);
		return;
	}
	n = flags_format(f, k, out);
	FUZZ_CHECK(n == strlen(out) && n < sizeof(out));
	FUZZ_CHECK(strncmp(out, ":2,", 3) == 0);
	for (p = out + 3; *p != '\0'; p++) {
		FUZZ_CHECK(p == out + 3 ||
		    (unsigned char)p[-1] < (unsigned char)*p);
		FUZZ_CHECK(strchr(info, *p) != NULL);
	}
	for (c = *info ? info + 3 : ""; *c != '\0'; c++)
		FUZZ_CHECK(strchr(out + 3, *c) != NULL);
	FUZZ_CHECK(flags_parse(out, &f2, &k2) == 0 && f2 == f && k2 == k);
}

/* parse: splits the input into names with their flags; returns how many. */
static int
parse(const uint8_t *data, size_t size, struct name *n)
{
	size_t	 i, l;
	int	 k = 0;

	if (size < 2)
		return 0;
	memset(n, 0, sizeof(*n) * NAMES_MAX);
	for (i = 2; i <= size && k < NAMES_MAX; k++) {
		for (l = 0; i + l < size && data[i + l] != '/'; l++)
			if (l < NAME_LEN_MAX)
				n[k].s[l] = data[i + l] == '\0' ? '_' :
				    (char)data[i + l];
		n[k].s[l < NAME_LEN_MAX ? l : NAME_LEN_MAX] = '\0';
		n[k].cur = data[0] >> k & 1;
		n[k].seen = data[0] >> (k + 4) & 1;
		n[k].deleted = data[1] >> k & 1;
		i += l + 1;
	}
	return k;
}

/* order: the listing order written another way: the leading decimal
 * number by value, then the base name's octets, shorter first. */
static int
order(const struct mail *a, const struct mail *b)
{
	const char	*pa = mail_base(a), *pb = mail_base(b);
	size_t		 da = 0, db = 0, za, zb, n;
	int		 r;

	while (da < a->baselen && pa[da] >= '0' && pa[da] <= '9')
		da++;
	while (db < b->baselen && pb[db] >= '0' && pb[db] <= '9')
		db++;
	for (za = 0; za < da && pa[za] == '0'; za++)
		;
	for (zb = 0; zb < db && pb[zb] == '0'; zb++)
		;
	if (da - za != db - zb)
		return da - za < db - zb ? -1 : 1;
	if ((r = memcmp(pa + za, pb + zb, da - za)) != 0)
		return r;
	n = a->baselen < b->baselen ? a->baselen : b->baselen;
	if ((r = memcmp(pa, pb, n)) != 0)
		return r;
	return a->baselen < b->baselen ? -1 : a->baselen > b->baselen;
}

/* make: creates the file of name n; false if the name cannot be one. */
static bool
make(struct name *n)
{
	char	 path[PATH_MAX + NAME_LEN_MAX + 8];
	int	 fd, len;

	if (n->s[0] == '\0' || strcmp(n->s, ".") == 0 ||
	    strcmp(n->s, "..") == 0)
		return false;
	len = snprintf(path, sizeof(path), "%s/%s/%s", md,
	    n->cur ? "cur" : "new", n->s);
	FUZZ_CHECK(len > 0 && (size_t)len < sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		FUZZ_CHECK(errno == EEXIST);	/* the same name twice */
		return false;
	}
	FUZZ_CHECK(write(fd, MESSAGE, sizeof(MESSAGE) - 1) ==
	    (ssize_t)sizeof(MESSAGE) - 1);
	FUZZ_CHECK(close(fd) == 0);
	return true;
}

/* exists: whether md/sub/name is there. */
static bool
exists(const char *sub, const char *name, size_t namelen,
    const char *suffix)
{
	char		 path[PATH_MAX + 2 * NAME_LEN_MAX];
	struct stat	 st;
	int		 len;

	len = snprintf(path, sizeof(path), "%s/%s/%.*s%s", md, sub,
	    (int)namelen, name, suffix);
	FUZZ_CHECK(len > 0 && (size_t)len < sizeof(path));
	return lstat(path, &st) == 0;
}

/* check_commit: the files after maildrop_commit(): deleted ones gone,
 * seen ones in cur/ with the S flag added to the flags they had, unless
 * their info is not ":2," and letters, which is left alone. */
static void
check_commit(const struct name *n, int k)
{
	char		 info[FLAGS_INFO_MAX];
	uint32_t	 f, kw;
	size_t		 baselen;
	int		 i;

	for (i = 0; i < k; i++) {
		if (!n[i].listed)
			continue;
		if (n[i].deleted) {
			FUZZ_CHECK(!exists(n[i].cur ? "cur" : "new", n[i].s,
			    strlen(n[i].s), ""));
			continue;
		}
		if (!n[i].seen)
			continue;
		baselen = strcspn(n[i].s, ":");
		if (flags_parse(n[i].s + baselen, &f, &kw) == -1 ||
		    (n[i].cur && (f & FLAG_SEEN))) {
			FUZZ_CHECK(exists(n[i].cur ? "cur" : "new", n[i].s,
			    strlen(n[i].s), ""));
			continue;
		}
		(void)flags_format(f | FLAG_SEEN, kw, info);
		if (baselen + strlen(info) <= NAME_LEN_MAX)
			FUZZ_CHECK(exists("cur", n[i].s, baselen, info));
	}
}

/* has_control: whether s holds an octet below 0x20 or DEL, which
 * maildir.c skips. */
static bool
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* check_list: what maildrop_open() listed, against the files made. */
static void
check_list(struct maildrop *m, struct name *n, int k)
{
	off_t		 s, w, total = 0;
	uint32_t	 f, kw;
	size_t		 i;
	int		 j, fd, bad;

	for (i = 0; i < m->count; i++) {
		struct mail *ml = &m->mail[i];

		FUZZ_CHECK(strncmp(ml->name, "new/", 4) == 0 ||
		    strncmp(ml->name, "cur/", 4) == 0);
		FUZZ_CHECK(ml->baselen > 0 &&
		    ml->baselen == strcspn(mail_base(ml), ":"));
		/* Flags as the name says; UIDs in listing order. */
		bad = flags_parse(mail_base(ml) + ml->baselen, &f, &kw);
		FUZZ_CHECK((ml->flags & ~MAIL_BADINFO) == 0);
		FUZZ_CHECK(((ml->flags & MAIL_BADINFO) != 0) == (bad == -1));
		FUZZ_CHECK(ml->mflags == f && ml->keywords == kw);
		/* A fresh Maildir is listed in delivery order. */
		if (i > 0) {
			FUZZ_CHECK(order(&m->mail[i - 1], ml) < 0);
			FUZZ_CHECK(ml->uid == 0 ||
			    ml->uid > m->mail[i - 1].uid);
		}
		maildir_name_sizes(mail_base(ml), ml->baselen, &s, &w);
		FUZZ_CHECK(ml->size == (w >= 0 ? w : MESSAGE_SIZE));
		total += ml->size;
		FUZZ_CHECK((fd = maildrop_open_mail(m, i, NULL)) != -1);
		close(fd);
		for (j = 0; j < k; j++)
			if (n[j].made && !n[j].listed &&
			    strcmp(ml->name + 4, n[j].s) == 0 &&
			    (ml->name[0] == 'c') == n[j].cur)
				break;
		FUZZ_CHECK(j < k);
		n[j].listed = true;
		if (n[j].seen)
			ml->flags |= MAIL_SEEN;
		if (n[j].deleted)
			ml->flags |= MAIL_DELETED;
	}
	FUZZ_CHECK(m->size == total);
	/* Every file whose name is listable has its base listed once; a
	 * name with a control character is not. */
	for (j = 0; j < k; j++) {
		if (!n[j].made || n[j].s[0] == '.' || n[j].s[0] == ':' ||
		    has_control(n[j].s))
			continue;
		for (i = 0; i < m->count; i++)
			if (m->mail[i].baselen == strcspn(n[j].s, ":") &&
			    memcmp(mail_base(&m->mail[i]), n[j].s,
			    m->mail[i].baselen) == 0)
				break;
		FUZZ_CHECK(i < m->count);
	}
}

/* LLVMFuzzerTestOneInput: the names, checked alone, then as files. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct name	 n[NAMES_MAX];
	struct maildrop	*m = NULL;
	size_t		 failed = 1;
	int		 k, i;

	check_sizes((const char *)data, size);
	if ((k = parse(data, size, n)) == 0)
		return 0;
	for (i = 0; i < k; i++) {
		check_sizes(n[i].s, strlen(n[i].s));
		check_time(n[i].s, strlen(n[i].s));
		check_flags(n[i].s + strcspn(n[i].s, ":"));
		n[i].made = make(&n[i]);
	}
	FUZZ_CHECK(maildrop_open(md, NULL, &m) == 0 && m != NULL);
	check_list(m, n, k);
	FUZZ_CHECK(maildrop_commit(m, &failed) == 0 && failed == 0);
	maildrop_close(&m);
	FUZZ_CHECK(m == NULL);
	check_commit(n, k);
	fresh();
	return 0;
}
