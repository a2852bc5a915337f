/*
 * barepop.c: the "bare pre-forked reader" of the RETR benchmark (make
 * bench, issue #8): pre-forked processes that answer a handful of POP3
 * commands on one Maildir directory and send its messages with LF
 * turned into CRLF and dot-stuffing through 64 KiB buffers, nothing
 * more.  A reference figure, NOT a server: no authentication, no
 * locking, no limits, no DELE.  It listens on 127.0.0.1 only and is no
 * part of libpostern nor of make check.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define IOBUF		65536	/* the file read and the reply buffers */
#define LINEBUF		1024	/* command lines not yet answered */
#define MAXWORKERS	64

/* One message: its file name in the directory, its size in CRLF. */
struct msg {
	char	*name;
	off_t	 size;
};

/* The maildrop, scanned once at start and only read afterwards. */
struct drop {
	int		 dfd;
	struct msg	*m;
	size_t		 n;
	long long	 total;
};

/* One connection: its buffers and the text state of the message sent. */
struct conn {
	int		 fd;
	const struct drop *d;
	size_t		 inlen, inoff, outlen;
	int		 bol, cr;	/* at a line start; last octet a CR */
	char		 in[LINEBUF];
	char		 out[IOBUF];
	char		 file[IOBUF];
};

static void	usage(void) __attribute__((noreturn));

/* usage: the synopsis, then exit 2. */
static void
usage(void)
{
	fprintf(stderr, "usage: barepop -p port -d dir [-w workers]\n");
	exit(2);
}

/* byname: qsort's order of messages, by file name. */
static int
byname(const void *a, const void *b)
{
	return strcmp(((const struct msg *)a)->name,
	    ((const struct msg *)b)->name);
}

/* crlf_size: the size of a file once its LFs are CRLFs and its last
 * line ends, read from the file. */
static off_t
crlf_size(int dfd, const char *name, char *buf)
{
	off_t	 size = 0;
	ssize_t	 n, i;
	int	 fd;
	char	 prev = '\n';

	if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		err(1, "%s", name);
	while ((n = read(fd, buf, IOBUF)) > 0) {
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' && prev != '\r')
				size++;
			prev = buf[i];
		}
		size += n;
	}
	if (n == -1)
		err(1, "%s", name);
	close(fd);
	return prev == '\n' ? size : size + 2;
}

/* scan: every message of dir, sorted by name, with its ",W=" size or
 * the size counted from the file. */
static void
scan(const char *dir, struct drop *d, char *buf)
{
	DIR		*dp;
	struct dirent	*de;
	const char	*w;
	char		*end;
	size_t		 cap = 0, i;

	if ((d->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (dp = opendir(dir)) == NULL)
		err(1, "%s", dir);
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (d->n == cap && (d->m = reallocarray(d->m,
		    cap = cap ? 2 * cap : 1024, sizeof(*d->m))) == NULL)
			err(1, "reallocarray");
		if ((d->m[d->n++].name = strdup(de->d_name)) == NULL)
			err(1, "strdup");
	}
	closedir(dp);
	if (d->n > 0)
		qsort(d->m, d->n, sizeof(*d->m), byname);
	for (i = 0; i < d->n; i++) {
		d->m[i].size = -1;
		if ((w = strstr(d->m[i].name, ",W=")) != NULL) {
			d->m[i].size = strtoll(w + 3, &end, 10);
			if (end == w + 3 || (*end != ':' && *end != ',' &&
			    *end != '\0'))
				d->m[i].size = -1;
		}
		if (d->m[i].size < 0)
			d->m[i].size = crlf_size(d->dfd, d->m[i].name, buf);
		d->total += d->m[i].size;
	}
}

/* flush: writes the reply buffer out; 0 or -1. */
static int
flush(struct conn *c)
{
	const char	*p = c->out;
	ssize_t		 n;

	while (c->outlen > 0) {
		n = write(c->fd, p, c->outlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		c->outlen -= (size_t)n;
	}
	return 0;
}

/* emit: appends n octets to the reply buffer, writing it when full. */
static int
emit(struct conn *c, const char *p, size_t n)
{
	size_t	 k;

	while (n > 0) {
		if (c->outlen == sizeof(c->out) && flush(c) == -1)
			return -1;
		k = sizeof(c->out) - c->outlen;
		k = k < n ? k : n;
		memcpy(c->out + c->outlen, p, k);
		c->outlen += k;
		p += k;
		n -= k;
	}
	return 0;
}

/* reply: a formatted status line appended to the reply buffer. */
static int __attribute__((format(printf, 2, 3)))
reply(struct conn *c, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[128];
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return emit(c, line, (size_t)n);
}

/* text: n octets of a message to the reply, each LF as CRLF and a '.'
 * starting a line doubled; c->bol and c->cr carry the line state over. */
static int
text(struct conn *c, const char *p, size_t n)
{
	const char	*e = p + n, *q;
	int		 cr;

	while (p < e) {
		if (c->bol && *p == '.' && emit(c, ".", 1) == -1)
			return -1;
		if ((q = memchr(p, '\n', (size_t)(e - p))) == NULL) {
			c->bol = 0;
			c->cr = e[-1] == '\r';
			return emit(c, p, (size_t)(e - p));
		}
		cr = q > p ? q[-1] == '\r' : c->cr;
		if (emit(c, p, (size_t)(q - p)) == -1 ||
		    emit(c, cr ? "\n" : "\r\n", cr ? 1 : 2) == -1)
			return -1;
		p = q + 1;
		c->bol = 1;
		c->cr = 0;
	}
	return 0;
}

/* retr: message i (from 1) as a RETR reply.  A read shorter than the
 * buffer is taken as the end of the file, as it is for a regular file
 * that nobody writes, to spare the read that would return 0. */
static int
retr(struct conn *c, long i)
{
	const struct msg *m;
	ssize_t		 n;
	int		 fd;

	if (i < 1 || (size_t)i > c->d->n)
		return reply(c, "-ERR\r\n");
	m = &c->d->m[i - 1];
	if ((fd = openat(c->d->dfd, m->name, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "barepop: %s: %s\n", m->name, strerror(errno));
		return reply(c, "-ERR\r\n");
	}
	c->bol = 1;
	c->cr = 0;
	if (reply(c, "+OK %lld octets\r\n", (long long)m->size) == -1) {
		close(fd);
		return -1;
	}
	do {
		while ((n = read(fd, c->file, sizeof(c->file))) == -1 &&
		    errno == EINTR)
			;
		if (n == -1)
			fprintf(stderr, "barepop: %s: %s\n", m->name,
			    strerror(errno));
		if (n == -1 || (n > 0 && text(c, c->file, (size_t)n) == -1)) {
			close(fd);
			return -1;	/* the reply cannot be ended well */
		}
	} while ((size_t)n == sizeof(c->file));
	close(fd);
	if (!c->bol && emit(c, "\r\n", 2) == -1)
		return -1;
	return emit(c, ".\r\n", 3);
}

/* list: the LIST reply without an argument. */
static int
list(struct conn *c)
{
	size_t	 i;

	if (reply(c, "+OK\r\n") == -1)
		return -1;
	for (i = 0; i < c->d->n; i++)
		if (reply(c, "%zu %lld\r\n", i + 1,
		    (long long)c->d->m[i].size) == -1)
			return -1;
	return emit(c, ".\r\n", 3);
}

/* command: answers one command line; -1 when the connection ends. */
static int
command(struct conn *c, const char *line)
{
	size_t	 len = strcspn(line, " ");

	if (len != 4)
		return reply(c, "-ERR\r\n");
	if (strncasecmp(line, "USER", 4) == 0 ||
	    strncasecmp(line, "PASS", 4) == 0 ||
	    strncasecmp(line, "NOOP", 4) == 0)
		return reply(c, "+OK\r\n");
	if (strncasecmp(line, "STAT", 4) == 0)
		return reply(c, "+OK %zu %lld\r\n", c->d->n, c->d->total);
	if (strcasecmp(line, "LIST") == 0)
		return list(c);
	if (strncasecmp(line, "RETR ", 5) == 0)
		return retr(c, strtol(line + 5, NULL, 10));
	if (strcasecmp(line, "QUIT") == 0) {
		if (reply(c, "+OK\r\n") == -1)
			return -1;
		flush(c);
		return -1;
	}
	return reply(c, "-ERR\r\n");
}

/* next_line: the next command line, without its CRLF, in *line; 0 at
 * the end of the connection.  The replies so far are written only when
 * no complete command waits in the buffer, so that pipelined replies
 * go out together and a lone one goes out at once. */
static int
next_line(struct conn *c, char **line)
{
	char	*p, *nl;
	ssize_t	 n;

	for (;;) {
		p = c->in + c->inoff;
		if ((nl = memchr(p, '\n', c->inlen - c->inoff)) != NULL) {
			*nl = '\0';
			if (nl > p && nl[-1] == '\r')
				nl[-1] = '\0';
			c->inoff = (size_t)(nl + 1 - c->in);
			*line = p;
			return 1;
		}
		if (flush(c) == -1)
			return 0;
		memmove(c->in, p, c->inlen - c->inoff);
		c->inlen -= c->inoff;
		c->inoff = 0;
		if (c->inlen == sizeof(c->in))
			return 0;	/* a line too long */
		while ((n = read(c->fd, c->in + c->inlen,
		    sizeof(c->in) - c->inlen)) == -1 && errno == EINTR)
			;
		if (n <= 0)
			return 0;
		c->inlen += (size_t)n;
	}
}

/* worker: accepts connections on l and serves them, one at a time. */
static void __attribute__((noreturn))
worker(int l, const struct drop *d)
{
	struct conn	*c;
	char		*line;
	int		 on = 1;

	if ((c = malloc(sizeof(*c))) == NULL)
		err(1, "malloc");
	for (;;) {
		if ((c->fd = accept(l, NULL, NULL)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			err(1, "accept");
		}
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on));
		c->d = d;
		c->inlen = c->inoff = c->outlen = 0;
		if (reply(c, "+OK\r\n") == 0)
			while (next_line(c, &line) && command(c, line) == 0)
				;
		close(c->fd);
	}
}

/* listener: the listening socket on 127.0.0.1 port. */
static int
listener(const char *port)
{
	struct sockaddr_in	 sin;
	char			*end;
	long			 p;
	int			 l, on = 1;

	p = strtol(port, &end, 10);
	if (end == port || *end != '\0' || p < 1 || p > 65535)
		usage();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)p);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	(void)setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 128) == -1)
		err(1, "listen on port %s", port);
	return l;
}

int
main(int argc, char **argv)
{
	struct drop	 d;
	sigset_t	 set, old;
	pid_t		 pid[MAXWORKERS];
	const char	*port = NULL, *dir = NULL;
	char		*buf;
	long		 nw = 2, i;
	int		 ch, l, sig;

	while ((ch = getopt(argc, argv, "d:p:w:")) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'w':
			nw = strtol(optarg, NULL, 10);
			if (nw < 1 || nw > MAXWORKERS)
				usage();
			break;
		default:
			usage();
		}
	}
	if (port == NULL || dir == NULL || optind != argc)
		usage();
	memset(&d, 0, sizeof(d));
	if ((buf = malloc(IOBUF)) == NULL)
		err(1, "malloc");
	scan(dir, &d, buf);
	free(buf);
	l = listener(port);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	for (i = 0; i < nw; i++) {
		if ((pid[i] = fork()) == -1) {
			ch = errno;
			while (--i >= 0)
				kill(pid[i], SIGTERM);
			errno = ch;
			err(1, "fork");
		}
		if (pid[i] == 0) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			worker(l, &d);
		}
	}
	close(l);
	if (sigwait(&set, &sig) != 0)
		sig = 0;
	if (sig == SIGCHLD)
		fprintf(stderr, "barepop: a worker exited\n");
	for (i = 0; i < nw; i++)
		kill(pid[i], SIGTERM);
	for (i = 0; i < nw; i++)
		waitpid(pid[i], NULL, 0);
	return sig == SIGCHLD ? 1 : 0;
}
