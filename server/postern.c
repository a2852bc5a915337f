/*
 * postern.c: the admin tool: hashes passwords for the passwd-file, checks
 * and prints the configuration, delivers a message into a user's Maildir,
 * prints the running server's scoreboard, tells its version.  It never
 * starts or signals the server, never writes a file but
 * the message deliver is given, and never prints or logs a password.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <readpassphrase.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "server/auth.h"
#include "server/conf.h"
#include "server/limits.h"
#include "server/log.h"
#include "server/mda.h"
#include "server/passwd.h"
#include "server/password.h"
#include "server/privsep.h"
#include "server/scoreboard.h"
#include "server/session.h"
#include "storage/deliver.h"

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

/* The longest envelope sender deliver -f takes (RFC 5321: 256). */
#define SENDER_MAX	512

struct command {
	const char	*name;
	int		(*run)(int, char **);
};

static int	cmd_hash(int, char **);
static int	cmd_check(int, char **);
static int	cmd_deliver(int, char **);
static int	cmd_version(int, char **);
static int	cmd_status(int, char **);

static const struct command commands[] = {
	{ "hash",	cmd_hash },
	{ "check",	cmd_check },
	{ "deliver",	cmd_deliver },
	{ "version",	cmd_version },
	{ "status",	cmd_status },
};

/* Prints the usage to stderr and returns EX_USAGE. */
static int
usage(void)
{
	fprintf(stderr,
	    "usage: postern hash\n"
	    "       postern check [-c file]\n"
	    "       postern deliver [-d] [-c file] [-f sender] [-m folder] "
	    "user\n"
	    "       postern version\n"
	    "       postern status [-c file]\n");
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

/* check_passwd: the passwd-file's malformed lines, each said on stderr;
 * one the file cannot be read is only noted, as posternd starts without
 * it.  Returns how many. */
static long
check_passwd(const struct conf *conf)
{
	long	 bad;

	if (conf->passdb != PASSDB_PASSWD_FILE)
		return 0;
	if ((bad = passwd_check(conf->passwd_file)) == -1) {
		complain("note: the passwd-file %s cannot be read, not checked",
		    conf->passwd_file);
		return 0;
	}
	if (bad > 0)
		complain("%s: %ld malformed line%s", conf->passwd_file, bad,
		    bad == 1 ? "" : "s");
	return bad;
}

/* load_only: the options of a subcommand that takes only -c file, and
 * the configuration that names; 0, or the exit status after saying
 * why. */
static int
load_only(int argc, char **argv, struct conf *conf)
{
	const char	*path = POSTERN_CONF;
	int		 ch;

	opterr = 0;	/* getopt would name the subcommand as the program */
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
	memset(conf, 0, sizeof(*conf));
	if (conf_load(path, conf) == -1)
		return 1;	/* conf_load said why */
	return 0;
}

/* postern check [-c file]: loads the configuration and prints it. */
static int
cmd_check(int argc, char **argv)
{
	struct conf	 conf;
	char		 why[PATH_MAX + 128];
	long		 bad;
	int		 rc;

	if ((rc = load_only(argc, argv, &conf)) != 0)
		return rc;
	if (privsep_check(&conf, why, sizeof(why)) == -1 ||
	    conf_check_pidfile(&conf, why, sizeof(why)) == -1) {
		complain("%s", why);
		conf_free(&conf);
		return 1;
	}
	bad = check_passwd(&conf);
	if (bad == 0)
		conf_print(&conf, stdout);
	conf_free(&conf);
	return bad != 0 ? 1 : finish_stdout();
}

/* Resolves mail_user, which accounts naming no uid are delivered as
 * when we run as root, as posternd does.  Returns 0, or -1 after saying
 * why. */
static int
mail_identity(struct conf *conf)
{
	struct passwd	*pw;

	conf->privsep = geteuid() == 0;
	if (!conf->privsep || conf->mail_user[0] == '\0')
		return 0;
	if ((pw = getpwnam(conf->mail_user)) == NULL || pw->pw_uid == 0) {
		complain("mail_user \"%s\" %s", conf->mail_user,
		    pw == NULL ? "does not exist" : "is root");
		return -1;
	}
	conf->mail_uid = pw->pw_uid;
	conf->mail_gid = pw->pw_gid;
	return 0;
}

/* Whether s may go into a header line: printable, at most max octets. */
static int
header_safe(const char *s, size_t max)
{
	const unsigned char	*p;

	if (strlen(s) > max)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* Exit status and complaint for a failed delivery (errno). */
static int
deliver_failed(const char *user, const char *what)
{
	int	 err = errno;

	complain("cannot deliver to %s: %s: %s", user, what, strerror(err));
	log_warnx("deliver: user=<%s> failed: %s: %s", user, what,
	    strerror(err));
	errno = err;
	return deliver_tempfail(err) ? EX_TEMPFAIL : EX_CANTCREAT;
}

/* Says why mda_lookup() found no account to deliver to as rc, and
 * returns the exit status. */
static int
not_found(const struct conf *conf, const char *user, enum mda_found rc)
{
	char	 safe[USER_MAX + 1];

	switch (rc) {
	case MDA_UNREADABLE:
		complain("%s: cannot read the passwd-file %s", user,
		    conf->passwd_file);
		return EX_TEMPFAIL;
	case MDA_ROOT:
		complain("%s: uid 0 refused", user);
		log_warnx("deliver: user=<%s> failed: uid 0 refused", user);
		return EX_NOPERM;
	case MDA_BADPATH:
		complain("%s: the maildir template makes no valid path", user);
		return EX_TEMPFAIL;
	case MDA_NOIDENT:
		complain("%s: cannot take the account's identity (see the "
		    "log)", user);
		return EX_TEMPFAIL;
	default:
		session_safe(user, safe, sizeof(safe));
		complain("%s: unknown user", safe);
		log_info("deliver: user=<%s> failed: unknown user", safe);
		return EX_NOUSER;
	}
}

/*
 * Delivers stdin as user into the Maildir of its account u, whose
 * identity (mda_lookup()) this process takes first, so that the
 * account's POP3 sessions own what is delivered.  Returns the exit
 * status.
 */
static int
deliver_as(struct conf *conf, const char *user, const struct auth_user *u,
    const char *sender, const char *folder, int dflag)
{
	struct delivery	*d;
	char		 name[DELIVER_NAME_MAX];
	char		 where[DELIVER_FOLDER_MAX + 1];
	off_t		 size;

	if (privsep_become(conf, u) == -1) {
		complain("%s: cannot take the account's identity (see the "
		    "log)", user);
		return EX_TEMPFAIL;
	}
	if ((d = deliver_begin(u->maildir, folder)) == NULL)
		return deliver_failed(user, u->maildir);
	if (mda_headers(d, sender, dflag ? user : NULL) == -1 ||
	    deliver_copy(d, STDIN_FILENO) == -1) {
		deliver_abort(&d);
		return deliver_failed(user, "writing the message");
	}
	strlcpy(where, deliver_folder(d)[0] != '\0' ? deliver_folder(d) :
	    "INBOX", sizeof(where));
	if (deliver_commit(&d, name, sizeof(name), NULL, &size) == -1)
		return deliver_failed(user, "committing the message");
	log_info("deliver: user=<%s> from=<%s> folder=%s name=%s size=%lld",
	    u->name, sender != NULL ? sender : "", where, name,
	    (long long)size);
	return 0;
}

/* postern deliver [-d] [-c file] [-f sender] [-m folder] user: delivers
 * the message on stdin into user's Maildir. */
static int
cmd_deliver(int argc, char **argv)
{
	struct conf		 conf;
	struct auth_user	 u;
	const char		*path = POSTERN_CONF, *folder = NULL, *user;
	char			 sender[SENDER_MAX + 1], *from = NULL;
	size_t			 len;
	enum mda_found		 found;
	int			 ch, dflag = 0, rc;

	opterr = 0;
	while ((ch = getopt(argc, argv, "c:df:m:")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			dflag = 1;
			break;
		case 'f':
			from = optarg;
			break;
		case 'm':
			folder = optarg;
			break;
		default:
			if (strchr("cfm", optopt) != NULL)
				complain("option -%c needs an argument",
				    optopt);
			else
				complain("unknown option -%c", optopt);
			return usage();
		}
	}
	if (optind != argc - 1)
		return usage();
	user = argv[optind];
	if (folder != NULL && !deliver_folder_valid(folder)) {
		complain("invalid folder name");
		return usage();
	}
	if (from != NULL) {
		/* "<a@b>" or "a@b"; "" and "<>" are the null sender. */
		len = strlen(from);
		if (len >= 2 && from[0] == '<' && from[len - 1] == '>') {
			from++;
			len -= 2;
		}
		if (len > SENDER_MAX) {
			complain("sender longer than %d octets", SENDER_MAX);
			return usage();
		}
		memcpy(sender, from, len);
		sender[len] = '\0';
		if (!header_safe(sender, SENDER_MAX) ||
		    strpbrk(sender, "<>") != NULL) {
			complain("invalid sender address");
			return usage();
		}
	}
	/* Logs go to syslog (facility mail); reasons to stderr as well,
	 * where the MTA that runs this puts them into its bounce. */
	log_init("postern", isatty(STDERR_FILENO));
	/* A file size limit makes write fail (EFBIG), not kill us. */
	signal(SIGXFSZ, SIG_IGN);
	memset(&conf, 0, sizeof(conf));
	if (conf_load(path, &conf) == -1)
		return EX_TEMPFAIL;	/* conf_load said why */
	/* Accounts naming no uid are delivered as mail_user, as posternd
	 * serves them, when we run as root. */
	if (mail_identity(&conf) == -1) {
		complain("%s: cannot take the account's identity", user);
		rc = EX_TEMPFAIL;
	} else if ((found = mda_lookup(&conf, user, &u)) != MDA_FOUND)
		rc = not_found(&conf, user, found);
	else
		rc = deliver_as(&conf, user, &u,
		    from != NULL ? sender : NULL, folder, dflag);
	conf_free(&conf);
	return rc;
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

/* master_pid: the pid in posternd's pidfile, or -1 after saying why. */
static pid_t
master_pid(const struct conf *conf)
{
	FILE	*fp;
	char	 line[32], *end;
	long	 pid;

	if (conf->pidfile[0] == '\0') {
		complain("status: %s sets no pidfile: posternd cannot be found",
		    conf->path);
		return -1;
	}
	if ((fp = fopen(conf->pidfile, "re")) == NULL) {
		complain("status: %s: %s (is posternd running?)",
		    conf->pidfile, strerror(errno));
		return -1;
	}
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	errno = 0;
	pid = strtol(line, &end, 10);
	if (errno != 0 || end == line || (*end != '\n' && *end != '\0') ||
	    pid <= 1 || pid > INT_MAX) {
		complain("status: %s holds no process id", conf->pidfile);
		return -1;
	}
	return (pid_t)pid;
}

/* Prints the scoreboard of the posternd the configuration names: its
 * processes, what each does, for whom and since when.  Root only. */
static int
cmd_status(int argc, char **argv)
{
	struct conf	 conf;
	pid_t		 pid;
	int		 rc;

	if ((rc = load_only(argc, argv, &conf)) != 0)
		return rc;
	pid = master_pid(&conf);
	conf_free(&conf);
	if (pid == -1)
		return 1;
	if (sb_show(pid, stdout) == -1) {
		if (errno == ENOENT)
			complain("status: no scoreboard for posternd %ld (not "
			    "running?)", (long)pid);
		else if (errno == EACCES)
			complain("status: the scoreboard of posternd %ld is "
			    "root's: %s", (long)pid, strerror(errno));
		else
			complain("status: the scoreboard of posternd %ld: %s",
			    (long)pid, errno == EINVAL ? "not of this version" :
			    strerror(errno));
		return 1;
	}
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
