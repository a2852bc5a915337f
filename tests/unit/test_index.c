/*
 * test_index.c: the per-Maildir index through maildrop_open(): UIDs in
 * delivery order that last and are never reused, sizes and times taken
 * from the index without reading a message, incremental updates, the
 * rebuild of a missing, truncated, corrupt or foreign index (logged),
 * version 1 read and rewritten, files the index does not know, Dovecot's
 * uidlist, the index lock, a writer killed at any moment, the generation
 * that keeps a commit from writing over another's index, and the
 * directory stamp that spares the readdir without ever hiding a change.
 * Every test works in its own temporary directory and removes it
 * afterwards.
 */
#include "tests/unit/unit.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/flags.h"
#include "storage/index.h"
#include "storage/lock.h"
#include "storage/maildir.h"
#include "storage/msgid.h"
#include "tests/unit/fixture.h"

/* The contents of the file rel of the Maildir ("" if none), malloc'ed. */
static char *
get(struct fx_dir *fx, const char *rel)
{
	char	*buf;
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd;

	assert_non_null(buf = malloc(1 << 20));
	if ((fd = openat(fx->mdfd, rel, O_RDONLY | O_CLOEXEC)) == -1) {
		buf[0] = '\0';
		return buf;
	}
	while ((n = read(fd, buf + len, (1 << 20) - 1 - len)) > 0)
		len += (size_t)n;
	(void)close(fd);
	buf[len] = '\0';
	return buf;
}

/* Whether the file rel of the Maildir holds needle. */
static bool
holds(struct fx_dir *fx, const char *rel, const char *needle)
{
	char	*text = get(fx, rel);
	bool	 found = strstr(text, needle) != NULL;

	free(text);
	return found;
}

/* Opens the fixture's maildrop, which must succeed. */
static struct maildrop *
md_open(struct fx_dir *fx)
{
	struct maildrop	*md = NULL;

	assert_int_equal(maildrop_open(fx->md, &fx->opts, &md), 0);
	assert_non_null(md);
	return md;
}

/* The UID listed for base name b, or 0. */
static uint32_t
uid_of(const struct maildrop *md, const char *b)
{
	size_t	 i;

	for (i = 0; i < md->count; i++)
		if (md->mail[i].baselen == strlen(b) &&
		    strncmp(mail_base(&md->mail[i]), b, strlen(b)) == 0)
			return md->mail[i].uid;
	return 0;
}

/* UIDs and global IDs ascend in listing order. */
static void
assert_ascending(const struct maildrop *md)
{
	size_t	 i;

	for (i = 1; i < md->count; i++) {
		assert_true(md->mail[i - 1].uid < md->mail[i].uid);
		assert_true(md->mail[i - 1].gid < md->mail[i].gid);
	}
}

/* A first listing numbers in delivery order, writes the index, and the
 * next listing reads the same from it. */
static void
test_first_and_again(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	uint32_t	 uidv;
	char		*text;

	put(fx->mdfd, "new/1000.b", "b\n");
	put(fx->mdfd, "new/999.a", "a\n");
	put(fx->mdfd, "cur/1001.c,W=77:2,S", "c\n");
	put(fx->mdfd, "cur/abc:2,", "x\n");
	capture(fx);
	md = md_open(fx);
	assert_true(captured(fx, "no postern-index yet, building it"));
	assert_int_equal(md->count, 4);
	assert_string_equal(md->mail[0].name, "cur/abc:2,");
	assert_string_equal(md->mail[1].name, "new/999.a");
	assert_string_equal(md->mail[2].name, "new/1000.b");
	assert_string_equal(md->mail[3].name, "cur/1001.c,W=77:2,S");
	assert_int_equal(md->mail[0].uid, 1);
	assert_int_equal(md->mail[3].uid, 4);
	assert_int_equal(md->mail[3].size, 77);
	assert_int_equal(md->mail[3].mflags, FLAG_BIT('S'));
	assert_int_equal(md->mail[1].time, 999);
	assert_int_equal(md->mail[0].gid, 1);
	assert_int_equal(md->mail[3].gid, 4);
	assert_ascending(md);
	uidv = md->uidvalidity;
	assert_true(uidv > 0);
	maildrop_close(&md);

	text = get(fx, INDEX_FILE);
	assert_int_equal(strncmp(text, "postern-index 2 ", 16), 0);
	assert_non_null(strstr(text, " 5 4 "));	/* nextuid, count */
	assert_non_null(strstr(text, "\n2 2 3 999 new/999.a\n"));
	assert_non_null(strstr(text, "\n4 4 77 1001 cur/1001.c,W=77:2,S\n"));
	assert_int_equal(strcmp(text + strlen(text) - 4, "end\n"), 0);
	free(text);

	md = md_open(fx);
	assert_int_equal(md->uidvalidity, uidv);
	assert_int_equal(md->count, 4);
	assert_int_equal(uid_of(md, "1000.b"), 3);
	assert_int_equal(md->mail[3].gid, 4);
	maildrop_close(&md);
}

/* A known message is never read or stat()ed again: its size and time
 * come from the index, whatever the file holds now. */
static void
test_sizes_from_index(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;

	put(fx->mdfd, "new/1.a,S=2", "a\n");
	put(fx->mdfd, "new/x.b", "b\n");
	md = md_open(fx);
	/* a name without a time comes first, and its time is the mtime */
	assert_string_equal(md->mail[0].name, "new/x.b");
	assert_true(md->mail[0].time > 1000000000);
	assert_int_equal(md->mail[1].size, 3);
	maildrop_close(&md);
	put(fx->mdfd, "new/1.a,S=2", "a much longer text\n");
	md = md_open(fx);
	assert_int_equal(md->mail[1].size, 3);
	assert_int_equal(md->mail[1].time, 1);
	assert_int_equal(md->size, 6);
	maildrop_close(&md);
}

/* New mail gets the next UIDs; removed mail goes; a UID is never
 * given twice, not even to a message with the same name again. */
static void
test_incremental(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	size_t		 failed;
	uint32_t	 uidv;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "new/2.b", "b\n");
	put(fx->mdfd, "new/3.c", "c\n");
	md = md_open(fx);
	uidv = md->uidvalidity;
	md->mail[1].flags |= MAIL_DELETED;
	assert_int_equal(maildrop_commit(md, &failed), 0);
	maildrop_close(&md);
	assert_false(holds(fx, INDEX_FILE, "2.b"));

	/* Older by its name: still last; the removed one's name again. */
	put(fx->mdfd, "new/0.z", "z\n");
	put(fx->mdfd, "new/2.b", "b\n");
	unlinkat(fx->mdfd, "new/3.c", 0);	/* removed by another agent */
	md = md_open(fx);
	assert_int_equal(md->uidvalidity, uidv);
	assert_int_equal(md->count, 3);
	assert_int_equal(uid_of(md, "1.a"), 1);
	assert_int_equal(uid_of(md, "0.z"), 4);
	assert_int_equal(uid_of(md, "2.b"), 5);
	assert_ascending(md);
	maildrop_close(&md);
	md = md_open(fx);
	assert_int_equal(uid_of(md, "2.b"), 5);
	assert_int_equal(md->count, 3);
	maildrop_close(&md);
}

/* The seen rename and flags keep a message's UID; a message moved
 * between new/ and cur/ by another agent keeps it too. */
static void
test_moves_keep_uid(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "new/2.b", "b\n");
	md = md_open(fx);
	md->mail[0].flags |= MAIL_SEEN;
	assert_int_equal(maildrop_commit(md, NULL), 0);
	maildrop_close(&md);
	assert_int_equal(renameat(fx->mdfd, "new/2.b", fx->mdfd,
	    "cur/2.b:2,RF"), 0);
	md = md_open(fx);
	assert_string_equal(md->mail[0].name, "cur/1.a:2,S");
	assert_string_equal(md->mail[1].name, "cur/2.b:2,RF");
	assert_int_equal(md->mail[0].uid, 1);
	assert_int_equal(md->mail[1].uid, 2);
	assert_int_equal(md->mail[1].mflags, FLAG_BIT('F') | FLAG_BIT('R'));
	maildrop_close(&md);
}

/* A truncated index keeps the UIDs of the entries before the cut and
 * its UIDVALIDITY; the rest get new UIDs above every old one. */
static void
test_truncated(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	uint32_t	 uidv;
	char		*text, *cut;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "new/2.b", "b\n");
	put(fx->mdfd, "new/3.c", "c\n");
	md = md_open(fx);
	uidv = md->uidvalidity;
	maildrop_close(&md);
	text = get(fx, INDEX_FILE);
	cut = strstr(text, "\n2 ");
	assert_non_null(cut);
	cut[5] = '\0';		/* "...\n2 2 3" */
	put(fx->mdfd, INDEX_FILE, text);
	free(text);
	capture(fx);
	md = md_open(fx);
	assert_true(captured(fx, "truncated after 1 entries"));
	assert_int_equal(md->uidvalidity, uidv);
	assert_int_equal(uid_of(md, "1.a"), 1);
	assert_int_equal(uid_of(md, "2.b"), 4);
	assert_int_equal(uid_of(md, "3.c"), 5);
	maildrop_close(&md);
	/* and rewritten whole */
	text = get(fx, INDEX_FILE);
	assert_int_equal(strcmp(text + strlen(text) - 4, "end\n"), 0);
	free(text);
}

/* A corrupt line: the entries before it are kept.  In version 2 a file
 * name outside new/ and cur/, or not a message's, is corrupt. */
static void
test_corrupt_entry(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	static const char *const bad[] = {
		"tmp/2.b", "cur/2.b:2,/x", "new/.2.b", "2.b", "cur/:2,S",
		"new/2/b",
	};
	char		 text[512];
	size_t		 i;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "new/2.b", "b\n");
	put(fx->mdfd, "new/3.c", "c\n");
	/* UIDs out of order after the first: corrupt from line 3 on */
	(void)snprintf(text, sizeof(text), "postern-index 1 1234 40 3\n"
	    "10 0 3 1 1.a\n9 0 3 2 2.b\n30 0 3 3 3.c\nend\n");
	put(fx->mdfd, INDEX_FILE, text);
	capture(fx);
	md = md_open(fx);
	assert_true(captured(fx, ":3: corrupt; the 1 entries before it are "
	    "kept"));
	assert_int_equal(md->uidvalidity, 1234);
	assert_int_equal(uid_of(md, "1.a"), 10);
	assert_int_equal(uid_of(md, "2.b"), 40);
	assert_int_equal(uid_of(md, "3.c"), 41);
	maildrop_close(&md);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(text, sizeof(text), "postern-index 2 1234 40 3 "
		    "7 0.000000000 0 0.000000000 0 0.000000000\n"
		    "10 0 3 1 new/1.a\n11 0 3 2 %s\n30 0 3 3 new/3.c\nend\n",
		    bad[i]);
		put(fx->mdfd, INDEX_FILE, text);
		capture(fx);
		md = md_open(fx);
		assert_true(captured(fx, ":3: corrupt; the 1 entries before "
		    "it are kept"));
		assert_int_equal(md->uidvalidity, 1234);
		assert_int_equal(md->count, 3);
		assert_int_equal(uid_of(md, "1.a"), 10);
		assert_int_equal(uid_of(md, "2.b"), 40);
		assert_int_equal(uid_of(md, "3.c"), 41);
		maildrop_close(&md);
	}
}

/* A foreign version, a broken header, garbage, an empty file and a
 * directory in the index's place are rebuilt under a new UIDVALIDITY. */
static void
test_rebuilt(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	static const char *const bad[] = {
		"postern-index 3 1234 3 1\n1 0 3 1 1.a\nend\n",
		/* version 2 without its generation and stamp */
		"postern-index 2 1234 3 1\n1 0 3 1 new/1.a\nend\n",
		"postern-index 1 x 3 1\n1 0 3 1 1.a\nend\n",
		"\x7f" "ELF\x02\x01\x01\n\n\n",
		"",
		"postern-index 1 1234 3 1",
	};
	struct timespec	 ts[2];
	uint32_t	 prev = 0;
	size_t		 i;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "new/2.b", "b\n");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(fx->mdfd, INDEX_FILE, bad[i]);
		/* The lost UIDVALIDITY was no later than the file's mtime:
		 * the new one is later still, even within one second. */
		memset(ts, 0, sizeof(ts));
		ts[0].tv_sec = ts[1].tv_sec = (time_t)prev + 10;
		if (prev > 0)
			assert_int_equal(utimensat(fx->mdfd, INDEX_FILE, ts,
			    0), 0);
		capture(fx);
		md = md_open(fx);
		assert_true(captured(fx, "rebuilt"));
		assert_int_equal(md->count, 2);
		assert_int_equal(uid_of(md, "1.a"), 1);
		assert_int_equal(uid_of(md, "2.b"), 2);
		assert_true(md->uidvalidity != 1234);
		assert_true(md->uidvalidity > prev + (prev > 0 ? 10 : 0));
		prev = md->uidvalidity;
		assert_true(md->idx.saved);
		maildrop_close(&md);
	}
	/* a directory where the index goes: listed, logged, not written */
	assert_int_equal(unlinkat(fx->mdfd, INDEX_FILE, 0), 0);
	assert_int_equal(mkdirat(fx->mdfd, INDEX_FILE, 0700), 0);
	capture(fx);
	md = md_open(fx);
	assert_true(captured(fx, "rebuilt"));
	assert_int_equal(md->count, 2);
	assert_false(md->idx.saved);
	maildrop_close(&md);
	/* neither the UIDs nor the global IDs given in memory last */
	fx->opts.need_uids = true;
	md = NULL;
	assert_int_equal(maildrop_open(fx->md, &fx->opts, &md), -1);
	assert_int_equal(errno, EAGAIN);
	assert_null(md);
	fx->opts.need_uids = false;
	fx->opts.need_gids = true;
	assert_int_equal(maildrop_open(fx->md, &fx->opts, &md), -1);
	assert_int_equal(errno, EAGAIN);
}

/* A crash mid-write leaves a temporary file: it is never read, and the
 * next write replaces it. */
static void
test_leftover_tmp(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	char		*text;

	put(fx->mdfd, "new/1.a", "a\n");
	md = md_open(fx);
	maildrop_close(&md);
	put(fx->mdfd, INDEX_FILE ".tmp",
	    "postern-index 1 99 7 1\n5 0 3 1 1.a\n");
	put(fx->mdfd, "new/2.b", "b\n");
	md = md_open(fx);
	assert_int_equal(uid_of(md, "1.a"), 1);
	assert_int_equal(uid_of(md, "2.b"), 2);
	maildrop_close(&md);
	text = get(fx, INDEX_FILE ".tmp");
	assert_string_equal(text, "");		/* gone */
	free(text);
}

/* A file the index does not know is listed, whatever the index says;
 * an entry whose file is gone is dropped, after a second look. */
static void
test_unknown_file(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "cur/5.e:2,S", "e\n");
	put(fx->mdfd, INDEX_FILE, "postern-index 1 1234 10 2\n"
	    "3 0 3 1 1.a\n4 0 3 2 2.gone\nend\n");
	md = md_open(fx);
	assert_int_equal(md->count, 2);
	assert_int_equal(uid_of(md, "1.a"), 3);
	assert_int_equal(uid_of(md, "5.e"), 10);
	assert_int_equal(uid_of(md, "2.gone"), 0);
	maildrop_close(&md);
	assert_false(holds(fx, INDEX_FILE, "2.gone"));
}

/* Without the index: no file written, no UIDs, every size counted. */
static void
test_no_index(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	struct stat	 st;

	put(fx->mdfd, "new/1.a,W=99", "a\n");
	fx->opts.no_index = true;
	md = md_open(fx);
	assert_int_equal(md->count, 1);
	assert_int_equal(md->mail[0].uid, 0);
	assert_int_equal(md->mail[0].gid, 0);
	assert_int_equal(md->uidvalidity, 0);
	assert_int_equal(md->mail[0].size, 99);
	maildrop_close(&md);
	assert_int_equal(fstatat(fx->mdfd, INDEX_FILE, &st, 0), -1);
}

/* Global IDs need the counter: without a usable state_dir the messages
 * get none (logged), and a later listing gives them theirs in UID
 * order; need_gids refuses to list without them, need_uids does not. */
static void
test_gid_later(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	char		 bad[PATH_MAX + 16];

	(void)snprintf(bad, sizeof(bad), "%s/none", fx->state);
	fx->opts.state_dir = bad;
	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "new/2.b", "b\n");
	capture(fx);
	md = md_open(fx);
	assert_true(captured(fx, "none/msgid"));
	assert_int_equal(md->mail[0].gid, 0);
	assert_int_equal(md->mail[0].uid, 1);
	maildrop_close(&md);
	fx->opts.need_uids = true;
	md = md_open(fx);
	maildrop_close(&md);
	fx->opts.need_gids = true;
	assert_int_equal(maildrop_open(fx->md, &fx->opts, &md), -1);
	assert_int_equal(errno, EAGAIN);
	fx->opts.need_uids = fx->opts.need_gids = false;

	fx->opts.state_dir = fx->state;
	put(fx->mdfd, "new/3.c", "c\n");
	md = md_open(fx);
	assert_int_equal(md->count, 3);
	assert_int_equal(md->mail[0].gid, 1);
	assert_int_equal(md->mail[2].gid, 3);
	assert_int_equal(md->mail[2].uid, 3);
	assert_ascending(md);
	maildrop_close(&md);
}

/* Dovecot's uidlist gives a Maildir Postern never indexed its UIDs,
 * UIDVALIDITY and sizes, so that UIDLs made of them stay. */
static void
test_dovecot_uidlist(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;

	put(fx->mdfd, "cur/1.a,S=2:2,S", "a\n");
	put(fx->mdfd, "new/2.b,S=2", "b\n");
	put(fx->mdfd, "new/3.c", "c\n");
	put(fx->mdfd, UIDLIST_DOVECOT, "3 V1275660208 N25 Gabcdef\n"
	    "5 W40 :1.a,S=2:2,S\n"
	    "9 :2.b,S=2\n"
	    "12 W7 :4.gone\n");
	md = md_open(fx);
	assert_int_equal(md->uidvalidity, 1275660208);
	assert_int_equal(uid_of(md, "1.a,S=2"), 5);
	assert_int_equal(uid_of(md, "2.b,S=2"), 9);
	assert_int_equal(uid_of(md, "3.c"), 25);
	assert_int_equal(md->mail[0].size, 40);		/* W from the list */
	assert_int_equal(md->mail[1].size, 3);		/* counted */
	maildrop_close(&md);
	/* from now on Postern's own index; Dovecot's list is not read */
	put(fx->mdfd, UIDLIST_DOVECOT, "3 V1 N2\n1 :3.c\n");
	md = md_open(fx);
	assert_int_equal(md->uidvalidity, 1275660208);
	assert_int_equal(uid_of(md, "3.c"), 25);
	maildrop_close(&md);

	/* an unusable list is ignored */
	assert_int_equal(unlinkat(fx->mdfd, INDEX_FILE, 0), 0);
	put(fx->mdfd, UIDLIST_DOVECOT, "3 V1 N2\nx :3.c\n");
	capture(fx);
	md = md_open(fx);
	assert_true(captured(fx, "not understood"));
	assert_int_equal(uid_of(md, "1.a,S=2"), 1);
	maildrop_close(&md);
}

/* The index lock: a listing waits while another process holds it. */
static void
test_index_lock_wait(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	struct timespec	 a, b;
	pid_t		 pid;
	int		 p[2], status;
	char		 c;

	put(fx->mdfd, "new/1.a", "a\n");
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		int fd = lock_take(fx->mdfd, INDEX_LOCK_FILE);

		c = fd >= 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		usleep(300000);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	clock_gettime(CLOCK_MONOTONIC, &a);
	md = md_open(fx);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true((b.tv_sec - a.tv_sec) * 1000 +
	    (b.tv_nsec - a.tv_nsec) / 1000000 >= 200);
	assert_true(md->idx.saved);
	assert_int_equal(md->mail[0].uid, 1);
	maildrop_close(&md);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	(void)close(p[0]);
	(void)close(p[1]);
}

/* Many messages, so that writing the index takes a while. */
static void
many(struct fx_dir *fx, int n, int from)
{
	char	 name[64];
	int	 i;

	for (i = from; i < from + n; i++) {
		(void)snprintf(name, sizeof(name),
		    "new/%d.M%dP1.crash.example,W=%d", 1000000 + i, i, 3);
		put(fx->mdfd, name, "x\n");
	}
}

/* Writers killed at random moments: every listing afterwards finds
 * the old index or the new one (or rebuilds), never one that gives a
 * known message another UID. */
static void
test_kill_writer(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	uint32_t	 first_uid[1000];
	struct timespec	 ts;
	pid_t		 pid;
	int		 round, status, i;
	char		 name[64];

	uint32_t	 uidv;

	many(fx, 1000, 0);
	md = md_open(fx);
	uidv = md->uidvalidity;
	for (i = 0; i < 1000; i++)
		first_uid[i] = md->mail[i].uid;
	maildrop_close(&md);
	for (round = 0; round < 8; round++) {
		/* new mail, so that the child rewrites the index */
		many(fx, 50, 1000 + round * 50);
		if ((pid = fork()) == 0) {
			struct maildrop *cmd;

			(void)maildrop_open(fx->md, &fx->opts, &cmd);
			_exit(0);
		}
		assert_true(pid > 0);
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(arc4random_uniform(8000)) * 1000;
		nanosleep(&ts, NULL);
		(void)kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		md = md_open(fx);
		assert_int_equal(md->uidvalidity, uidv);
		assert_int_equal(md->count, 1050 + (size_t)round * 50);
		/* UID order: the first 1000 come first, as they were */
		for (i = 0; i < 1000; i++) {
			(void)snprintf(name, sizeof(name),
			    "new/%d.M%dP1.crash.example,W=3", 1000000 + i, i);
			assert_string_equal(md->mail[i].name, name);
			assert_int_equal(md->mail[i].uid, first_uid[i]);
		}
		assert_ascending(md);
		maildrop_close(&md);
	}
}

/* The mtime of the Maildir's subdirectory sub. */
static struct timespec
mtime_of(struct fx_dir *fx, const char *sub)
{
	struct stat	 st;

	assert_int_equal(fstatat(fx->mdfd, sub, &st, AT_SYMLINK_NOFOLLOW),
	    0);
	return st.st_mtim;
}

/* Sets the access and modification times of rel to *ts. */
static void
set_mtime(struct fx_dir *fx, const char *rel, const struct timespec *ts)
{
	struct timespec	 t[2];

	t[0] = t[1] = *ts;
	assert_int_equal(utimensat(fx->mdfd, rel, t, AT_SYMLINK_NOFOLLOW), 0);
}

/* Sets the mtimes of new/ and cur/ secs seconds back, as those of a
 * Maildir last changed a while ago. */
static void
age_dirs(struct fx_dir *fx, time_t secs)
{
	struct timespec	 ts;

	assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
	ts.tv_sec -= secs;
	set_mtime(fx, "new", &ts);
	set_mtime(fx, "cur", &ts);
}

/* Fields of the index header, counted from the magic word (0). */
#define H_VERSION	1
#define H_NEXTUID	3
#define H_GENERATION	5

/* Field n of the index file's header, as a number. */
static unsigned long long
header_field(struct fx_dir *fx, int n)
{
	char			*text = get(fx, INDEX_FILE), *p = text;
	unsigned long long	 v;

	for (; n > 0; n--) {
		assert_non_null(p = strchr(p, ' '));
		p++;
	}
	assert_true(*p >= '0' && *p <= '9');
	v = strtoull(p, NULL, 10);
	free(text);
	return v;
}

/*
 * While new/ and cur/ keep the inode and mtime the listing behind the
 * index found them with, long enough before it began, a listing reads
 * neither: a file put into cur/ behind its back with cur/'s mtime set
 * back is not seen (so no readdir ran), the listing is the one the
 * readdir made, and the index is not written.  Another mtime, to the
 * nanosecond, or another directory in cur/'s place with the same mtime,
 * and the directories are read again.
 */
static void
test_stamp_spares_readdir(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	struct timespec	 cur;
	unsigned long long gen;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "cur/2.b,W=9:2,FS", "b\n");
	age_dirs(fx, 10);
	md = md_open(fx);
	assert_int_equal(md->count, 2);
	maildrop_close(&md);
	gen = header_field(fx, H_GENERATION);

	cur = mtime_of(fx, "cur");
	put(fx->mdfd, "cur/3.c:2,", "c\n");
	set_mtime(fx, "cur", &cur);
	md = md_open(fx);
	assert_int_equal(md->count, 2);
	assert_int_equal(uid_of(md, "3.c"), 0);
	assert_string_equal(md->mail[0].name, "new/1.a");
	assert_string_equal(md->mail[1].name, "cur/2.b,W=9:2,FS");
	assert_int_equal(md->mail[0].uid, 1);
	assert_int_equal(md->mail[1].uid, 2);
	assert_int_equal(md->mail[0].size, 3);
	assert_int_equal(md->mail[1].size, 9);
	assert_int_equal(md->mail[1].time, 2);
	assert_int_equal(md->mail[1].mflags, FLAG_BIT('F') | FLAG_BIT('S'));
	assert_int_equal(md->mail[1].gid, 2);
	assert_int_equal(md->size, 12);
	assert_true(md->idx.saved && md->idx.ids_saved);
	maildrop_close(&md);
	assert_int_equal(header_field(fx, H_GENERATION), gen);

	/* one nanosecond off: read again */
	cur.tv_nsec = cur.tv_nsec == 0 ? 1 : cur.tv_nsec - 1;
	set_mtime(fx, "cur", &cur);
	md = md_open(fx);
	assert_int_equal(md->count, 3);
	assert_int_equal(uid_of(md, "3.c"), 3);
	maildrop_close(&md);
	assert_int_equal(header_field(fx, H_GENERATION), gen + 1);

	/* another cur/ with the same mtime: read again */
	cur = mtime_of(fx, "cur");
	assert_int_equal(renameat(fx->mdfd, "cur", fx->mdfd, "old"), 0);
	assert_int_equal(mkdirat(fx->mdfd, "cur", 0700), 0);
	assert_int_equal(renameat(fx->mdfd, "old/2.b,W=9:2,FS", fx->mdfd,
	    "cur/2.b,W=9:2,FS"), 0);
	assert_int_equal(renameat(fx->mdfd, "old/3.c:2,", fx->mdfd,
	    "cur/3.c:2,"), 0);
	put(fx->mdfd, "cur/4.d:2,S", "d\n");
	set_mtime(fx, "cur", &cur);
	md = md_open(fx);
	assert_int_equal(md->count, 4);
	assert_int_equal(uid_of(md, "2.b,W=9"), 2);
	assert_int_equal(uid_of(md, "4.d"), 4);
	maildrop_close(&md);
}

/*
 * No change is hidden: a file put into new/ just after the listing that
 * wrote the index, with new/'s mtime set back to what that listing saw
 * (as a change in the same tick of the file system's clock leaves it),
 * is listed, since a stamp taken within STAMP_GUARD of the directory's
 * last change is not trusted.  Once the stamp is trusted, mail
 * delivered to new/, a message moved to cur/ or renamed there with other
 * flags, and a message removed are all seen.
 */
static void
test_stamp_sees_changes(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	struct timespec	 ts;
	unsigned long long gen;

	put(fx->mdfd, "new/1.a", "a\n");
	md = md_open(fx);
	maildrop_close(&md);
	ts = mtime_of(fx, "new");
	put(fx->mdfd, "new/2.b", "b\n");
	set_mtime(fx, "new", &ts);
	md = md_open(fx);
	assert_int_equal(md->count, 2);
	assert_int_equal(uid_of(md, "2.b"), 2);
	maildrop_close(&md);

	/* settled: the stamp is written, and trusted */
	age_dirs(fx, 10);
	gen = header_field(fx, H_GENERATION);
	md = md_open(fx);
	maildrop_close(&md);
	assert_int_equal(header_field(fx, H_GENERATION), gen + 1);
	md = md_open(fx);
	maildrop_close(&md);
	assert_int_equal(header_field(fx, H_GENERATION), gen + 1);

	put(fx->mdfd, "new/3.c", "c\n");
	md = md_open(fx);
	assert_int_equal(md->count, 3);
	assert_int_equal(uid_of(md, "3.c"), 3);
	maildrop_close(&md);

	age_dirs(fx, 10);
	md = md_open(fx);
	maildrop_close(&md);
	assert_int_equal(renameat(fx->mdfd, "new/1.a", fx->mdfd,
	    "cur/1.a:2,F"), 0);
	md = md_open(fx);
	assert_int_equal(md->count, 3);
	assert_string_equal(md->mail[0].name, "cur/1.a:2,F");
	assert_int_equal(md->mail[0].uid, 1);
	assert_int_equal(md->mail[0].mflags, FLAG_BIT('F'));
	maildrop_close(&md);

	age_dirs(fx, 10);
	md = md_open(fx);
	maildrop_close(&md);
	assert_int_equal(renameat(fx->mdfd, "cur/1.a:2,F", fx->mdfd,
	    "cur/1.a:2,FS"), 0);
	md = md_open(fx);
	assert_string_equal(md->mail[0].name, "cur/1.a:2,FS");
	assert_int_equal(md->mail[0].mflags, FLAG_BIT('F') | FLAG_BIT('S'));
	maildrop_close(&md);

	age_dirs(fx, 10);
	md = md_open(fx);
	maildrop_close(&md);
	assert_int_equal(unlinkat(fx->mdfd, "new/2.b", 0), 0);
	md = md_open(fx);
	assert_int_equal(md->count, 2);
	assert_int_equal(uid_of(md, "2.b"), 0);
	assert_int_equal(uid_of(md, "3.c"), 3);
	maildrop_close(&md);
}

/*
 * A stale listing - messages renamed and removed by another host while
 * the NFS attribute cache still shows new/ and cur/ as they were, played
 * here by setting cur/'s mtime back - still reads a message: opening it
 * follows its base name to its new name.  One removed meanwhile is
 * reported removed, deleting the renamed one removes it, and nothing
 * else is touched.
 */
static void
test_stale_name(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	struct timespec	 cur;
	struct stat	 st;
	char		 buf[16];
	size_t		 failed = 1;
	int		 fd;

	put(fx->mdfd, "cur/1.a:2,", "one\n");
	put(fx->mdfd, "cur/2.b:2,", "two\n");
	put(fx->mdfd, "cur/3.c:2,", "three\n");
	age_dirs(fx, 10);
	md = md_open(fx);
	maildrop_close(&md);
	cur = mtime_of(fx, "cur");
	assert_int_equal(renameat(fx->mdfd, "cur/1.a:2,", fx->mdfd,
	    "cur/1.a:2,S"), 0);
	assert_int_equal(renameat(fx->mdfd, "cur/2.b:2,", fx->mdfd,
	    "cur/2.b:2,T"), 0);
	assert_int_equal(unlinkat(fx->mdfd, "cur/3.c:2,", 0), 0);
	set_mtime(fx, "cur", &cur);

	md = md_open(fx);
	assert_int_equal(md->count, 3);
	assert_string_equal(md->mail[0].name, "cur/1.a:2,");	/* stale */
	assert_true((fd = maildrop_open_mail(md, 0, NULL)) >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "one\n", 4);
	(void)close(fd);
	assert_string_equal(md->mail[0].name, "cur/1.a:2,S");
	assert_int_equal(md->mail[0].mflags, FLAG_BIT('S'));
	errno = 0;
	assert_int_equal(maildrop_open_mail(md, 2, NULL), -1);
	assert_int_equal(errno, ENOENT);
	md->mail[1].flags |= MAIL_DELETED;
	md->mail[2].flags |= MAIL_DELETED;
	assert_int_equal(maildrop_commit(md, &failed), 0);
	assert_int_equal(failed, 0);
	maildrop_close(&md);
	assert_int_equal(fstatat(fx->mdfd, "cur/2.b:2,T", &st, 0), -1);
	assert_int_equal(fstatat(fx->mdfd, "cur/1.a:2,S", &st, 0), 0);

	md = md_open(fx);
	assert_int_equal(md->count, 1);
	assert_string_equal(md->mail[0].name, "cur/1.a:2,S");
	assert_int_equal(md->mail[0].uid, 1);
	maildrop_close(&md);
}

/* hold_index_lock: a child that holds the index lock until killed, or
 * for a minute should the test fail first; its pid. */
static pid_t
hold_index_lock(struct fx_dir *fx)
{
	pid_t	 pid;
	int	 p[2];
	char	 c;

	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		alarm(60);
		c = lock_take(fx->mdfd, INDEX_LOCK_FILE) >= 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	assert_true(pid > 0);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	(void)close(p[0]);
	(void)close(p[1]);
	return pid;
}

/*
 * A login that finds the index fresh (its stamp holds) lists it without
 * the index lock, so another process holding the lock does not delay it
 * (taking the lock would wait INDEX_LOCK_WAIT); with new mail it takes
 * the lock, once it is let go, and writes the index.
 */
static void
test_fresh_without_lock(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	struct timespec	 a, b;
	unsigned long long gen;
	pid_t		 pid;
	int		 status;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "cur/2.b:2,S", "b\n");
	age_dirs(fx, 10);
	md = md_open(fx);		/* writes the index */
	maildrop_close(&md);
	gen = header_field(fx, H_GENERATION);
	pid = hold_index_lock(fx);
	clock_gettime(CLOCK_MONOTONIC, &a);
	md = md_open(fx);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true((b.tv_sec - a.tv_sec) * 1000 +
	    (b.tv_nsec - a.tv_nsec) / 1000000 < INDEX_LOCK_WAIT / 2);
	assert_int_equal(md->count, 2);
	assert_int_equal(uid_of(md, "1.a"), 1);
	assert_int_equal(uid_of(md, "2.b"), 2);
	assert_true(md->idx.saved && md->idx.ids_saved);
	assert_int_equal(md->idx.lockfd, -1);
	maildrop_close(&md);
	assert_int_equal(header_field(fx, H_GENERATION), gen);
	/* New mail: the lock, once free, and a write. */
	put(fx->mdfd, "new/3.c", "c\n");
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	md = md_open(fx);
	assert_int_equal(md->count, 3);
	assert_int_equal(uid_of(md, "3.c"), 3);
	assert_true(md->idx.saved);
	maildrop_close(&md);
	assert_int_equal(header_field(fx, H_GENERATION), gen + 1);
}

/*
 * A login that must write the index (new mail) while another process
 * keeps the index lock past INDEX_LOCK_WAIT still lists every message,
 * with UIDs for this session only: the index is not written, the
 * listing says its UIDs did not last, and the wait is logged.  Once the
 * lock is free the next login writes the index.
 */
static void
test_lazy_lock_timeout(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	struct timespec	 a, b;
	unsigned long long gen;
	long		 ms;
	pid_t		 pid;
	int		 status;

	put(fx->mdfd, "new/1.a", "a\n");
	age_dirs(fx, 10);
	md = md_open(fx);		/* writes the index */
	maildrop_close(&md);
	gen = header_field(fx, H_GENERATION);
	put(fx->mdfd, "new/2.b", "b\n");
	pid = hold_index_lock(fx);
	capture(fx);
	clock_gettime(CLOCK_MONOTONIC, &a);
	md = md_open(fx);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= INDEX_LOCK_WAIT - 100);
	assert_true(captured(fx, "still locked after"));
	assert_int_equal(md->count, 2);
	assert_int_equal(uid_of(md, "1.a"), 1);
	assert_false(md->idx.saved);
	assert_int_equal(md->idx.lockfd, -1);
	maildrop_close(&md);
	assert_int_equal(header_field(fx, H_GENERATION), gen);
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	md = md_open(fx);
	assert_int_equal(md->count, 2);
	assert_int_equal(uid_of(md, "1.a"), 1);
	assert_int_equal(uid_of(md, "2.b"), 2);
	assert_true(md->idx.saved);
	maildrop_close(&md);
	assert_int_equal(header_field(fx, H_GENERATION), gen + 1);
}

/*
 * The index changes between a login's unlocked read and its taking the
 * lock: another process, holding the lock, gives new/3.c and new/4.d
 * UIDs 3 and 4, and 3.c is then removed.  The login reads the index again
 * once it has the lock (its generation changed): 4.d keeps UID 4, and
 * UID 3 is not given again.
 */
static void
test_lazy_rereads(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	struct mail_index idx;
	pid_t		 pid;
	int		 p[2], status;
	char		 c;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "new/2.b", "b\n");
	age_dirs(fx, 10);
	md = md_open(fx);
	maildrop_close(&md);
	put(fx->mdfd, "new/3.c", "c\n");
	put(fx->mdfd, "new/4.d", "d\n");
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		alarm(60);
		index_init(&idx, fx->mdfd, fx->md);
		idx.lockfd = lock_take(fx->mdfd, INDEX_LOCK_FILE);
		c = idx.lockfd >= 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		usleep(300000);
		if (index_sync(&idx, &fx->opts) == -1 || !idx.saved ||
		    unlinkat(fx->mdfd, "new/3.c", 0) == -1)
			_exit(1);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	md = md_open(fx);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(md->count, 3);
	assert_int_equal(uid_of(md, "4.d"), 4);
	assert_int_equal(uid_of(md, "3.c"), 0);
	assert_true(md->idx.saved);
	maildrop_close(&md);
	put(fx->mdfd, "new/5.e", "e\n");
	md = md_open(fx);
	assert_int_equal(uid_of(md, "5.e"), 5);
	maildrop_close(&md);
	(void)close(p[0]);
	(void)close(p[1]);
}

/* Lists the fixture's Maildir into idx under the index lock. */
static void
idx_sync(struct fx_dir *fx, struct mail_index *idx)
{
	index_init(idx, fx->mdfd, fx->md);
	assert_int_equal(index_lock(idx), 0);
	assert_int_equal(index_sync(idx, &fx->opts), 0);
	index_unlock(idx);
}

/* The index of the message with base name b in idx, which must be
 * there. */
static size_t
idx_find(const struct mail_index *idx, const char *b)
{
	size_t	 i;

	for (i = 0; i < idx->count; i++)
		if (idx->mail[i].baselen == strlen(b) &&
		    strncmp(mail_base(&idx->mail[i]), b, strlen(b)) == 0)
			return i;
	fail_msg("%s not listed", b);
	return 0;
}

/*
 * Two sessions read the same index; the first lists a message delivered
 * since (giving it UID 5) and removes another, and its commit writes the
 * index.  The file is then made to have the inode, size and mtime the
 * second session read it with.  The second session's commit still finds
 * that the file is not the generation it read, and lists afresh: the
 * first's removal and UID 5 stay, its own removal is done, and the next
 * new message gets UID 6.
 */
static void
test_generation_commit(void **state)
{
	struct fx_dir	*fx = *state;
	struct mail_index a, b, c;
	struct stat	 st0, st;
	unsigned long long gen;
	char		*text;
	int		 fd;

	put(fx->mdfd, "new/1000000001.x", "1\n");
	put(fx->mdfd, "new/1000000002.x", "2\n");
	put(fx->mdfd, "new/1000000003.x", "3\n");
	put(fx->mdfd, "new/1000000004.x", "4\n");
	idx_sync(fx, &a);
	index_free(&a);
	gen = header_field(fx, H_GENERATION);
	assert_true(gen > 0);

	idx_sync(fx, &b);
	assert_int_equal(b.generation, gen);
	/* the file as b read it, kept by its inode */
	assert_int_equal(linkat(fx->mdfd, INDEX_FILE, fx->mdfd, "keep", 0),
	    0);
	assert_int_equal(fstatat(fx->mdfd, "keep", &st0, 0), 0);

	put(fx->mdfd, "new/1000000005.x", "5\n");
	idx_sync(fx, &a);
	assert_int_equal(a.generation, gen + 1);
	assert_int_equal(a.mail[idx_find(&a, "1000000005.x")].uid, 5);
	assert_int_equal(unlinkat(fx->mdfd, "new/1000000001.x", 0), 0);
	a.mail[idx_find(&a, "1000000001.x")].flags |= MAIL_GONE;
	assert_int_equal(index_lock(&a), 0);
	assert_int_equal(index_commit(&a, &fx->opts), 0);
	index_unlock(&a);
	index_free(&a);
	assert_int_equal(header_field(fx, H_GENERATION), gen + 2);

	/* a's index, in the inode b read, with its size and mtime */
	text = get(fx, INDEX_FILE);
	fd = openat(fx->mdfd, "keep", O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)),
	    (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
	free(text);
	assert_int_equal(renameat(fx->mdfd, "keep", fx->mdfd, INDEX_FILE), 0);
	set_mtime(fx, INDEX_FILE, &st0.st_mtim);
	assert_int_equal(fstatat(fx->mdfd, INDEX_FILE, &st, 0), 0);
	assert_int_equal(st.st_dev, st0.st_dev);
	assert_int_equal(st.st_ino, st0.st_ino);
	assert_int_equal(st.st_size, st0.st_size);
	assert_int_equal(st.st_mtim.tv_sec, st0.st_mtim.tv_sec);
	assert_int_equal(st.st_mtim.tv_nsec, st0.st_mtim.tv_nsec);

	assert_int_equal(unlinkat(fx->mdfd, "new/1000000002.x", 0), 0);
	b.mail[idx_find(&b, "1000000002.x")].flags |= MAIL_GONE;
	assert_int_equal(index_lock(&b), 0);
	assert_int_equal(index_commit(&b, &fx->opts), 0);
	index_unlock(&b);
	index_free(&b);
	assert_int_equal(header_field(fx, H_GENERATION), gen + 3);
	assert_int_equal(header_field(fx, H_NEXTUID), 6);
	assert_false(holds(fx, INDEX_FILE, "1000000001.x"));
	assert_false(holds(fx, INDEX_FILE, "1000000002.x"));
	assert_true(holds(fx, INDEX_FILE, "\n3 3 3 1000000003 "));
	assert_true(holds(fx, INDEX_FILE, "\n5 5 3 1000000005 "));

	put(fx->mdfd, "new/1000000000.x", "0\n");
	idx_sync(fx, &c);
	assert_int_equal(c.count, 4);
	assert_int_equal(c.mail[idx_find(&c, "1000000003.x")].uid, 3);
	assert_int_equal(c.mail[idx_find(&c, "1000000004.x")].uid, 4);
	assert_int_equal(c.mail[idx_find(&c, "1000000005.x")].uid, 5);
	assert_int_equal(c.mail[idx_find(&c, "1000000000.x")].uid, 6);
	index_free(&c);
}

/*
 * A version 1 index (base names, no generation, no stamp) keeps its
 * UIDs and UIDVALIDITY; it is logged and written anew as version 2.
 * A session that read it has generation 0, so its commit lists afresh.
 */
static void
test_version1(void **state)
{
	struct fx_dir	*fx = *state;
	struct mail_index x;
	struct maildrop	*md;
	char		*text;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "cur/2.b:2,S", "b\n");
	put(fx->mdfd, "new/3.c", "c\n");
	put(fx->mdfd, INDEX_FILE, "postern-index 1 1234 10 3\n"
	    "3 0 3 1 1.a\n4 0 3 2 2.b\n5 0 3 3 3.c\nend\n");
	index_init(&x, fx->mdfd, fx->md);
	assert_int_equal(index_sync(&x, &fx->opts), 0);	/* no lock */
	assert_int_equal(x.generation, 0);	/* the IDs 1-3 it took are lost */
	assert_int_equal(x.mail[idx_find(&x, "3.c")].uid, 5);
	assert_true(holds(fx, INDEX_FILE, "postern-index 1 "));

	capture(fx);
	md = md_open(fx);
	assert_true(captured(fx, "version 1, rewritten as version 2"));
	assert_int_equal(md->uidvalidity, 1234);
	assert_int_equal(uid_of(md, "1.a"), 3);
	assert_int_equal(uid_of(md, "2.b"), 4);
	maildrop_close(&md);
	text = get(fx, INDEX_FILE);
	assert_int_equal(strncmp(text, "postern-index 2 1234 10 3 ", 26), 0);
	assert_non_null(strstr(text, "\n4 5 3 2 cur/2.b:2,S\n"));
	free(text);

	/* x's commit does not write over what it never read */
	assert_int_equal(unlinkat(fx->mdfd, "new/3.c", 0), 0);
	x.mail[idx_find(&x, "3.c")].flags |= MAIL_GONE;
	assert_int_equal(index_lock(&x), 0);
	assert_int_equal(index_commit(&x, &fx->opts), 0);
	index_unlock(&x);
	index_free(&x);
	assert_int_equal(header_field(fx, H_VERSION), 2);
	assert_true(holds(fx, INDEX_FILE, "\n3 4 3 1 new/1.a\n"));
	assert_false(holds(fx, INDEX_FILE, "3.c"));
}

/* A number too large for its field in an entry is damage like any
 * other: the entries before it keep their UIDs. */
static void
test_entry_overflow(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "new/2.b", "b\n");
	put(fx->mdfd, INDEX_FILE, "postern-index 1 1234 40 2\n"
	    "10 0 3 1 1.a\n"
	    "11 0 99999999999999999999999 2 2.b\nend\n");
	capture(fx);
	md = md_open(fx);
	assert_true(captured(fx, ":3: corrupt; the 1 entries before it are "
	    "kept"));
	assert_int_equal(md->uidvalidity, 1234);
	assert_int_equal(uid_of(md, "1.a"), 10);
	assert_int_equal(uid_of(md, "2.b"), 40);
	assert_int_equal(md->mail[1].size, 3);
	maildrop_close(&md);
}

/* An index file larger than any index (a sparse file of 512 MiB and
 * one octet) is not read but rebuilt, under a new UIDVALIDITY. */
static void
test_index_too_big(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	int		 fd;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, INDEX_FILE, "postern-index 1 1234 40 1\n"
	    "10 0 3 1 1.a\nend\n");
	fd = openat(fx->mdfd, INDEX_FILE, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)512 * 1024 * 1024 + 1), 0);
	(void)close(fd);
	capture(fx);
	md = md_open(fx);
	assert_true(captured(fx, "File too large"));
	assert_true(md->uidvalidity != 1234);
	assert_int_equal(uid_of(md, "1.a"), 1);
	maildrop_close(&md);
	assert_int_equal(header_field(fx, H_NEXTUID), 2);
}

/* When the next UIDs would pass 4294967295 every message is numbered
 * from 1 again, in the same order, under a new, larger UIDVALIDITY. */
static void
test_uids_exhausted(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "new/2.b", "b\n");
	put(fx->mdfd, INDEX_FILE, "postern-index 1 1234 4294967295 1\n"
	    "4294967294 0 3 1 1.a\nend\n");
	capture(fx);
	md = md_open(fx);
	assert_true(captured(fx, "UIDs exhausted"));
	assert_true(md->uidvalidity > 1234);
	assert_int_equal(md->count, 2);
	assert_int_equal(uid_of(md, "1.a"), 1);
	assert_int_equal(uid_of(md, "2.b"), 2);
	assert_true(md->idx.saved);
	maildrop_close(&md);
	assert_int_equal(header_field(fx, H_NEXTUID), 3);
}

/* Dovecot's uidlist in its version 1 ("1 UIDVALIDITY NEXTUID", then
 * "UID NAME") gives its UIDs as version 3's does. */
static void
test_dovecot_uidlist_v1(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;

	put(fx->mdfd, "cur/1.a:2,S", "a\n");
	put(fx->mdfd, "new/2.b", "b\n");
	put(fx->mdfd, UIDLIST_DOVECOT, "1 1275660208 30\n"
	    "7 1.a:2,S\n\n"
	    "9 2.b\n");
	md = md_open(fx);
	assert_int_equal(md->uidvalidity, 1275660208);
	assert_int_equal(uid_of(md, "1.a"), 7);
	assert_int_equal(uid_of(md, "2.b"), 9);
	maildrop_close(&md);
	assert_int_equal(header_field(fx, H_NEXTUID), 30);
}

/* A uidlist naming a path ("../x") or of an unknown version is not
 * used at all: the Maildir is numbered afresh. */
static void
test_dovecot_uidlist_foreign(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	static const char *const bad[] = {
		"3 V1275660208 N30\n7 :../../1.a\n",
		"1 1275660208 30\n7 new/1.a\n",
		"2 1275660208 30\n7 1.a\n",
		"3 V1275660208 N30\n7 1.a\n",
		"3 V1275660208 N30",
		"3 V1275660208 Nx\n",
	};
	size_t		 i;

	put(fx->mdfd, "new/1.a", "a\n");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(fx->mdfd, UIDLIST_DOVECOT, bad[i]);
		capture(fx);
		md = md_open(fx);
		assert_true(captured(fx, "not understood, not used"));
		assert_true(md->uidvalidity != 1275660208);
		assert_int_equal(uid_of(md, "1.a"), 1);
		maildrop_close(&md);
		assert_int_equal(unlinkat(fx->mdfd, INDEX_FILE, 0), 0);
	}
}

/* One base name under two names in cur/ (a client that crashed while
 * changing flags by link and unlink) is one message, known or new. */
static void
test_twice_in_cur(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;

	put(fx->mdfd, "cur/1.a:2,S", "a\n");
	assert_int_equal(linkat(fx->mdfd, "cur/1.a:2,S", fx->mdfd,
	    "cur/1.a:2,RS", 0), 0);
	md = md_open(fx);
	assert_int_equal(md->count, 1);
	assert_int_equal(md->mail[0].uid, 1);
	maildrop_close(&md);
	put(fx->mdfd, "cur/2.b:2,", "b\n");
	assert_int_equal(linkat(fx->mdfd, "cur/2.b:2,", fx->mdfd,
	    "cur/2.b:2,F", 0), 0);
	md = md_open(fx);
	assert_int_equal(md->count, 2);
	assert_int_equal(uid_of(md, "1.a"), 1);
	assert_int_equal(uid_of(md, "2.b"), 2);
	assert_int_equal(md->size, 6);
	maildrop_close(&md);
}

/* A corrupt counter: messages are listed without global IDs (UIDs
 * saved), need_gids refuses, and once it is repaired they get theirs. */
static void
test_counter_corrupt(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md = NULL;

	put_in(fx->state, MSGID_FILE, "garbage\n");
	put(fx->mdfd, "new/1.a", "a\n");
	capture(fx);
	md = md_open(fx);
	assert_true(captured(fx, "corrupt: no global message IDs"));
	assert_int_equal(md->mail[0].uid, 1);
	assert_int_equal(md->mail[0].gid, MSGID_NONE);
	assert_true(md->idx.saved);
	maildrop_close(&md);
	fx->opts.need_gids = true;
	assert_int_equal(maildrop_open(fx->md, &fx->opts, &md), -1);
	assert_int_equal(errno, EAGAIN);
	put_in(fx->state, MSGID_FILE, "postern-msgid 1 0000000050\n");
	md = md_open(fx);
	assert_int_equal(md->mail[0].gid, 50);
	maildrop_close(&md);
}

/* A FIFO as the index lock file: listed all the same, but the index is
 * not written, and need_uids refuses. */
static void
test_lock_file_fifo(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md = NULL;
	struct stat	 st;

	put(fx->mdfd, "new/1.a", "a\n");
	assert_int_equal(mkfifoat(fx->mdfd, INDEX_LOCK_FILE, 0600), 0);
	capture(fx);
	md = md_open(fx);
	assert_true(captured(fx, "the index is not updated"));
	assert_int_equal(md->count, 1);
	assert_false(md->idx.saved);
	maildrop_close(&md);
	assert_int_equal(fstatat(fx->mdfd, INDEX_FILE, &st, 0), -1);
	fx->opts.need_uids = true;
	assert_int_equal(maildrop_open(fx->md, &fx->opts, &md), -1);
	assert_int_equal(errno, EAGAIN);
}

/* index_commit() refuses without the lock (ENOLCK) and writes nothing;
 * index_lock() taken twice is held once. */
static void
test_commit_needs_lock(void **state)
{
	struct fx_dir	*fx = *state;
	struct mail_index x;
	unsigned long long gen;

	put(fx->mdfd, "new/1.a", "a\n");
	index_init(&x, fx->mdfd, fx->md);
	assert_int_equal(index_lock(&x), 0);
	assert_int_equal(index_sync(&x, &fx->opts), 0);
	index_unlock(&x);
	gen = header_field(fx, H_GENERATION);
	x.mail[0].flags |= MAIL_GONE;
	assert_int_equal(index_commit(&x, &fx->opts), -1);
	assert_int_equal(errno, ENOLCK);
	assert_int_equal(header_field(fx, H_GENERATION), gen);
	assert_true(holds(fx, INDEX_FILE, "new/1.a"));
	assert_int_equal(index_lock(&x), 0);
	assert_int_equal(index_lock(&x), 0);
	index_unlock(&x);
	assert_int_equal(x.lockfd, -1);
	index_free(&x);
}

/* A listing from the index (its stamp holds) that gives global IDs to
 * messages that had none writes them, under the lock: the next listing
 * finds the same IDs. */
static void
test_fresh_saves_gids(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	unsigned long long gen;
	uint32_t	 gid;
	char		 bad[PATH_MAX + 16];

	(void)snprintf(bad, sizeof(bad), "%s/none", fx->state);
	fx->opts.state_dir = bad;
	put(fx->mdfd, "new/1.a", "a\n");
	age_dirs(fx, 10);
	md = md_open(fx);
	assert_int_equal(md->mail[0].gid, MSGID_NONE);
	maildrop_close(&md);
	gen = header_field(fx, H_GENERATION);
	fx->opts.state_dir = fx->state;
	put_in(fx->state, MSGID_FILE, "postern-msgid 1 0000000050\n");
	md = md_open(fx);
	gid = md->mail[0].gid;
	assert_int_equal(gid, 50);	/* taken once, under the lock */
	assert_true(md->idx.ids_saved);
	maildrop_close(&md);
	assert_int_equal(header_field(fx, H_GENERATION), gen + 1);
	md = md_open(fx);
	assert_int_equal(md->mail[0].gid, gid);
	maildrop_close(&md);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, fx_maildir_setup, \
		    fx_dir_teardown)
	const struct CMUnitTest tests[] = {
		T(test_first_and_again),
		T(test_sizes_from_index),
		T(test_incremental),
		T(test_moves_keep_uid),
		T(test_truncated),
		T(test_corrupt_entry),
		T(test_rebuilt),
		T(test_leftover_tmp),
		T(test_unknown_file),
		T(test_no_index),
		T(test_gid_later),
		T(test_dovecot_uidlist),
		T(test_index_lock_wait),
		T(test_fresh_without_lock),
		T(test_lazy_rereads),
		T(test_lazy_lock_timeout),
		T(test_kill_writer),
		T(test_stamp_spares_readdir),
		T(test_stamp_sees_changes),
		T(test_stale_name),
		T(test_generation_commit),
		T(test_version1),
		T(test_entry_overflow),
		T(test_index_too_big),
		T(test_uids_exhausted),
		T(test_dovecot_uidlist_v1),
		T(test_dovecot_uidlist_foreign),
		T(test_twice_in_cur),
		T(test_counter_corrupt),
		T(test_lock_file_fifo),
		T(test_commit_needs_lock),
		T(test_fresh_saves_gids),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
