/*
 * test_proxy.c: the PROXY protocol of proxy.c: proxy_trusted_networks,
 * every v1 and v2 header form and the ways each can be wrong, reading a
 * header from a socket without taking an octet past it, and the worker's
 * hook on a real TCP connection (trusted or not, PROXY or LOCAL).
 */
#include "tests/unit/unit.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocols/protocol.h"
#include "server/conf.h"
#include "server/log.h"
#include "server/proxy.h"
#include "server/session.h"
#include "server/worker.h"

static const unsigned char sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* The v2 header HAProxy 2.6 sent here from 127.0.0.1:38300 to
 * 127.0.0.1:21480 (testing notes). */
static const unsigned char haproxy_v2[28] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	0x21, 0x11, 0x00, 0x0c, 0x7f, 0x00, 0x00, 0x01, 0x7f, 0x00, 0x00, 0x01,
	0x95, 0x9c, 0x53, 0xe8
};

/* v2: builds a header with cmd, fam and body into out; returns its size. */
static size_t
v2(unsigned char *out, int vercmd, int fam, const void *body, size_t blen)
{
	memcpy(out, sig, sizeof(sig));
	out[12] = (unsigned char)vercmd;
	out[13] = (unsigned char)fam;
	out[14] = (unsigned char)(blen >> 8);
	out[15] = (unsigned char)blen;
	if (blen > 0)
		memcpy(out + 16, body, blen);
	return 16 + blen;
}

/* parse2: proxy_parse_v2 on a whole header built by v2(). */
static int
parse2(const unsigned char *hdr, size_t len, struct proxy_hdr *h,
    const char **why)
{
	return proxy_parse_v2(hdr, hdr + 16, len - 16, h, why);
}

/* v1: proxy_parse_v1 on a C string. */
static int
v1(const char *line, struct proxy_hdr *h, const char **why)
{
	return proxy_parse_v1(line, strlen(line), h, why);
}

/* name: the numeric address and port of ss, as "a port". */
static const char *
name(const struct sockaddr_storage *ss)
{
	static char	 out[80];
	char		 a[64];
	const struct sockaddr_in  *s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(out, sizeof(out), "%s %d", a, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(out, sizeof(out), "%s %d", a, ntohs(s6->sin6_port));
	} else
		snprintf(out, sizeof(out), "family %d", ss->ss_family);
	return out;
}

/* sa4, sa6: socket addresses for proxy_trusted. */
static const struct sockaddr *
sa4(const char *a)
{
	static struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, a, &sin.sin_addr), 1);
	return (const struct sockaddr *)&sin;
}

static const struct sockaddr *
sa6(const char *a)
{
	static struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, a, &sin6.sin6_addr), 1);
	return (const struct sockaddr *)&sin6;
}

/* nets_error: proxy_networks fails on spec, with a reason naming what. */
static void
nets_error(const char *spec, const char *what)
{
	struct proxy_net *nets = NULL;
	char		 err[160] = "";
	int		 n = -1;

	if (proxy_networks(spec, &nets, &n, err, sizeof(err)) != -1)
		fail_msg("\"%s\" was accepted", spec);
	assert_null(nets);
	assert_int_equal(n, 0);
	if (strstr(err, what) == NULL)
		fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", spec, err, what);
}

static void
test_networks(void **state)
{
	struct proxy_net *nets;
	char		 err[160];
	int		 n;

	assert_int_equal(proxy_networks("127.0.0.0/8 ::1/128", &nets, &n,
	    err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(nets[0].family, AF_INET);
	assert_int_equal(nets[0].bits, 8);
	assert_int_equal(nets[1].family, AF_INET6);
	assert_int_equal(nets[1].bits, 128);
	free(nets);
	/* Commas, tabs, repeated separators; a bare address is a host. */
	assert_int_equal(proxy_networks(" 10.0.0.0/8,,\t192.0.2.7 , "
	    "2001:db8::/32 0.0.0.0/0", &nets, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_int_equal(nets[1].bits, 32);
	assert_int_equal(nets[3].bits, 0);
	free(nets);
	/* Empty: no networks, and no allocation. */
	assert_int_equal(proxy_networks("  ", &nets, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_null(nets);

	nets_error("127.0.0.0/8 example.org", "not an IPv4 or IPv6");
	nets_error("10.1.2.3/8", "bits set past its prefix");
	nets_error("2001:db8::1/32", "bits set past its prefix");
	nets_error("10.0.0.0/33", "0 to 32");
	nets_error("::/129", "0 to 128");
	nets_error("10.0.0.0/", "0 to 32");
	nets_error("10.0.0.0/08", "0 to 32");
	nets_error("10.0.0.0/-1", "0 to 32");
	nets_error("10.0.0.0/8x", "0 to 32");
	nets_error("/8", "not an IPv4");
	nets_error("10.0.0/8", "not an IPv4");
	nets_error("1.2.3.4.5", "not an IPv4");
}

static void
test_networks_max(void **state)
{
	struct proxy_net *nets;
	char		 spec[PROXY_NETS_MAX * 12 + 16], err[160];
	size_t		 len = 0;
	int		 i, n;

	for (i = 0; i < PROXY_NETS_MAX; i++)
		len += (size_t)snprintf(spec + len, sizeof(spec) - len,
		    "10.%d.%d.0 ", i / 256, i % 256);
	assert_int_equal(proxy_networks(spec, &nets, &n, err, sizeof(err)),
	    0);
	assert_int_equal(n, PROXY_NETS_MAX);
	free(nets);
	snprintf(spec + len, sizeof(spec) - len, "192.0.2.1");
	nets_error(spec, "more than");
}

static void
test_trusted(void **state)
{
	struct proxy_net *nets;
	char		 err[160];
	int		 n;

	assert_int_equal(proxy_networks("127.0.0.0/8 192.0.2.128/25 "
	    "2001:db8:1::/48 10.9.8.7", &nets, &n, err, sizeof(err)), 0);
	assert_true(proxy_trusted(nets, n, sa4("127.0.0.1")));
	assert_true(proxy_trusted(nets, n, sa4("127.255.0.9")));
	assert_false(proxy_trusted(nets, n, sa4("128.0.0.1")));
	assert_true(proxy_trusted(nets, n, sa4("192.0.2.200")));
	assert_false(proxy_trusted(nets, n, sa4("192.0.2.127")));
	assert_true(proxy_trusted(nets, n, sa4("10.9.8.7")));
	assert_false(proxy_trusted(nets, n, sa4("10.9.8.6")));
	assert_true(proxy_trusted(nets, n, sa6("2001:db8:1:ffff::5")));
	assert_false(proxy_trusted(nets, n, sa6("2001:db8:2::5")));
	/* An IPv4 address mapped into IPv6 is matched as IPv4 ... */
	assert_true(proxy_trusted(nets, n, sa6("::ffff:127.0.0.1")));
	assert_false(proxy_trusted(nets, n, sa6("::ffff:8.8.8.8")));
	/* ... and ::1 is not 127.0.0.1. */
	assert_false(proxy_trusted(nets, n, sa6("::1")));
	free(nets);
	/* No networks: no one. */
	assert_false(proxy_trusted(NULL, 0, sa4("127.0.0.1")));
	/* /0 of one family is everyone of that family only. */
	assert_int_equal(proxy_networks("0.0.0.0/0", &nets, &n, err,
	    sizeof(err)), 0);
	assert_true(proxy_trusted(nets, n, sa4("203.0.113.9")));
	assert_false(proxy_trusted(nets, n, sa6("2001:db8::1")));
	free(nets);
	/* A network written as IPv4 mapped into IPv6 is the IPv4 network,
	 * so that it matches the peers it names, written either way. */
	assert_int_equal(proxy_networks("::ffff:192.0.2.0/120 ::ffff:10.0.0.1",
	    &nets, &n, err, sizeof(err)), 0);
	assert_int_equal(nets[0].family, AF_INET);
	assert_int_equal(nets[0].bits, 24);
	assert_int_equal(nets[1].family, AF_INET);
	assert_int_equal(nets[1].bits, 32);
	assert_true(proxy_trusted(nets, n, sa4("192.0.2.77")));
	assert_true(proxy_trusted(nets, n, sa6("::ffff:192.0.2.77")));
	assert_true(proxy_trusted(nets, n, sa6("::ffff:10.0.0.1")));
	assert_false(proxy_trusted(nets, n, sa4("192.0.3.1")));
	assert_false(proxy_trusted(nets, n, sa6("::192.0.2.77")));
	free(nets);
	nets_error("::ffff:192.0.2.0/95", "bits set past its prefix");
}

static void
test_v1_forms(void **state)
{
	struct proxy_hdr h;
	const char	*why;
	const char	*max6 = "PROXY TCP6 "
			    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
			    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
			    "65535 65535\r\n";

	assert_int_equal(v1("PROXY TCP4 192.0.2.7 198.51.100.1 41266 110\r\n",
	    &h, &why), 0);
	assert_int_equal(h.version, 1);
	assert_false(h.local);
	assert_string_equal(name(&h.src), "192.0.2.7 41266");
	assert_string_equal(name(&h.dst), "198.51.100.1 110");
	/* As HAProxy sent it here. */
	assert_int_equal(v1("PROXY TCP4 127.0.0.1 127.0.0.1 41266 21482\r\n",
	    &h, &why), 0);
	assert_string_equal(name(&h.src), "127.0.0.1 41266");
	assert_int_equal(v1("PROXY TCP6 2001:db8::7 ::1 0 65535\r\n", &h,
	    &why), 0);
	assert_string_equal(name(&h.src), "2001:db8::7 0");
	assert_string_equal(name(&h.dst), "::1 65535");
	/* The longest line there is: 104 octets. */
	assert_int_equal(strlen(max6), 104);
	assert_int_equal(v1(max6, &h, &why), 0);
	/* UNKNOWN, short and with what the receiver must ignore. */
	assert_int_equal(v1("PROXY UNKNOWN\r\n", &h, &why), 0);
	assert_true(h.local);
	assert_int_equal(v1("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", &h,
	    &why), 0);
	assert_true(h.local);
}

/* v1_bad: a v1 line refused with a reason naming what. */
static void
v1_bad(const char *line, size_t len, const char *what)
{
	struct proxy_hdr h;
	const char	*why = NULL;

	if (proxy_parse_v1(line, len, &h, &why) != -1)
		fail_msg("\"%.*s\" was accepted", (int)len, line);
	if (why == NULL || strstr(why, what) == NULL)
		fail_msg("\"%.*s\": reason \"%s\" lacks \"%s\"", (int)len, line,
		    why ? why : "(none)", what);
}

#define V1BAD(s, what)	v1_bad((s), sizeof(s) - 1, (what))

static void
test_v1_malformed(void **state)
{
	char	 big[160];

	V1BAD("PROXY TCP4 192.0.2.7 198.51.100.1 41266 110\n", "malformed");
	V1BAD("PROXY TCP4 192.0.2.7 198.51.100.1 41266 110", "malformed");
	V1BAD("PROXY TCP4 192.0.2.7 198.51.100.1 41266\r\n", "malformed");
	V1BAD("PROXY TCP4 192.0.2.7 198.51.100.1 1 2 3\r\n", "malformed");
	V1BAD("PROXY TCP4  192.0.2.7 198.51.100.1 1 2\r\n", "malformed");
	V1BAD("PROXY TCP4 192.0.2.7 198.51.100.1 1 2 \r\n", "malformed");
	V1BAD("PROXY TCP4 192.0.2.7\r198.51.100.1 1 2\r\n", "malformed");
	V1BAD("PROXY TCP4 192.0.2.7\0198.51.100.1 1 2\r\n", "malformed");
	V1BAD("PROXY\tTCP4 192.0.2.7 198.51.100.1 1 2\r\n", "malformed");
	V1BAD("proxy TCP4 192.0.2.7 198.51.100.1 1 2\r\n", "malformed");
	V1BAD("PROXY UNKNOWN\r", "malformed");
	V1BAD("PROXY UNKNOWNX\r\n", "malformed");
	V1BAD("PROXY TCP5 192.0.2.7 198.51.100.1 1 2\r\n", "unknown protocol");
	V1BAD("PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n", "unknown protocol");
	/* The family of the addresses must be the one named. */
	V1BAD("PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n", "bad address");
	V1BAD("PROXY TCP6 192.0.2.7 ::1 1 2\r\n", "bad address");
	V1BAD("PROXY TCP4 192.0.2 198.51.100.1 1 2\r\n", "bad address");
	V1BAD("PROXY TCP4 host.example 198.51.100.1 1 2\r\n", "bad address");
	V1BAD("PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n", "bad port");
	V1BAD("PROXY TCP4 192.0.2.7 198.51.100.1 0110 2\r\n", "bad port");
	V1BAD("PROXY TCP4 192.0.2.7 198.51.100.1 -1 2\r\n", "bad port");
	V1BAD("PROXY TCP4 192.0.2.7 198.51.100.1 1 2x\r\n", "bad port");
	V1BAD("PROXY TCP4 192.0.2.7 198.51.100.1 1 +2\r\n", "bad port");
	/* Longer than 107 octets, CRLF included. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "PROXY UNKNOWN ", 14);
	memcpy(big + 106, "\r\n", 2);
	v1_bad(big, 108, "malformed");
}

static void
test_v2_forms(void **state)
{
	struct proxy_hdr h;
	const char	*why;
	unsigned char	 buf[256], body[64];

	assert_int_equal(parse2(haproxy_v2, sizeof(haproxy_v2), &h, &why), 0);
	assert_int_equal(h.version, 2);
	assert_false(h.local);
	assert_false(h.ssl);
	assert_string_equal(name(&h.src), "127.0.0.1 38300");
	assert_string_equal(name(&h.dst), "127.0.0.1 21480");
	/* TCP over IPv6. */
	memset(body, 0, sizeof(body));
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", body), 1);
	body[31] = 1;				/* ::1 */
	body[32] = 0xa1; body[33] = 0x22;	/* 41250 */
	body[34] = 0x00; body[35] = 0x6e;	/* 110 */
	assert_int_equal(parse2(buf, v2(buf, 0x21, 0x21, body, 36), &h, &why),
	    0);
	assert_string_equal(name(&h.src), "2001:db8::7 41250");
	assert_string_equal(name(&h.dst), "::1 110");
	/* LOCAL: the connection's own endpoints, whatever follows; the
	 * family is not looked at. */
	assert_int_equal(parse2(buf, v2(buf, 0x20, 0x00, NULL, 0), &h, &why),
	    0);
	assert_true(h.local);
	assert_int_equal(parse2(buf, v2(buf, 0x20, 0x11, haproxy_v2 + 16, 12),
	    &h, &why), 0);
	assert_true(h.local);
	assert_int_equal(parse2(buf, v2(buf, 0x20, 0x31, body, 20), &h, &why),
	    0);
	assert_true(h.local);
	/* PROXY with UNSPEC: the same, and its body is skipped. */
	assert_int_equal(parse2(buf, v2(buf, 0x21, 0x00, body, 7), &h, &why),
	    0);
	assert_true(h.local);
}

static void
test_v2_tlvs(void **state)
{
	struct proxy_hdr h;
	const char	*why;
	unsigned char	 buf[256], body[128];
	size_t		 n = 12;
	/* PP2_TYPE_SSL: client SSL|CERT_CONN, verify 0, then
	 * PP2_SUBTYPE_SSL_VERSION "TLSv1.3" and PP2_SUBTYPE_SSL_CIPHER. */
	static const unsigned char ssl[] = {
		0x20, 0x00, 0x17, 0x03, 0, 0, 0, 0,
		0x21, 0x00, 0x07, 'T', 'L', 'S', 'v', '1', '.', '3',
		0x23, 0x00, 0x05, 'A', 'E', 'S', '-', 'X'
	};
	/* PP2_TYPE_ALPN "pop3" and a NOOP, ignored. */
	static const unsigned char other[] = {
		0x01, 0x00, 0x04, 'p', 'o', 'p', '3', 0x04, 0x00, 0x00
	};

	memcpy(body, haproxy_v2 + 16, 12);
	memcpy(body + n, other, sizeof(other));
	n += sizeof(other);
	memcpy(body + n, ssl, sizeof(ssl));
	n += sizeof(ssl);
	assert_int_equal(parse2(buf, v2(buf, 0x21, 0x11, body, n), &h, &why),
	    0);
	assert_true(h.ssl);
	assert_string_equal(h.ssl_version, "TLSv1.3");
	assert_string_equal(name(&h.src), "127.0.0.1 38300");
	/* A TLV running past the end of the header. */
	assert_int_equal(parse2(buf, v2(buf, 0x21, 0x11, body, n - 1), &h,
	    &why), -1);
	assert_non_null(strstr(why, "TLV"));
	assert_int_equal(parse2(buf, v2(buf, 0x21, 0x11, body, 14), &h,
	    &why), -1);
	/* Only part of the body kept: TLVs past it are not looked at. */
	v2(buf, 0x21, 0x11, body, n);
	assert_int_equal(proxy_parse_v2(buf, buf + 16, 20, &h, &why), 0);
	assert_false(h.ssl);
	/* A body longer than announced is an error of the caller's. */
	assert_int_equal(proxy_parse_v2(buf, buf + 16, n + 1, &h, &why), -1);
}

/* v2_bad: a v2 header refused with a reason naming what. */
static void
v2_bad(const unsigned char *hdr, size_t len, const char *what)
{
	struct proxy_hdr h;
	const char	*why = NULL;

	if (parse2(hdr, len, &h, &why) != -1)
		fail_msg("v2 header %02x %02x accepted", hdr[12], hdr[13]);
	if (why == NULL || strstr(why, what) == NULL)
		fail_msg("v2 header %02x %02x: reason \"%s\" lacks \"%s\"",
		    hdr[12], hdr[13], why ? why : "(none)", what);
}

static void
test_v2_malformed(void **state)
{
	unsigned char	 buf[256];
	const unsigned char *a = haproxy_v2 + 16;

	/* Signature. */
	memcpy(buf, haproxy_v2, sizeof(haproxy_v2));
	buf[4] = 0x20;
	v2_bad(buf, sizeof(haproxy_v2), "signature");
	/* Versions 1 and 3. */
	v2_bad(buf, v2(buf, 0x11, 0x11, a, 12), "version");
	v2_bad(buf, v2(buf, 0x31, 0x11, a, 12), "version");
	/* Commands other than LOCAL and PROXY. */
	v2_bad(buf, v2(buf, 0x22, 0x11, a, 12), "command");
	v2_bad(buf, v2(buf, 0x2f, 0x11, a, 12), "command");
	/* Families and transports other than TCP over IPv4 or IPv6. */
	v2_bad(buf, v2(buf, 0x21, 0x12, a, 12), "family");	/* UDP4 */
	v2_bad(buf, v2(buf, 0x21, 0x22, a, 12), "family");	/* UDP6 */
	v2_bad(buf, v2(buf, 0x21, 0x31, a, 12), "family");	/* UNIX */
	v2_bad(buf, v2(buf, 0x21, 0x10, a, 12), "family");
	v2_bad(buf, v2(buf, 0x21, 0x41, a, 12), "family");
	/* Lengths too short for the addresses. */
	v2_bad(buf, v2(buf, 0x21, 0x11, a, 11), "too short");
	v2_bad(buf, v2(buf, 0x21, 0x21, a, 12), "too short");
	v2_bad(buf, v2(buf, 0x21, 0x11, NULL, 0), "too short");
}

/* pair: a connected pair of stream sockets. */
static void
pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

/* rest: what is left to read on fd once the writer has closed. */
static size_t
rest(int fd, char *out, size_t outlen)
{
	size_t	 got = 0;
	ssize_t	 n;

	while (got < outlen - 1 &&
	    (n = read(fd, out + got, outlen - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	return got;
}

/* send_all: writes len octets to fd. */
static void
send_all(int fd, const void *p, size_t len)
{
	assert_int_equal(write(fd, p, len), (ssize_t)len);
}

static void
test_read_exact(void **state)
{
	static unsigned char body[12 + 3000], out[16 + sizeof(body)];
	struct proxy_hdr h;
	char		 why[160], after[64];
	int		 sv[2];
	size_t		 n;

	/* v1, with the client's first command in the same segment. */
	pair(sv);
	send_all(sv[1], "PROXY TCP4 192.0.2.7 198.51.100.1 41266 110\r\n"
	    "USER alice\r\n", 57);
	close(sv[1]);
	assert_int_equal(proxy_read(sv[0], 3, &h, why, sizeof(why)), 0);
	assert_string_equal(name(&h.src), "192.0.2.7 41266");
	rest(sv[0], after, sizeof(after));
	assert_string_equal(after, "USER alice\r\n");
	close(sv[0]);

	/* The shortest v1 header, then data. */
	pair(sv);
	send_all(sv[1], "PROXY UNKNOWN\r\nCAPA\r\n", 21);
	close(sv[1]);
	assert_int_equal(proxy_read(sv[0], 3, &h, why, sizeof(why)), 0);
	assert_true(h.local);
	rest(sv[0], after, sizeof(after));
	assert_string_equal(after, "CAPA\r\n");
	close(sv[0]);

	/* v2 with 3000 octets of TLVs, more than is kept, then data. */
	pair(sv);
	memcpy(body, haproxy_v2 + 16, 12);
	body[12] = 0x04;			/* PP2_TYPE_NOOP */
	body[13] = (3000 - 3) >> 8;
	body[14] = (3000 - 3) & 0xff;
	n = v2(out, 0x21, 0x11, body, sizeof(body));
	send_all(sv[1], out, n);
	send_all(sv[1], "QUIT\r\n", 6);
	close(sv[1]);
	assert_int_equal(proxy_read(sv[0], 3, &h, why, sizeof(why)), 0);
	assert_int_equal(h.version, 2);
	assert_string_equal(name(&h.src), "127.0.0.1 38300");
	rest(sv[0], after, sizeof(after));
	assert_string_equal(after, "QUIT\r\n");
	close(sv[0]);
}

static void
test_read_pieces(void **state)
{
	static const char line[] =
	    "PROXY TCP6 2001:db8::7 2001:db8::1 41266 110\r\nUSER bob\r\n";
	struct proxy_hdr h;
	char		 why[160], after[64];
	int		 sv[2], status;
	size_t		 i;
	pid_t		 pid;

	/* The line arrives an octet at a time, so that it is read in
	 * pieces; every piece is peeked at and nothing past it taken. */
	pair(sv);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		for (i = 0; i < sizeof(line) - 1; i++) {
			if (write(sv[1], line + i, 1) != 1)
				_exit(1);
			usleep(2000);
		}
		_exit(0);
	}
	assert_true(pid > 0);
	close(sv[1]);
	assert_int_equal(proxy_read(sv[0], 10, &h, why, sizeof(why)), 0);
	assert_string_equal(name(&h.src), "2001:db8::7 41266");
	rest(sv[0], after, sizeof(after));
	assert_string_equal(after, "USER bob\r\n");
	close(sv[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
}

/* read_bad: proxy_read refuses what is sent (then EOF), saying what. */
static void
read_bad(const void *data, size_t len, int timeout, const char *what)
{
	struct proxy_hdr h;
	char		 why[160] = "";
	int		 sv[2];

	pair(sv);
	if (len > 0)
		send_all(sv[1], data, len);
	if (timeout == 0)
		close(sv[1]);
	if (proxy_read(sv[0], timeout ? timeout : 3, &h, why,
	    sizeof(why)) != -1)
		fail_msg("a header was read from \"%.*s\"", (int)len,
		    (const char *)data);
	if (strstr(why, what) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", why, what);
	close(sv[0]);
	if (timeout != 0)
		close(sv[1]);
}

static void
test_read_refused(void **state)
{
	unsigned char	 buf[256];
	char		 big[300];

	/* An unproxied client, refused at its first octets. */
	read_bad("USER alice\r\n", 12, 0, "no PROXY protocol header");
	read_bad("PROXX", 5, 0, "no PROXY protocol header");
	read_bad("\r\n\r\n\x01", 5, 0, "no PROXY protocol header");
	/* Truncated: the peer closes midway. */
	read_bad("", 0, 0, "connection closed");
	read_bad("PROXY TCP4 192.0.2.7", 20, 0, "connection closed");
	read_bad("PROXY UNKNOWN\r", 14, 0, "connection closed");
	read_bad(haproxy_v2, 15, 0, "connection closed");
	read_bad(haproxy_v2, 16, 0, "connection closed");
	read_bad(haproxy_v2, 27, 0, "connection closed");
	/* Oversize v1: no line feed within 107 octets. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "PROXY UNKNOWN ", 14);
	read_bad(big, sizeof(big), 0, "longer than 107");
	/* A bare line feed in the first octets. */
	read_bad("PROXY UNKNOWN\n\r\n", 16, 0, "malformed");
	/* Bad v2 headers, refused before their body is waited for. */
	read_bad(buf, v2(buf, 0x11, 0x11, NULL, 0) + 0, 0, "version");
	buf[14] = 0xff;
	read_bad(buf, 16, 5, "version");
	read_bad(buf, v2(buf, 0x21, 0x31, NULL, 0) + 0, 0, "family");
	/* Silence: the timeout, one second here. */
	read_bad("", 0, 1, "timed out");
	read_bad("PROXY TCP4 1", 12, 1, "timed out");
}

/* tcp_pair: a TCP connection over 127.0.0.1: *srv the accepted end. */
static void
tcp_pair(int *cli, int *srv)
{
	struct sockaddr_in sin;
	socklen_t	 len = sizeof(sin);
	int		 l;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((l = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	assert_true((*cli = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(*cli, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	assert_true((*srv = accept(l, NULL, NULL)) >= 0);
	close(l);
}

/* hook: runs proxy_accept on a loopback connection that sends data,
 * with trusted networks nets; returns its result and fills *s. */
static int
hook(const char *nets, const void *data, size_t len, struct session *s,
    struct conf *c)
{
	struct listener	 l;
	char		 err[160];
	int		 cli, srv, rc;

	memset(c, 0, sizeof(*c));
	memset(&l, 0, sizeof(l));
	memset(s, 0, sizeof(*s));
	c->proxy_timeout = 3;
	assert_int_equal(proxy_networks(nets, &c->proxy_nets,
	    &c->nproxy_nets, err, sizeof(err)), 0);
	strlcpy(l.name, "127.0.0.1:110 (pop3)", sizeof(l.name));
	l.proxy = true;
	tcp_pair(&cli, &srv);
	s->conf = c;
	s->proto = protocol_find("pop3");
	s->fd = srv;
	strlcpy(s->rip, "127.0.0.1", sizeof(s->rip));
	s->rport = 5555;
	strlcpy(s->lip, "127.0.0.1", sizeof(s->lip));
	s->lport = 110;
	s->loopback = true;
	if (len > 0)
		send_all(cli, data, len);
	close(cli);
	rc = proxy_accept(s, &l);
	close(srv);
	free(c->proxy_nets);
	return rc;
}

static void
test_accept(void **state)
{
	struct session	 s;
	struct conf	 c;
	static const char hdr[] =
	    "PROXY TCP4 192.0.2.7 198.51.100.1 41266 995\r\n";
	unsigned char	 buf[64];

	/* Trusted: the client's endpoints replace the proxy's, and a
	 * client off loopback is not "loopback" however it came. */
	assert_int_equal(hook("10.0.0.0/8 127.0.0.0/8", hdr, sizeof(hdr) - 1,
	    &s, &c), 0);
	assert_string_equal(s.rip, "192.0.2.7");
	assert_int_equal(s.rport, 41266);
	assert_string_equal(s.lip, "198.51.100.1");
	assert_int_equal(s.lport, 995);
	assert_false(s.loopback);
	/* A proxied client that is itself on loopback stays so. */
	assert_int_equal(hook("127.0.0.1", haproxy_v2, sizeof(haproxy_v2),
	    &s, &c), 0);
	assert_string_equal(s.rip, "127.0.0.1");
	assert_int_equal(s.rport, 38300);
	assert_int_equal(s.lport, 21480);
	assert_true(s.loopback);
	/* LOCAL and UNKNOWN: the connection's own endpoints. */
	assert_int_equal(hook("127.0.0.0/8", buf,
	    v2(buf, 0x20, 0x00, NULL, 0), &s, &c), 0);
	assert_string_equal(s.rip, "127.0.0.1");
	assert_int_equal(s.rport, 5555);
	assert_int_equal(s.lport, 110);
	assert_true(s.loopback);
	assert_int_equal(hook("127.0.0.0/8", "PROXY UNKNOWN\r\n", 15, &s, &c),
	    0);
	assert_int_equal(s.rport, 5555);
	/* Untrusted: closed before a byte is read, however good the
	 * header. */
	assert_int_equal(hook("10.0.0.0/8 ::1", hdr, sizeof(hdr) - 1, &s, &c),
	    -1);
	assert_string_equal(s.rip, "127.0.0.1");
	assert_int_equal(hook("", hdr, sizeof(hdr) - 1, &s, &c), -1);
	/* Trusted, but no header, or a bad one. */
	assert_int_equal(hook("127.0.0.0/8", "USER alice\r\n", 12, &s, &c),
	    -1);
	assert_int_equal(hook("127.0.0.0/8", buf,
	    v2(buf, 0x21, 0x21, haproxy_v2 + 16, 12), &s, &c), -1);
	assert_string_equal(s.rip, "127.0.0.1");
	assert_int_equal(s.rport, 5555);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_networks),
		cmocka_unit_test(test_networks_max),
		cmocka_unit_test(test_trusted),
		cmocka_unit_test(test_v1_forms),
		cmocka_unit_test(test_v1_malformed),
		cmocka_unit_test(test_v2_forms),
		cmocka_unit_test(test_v2_tlvs),
		cmocka_unit_test(test_v2_malformed),
		cmocka_unit_test(test_read_exact),
		cmocka_unit_test(test_read_pieces),
		cmocka_unit_test(test_read_refused),
		cmocka_unit_test(test_accept),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("test_proxy", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
