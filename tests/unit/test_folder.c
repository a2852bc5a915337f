/*
 * test_folder.c: Maildir++ folders and the folder API that MRP and IMAP
 * use: create, list, rename and delete with bad names refused; flags by
 * rename and back; keywords by name; expunge; UIDs never given twice,
 * UIDVALIDITY that stays; copy and append; a folder session beside a
 * POP3 maildrop.  Every test works in its own temporary Maildir.
 */
#include "tests/unit/unit.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/flags.h"
#include "storage/folder.h"
#include "storage/index.h"
#include "storage/maildir.h"
#include "tests/unit/fixture.h"

/* True if rel exists in the Maildir (links not followed). */
static bool
exists(struct fx_dir *fx, const char *rel)
{
	struct stat	 st;

	return fstatat(fx->mdfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* The folders as one string, "INBOX,a,b". */
static const char *
listing(struct fx_dir *fx)
{
	static char	 out[1024];
	char		**names;
	size_t		 n, i;

	assert_int_equal(folder_list(fx->md, &names, &n), 0);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			(void)strlcat(out, ",", sizeof(out));
		(void)strlcat(out, names[i], sizeof(out));
	}
	folder_list_free(names, n);
	return out;
}

/* Opens a folder, which must work. */
static struct folder *
fopen_ok(struct fx_dir *fx, const char *name)
{
	struct folder	*f = NULL;

	assert_int_equal(folder_open(fx->md, name, &fx->opts, &f), 0);
	assert_non_null(f);
	return f;
}

/* Names from clients: only valid ones reach the file system. */
static void
test_names(void **state)
{
	static const char *const good[] = {
		"INBOX", "inbox", "Sent", "Sent Items", "a.b.c", "INBOX.Sent",
		"&AMk-t&AOk-", "x~y", "with:colon",
	};
	static const char *const bad[] = {
		"", ".", "..", ".hidden", "a..b", "trail.", "a/b", "../up",
		"INBOX.", "INBOX.INBOX", "tab\there", "nl\n", "\x7f",
		"caf\xc3\xa9",
		"inbox.inbox.x",
	};
	char	 longname[FOLDER_NAME_MAX + 2];
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(folder_name_valid(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(folder_name_valid(bad[i]));
	memset(longname, 'n', sizeof(longname) - 1);
	longname[FOLDER_NAME_MAX + 1] = '\0';
	assert_false(folder_name_valid(longname));
	longname[FOLDER_NAME_MAX] = '\0';
	assert_true(folder_name_valid(longname));
}

/* Create, list, rename (with children) and delete. */
static void
test_manage(void **state)
{
	struct fx_dir	*fx = *state;
	struct folder	*f;

	assert_string_equal(listing(fx), "INBOX");
	assert_int_equal(folder_create(fx->md, "Sent"), 0);
	assert_true(exists(fx, ".Sent/new"));
	assert_true(exists(fx, ".Sent/cur"));
	assert_true(exists(fx, ".Sent/tmp"));
	assert_true(exists(fx, ".Sent/" FOLDER_MARKER));
	assert_int_equal(folder_create(fx->md, "Sent"), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(folder_create(fx->md, "INBOX"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(folder_create(fx->md, "../escape"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(folder_create(fx->md, "a/b"), -1);
	assert_int_equal(errno, EINVAL);
	assert_false(exists(fx, "../escape"));
	assert_int_equal(folder_create(fx->md, "INBOX.Drafts"), 0);
	assert_true(exists(fx, ".Drafts"));
	assert_int_equal(folder_create(fx->md, "Lists.postern"), 0);
	assert_int_equal(folder_create(fx->md, "Lists"), 0);
	assert_int_equal(folder_create(fx->md, "Lists.postern.dev"), 0);
	/* other dot names are not folders */
	assert_int_equal(mkdirat(fx->mdfd, "..odd", 0700), 0);
	put(fx->mdfd, ".afile", "x");
	assert_string_equal(listing(fx),
	    "INBOX,Drafts,Lists,Lists.postern,Lists.postern.dev,Sent");

	/* a message in a child follows the rename */
	put(fx->mdfd, ".Lists.postern/new/1.a", "a\n");
	assert_int_equal(folder_rename(fx->md, "Lists", "Archive.Lists"),
	    0);
	assert_string_equal(listing(fx), "INBOX,Archive.Lists,"
	    "Archive.Lists.postern,Archive.Lists.postern.dev,Drafts,Sent");
	assert_true(exists(fx, ".Archive.Lists.postern/new/1.a"));
	assert_int_equal(folder_rename(fx->md, "Lists", "X"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(folder_rename(fx->md, "Sent", "Drafts"), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(folder_rename(fx->md, "Sent", "Sent.inner"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(folder_rename(fx->md, "INBOX", "Old"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(folder_rename(fx->md, "Sent", "a..b"), -1);
	assert_int_equal(errno, EINVAL);

	/* delete: the folder and its messages; children stay */
	f = fopen_ok(fx, "Archive.Lists.postern");
	assert_int_equal(f->count, 1);
	folder_close(&f);
	assert_int_equal(folder_delete(fx->md, "Archive.Lists"), 0);
	assert_int_equal(folder_delete(fx->md, "Archive.Lists"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(folder_delete(fx->md, "INBOX"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(folder_delete(fx->md, "Archive.Lists.postern"), 0);
	assert_string_equal(listing(fx),
	    "INBOX,Archive.Lists.postern.dev,Drafts,Sent");
	assert_false(exists(fx, ".Archive.Lists.postern"));
	/* nothing left behind in tmp/ */
	{
		DIR *dp = fdopendir(openat(fx->mdfd, "tmp", O_RDONLY |
		    O_DIRECTORY));
		struct dirent *d;
		int n = 0;

		assert_non_null(dp);
		while ((d = readdir(dp)) != NULL)
			if (d->d_name[0] != '.')
				n++;
		closedir(dp);
		assert_int_equal(n, 0);
	}

	/* open: missing, invalid, half made (crash while creating) */
	assert_int_equal(folder_open(fx->md, "Nope", &fx->opts, &f), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(folder_open(fx->md, "../x", &fx->opts, &f), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(mkdirat(fx->mdfd, ".Half", 0700), 0);
	f = fopen_ok(fx, "Half");
	assert_true(exists(fx, ".Half/cur"));
	folder_close(&f);
}

/* Flags: renamed into cur/ with the letters in order, other letters
 * kept, and back; UIDs unchanged. */
static void
test_flags_round_trip(void **state)
{
	struct fx_dir	*fx = *state;
	struct folder	*f;
	uint32_t	 uid;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "cur/2.b:2,ZS", "b\n");
	put(fx->mdfd, "cur/3.c:1,odd", "c\n");
	f = fopen_ok(fx, "INBOX");
	assert_int_equal(f->count, 3);
	uid = f->mail[0].uid;
	assert_int_equal(folder_set_flags(f, 0, FLAG_SEEN | FLAG_FLAGGED, 0,
	    0, 0), 0);
	assert_string_equal(f->mail[0].name, "cur/1.a:2,FS");
	assert_true(exists(fx, "cur/1.a:2,FS"));
	assert_int_equal(folder_set_flags(f, 0, FLAG_REPLIED, FLAG_SEEN, 0,
	    0), 0);
	assert_string_equal(f->mail[0].name, "cur/1.a:2,FR");
	assert_int_equal(folder_set_flags(f, 0, 0, FLAGS_KNOWN, 0, 0), 0);
	assert_string_equal(f->mail[0].name, "cur/1.a:2,");
	/* an unknown capital letter stays */
	assert_int_equal(folder_set_flags(f, 1, FLAG_DRAFT, FLAG_SEEN, 0, 0),
	    0);
	assert_string_equal(f->mail[1].name, "cur/2.b:2,DZ");
	/* unknown info: refused, untouched */
	assert_int_equal(folder_set_flags(f, 2, FLAG_SEEN, 0, 0, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_true(exists(fx, "cur/3.c:1,odd"));
	/* moved by another agent meanwhile: followed */
	assert_int_equal(renameat(fx->mdfd, "cur/1.a:2,", fx->mdfd,
	    "cur/1.a:2,T"), 0);
	assert_int_equal(folder_set_flags(f, 0, FLAG_SEEN, 0, 0, 0), 0);
	assert_string_equal(f->mail[0].name, "cur/1.a:2,ST");
	assert_int_equal(folder_set_flags(f, 9, FLAG_SEEN, 0, 0, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(folder_sync(f), 0);
	assert_int_equal(f->mail[0].uid, uid);
	assert_int_equal(f->mail[0].mflags, FLAG_SEEN | FLAG_TRASHED);
	folder_close(&f);
}

/* Keywords by name: letters given in order, the file written, the
 * letters in the names; another session sees them. */
static void
test_keywords(void **state)
{
	struct fx_dir	*fx = *state;
	struct folder	*f, *g;
	int		 a, b;

	put(fx->mdfd, "new/1.a", "a\n");
	f = fopen_ok(fx, "INBOX");
	assert_int_equal(folder_keyword(f, "$Label1", false), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(a = folder_keyword(f, "$Label1", true), 0);
	assert_int_equal(b = folder_keyword(f, "Work", true), 1);
	assert_int_equal(folder_keyword(f, "$label1", true), 0);
	assert_int_equal(folder_keyword(f, "no good", true), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(folder_set_flags(f, 0, FLAG_SEEN, 0,
	    KEYWORD_BIT(a) | KEYWORD_BIT(b), 0), 0);
	assert_string_equal(f->mail[0].name, "cur/1.a:2,Sab");
	g = fopen_ok(fx, "INBOX");
	assert_int_equal(folder_keyword(g, "Work", false), 1);
	assert_int_equal(g->mail[0].keywords, KEYWORD_BIT(0) |
	    KEYWORD_BIT(1));
	/* a keyword added by g: f finds it (the file is read again) */
	assert_int_equal(folder_keyword(g, "Later", true), 2);
	assert_int_equal(folder_keyword(f, "Other", true), 3);
	assert_int_equal(folder_keyword(f, "Later", false), 2);
	assert_int_equal(folder_set_flags(f, 0, 0, 0, 0, KEYWORD_BIT(a)), 0);
	assert_string_equal(f->mail[0].name, "cur/1.a:2,Sb");
	folder_close(&g);
	folder_close(&f);
}

/* Expunge removes exactly the T-flagged as they are on disk, drops
 * them from the index, and their UIDs never come back, not even for a
 * message delivered again under the same name. */
static void
test_expunge(void **state)
{
	struct fx_dir	*fx = *state;
	struct folder	*f;
	size_t		 n;
	uint32_t	 uidv;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "cur/2.b:2,ST", "b\n");
	put(fx->mdfd, "new/3.c", "c\n");
	put(fx->mdfd, "cur/4.d:2,S", "d\n");
	f = fopen_ok(fx, "INBOX");
	uidv = f->uidvalidity;
	assert_int_equal(f->nextuid, 5);
	/* flagged T by another agent since the listing */
	assert_int_equal(renameat(fx->mdfd, "cur/4.d:2,S", fx->mdfd,
	    "cur/4.d:2,ST"), 0);
	assert_int_equal(folder_expunge(f, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(f->count, 2);
	assert_int_equal(f->mail[0].uid, 1);
	assert_int_equal(f->mail[1].uid, 3);
	assert_false(exists(fx, "cur/2.b:2,ST"));
	assert_false(exists(fx, "cur/4.d:2,ST"));
	folder_close(&f);
	put(fx->mdfd, "new/2.b", "b again\n");
	put(fx->mdfd, "new/5.e", "e\n");
	f = fopen_ok(fx, "INBOX");
	assert_int_equal(f->uidvalidity, uidv);
	assert_int_equal(f->count, 4);
	assert_int_equal(f->mail[2].uid, 5);
	assert_int_equal(f->mail[3].uid, 6);
	assert_string_equal(f->mail[2].name, "new/2.b");
	assert_int_equal(folder_find_uid(f, 3), 1);
	assert_int_equal(folder_find_uid(f, 2), -1);
	assert_int_equal(folder_find_uid(f, 6), 3);
	assert_int_equal(folder_expunge(f, &n), 0);
	assert_int_equal(n, 0);
	folder_close(&f);
}

/* Copy keeps flags, keywords by name and times; new UIDs and global
 * IDs in the target; the source stays. */
static void
test_copy(void **state)
{
	struct fx_dir	*fx = *state;
	struct folder	*in, *sent;
	uint32_t	 uids[2];
	size_t		 which[2] = { 1, 0 };
	int		 k;

	put(fx->mdfd, "new/1000.a", "first\n");
	put(fx->mdfd, "new/2000.b", "second\n");
	assert_int_equal(folder_create(fx->md, "Sent"), 0);
	put(fx->mdfd, ".Sent/new/10.x", "x\n");
	in = fopen_ok(fx, "INBOX");
	sent = fopen_ok(fx, "Sent");
	k = folder_keyword(in, "Work", true);
	assert_int_equal(folder_set_flags(in, 1, FLAG_SEEN | FLAG_FLAGGED, 0,
	    KEYWORD_BIT(k), 0), 0);
	assert_int_equal(folder_keyword(sent, "Other", true), 0);
	assert_int_equal(folder_copy(in, which, 2, sent, uids), 0);
	assert_int_equal(sent->count, 3);
	assert_int_equal(uids[0], 2);
	assert_int_equal(uids[1], 3);
	assert_int_equal(sent->mail[1].uid, 2);
	assert_int_equal(sent->mail[1].time, 2000);
	assert_int_equal(sent->mail[2].time, 1000);
	assert_int_equal(sent->mail[1].mflags, FLAG_SEEN | FLAG_FLAGGED);
	/* "Work" is the second keyword in Sent */
	assert_int_equal(folder_keyword(sent, "Work", false), 1);
	assert_int_equal(sent->mail[1].keywords, KEYWORD_BIT(1));
	assert_int_equal(sent->mail[1].size, 8);
	assert_true(sent->mail[1].gid > in->mail[1].gid);
	assert_true(sent->mail[2].gid > sent->mail[1].gid);
	assert_int_equal(in->count, 2);
	{
		char	 buf[16];
		int	 fd = folder_open_mail(sent, 1);
		ssize_t	 n;

		assert_true(fd >= 0);
		n = read(fd, buf, sizeof(buf));
		assert_int_equal(n, 7);
		assert_int_equal(memcmp(buf, "second\n", 7), 0);
		(void)close(fd);
	}
	which[0] = 7;
	assert_int_equal(folder_copy(in, which, 1, sent, NULL), -1);
	assert_int_equal(errno, EINVAL);
	folder_close(&sent);
	folder_close(&in);
	/* and they last */
	sent = fopen_ok(fx, "Sent");
	assert_int_equal(sent->mail[1].time, 2000);
	assert_int_equal(sent->mail[2].uid, 3);
	folder_close(&sent);
}

/* Append: delivered through deliver.c, flags set, a UID back. */
static void
test_append(void **state)
{
	struct fx_dir	*fx = *state;
	struct folder	*f;
	uint32_t	 uid = 0;
	int		 fd;
	char		 path[PATH_MAX + 32];

	assert_int_equal(folder_create(fx->md, "Drafts"), 0);
	f = fopen_ok(fx, "Drafts");
	(void)snprintf(path, sizeof(path), "%s/msg", fx->dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "Subject: x\r\n\r\nbody\r\n", 20), 20);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(folder_append(f, fd, FLAG_DRAFT | FLAG_SEEN, 0,
	    1234567, &uid), 0);
	(void)close(fd);
	assert_int_equal(uid, 1);
	assert_int_equal(f->count, 1);
	assert_int_equal(f->mail[0].time, 1234567);
	assert_int_equal(f->mail[0].size, 20);
	assert_int_equal(f->mail[0].mflags, FLAG_DRAFT | FLAG_SEEN);
	assert_int_equal(strncmp(f->mail[0].name, "cur/", 4), 0);
	assert_non_null(strstr(f->mail[0].name, ":2,DS"));
	folder_close(&f);
}

/* UIDVALIDITY is the folder's own and lasts; a folder session and a
 * POP3 maildrop run beside each other. */
static void
test_beside_pop3(void **state)
{
	struct fx_dir	*fx = *state;
	struct folder	*f;
	struct maildrop	*md;
	uint32_t	 uidv;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "new/2.b", "b\n");
	assert_int_equal(maildrop_open(fx->md, &fx->opts, &md), 0);
	f = fopen_ok(fx, "INBOX");
	uidv = f->uidvalidity;
	assert_int_equal(uidv, md->uidvalidity);
	assert_int_equal(f->mail[1].uid, md->mail[1].uid);
	/* IMAP flags message 1, POP3 deletes message 2 */
	assert_int_equal(folder_set_flags(f, 0, FLAG_FLAGGED, 0, 0, 0), 0);
	md->mail[1].flags |= MAIL_DELETED;
	md->mail[0].flags |= MAIL_SEEN;
	assert_int_equal(maildrop_commit(md, NULL), 0);
	maildrop_close(&md);
	assert_true(exists(fx, "cur/1.a:2,FS"));
	assert_int_equal(folder_sync(f), 0);
	assert_int_equal(f->count, 1);
	assert_int_equal(f->uidvalidity, uidv);
	assert_int_equal(f->mail[0].mflags, FLAG_FLAGGED | FLAG_SEEN);
	folder_close(&f);
	folder_close(&f);
	folder_close(NULL);
}

/* The INBOX missing cur/ is an error (ENOENT), not repaired; a folder
 * with a file in the place of cur/ is refused (ENOTDIR). */
static void
test_open_missing_subdir(void **state)
{
	struct fx_dir	*fx = *state;
	struct folder	*f = NULL;

	assert_int_equal(unlinkat(fx->mdfd, "cur", AT_REMOVEDIR), 0);
	assert_int_equal(folder_open(fx->md, "INBOX", &fx->opts, &f), -1);
	assert_int_equal(errno, ENOENT);
	assert_null(f);
	assert_false(exists(fx, "cur"));
	assert_int_equal(folder_create(fx->md, "Sent"), 0);
	assert_int_equal(unlinkat(fx->mdfd, ".Sent/cur", AT_REMOVEDIR), 0);
	put(fx->mdfd, ".Sent/cur", "");
	assert_int_equal(folder_open(fx->md, "Sent", &fx->opts, &f), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_null(f);
}

/* A folder directory that is a symlink (to anywhere) is not followed:
 * not listed, not opened. */
static void
test_symlink_folder(void **state)
{
	struct fx_dir	*fx = *state;
	struct folder	*f = NULL;

	assert_int_equal(folder_create(fx->md, "Real"), 0);
	assert_int_equal(symlinkat(".Real", fx->mdfd, ".Link"), 0);
	assert_string_equal(listing(fx), "INBOX,Real");
	assert_int_equal(folder_open(fx->md, "Link", &fx->opts, &f), -1);
	assert_true(errno == ELOOP || errno == ENOTDIR);
	assert_null(f);
}

/* Messages removed by another agent: no flags set (ENOENT) and nothing
 * made; a message index past the end is EINVAL; flags it already has
 * need no rename. */
static void
test_flags_removed(void **state)
{
	struct fx_dir	*fx = *state;
	struct folder	*f;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "cur/2.b:2,S", "b\n");
	f = fopen_ok(fx, "INBOX");
	assert_int_equal(folder_set_flags(f, 1, FLAG_SEEN, 0, 0, 0), 0);
	assert_string_equal(f->mail[1].name, "cur/2.b:2,S");
	assert_true(exists(fx, "cur/2.b:2,S"));
	assert_int_equal(unlinkat(fx->mdfd, "new/1.a", 0), 0);
	errno = 0;
	assert_int_equal(folder_set_flags(f, 0, FLAG_SEEN, 0, 0, 0), -1);
	assert_int_equal(errno, ENOENT);
	assert_false(exists(fx, "cur/1.a:2,S"));
	assert_int_equal(folder_open_mail(f, 0), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(folder_open_mail(f, 2), -1);
	assert_int_equal(errno, EINVAL);
	folder_close(&f);
}

/* A keyword another session added is found without creating it. */
static void
test_keyword_added_elsewhere(void **state)
{
	struct fx_dir	*fx = *state;
	struct folder	*f, *g;

	f = fopen_ok(fx, "INBOX");
	g = fopen_ok(fx, "INBOX");
	assert_int_equal(folder_keyword(g, "Work", true), 0);
	assert_int_equal(folder_keyword(f, "Work", false), 0);
	folder_close(&g);
	folder_close(&f);
}

/* A keyword whose file cannot be written (a directory in the place of
 * its temporary file) is not given a letter. */
static void
test_keyword_write_fails(void **state)
{
	struct fx_dir	*fx = *state;
	struct folder	*f;

	f = fopen_ok(fx, "INBOX");
	assert_int_equal(mkdirat(fx->mdfd, KEYWORDS_FILE ".tmp", 0700), 0);
	assert_int_equal(folder_keyword(f, "Work", true), -1);
	assert_int_equal(errno, EISDIR);
	assert_null(f->kw.name[0]);
	assert_int_equal(folder_keyword(f, "Work", false), -1);
	assert_int_equal(errno, ENOENT);
	assert_false(exists(fx, KEYWORDS_FILE));
	folder_close(&f);
}

/* A keyword letter that no keyword names (a damaged keywords file) is
 * dropped by a copy; the flags are kept. */
static void
test_copy_unnamed_keyword(void **state)
{
	struct fx_dir	*fx = *state;
	struct folder	*in, *sent;
	size_t		 which = 0;

	put(fx->mdfd, "cur/1.a:2,Sc", "a\n");
	assert_int_equal(folder_create(fx->md, "Sent"), 0);
	in = fopen_ok(fx, "INBOX");
	sent = fopen_ok(fx, "Sent");
	assert_int_equal(in->mail[0].keywords, KEYWORD_BIT(2));
	assert_int_equal(folder_copy(in, &which, 1, sent, NULL), 0);
	assert_int_equal(sent->count, 1);
	assert_int_equal(sent->mail[0].mflags, FLAG_SEEN);
	assert_int_equal(sent->mail[0].keywords, 0);
	assert_non_null(strstr(sent->mail[0].name, ":2,S"));
	assert_null(strstr(sent->mail[0].name, ":2,Sc"));
	folder_close(&sent);
	folder_close(&in);
}

/* A copy of a message another agent removed fails, and the target gets
 * nothing; the messages before it in the copy are there. */
static void
test_copy_removed(void **state)
{
	struct fx_dir	*fx = *state;
	struct folder	*in, *sent;
	size_t		 which[2] = { 0, 1 };

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "new/2.b", "b\n");
	assert_int_equal(folder_create(fx->md, "Sent"), 0);
	in = fopen_ok(fx, "INBOX");
	sent = fopen_ok(fx, "Sent");
	assert_int_equal(unlinkat(fx->mdfd, "new/2.b", 0), 0);
	assert_int_equal(folder_copy(in, which, 2, sent, NULL), -1);
	assert_int_equal(sent->count, 1);
	assert_int_equal(sent->mail[0].size, 3);
	assert_int_equal(sent->mail[0].time, 1);
	folder_close(&sent);
	folder_close(&in);
	assert_int_equal(count(fx->md, ".Sent/cur") +
	    count(fx->md, ".Sent/new"), 1);
	assert_int_equal(count(fx->md, ".Sent/tmp"), 0);
}

/* A rename that would give a folder under it a name longer than
 * FOLDER_NAME_MAX is refused (ENAMETOOLONG) before anything moves. */
static void
test_rename_too_long(void **state)
{
	struct fx_dir	*fx = *state;
	char		 to[FOLDER_NAME_MAX + 1];

	memset(to, 'n', FOLDER_NAME_MAX - 2);
	to[FOLDER_NAME_MAX - 2] = '\0';
	assert_int_equal(folder_create(fx->md, "A"), 0);
	assert_int_equal(folder_create(fx->md, "A.b"), 0);
	assert_int_equal(folder_create(fx->md, "A.bcd"), 0);
	assert_int_equal(folder_rename(fx->md, "A", to), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_string_equal(listing(fx), "INBOX,A,A.b,A.bcd");
	/* the longest names that fit */
	to[FOLDER_NAME_MAX - 4] = '\0';
	assert_int_equal(folder_rename(fx->md, "A", to), 0);
	assert_false(exists(fx, ".A"));
	assert_false(exists(fx, ".A.bcd"));
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, fx_maildir_setup, \
		    fx_dir_teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		T(test_manage),
		T(test_flags_round_trip),
		T(test_keywords),
		T(test_expunge),
		T(test_copy),
		T(test_append),
		T(test_beside_pop3),
		T(test_open_missing_subdir),
		T(test_symlink_folder),
		T(test_flags_removed),
		T(test_keyword_added_elsewhere),
		T(test_keyword_write_fails),
		T(test_copy_unnamed_keyword),
		T(test_copy_removed),
		T(test_rename_too_long),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
