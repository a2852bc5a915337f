/*
 * test_index.c: the per-Maildir index through maildrop_open(): UIDs in
 * delivery order that last and are never reused, sizes and times taken
 * from the index without reading a message, incremental updates, the
 * rebuild of a missing, truncated, corrupt or foreign index (logged),
 * files the index does not know, Dovecot's uidlist, the index lock, and
 * a writer killed at any moment.  Every test works in its own temporary
 * directory and removes it afterwards.
 */
#include "tests/unit/unit.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

struct fixture {
	char		 dir[PATH_MAX];		/* holds md/ and state/ */
	char		 md[PATH_MAX + 8];
	char		 state[PATH_MAX + 8];
	int		 mdfd;
	struct mail_opts opts;
	int		 saved_stderr;		/* while the log is captured */
	FILE		*log;
};

/* Makes dir/md (a Maildir) and dir/state. */
static int
setup(void **state)
{
	struct fixture	*fx;
	const char	*tmp = getenv("TMPDIR");

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if (snprintf(fx->dir, sizeof(fx->dir), "%s/test_index.XXXXXX", tmp) >=
	    (int)sizeof(fx->dir) || mkdtemp(fx->dir) == NULL)
		goto fail;
	(void)snprintf(fx->md, sizeof(fx->md), "%s/md", fx->dir);
	(void)snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
	if (mkdir(fx->md, 0700) == -1 || mkdir(fx->state, 0700) == -1)
		goto fail;
	fx->mdfd = open(fx->md, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fx->mdfd == -1 || mkdirat(fx->mdfd, "new", 0700) == -1 ||
	    mkdirat(fx->mdfd, "cur", 0700) == -1 ||
	    mkdirat(fx->mdfd, "tmp", 0700) == -1)
		goto fail;
	fx->opts.state_dir = fx->state;
	fx->saved_stderr = -1;
	*state = fx;
	return 0;
fail:
	free(fx);
	return -1;
}

/* Removes one entry of the tree (nftw callback). */
static int
rm_entry(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(p);
}

/* Removes the temporary tree. */
static int
teardown(void **state)
{
	struct fixture	*fx = *state;
	int		 rc;

	(void)close(fx->mdfd);
	rc = nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return rc;
}

/* Writes the string s to the file rel of the Maildir. */
static void
put(struct fixture *fx, const char *rel, const char *s)
{
	size_t	 len = strlen(s);
	int	 fd;

	fd = openat(fx->mdfd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* The contents of the file rel of the Maildir ("" if none), malloc'ed. */
static char *
get(struct fixture *fx, const char *rel)
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
holds(struct fixture *fx, const char *rel, const char *needle)
{
	char	*text = get(fx, rel);
	bool	 found = strstr(text, needle) != NULL;

	free(text);
	return found;
}

/* Starts sending the log (stderr) to a temporary file. */
static void
capture(struct fixture *fx)
{
	fflush(stderr);
	assert_non_null(fx->log = tmpfile());
	fx->saved_stderr = dup(2);
	assert_true(fx->saved_stderr >= 0);
	assert_int_equal(dup2(fileno(fx->log), 2), 2);
}

/* Stops the capture; true if the log written meanwhile has needle. */
static bool
captured(struct fixture *fx, const char *needle)
{
	char	 buf[16384];
	size_t	 n;

	fflush(stderr);
	assert_int_equal(dup2(fx->saved_stderr, 2), 2);
	(void)close(fx->saved_stderr);
	fx->saved_stderr = -1;
	rewind(fx->log);
	n = fread(buf, 1, sizeof(buf) - 1, fx->log);
	buf[n] = '\0';
	fclose(fx->log);
	fx->log = NULL;
	return strstr(buf, needle) != NULL;
}

/* Opens the fixture's maildrop, which must succeed. */
static struct maildrop *
md_open(struct fixture *fx)
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
	struct fixture	*fx = *state;
	struct maildrop	*md;
	uint32_t	 uidv;
	char		*text;

	put(fx, "new/1000.b", "b\n");
	put(fx, "new/999.a", "a\n");
	put(fx, "cur/1001.c,W=77:2,S", "c\n");
	put(fx, "cur/abc:2,", "x\n");
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
	assert_int_equal(strncmp(text, "postern-index 1 ", 16), 0);
	assert_non_null(strstr(text, " 5 4\n"));	/* nextuid, count */
	assert_non_null(strstr(text, "\n2 2 3 999 999.a\n"));
	assert_non_null(strstr(text, "\n4 4 77 1001 1001.c,W=77\n"));
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
	struct fixture	*fx = *state;
	struct maildrop	*md;

	put(fx, "new/1.a,S=2", "a\n");
	put(fx, "new/x.b", "b\n");
	md = md_open(fx);
	/* a name without a time comes first, and its time is the mtime */
	assert_string_equal(md->mail[0].name, "new/x.b");
	assert_true(md->mail[0].time > 1000000000);
	assert_int_equal(md->mail[1].size, 3);
	maildrop_close(&md);
	put(fx, "new/1.a,S=2", "a much longer text\n");
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
	struct fixture	*fx = *state;
	struct maildrop	*md;
	size_t		 failed;
	uint32_t	 uidv;

	put(fx, "new/1.a", "a\n");
	put(fx, "new/2.b", "b\n");
	put(fx, "new/3.c", "c\n");
	md = md_open(fx);
	uidv = md->uidvalidity;
	md->mail[1].flags |= MAIL_DELETED;
	assert_int_equal(maildrop_commit(md, &failed), 0);
	maildrop_close(&md);
	assert_false(holds(fx, INDEX_FILE, "2.b"));

	put(fx, "new/0.z", "z\n");	/* older by its name: still last */
	put(fx, "new/2.b", "b\n");	/* the removed one's name again */
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
	struct fixture	*fx = *state;
	struct maildrop	*md;

	put(fx, "new/1.a", "a\n");
	put(fx, "new/2.b", "b\n");
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
	struct fixture	*fx = *state;
	struct maildrop	*md;
	uint32_t	 uidv;
	char		*text, *cut;

	put(fx, "new/1.a", "a\n");
	put(fx, "new/2.b", "b\n");
	put(fx, "new/3.c", "c\n");
	md = md_open(fx);
	uidv = md->uidvalidity;
	maildrop_close(&md);
	text = get(fx, INDEX_FILE);
	cut = strstr(text, "\n2 ");
	assert_non_null(cut);
	cut[5] = '\0';		/* "...\n2 2 3" */
	put(fx, INDEX_FILE, text);
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

/* A corrupt line: the entries before it are kept. */
static void
test_corrupt_entry(void **state)
{
	struct fixture	*fx = *state;
	struct maildrop	*md;
	char		 text[512];

	put(fx, "new/1.a", "a\n");
	put(fx, "new/2.b", "b\n");
	put(fx, "new/3.c", "c\n");
	/* UIDs out of order after the first: corrupt from line 3 on */
	(void)snprintf(text, sizeof(text), "postern-index 1 1234 40 3\n"
	    "10 0 3 1 1.a\n9 0 3 2 2.b\n30 0 3 3 3.c\nend\n");
	put(fx, INDEX_FILE, text);
	capture(fx);
	md = md_open(fx);
	assert_true(captured(fx, ":3: corrupt; the 1 entries before it are "
	    "kept"));
	assert_int_equal(md->uidvalidity, 1234);
	assert_int_equal(uid_of(md, "1.a"), 10);
	assert_int_equal(uid_of(md, "2.b"), 40);
	assert_int_equal(uid_of(md, "3.c"), 41);
	maildrop_close(&md);
}

/* A foreign version, a broken header, garbage, an empty file and a
 * directory in the index's place are rebuilt under a new UIDVALIDITY. */
static void
test_rebuilt(void **state)
{
	struct fixture	*fx = *state;
	struct maildrop	*md;
	static const char *const bad[] = {
		"postern-index 2 1234 3 1\n1 0 3 1 1.a\nend\n",
		"postern-index 1 x 3 1\n1 0 3 1 1.a\nend\n",
		"\x7f" "ELF\x02\x01\x01\n\n\n",
		"",
		"postern-index 1 1234 3 1",
	};
	struct timespec	 ts[2];
	uint32_t	 prev = 0;
	size_t		 i;

	put(fx, "new/1.a", "a\n");
	put(fx, "new/2.b", "b\n");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(fx, INDEX_FILE, bad[i]);
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
	struct fixture	*fx = *state;
	struct maildrop	*md;
	char		*text;

	put(fx, "new/1.a", "a\n");
	md = md_open(fx);
	maildrop_close(&md);
	put(fx, INDEX_FILE ".tmp", "postern-index 1 99 7 1\n5 0 3 1 1.a\n");
	put(fx, "new/2.b", "b\n");
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
	struct fixture	*fx = *state;
	struct maildrop	*md;

	put(fx, "new/1.a", "a\n");
	put(fx, "cur/5.e:2,S", "e\n");
	put(fx, INDEX_FILE, "postern-index 1 1234 10 2\n"
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
	struct fixture	*fx = *state;
	struct maildrop	*md;
	struct stat	 st;

	put(fx, "new/1.a,W=99", "a\n");
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
	struct fixture	*fx = *state;
	struct maildrop	*md;
	char		 bad[PATH_MAX + 16];

	(void)snprintf(bad, sizeof(bad), "%s/none", fx->state);
	fx->opts.state_dir = bad;
	put(fx, "new/1.a", "a\n");
	put(fx, "new/2.b", "b\n");
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
	put(fx, "new/3.c", "c\n");
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
	struct fixture	*fx = *state;
	struct maildrop	*md;

	put(fx, "cur/1.a,S=2:2,S", "a\n");
	put(fx, "new/2.b,S=2", "b\n");
	put(fx, "new/3.c", "c\n");
	put(fx, UIDLIST_DOVECOT, "3 V1275660208 N25 Gabcdef\n"
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
	put(fx, UIDLIST_DOVECOT, "3 V1 N2\n1 :3.c\n");
	md = md_open(fx);
	assert_int_equal(md->uidvalidity, 1275660208);
	assert_int_equal(uid_of(md, "3.c"), 25);
	maildrop_close(&md);

	/* an unusable list is ignored */
	assert_int_equal(unlinkat(fx->mdfd, INDEX_FILE, 0), 0);
	put(fx, UIDLIST_DOVECOT, "3 V1 N2\nx :3.c\n");
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
	struct fixture	*fx = *state;
	struct maildrop	*md;
	struct timespec	 a, b;
	pid_t		 pid;
	int		 p[2], status;
	char		 c;

	put(fx, "new/1.a", "a\n");
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
many(struct fixture *fx, int n, int from)
{
	char	 name[64];
	int	 i;

	for (i = from; i < from + n; i++) {
		(void)snprintf(name, sizeof(name),
		    "new/%d.M%dP1.crash.example,W=%d", 1000000 + i, i, 3);
		put(fx, name, "x\n");
	}
}

/* Writers killed at random moments: every listing afterwards finds
 * the old index or the new one (or rebuilds), never one that gives a
 * known message another UID. */
static void
test_kill_writer(void **state)
{
	struct fixture	*fx = *state;
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

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
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
		T(test_kill_writer),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
