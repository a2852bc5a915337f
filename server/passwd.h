/*
 * passwd.h: the passwd-file user database, laid out as Dovecot's so that
 * admins can migrate:  user:password:uid:gid:gecos:home:shell:extra
 * Only user and password are required; empty uid and gid mean "the
 * server's own identity".  Lines starting with # and blank lines are
 * skipped.  In a process that called passwd_keep() (the auth process,
 * which looks up every login) lookups are served from a copy of the file
 * kept in memory, read again whenever stat(2) says the file's inode,
 * size, modification or status change time changed: an edit in place or
 * a replacement by rename(2) is seen at the next lookup, with no reload.
 * Elsewhere each lookup reads the file: workers that check their own
 * logins are many, and a copy in each would cost the file's size in
 * every one of them.
 */
#ifndef POSTERN_PASSWD_H
#define POSTERN_PASSWD_H

#include <limits.h>

#include "server/limits.h"

#define PASSWD_HASH_MAX	512

/*
 * Largest file kept in memory: 64 MiB, some 400,000 users with
 * SHA512-CRYPT hashes.  A larger one is read through at every lookup,
 * as passwd_check does.  It bounds what a process holds for the copy
 * and its index, and keeps the index's offsets in 32 bits.
 */
#define PASSWD_COPY_MAX	((off_t)64 << 20)

/*
 * A copy read less than this many seconds after the file's last status
 * change is read again at the next lookup: a change made within the
 * same tick of the file system's clock would leave the file's size and
 * times as the copy knows them (ticks are a few milliseconds on ext4 or
 * tmpfs, 1 s on ext4 with 128-octet inodes, 2 s on FAT).
 */
#define PASSWD_RACY_SEC	2

struct passwd_entry {
	char	user[USER_MAX + 1];
	char	hash[PASSWD_HASH_MAX];	/* {SCHEME}hash or a crypt hash */
	long	uid;			/* -1 when empty */
	long	gid;			/* -1 when empty */
	char	home[PATH_MAX];		/* "" when empty */
};

/*
 * Parses one line (without its newline) into *e.  Returns 1 for an entry,
 * 0 for a blank or comment line, -1 for a malformed line (*why_r says why).
 */
int	passwd_parse_line(const char *line, struct passwd_entry *e,
	    const char **why_r);
/*
 * Finds user in the file at path.  Returns 1 and fills *e when found,
 * 0 when not, -1 when the file cannot be stat'ed or read (errno set,
 * logged).  The first valid line whose first field is user wins.  Only
 * the lines whose first field is user are parsed: those that are
 * malformed are logged with their line number and skipped.  After
 * passwd_keep(), served from the process's copy of the file, which this
 * stat(2)s at every call and
 * reads again when the path, or the file's device, inode, size,
 * modification or status change time, differ from the copy's (as does
 * a copy read within PASSWD_RACY_SEC of the file's last change).  A
 * file over PASSWD_COPY_MAX is not copied but read through at every
 * call.
 */
int	passwd_lookup(const char *path, const char *user,
	    struct passwd_entry *e);
/* Makes this process keep a copy of the file for its lookups. */
void	passwd_keep(void);
/* Wipes and frees the copy of the passwd-file, if this process holds
 * one, and keeps none from then on: a process that gives up the
 * privileges it read the file with must call it first.  Children forked
 * since a lookup hold none (the copy's pages read as zeros there). */
void	passwd_forget(void);
/* Parses every line of the file at path and logs each malformed one, as
 * `postern check` does.  Returns how many, or -1 when the file cannot be
 * read (logged). */
long	passwd_check(const char *path);

#endif
