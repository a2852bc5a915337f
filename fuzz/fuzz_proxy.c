/*
 * fuzz_proxy.c: libFuzzer harness for server/proxy.c, the PROXY protocol
 * header a load balancer sends before anything else, and the
 * proxy_trusted_networks list.  A header is read by proxy_read() from a
 * socketpair, as a worker reads it, and checked against what proxy.h
 * promises: never an octet read past the header, addresses exactly as
 * the header spells them.  A network list is checked against a model
 * written another way.  It writes no file.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/common.h"
#include "server/proxy.h"

/* Octet 0, bit 0: 0 the rest is what a peer sends, 1 a network list. */
#define MODE_NETWORKS	0x01

static const unsigned char SIG2[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init("fuzz_proxy");
	return 0;
}

/* ---- a header from the peer ----------------------------------------- */

/* header_len: how long the header at the start of d is by its own
 * framing (v2: the announced length; v1: up to the first line feed), or
 * 0 when d cannot hold one whole. */
static size_t
header_len(const uint8_t *d, size_t n)
{
	const uint8_t	*lf;

	if (n >= PROXY_V2_HEAD && memcmp(d, SIG2, sizeof(SIG2)) == 0)
		return PROXY_V2_HEAD + (size_t)(d[14] << 8 | d[15]) <= n ?
		    PROXY_V2_HEAD + (size_t)(d[14] << 8 | d[15]) : 0;
	if (n >= 6 && memcmp(d, "PROXY ", 6) == 0 &&
	    (lf = memchr(d, '\n', n)) != NULL)
		return (size_t)(lf - d) + 1;
	return 0;
}

/* same_addr: whether ss holds family af, the address a (4 or 16 octets)
 * and the port p (network order, as 2 octets). */
static bool
same_addr(const struct sockaddr_storage *ss, int af, const void *a,
    const void *p)
{
	const struct sockaddr_in  *s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family != af)
		return false;
	if (af == AF_INET)
		return memcmp(&s4->sin_addr, a, 4) == 0 &&
		    memcmp(&s4->sin_port, p, 2) == 0;
	return memcmp(&s6->sin6_addr, a, 16) == 0 &&
	    memcmp(&s6->sin6_port, p, 2) == 0;
}

/* check_v1: a v1 header taken from line (len octets, CRLF included):
 * six words with one space between each, whose addresses and ports are
 * the header's, read another way. */
static void
check_v1(const uint8_t *line, size_t len, const struct proxy_hdr *h)
{
	char		 buf[PROXY_V1_MAX + 1], *w[6], *p, *save = NULL;
	unsigned char	 sa[16], da[16];
	uint16_t	 sport, dport;
	int		 n = 0, af, i;

	FUZZ_CHECK(len >= PROXY_V1_MIN && len <= PROXY_V1_MAX);
	FUZZ_CHECK(line[len - 2] == '\r');
	memcpy(buf, line, len - 2);
	buf[len - 2] = '\0';
	FUZZ_CHECK(strlen(buf) == len - 2);
	if (h->local) {
		FUZZ_CHECK(strncmp(buf, "PROXY UNKNOWN", 13) == 0 &&
		    (buf[13] == '\0' || buf[13] == ' '));
		return;
	}
	FUZZ_CHECK(strstr(buf, "  ") == NULL && buf[len - 3] != ' ');
	for (p = strtok_r(buf, " ", &save); p != NULL;
	    p = strtok_r(NULL, " ", &save)) {
		FUZZ_CHECK(n < 6);
		w[n++] = p;
	}
	FUZZ_CHECK(n == 6 && strcmp(w[0], "PROXY") == 0);
	af = strcmp(w[1], "TCP4") == 0 ? AF_INET : AF_INET6;
	FUZZ_CHECK(af == AF_INET || strcmp(w[1], "TCP6") == 0);
	FUZZ_CHECK(inet_pton(af, w[2], sa) == 1);
	FUZZ_CHECK(inet_pton(af, w[3], da) == 1);
	for (i = 4; i < 6; i++)
		FUZZ_CHECK(strspn(w[i], "0123456789") == strlen(w[i]) &&
		    (w[i][0] != '0' || w[i][1] == '\0') &&
		    strtoul(w[i], NULL, 10) <= 65535);
	sport = htons((uint16_t)strtoul(w[4], NULL, 10));
	dport = htons((uint16_t)strtoul(w[5], NULL, 10));
	FUZZ_CHECK(same_addr(&h->src, af, sa, &sport));
	FUZZ_CHECK(same_addr(&h->dst, af, da, &dport));
	FUZZ_CHECK(!h->ssl && h->ssl_version[0] == '\0');
}

/* check_v2: a v2 header: its addresses are the body's first octets. */
static void
check_v2(const uint8_t *d, const struct proxy_hdr *h)
{
	const uint8_t	*b = d + PROXY_V2_HEAD;
	size_t		 i;

	FUZZ_CHECK((d[12] & 0xf0) == 0x20);
	if (h->local) {
		FUZZ_CHECK((d[12] & 0x0f) == 0 || d[13] == 0);
		return;
	}
	FUZZ_CHECK((d[12] & 0x0f) == 1);
	if (d[13] == 0x11) {
		FUZZ_CHECK(same_addr(&h->src, AF_INET, b, b + 8));
		FUZZ_CHECK(same_addr(&h->dst, AF_INET, b + 4, b + 10));
	} else {
		FUZZ_CHECK(d[13] == 0x21);
		FUZZ_CHECK(same_addr(&h->src, AF_INET6, b, b + 32));
		FUZZ_CHECK(same_addr(&h->dst, AF_INET6, b + 16, b + 34));
	}
	FUZZ_CHECK(memchr(h->ssl_version, '\0', sizeof(h->ssl_version)) !=
	    NULL);
	for (i = 0; h->ssl_version[i] != '\0'; i++)
		FUZZ_CHECK(h->ssl_version[i] > 0x20 &&
		    h->ssl_version[i] < 0x7f);
}

/* rest_is: whether what is left in fd, to its end, is exactly d. */
static bool
rest_is(int fd, const uint8_t *d, size_t n)
{
	uint8_t		 buf[512];
	size_t		 got = 0;
	ssize_t		 r;

	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		if (got + (size_t)r > n || memcmp(buf, d + got, (size_t)r) != 0)
			return false;
		got += (size_t)r;
	}
	return r == 0 && got == n;
}

/* stream: d as all a peer sends before it stops, read by proxy_read(). */
static void
stream(const uint8_t *d, size_t n)
{
	struct proxy_hdr h;
	char		 why[256];
	size_t		 len = header_len(d, n);
	int		 sv[2], r;

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	FUZZ_CHECK(write(sv[1], d, n) == (ssize_t)n);
	FUZZ_CHECK(shutdown(sv[1], SHUT_WR) == 0);
	why[0] = '\0';
	r = proxy_read(sv[0], PROXY_TIMEOUT_MIN, &h, why, sizeof(why));
	FUZZ_CHECK(r == 0 || r == -1);
	if (r == -1) {
		FUZZ_CHECK(why[0] != '\0' && memchr(why, '\0', sizeof(why)));
		/* What no header can start with is refused, and a LOCAL
		 * header or PROXY UNKNOWN arrived whole never is. */
		if (n >= PROXY_V2_HEAD && memcmp(d, SIG2, 12) == 0 &&
		    d[12] == 0x20 && len > 0)
			FUZZ_CHECK(!"a whole v2 LOCAL header refused");
		if (len == PROXY_V1_MIN && memcmp(d, "PROXY UNKNOWN\r\n",
		    PROXY_V1_MIN) == 0)
			FUZZ_CHECK(!"PROXY UNKNOWN refused");
	} else {
		/* Whole, and not one octet past it taken. */
		FUZZ_CHECK(len > 0);
		FUZZ_CHECK(h.version == (d[0] == 'P' ? 1 : 2));
		FUZZ_CHECK(rest_is(sv[0], d + len, n - len));
		if (!h.local)
			FUZZ_CHECK(h.dst.ss_family == h.src.ss_family);
		if (h.version == 1)
			check_v1(d, len, &h);
		else
			check_v2(d, &h);
	}
	close(sv[0]);
	close(sv[1]);
}

/* ---- proxy_trusted_networks ------------------------------------------ */

/* model_net: one "address[/bits]" word, the way postern.conf(5) reads
 * it: a numeric address, then 1 to 3 digits without a leading zero (0
 * alone is fine) up to the family's width, and no bit set past them.
 * Fills *net; false when the word is no network. */
static bool
model_net(const char *word, struct proxy_net *net)
{
	char		 addr[64];
	const char	*slash = strchr(word, '/');
	size_t		 alen = slash != NULL ? (size_t)(slash - word) :
			    strlen(word), dl;
	int		 width, bit;

	memset(net, 0, sizeof(*net));
	if (alen == 0 || alen >= sizeof(addr))
		return false;
	memcpy(addr, word, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, net->addr) == 1)
		net->family = AF_INET, width = 32;
	else if (inet_pton(AF_INET6, addr, net->addr) == 1)
		net->family = AF_INET6, width = 128;
	else
		return false;
	net->bits = width;
	if (slash == NULL)
		return true;
	dl = strlen(slash + 1);
	if (dl < 1 || dl > 3 || strspn(slash + 1, "0123456789") != dl ||
	    (dl > 1 && slash[1] == '0'))
		return false;
	net->bits = (int)strtol(slash + 1, NULL, 10);
	if (net->bits > width)
		return false;
	for (bit = net->bits; bit < width; bit++)
		if (net->addr[bit / 8] >> (7 - bit % 8) & 1)
			return false;
	return true;
}

/* model_mapped: ::ffff:a.b.c.d/N as the IPv4 network a.b.c.d/(N - 96). */
static void
model_mapped(struct proxy_net *net)
{
	static const unsigned char prefix[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	unsigned char	 v4[4];

	if (net->family != AF_INET6 || memcmp(net->addr, prefix, 12) != 0)
		return;
	FUZZ_CHECK(net->bits >= 96);
	memcpy(v4, net->addr + 12, 4);
	memset(net->addr, 0, sizeof(net->addr));
	memcpy(net->addr, v4, 4);
	net->family = AF_INET;
	net->bits -= 96;
}

/* as_sockaddr: net's own address as a socket address (mapped: an IPv4
 * network's address as an IPv4-mapped IPv6 one). */
static void
as_sockaddr(const struct proxy_net *net, bool mapped,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in  *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (net->family == AF_INET && !mapped) {
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, net->addr, 4);
		return;
	}
	s6->sin6_family = AF_INET6;
	if (net->family == AF_INET6) {
		memcpy(&s6->sin6_addr, net->addr, 16);
		return;
	}
	s6->sin6_addr.s6_addr[10] = s6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&s6->sin6_addr.s6_addr[12], net->addr, 4);
}

/* networks: d as proxy_trusted_networks, up to its first NUL. */
static void
networks(const uint8_t *d, size_t n)
{
	struct proxy_net *nets, want[PROXY_NETS_MAX];
	struct sockaddr_storage ss;
	char		*spec, *copy, *w, *save = NULL, err[256];
	bool		 ok = true;
	int		 count = 0, got, i;

	/* Not strndup(): gcc's AddressSanitizer reads past n there. */
	if ((spec = malloc(n + 1)) == NULL)
		return;
	memcpy(spec, d, n);
	spec[n] = '\0';
	if ((copy = strdup(spec)) == NULL) {
		free(spec);
		return;
	}
	for (w = strtok_r(copy, " \t,", &save); w != NULL && ok;
	    w = strtok_r(NULL, " \t,", &save)) {
		if (count == PROXY_NETS_MAX)
			ok = false;
		else if ((ok = model_net(w, &want[count])))
			model_mapped(&want[count++]);
	}
	err[0] = '\0';
	if (proxy_networks(spec, &nets, &got, err, sizeof(err)) == -1) {
		FUZZ_CHECK(!ok);
		FUZZ_CHECK(err[0] != '\0' && nets == NULL && got == 0);
	} else {
		FUZZ_CHECK(ok);
		FUZZ_CHECK(got == count && (nets == NULL) == (count == 0));
		for (i = 0; i < got; i++) {
			FUZZ_CHECK(nets[i].family == want[i].family &&
			    nets[i].bits == want[i].bits &&
			    memcmp(nets[i].addr, want[i].addr, 16) == 0);
			as_sockaddr(&nets[i], false, &ss);
			FUZZ_CHECK(proxy_trusted(nets, got,
			    (struct sockaddr *)&ss));
			as_sockaddr(&nets[i], true, &ss);
			FUZZ_CHECK(proxy_trusted(nets, got,
			    (struct sockaddr *)&ss));
		}
		/* No list trusts an address of neither family. */
		memset(&ss, 0, sizeof(ss));
		ss.ss_family = AF_UNIX;
		FUZZ_CHECK(!proxy_trusted(nets, got, (struct sockaddr *)&ss));
		free(nets);
	}
	free(copy);
	free(spec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int	 fd = fuzz_lowest_fd();

	if (size == 0)
		return 0;
	if (data[0] & MODE_NETWORKS)
		networks(data + 1, size - 1);
	else
		stream(data + 1, size - 1);
	FUZZ_CHECK(fuzz_lowest_fd() == fd);
	return 0;
}
