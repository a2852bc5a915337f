/*
 * test_sasl.c: the PLAIN and LOGIN exchanges, with and without an
 * initial response, and each way they end early: cancel, bad base64,
 * a malformed message, proxy authorization.
 */
#include "tests/unit/unit.h"

#include <string.h>

#include "server/base64.h"
#include "server/sasl.h"

/* b64: base64 of len octets of s, in a static buffer. */
static const char *
b64(const char *s, size_t len)
{
	static char	 out[4096];

	assert_true(base64_encode(s, len, out, sizeof(out)) >= 0);
	return out;
}

static void
test_mechs(void **state)
{
	assert_int_equal(sasl_mech_find("PLAIN"), SASL_PLAIN);
	assert_int_equal(sasl_mech_find("plain"), SASL_PLAIN);
	assert_int_equal(sasl_mech_find("Login"), SASL_LOGIN);
	assert_int_equal(sasl_mech_find("CRAM-MD5"), -1);
	assert_int_equal(sasl_mech_find(""), -1);
	assert_string_equal(sasl_mech_name(0), "PLAIN");
	assert_string_equal(sasl_mech_name(1), "LOGIN");
	assert_null(sasl_mech_name(2));
	assert_null(sasl_mech_name(-1));
	assert_true(sasl_mech_plaintext(SASL_PLAIN));
	assert_true(sasl_mech_plaintext(SASL_LOGIN));
}

static void
test_plain_ir(void **state)
{
	struct sasl	 sa;

	assert_int_equal(sasl_start(&sa, SASL_PLAIN,
	    b64("\0alice\0secret pass", 18)), SASL_DONE);
	assert_string_equal(sa.authcid, "alice");
	assert_string_equal(sa.passwd, "secret pass");
	/* authzid equal to authcid is no proxy authorization. */
	assert_int_equal(sasl_start(&sa, SASL_PLAIN,
	    b64("alice\0alice\0pw", 14)), SASL_DONE);
	assert_string_equal(sa.authcid, "alice");
	assert_string_equal(sa.passwd, "pw");
	sasl_clear(&sa);
	assert_string_equal(sa.passwd, "");
}

static void
test_plain_no_ir(void **state)
{
	struct sasl	 sa;

	assert_int_equal(sasl_start(&sa, SASL_PLAIN, NULL), SASL_CONTINUE);
	assert_string_equal(sa.challenge, "");
	assert_int_equal(sasl_step(&sa, b64("\0bob\0builder", 12)),
	    SASL_DONE);
	assert_string_equal(sa.authcid, "bob");
	assert_string_equal(sa.passwd, "builder");
}

static void
test_plain_malformed(void **state)
{
	struct sasl	 sa;
	char		 big[2000];

	/* No NUL, one NUL, three NULs. */
	assert_int_equal(sasl_start(&sa, SASL_PLAIN, b64("alicepw", 7)),
	    SASL_MALFORMED);
	assert_int_equal(sasl_start(&sa, SASL_PLAIN, b64("alice\0pw", 8)),
	    SASL_MALFORMED);
	assert_int_equal(sasl_start(&sa, SASL_PLAIN,
	    b64("\0alice\0p\0w", 10)), SASL_MALFORMED);
	/* Empty authcid, empty password, "=" (an empty message). */
	assert_int_equal(sasl_start(&sa, SASL_PLAIN, b64("\0\0pw", 4)),
	    SASL_MALFORMED);
	assert_int_equal(sasl_start(&sa, SASL_PLAIN, b64("\0alice\0", 7)),
	    SASL_MALFORMED);
	assert_int_equal(sasl_start(&sa, SASL_PLAIN, "="), SASL_MALFORMED);
	/* A user name over USER_MAX, a message over the bound. */
	memset(big, 'a', sizeof(big));
	big[0] = '\0';
	big[300] = '\0';
	assert_int_equal(sasl_start(&sa, SASL_PLAIN, b64(big, 310)),
	    SASL_MALFORMED);
	big[300] = 'a';
	big[10] = '\0';
	assert_int_equal(sasl_start(&sa, SASL_PLAIN, b64(big, sizeof(big))),
	    SASL_MALFORMED);
	assert_string_equal(sa.authcid, "");
}

static void
test_plain_authzid(void **state)
{
	struct sasl	 sa;

	assert_int_equal(sasl_start(&sa, SASL_PLAIN,
	    b64("root\0alice\0pw", 13)), SASL_AUTHZID);
	/* The user name is kept for the log, the password is not. */
	assert_string_equal(sa.authcid, "alice");
	assert_string_equal(sa.passwd, "");
}

static void
test_bad_base64(void **state)
{
	struct sasl	 sa;

	assert_int_equal(sasl_start(&sa, SASL_PLAIN, "AGFsaWNl!"),
	    SASL_BAD_BASE64);
	assert_int_equal(sasl_start(&sa, SASL_PLAIN, "AGFsaWNlAHB3="),
	    SASL_BAD_BASE64);
	/* "*" cancels only a continuation, not an initial response. */
	assert_int_equal(sasl_start(&sa, SASL_PLAIN, "*"), SASL_BAD_BASE64);
	assert_int_equal(sasl_start(&sa, SASL_LOGIN, NULL), SASL_CONTINUE);
	assert_int_equal(sasl_step(&sa, "YWxpY2U"), SASL_BAD_BASE64);
	assert_int_equal(sasl_start(&sa, SASL_LOGIN, NULL), SASL_CONTINUE);
	assert_int_equal(sasl_step(&sa, "="), SASL_BAD_BASE64);
}

static void
test_login(void **state)
{
	struct sasl	 sa;

	assert_int_equal(sasl_start(&sa, SASL_LOGIN, NULL), SASL_CONTINUE);
	assert_string_equal(sa.challenge, "VXNlcm5hbWU6");
	assert_int_equal(sasl_step(&sa, b64("alice", 5)), SASL_CONTINUE);
	assert_string_equal(sa.challenge, "UGFzc3dvcmQ6");
	assert_int_equal(sasl_step(&sa, b64("secret pass", 11)), SASL_DONE);
	assert_string_equal(sa.authcid, "alice");
	assert_string_equal(sa.passwd, "secret pass");
	/* The initial response is the user name. */
	assert_int_equal(sasl_start(&sa, SASL_LOGIN, b64("bob", 3)),
	    SASL_CONTINUE);
	assert_string_equal(sa.challenge, "UGFzc3dvcmQ6");
	assert_int_equal(sasl_step(&sa, b64("builder", 7)), SASL_DONE);
	assert_string_equal(sa.authcid, "bob");
	assert_string_equal(sa.passwd, "builder");
}

static void
test_login_malformed(void **state)
{
	struct sasl	 sa;

	assert_int_equal(sasl_start(&sa, SASL_LOGIN, "="), SASL_MALFORMED);
	assert_int_equal(sasl_start(&sa, SASL_LOGIN, NULL), SASL_CONTINUE);
	assert_int_equal(sasl_step(&sa, b64("al\0ce", 5)), SASL_MALFORMED);
	assert_int_equal(sasl_start(&sa, SASL_LOGIN, NULL), SASL_CONTINUE);
	assert_int_equal(sasl_step(&sa, b64("alice", 5)), SASL_CONTINUE);
	assert_int_equal(sasl_step(&sa, ""), SASL_MALFORMED);
	assert_string_equal(sa.authcid, "");
}

static void
test_cancel(void **state)
{
	struct sasl	 sa;

	assert_int_equal(sasl_start(&sa, SASL_PLAIN, NULL), SASL_CONTINUE);
	assert_int_equal(sasl_step(&sa, "*"), SASL_CANCELLED);
	assert_int_equal(sasl_start(&sa, SASL_LOGIN, NULL), SASL_CONTINUE);
	assert_int_equal(sasl_step(&sa, b64("alice", 5)), SASL_CONTINUE);
	assert_int_equal(sasl_step(&sa, "*"), SASL_CANCELLED);
	assert_string_equal(sa.authcid, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mechs),
		cmocka_unit_test(test_plain_ir),
		cmocka_unit_test(test_plain_no_ir),
		cmocka_unit_test(test_plain_malformed),
		cmocka_unit_test(test_plain_authzid),
		cmocka_unit_test(test_bad_base64),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_login_malformed),
		cmocka_unit_test(test_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
