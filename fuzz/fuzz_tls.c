/*
 * fuzz_tls.c: libFuzzer harness for the server side of a TLS session
 * through Postern's own stream code: server/tls.c's context (from a
 * postern.conf naming a self-signed certificate, made once by the
 * openssl command, as tests/unit/test_tls.c makes its own) and
 * server/io.c's io_start_tls() and io_getline().  The input is the
 * client's whole byte stream (a ClientHello and what follows), written
 * into a socketpair and followed by the end of the stream.  Checked: a
 * failed handshake says why, and the io then refuses every read and
 * write, as io.h promises; a finished one reads lines until the stream
 * ends; the server sent whole TLS records, nothing in the clear; no
 * descriptor leaks.  libssl is not instrumented, so the fuzzer
 * sees coverage of io.c only: it checks Postern's handling of whatever
 * the handshake makes of the input, under the sanitizers.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/common.h"
#include "server/conf.h"
#include "server/io.h"
#include "server/tls.h"

/* The longest input written: libFuzzer runs with -max_len=8192, and the
 * whole of it must fit in the socketpair before the server reads. */
#define INPUT_MAX	(64 * 1024)
/* The longest line the server reads. */
#define MAX_LINE	512

static struct conf conf;

/* make_cert: a self-signed EC certificate and its key, by the openssl
 * command; aborts when it fails. */
static void
make_cert(const char *crt, const char *key)
{
	pid_t	 pid;
	int	 status, fd;

	FUZZ_CHECK((pid = fork()) != -1);
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			(void)dup2(fd, 0);
			(void)dup2(fd, 1);
			(void)dup2(fd, 2);
		}
		execlp("openssl", "openssl", "req", "-x509", "-newkey", "ec",
		    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		    "-days", "365", "-subj", "/CN=fuzz.example", "-keyout",
		    key, "-out", crt, (char *)NULL);
		_exit(127);
	}
	FUZZ_CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "fuzz_tls: openssl req failed: the harness "
		    "needs the openssl command\n");
	FUZZ_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* LLVMFuzzerInitialize: the certificate, a configuration naming it, and
 * the server's TLS context loaded from it. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*dir;
	char		 crt[PATH_MAX], key[PATH_MAX], cfile[PATH_MAX];
	char		 text[3 * PATH_MAX];
	int		 n;

	fuzz_init("fuzz_tls");
	dir = fuzz_tempdir("tls");
	fuzz_path(crt, sizeof(crt), dir, "cert.pem");
	fuzz_path(key, sizeof(key), dir, "key.pem");
	make_cert(crt, key);
	fuzz_path(cfile, sizeof(cfile), dir, "postern.conf");
	n = snprintf(text, sizeof(text), "tls_cert = \"%s\"\n"
	    "tls_key = \"%s\"\npidfile = \"\"\nlisten { protocol = \"pop3\" "
	    "address = \"127.0.0.1\" port = 0 tls = true }\n", crt, key);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(text));
	fuzz_write_file(cfile, text, (size_t)n);
	FUZZ_CHECK(conf_load(cfile, &conf) == 0);
	FUZZ_CHECK(tls_load(&conf) == 0);
	FUZZ_CHECK(tls_context() != NULL);
	return 0;
}

/* send_all: the input into the client's end (as much as the socket
 * takes without waiting: all of it, but for a replayed file far over
 * INPUT_MAX), then the end of the stream: the server never waits for
 * the client. */
static void
send_all(int fd, const uint8_t *data, size_t size)
{
	int	 bufsize = 2 * INPUT_MAX;
	ssize_t	 n;

	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize,
	    sizeof(bufsize));
	while (size > 0) {
		n = send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EAGAIN)
			break;
		FUZZ_CHECK(n > 0);
		data += n;
		size -= (size_t)n;
	}
	FUZZ_CHECK(shutdown(fd, SHUT_WR) == 0);
}

/* check_records: what the server sent is whole TLS records (RFC 8446
 * section 5.1), so that nothing went out in the clear.  Their version
 * octets are libssl's affair: an alert may echo the client's. */
static void
check_records(int fd)
{
	static uint8_t	 buf[256 * 1024];
	size_t		 len = 0, i, rlen;
	ssize_t		 n;

	while (len < sizeof(buf) && (n = recv(fd, buf + len,
	    sizeof(buf) - len, MSG_DONTWAIT)) > 0)
		len += (size_t)n;
	for (i = 0; i < len; i += 5 + rlen) {
		FUZZ_CHECK(len - i >= 5);
		FUZZ_CHECK(buf[i] >= 20 && buf[i] <= 23);
		rlen = (size_t)buf[i + 3] << 8 | buf[i + 4];
		FUZZ_CHECK(rlen <= 16384 + 2048 && rlen <= len - i - 5);
	}
}

/* LLVMFuzzerTestOneInput: one TLS session's server side on the input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct io	*io;
	char		*line;
	ssize_t		 n;
	int		 sv[2], fd0;

	if (size > INPUT_MAX)
		size = INPUT_MAX;
	fd0 = fuzz_lowest_fd();
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	send_all(sv[0], data, size);
	FUZZ_CHECK((io = io_new(sv[1], MAX_LINE)) != NULL);
	/* Bounds a wait that should never come: the input is all there. */
	io_set_timeout(io, 5);
	if (io_start_tls(io, tls_context()) == -1) {
		/* As the session logs it (a run by hand shows it). */
		fprintf(stderr, "fuzz_tls: handshake failed: %s\n",
		    io_tls_error(io));
		FUZZ_CHECK(!io_is_tls(io));
		FUZZ_CHECK(strcmp(io_tls_error(io), "no error") != 0);
		FUZZ_CHECK(io_getline(io, &line) == IO_ERROR);
		FUZZ_CHECK(io_puts(io, "+OK\r\n") == -1 || io_flush(io) == -1);
	} else {
		FUZZ_CHECK(io_is_tls(io));
		while ((n = io_getline(io, &line)) >= 0 || n == IO_TOOLONG)
			if (n >= 0)
				FUZZ_CHECK(strlen(line) <= (size_t)n);
	}
	io_free(&io);
	FUZZ_CHECK(io == NULL);
	close(sv[1]);
	check_records(sv[0]);
	close(sv[0]);
	FUZZ_CHECK(fuzz_lowest_fd() == fd0);
	return 0;
}
