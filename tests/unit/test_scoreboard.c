/*
 * test_scoreboard.c: the scoreboard of scoreboard.c: how addresses are
 * grouped for max_connections_per_ip, what counts as a connection, the
 * session slots of the auth process, the once-a-minute log lines, and
 * the refusal hooks of the protocols that use them.
 */
#include "tests/unit/unit.h"

#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "protocols/protocol.h"
#include "server/conf.h"
#include "server/log.h"
#include "server/scoreboard.h"
#include "server/session.h"

/* setup: a scoreboard of 4 worker and 3 session slots. */
static int
setup(void **state)
{
	log_init("test_scoreboard", 1);
	return sb_create(4, 3, 4, 1, 3);
}

static int
teardown(void **state)
{
	sb_destroy();
	return 0;
}

/* same: whether two addresses group together. */
static bool
same(const char *a, const char *b)
{
	struct sb_addr	 x, y;

	sb_addr_of(a, &x);
	sb_addr_of(b, &y);
	return x.set && y.set && memcmp(x.b, y.b, sizeof(x.b)) == 0;
}

static void
test_addresses(void **state)
{
	struct sb_addr	 a;

	assert_true(same("192.0.2.7", "192.0.2.7"));
	assert_false(same("192.0.2.7", "192.0.2.8"));
	/* IPv4 mapped into IPv6 is the IPv4 address. */
	assert_true(same("192.0.2.7", "::ffff:192.0.2.7"));
	/* IPv6 by its /64, scope or not. */
	assert_true(same("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"));
	assert_true(same("fe80::1%eth0", "fe80::2"));
	assert_false(same("2001:db8:1:2::1", "2001:db8:1:3::1"));
	sb_addr_of("unknown", &a);
	assert_false(a.set);
	sb_addr_of("", &a);
	assert_false(a.set);
}

static void
test_counts(void **state)
{
	struct sb_addr	 a, b;
	int		 s;

	sb_addr_of("192.0.2.7", &a);
	sb_addr_of("192.0.2.8", &b);
	sb_worker_start(0, SB_WORKER, 1);
	sb_worker_pid(0, 100);
	sb_worker_start(1, SB_WORKER, 1);
	sb_worker_pid(1, 101);
	assert_int_equal(sb_connections(), 0);	/* starting is idle */
	sb_busy(0, "pop3", "192.0.2.7", &a, false, 1);
	sb_busy(1, "pop3", "192.0.2.8", &b, true, 1);
	assert_int_equal(sb_connections(), 2);
	assert_int_equal(sb_connections_from(&a), 1);
	/* A TLS relay counts once, as its session. */
	sb_relay(1, "alice");
	s = sb_session_add("pop3", "alice", "192.0.2.8", true, 1);
	assert_true(s >= 0);
	assert_int_equal(sb_connections(), 2);
	assert_int_equal(sb_connections_from(&b), 1);
	/* A slot taken before the fork counts already. */
	assert_int_equal(sb_sessions_of("alice"), 1);
	sb_session_pid(s, 200);
	assert_int_equal(sb_session_find(200), s);
	assert_int_equal(sb_sessions_of("alice"), 1);
	assert_int_equal(sb_sessions_of("bob"), 0);
	/* The session slots run out. */
	assert_true(sb_session_add("pop3", "alice", "192.0.2.7", false, 1) >=
	    0);
	assert_true(sb_session_add("pop3", "bob", "192.0.2.7", false, 1) >=
	    0);
	assert_int_equal(sb_session_add("pop3", "carol", "192.0.2.7", false,
	    1), -1);
	assert_int_equal(sb_sessions_of("alice"), 2);
	assert_int_equal(sb_connections_from(&a), 3);
	sb_session_clear(sb_session_find(200));
	assert_int_equal(sb_session_find(200), -1);
	assert_int_equal(sb_sessions_of("alice"), 1);
	sb_idle(0);
	sb_worker_clear(1);
	assert_int_equal(sb_connections_from(&a), 2);
	assert_int_equal(sb_connections(), 2);
	/* A busy worker's slot emptied by the master (it died) stops
	 * counting. */
	sb_busy(0, "pop3", "192.0.2.7", &a, false, 1);
	assert_int_equal(sb_connections(), 3);
	sb_worker_clear(0);
	assert_int_equal(sb_connections(), 2);
	assert_int_equal(sb_connections_from(&a), 2);
	assert_null(sb_worker(4));
	assert_null(sb_session(3));
	assert_null(sb_session(-1));
}

static void
test_rate(void **state)
{
	char		 tail[64] = "x";
	unsigned	 more = 99;

	assert_true(sb_log_now("too many", "a", 1, &more));
	assert_int_equal(more, 0);
	assert_false(sb_log_now("too many", "a", 1, &more));
	assert_false(sb_log_now("too many", "a", 1, &more));
	/* Another key, or another event, is another line. */
	assert_true(sb_log_now("too many", "b", 1, &more));
	assert_true(sb_log_now("too few", "a", 1, &more));
	assert_true(sb_log_now("global", NULL, 0, &more));
	assert_false(sb_log_now("global", NULL, 0, &more));
	/* How a line says what it stood for. */
	sb_log_tail(0, tail, sizeof(tail));
	assert_string_equal(tail, "");
	sb_log_tail(3, tail, sizeof(tail));
	assert_string_equal(tail, "; 3 more since the last such line");
}

static void
test_refuse(void **state)
{
	struct conf	 c;
	struct session	 s;
	char		 buf[128];

	memset(&c, 0, sizeof(c));
	c.hostname = "test.example";
	memset(&s, 0, sizeof(s));
	s.conf = &c;
	s.proto = &pop3_protocol;
	assert_int_equal(pop3_protocol.refuse(&s, "server shutting down",
	    buf, sizeof(buf)), strlen("-ERR [SYS/TEMP] server shutting "
	    "down\r\n"));
	assert_string_equal(buf, "-ERR [SYS/TEMP] server shutting down\r\n");
	assert_int_equal(pop3_protocol.refuse(&s, "server shutting down",
	    buf, 10), 0);
	assert_false(pop3_protocol.local);
	assert_true(lmtp_protocol.local);
}

/* shown: what sb_show() prints of this process's scoreboard (static
 * storage). */
static const char *
shown(void)
{
	static char	 out[4096];
	FILE		*fp;
	size_t		 n;

	fp = tmpfile();
	assert_non_null(fp);
	assert_int_equal(sb_show(getpid(), fp), 0);
	rewind(fp);
	n = fread(out, 1, sizeof(out) - 1, fp);
	out[n] = '\0';
	fclose(fp);
	return out;
}

/* test_show: what postern status prints of a scoreboard. */
static void
test_show(void **state)
{
	struct sb_addr	 a;
	const char	*out;
	FILE		*fp;

	sb_addr_of("192.0.2.9", &a);
	sb_worker_start(2, SB_WORKER, 1);
	sb_worker_pid(2, 102);
	sb_busy(2, "pop3", "192.0.2.9", &a, false, time(NULL) - 75);
	sb_session_pid(sb_session_add("pop3", "al\033ice", "192.0.2.9", true,
	    time(NULL) - 3700), 201);
	out = shown();
	assert_non_null(strstr(out, "workers: 1 busy, 0 idle (at most 4)"));
	assert_non_null(strstr(out, "102     worker  busy     pop3  -     "
	    "  0:01:15  192.0.2.9"));
	/* A control character in a user name is shown as '?'. */
	assert_non_null(strstr(out, "201     session session  pop3  tls   "
	    "  1:01:40  192.0.2.9                               al?ice\n"));
	assert_int_equal(sb_show(1, fp = tmpfile()), -1);
	fclose(fp);
}

/* test_show_days: a session older than a day shows its days first. */
static void
test_show_days(void **state)
{
	const char	*out;

	sb_session_pid(sb_session_add("pop3", "bob", "192.0.2.7", false,
	    time(NULL) - (2 * 86400 + 3723)), 301);
	out = shown();
	assert_non_null(strstr(out, "301     session session  pop3  -    "
	    "2d01:02:03  192.0.2.7"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate, setup, teardown),
		cmocka_unit_test(test_refuse),
		cmocka_unit_test_setup_teardown(test_show, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_days, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
