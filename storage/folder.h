/*
 * folder.h: the folders of one user's Maildir and the messages in them,
 * for protocols with more than an inbox (MRP, IMAP), without their
 * knowing a file.  The INBOX is the Maildir itself; other folders are
 * Maildir++ folders: a folder "Sent" is the directory ".Sent" beside
 * new/, cur/ and tmp/, "Lists.postern" is ".Lists.postern" (the '.' is
 * the hierarchy separator), each a Maildir of its own with a
 * "maildirfolder" file.  A message's flags are the letters of its file
 * name's information part (flags.h), its keywords the small letters
 * named in the folder's keywords file; UIDs, UIDVALIDITY and global IDs
 * come from the folder's index (index.h).
 *
 * Locking rules (postern-storage(7)):
 *  - A folder session takes no lock for its lifetime: IMAP and MRP
 *    sessions run beside each other and beside a POP3 session, which
 *    alone holds the maildrop lock (maildir.h) of the INBOX for its whole
 *    session; a POP3 session follows messages that others rename and
 *    counts those that others remove as removed.
 *  - Every change of a folder's listing or of a message's name - a sync,
 *    a flag change, an expunge, a copy or an append into it, a keyword
 *    added - happens under that folder's index lock, held only for that
 *    change (and waited for up to INDEX_LOCK_WAIT ms), so that no listing
 *    misses a message being renamed.  A caller may hold the lock across
 *    several changes with folder_lock().  The lock is an fcntl lock,
 *    which belongs to the process: a process keeps one open folder per
 *    folder, or the second's release ends the first's lock.
 *  - Creating, renaming and deleting folders take no lock: each step is
 *    one atomic rename or mkdir; a session that has a deleted folder open
 *    finds its messages gone.
 *
 * A function that fails returns -1 with errno saying why; failures of
 * the system are logged, refusals of what a client asked (EINVAL,
 * EEXIST, ENOENT) are left to the protocol to answer.
 */
#ifndef POSTERN_FOLDER_H
#define POSTERN_FOLDER_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "storage/flags.h"
#include "storage/maildir.h"

#define FOLDER_INBOX		"INBOX"
#define FOLDER_NAME_MAX		200	/* octets, without the leading dot */
#define FOLDER_MARKER		"maildirfolder"

/*
 * Whether name may name a folder as a client gives it: "INBOX" (any
 * case), or 1 to FOLDER_NAME_MAX octets from 0x20 to 0x7e, with no '/',
 * no empty part (no "..", no leading or trailing '.'), optionally after
 * "INBOX." (Courier's way: "INBOX.Sent" is "Sent").  No other name ever
 * reaches the file system.
 */
bool	 folder_name_valid(const char *name);

/*
 * Creates folder name in the Maildir root with its new/, cur/, tmp/ and
 * maildirfolder.  Returns 0, or -1 with errno: EINVAL for an invalid name
 * or INBOX, EEXIST when it exists, or that of the failing call.
 */
int	 folder_create(const char *root, const char *name);
/*
 * Renames folder from, and the folders under it (from.x), to to.
 * Returns 0, or -1 with errno: EINVAL for an invalid name, INBOX, or a
 * folder moved under itself; ENOENT when from has neither a directory
 * nor folders under it; EEXIST when to, or one of the new names, exists;
 * ENAMETOOLONG when a new name would be longer than FOLDER_NAME_MAX.
 * Nothing is renamed when one of these is found.
 */
int	 folder_rename(const char *root, const char *from, const char *to);
/*
 * Deletes folder name and every message in it; folders under it stay.
 * Returns 0, or -1 with errno: EINVAL (invalid, INBOX), ENOENT.
 */
int	 folder_delete(const char *root, const char *name);
/*
 * Lists the folders of root: "INBOX" first, then the others in octet
 * order, as names folder_open() takes.  Directories whose names are not
 * valid folder names are left out.  *names_r is an array of *count_r
 * strings for folder_list_free().  Returns 0, or -1 with errno.
 */
int	 folder_list(const char *root, char ***names_r, size_t *count_r);
void	 folder_list_free(char **names, size_t count);

/* An open folder.  mail[] is valid until the next call that syncs. */
struct folder {
	char		*name;		/* as opened ("INBOX" for the root) */
	char		*path;		/* its directory, for the log */
	int		 dirfd;
	struct mail	*mail;		/* in UID order */
	size_t		 count;
	uint32_t	 uidvalidity;
	uint32_t	 nextuid;	/* IMAP's UIDNEXT */
	struct keywords	 kw;		/* what the small letters name */
	struct mail_index idx;
	struct mail_opts opts;		/* strings not copied */
	int		 locked;	/* folder_lock() depth */
};

/*
 * Opens and lists folder name of the Maildir root (opts as for
 * maildrop_open(); NULL for defaults).  A folder missing one of new/,
 * cur/ and tmp/ (a crash while it was created) gets it back; the INBOX
 * must have them all.  Returns 0, or -1 with errno (ENOENT: no such
 * folder; EINVAL: an invalid name; EAGAIN: opts->need_uids or
 * need_gids could not be met).
 */
int	 folder_open(const char *root, const char *name,
	    const struct mail_opts *opts, struct folder **f_r);
/*
 * Lists the folder again: messages delivered or copied in since get the
 * next UIDs, those removed are gone.  Returns 0 or -1.
 */
int	 folder_sync(struct folder *f);
/* The index of the message with UID uid in f->mail, or -1. */
ssize_t	 folder_find_uid(const struct folder *f, uint32_t uid);
/*
 * Opens message i for reading, following it if another agent moved it.
 * Returns an fd, or -1 with errno (ENOENT: removed; EINVAL: no such i).
 */
int	 folder_open_mail(struct folder *f, size_t i);
/*
 * Takes (nesting) or releases the folder's index lock, for several
 * changes in a row.  folder_lock() returns 0, or -1 (EAGAIN: timed out).
 */
int	 folder_lock(struct folder *f);
void	 folder_unlock(struct folder *f);
/*
 * Changes the flags (FLAG_*) and keywords (KEYWORD_BIT()) of message i:
 * first those in the remove masks are cleared, then those in the add
 * masks set; the file is renamed into cur/ with the new information
 * part.  Other capital letters in the name are kept.  Returns 0, or -1
 * with errno (EINVAL: no such i, or a name whose flags are unknown,
 * MAIL_BADINFO; ENOENT: removed by another agent).
 */
int	 folder_set_flags(struct folder *f, size_t i, uint32_t add,
	    uint32_t remove, uint32_t kw_add, uint32_t kw_remove);
/*
 * The keyword letter index (0-25) of name in f; with create, a new
 * keyword gets the first free letter and the keywords file is written.
 * Returns -1 with errno: ENOENT (unknown, !create), EINVAL (not a
 * keyword_valid() name), ENOSPC (26 in use).
 */
int	 folder_keyword(struct folder *f, const char *name, bool create);
/*
 * Removes the messages with the T (trashed, IMAP's \Deleted) flag as
 * they are on disk now, drops them from the index and lists the folder
 * again.  Their UIDs are never given again.  *count_r (if not NULL)
 * gets how many were removed.  Returns 0, or -1 when one could not be
 * removed (logged; the others are).
 */
int	 folder_expunge(struct folder *f, size_t *count_r);
/*
 * Copies the n messages src->mail[which[k]] into dst, keeping their
 * flags, keywords (by name) and times; each gets a new UID in dst (in
 * uids_r[k] when not NULL) and a new global ID.  A hard link where
 * possible, else a copy through deliver.c.  dst is listed again; src is
 * unchanged.  Returns 0, or -1 (nothing is half copied: a message either
 * is in dst whole or not at all, though some may have been copied).
 */
int	 folder_copy(struct folder *src, const size_t *which, size_t n,
	    struct folder *dst, uint32_t *uids_r);
/*
 * Appends the message read from fd (to its end, CRLF or LF line ends:
 * stored with LF by deliver.c) to f with the given flags and keywords,
 * and time as its delivery time (-1: now).  f is listed again; *uid_r
 * (if not NULL) gets the new message's UID.  Returns 0 or -1.
 */
int	 folder_append(struct folder *f, int fd, uint32_t flags,
	    uint32_t keywords, time_t time, uint32_t *uid_r);
/* Closes the folder, frees *fp and sets it to NULL. */
void	 folder_close(struct folder **fp);

#endif
