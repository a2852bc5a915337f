/*
 * proxy.c: the PROXY protocol, versions 1 and 2 (HAProxy's
 * doc/proxy-protocol.txt), and proxy_trusted_networks.  It reads the
 * header with exact lengths and never past it, and it never sends a byte
 * to the peer nor guesses whether a header is there.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocols/protocol.h"
#include "server/log.h"
#include "server/peer.h"
#include "server/proxy.h"
#include "server/session.h"
#include "server/worker.h"

/* The v2 signature: it holds a NUL, so no string function touches it. */
static const unsigned char v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define V1_PREFIX	"PROXY "
#define V1_PREFIX_LEN	6

/* v2: byte 13 is the version (high nibble) and command, byte 14 the
 * address family (high nibble) and transport. */
#define V2_VERSION	0x20
#define V2_CMD_LOCAL	0x00
#define V2_CMD_PROXY	0x01
#define V2_UNSPEC	0x00
#define V2_TCP4		0x11
#define V2_TCP6		0x21
#define V2_TCP4_LEN	12	/* two addresses and two ports */
#define V2_TCP6_LEN	36

/* TLVs: type, length (2 octets, big-endian), value. */
#define PP2_TYPE_SSL		0x20
#define PP2_CLIENT_SSL		0x01
#define PP2_SUBTYPE_SSL_VERSION	0x21
#define PP2_SSL_HEAD		5	/* client (1) and verify (4) */

/* ---- trusted networks ---------------------------------------------- */

/* host_bits_clear: whether addr has no bit set past its first bits. */
static bool
host_bits_clear(const unsigned char *addr, int len, int bits)
{
	int	 i;

	for (i = bits; i < len * 8; i++)
		if (addr[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

/* v4_mapped_net: an IPv6 network inside ::ffff:0:0/96 becomes the IPv4
 * network it maps, since proxy_trusted() matches a mapped peer as IPv4:
 * written the IPv6 way, it would match no one.  (A shorter prefix with
 * that address has bits set past it, and is refused before.) */
static void
v4_mapped_net(struct proxy_net *net)
{
	struct in6_addr	 a;

	memcpy(&a, net->addr, sizeof(a));
	if (net->family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&a) ||
	    net->bits < 96)
		return;
	net->family = AF_INET;
	net->bits -= 96;
	memmove(net->addr, net->addr + 12, 4);
	memset(net->addr + 4, 0, 12);
}

/* parse_net: one "address[/prefix]" of tlen octets into *net; -1 with
 * the reason in err. */
static int
parse_net(const char *tok, size_t tlen, struct proxy_net *net, char *err,
    size_t errlen)
{
	char		 addr[INET6_ADDRSTRLEN + 1];
	const char	*slash = memchr(tok, '/', tlen), *p;
	size_t		 alen = slash != NULL ? (size_t)(slash - tok) : tlen;
	int		 max = 0, bits = 0;

	memset(net, 0, sizeof(*net));
	if (alen == 0 || alen >= sizeof(addr))
		goto badaddr;
	memcpy(addr, tok, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, net->addr) == 1) {
		net->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, net->addr) == 1) {
		net->family = AF_INET6;
		max = 128;
	} else
		goto badaddr;
	net->bits = max;
	if (slash == NULL) {
		v4_mapped_net(net);
		return 0;
	}
	p = slash + 1;
	if (p == tok + tlen || tok + tlen - p > 3)
		goto badbits;
	for (; p < tok + tlen; p++) {
		if (*p < '0' || *p > '9')
			goto badbits;
		bits = bits * 10 + (*p - '0');
	}
	if (bits > max || (slash[1] == '0' && tok + tlen - slash > 2))
		goto badbits;
	net->bits = bits;
	if (!host_bits_clear(net->addr, max / 8, bits)) {
		snprintf(err, errlen, "\"%.*s\" has address bits set past its "
		    "prefix length", (int)tlen, tok);
		return -1;
	}
	v4_mapped_net(net);
	return 0;
badaddr:
	snprintf(err, errlen, "\"%.*s\" is not an IPv4 or IPv6 address or "
	    "network", (int)(tlen > 64 ? 64 : tlen), tok);
	return -1;
badbits:
	snprintf(err, errlen, "\"%.*s\": the prefix length must be 0 to %d",
	    (int)(tlen > 64 ? 64 : tlen), tok, max);
	return -1;
}

int
proxy_networks(const char *spec, struct proxy_net **nets_r, int *n_r,
    char *err, size_t errlen)
{
	struct proxy_net *nets = NULL, *grown;
	const char	*p = spec, *end;
	int		 n = 0;

	*nets_r = NULL;
	*n_r = 0;
	for (;;) {
		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		end = p + strcspn(p, " \t,");
		if (n == PROXY_NETS_MAX) {
			snprintf(err, errlen, "more than %d networks",
			    PROXY_NETS_MAX);
			goto fail;
		}
		if ((grown = reallocarray(nets, (size_t)n + 1,
		    sizeof(*nets))) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		nets = grown;
		if (parse_net(p, (size_t)(end - p), &nets[n], err,
		    errlen) == -1)
			goto fail;
		n++;
		p = end;
	}
	*nets_r = nets;
	*n_r = n;
	return 0;
fail:
	free(nets);
	return -1;
}

/* in_net: whether the len octets of addr fall in net. */
static bool
in_net(const struct proxy_net *net, const unsigned char *addr)
{
	int	 full = net->bits / 8, rest = net->bits % 8;
	unsigned char mask;

	if (memcmp(net->addr, addr, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (unsigned char)(0xff << (8 - rest));
	return (net->addr[full] & mask) == (addr[full] & mask);
}

bool
proxy_trusted(const struct proxy_net *nets, int n, const struct sockaddr *sa)
{
	const struct sockaddr_in  *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	const unsigned char *addr;
	int		 family, i;

	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		addr = (const unsigned char *)&sin->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		addr = sin6->sin6_addr.s6_addr;
		family = AF_INET6;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			family = AF_INET;
			addr += 12;
		}
	} else
		return false;
	for (i = 0; i < n; i++)
		if (nets[i].family == family && in_net(&nets[i], addr))
			return true;
	return false;
}

/* ---- parsing -------------------------------------------------------- */

/* v1_port: a decimal port, 0 to 65535, without leading zeros; or -1. */
static int
v1_port(const char *s)
{
	long	 v = 0;
	size_t	 i, len = strlen(s);

	if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 65535 ? (int)v : -1;
}

/* v1_addr: fills ss with a numeric address of family af and a port. */
static int
v1_addr(int af, const char *addr, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in  *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		return inet_pton(AF_INET, addr, &sin->sin_addr) == 1 ? 0 : -1;
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	return inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1 ? 0 : -1;
}

/* v1_fields: splits s at single spaces into exactly n non-empty fields. */
static int
v1_fields(char *s, char **f, int n)
{
	int	 i;

	for (i = 0; i < n; i++) {
		f[i] = s;
		s += strcspn(s, " ");
		if (s == f[i])
			return -1;		/* empty: two spaces in a row */
		if (i == n - 1)
			return *s == '\0' ? 0 : -1;
		if (*s == '\0')
			return -1;
		*s++ = '\0';
	}
	return -1;
}

int
proxy_parse_v1(const char *line, size_t len, struct proxy_hdr *h,
    const char **why)
{
	char	 buf[PROXY_V1_MAX + 1], *f[5];
	int	 af, sport, dport;

	memset(h, 0, sizeof(*h));
	h->version = 1;
	*why = "malformed v1 header";
	if (len < PROXY_V1_MIN || len > PROXY_V1_MAX ||
	    memcmp(line, V1_PREFIX, V1_PREFIX_LEN) != 0 ||
	    line[len - 2] != '\r' || line[len - 1] != '\n' ||
	    memchr(line, '\n', len - 1) != NULL ||
	    memchr(line, '\r', len - 2) != NULL ||
	    memchr(line, '\0', len) != NULL)
		return -1;
	memcpy(buf, line + V1_PREFIX_LEN, len - V1_PREFIX_LEN - 2);
	buf[len - V1_PREFIX_LEN - 2] = '\0';
	if (strncmp(buf, "UNKNOWN", 7) == 0 &&
	    (buf[7] == '\0' || buf[7] == ' ')) {
		/* The rest of the line, if any, is to be ignored. */
		h->local = true;
		return 0;
	}
	if (v1_fields(buf, f, 5) == -1)
		return -1;
	if (strcmp(f[0], "TCP4") == 0)
		af = AF_INET;
	else if (strcmp(f[0], "TCP6") == 0)
		af = AF_INET6;
	else {
		*why = "v1 header with an unknown protocol";
		return -1;
	}
	if ((sport = v1_port(f[3])) == -1 || (dport = v1_port(f[4])) == -1) {
		*why = "v1 header with a bad port";
		return -1;
	}
	if (v1_addr(af, f[1], sport, &h->src) == -1 ||
	    v1_addr(af, f[2], dport, &h->dst) == -1) {
		*why = "v1 header with a bad address";
		return -1;
	}
	return 0;
}

/* v2_head: checks the first 16 octets; returns the body's length or
 * -1 with the reason. */
static int
v2_head(const unsigned char *head, const char **why)
{
	if (memcmp(head, v2sig, sizeof(v2sig)) != 0) {
		*why = "bad v2 signature";
		return -1;
	}
	if ((head[12] & 0xf0) != V2_VERSION) {
		*why = "v2 header with a version other than 2";
		return -1;
	}
	if ((head[12] & 0x0f) != V2_CMD_LOCAL &&
	    (head[12] & 0x0f) != V2_CMD_PROXY) {
		*why = "v2 header with an unknown command";
		return -1;
	}
	if ((head[12] & 0x0f) == V2_CMD_PROXY && head[13] != V2_UNSPEC &&
	    head[13] != V2_TCP4 && head[13] != V2_TCP6) {
		*why = "v2 header with an unsupported address family";
		return -1;
	}
	return head[14] << 8 | head[15];
}

/* v2_ssl: notes what a PP2_TYPE_SSL value says of the client's TLS. */
static void
v2_ssl(const unsigned char *v, size_t len, struct proxy_hdr *h)
{
	size_t	 off = PP2_SSL_HEAD, sl, i;
	unsigned char	 c;

	if (len < PP2_SSL_HEAD)
		return;
	h->ssl = (v[0] & PP2_CLIENT_SSL) != 0;
	while (off + 3 <= len) {
		sl = (size_t)(v[off + 1] << 8 | v[off + 2]);
		if (off + 3 + sl > len)
			return;
		if (v[off] == PP2_SUBTYPE_SSL_VERSION) {
			for (i = 0; i < sl && i + 1 < sizeof(h->ssl_version);
			    i++) {
				c = v[off + 3 + i];
				h->ssl_version[i] = c > 0x20 && c < 0x7f ?
				    (char)c : '?';
			}
			h->ssl_version[i] = '\0';
		}
		off += 3 + sl;
	}
}

/* v2_tlvs: walks the TLVs after the addresses; -1 when one runs past the
 * end of a body kept whole. */
static int
v2_tlvs(const unsigned char *b, size_t off, size_t blen, bool whole,
    struct proxy_hdr *h)
{
	size_t	 tl;

	while (off + 3 <= blen) {
		tl = (size_t)(b[off + 1] << 8 | b[off + 2]);
		if (off + 3 + tl > blen)
			return whole ? -1 : 0;
		if (b[off] == PP2_TYPE_SSL)
			v2_ssl(b + off + 3, tl, h);
		off += 3 + tl;
	}
	return (whole && off != blen) ? -1 : 0;
}

int
proxy_parse_v2(const unsigned char *head, const unsigned char *body,
    size_t blen, struct proxy_hdr *h, const char **why)
{
	struct sockaddr_in  *s4 = (struct sockaddr_in *)&h->src;
	struct sockaddr_in  *d4 = (struct sockaddr_in *)&h->dst;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h->src;
	struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&h->dst;
	int		 len;
	size_t		 alen;

	memset(h, 0, sizeof(*h));
	h->version = 2;
	if ((len = v2_head(head, why)) == -1)
		return -1;
	if (blen > (size_t)len) {
		*why = "v2 body longer than announced";
		return -1;
	}
	if ((head[12] & 0x0f) == V2_CMD_LOCAL || head[13] == V2_UNSPEC) {
		/* The addresses, if any, are to be ignored. */
		h->local = true;
		return 0;
	}
	alen = head[13] == V2_TCP4 ? V2_TCP4_LEN : V2_TCP6_LEN;
	if ((size_t)len < alen || blen < alen) {
		*why = "v2 header too short for its addresses";
		return -1;
	}
	if (head[13] == V2_TCP4) {
		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, body, 4);
		memcpy(&d4->sin_addr, body + 4, 4);
		memcpy(&s4->sin_port, body + 8, 2);
		memcpy(&d4->sin_port, body + 10, 2);
	} else {
		s6->sin6_family = d6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, body, 16);
		memcpy(&d6->sin6_addr, body + 16, 16);
		memcpy(&s6->sin6_port, body + 32, 2);
		memcpy(&d6->sin6_port, body + 34, 2);
	}
	if (v2_tlvs(body, alen, blen, blen == (size_t)len, h) == -1) {
		*why = "v2 header with a malformed TLV";
		return -1;
	}
	return 0;
}

/* ---- reading -------------------------------------------------------- */

/* now_ms: a monotonic clock in milliseconds. */
static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * recv_by: one recv of at most len octets (flags: 0 or MSG_PEEK) once
 * the socket is readable, waiting no later than deadline.  Returns the
 * count, 0 at end of file, or -1 (errno ETIMEDOUT when time ran out).
 */
static ssize_t
recv_by(int fd, void *buf, size_t len, int flags, long long deadline)
{
	struct pollfd	 pfd;
	long long	 left;
	ssize_t		 n;
	int		 r;

	for (;;) {
		if ((left = deadline - now_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if ((r = poll(&pfd, 1, (int)left)) == -1 && errno != EINTR)
			return -1;
		if (r <= 0)
			continue;
		if ((n = recv(fd, buf, len, flags | MSG_DONTWAIT)) >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
	}
}

/* recv_exact: exactly len octets into buf; -1 with errno 0 at EOF. */
static int
recv_exact(int fd, unsigned char *buf, size_t len, long long deadline)
{
	size_t	 got = 0;
	ssize_t	 n;

	while (got < len) {
		n = recv_by(fd, buf + got, len - got, 0, deadline);
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/* skip_exact: reads and drops exactly len octets. */
static int
skip_exact(int fd, size_t len, long long deadline)
{
	unsigned char	 scratch[512];
	size_t		 want;

	while (len > 0) {
		want = len < sizeof(scratch) ? len : sizeof(scratch);
		if (recv_exact(fd, scratch, want, deadline) == -1)
			return -1;
		len -= want;
	}
	return 0;
}

/* could_start: whether the n octets so far can begin a v1 or v2 header. */
static bool
could_start(const unsigned char *b, size_t n)
{
	return memcmp(b, V1_PREFIX, n < V1_PREFIX_LEN ? n : V1_PREFIX_LEN) ==
	    0 || memcmp(b, v2sig, n < sizeof(v2sig) ? n : sizeof(v2sig)) == 0;
}

/* read_failed: the reason a read ended early, into why. */
static void
read_failed(char *why, size_t whylen, const char *what)
{
	if (errno == ETIMEDOUT)
		snprintf(why, whylen, "timed out in the %s", what);
	else if (errno == 0)
		snprintf(why, whylen, "connection closed in the %s", what);
	else
		snprintf(why, whylen, "read error in the %s: %s", what,
		    strerror(errno));
}

/* read_v1: the rest of a v1 line after its first have octets: peeks for
 * the line feed, consumes up to it and not one octet more. */
static int
read_v1(int fd, unsigned char *buf, size_t have, long long deadline,
    struct proxy_hdr *h, char *why, size_t whylen)
{
	unsigned char	 peek[PROXY_V1_MAX];
	const unsigned char *lf;
	const char	*err = "malformed header";
	ssize_t		 n;
	size_t		 take;

	while (buf[have - 1] != '\n') {
		if (memchr(buf, '\n', have) != NULL) {
			snprintf(why, whylen, "malformed v1 header");
			return -1;
		}
		if (have >= PROXY_V1_MAX) {
			snprintf(why, whylen, "v1 header longer than %d octets",
			    PROXY_V1_MAX);
			return -1;
		}
		n = recv_by(fd, peek, PROXY_V1_MAX - have, MSG_PEEK, deadline);
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			read_failed(why, whylen, "v1 header");
			return -1;
		}
		lf = memchr(peek, '\n', (size_t)n);
		take = lf != NULL ? (size_t)(lf - peek) + 1 : (size_t)n;
		if (recv_exact(fd, buf + have, take, deadline) == -1) {
			read_failed(why, whylen, "v1 header");
			return -1;
		}
		have += take;
	}
	if (proxy_parse_v1((const char *)buf, have, h, &err) == -1) {
		snprintf(why, whylen, "%s", err);
		return -1;
	}
	return 0;
}

/* read_v2: the rest of a v2 header after its first 15 octets. */
static int
read_v2(int fd, unsigned char *head, long long deadline,
    struct proxy_hdr *h, char *why, size_t whylen)
{
	unsigned char	 body[PROXY_V2_KEEP];
	const char	*err = "malformed header";
	size_t		 keep;
	int		 len;

	if (recv_exact(fd, head + PROXY_V2_HEAD - 1, 1, deadline) == -1) {
		read_failed(why, whylen, "v2 header");
		return -1;
	}
	if ((len = v2_head(head, &err)) == -1) {
		snprintf(why, whylen, "%s", err);
		return -1;
	}
	keep = (size_t)len < sizeof(body) ? (size_t)len : sizeof(body);
	if (recv_exact(fd, body, keep, deadline) == -1 ||
	    skip_exact(fd, (size_t)len - keep, deadline) == -1) {
		read_failed(why, whylen, "v2 header");
		return -1;
	}
	if (proxy_parse_v2(head, body, keep, h, &err) == -1) {
		snprintf(why, whylen, "%s", err);
		return -1;
	}
	return 0;
}

int
proxy_read(int fd, int timeout, struct proxy_hdr *h, char *why,
    size_t whylen)
{
	unsigned char	 buf[PROXY_V1_MAX + 1];
	long long	 deadline = now_ms() + (long long)timeout * 1000;
	size_t		 have = 0;
	ssize_t		 n;

	memset(h, 0, sizeof(*h));
	/* The shortest v1 header is 15 octets, a v2 header 16 or more:
	 * the first 15 can be read whatever comes. */
	while (have < PROXY_V1_MIN) {
		n = recv_by(fd, buf + have, PROXY_V1_MIN - have, 0, deadline);
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			read_failed(why, whylen, "header");
			return -1;
		}
		have += (size_t)n;
		if (!could_start(buf, have)) {
			snprintf(why, whylen, "no PROXY protocol header");
			return -1;
		}
	}
	if (buf[0] == 'P')
		return read_v1(fd, buf, have, deadline, h, why, whylen);
	return read_v2(fd, buf, deadline, h, why, whylen);
}

/* ---- the worker's hook ---------------------------------------------- */

int
proxy_accept(struct session *s, const struct listener *l)
{
	struct sockaddr_storage	 peer;
	socklen_t		 plen = sizeof(peer);
	struct proxy_hdr	 h;
	char			 why[160], via[sizeof(s->rip)];
	int			 vport = s->rport;

	memset(&peer, 0, sizeof(peer));
	if (getpeername(s->fd, (struct sockaddr *)&peer, &plen) == -1) {
		if (errno == ENOTCONN)	/* reset already: a health check */
			log_debug("proxy: %s: rip=%s: gone before its header",
			    l->name, s->rip);
		else
			log_warn("proxy: %s: rip=%s: getpeername", l->name,
			    s->rip);
		return -1;
	}
	if (peer.ss_family != AF_UNIX && !proxy_trusted(s->conf->proxy_nets,
	    s->conf->nproxy_nets, (struct sockaddr *)&peer)) {
		log_warnx("proxy: %s: rip=%s: not in proxy_trusted_networks, "
		    "closed", l->name, s->rip);
		return -1;
	}
	if (proxy_read(s->fd, s->conf->proxy_timeout, &h, why,
	    sizeof(why)) == -1) {
		log_warnx("proxy: %s: rip=%s: refused: %s", l->name, s->rip,
		    why);
		return -1;
	}
	strlcpy(via, s->rip, sizeof(via));
	if (h.local) {
		log_debug("proxy: %s: v%d %s from %s:%d: the connection's own "
		    "addresses", l->name, h.version,
		    h.version == 1 ? "UNKNOWN" : "LOCAL", via, vport);
		return 0;
	}
	peer_name(&h.src, s->rip, sizeof(s->rip), &s->rport);
	peer_name(&h.dst, s->lip, sizeof(s->lip), &s->lport);
	s->loopback = peer_loopback(&h.src);
	log_debug("proxy: %s: rip=%s rport=%d lip=%s lport=%d via %s:%d "
	    "(v%d%s%s)", l->name, s->rip, s->rport, s->lip, s->lport, via,
	    vport, h.version, h.ssl ? ", client TLS " : "",
	    h.ssl ? (h.ssl_version[0] != '\0' ? h.ssl_version : "yes") : "");
	return 0;
}
