/*
 * test_throttle.c: the failed-login arithmetic of session.c: the delay
 * doubling per failure up to its cap, and the count that closes a
 * connection after max_auth_failures.
 */
#include "tests/unit/unit.h"

#include <string.h>

#include "protocols/protocol.h"
#include "server/conf.h"
#include "server/log.h"
#include "server/session.h"

/* delays: session_fail_delay for failures 1 to n into out. */
static void
delays(int base, int cap, unsigned *out, int n)
{
	struct conf	 c;
	int		 i;

	memset(&c, 0, sizeof(c));
	c.auth_fail_delay = base;
	c.auth_fail_delay_max = cap;
	for (i = 0; i < n; i++)
		out[i] = session_fail_delay(&c, i + 1);
}

static void
test_doubling(void **state)
{
	unsigned	 d[8];
	const unsigned	 dflt[8] = { 2, 4, 8, 15, 15, 15, 15, 15 };
	const unsigned	 one[8] = { 1, 2, 4, 8, 16, 32, 60, 60 };

	/* The defaults: 2 s doubling, capped at 15 s. */
	delays(2, 15, d, 8);
	assert_memory_equal(d, dflt, sizeof(d));
	delays(1, 60, d, 8);
	assert_memory_equal(d, one, sizeof(d));
	/* A cap equal to the base: a constant delay. */
	delays(5, 5, d, 3);
	assert_int_equal(d[0], 5);
	assert_int_equal(d[2], 5);
}

static void
test_edges(void **state)
{
	struct conf	 c;
	unsigned	 d[4];

	/* auth_fail_delay = 0: never a delay, whatever the cap. */
	delays(0, 15, d, 4);
	assert_int_equal(d[0] + d[1] + d[2] + d[3], 0);
	/* A cap below the base: the base wins. */
	delays(3, 0, d, 4);
	assert_int_equal(d[0], 3);
	assert_int_equal(d[3], 3);
	/* No failure yet, and a great many: no overflow. */
	memset(&c, 0, sizeof(c));
	c.auth_fail_delay = 60;
	c.auth_fail_delay_max = 60;
	assert_int_equal(session_fail_delay(&c, 0), 0);
	assert_int_equal(session_fail_delay(&c, -1), 0);
	assert_int_equal(session_fail_delay(&c, 1000000), 60);
	c.auth_fail_delay = 1;
	assert_int_equal(session_fail_delay(&c, 1000000), 60);
}

static void
test_count(void **state)
{
	struct conf	 c;
	struct session	 s;

	memset(&c, 0, sizeof(c));
	memset(&s, 0, sizeof(s));
	c.max_auth_failures = 3;
	s.conf = &c;
	s.proto = protocol_find("pop3");
	strlcpy(s.rip, "192.0.2.7", sizeof(s.rip));
	assert_false(session_auth_exhausted(&s));
	session_auth_failed(&s, "alice", "authzid differs");
	session_auth_failed(&s, "alice\r\nforged", "authzid differs");
	assert_int_equal(s.auth_failures, 2);
	assert_false(session_auth_exhausted(&s));
	session_auth_failed(&s, "alice", "authzid differs");
	assert_true(session_auth_exhausted(&s));
	/* 0: no limit. */
	c.max_auth_failures = 0;
	assert_false(session_auth_exhausted(&s));
}

/* The user names that go into log lines: control bytes, DEL and '>'
 * (which would end the user=<...> field) become '?'; other octets,
 * UTF-8 among them, pass as they are; the result is cut to fit. */
static void
test_safe(void **state)
{
	char	 out[16];

	session_safe("al\r\nice>\x7f\x01", out, sizeof(out));
	assert_string_equal(out, "al??ice???");
	session_safe("jos\xc3\xa9\xff", out, sizeof(out));
	assert_string_equal(out, "jos\xc3\xa9\xff");
	session_safe("0123456789abcdefghij", out, sizeof(out));
	assert_string_equal(out, "0123456789abcde");
	session_safe("x", out, 1);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doubling),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_safe),
	};

	log_init("test_throttle", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
