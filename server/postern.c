/*
 * postern.c: the admin tool: hashes passwords for the passwd-file, checks
 * and prints the configuration, tells its version.  It never starts the
 * server, never writes a file, and never prints or logs a password.
 */
#include <errno.h>
#include <readpassphrase.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "server/conf.h"
#include "server/limits.h"
#include "server/log.h"
#include "server/password.h"

#ifdef SYSCONFDIR
#define POSTERN_CONF	SYSCONFDIR "/postern/postern.conf"
#else
#define POSTERN_CONF	"/etc/postern/postern.conf"
#endif

/* A password of PASSWORD_MAX octets and a NUL, plus one octet so that a
 * longer one is seen and refused rather than silently cut. */
#define PASSWORD_BUF	(PASSWORD_MAX + 2)

/* Room for any hash password_hash() makes. */
#define HASH_BUF	512

struct command {
	const char	*name;
	int		(*run)(int, char **);
};

static int	cmd_hash(int, char **);
static int	cmd_check(int, char **);
static int	cmd_version(int, char **);

static const struct command commands[] = {
	{ "hash",	cmd_hash },
	{ "check",	cmd_check },
	{ "version",	cmd_version },
};

/* Prints the usage to stderr and returns EX_USAGE. */
static int
usage(void)
{
	fprintf(stderr,
	    "usage: postern hash\n"
	    "       postern check [-c file]\n"
	    "       postern version\n");
	return EX_USAGE;
}

/* Prints "postern: " and a message on stderr. */
static void __attribute__((format(printf, 1, 2)))
complain(const char *fmt, ...)
{
	va_list	 ap;

	fputs("postern: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Flushes stdout; returns the exit status: 1 if anything failed. */
static int
finish_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		complain("stdout: %s", strerror(errno));
		return 1;
	}
	return 0;
}

/*
 * Reads one line from stdin into buf without stdio, so that no copy of
 * the password stays in a stdio buffer.  Stops at the newline, so it never
 * reads past the line, and stops once the line cannot fit buf.  Returns
 * its length, -2 when it is too long, or -1 on a read error (errno) or
 * when there was nothing to read (errno 0).
 */
static ssize_t
read_line(char *buf, size_t buflen)
{
	size_t	 len = 0;
	ssize_t	 n, ret = 0;
	char	 c;

	for (;;) {
		n = read(STDIN_FILENO, &c, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			ret = -1;
			break;
		}
		if (n == 0) {
			if (len == 0) {
				errno = 0;
				ret = -1;
			}
			break;
		}
		if (c == '\n')
			break;
		if (len == buflen - 1) {
			ret = -2;
			break;
		}
		buf[len++] = c;
	}
	explicit_bzero(&c, sizeof(c));
	buf[len] = '\0';
	if (ret != 0)
		return ret;
	/* POP3 takes the password up to CRLF: a CR cannot be typed there. */
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	return len;
}

/* Reads the password from the terminal, twice.  Returns 0, or 1. */
static int
read_tty(char *pw, char *again, size_t len)
{
	if (readpassphrase("Password: ", pw, len, RPP_REQUIRE_TTY) == NULL ||
	    readpassphrase("Retype password: ", again, len,
	    RPP_REQUIRE_TTY) == NULL) {
		complain("cannot read the password: %s", strerror(errno));
		return 1;
	}
	if (strcmp(pw, again) != 0) {
		complain("passwords do not match");
		return 1;
	}
	return 0;
}

/* Reads the password as one line of stdin.  Returns 0, or 1. */
static int
read_stdin(char *pw, size_t len)
{
	ssize_t	 n;

	if ((n = read_line(pw, len)) == -2) {
		complain("password longer than %d octets refused",
		    PASSWORD_MAX);
		return 1;
	}
	if (n == -1) {
		if (errno != 0)
			complain("stdin: %s", strerror(errno));
		else
			complain("no password on stdin");
		return 1;
	}
	if (strlen(pw) != (size_t)n) {
		complain("the password contains a NUL");
		return 1;
	}
	return 0;
}

/* postern hash: prints the hash of a password read from tty or stdin. */
static int
cmd_hash(int argc, char **argv)
{
	char	 pw[PASSWORD_BUF], again[PASSWORD_BUF], hash[HASH_BUF];
	int	 status;

	if (argc != 1)
		return usage();
#ifdef HAVE_PLEDGE
	if (pledge("stdio rpath wpath tty", NULL) == -1)
		fatal("pledge");
#endif
	if (isatty(STDIN_FILENO))
		status = read_tty(pw, again, sizeof(pw));
	else
		status = read_stdin(pw, sizeof(pw));
	if (status == 0 && pw[0] == '\0') {
		complain("empty password refused");
		status = 1;
	}
	if (status == 0 && strlen(pw) > PASSWORD_MAX) {
		complain("password longer than %d octets refused",
		    PASSWORD_MAX);
		status = 1;
	}
	if (status == 0 && password_hash(pw, hash, sizeof(hash)) == -1) {
		if (errno == ERANGE)
			complain("password too long for crypt(3)");
		else
			complain("cannot hash the password: %s",
			    strerror(errno));
		status = 1;
	}
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(again, sizeof(again));
	if (status == 0) {
		printf("%s\n", hash);
		status = finish_stdout();
	}
	explicit_bzero(hash, sizeof(hash));
	return status;
}

/* postern check [-c file]: loads the configuration and prints it. */
static int
cmd_check(int argc, char **argv)
{
	struct conf	 conf;
	const char	*path = POSTERN_CONF;
	int		 ch;

	opterr = 0;	/* getopt would name "check" as the program */
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		default:
			if (optopt == 'c')
				complain("option -c needs a file name");
			else
				complain("unknown option -%c", optopt);
			return usage();
		}
	}
	if (optind != argc)
		return usage();
	memset(&conf, 0, sizeof(conf));
	if (conf_load(path, &conf) == -1)
		return 1;	/* conf_load said why */
	conf_print(&conf, stdout);
	conf_free(&conf);
	return finish_stdout();
}

/* postern version: prints the package version. */
static int
cmd_version(int argc, char **argv)
{
	if (argc != 1)
		return usage();
	printf("postern %s\n", PACKAGE_VERSION);
	return finish_stdout();
}

/* Runs the subcommand named by argv[1]. */
int
main(int argc, char *argv[])
{
	size_t	 i;

	log_init("postern", 1);
	if (argc < 2)
		return usage();
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	}
	return usage();
}
