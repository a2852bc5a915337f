/*
 * fuzz_lmtp.c: libFuzzer harness for a whole LMTP session: the input is
 * what an MTA sends, fed over a socketpair to lmtp_protocol.serve() in
 * this process, with session.h's account (user "fuzz", running as this
 * process, so that deliveries need no child) and Maildir, restored
 * before every run.  The first octet chooses the set-up (session.h's
 * FS_* bits, FLAG_SMALL for FS_NEVER); the replies must be CRLF lines
 * starting with the greeting, and every "250 2.0.0 <" delivery reply must
 * have left exactly one new file in new/.  It never sleeps.
 */
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/common.h"
#include "fuzz/session.h"
#include "protocols/protocol.h"

/* The set-up octet's bit 2: LMTP has no login to refuse in the clear. */
#define FLAG_SMALL	FS_NEVER	/* lmtp_max_message_size = 1024 */

static const char LOGIN[] = "LHLO fuzz.example\r\n";
static const char GREETING[] = "220 fuzz.example LMTP Postern ready\r\n";
static const char DELIVERED[] = "250 2.0.0 <";

static struct fuzz_session fs;

/* LLVMFuzzerInitialize: the account, its Maildir and the configuration. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_session_init(&fs, &lmtp_protocol, "fuzz pass", argc, argv);
	return 0;
}

/* count_lines: how many reply lines start with prefix. */
static size_t
count_lines(const struct fuzz_replies *r, const char *prefix)
{
	size_t	 i, n = 0, plen = strlen(prefix);

	for (i = 0; i < r->len; i++)
		if ((i == 0 || r->out[i - 1] == '\n') && r->len - i >= plen &&
		    memcmp(r->out + i, prefix, plen) == 0)
			n++;
	return n;
}

/* count_new: the files in the Maildir's new/. */
static size_t
count_new(void)
{
	char		 path[PATH_MAX];
	struct dirent	*d;
	DIR		*dp;
	size_t		 n = 0;

	fuzz_path(path, sizeof(path), fs.maildir, "new");
	FUZZ_CHECK((dp = opendir(path)) != NULL);
	while ((d = readdir(dp)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dp);
	return n;
}

/* LLVMFuzzerTestOneInput: one whole LMTP session on the input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_replies	 r;
	size_t			 new0, added;

	if (size < 1)
		return 0;
	fuzz_session_restore(&fs);
	new0 = count_new();
	fs.conf.lmtp_max_message_size = (data[0] & FLAG_SMALL) ? 1024 :
	    10 * 1024 * 1024;
	fuzz_session_run(&fs, data[0], LOGIN, data + 1, size - 1, &r);
	fuzz_check_lines(&r, GREETING, false);
	added = count_new() - new0;
	if (added != count_lines(&r, DELIVERED))
		fprintf(stderr, "fuzz_lmtp: %zu new files after:\n%.*s",
		    added, (int)r.len, r.out);
	FUZZ_CHECK(added == count_lines(&r, DELIVERED));
	free(r.out);
	return 0;
}
