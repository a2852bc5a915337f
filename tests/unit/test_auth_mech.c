/*
 * test_auth_mech.c: auth_request() for APOP (the digest against
 * apop_secrets) and RPOP (the trust file, the reserved port), each with
 * the owner and mode checks of their files, against a temporary
 * passwd-file.
 */
#include "tests/unit/unit.h"

#include <sys/stat.h>

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "server/auth.h"
#include "server/conf.h"
#include "server/log.h"

#define STAMP	"<1896.697170952@dbc.mtview.ca.us>"

struct fixture {
	char		 dir[PATH_MAX];
	char		 passwd[PATH_MAX];
	char		 apop[PATH_MAX];
	char		 rpop[PATH_MAX];
	struct conf	 conf;
};

/* put: writes text to dir/name with mode; the path into out. */
static void
put(struct fixture *f, const char *name, const char *text, mode_t mode,
    char *out)
{
	FILE	*fp;

	assert_true((size_t)snprintf(out, PATH_MAX, "%s/%s", f->dir, name) <
	    PATH_MAX);
	assert_non_null(fp = fopen(out, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(out, mode), 0);
}

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strlcpy(f->dir, "/tmp/test_auth_mech.XXXXXX", sizeof(f->dir));
	assert_non_null(mkdtemp(f->dir));
	put(f, "passwd", "alice:{PLAIN}apw:1001:1001::/home/alice\n"
	    "mrose:{PLAIN}mpw:1002:1002::/home/mrose\n"
	    "toor:{PLAIN}rpw:0:0::/root\n", 0600, f->passwd);
	/* RFC 1939's example secret, a secret with a colon, CRLF, a
	 * comment, a malformed line, a user the passwd-file lacks. */
	put(f, "apop", "# APOP secrets\n"
	    "mrose:tanstaaf\n"
	    "alice:a:b c\r\n"
	    "malformed line\n"
	    "   # indented comment\n"
	    "\n"
	    "ghost:boo\n"
	    "toor:root secret\n", 0600, f->apop);
	put(f, "rpop", "# client-host remote-user local-user\n"
	    "192.0.2.7 mrose alice\n"
	    "not-an-address mrose alice\n"
	    "192.0.2.8 too many words here\n"
	    "2001:db8::7\tbob\tmrose\n", 0644, f->rpop);
	f->conf.passwd_file = f->passwd;
	f->conf.maildir = "%h/Maildir";
	f->conf.apop_secrets = f->apop;
	f->conf.rpop_trust_file = f->rpop;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	char		 rm[PATH_MAX + 16];

	snprintf(rm, sizeof(rm), "rm -rf %s", f->dir);
	assert_int_equal(system(rm), 0);
	free(f);
	return 0;
}

/* digest: MD5(stamp secret) in lower case hex. */
static const char *
digest(const char *stamp, const char *secret)
{
	static char	 out[33];
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 n, i;
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_md5(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, stamp, strlen(stamp)), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, secret, strlen(secret)), 1);
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &n), 1);
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return out;
}

/* apop: auth_request for APOP; *why_r gets the reason. */
static enum auth_result
apop(struct fixture *f, const char *user, const char *dig, const char *stamp,
    struct auth_user *u, const char **why_r)
{
	struct auth_request	 req;

	memset(&req, 0, sizeof(req));
	req.mech = AUTH_MECH_APOP;
	req.user = user;
	req.secret = dig;
	req.challenge = stamp;
	return auth_request(&f->conf, &req, u, why_r);
}

static void
test_apop_ok(void **state)
{
	struct fixture		*f = *state;
	struct auth_user	 u;
	const char		*why;
	char			 up[33];
	size_t			 i;

	/* RFC 1939 section 7's own example. */
	assert_string_equal(digest(STAMP, "tanstaaf"),
	    "c4c9334bac560ecc979e58001b3e22fb");
	assert_int_equal(apop(f, "mrose", "c4c9334bac560ecc979e58001b3e22fb",
	    STAMP, &u, &why), AUTH_OK);
	assert_string_equal(u.name, "mrose");
	assert_string_equal(u.maildir, "/home/mrose/Maildir");
	assert_int_equal(u.uid, 1002);
	/* Upper case hex; the secret is the rest of the line, CR dropped. */
	strlcpy(up, digest(STAMP, "a:b c"), sizeof(up));
	for (i = 0; up[i] != '\0'; i++)
		up[i] = (char)toupper((unsigned char)up[i]);
	assert_int_equal(apop(f, "alice", up, STAMP, &u, &why), AUTH_OK);
	assert_string_equal(u.maildir, "/home/alice/Maildir");
}

static void
test_apop_refused(void **state)
{
	struct fixture		*f = *state;
	struct auth_user	 u;
	const char		*why;
	char			 d[40];

	/* Another challenge, another secret. */
	assert_int_equal(apop(f, "mrose", digest("<1.2@x>", "tanstaaf"),
	    STAMP, &u, &why), AUTH_FAILED);
	assert_string_equal(why, "wrong APOP digest");
	assert_string_equal(u.name, "");
	assert_int_equal(apop(f, "mrose", digest(STAMP, "tanstaa"), STAMP,
	    &u, &why), AUTH_FAILED);
	assert_string_equal(why, "wrong APOP digest");
	/* The passwd-file's password is not an APOP secret. */
	assert_int_equal(apop(f, "mrose", digest(STAMP, "mpw"), STAMP, &u,
	    &why), AUTH_FAILED);
	/* No line for the user; a line but no account; uid 0. */
	assert_int_equal(apop(f, "bob", digest(STAMP, ""), STAMP, &u, &why),
	    AUTH_FAILED);
	assert_string_equal(why, "no APOP secret");
	assert_int_equal(apop(f, "ghost", digest(STAMP, "boo"), STAMP, &u,
	    &why), AUTH_FAILED);
	assert_string_equal(why, "unknown user");
	assert_int_equal(apop(f, "toor", digest(STAMP, "root secret"), STAMP,
	    &u, &why), AUTH_FAILED);
	assert_string_equal(why, "uid 0 refused");
	/* Malformed digests: short, long, not hex, empty. */
	strlcpy(d, digest(STAMP, "tanstaaf"), sizeof(d));
	d[31] = '\0';
	assert_int_equal(apop(f, "mrose", d, STAMP, &u, &why), AUTH_FAILED);
	assert_string_equal(why, "malformed APOP digest");
	strlcpy(d, digest(STAMP, "tanstaaf"), sizeof(d));
	strlcat(d, "0", sizeof(d));
	assert_int_equal(apop(f, "mrose", d, STAMP, &u, &why), AUTH_FAILED);
	assert_string_equal(why, "malformed APOP digest");
	d[0] = 'g';
	d[32] = '\0';
	assert_int_equal(apop(f, "mrose", d, STAMP, &u, &why), AUTH_FAILED);
	assert_int_equal(apop(f, "mrose", "", STAMP, &u, &why), AUTH_FAILED);
	/* No challenge: APOP was not offered. */
	assert_int_equal(apop(f, "mrose", digest("", "tanstaaf"), "", &u,
	    &why), AUTH_FAILED);
	assert_string_equal(why, "APOP without a challenge");
	f->conf.apop_secrets = "";
	assert_int_equal(apop(f, "mrose", digest(STAMP, "tanstaaf"), STAMP,
	    &u, &why), AUTH_FAILED);
	assert_string_equal(why, "APOP not configured");
	f->conf.apop_secrets = NULL;
	assert_int_equal(apop(f, "mrose", digest(STAMP, "tanstaaf"), STAMP,
	    &u, &why), AUTH_FAILED);
}

static void
test_apop_file_checks(void **state)
{
	struct fixture		*f = *state;
	struct auth_user	 u;
	const char		*why, *ok = "c4c9334bac560ecc979e58001b3e22fb";
	char			 link[PATH_MAX], big[8192];
	static const char	 nul[] = "mrose:tan\0staaf\nmrose:tanstaaf\n";
	FILE			*fp;
	const mode_t		 unsafe[] = { 0640, 0604, 0644, 0660, 0602 };
	size_t			 i;

	/* 0400 is as good as 0600. */
	assert_int_equal(chmod(f->apop, 0400), 0);
	assert_int_equal(apop(f, "mrose", ok, STAMP, &u, &why), AUTH_OK);
	for (i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
		assert_int_equal(chmod(f->apop, unsafe[i]), 0);
		assert_int_equal(apop(f, "mrose", ok, STAMP, &u, &why),
		    AUTH_TEMPFAIL);
		assert_string_equal(why, "apop_secrets unusable");
	}
	assert_int_equal(chmod(f->apop, 0600), 0);
	/* Not through a symbolic link; not a missing file. */
	assert_true((size_t)snprintf(link, sizeof(link), "%s/link", f->dir) <
	    sizeof(link));
	assert_int_equal(symlink(f->apop, link), 0);
	f->conf.apop_secrets = link;
	assert_int_equal(apop(f, "mrose", ok, STAMP, &u, &why),
	    AUTH_TEMPFAIL);
	f->conf.apop_secrets = "/nonexistent/apop";
	assert_int_equal(apop(f, "mrose", ok, STAMP, &u, &why),
	    AUTH_TEMPFAIL);
	/* An over-long line is skipped, the next one read. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "mrose:", 6);
	big[sizeof(big) - 18] = '\n';
	memcpy(big + sizeof(big) - 17, "mrose:tanstaaf\n", 16);
	put(f, "apop2", big, 0600, link);
	f->conf.apop_secrets = link;
	assert_int_equal(apop(f, "mrose", ok, STAMP, &u, &why), AUTH_OK);
	/* A line holding a NUL is skipped whole, not cut at the NUL. */
	assert_non_null(fp = fopen(link, "w"));
	assert_int_equal(fwrite(nul, 1, sizeof(nul) - 1, fp), sizeof(nul) - 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(apop(f, "mrose", ok, STAMP, &u, &why), AUTH_OK);
	/* A FIFO is no secrets file (read, it would seem empty). */
	assert_int_equal(unlink(link), 0);
	assert_int_equal(mkfifo(link, 0600), 0);
	assert_int_equal(apop(f, "mrose", ok, STAMP, &u, &why),
	    AUTH_TEMPFAIL);
	assert_string_equal(why, "apop_secrets unusable");
	/* Nor is a file of another user, root's aside (as root only). */
	f->conf.apop_secrets = f->apop;
	if (geteuid() == 0) {
		assert_int_equal(chown(f->apop, 65534, 65534), 0);
		assert_int_equal(apop(f, "mrose", ok, STAMP, &u, &why),
		    AUTH_TEMPFAIL);
		assert_string_equal(why, "apop_secrets unusable");
		assert_int_equal(chown(f->apop, 0, 0), 0);
		assert_int_equal(apop(f, "mrose", ok, STAMP, &u, &why),
		    AUTH_OK);
	}
}

/* rpop: auth_request for RPOP from rhost:rport. */
static enum auth_result
rpop(struct fixture *f, const char *luser, const char *ruser,
    const char *rhost, int rport, const char **why_r)
{
	struct auth_request	 req;
	struct auth_user	 u;

	memset(&req, 0, sizeof(req));
	req.mech = AUTH_MECH_RPOP;
	req.user = luser;
	req.secret = ruser;
	req.rhost = rhost;
	req.rport = rport;
	return auth_request(&f->conf, &req, &u, why_r);
}

static void
test_rpop_trust(void **state)
{
	struct fixture	*f = *state;
	const char	*why;

	assert_int_equal(rpop(f, "alice", "mrose", "192.0.2.7", 1023, &why),
	    AUTH_OK);
	assert_int_equal(rpop(f, "alice", "mrose", "192.0.2.7", 1, &why),
	    AUTH_OK);
	/* The same address written as IPv4-mapped IPv6. */
	assert_int_equal(rpop(f, "alice", "mrose", "::ffff:192.0.2.7", 513,
	    &why), AUTH_OK);
	/* IPv6, written another way than in the file (tabs there). */
	assert_int_equal(rpop(f, "mrose", "bob", "2001:0db8:0::0:7", 1000,
	    &why), AUTH_OK);
	/* USER gives the local name, RPOP the remote one: not swapped. */
	assert_int_equal(rpop(f, "mrose", "alice", "192.0.2.7", 1023, &why),
	    AUTH_FAILED);
	assert_string_equal(why, "RPOP pair not trusted");
	assert_int_equal(rpop(f, "alice", "root", "192.0.2.7", 1023, &why),
	    AUTH_FAILED);
	assert_int_equal(rpop(f, "alice", "mrose", "192.0.2.9", 1023, &why),
	    AUTH_FAILED);
	assert_string_equal(why, "RPOP pair not trusted");
	/* The malformed line "192.0.2.8 too many words here" is no pair. */
	assert_int_equal(rpop(f, "many", "too", "192.0.2.8", 1023, &why),
	    AUTH_FAILED);
	/* A trusted pair whose local account is missing. */
	put(f, "rpop", "192.0.2.7 mrose nobody-here\n", 0600, f->rpop);
	assert_int_equal(rpop(f, "nobody-here", "mrose", "192.0.2.7", 1023,
	    &why), AUTH_FAILED);
	assert_string_equal(why, "unknown user");
}

static void
test_rpop_refused(void **state)
{
	struct fixture	*f = *state;
	const char	*why;

	/* Unreserved ports, and none at all. */
	assert_int_equal(rpop(f, "alice", "mrose", "192.0.2.7", 1024, &why),
	    AUTH_FAILED);
	assert_string_equal(why, "RPOP from an unreserved port");
	assert_int_equal(rpop(f, "alice", "mrose", "192.0.2.7", 40000, &why),
	    AUTH_FAILED);
	assert_int_equal(rpop(f, "alice", "mrose", "192.0.2.7", 0, &why),
	    AUTH_FAILED);
	assert_int_equal(rpop(f, "alice", "mrose", NULL, 1023, &why),
	    AUTH_FAILED);
	assert_string_equal(why, "RPOP from an unknown address");
	assert_int_equal(rpop(f, "alice", "mrose", "localhost", 1023, &why),
	    AUTH_FAILED);
	assert_int_equal(rpop(f, "alice", "mr ose", "192.0.2.7", 1023, &why),
	    AUTH_FAILED);
	assert_string_equal(why, "invalid RPOP remote user");
	/* A file others may write is not trusted. */
	assert_int_equal(chmod(f->rpop, 0664), 0);
	assert_int_equal(rpop(f, "alice", "mrose", "192.0.2.7", 1023, &why),
	    AUTH_TEMPFAIL);
	assert_string_equal(why, "rpop_trust_file unusable");
	assert_int_equal(chmod(f->rpop, 0646), 0);
	assert_int_equal(rpop(f, "alice", "mrose", "192.0.2.7", 1023, &why),
	    AUTH_TEMPFAIL);
	/* Disabled. */
	f->conf.rpop_trust_file = "";
	assert_int_equal(rpop(f, "alice", "mrose", "192.0.2.7", 1023, &why),
	    AUTH_FAILED);
	assert_string_equal(why, "RPOP disabled");
}

static void
test_other_mechs(void **state)
{
	struct fixture		*f = *state;
	struct auth_request	 req;
	struct auth_user	 u;
	const char		*why;

	memset(&req, 0, sizeof(req));
	req.mech = AUTH_MECH_PASSWORD;
	req.user = "alice";
	req.secret = "apw";
	assert_int_equal(auth_request(&f->conf, &req, &u, &why), AUTH_OK);
	req.secret = NULL;
	assert_int_equal(auth_request(&f->conf, &req, &u, &why),
	    AUTH_FAILED);
	req.mech = (enum auth_mech)42;
	req.secret = "apw";
	assert_int_equal(auth_request(&f->conf, &req, &u, &why),
	    AUTH_FAILED);
	assert_string_equal(why, "mechanism not available");
	/* auth_lookup: the account without a password. */
	assert_int_equal(auth_lookup(&f->conf, "alice", &u, &why), AUTH_OK);
	assert_string_equal(u.maildir, "/home/alice/Maildir");
	assert_int_equal(auth_lookup(&f->conf, "toor", &u, &why),
	    AUTH_FAILED);
	assert_int_equal(auth_lookup(&f->conf, "../x", &u, &why),
	    AUTH_FAILED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apop_ok, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_apop_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_apop_file_checks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rpop_trust, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rpop_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_other_mechs, setup,
		    teardown),
	};

	log_init("test_auth_mech", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
