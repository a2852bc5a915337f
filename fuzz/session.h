/*
 * session.h: what the session harnesses (fuzz_pop3, fuzz_pop1, fuzz_papm,
 * fuzz_lmtp, fuzz_mrp) share: the account "fuzz" in a temporary
 * passwd-file with a Maildir of awkward messages, put back before every
 * run; postern.conf as conf_load() reads it; and one whole session of a
 * protocol module in this process over a socketpair, a thread playing the
 * client.  Linking session.o also replaces crypt(3) (see session.c).
 * Every failure aborts.  Harness-only code.
 */
#ifndef POSTERN_FUZZ_SESSION_H
#define POSTERN_FUZZ_SESSION_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/conf.h"

struct protocol;

/* The bits of the set-up octet (an input's first) that every session
 * harness reads alike; bits 5-7 are each harness's own. */
#define FS_LOGIN	0x01	/* the harness's login line(s) go first, and
				   plaintext_auth = always */
#define FS_LOOPBACK	0x02	/* the client is on loopback */
#define FS_NEVER	0x04	/* plaintext_auth = never (fuzz_lmtp, whose
				   protocol has no login, reads it another
				   way too) */
#define FS_SHORTLINE	0x08	/* max_line_length = 64 */
#define FS_FEWBAD	0x10	/* max_bad_commands = 3 */

/* Input beyond this is cut (libFuzzer runs with -max_len=4096). */
#define FS_INPUT_MAX	(256 * 1024)

struct fuzz_session {
	const struct protocol *proto;
	struct conf	 conf;		/* read by conf_load(), timeouts
					   shortened */
	const char	*password;	/* the account's */
	char		 ident[32];	/* "fuzz_pop3", the log's (kept) */
	const char	*dir;		/* the temporary directory */
	char		 home[PATH_MAX];	/* the account's home */
	char		 maildir[PATH_MAX];	/* its Maildir */
	char		 passwd[PATH_MAX];	/* the passwd-file */
};

/* A file of a Maildir fixture: its name in the Maildir, its text. */
struct fuzz_file {
	const char	*name;
	const char	*text;
};

/* What the client received in one session: malloc'ed, not a string. */
struct fuzz_replies {
	char		*out;
	size_t		 len;
};

/*
 * From LLVMFuzzerInitialize: the temporary directory, the account "fuzz"
 * with password (running as this process's uid and gid, so that a
 * delivery is written in process; as root that is uid 0, which Postern
 * refuses, and a warning says so), its Maildir, the passwd-file, a spool
 * and a state directory, and the configuration of a listener of proto.
 */
void	fuzz_session_init(struct fuzz_session *fs,
	    const struct protocol *proto, const char *password, int *argc,
	    char ***argv);
/* Makes the Maildir dir/name with new/, cur/ and tmp/; its path into out. */
void	fuzz_mkmaildir(const char *dir, const char *name, char *out,
	    size_t outlen);
/* Empties new/ and cur/ of the Maildir at path and writes the n files
 * of files there. */
void	fuzz_fill_maildir(const char *path, const struct fuzz_file *files,
	    size_t n);
/*
 * Before every run: the account's Maildir as the fixture has it (lone
 * dots, no final newline, CRLF text with its sizes in its name, an empty
 * message, a name too long for a UIDL, flags), whatever the last session
 * deleted or renamed, and the passwd-file as it was written.
 */
void	fuzz_session_restore(const struct fuzz_session *fs);
/*
 * One whole session of fs->proto on data: flags' FS_* bits set the
 * configuration and the peer, login goes first with FS_LOGIN, then
 * size octets of data (at most FS_INPUT_MAX), then the client
 * half-closes and reads until the server closes.  The replies go to *r
 * (free r->out).  No descriptor may leak.
 */
void	fuzz_session_run(struct fuzz_session *fs, unsigned flags,
	    const char *login, const uint8_t *data, size_t size,
	    struct fuzz_replies *r);
/*
 * The replies start with greeting and are lines ending in CRLF; with
 * lone_cr false, every CR is also the start of a CRLF.
 */
void	fuzz_check_lines(const struct fuzz_replies *r, const char *greeting,
	    bool lone_cr);
/*
 * A whole run of a harness with nothing more of its own to check: the
 * set-up octet data[0] and the rest as fuzz_session_run() has them, after
 * fuzz_session_restore(), then fuzz_check_lines().  Returns 0, for
 * LLVMFuzzerTestOneInput to return.
 */
int	fuzz_session_test(struct fuzz_session *fs, const uint8_t *data,
	    size_t size, const char *login, const char *greeting,
	    bool lone_cr);

#endif
