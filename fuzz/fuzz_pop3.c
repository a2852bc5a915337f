/*
 * fuzz_pop3.c: libFuzzer harness for a whole POP3 session: the input is
 * what a client sends, fed over a socketpair to pop3_protocol.serve() in
 * this process, with session.h's account (user "fuzz", password "fuzz
 * pass") and Maildir of awkward messages, restored before every run.
 * The first octet chooses the set-up (session.h's FS_* bits); the
 * replies must be CRLF lines starting with the greeting.  It never
 * sleeps: the session ends when the input does.
 */
#include <stdint.h>

#include "fuzz/common.h"
#include "fuzz/session.h"
#include "protocols/protocol.h"

static const char LOGIN[] = "USER fuzz\r\nPASS fuzz pass\r\n";
static const char GREETING[] = "+OK Postern POP3 server ready\r\n";

static struct fuzz_session fs;

/* LLVMFuzzerInitialize: the account, its Maildir and the configuration. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_session_init(&fs, &pop3_protocol, "fuzz pass", argc, argv);
	return 0;
}

/* LLVMFuzzerTestOneInput: one whole POP3 session on the input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_session_test(&fs, data, size, LOGIN, GREETING, false);
}
