/*
 * fixture.c: the unit tests' shared fixtures (fixture.h): temporary
 * directories and Maildirs, file writes, the captured log, and the
 * socketpair session of a protocol module with its accounts (the
 * delivery tests' among them), its message and its client helpers.  It
 * never touches anything outside the directories it made.
 */
#include "tests/unit/unit.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocols/protocol.h"
#include "server/auth.h"
#include "server/io.h"
#include "server/session.h"
#include "storage/lock.h"
#include "tests/unit/fixture.h"

/* ---- Temporary directories and files. ---- */

/* make_tmp: a new directory $TMPDIR (else /tmp)/NAME.XXXXXX into d->dir,
 * NAME the program's, open as d->dirfd.  0 or -1. */
static int
make_tmp(struct fx_dir *d)
{
	const char	*tmp = getenv("TMPDIR");
	int		 n;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	d->dirfd = d->mdfd = d->saved_stderr = -1;
	n = snprintf(d->dir, sizeof(d->dir), "%s/%s.XXXXXX", tmp,
	    getprogname());
	if (n < 0 || (size_t)n >= sizeof(d->dir) || mkdtemp(d->dir) == NULL)
		return -1;
	d->dirfd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return d->dirfd == -1 ? -1 : 0;
}

/* fx_dir_setup: an empty temporary directory. */
int
fx_dir_setup(void **state)
{
	struct fx_dir	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -1;
	if (make_tmp(d) == -1) {
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

/* fx_maildir_setup: dir/Maildir and dir/state. */
int
fx_maildir_setup(void **state)
{
	struct fx_dir	*d;

	if (fx_dir_setup(state) == -1)
		return -1;
	d = *state;
	(void)snprintf(d->md, sizeof(d->md), "%s/Maildir", d->dir);
	(void)snprintf(d->state, sizeof(d->state), "%s/state", d->dir);
	if (fx_mkmaildir(d->dirfd, "Maildir", 0700) == -1 ||
	    mkdirat(d->dirfd, "state", 0700) == -1 ||
	    (d->mdfd = open(d->md, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		(void)fx_dir_teardown(state);
		return -1;
	}
	d->opts.state_dir = d->state;
	return 0;
}

/* fx_dir_teardown: the descriptors closed, the tree removed. */
int
fx_dir_teardown(void **state)
{
	struct fx_dir	*d = *state;
	int		 rc;

	if (d->mdfd != -1)
		(void)close(d->mdfd);
	(void)close(d->dirfd);
	rc = fx_rmtree(d->dir);
	free(d);
	return rc;
}

/* rm_entry: removes one entry of a tree (nftw callback). */
static int
rm_entry(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(p);
}

/* fx_rmtree: removes the tree at path, depth first. */
int
fx_rmtree(const char *path)
{
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* nobody_entry: gives one entry of a tree to nobody (nftw callback). */
static int
nobody_entry(const char *p, const struct stat *st, int type,
    struct FTW *ftw)
{
	return lchown(p, 65534, 65534);
}

/* fx_mkmaildir: name, new/, cur/ and tmp/ under dirfd. */
int
fx_mkmaildir(int dirfd, const char *name, mode_t mode)
{
	static const char *const subs[] = { "new", "cur", "tmp" };
	char	 path[PATH_MAX];
	size_t	 i;

	if (mkdirat(dirfd, name, mode) == -1)
		return -1;
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", name,
		    subs[i]) >= sizeof(path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (mkdirat(dirfd, path, mode) == -1)
			return -1;
	}
	return 0;
}

/* writeat: the whole of data into rel. */
void
writeat(int dirfd, const char *rel, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;
	int		 fd;

	fd = openat(dirfd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	assert_true(fd >= 0);
	while (len > 0) {
		n = write(fd, p, len);
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
	assert_int_equal(close(fd), 0);
}

/* put: the string text into rel. */
void
put(int dirfd, const char *rel, const char *text)
{
	writeat(dirfd, rel, text, strlen(text));
}

/* put_in: the string text into dir/rel. */
void
put_in(const char *dir, const char *rel, const char *text)
{
	char	 path[PATH_MAX];

	assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) <
	    sizeof(path));
	put(AT_FDCWD, path, text);
}

/* count: the entries of dir/sub but dot-files. */
int
count(const char *dir, const char *sub)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", dir, sub) <
	    sizeof(path));
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

bool
stream_ended(int fd, const char *want)
{
	char	 buf[512];
	size_t	 got = 0, len = strlen(want);
	ssize_t	 n;

	while (got < sizeof(buf) && (n = recv(fd, buf + got,
	    sizeof(buf) - got, MSG_DONTWAIT)) > 0)
		got += (size_t)n;
	if (got != len || memcmp(buf, want, len) != 0)
		return false;
	return recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == 0;
}

/* lock_holder: a child holding the lock, once it has it. */
pid_t
lock_holder(int dirfd, int hold_ms)
{
	pid_t	 pid;
	int	 p[2];
	char	 c;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		(void)close(p[0]);
		c = lock_take(dirfd, LOCK_FILE) >= 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		if (hold_ms >= 0) {
			usleep((useconds_t)hold_ms * 1000);
			_exit(0);
		}
		for (;;)
			pause();
	}
	(void)close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	(void)close(p[0]);
	assert_int_equal(c, 'y');
	return pid;
}

/* capture: stderr into a temporary file. */
void
capture(struct fx_dir *d)
{
	fflush(stderr);
	assert_non_null(d->log = tmpfile());
	d->saved_stderr = dup(STDERR_FILENO);
	assert_true(d->saved_stderr >= 0);
	assert_int_equal(dup2(fileno(d->log), STDERR_FILENO), STDERR_FILENO);
}

/* captured: stderr back; whether the log had needle. */
bool
captured(struct fx_dir *d, const char *needle)
{
	char	 buf[16384];
	size_t	 n;

	fflush(stderr);
	assert_int_equal(dup2(d->saved_stderr, STDERR_FILENO), STDERR_FILENO);
	(void)close(d->saved_stderr);
	d->saved_stderr = -1;
	rewind(d->log);
	n = fread(buf, 1, sizeof(buf) - 1, d->log);
	buf[n] = '\0';
	fclose(d->log);
	d->log = NULL;
	return strstr(buf, needle) != NULL;
}

/* ---- A protocol module's session. ---- */

/* path_in: "a/b" into out, which must hold it. */
static void
path_in(char *out, size_t outlen, const char *a, const char *b)
{
	assert_true((size_t)snprintf(out, outlen, "%s/%s", a, b) < outlen);
}

/* fx_new: the directory, an empty passwd-file and the configuration. */
struct fixture *
fx_new(const char *proto)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_true((size_t)snprintf(f->dir, sizeof(f->dir),
	    "/tmp/postern-%s-XXXXXX", proto) < sizeof(f->dir));
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(chmod(f->dir, 0755), 0);
	path_in(f->home, sizeof(f->home), f->dir, "home");
	assert_int_equal(mkdir(f->home, 0755), 0);
	path_in(f->state, sizeof(f->state), f->dir, "state");
	assert_int_equal(mkdir(f->state, 0700), 0);
	path_in(f->passwd, sizeof(f->passwd), f->dir, "passwd");
	/* Readable by a sandboxed child, as fopen() would make it. */
	put(AT_FDCWD, f->passwd, "");
	assert_int_equal(chmod(f->passwd, 0644), 0);
	f->proto = proto;
	f->conf.passwd_file = f->passwd;
	f->conf.maildir = "%h/Maildir";
	f->conf.hostname = "test.example";
	f->conf.login_timeout = 5;
	f->conf.idle_timeout = 600;
	f->conf.max_line = 512;
	f->conf.max_bad_commands = 50;
	f->conf.plaintext_auth = PLAINTEXT_LOOPBACK;
	f->conf.state_dir = f->state;
	f->fd = -1;
	f->spool = -1;
	return f;
}

/* fx_teardown: the session stopped, the tree removed. */
int
fx_teardown(void **state)
{
	struct fixture	*f = *state;

	stop(f);
	if (f->spool != -1)
		(void)close(f->spool);
	assert_int_equal(fx_rmtree(f->dir), 0);
	free(f);
	return 0;
}

/* passwd_add: one more line in the passwd-file. */
void
passwd_add(struct fixture *f, const char *entry)
{
	FILE	*fp;

	assert_non_null(fp = fopen(f->passwd, "a"));
	assert_true(fprintf(fp, "%s\n", entry) > 0);
	assert_int_equal(fclose(fp), 0);
}

/* maildir_of: home/user/Maildir. */
const char *
maildir_of(struct fixture *f, const char *user)
{
	static char	 path[PATH_MAX + 64];

	assert_true((size_t)snprintf(path, sizeof(path), "%s/%s/Maildir",
	    f->home, user) < sizeof(path));
	return path;
}

/* account: the home, its Maildir and the passwd-file line. */
const char *
account(struct fixture *f, const char *user, const char *password,
    const char *ids)
{
	char	 home[PATH_MAX + 32], entry[2 * PATH_MAX];
	int	 dirfd;

	path_in(home, sizeof(home), f->home, user);
	assert_int_equal(mkdir(home, 0755), 0);
	assert_true((dirfd = open(home, O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(fx_mkmaildir(dirfd, "Maildir", 0755), 0);
	(void)close(dirfd);
	assert_true((size_t)snprintf(entry, sizeof(entry),
	    "%s:{PLAIN}%s:%s::%s::", user, password, ids != NULL ? ids : ":",
	    home) < sizeof(entry));
	passwd_add(f, entry);
	if (f->md[0] == '\0')
		strlcpy(f->md, maildir_of(f, user), sizeof(f->md));
	return maildir_of(f, user);
}

/* delivery_accounts: alice, nob (given to nobody as root), broken. */
void
delivery_accounts(struct fixture *f)
{
	char	 path[PATH_MAX + 64];

	account(f, "alice", "x", NULL);
	account(f, "nob", "x", "65534:65534");
	account(f, "broken", "x", NULL);
	path_in(path, sizeof(path), f->home, "nob");
	if (geteuid() == 0)
		assert_int_equal(nftw(path, nobody_entry, 16, FTW_PHYS), 0);
	path_in(path, sizeof(path), maildir_of(f, "broken"), "tmp");
	assert_int_equal(rmdir(path), 0);
}

/* fx_spool: text into dir/spool, left open at its end. */
void
fx_spool(struct fixture *f, const char *text)
{
	char	 path[PATH_MAX + 8];
	ssize_t	 n;

	path_in(path, sizeof(path), f->dir, "spool");
	assert_true((f->spool = open(path, O_RDWR | O_CREAT, 0600)) != -1);
	n = write(f->spool, text, strlen(text));
	assert_int_equal(n, (ssize_t)strlen(text));
}

/* start_peer: the server child, its client at rip:rport. */
/* resume: s becomes f->resumed's session process after its login. */
static int
resume(struct fixture *f, struct session *s)
{
	const char	*why;

	s->resumed = true;
	s->deliverq = -1;
	strlcpy(s->user, f->resumed, sizeof(s->user));
	return auth_lookup(&f->conf, f->resumed, &s->account, &why) ==
	    AUTH_OK ? 0 : -1;
}

void
start_peer(struct fixture *f, const char *rip, int rport, bool loopback)
{
	struct session	 s;
	int		 sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		/* A crash must end this child, not resume cmocka's run. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		signal(SIGABRT, SIG_DFL);
		close(sv[0]);
		memset(&s, 0, sizeof(s));
		s.conf = &f->conf;
		s.proto = protocol_find(f->proto);
		s.fd = sv[1];
		s.authq = -1;	/* logins checked in this process */
		s.loopback = loopback;
		s.rport = rport;
		strlcpy(s.rip, rip, sizeof(s.rip));
		if (s.proto == NULL || (f->sandbox && geteuid() == 0 &&
		    setuid(65534) == -1))
			_exit(1);
		if (f->resumed != NULL && resume(f, &s) == -1)
			_exit(1);
		s.proto->serve(&s);
		io_free(&s.io);
		_exit(0);
	}
	close(sv[1]);
	f->fd = sv[0];
	f->len = 0;
}

/* start: a client at 127.0.0.1 on loopback. */
void
start(struct fixture *f)
{
	start_peer(f, "127.0.0.1", 0, true);
}

/* stop: the client's end closed, the child reaped. */
void
stop(struct fixture *f)
{
	int	 status;

	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->pid > 0) {
		assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	f->pid = 0;
}

/* fill: one more read into f->buf. */
bool
fill(struct fixture *f)
{
	ssize_t	 n;

	n = read(f->fd, f->buf + f->len, sizeof(f->buf) - f->len);
	if (n <= 0)
		return false;
	f->len += (size_t)n;
	return true;
}

/* line: the next CRLF line. */
const char *
line(struct fixture *f)
{
	static char	 out[4096];
	char		*nl;
	size_t		 l;

	while ((nl = memchr(f->buf, '\n', f->len)) == NULL)
		if (!fill(f))
			return "";
	l = (size_t)(nl - f->buf) + 1;
	assert_true(l >= 2 && nl[-1] == '\r');
	assert_true(l - 2 < sizeof(out));
	memcpy(out, f->buf, l - 2);
	out[l - 2] = '\0';
	memmove(f->buf, f->buf + l, f->len - l);
	f->len -= l;
	return out;
}

/* sendall: len octets to the server. */
void
sendall(struct fixture *f, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;

	while (len > 0) {
		n = write(f->fd, p, len);
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* send_text: a string to the server. */
void
send_text(struct fixture *f, const char *text)
{
	sendall(f, text, strlen(text));
}

/* cmd: a command line and its first reply line. */
const char *
cmd(struct fixture *f, const char *c)
{
	char	 out[8192];
	int	 n = snprintf(out, sizeof(out), "%s\r\n", c);

	assert_true(n > 0 && (size_t)n < sizeof(out));
	sendall(f, out, (size_t)n);
	return line(f);
}

/* body: a multi-line reply's lines up to ".". */
const char *
body(struct fixture *f)
{
	static char	 out[8192];
	const char	*l;
	int		 n = 0;

	out[0] = '\0';
	while (strcmp(l = line(f), ".") != 0) {
		assert_true(++n < 1000);	/* not the end of the stream */
		strlcat(out, l, sizeof(out));
		strlcat(out, "\n", sizeof(out));
	}
	return out;
}
