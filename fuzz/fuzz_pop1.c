/*
 * fuzz_pop1.c: libFuzzer harness for a whole POP1 (RFC 918) session: the
 * input is what a client sends, fed over a socketpair to
 * pop1_protocol.serve() in this process, with session.h's account (user
 * "fuzz", password "fuzz pass") and Maildir of awkward messages, plus a
 * Maildir++ folder, restored before every run.  The first octet chooses
 * the set-up (session.h's FS_* bits); the replies and mbox streams must
 * be CRLF lines starting with the greeting.  It never sleeps.
 */
#include <limits.h>
#include <stdint.h>

#include "fuzz/common.h"
#include "fuzz/session.h"
#include "protocols/protocol.h"

static const char LOGIN[] = "USER fuzz\r\nPASS fuzz pass\r\n";
static const char GREETING[] = "+OK Postern POP server ready\r\n";

/* The folder's one message: "From " lines to quote. */
static const struct fuzz_file boxmsg[] = {
	{ "new/1000000007.f.fuzz", "Return-Path: <a@b.example>\n"
	    "Subject: box\n\nFrom me\n>From you\n" },
};

static struct fuzz_session fs;
static char	 box[PATH_MAX];

/* LLVMFuzzerInitialize: the account, its Maildir with a folder, and the
 * configuration. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_session_init(&fs, &pop1_protocol, "fuzz pass", argc, argv);
	/* A Maildir++ folder, for "RETR INBOX.box" and "RETR box". */
	fuzz_mkmaildir(fs.maildir, ".box", box, sizeof(box));
	return 0;
}

/* LLVMFuzzerTestOneInput: one whole POP1 session on the input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_fill_maildir(box, boxmsg, 1);
	return fuzz_session_test(&fs, data, size, LOGIN, GREETING, false);
}
