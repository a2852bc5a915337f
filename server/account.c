/*
 * account.c: creates virtual-user accounts in the passwd-file for MRP's
 * CREATE.  It holds the passwd-file's lock for the whole creation, never
 * edits the file in place (a new copy is renamed over it), never
 * follows a symlink it creates a file at, and never lets two accounts
 * share a name in any case.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "server/account.h"
#include "server/auth.h"
#include "server/log.h"
#include "server/password.h"
#include "server/privsep.h"

#define ACCOUNT_RATE_KEEP	4096	/* entries kept in the rate file */

/* is_alnum: an ASCII letter or digit (no locale). */
static bool
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

bool
account_name_valid(const char *name)
{
	size_t	 i, len = strlen(name);

	if (len < ACCOUNT_NAME_MIN || len > ACCOUNT_NAME_MAX ||
	    !is_alnum((unsigned char)name[0]))
		return false;
	for (i = 0; i < len; i++)
		if (!is_alnum((unsigned char)name[i]) &&
		    strchr("._+-@", name[i]) == NULL)
			return false;
	return true;
}

bool
account_password_valid(const char *pw)
{
	size_t	 i, len = strlen(pw);

	if (len < ACCOUNT_PASSWORD_MIN || len > ACCOUNT_PASSWORD_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (pw[i] < 0x21 || pw[i] > 0x7e)
			return false;
	return true;
}

/* joined: dir, '/', name (and suffix) into out; -1 when too long. */
static int
joined(char *out, size_t len, const char *a, const char *b, const char *c)
{
	int	 n;

	n = snprintf(out, len, "%s%s%s", a, b, c);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* lock_passwd: takes the creation lock, waiting for it.  The fd, or -1
 * (logged). */
static int
lock_passwd(const struct conf *conf)
{
	struct flock	 fl;
	char		 path[PATH_MAX];
	int		 fd;

	if (joined(path, sizeof(path), conf->passwd_file, ".lock", "") ==
	    -1) {
		log_warnx("account: %s.lock: path too long", conf->passwd_file);
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("account: %s", path);
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_SETLKW, &fl) == -1) {
		if (errno != EINTR) {
			log_warn("account: lock %s", path);
			(void)close(fd);
			return -1;
		}
	}
	return fd;
}

/*
 * rate_scan: counts rip's entries of the last ACCOUNT_RATE_WINDOW
 * seconds in the rate file; with out, copies the entries of that window
 * (at most ACCOUNT_RATE_KEEP) to it.  Returns the count, or -1 (logged).
 */
static int
rate_scan(const char *path, const char *rip, time_t now, FILE *out)
{
	FILE		*in;
	char		 line[128], *ip, *end, *nl;
	long long	 when;
	int		 count = 0, kept = 0;

	if ((in = fopen(path, "re")) == NULL)
		return errno == ENOENT ? 0 : (log_warn("account: %s", path),
		    -1);
	while (fgets(line, sizeof(line), in) != NULL) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		when = strtoll(line, &end, 10);
		if (end == line || *end != ' ' || *(ip = end + 1) == '\0' ||
		    when > (long long)now ||
		    when <= (long long)now - ACCOUNT_RATE_WINDOW)
			continue;
		if (strcmp(ip, rip) == 0)
			count++;
		if (out != NULL && kept++ < ACCOUNT_RATE_KEEP)
			fprintf(out, "%lld %s\n", when, ip);
	}
	(void)fclose(in);
	return count;
}

/* rate_record: adds an entry for rip to the rate file, dropping old
 * ones.  0 or -1 (logged). */
static int
rate_record(const struct conf *conf, const char *rip, time_t now)
{
	char	 path[PATH_MAX], tmp[PATH_MAX];
	FILE	*out;
	int	 fd, rc = 0;

	if (joined(path, sizeof(path), conf->state_dir, "/",
	    ACCOUNT_RATE_FILE) == -1 ||
	    joined(tmp, sizeof(tmp), path, ".new", "") == -1)
		return -1;
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1 || (out = fdopen(fd, "w")) == NULL) {
		log_warn("account: %s", tmp);
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	if (rate_scan(path, rip, now, out) == -1)
		rc = -1;
	fprintf(out, "%lld %s\n", (long long)now, rip);
	if (fflush(out) != 0 || fsync(fileno(out)) == -1)
		rc = -1;
	if (fclose(out) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) == -1)
		rc = -1;
	if (rc == -1) {
		log_warn("account: %s", path);
		(void)unlink(tmp);
	}
	return rc;
}

/* copy_check: copies the passwd-file in to out (unless NULL), noting in *taken
 * whether a line names user in any case.  0, or -1 on a read error. */
static int
copy_check(FILE *in, FILE *out, const char *user, bool *taken)
{
	char	 buf[4096], *colon;
	size_t	 ulen = strlen(user);
	bool	 bol = true;

	*taken = false;
	while (fgets(buf, sizeof(buf), in) != NULL) {
		if (bol && (colon = strchr(buf, ':')) != NULL &&
		    (size_t)(colon - buf) == ulen &&
		    strncasecmp(buf, user, ulen) == 0)
			*taken = true;
		if (out != NULL)
			(void)fputs(buf, out);
		bol = strchr(buf, '\n') != NULL;
	}
	if (!bol && out != NULL)
		(void)fputc('\n', out);
	return ferror(in) ? -1 : 0;
}

/* name_taken: whether an account of the passwd-file has user's name in
 * any case.  1, 0, or -1 when it cannot be read (logged). */
static int
name_taken(const struct conf *conf, const char *user)
{
	FILE	*in;
	bool	 taken;
	int	 rc;

	if ((in = fopen(conf->passwd_file, "re")) == NULL) {
		log_warn("account: %s", conf->passwd_file);
		return -1;
	}
	rc = copy_check(in, NULL, user, &taken);
	(void)fclose(in);
	if (rc == -1) {
		log_warn("account: %s", conf->passwd_file);
		return -1;
	}
	return taken ? 1 : 0;
}

/* unmake_dirs: removes what make_dirs made, as far as it is empty. */
static void
unmake_dirs(const struct conf *conf, const char *user, const char *home)
{
	static const char *const subs[] = { "/new", "/cur", "/tmp", "" };
	char	 md[PATH_MAX], path[PATH_MAX];
	size_t	 i;

	if (auth_maildir_path(conf->maildir, user, home, md, sizeof(md)) ==
	    0)
		for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
			if (joined(path, sizeof(path), md, subs[i], "") == 0)
				(void)rmdir(path);
	(void)rmdir(home);
}

/* make_dirs: the new account's home and Maildir, owned by the identity
 * its sessions run as.  AUTH_OK; AUTH_FAILED when the home exists (left
 * by an account removed, or made by another: the name stays taken until
 * an admin acts); else AUTH_TEMPFAIL (*why_r set, logged). */
static enum auth_result
make_dirs(const struct conf *conf, const char *user, const char *home,
    const char **why_r)
{
	static const char *const subs[] = { "", "/new", "/cur", "/tmp" };
	struct auth_user u;
	char		 path[PATH_MAX];
	uid_t		 uid;
	gid_t		 gid;
	size_t		 i;

	memset(&u, 0, sizeof(u));
	(void)strlcpy(u.name, user, sizeof(u.name));
	u.uid = u.gid = -1;
	if (auth_maildir_path(conf->maildir, user, home, u.maildir,
	    sizeof(u.maildir)) == -1) {
		*why_r = "bad maildir path";
		return AUTH_TEMPFAIL;
	}
	if (privsep_identity(conf, &u, &uid, &gid) == -1) {
		*why_r = "no identity to run the account as";
		return AUTH_TEMPFAIL;
	}
	if (mkdir(home, 0700) == -1) {
		if (errno == EEXIST) {
			log_warnx("account: %s exists: user=<%s> not created",
			    home, user);
			*why_r = "home exists";
			return AUTH_FAILED;
		}
		log_warn("account: %s", home);
		*why_r = "cannot make home";
		return AUTH_TEMPFAIL;
	}
	if (geteuid() == 0 && chown(home, uid, gid) == -1) {
		log_warn("account: chown %s", home);
		*why_r = "cannot make home";
		unmake_dirs(conf, user, home);
		return AUTH_TEMPFAIL;
	}
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (joined(path, sizeof(path), u.maildir, subs[i], "") == -1 ||
		    (mkdir(path, 0700) == -1 && (errno != EEXIST || i > 0)) ||
		    (geteuid() == 0 && chown(path, uid, gid) == -1)) {
			log_warn("account: %s", path);
			*why_r = "cannot make the Maildir";
			unmake_dirs(conf, user, home);
			return AUTH_TEMPFAIL;
		}
	}
	return AUTH_OK;
}

/* add_line: writes the passwd-file anew with user's line at its end.
 * AUTH_OK, AUTH_FAILED (name taken) or AUTH_TEMPFAIL (logged). */
static enum auth_result
add_line(const struct conf *conf, const char *user, const char *password,
    const char *home, const char **why_r)
{
	struct stat	 st;
	char		 tmp[PATH_MAX], hash[512];
	FILE		*in = NULL, *out = NULL;
	enum auth_result r = AUTH_TEMPFAIL;
	bool		 taken;
	int		 fd = -1;

	*why_r = "cannot write the passwd-file";
	if (joined(tmp, sizeof(tmp), conf->passwd_file, ".new", "") == -1)
		return AUTH_TEMPFAIL;
	if ((in = fopen(conf->passwd_file, "re")) == NULL ||
	    fstat(fileno(in), &st) == -1) {
		log_warn("account: %s", conf->passwd_file);
		goto done;
	}
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    st.st_mode & 0777);
	if (fd == -1 || (out = fdopen(fd, "w")) == NULL) {
		log_warn("account: %s", tmp);
		goto done;
	}
	fd = -1;
	if (copy_check(in, out, user, &taken) == -1) {
		log_warn("account: %s", conf->passwd_file);
		goto done;
	}
	if (taken) {
		*why_r = "name taken";
		r = AUTH_FAILED;
		goto done;
	}
	if (password_hash(password, hash, sizeof(hash)) == -1) {
		log_warn("account: hashing a password");
		goto done;
	}
	fprintf(out, "%s:%s::::%s::\n", user, hash, home);
	explicit_bzero(hash, sizeof(hash));
	if (fflush(out) != 0 || fsync(fileno(out)) == -1 ||
	    (geteuid() == 0 && fchown(fileno(out), st.st_uid, st.st_gid) ==
	    -1) || fchmod(fileno(out), st.st_mode & 0777) == -1) {
		log_warn("account: %s", tmp);
		goto done;
	}
	if (fclose(out) != 0 || rename(tmp, conf->passwd_file) == -1) {
		out = NULL;
		log_warn("account: %s", conf->passwd_file);
		goto done;
	}
	out = NULL;
	r = AUTH_OK;
done:
	if (in != NULL)
		(void)fclose(in);
	if (out != NULL)
		(void)fclose(out);
	if (fd != -1)
		(void)close(fd);
	if (r != AUTH_OK)
		(void)unlink(tmp);
	return r;
}

/* Creates an account. */
enum auth_result
account_create(const struct conf *conf, const char *user,
    const char *password, const char *rip, struct auth_user *u,
    const char **why_r)
{
	char		 home[PATH_MAX], rate[PATH_MAX];
	enum auth_result r;
	time_t		 now = time(NULL);
	int		 lockfd, n;

	memset(u, 0, sizeof(u[0]));
	if (!conf->mrp_create) {
		*why_r = "account creation disabled";
		return AUTH_FAILED;
	}
	if (conf->passdb != PASSDB_PASSWD_FILE) {
		*why_r = "account creation needs passdb passwd-file";
		return AUTH_FAILED;
	}
	if (password == NULL || !account_name_valid(user) ||
	    !account_password_valid(password) || !auth_valid_user(user)) {
		*why_r = "invalid name or password for a new account";
		return AUTH_FAILED;
	}
	if (joined(home, sizeof(home), conf->mrp_create_home, "/", user) ==
	    -1 || joined(rate, sizeof(rate), conf->state_dir, "/",
	    ACCOUNT_RATE_FILE) == -1) {
		*why_r = "path too long";
		return AUTH_TEMPFAIL;
	}
	if ((lockfd = lock_passwd(conf)) == -1) {
		*why_r = "cannot lock the passwd-file";
		return AUTH_TEMPFAIL;
	}
	if ((n = rate_scan(rate, rip, now, NULL)) == -1) {
		*why_r = "rate file unreadable";
		r = AUTH_TEMPFAIL;
	} else if (n >= conf->mrp_create_rate) {
		*why_r = "account creation rate reached";
		r = AUTH_FAILED;
	} else if ((n = name_taken(conf, user)) != 0) {
		*why_r = n == 1 ? "name taken" : "passwd-file unreadable";
		r = n == 1 ? AUTH_FAILED : AUTH_TEMPFAIL;
	} else if ((r = make_dirs(conf, user, home, why_r)) == AUTH_OK) {
		if ((r = add_line(conf, user, password, home, why_r)) ==
		    AUTH_OK) {
			(void)rate_record(conf, rip, now);
			log_info("account: created user=<%s> rip=%s", user,
			    rip);
		} else
			unmake_dirs(conf, user, home);
	}
	(void)close(lockfd);
	if (r != AUTH_OK)
		return r;
	return auth_lookup(conf, user, u, why_r);
}
