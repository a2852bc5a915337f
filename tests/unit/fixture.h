/*
 * fixture.h: what the unit tests share (fixture.c is linked into each):
 * a temporary directory, with a Maildir and a state directory, removed
 * afterwards; files written into it; the log captured meanwhile; and a
 * protocol
 * module's session over a socketpair: a passwd-file of accounts with
 * their Maildirs (those the delivery tests share among them), a message
 * to deliver, a configuration, serve() in a forked child, and the
 * client's helpers that send commands and read the replies.  Every
 * helper asserts what it needs, so a test fails where a step fails.
 */
#ifndef POSTERN_UNIT_FIXTURE_H
#define POSTERN_UNIT_FIXTURE_H

#include <sys/types.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "server/conf.h"
#include "storage/maildir.h"

/* ---- A temporary directory (the storage tests). ---- */

struct fx_dir {
	char		 dir[PATH_MAX];	/* $TMPDIR (else /tmp)/NAME.XXXXXX,
					   NAME the test program's */
	int		 dirfd;		/* open on dir */
	char		 md[PATH_MAX + 8];	/* dir/Maildir, when made */
	int		 mdfd;		/* open on md, or -1 */
	char		 state[PATH_MAX + 8];	/* dir/state, when made */
	struct mail_opts opts;		/* state_dir: state */
	int		 saved_stderr;	/* while the log is captured */
	FILE		*log;
};

/* cmocka setups: *state becomes a new struct fx_dir for an empty
 * temporary directory, or one with a Maildir (new/, cur/, tmp/) and a
 * state directory in it.  0, or -1 when it could not be made. */
int	fx_dir_setup(void **state);
int	fx_maildir_setup(void **state);
/* cmocka teardown for both: closes the descriptors and removes the tree.
 * 0, or -1 when something stayed. */
int	fx_dir_teardown(void **state);

/* Removes the tree at path (symlinks not followed).  0 or -1. */
int	fx_rmtree(const char *path);
/* Makes the Maildir name under dirfd, new/, cur/ and tmp/ with it, all
 * with mode.  0, or -1 (errno set). */
int	fx_mkmaildir(int dirfd, const char *name, mode_t mode);
/* Writes len octets of data to rel under dirfd (AT_FDCWD: rel is a
 * path), created or truncated with mode 0600. */
void	writeat(int dirfd, const char *rel, const void *data, size_t len);
/* Writes the string text to rel under dirfd, or under the directory
 * dir. */
void	put(int dirfd, const char *rel, const char *text);
void	put_in(const char *dir, const char *rel, const char *text);
/* How many entries dir/sub has, dot-files not counted. */
int	count(const char *dir, const char *sub);
/* Whether the socket fd holds exactly the string want and then the end
 * of the stream, read without waiting. */
bool	stream_ended(int fd, const char *want);

/*
 * Forks a child that takes the lock LOCK_FILE in dirfd (lock.h) and
 * holds it, for hold_ms milliseconds and then exits with 0, or with
 * hold_ms < 0 until it is killed.  Returns once the child holds it; its
 * pid.
 */
pid_t	lock_holder(int dirfd, int hold_ms);

/* Sends the log (stderr) to a temporary file until captured(). */
void	capture(struct fx_dir *d);
/* Stops the capture; whether what was logged meanwhile holds needle. */
bool	captured(struct fx_dir *d, const char *needle);

/* ---- A protocol module's session (the protocol tests). ---- */

struct fixture {
	char		 dir[PATH_MAX];	/* /tmp/postern-PROTO-XXXXXX */
	char		 home[PATH_MAX + 8];	/* dir/home: the homes */
	char		 passwd[PATH_MAX + 8];	/* dir/passwd */
	char		 state[PATH_MAX + 8];	/* dir/state: state_dir */
	char		 md[PATH_MAX + 64];	/* the first account's
						   Maildir */
	const char	*proto;		/* the module serve() runs */
	struct conf	 conf;		/* what it runs with */
	bool		 sandbox;	/* the child leaves root for nobody
					   (65534) first, as a sandboxed
					   worker does */
	const char	*resumed;	/* the child is this account's session
					   process after its login (privilege
					   separation) with no channel to the
					   auth process; NULL: a new session */
	int		 fd;		/* the client's end, or -1 */
	int		 spool;		/* dir/spool, open (fx_spool()), or
					   -1 */
	pid_t		 pid;		/* the server child, or 0 */
	char		 buf[262144];	/* read from the server, not taken */
	size_t		 len;
};

/*
 * A fixture for the module proto: the directory (mode 0755, so that a
 * sandboxed child may enter it), its home/ and state/, an empty
 * passwd-file (mode 0644, so that it may read it), and the
 * configuration every protocol test starts from
 * (passwd_file, maildir "%h/Maildir", hostname "test.example", timeouts
 * 5 and 600 s, lines of 512, 50 bad commands, plaintext logins on
 * loopback, state_dir).  No child runs yet.
 */
struct fixture *fx_new(const char *proto);
/* cmocka teardown: stops the session, closes the spool, removes the
 * tree, frees *state. */
int	fx_teardown(void **state);
/* Appends the line entry (without its newline) to the passwd-file. */
void	passwd_add(struct fixture *f, const char *entry);
/*
 * An account: user's home under home/ (mode 0755) with its Maildir, and
 * the line "user:{PLAIN}password:ids::home::" in the passwd-file (ids
 * "uid:gid", NULL for none).  The first account's Maildir is f->md.
 * Returns user's Maildir (maildir_of()).
 */
const char *account(struct fixture *f, const char *user,
	    const char *password, const char *ids);
/* The Maildir of user: home/user/Maildir (static storage). */
const char *maildir_of(struct fixture *f, const char *user);
/*
 * The accounts the delivery tests share, each with the password "x":
 * alice; nob, of uid and gid 65534, its home given to nobody when the
 * test runs as root; and broken, whose Maildir has no tmp/, so that no
 * copy can be begun in it.
 */
void	delivery_accounts(struct fixture *f);
/* Writes the string text to dir/spool and leaves it open as f->spool,
 * for reading and writing, at its end (as a spool writer leaves it). */
void	fx_spool(struct fixture *f, const char *text);

/*
 * Starts the server child on a socketpair: proto's serve() with f->conf,
 * logins checked in the child (no auth process), the client at rip:rport
 * (on loopback or not), the child sandboxed as f->sandbox says.  start()
 * is a client at 127.0.0.1 on loopback.
 */
void	start_peer(struct fixture *f, const char *rip, int rport,
	    bool loopback);
void	start(struct fixture *f);
/* Closes the client's end and reaps the child, which must have exited
 * with status 0. */
void	stop(struct fixture *f);
/* Reads once more from the server; false at the end of the stream. */
bool	fill(struct fixture *f);
/* The next reply line, which must end in CRLF, without it; "" at the
 * end of the stream (static storage). */
const char *line(struct fixture *f);
/* Sends len octets, or the string text, to the server. */
void	sendall(struct fixture *f, const void *data, size_t len);
void	send_text(struct fixture *f, const char *text);
/* Sends the command line c with CRLF and returns the first reply line. */
const char *cmd(struct fixture *f, const char *c);
/* The rest of a multi-line reply up to its ".", as sent (still
 * dot-stuffed), lines joined by "\n" (static storage). */
const char *body(struct fixture *f);

#endif
