/*
 * test_auth_system.c: the "system" passdb without changing the system's
 * accounts: the uid floor and the Maildir template on made-up passwd
 * entries, lookups of accounts every system has (root, nobody), the PAM
 * conversation called directly, and, as root only, real PAM runs through
 * a throw-away service file /etc/pam.d/postern-test-PID (pam_permit,
 * pam_deny, pam_exec checking the password), removed afterwards.
 */
#include "tests/unit/unit.h"

#include <sys/stat.h>

#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/auth.h"
#include "server/auth_system.h"
#include "server/conf.h"
#include "server/log.h"

/* mkpw: a made-up passwd entry. */
static struct passwd
mkpw(const char *name, uid_t uid, const char *home)
{
	struct passwd	 pw;

	memset(&pw, 0, sizeof(pw));
	pw.pw_name = (char *)name;
	pw.pw_uid = uid;
	pw.pw_gid = uid + 1;
	pw.pw_dir = (char *)home;
	return pw;
}

static void
test_uid_floor(void **state)
{
	struct conf		 c;
	struct auth_user	 u;
	struct passwd		 pw;
	const char		*why;

	memset(&c, 0, sizeof(c));
	c.maildir = "%h/Maildir";
	c.first_valid_uid = 1000;
	pw = mkpw("alice", 1000, "/home/alice");
	assert_int_equal(auth_system_account(&c, &pw, &u, &why), AUTH_OK);
	assert_string_equal(u.name, "alice");
	assert_string_equal(u.maildir, "/home/alice/Maildir");
	assert_int_equal(u.uid, 1000);
	assert_int_equal(u.gid, 1001);
	pw = mkpw("daemon", 999, "/usr/sbin");
	assert_int_equal(auth_system_account(&c, &pw, &u, &why), AUTH_FAILED);
	assert_string_equal(why, "uid below first_valid_uid");
	assert_string_equal(u.name, "");
	pw = mkpw("root", 0, "/root");
	assert_int_equal(auth_system_account(&c, &pw, &u, &why), AUTH_FAILED);
	assert_string_equal(why, "uid 0 refused");
	/* uid 0 stays refused whatever the floor. */
	c.first_valid_uid = 0;
	assert_int_equal(auth_system_account(&c, &pw, &u, &why), AUTH_FAILED);
	c.first_valid_uid = 1;
	pw = mkpw("bin", 2, "/bin");
	assert_int_equal(auth_system_account(&c, &pw, &u, &why), AUTH_OK);
}

static void
test_template(void **state)
{
	struct conf		 c;
	struct auth_user	 u;
	struct passwd		 pw;
	const char		*why;

	memset(&c, 0, sizeof(c));
	c.first_valid_uid = 1000;
	c.maildir = "/var/mail/%u/Maildir";
	pw = mkpw("alice", 1001, "/home/alice");
	assert_int_equal(auth_system_account(&c, &pw, &u, &why), AUTH_OK);
	assert_string_equal(u.maildir, "/var/mail/alice/Maildir");
	c.maildir = "%h/.mail/%n";
	assert_int_equal(auth_system_account(&c, &pw, &u, &why), AUTH_OK);
	assert_string_equal(u.maildir, "/home/alice/.mail/alice");
	/* A home that leaves no absolute path: a server-side failure. */
	c.maildir = "%h/Maildir";
	pw = mkpw("alice", 1001, "");
	assert_int_equal(auth_system_account(&c, &pw, &u, &why),
	    AUTH_TEMPFAIL);
	assert_string_equal(why, "bad maildir path");
	pw = mkpw("alice", 1001, "relative");
	assert_int_equal(auth_system_account(&c, &pw, &u, &why),
	    AUTH_TEMPFAIL);
	pw = mkpw("alice", 1001, "/home/../etc");
	assert_int_equal(auth_system_account(&c, &pw, &u, &why),
	    AUTH_TEMPFAIL);
}

/* Reads the system's database only: root exists everywhere, "nobody"
 * nearly so, and the long name below nowhere. */
static void
test_lookup(void **state)
{
	struct conf		 c;
	struct auth_user	 u;
	const char		*why;
	struct passwd		*pw;
	uid_t			 nobody;

	memset(&c, 0, sizeof(c));
	c.passdb = PASSDB_SYSTEM;
	c.maildir = "%h/Maildir";
	c.first_valid_uid = 1000;
	assert_int_equal(auth_lookup(&c, "root", &u, &why), AUTH_FAILED);
	assert_string_equal(why, "uid 0 refused");
	assert_int_equal(auth_lookup(&c, "postern-no-such-user-x9", &u, &why),
	    AUTH_FAILED);
	assert_string_equal(why, "unknown user");
	assert_int_equal(auth_system_check(&c, "postern-no-such-user-x9",
	    "pw", NULL, &u, &why), AUTH_FAILED);
	assert_string_equal(why, "unknown user");
	assert_int_equal(auth_system_check(&c, "../etc", "pw", NULL, &u,
	    &why), AUTH_FAILED);
	assert_string_equal(why, "invalid user name");
	if ((pw = getpwnam("nobody")) == NULL || pw->pw_uid < 1000) {
		{ skip(); return; }
	}
	nobody = pw->pw_uid;
	assert_int_equal(auth_lookup(&c, "nobody", &u, &why), AUTH_OK);
	assert_int_equal(u.uid, nobody);
	c.first_valid_uid = (long)nobody + 1;
	assert_int_equal(auth_lookup(&c, "nobody", &u, &why), AUTH_FAILED);
	assert_string_equal(why, "uid below first_valid_uid");
}

#ifdef HAVE_PAM
static void
test_pam_conv(void **state)
{
	struct auth_pam_data	 d = { "alice", "secret pass" };
	struct pam_message	 m[4];
	const struct pam_message *mp[4] = { &m[0], &m[1], &m[2], &m[3] };
	struct pam_response	*r = NULL;

	memset(m, 0, sizeof(m));
	m[0].msg_style = PAM_TEXT_INFO;
	m[0].msg = "Welcome";
	m[1].msg_style = PAM_PROMPT_ECHO_ON;
	m[1].msg = "login: ";
	m[2].msg_style = PAM_PROMPT_ECHO_OFF;
	m[2].msg = "Password: ";
	m[3].msg_style = PAM_ERROR_MSG;
	m[3].msg = "careful";
	assert_int_equal(auth_system_conv(4, mp, &r, &d), PAM_SUCCESS);
	assert_non_null(r);
	assert_null(r[0].resp);
	assert_string_equal(r[1].resp, "alice");
	assert_string_equal(r[2].resp, "secret pass");
	assert_null(r[3].resp);
	free(r[1].resp);
	free(r[2].resp);
	free(r);
	/* An unknown style, no message, too many: nothing comes back. */
	m[1].msg_style = 77;
	r = (struct pam_response *)&d;
	assert_int_equal(auth_system_conv(3, mp, &r, &d), PAM_CONV_ERR);
	assert_null(r);
	assert_int_equal(auth_system_conv(0, mp, &r, &d), PAM_CONV_ERR);
	assert_int_equal(auth_system_conv(10000, mp, &r, &d), PAM_CONV_ERR);
}

struct pamfix {
	char	 service[64];
	char	 path[PATH_MAX];
	char	 dir[PATH_MAX];
	char	 script[PATH_MAX];
};

/* pam_service: (re)writes the test service file with body. */
static void
pam_service(struct pamfix *p, const char *body)
{
	FILE	*fp;

	assert_non_null(fp = fopen(p->path, "w"));
	fputs(body, fp);
	assert_int_equal(fclose(fp), 0);
}

/* pam_exec_service: a service whose auth succeeds when the script
 * likes the password (pam_exec fails with a system error otherwise,
 * hence pam_deny after it, as Debian's common-auth does). */
static void
pam_exec_service(struct pamfix *p, char *body, size_t len)
{
	assert_true((size_t)snprintf(body, len, "auth [success=1 "
	    "default=ignore] pam_exec.so quiet expose_authtok %s\n"
	    "auth requisite pam_deny.so\nauth required pam_permit.so\n"
	    "account required pam_permit.so\n", p->script) < len);
	pam_service(p, body);
}

static int
pam_setup(void **state)
{
	struct pamfix	*p;
	FILE		*fp;

	if (geteuid() != 0 || access("/etc/pam.d", W_OK) != 0) {
		*state = NULL;
		return 0;
	}
	assert_non_null(p = calloc(1, sizeof(*p)));
	snprintf(p->service, sizeof(p->service), "postern-test-%ld",
	    (long)getpid());
	snprintf(p->path, sizeof(p->path), "/etc/pam.d/%s", p->service);
	strlcpy(p->dir, "/tmp/test_auth_system.XXXXXX", sizeof(p->dir));
	assert_non_null(mkdtemp(p->dir));
	/* pam_exec hands the password (and a NUL) to this on its stdin. */
	assert_true((size_t)snprintf(p->script, sizeof(p->script), "%s/check",
	    p->dir) < sizeof(p->script));
	assert_non_null(fp = fopen(p->script, "w"));
	fputs("#!/bin/sh\npw=$(tr -d '\\000')\n[ \"$pw\" = \"sesame 1\" ]\n",
	    fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(p->script, 0700), 0);
	*state = p;
	return 0;
}

static int
pam_teardown(void **state)
{
	struct pamfix	*p = *state;

	if (p == NULL)
		return 0;
	unlink(p->path);
	unlink(p->script);
	rmdir(p->dir);
	free(p);
	return 0;
}

static void
test_pam_service(void **state)
{
	struct pamfix	*p = *state;
	const char	*why;
	char		 body[PATH_MAX + 256];

	if (p == NULL) {
		skip();		/* needs root to write /etc/pam.d */
		return;
	}
	pam_service(p, "auth required pam_permit.so\n"
	    "account required pam_permit.so\n");
	assert_int_equal(auth_system_pam(p->service, "alice", "x", "192.0.2.7",
	    &why), 1);
	pam_service(p, "auth required pam_deny.so\n"
	    "account required pam_permit.so\n");
	assert_int_equal(auth_system_pam(p->service, "alice", "x", NULL,
	    &why), 0);
	assert_string_equal(why, "wrong password");
	pam_service(p, "auth required pam_permit.so\n"
	    "account required pam_deny.so\n");
	assert_int_equal(auth_system_pam(p->service, "alice", "x", NULL,
	    &why), 0);
	/* The password reaches PAM through the conversation. */
	pam_exec_service(p, body, sizeof(body));
	pam_service(p, body);
	assert_int_equal(auth_system_pam(p->service, "alice", "sesame 1",
	    NULL, &why), 1);
	assert_int_equal(auth_system_pam(p->service, "alice", "sesame 2",
	    NULL, &why), 0);
}

static void
test_pam_check(void **state)
{
	struct pamfix		*p = *state;
	struct conf		 c;
	struct auth_user	 u;
	struct passwd		*pw;
	const char		*why;
	char			 body[PATH_MAX + 256];
	uid_t			 nobody;

	if (p == NULL || (pw = getpwnam("nobody")) == NULL ||
	    pw->pw_uid < 1000) {
		{ skip(); return; }
	}
	nobody = pw->pw_uid;
	pam_exec_service(p, body, sizeof(body));
	pam_service(p, body);
	memset(&c, 0, sizeof(c));
	c.passdb = PASSDB_SYSTEM;
	c.pam_service = p->service;
	c.maildir = "/var/mail/%u";
	c.first_valid_uid = 1000;
	assert_int_equal(auth_system_check(&c, "nobody", "sesame 1", NULL,
	    &u, &why), AUTH_OK);
	assert_string_equal(u.maildir, "/var/mail/nobody");
	assert_int_equal(u.uid, nobody);
	assert_int_equal(auth_system_check(&c, "nobody", "sesame", NULL,
	    &u, &why), AUTH_FAILED);
	assert_string_equal(why, "wrong password");
	/* The floor is said only after a right password. */
	c.first_valid_uid = (long)nobody + 1;
	assert_int_equal(auth_system_check(&c, "nobody", "sesame 1", NULL,
	    &u, &why), AUTH_FAILED);
	assert_string_equal(why, "uid below first_valid_uid");
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uid_floor),
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_lookup),
#ifdef HAVE_PAM
		cmocka_unit_test(test_pam_conv),
		cmocka_unit_test_setup_teardown(test_pam_service, pam_setup,
		    pam_teardown),
		cmocka_unit_test_setup_teardown(test_pam_check, pam_setup,
		    pam_teardown),
#endif
	};

	log_init("test_auth_system", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
