/*
 * deliver.h: delivery of one message into a Maildir, as
 * cr.yp.to/proto/maildir.html asks: the message is written to tmp/ under a
 * unique name, synced, and linked into new/ as "UNIQUE,S=size,W=netsize";
 * new/ is then synced.  Nothing half written ever shows in new/ or cur/,
 * and on any failure the tmp/ file is removed.  Shared by `postern
 * deliver`, the LMTP module and PAPM push; nothing here knows a protocol.
 *
 * Messages are stored with LF line ends: each CRLF written is stored as
 * a LF (a CR before anything else is kept), as Dovecot stores them.  ,S=
 * is the stored size and ,W= the network size of maildir.h (every LF
 * counted as CRLF, plus 2 when the last line has no newline): POP3 sends
 * the stored text with CRLF again, so ,W= is what RETR sends.
 *
 * Unique names are "SECONDS.MusecPpidQn.HOST": the time, its
 * microseconds, the process id, a counter of this process's deliveries
 * and the host name, in which '/', ':' and ',' and octets outside
 * 0x21-0x7e are written as a backslash and three octal digits ("\057").
 */
#ifndef POSTERN_DELIVER_H
#define POSTERN_DELIVER_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

/* The longest Maildir++ folder name accepted, without its leading dot. */
#define DELIVER_FOLDER_MAX	200

/* Room for any base name deliver_commit() makes, NUL included. */
#define DELIVER_NAME_MAX	256

struct delivery;

/*
 * Whether name may be given as a folder: "INBOX" (any case, the Maildir
 * itself), or a Maildir++ folder name as "Sent" or "Lists.postern",
 * optionally after "INBOX." as Courier writes them: 1 to
 * DELIVER_FOLDER_MAX octets 0x20-0x7e, no '/', no "..", not starting or
 * ending with '.'.  The folder's directory is the name after a '.':
 * "Sent" and "INBOX.Sent" are both ".Sent".
 */
bool	 deliver_folder_valid(const char *name);

/*
 * Starts a delivery into the Maildir at path.  folder, when not NULL and
 * not "INBOX", names a Maildir++ folder: the message goes there if its
 * directory and the folder's tmp/ and new/ exist, else into the Maildir
 * itself, and a log line says so.  Returns a handle, or NULL with errno
 * set (EINVAL: folder is not deliver_folder_valid()) and the reason
 * logged.  The Maildir and its tmp/ and new/ must exist: they are never
 * created, and never followed when they are symbolic links (path itself
 * may be one).
 */
struct delivery *deliver_begin(const char *path, const char *folder);
/* The same into the Maildir open as dirfd, which stays the caller's;
 * path only names it in log lines. */
struct delivery *deliver_begin_at(int dirfd, const char *path,
	    const char *folder);

/* Appends len octets of the message.  Returns 0, or -1 with errno set
 * (logged); after a failure only deliver_abort() is left to call. */
int	 deliver_write(struct delivery *d, const void *buf, size_t len);
/* Appends what is left of fd from its offset, read in bounded chunks.
 * Returns 0, or -1 with errno set (logged). */
int	 deliver_copy(struct delivery *d, int fd);

/*
 * Ends the delivery: writes out, fsyncs and closes the tmp/ file, links
 * it into new/ (renames it where links are not supported) as
 * "UNIQUE,S=size,W=netsize" and fsyncs new/.  On success the base name
 * goes to name_r (at most DELIVER_NAME_MAX octets with the NUL) and the
 * stored and network sizes to *s_r and *w_r when they are not NULL.
 * Frees *dp and sets it to NULL in every case.  Returns 0, or -1 with
 * errno set, the reason logged and the tmp/ file removed.
 */
int	 deliver_commit(struct delivery **dp, char *name_r, size_t namelen,
	    off_t *s_r, off_t *w_r);
/* Gives the delivery up: removes the tmp/ file, frees *dp and sets it to
 * NULL.  A NULL *dp is allowed. */
void	 deliver_abort(struct delivery **dp);

/* The folder the message goes into: "" for the Maildir itself. */
const char *deliver_folder(const struct delivery *d);

/*
 * Whether a delivery that failed with errno err may work when tried
 * again: full disks and quotas (ENOSPC, EDQUOT), I/O errors, lack of
 * resources, interrupted or locked calls, and a missing or unreadable
 * Maildir (an unmounted file system, a permission an admin can fix).
 * Permanent are only EINVAL (a bad folder name), EFBIG (larger than a
 * file may be), ENAMETOOLONG, and ELOOP and ENOTDIR (a link or a file
 * where the Maildir has a directory).
 */
bool	 deliver_tempfail(int err);

#endif
