/*
 * fuzz_papm.c: libFuzzer harness for a whole PAPM session, pull and push
 * sides: the input is what a client sends, fed over a socketpair to
 * papm_protocol.serve() in this process, with session.h's account (user
 * "fuzz", password "fuzz pass", running as this process so that a pushed
 * message is delivered in-process) and Maildir of awkward messages,
 * restored before every run.  The first octet chooses the set-up
 * (session.h's FS_* bits); the replies must be lines ending in CRLF,
 * starting with the greeting.  It never sleeps.
 */
#include <stdint.h>

#include "fuzz/common.h"
#include "fuzz/session.h"
#include "protocols/protocol.h"

static const char LOGIN[] = "USER fuzz\r\nPASS fuzz pass\r\n";
static const char GREETING[] = "+OK Postern PAPM server ready\r\n";

static struct fuzz_session fs;

/* LLVMFuzzerInitialize: the account, its Maildir and the configuration. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_session_init(&fs, &papm_protocol, "fuzz pass", argc, argv);
	return 0;
}

/* LLVMFuzzerTestOneInput: one whole PAPM session on the input.  A pushed
 * line may hold a lone CR, which READ sends back as it is. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_session_test(&fs, data, size, LOGIN, GREETING, true);
}
