/*
 * maildir.h: Maildir messages, and the POP3 "maildrop": a locked
 * snapshot of one Maildir.  Opening a maildrop takes the maildrop lock,
 * removes stale tmp/ files, and lists new/ and cur/ through the index
 * (index.h) in UID order, which is the order Postern first saw the
 * messages in, and for messages first seen together their delivery
 * order.  Deletions and the "seen" state are only marked;
 * maildrop_commit() applies them.  A maildrop closed without a commit
 * changes nothing.  Mail delivered after opening is not listed and never
 * touched.  Nothing here knows of any protocol.
 *
 * A message's size is its network size: every bare LF counted as CRLF,
 * plus 2 when the last line has no newline (the CRLF a sender adds).
 */
#ifndef POSTERN_MAILDIR_H
#define POSTERN_MAILDIR_H

#include <sys/types.h>
#include <sys/stat.h>
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MAIL_DELETED	0x01	/* marked for deletion */
#define MAIL_SEEN	0x02	/* read: moved to cur/ with flag S on commit */
#define MAIL_GONE	0x04	/* removed from the Maildir by this session */
#define MAIL_BADINFO	0x08	/* an information part other than ":2,"
				   and letters: its flags are unknown */
#define MAIL_UNCHECKED	0x100	/* while listing: the file's type is not
				   known yet (no d_type) */
#define MAIL_OWNNAME	0x200	/* name is malloc'ed on its own, not in
				   the listing's arena */

struct mail {
	char		*name;	/* "new/BASE" or "cur/BASE:2,FLAGS" */
	size_t		 baselen;	/* length of BASE */
	off_t		 size;	/* network size */
	unsigned	 flags;	/* MAIL_* */
	uint32_t	 uid;	/* UID in its folder; 0 without the index */
	uint32_t	 gid;	/* global message ID; 0 (MSGID_NONE) if none */
	time_t		 time;	/* delivery time */
	uint32_t	 mflags;	/* the name's flag letters, FLAG_* */
	uint32_t	 keywords;	/* the name's keyword letters */
};

/* How a Maildir is listed; a NULL options pointer means all zero. */
struct mail_opts {
	const char	*state_dir;	/* the global ID counter's directory;
					   NULL: no global IDs */
	struct msgid	*msgid;		/* an open counter, used instead */
	bool		 no_index;	/* list without the index: no UIDs,
					   no global IDs, every size counted */
	bool		 need_uids;	/* fail rather than list messages
					   whose UIDs may not last (the
					   index could not be written) */
	bool		 need_gids;	/* fail rather than list messages
					   without a global ID (the counter
					   unusable) */
};

#include "storage/index.h"

struct maildrop {
	char		*path;
	int		 dirfd;	/* the Maildir, O_DIRECTORY */
	int		 lockfd;
	struct mail	*mail;	/* in UID order (delivery order) */
	size_t		 count;	/* listed: at most MAILDROP_MESSAGES_MAX */
	off_t		 size;	/* sum of sizes */
	uint32_t	 uidvalidity;	/* 0 without the index */
	struct mail_index idx;	/* every message, mail[] its start */
	struct mail_opts opts;	/* as opened (strings not copied) */
	int		 ahead_fd;	/* maildrop_readahead's, or -1 */
	size_t		 ahead_i;	/* its message */
	off_t		 ahead_size;
};

#define MAILDROP_LOCKED	(-2)	/* another session holds the lock */

/*
 * Locks and lists the Maildir at path into *md_r, as opts says (NULL:
 * the index, no global IDs; the maildrop keeps opts' pointers, which must
 * outlive it).  Returns 0, or MAILDROP_LOCKED, or -1 on an
 * error (errno set, reason logged).  A Maildir with no new/, cur/ or
 * tmp/ is an error, not created.  An index that cannot be read is
 * rebuilt, one that cannot be written only logged, unless
 * opts->need_uids or need_gids cannot be met (errno EAGAIN).
 */
int	 maildrop_open(const char *path, const struct mail_opts *opts,
	    struct maildrop **md_r);
/*
 * Opens message i (0-based) for reading, following it if another agent
 * moved it within new/ and cur/.  Returns an fd, and the file's size in
 * *size_r when not NULL; or -1 with errno (ENOENT: another agent removed
 * it; EINVAL: i out of range, or the name is no longer a regular file).
 */
int	 maildrop_open_mail(struct maildrop *md, size_t i, off_t *size_r);
/*
 * Opens message i ahead of the maildrop_open_mail(md, i) that a client
 * fetching in order is about to cause, which then returns that
 * descriptor, and asks the kernel to start reading the file meanwhile.
 * One message is held so at most: opening any other, or closing the
 * maildrop, lets it go.  Failures are silent; that open reports them.
 */
void	 maildrop_readahead(struct maildrop *md, size_t i);
/* maildrop_readahead() of the first message after i not marked for
 * deletion, the one a client fetching in order asks for next; when none
 * is left, the one held is let go. */
void	 maildrop_readahead_next(struct maildrop *md, size_t i);
/* Marked counts: messages and octets not marked deleted. */
size_t	 maildrop_live(const struct maildrop *md, off_t *size_r);
/* Clears every deletion mark. */
void	 maildrop_reset(struct maildrop *md);
/*
 * Applies the marks: unlinks deleted messages, renames seen ones into
 * cur/ with the S flag, and drops the deleted from the index.  Returns
 * 0, or -1 with *failed_r set to the number of deletions that could not
 * be done (each logged).  Holds the lock.
 */
int	 maildrop_commit(struct maildrop *md, size_t *failed_r);
/* Releases the lock, frees *mdp and sets it to NULL. */
void	 maildrop_close(struct maildrop **mdp);

/* Messages of one Maildir directory, the primitives of index.c and
 * folder.c. */

/* A listing's names are allocated together in an arena and freed with
 * it; a name changed later is malloc'ed on its own (MAIL_OWNNAME). */
struct arena;
/* Frees the arena *ap and sets it to NULL. */
void	 arena_free(struct arena **ap);
/* A NUL-ended copy of the len octets at s in the arena *ap (made if
 * NULL), or NULL (errno ENOMEM). */
char	*arena_strndup(struct arena **ap, const char *s, size_t len);
/* Gives m the malloc'ed name, freeing its old one if it was its own. */
void	 mail_rename(struct mail *m, char *name);
/* Frees m's name if it is its own, and sets it to NULL. */
void	 mail_name_free(struct mail *m);

/* The base name of m (not NUL-terminated: use m->baselen). */
const char *mail_base(const struct mail *m);
/* Size fields of a Maildir base name: ,S= (file size) and ,W= (network
 * size).  Each is -1 when absent or malformed. */
void	 maildir_name_sizes(const char *base, size_t len, off_t *s_r,
	    off_t *w_r);
/* The delivery time a base name starts with (digits, then '.'), or -1. */
time_t	 maildir_name_time(const char *base, size_t len);
/* Reads fd to its end and computes the network size.  0 or -1 (errno). */
int	 maildir_count_size(int fd, off_t *size_r);
/*
 * Removes the regular files in tmp/ of the Maildir dirfd whose atime,
 * mtime and ctime are all older than MAILDIR_TMP_STALE before now (path
 * is only for the log).  maildrop_open() calls it when tmp/ is due; now is
 * a parameter so that tests can move the clock.  Returns the number of
 * files removed, or -1 if tmp/ cannot be read (logged).
 */
int	 maildir_clean_tmp(int dirfd, const char *path, time_t now);
/*
 * Whether tmp/ (its status in *tmp) is due a scan by maildir_clean_tmp()
 * at now: maildrop_open() scans it when its access time, which a scan
 * sets, is MAILDIR_TMP_SCAN old (or in the future), not at every open.
 */
bool	 maildir_tmp_due(const struct stat *tmp, time_t now);
/* Opens subdirectory sub of dirfd for reading, never through a symlink;
 * its descriptor goes to *fd_r.  NULL with errno. */
DIR	*maildir_opendir(int dirfd, const char *sub, int *fd_r);
/*
 * Appends the message files of new/ and cur/ of dirfd to *mail_r (of
 * *count_r entries, room for *alloc_r), names only (in the arena *ap):
 * size 0, time -1.  Dot files and what is not a regular file are
 * skipped.  Returns 0, or -1 (logged) when a directory cannot be read.
 */
int	 maildir_scan(int dirfd, const char *path, struct arena **ap,
	    struct mail **mail_r, size_t *count_r, size_t *alloc_r);
/* Delivery order for qsort: the leading number of the base, then the
 * base octet by octet. */
int	 maildir_mail_cmp(const void *a, const void *b);
/*
 * Sets the network size of m (when size_known is false) from ,W= or by
 * reading the file, and its time (when m->time is -1) from the base name
 * or the file's mtime.  Returns 0, or -1 (logged) when m must not be
 * listed: gone, unreadable or not a regular file.
 */
int	 maildir_mail_stat(int dirfd, const char *path, struct mail *m,
	    bool size_known);
/* Sets m's mflags, keywords and MAIL_BADINFO from its name. */
void	 maildir_mail_flags(struct mail *m);
/*
 * Finds m again after another agent moved it (new/ to cur/, or a flag
 * change) and updates m->name and its flags.  0, or -1 with errno
 * (ENOENT: in neither directory).
 */
int	 maildir_relocate(int dirfd, const char *path, struct mail *m);
/* Opens m for reading, following it if it moved.  As maildrop_open_mail. */
int	 maildir_open_msg(int dirfd, const char *path, struct mail *m,
	    off_t *size_r);
/* Returns "sub/name" followed by suffix (name namelen long), or NULL
 * (errno). */
char	*maildir_name_join(const char *sub, const char *name, size_t namelen,
	    const char *suffix);

#endif
