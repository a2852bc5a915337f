/*
 * test_peer.c: the text of connection addresses (IPv4, IPv6, IPv4
 * mapped into IPv6, a family without one) and the loopback test that
 * the plaintext policy and the per-address limits rely on.
 */
#include "tests/unit/unit.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "server/peer.h"

/* ss_of: the address text (v4 or v6) and port as a sockaddr_storage. */
static struct sockaddr_storage
ss_of(const char *text, int port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr),
		    1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
	}
	return ss;
}

/* name_is: peer_name of text:port gives want and port. */
static void
name_is(const char *text, int port, const char *want)
{
	struct sockaddr_storage	 ss = ss_of(text, port);
	char			 host[64];
	int			 got = -1;

	peer_name(&ss, host, sizeof(host), &got);
	assert_string_equal(host, want);
	assert_int_equal(got, port);
}

static void
test_name(void **state)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&ss;
	char			 host[64], tiny[4];
	int			 port = -1;

	(void)state;
	name_is("192.0.2.7", 110, "192.0.2.7");
	name_is("2001:db8::1", 995, "2001:db8::1");
	name_is("::ffff:198.51.100.9", 65535, "::ffff:198.51.100.9");
	name_is("::1", 1, "::1");

	/* A UNIX socket's peer (LMTP) has no address text. */
	memset(&ss, 0, sizeof(ss));
	sun->sun_family = AF_UNIX;
	peer_name(&ss, host, sizeof(host), &port);
	assert_string_equal(host, "unknown");
	assert_int_equal(port, 0);

	/* A buffer too small for the text: "unknown", cut to fit. */
	ss = ss_of("2001:db8::1", 25);
	peer_name(&ss, tiny, sizeof(tiny), &port);
	assert_string_equal(tiny, "unk");
	assert_int_equal(port, 0);
}

/* loopback: whether text is loopback as peer_loopback says. */
static bool
loopback(const char *text)
{
	struct sockaddr_storage	 ss = ss_of(text, 0);

	return peer_loopback(&ss);
}

static void
test_loopback(void **state)
{
	struct sockaddr_storage	 ss;

	(void)state;
	assert_true(loopback("127.0.0.1"));
	assert_true(loopback("127.255.1.2"));
	assert_true(loopback("::1"));
	assert_true(loopback("::ffff:127.0.0.1"));
	assert_false(loopback("128.0.0.1"));
	assert_false(loopback("10.127.0.1"));
	assert_false(loopback("::2"));
	assert_false(loopback("::ffff:10.0.0.1"));
	assert_false(loopback("2001:db8::1"));
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_false(peer_loopback(&ss));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_loopback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
