/*
 * fuzz_mrp.c: libFuzzer harness for a whole MRP session
 * (postern-mrp(7)): the input is what a client sends, fed over a
 * socketpair to mrp_protocol.serve() in this process, with session.h's
 * account (user "fuzz", password "fuzz-pass": MRP's strings have no
 * spaces) and Maildir of awkward messages, restored before every run.
 * The first octet chooses the set-up: session.h's FS_* bits (FS_LOGIN
 * sends LOGIN, the SELECTED state) and FLAG_* below.  The replies must be
 * CRLF lines after the greeting, each a "* " data line or an "OK " or
 * "BAD " final line, FETCH frames exactly their SIZE.  The fuzzer cannot
 * forge an AUTH channel's records: after AUTH it reaches the key
 * exchange and the record check, not the commands inside.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/common.h"
#include "fuzz/session.h"
#include "protocols/protocol.h"
#include "server/account.h"

/* The set-up octet's own bits. */
#define FLAG_SELECT	0x20	/* with FS_LOGIN, SELECT too: CONTROL */
#define FLAG_ECB	0x40	/* mrp_auth_ecb = true */
#define FLAG_CREATE	0x80	/* mrp_create = true */

static const char LOGIN[] = "LOGIN fuzz fuzz-pass\r\n";
static const char LOGIN_SELECT[] = "LOGIN fuzz fuzz-pass\r\nSELECT\r\n";
static const char GREETING[] = "OK Postern MRP server ready\r\n";
static const char AUTHED[] = "OK AUTH Completed\r\n";
static const char FRAME[] = "* FETCH ID ";

static struct fuzz_session fs;
static char	 created[PATH_MAX];	/* mrp_create_home */
static char	 rate[PATH_MAX];	/* its rate file in state_dir */

/* LLVMFuzzerInitialize: the account, its Maildir, the configuration
 * and a home for accounts CREATE makes. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_session_init(&fs, &mrp_protocol, "fuzz-pass", argc, argv);
	fuzz_path(created, sizeof(created), fs.dir, "created");
	FUZZ_CHECK(mkdir(created, 0700) == 0);
	free(fs.conf.mrp_create_home);
	FUZZ_CHECK((fs.conf.mrp_create_home = strdup(created)) != NULL);
	fuzz_path(rate, sizeof(rate), fs.conf.state_dir, ACCOUNT_RATE_FILE);
	return 0;
}

/* number: the decimal number at *p, with no sign, space or leading
 * zero; *p is moved past it. */
static unsigned long long
number(const char **p)
{
	unsigned long long	 n;
	char			*end;

	FUZZ_CHECK(**p >= '1' && **p <= '9');
	errno = 0;
	n = strtoull(*p, &end, 10);
	FUZZ_CHECK(errno == 0);
	*p = end;
	return n;
}

/* frame_size: the SIZE of a FETCH frame's line of len octets (CRLF
 * included: the line is not a string), which must be well-formed. */
static size_t
frame_size(const char *line, size_t len)
{
	const char		*p = line + sizeof(FRAME) - 1;
	unsigned long long	 size;

	FUZZ_CHECK(number(&p) <= UINT32_MAX);
	FUZZ_CHECK(strncmp(p, " SIZE ", 6) == 0);
	p += 6;
	size = number(&p);
	FUZZ_CHECK(p == line + len - 2);
	return (size_t)size;
}

/* check_replies: every line a data line or a final one; a FETCH frame
 * is its summary and the message, exactly SIZE octets ending in CRLF.
 * After AUTH the lines are records, checked only as lines. */
static void
check_replies(const struct fuzz_replies *r)
{
	const char	*o = r->out, *nl;
	size_t		 left = r->len, len, size;

	while (left > 0) {
		FUZZ_CHECK((nl = memchr(o, '\n', left)) != NULL);
		len = (size_t)(nl - o) + 1;
		if (len == sizeof(AUTHED) - 1 &&
		    memcmp(o, AUTHED, len) == 0)
			return;
		if (len > sizeof(FRAME) - 1 &&
		    memcmp(o, FRAME, sizeof(FRAME) - 1) == 0) {
			size = frame_size(o, len);
			o += len;
			left -= len;
			FUZZ_CHECK(size <= left && size >= 7);
			FUZZ_CHECK(memcmp(o, "UID: ", 5) == 0);
			FUZZ_CHECK(memcmp(o + size - 2, "\r\n", 2) == 0);
			o += size;
			left -= size;
			continue;
		}
		FUZZ_CHECK(strncmp(o, "* ", 2) == 0 ||
		    strncmp(o, "OK ", 3) == 0 || strncmp(o, "BAD ", 4) == 0);
		o += len;
		left -= len;
	}
}

/* LLVMFuzzerTestOneInput: one whole MRP session on the input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_replies	 r;
	unsigned		 flags;

	if (size < 1)
		return 0;
	flags = data[0];
	fuzz_session_restore(&fs);
	/* What CREATE made last time, and its count, go. */
	FUZZ_CHECK(fuzz_empty_dir(created) == 0);
	FUZZ_CHECK(unlink(rate) == 0 || access(rate, F_OK) == -1);
	fs.conf.mrp_auth_ecb = (flags & FLAG_ECB) != 0;
	fs.conf.mrp_create = (flags & FLAG_CREATE) != 0;
	fuzz_session_run(&fs, flags, (flags & FLAG_SELECT) ? LOGIN_SELECT :
	    LOGIN, data + 1, size - 1, &r);
	fuzz_check_lines(&r, GREETING, false);
	check_replies(&r);
	free(r.out);
	return 0;
}
