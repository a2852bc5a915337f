/*
 * index.h: the per-Maildir index, INDEX_FILE in the top directory of a
 * Maildir or of a Maildir++ folder.  It maps each message's base name to
 * its UID in the folder (IMAP's: strictly ascending, never reused under
 * one UIDVALIDITY), its global message ID (msgid.h), its network size,
 * its delivery time and its file name, so that a known Maildir is listed
 * with one readdir per directory and without a stat() or open() per
 * message, or with no readdir at all while new/ and cur/ keep the inode
 * and modification time the listing that wrote the index found them
 * with (long enough before it began that no change can hide in the same
 * time stamp).  The header's generation, one more at each write, tells
 * a writer whether the file is still the one it read.  The format is in
 * postern-storage(7).
 *
 * Locking: the index is written only under the index lock,
 * INDEX_LOCK_FILE, waited for up to INDEX_LOCK_WAIT ms and held for the
 * short time of a sync or a change; it is written to a temporary file,
 * fsynced and renamed into place, so that a crash leaves the old index or
 * the new one.  Reading needs no lock.  A missing, truncated, corrupt or
 * foreign index is rebuilt from the directories and logged, never fatal;
 * a file the index does not know is never left out.
 */
#ifndef POSTERN_INDEX_H
#define POSTERN_INDEX_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define INDEX_FILE	"postern-index"
#define INDEX_LOCK_FILE	"postern-index.lock"
#define INDEX_VERSION	2		/* version 1 (no generation, no
					   stamp, base names) is read too */
#define INDEX_LOCK_WAIT	10000		/* ms */
#define UIDLIST_DOVECOT	"dovecot-uidlist"	/* read once, never written */

struct arena;
struct mail;
struct mail_opts;

/* A message the caller just put into the Maildir (an append or a copy):
 * the listing that finds it new gives it this delivery time instead of
 * the one in its name, and says which UID it got. */
struct index_hint {
	const char	*base;		/* its base name */
	time_t		 time;		/* -1: as its name says */
	uint32_t	 uid;		/* set by index_sync(); 0: not found */
};

/* A directory as a listing found it when it began. */
struct index_dir {
	ino_t		 ino;
	struct timespec	 mtime;
};

/* new/ and cur/ as the listing behind an index found them, and when it
 * began (scan 0: no stamp, the next listing reads the directories). */
struct index_stamp {
	struct timespec	 scan;
	struct index_dir dir[2];	/* new/, cur/ */
};

/* The messages of one Maildir directory as the index and the directories
 * agree on them. */
struct mail_index {
	int		 dirfd;		/* the Maildir (not owned) */
	const char	*path;		/* for the log (not owned) */
	uint32_t	 uidvalidity;
	uint32_t	 nextuid;	/* the UID the next new message gets */
	struct mail	*mail;		/* in UID order */
	size_t		 count;
	struct arena	*names;		/* where mail's names are */
	struct index_hint *hints;	/* for the next index_sync() */
	size_t		 nhints;
	int		 lockfd;	/* the index lock while held, or -1 */
	bool		 saved;		/* mail[] is what the index on disk
					   says: its UIDs last */
	bool		 ids_saved;	/* every message has a global ID,
					   and the index on disk has it */
	uint64_t	 generation;	/* of the index file read or written
					   last; 0: unknown (none, version
					   1, unreadable) */
	struct index_stamp stamp;	/* under which mail[] was listed */
};

/* Sets up an empty index of the Maildir dirfd (path for the log). */
void	 index_init(struct mail_index *idx, int dirfd, const char *path);
/*
 * Takes the index lock, waiting up to INDEX_LOCK_WAIT ms.  Returns 0, or
 * -1 (logged) with errno EAGAIN when another process kept it.
 */
int	 index_lock(struct mail_index *idx);
/* Releases the index lock if held. */
void	 index_unlock(struct mail_index *idx);
/*
 * Lists the Maildir into idx (replacing what it held): reads the index;
 * when its stamp says new/ and cur/ are unchanged since it was written,
 * lists what it says without reading them; else reads new/ and cur/ once
 * each, drops the messages that are gone, and gives the new ones a UID
 * in delivery order, a size, a time and (with a counter in opts) a global
 * ID.  With the index lock held and anything changed (or a stamp the
 * next listing can trust to be had), writes the index.  opts->no_index
 * lists every message as new and neither reads nor writes the index.
 * Returns 0, or -1 (logged) when new/ or cur/ cannot be read or memory
 * runs out.
 */
int	 index_sync(struct mail_index *idx, const struct mail_opts *opts);
/*
 * index_sync without the index lock where the index needs no write (its
 * stamp holds, every message has its IDs): the usual login takes no
 * lock.  Otherwise the lock is taken (unless held) before new/ and cur/
 * are read, and the index read again if another process wrote it
 * meanwhile (its generation); it stays held, for index_unlock.  Returns
 * as index_sync.
 */
int	 index_sync_lazy(struct mail_index *idx, const struct mail_opts *opts);
/*
 * With the index lock held: writes idx's messages, less those marked
 * MAIL_GONE, as the index; if the index file's generation is no longer
 * the one idx read or wrote (another process wrote it since, or it is
 * unknown), syncs afresh from new/ and cur/ instead, which keeps what
 * the other wrote and drops what is gone.  Returns 0 or -1 (logged).
 */
int	 index_commit(struct mail_index *idx, const struct mail_opts *opts);
/*
 * Whether the listing lacks what opts asks for: UIDs that last
 * (need_uids: the index was written or read as it is) or a global ID for
 * every message (need_gids).  Logs what is missing.
 */
bool	 index_lacks(const struct mail_index *idx,
	    const struct mail_opts *opts);
/* Frees idx's messages (not the lock). */
void	 index_free(struct mail_index *idx);

/*
 * Writing a file of a Maildir atomically: to name".tmp", fsynced,
 * renamed to name, and the directory fsynced.  The caller holds the
 * index lock, so that no one else writes the temporary file.
 */
struct afile;
/* Starts writing name in dirfd.  NULL (logged) on an error. */
struct afile *afile_begin(int dirfd, const char *path, const char *name);
/* Buffers len bytes.  0, or -1 (logged; the write is then aborted by
 * afile_commit). */
int	 afile_write(struct afile *af, const void *buf, size_t len);
/* Puts the file in place and frees *afp.  0, or -1 (logged; the old file
 * stays). */
int	 afile_commit(struct afile **afp);
/* Removes the temporary file and frees *afp. */
void	 afile_abort(struct afile **afp);

#endif
