/*
 * test_flags.c: the information part of Maildir names (":2," and flag
 * letters in ASCII order), keyword names, and the keywords file in
 * Dovecot's layout, read from Dovecot's own file when Postern has none.
 */
#include "tests/unit/unit.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/flags.h"
#include "tests/unit/fixture.h"

/* The contents of name. */
static const char *
get(struct fx_dir *fx, const char *name)
{
	static char	 buf[8192];
	ssize_t		 n;
	int		 fd;

	fd = openat(fx->dirfd, name, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

/* Parsing and formatting agree, in ASCII order, repeats dropped. */
static void
test_parse_format(void **state)
{
	uint32_t	 f, k;
	char		 out[FLAGS_INFO_MAX];

	assert_int_equal(flags_parse("", &f, &k), 0);
	assert_int_equal(f, 0);
	assert_int_equal(k, 0);
	assert_int_equal(flags_parse(":2,", &f, &k), 0);
	assert_int_equal(flags_parse(":2,TSRPFD", &f, &k), 0);
	assert_int_equal(f, FLAGS_KNOWN);
	assert_int_equal(flags_format(f, k, out), 9);
	assert_string_equal(out, ":2,DFPRST");
	assert_int_equal(flags_parse(":2,SzaSbZ", &f, &k), 0);
	assert_int_equal(f, FLAG_SEEN | FLAG_BIT('Z'));
	assert_int_equal(k, KEYWORD_BIT(0) | KEYWORD_BIT(1) |
	    KEYWORD_BIT(25));
	(void)flags_format(f, k, out);
	assert_string_equal(out, ":2,SZabz");
	/* every letter: the longest */
	assert_int_equal(flags_format(0x3ffffff, 0x3ffffff, out),
	    FLAGS_INFO_MAX - 1);
	/* not ours: unknown */
	assert_int_equal(flags_parse(":1,S", &f, &k), -1);
	assert_int_equal(flags_parse(":2,S,", &f, &k), -1);
	assert_int_equal(flags_parse(":2,S1", &f, &k), -1);
	assert_int_equal(flags_parse(":x", &f, &k), -1);
	assert_int_equal(f, 0);
}

/* Keyword names are IMAP atoms. */
static void
test_keyword_valid(void **state)
{
	char	 longname[KEYWORD_LEN_MAX + 2];

	assert_true(keyword_valid("$Label1"));
	assert_true(keyword_valid("NonJunk"));
	assert_true(keyword_valid("a.b-c_d"));
	assert_false(keyword_valid(""));
	assert_false(keyword_valid("\\Seen"));
	assert_false(keyword_valid("two words"));
	assert_false(keyword_valid("paren("));
	assert_false(keyword_valid("quote\""));
	assert_false(keyword_valid("star*"));
	assert_false(keyword_valid("brack]"));
	assert_false(keyword_valid("brace{"));
	assert_false(keyword_valid("pct%"));
	assert_false(keyword_valid("del\x7f"));
	assert_false(keyword_valid("eight\xe9"));
	memset(longname, 'k', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(keyword_valid(longname));
	longname[KEYWORD_LEN_MAX] = '\0';
	assert_true(keyword_valid(longname));
}

/* The file: written in Dovecot's layout, read back, bad lines skipped;
 * Dovecot's own file read when Postern has none, never written. */
static void
test_keywords_file(void **state)
{
	struct fx_dir	*fx = *state;
	struct keywords	 kw;
	bool		 added;
	int		 i;

	assert_int_equal(keywords_read(fx->dirfd, fx->dir, &kw), 0);
	assert_int_equal(keywords_find(&kw, "x"), -1);
	assert_int_equal(keywords_add(&kw, "$Label1", &added), 0);
	assert_true(added);
	assert_int_equal(keywords_add(&kw, "$label1", &added), 0);
	assert_false(added);
	assert_int_equal(keywords_add(&kw, "Junk", &added), 1);
	assert_int_equal(keywords_add(&kw, "bad name", &added), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(keywords_write(fx->dirfd, fx->dir, &kw), 0);
	assert_string_equal(get(fx, KEYWORDS_FILE), "0 $Label1\n1 Junk\n");
	keywords_free(&kw);

	put(fx->dirfd, KEYWORDS_FILE, "0 $Label1\n3 Work\nx y\n30 Far\n"
	    "1 two words\n3 Again\n2 Late");
	assert_int_equal(keywords_read(fx->dirfd, fx->dir, &kw), 0);
	assert_int_equal(keywords_find(&kw, "$LABEL1"), 0);
	assert_int_equal(keywords_find(&kw, "Work"), 3);
	assert_int_equal(keywords_find(&kw, "Late"), 2);
	assert_int_equal(keywords_find(&kw, "Again"), -1);
	assert_null(kw.name[1]);
	/* the first free letter */
	assert_int_equal(keywords_add(&kw, "New", &added), 1);
	for (i = 4; i < KEYWORDS_MAX; i++) {
		char name[16];

		(void)snprintf(name, sizeof(name), "k%d", i);
		assert_int_equal(keywords_add(&kw, name, &added), i);
	}
	assert_int_equal(keywords_add(&kw, "one-too-many", &added), -1);
	assert_int_equal(errno, ENOSPC);
	keywords_free(&kw);

	/* Dovecot's file when Postern has none */
	assert_int_equal(unlinkat(fx->dirfd, KEYWORDS_FILE, 0), 0);
	put(fx->dirfd, KEYWORDS_DOVECOT, "0 $Forwarded\n1 $MDNSent\n");
	assert_int_equal(keywords_read(fx->dirfd, fx->dir, &kw), 0);
	assert_int_equal(keywords_find(&kw, "$MDNSent"), 1);
	assert_int_equal(keywords_add(&kw, "Mine", &added), 2);
	assert_int_equal(keywords_write(fx->dirfd, fx->dir, &kw), 0);
	keywords_free(&kw);
	assert_string_equal(get(fx, KEYWORDS_DOVECOT),
	    "0 $Forwarded\n1 $MDNSent\n");
	assert_string_equal(get(fx, KEYWORDS_FILE),
	    "0 $Forwarded\n1 $MDNSent\n2 Mine\n");
}

/* Writes a keywords file of len octets: "0 First" and blank lines. */
static void
put_padded(struct fx_dir *fx, size_t len)
{
	char	*text;

	assert_non_null(text = malloc(len + 1));
	memset(text, '\n', len);
	memcpy(text, "0 First\n", 8);
	text[len] = '\0';
	put(fx->dirfd, KEYWORDS_FILE, text);
	free(text);
}

/* A keywords file too large to be one of 26 keywords is refused
 * (EFBIG) whole, not read in part; one octet less is read. */
static void
test_keywords_too_big(void **state)
{
	struct fx_dir	*fx = *state;
	struct keywords	 kw;
	size_t		 max = KEYWORDS_MAX * (KEYWORD_LEN_MAX + 8);

	put_padded(fx, max);
	assert_int_equal(keywords_read(fx->dirfd, fx->dir, &kw), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(keywords_find(&kw, "First"), -1);
	put_padded(fx, max - 1);
	assert_int_equal(keywords_read(fx->dirfd, fx->dir, &kw), 0);
	assert_int_equal(keywords_find(&kw, "First"), 0);
	keywords_free(&kw);
}

/* A directory or a symlink as the keywords file is an error, not
 * followed and not taken for a missing file (Dovecot's is not read
 * instead); a FIFO reads as empty and does not hang. */
static void
test_keywords_not_regular(void **state)
{
	struct fx_dir	*fx = *state;
	struct keywords	 kw;

	put(fx->dirfd, "elsewhere", "0 Stolen\n");
	put(fx->dirfd, KEYWORDS_DOVECOT, "0 Dovecot\n");
	assert_int_equal(mkdirat(fx->dirfd, KEYWORDS_FILE, 0700), 0);
	assert_int_equal(keywords_read(fx->dirfd, fx->dir, &kw), -1);
	assert_int_equal(keywords_find(&kw, "Dovecot"), -1);
	assert_int_equal(unlinkat(fx->dirfd, KEYWORDS_FILE, AT_REMOVEDIR), 0);
	assert_int_equal(symlinkat("elsewhere", fx->dirfd, KEYWORDS_FILE), 0);
	assert_int_equal(keywords_read(fx->dirfd, fx->dir, &kw), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(keywords_find(&kw, "Stolen"), -1);
	assert_int_equal(keywords_find(&kw, "Dovecot"), -1);
	assert_int_equal(unlinkat(fx->dirfd, KEYWORDS_FILE, 0), 0);
	assert_int_equal(mkfifoat(fx->dirfd, KEYWORDS_FILE, 0600), 0);
	assert_int_equal(keywords_read(fx->dirfd, fx->dir, &kw), 0);
	assert_int_equal(keywords_find(&kw, "Dovecot"), -1);
}

/* When the temporary file cannot be made (a directory in its place),
 * the write fails and the keywords file stays as it was. */
static void
test_keywords_write_fails(void **state)
{
	struct fx_dir	*fx = *state;
	struct keywords	 kw;
	bool		 added;

	put(fx->dirfd, KEYWORDS_FILE, "0 Old\n");
	assert_int_equal(mkdirat(fx->dirfd, KEYWORDS_FILE ".tmp", 0700), 0);
	assert_int_equal(keywords_read(fx->dirfd, fx->dir, &kw), 0);
	assert_int_equal(keywords_add(&kw, "New", &added), 1);
	assert_int_equal(keywords_write(fx->dirfd, fx->dir, &kw), -1);
	keywords_free(&kw);
	assert_string_equal(get(fx, KEYWORDS_FILE), "0 Old\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_keyword_valid),
		cmocka_unit_test_setup_teardown(test_keywords_file,
		    fx_dir_setup, fx_dir_teardown),
		cmocka_unit_test_setup_teardown(test_keywords_too_big,
		    fx_dir_setup, fx_dir_teardown),
		cmocka_unit_test_setup_teardown(test_keywords_not_regular,
		    fx_dir_setup, fx_dir_teardown),
		cmocka_unit_test_setup_teardown(test_keywords_write_fails,
		    fx_dir_setup, fx_dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
