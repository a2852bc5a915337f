/*
 * passwd.h: the passwd-file user database, laid out as Dovecot's so that
 * admins can migrate:  user:password:uid:gid:gecos:home:shell:extra
 * Only user and password are required; empty uid and gid mean "the
 * server's own identity".  Lines starting with # and blank lines are
 * skipped.  The file is read at each lookup: no cache to go stale.
 */
#ifndef POSTERN_PASSWD_H
#define POSTERN_PASSWD_H

#include <limits.h>

#include "server/limits.h"

#define PASSWD_HASH_MAX	512

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
 * 0 when not, -1 when the file cannot be read (errno set, logged).
 * Only the lines whose first field is user are parsed: those that are
 * malformed are logged with their line number and skipped.
 */
int	passwd_lookup(const char *path, const char *user,
	    struct passwd_entry *e);
/* Parses every line of the file at path and logs each malformed one, as
 * `postern check` does.  Returns how many, or -1 when the file cannot be
 * read (logged). */
long	passwd_check(const char *path);

#endif
