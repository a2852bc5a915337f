/*
 * proxy.h: HAProxy's PROXY protocol, versions 1 and 2, on listeners with
 * proxy = true: the header a trusted load balancer sends before anything
 * else, naming the client it accepted the connection from and the
 * address that client connected to.  Nothing is sent to the peer before
 * the whole header has arrived and passed every check, and not one octet
 * after it is read.
 */
#ifndef POSTERN_PROXY_H
#define POSTERN_PROXY_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>

struct session;
struct listener;

/* Seconds the whole header may take to arrive (proxy_timeout): the
 * specification asks receivers to wait at least 3 s; Dovecot's
 * haproxy_timeout is 3 s too. */
#define PROXY_TIMEOUT_DEFAULT	3
#define PROXY_TIMEOUT_MIN	3
#define PROXY_TIMEOUT_MAX	60

/* A v1 line is at most 107 octets with its CRLF ("PROXY TCP6" with two
 * full-length IPv6 addresses is 104); the shortest is "PROXY UNKNOWN"
 * CRLF, 15 octets.  A v2 header is 16 octets and a body of up to 65535,
 * read whole; this much of the body is kept to look at, the rest (TLVs
 * only) is read and dropped. */
#define PROXY_V1_MAX		107
#define PROXY_V1_MIN		15
#define PROXY_V2_HEAD		16
#define PROXY_V2_KEEP		1024

/* Networks in proxy_trusted_networks. */
#define PROXY_NETS_MAX		256

/* One trusted network: family AF_INET (4 octets of addr) or AF_INET6. */
struct proxy_net {
	int		 family;
	unsigned char	 addr[16];
	int		 bits;		/* prefix length */
};

/* What a header says. */
struct proxy_hdr {
	int		 version;	/* 1 or 2 */
	bool		 local;		/* v2 LOCAL, v1 UNKNOWN, v2 UNSPEC:
					   keep the connection's own
					   endpoints */
	struct sockaddr_storage src;	/* the client, when !local */
	struct sockaddr_storage dst;	/* where it connected to */
	bool		 ssl;		/* v2 PP2_TYPE_SSL: the client
					   spoke TLS to the proxy */
	char		 ssl_version[32];	/* its PP2_SUBTYPE_SSL_VERSION,
						   printable, or "" */
};

/*
 * Parses proxy_trusted_networks: addresses with an optional /prefix
 * ("192.0.2.0/24 2001:db8::/32 127.0.0.1"), separated by spaces, tabs
 * or commas; an address alone is a /32 or /128.  A network with bits
 * set below its prefix, a bad address or prefix, or more than
 * PROXY_NETS_MAX networks is an error.  Returns 0 and sets *nets_r
 * (malloc'ed, NULL when there are none; free() it) and *n_r, or -1 with
 * the reason in err.
 */
int	proxy_networks(const char *spec, struct proxy_net **nets_r, int *n_r,
	    char *err, size_t errlen);
/* Whether sa (AF_INET or AF_INET6; an IPv4-mapped IPv6 address counts as
 * IPv4) is in one of the n networks. */
bool	proxy_trusted(const struct proxy_net *nets, int n,
	    const struct sockaddr *sa);

/*
 * Parses a complete v1 line of len octets, CRLF included.  Returns 0 and
 * fills *h, or -1 with a static reason in *why.
 */
int	proxy_parse_v1(const char *line, size_t len, struct proxy_hdr *h,
	    const char **why);
/*
 * Parses a v2 header: head is its first 16 octets; body the first blen
 * octets of the len that head announces (blen <= len: TLVs past blen
 * are not looked at).  Returns 0 and fills *h, or -1 with a static
 * reason in *why.
 */
int	proxy_parse_v2(const unsigned char *head, const unsigned char *body,
	    size_t blen, struct proxy_hdr *h, const char **why);
/*
 * Reads one header, v1 or v2, from the connected socket fd, waiting at
 * most timeout seconds in all, and never reading an octet past it: v2 by
 * its announced length, v1 by peeking for the line feed.  Input that
 * cannot start a header is refused as soon as it arrives.  Returns 0 and
 * fills *h, or -1 with the reason in why.
 */
int	proxy_read(int fd, int timeout, struct proxy_hdr *h, char *why,
	    size_t whylen);

/*
 * The worker's hook for a listener with proxy = true, called before the
 * protocol says a word: closes out a peer outside proxy_trusted_networks
 * (a peer on a UNIX socket is trusted: the socket's mode decides who can
 * connect), reads the header, and puts the client's address and port
 * into s->rip and s->rport, the address it connected to into s->lip and
 * s->lport, and recomputes s->loopback from the client's address.
 * LOCAL and UNKNOWN headers keep the connection's own endpoints.
 * Returns 0, or -1 after logging why: the caller closes the connection
 * without a word.
 */
int	proxy_accept(struct session *s, const struct listener *l);

#endif
