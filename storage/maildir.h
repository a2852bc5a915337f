/*
 * maildir.h: a locked snapshot of one Maildir, the "maildrop" of POP3.
 * Opening takes the maildrop lock, removes stale tmp/ files, and lists
 * new/ and cur/ in delivery order.  Deletions and the "seen" state are
 * only marked; maildrop_commit() applies them.  A maildrop closed without
 * a commit changes nothing.  Mail delivered after opening is not listed
 * and never touched.  Nothing here knows of any protocol.
 *
 * A message's size is its network size: every bare LF counted as CRLF,
 * plus 2 when the last line has no newline (the CRLF a sender adds).
 */
#ifndef POSTERN_MAILDIR_H
#define POSTERN_MAILDIR_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

#define MAIL_DELETED	0x01	/* marked for deletion */
#define MAIL_SEEN	0x02	/* read: moved to cur/ with flag S on commit */

struct mail {
	char		*name;	/* "new/BASE" or "cur/BASE:2,FLAGS" */
	size_t		 baselen;	/* length of BASE */
	off_t		 size;	/* network size */
	unsigned	 flags;	/* MAIL_* */
};

struct maildrop {
	char		*path;
	int		 dirfd;	/* the Maildir, O_DIRECTORY */
	int		 lockfd;
	struct mail	*mail;	/* in delivery order */
	size_t		 count;
	off_t		 size;	/* sum of sizes */
};

#define MAILDROP_LOCKED	(-2)	/* another session holds the lock */

/*
 * Locks and lists the Maildir at path into *md_r.  Returns 0, or
 * MAILDROP_LOCKED, or -1 on an error (errno set, reason logged).
 * A Maildir with no new/, cur/ or tmp/ is an error, not created.
 */
int	 maildrop_open(const char *path, struct maildrop **md_r);
/* The base name of m (not NUL-terminated: use m->baselen). */
const char *mail_base(const struct mail *m);
/*
 * Opens message i (0-based) for reading, following it if another agent
 * moved it within new/ and cur/.  Returns an fd, or -1 with errno
 * (ENOENT: another agent removed it; EINVAL: i out of range, or the name
 * is no longer a regular file).
 */
int	 maildrop_open_mail(struct maildrop *md, size_t i);
/* Marked counts: messages and octets not marked deleted. */
size_t	 maildrop_live(const struct maildrop *md, off_t *size_r);
/* Clears every deletion mark. */
void	 maildrop_reset(struct maildrop *md);
/*
 * Applies the marks: unlinks deleted messages, renames seen ones into
 * cur/ with the S flag.  Returns 0, or -1 with *failed_r set to the number
 * of deletions that could not be done (each logged).  Holds the lock.
 */
int	 maildrop_commit(struct maildrop *md, size_t *failed_r);
/* Releases the lock, frees *mdp and sets it to NULL. */
void	 maildrop_close(struct maildrop **mdp);

/* Size fields of a Maildir base name: ,S= (file size) and ,W= (network
 * size).  Each is -1 when absent or malformed. */
void	 maildir_name_sizes(const char *base, size_t len, off_t *s_r,
	    off_t *w_r);
/* Reads fd to its end and computes the network size.  0 or -1 (errno). */
int	 maildir_count_size(int fd, off_t *size_r);
/*
 * Removes the regular files in tmp/ of the Maildir dirfd whose atime,
 * mtime and ctime are all older than MAILDIR_TMP_STALE before now (path
 * is only for the log).  maildrop_open() calls it with time(NULL); now is
 * a parameter so that tests can move the clock.  Returns the number of
 * files removed, or -1 if tmp/ cannot be read (logged).
 */
int	 maildir_clean_tmp(int dirfd, const char *path, time_t now);

#endif
