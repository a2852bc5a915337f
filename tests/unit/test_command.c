/*
 * test_command.c: how the command loop every line protocol shares ends a
 * session (protocols/command.c): its last reply goes out with the end of
 * the stream, while the process still holds the descriptor, and a session
 * handed to another process is left open.  The loop runs in the test's
 * own process, over a socketpair whose other end the test reads.
 */
#include "tests/unit/unit.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocols/command.h"
#include "server/conf.h"
#include "server/io.h"
#include "server/session.h"
#include "tests/unit/fixture.h"

/* The module the loop drives: QUIT ends the session, HANDOFF hands it
 * over (as a login does), anything else is a bad command. */
struct mod {
	struct session	*s;
	struct io	*io;
};

static int
dispatch(void *ctx, char *line, size_t len)
{
	struct mod	*m = ctx;

	(void)len;
	if (strcmp(line, "QUIT") == 0) {
		(void)io_puts(m->io, "+OK bye\r\n");
		return CMD_CLOSE;
	}
	if (strcmp(line, "HANDOFF") == 0) {
		(void)io_flush(m->io);
		m->s->handed_off = true;
		return CMD_CLOSE;
	}
	(void)io_puts(m->io, "-ERR no\r\n");
	return CMD_BAD;
}

static const struct command_ops ops = { dispatch, NULL, NULL };

/* run: the loop over sv[0] after the client wrote input on sv[1];
 * returns why it ended.  The descriptors stay open. */
static const char *
run(int sv[2], const char *input, bool *handed_off_r)
{
	static struct conf	 conf;
	struct session		 s;
	struct cmdloop		 cl;
	struct mod		 m;
	const char		*why;

	memset(&conf, 0, sizeof(conf));
	conf.max_line = 512;
	conf.max_bad_commands = 3;
	conf.login_timeout = 60;
	memset(&s, 0, sizeof(s));
	s.conf = &conf;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s.fd = sv[0];
	assert_non_null(m.io = io_new(sv[0], 512));
	m.s = &s;
	assert_int_equal(write(sv[1], input, strlen(input)),
	    (ssize_t)strlen(input));
	command_init(&cl, &s, m.io, &m, &ops);
	why = command_loop(&cl);
	*handed_off_r = s.handed_off;
	io_free(&m.io);
	return why;
}

/* A command that ends the session: its reply, then the end. */
static void
test_close_ends_stream(void **state)
{
	bool	 handed_off;
	int	 sv[2];

	(void)state;
	assert_string_equal(run(sv, "QUIT\r\n", &handed_off), "closed");
	assert_false(handed_off);
	assert_true(stream_ended(sv[1], "+OK bye\r\n"));
	close(sv[0]);
	close(sv[1]);
}

/* Too many bad commands: every reply, the closing one, then the end. */
static void
test_too_many_ends_stream(void **state)
{
	bool	 handed_off;
	int	 sv[2];

	(void)state;
	assert_string_equal(run(sv, "A\r\nB\r\nC\r\n", &handed_off),
	    "too many bad commands");
	assert_true(stream_ended(sv[1], "-ERR no\r\n-ERR no\r\n-ERR no\r\n"
	    "-ERR too many bad commands, closing\r\n"));
	close(sv[0]);
	close(sv[1]);
}

/* A session handed over goes on elsewhere: the stream stays open, and
 * the replies before the hand-off were sent. */
static void
test_handoff_keeps_stream(void **state)
{
	char	 buf[64];
	bool	 handed_off;
	int	 sv[2];

	(void)state;
	assert_string_equal(run(sv, "X\r\nHANDOFF\r\n", &handed_off),
	    "closed");
	assert_true(handed_off);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), 9);
	assert_memory_equal(buf, "-ERR no\r\n", 9);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(write(sv[0], "+OK\r\n", 5), 5);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), 5);
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_close_ends_stream),
		cmocka_unit_test(test_too_many_ends_stream),
		cmocka_unit_test(test_handoff_keeps_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
