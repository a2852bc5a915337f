/*
 * test_uidl.c: pop3_uidl_format: the escapes of Dovecot's setting (%f %u
 * %v %g %%, zero padding, width, X), the formats refused at load, and
 * unique-ids that stay 1 to 70 characters 0x21-0x7e whatever the input.
 */
#include "tests/unit/unit.h"

#include <stdio.h>
#include <string.h>

#include "protocols/uidl.h"
#include "server/limits.h"
#include "storage/maildir.h"

/* A message named cur/BASE:2,S with the given UID and global ID. */
static struct mail *
msg(const char *base, uint32_t uid, uint32_t gid)
{
	static struct mail	 m;
	static char		 name[512];

	(void)snprintf(name, sizeof(name), "cur/%s:2,S", base);
	memset(&m, 0, sizeof(m));
	m.name = name;
	m.baselen = strlen(base);
	m.uid = uid;
	m.gid = gid;
	return &m;
}

/* The unique-id of m as fmt makes it (checked first). */
static const char *
fmt(const char *f, const struct mail *m, uint32_t uidv)
{
	static char	 out[UIDL_MAX + 1];
	const char	*err = NULL;

	assert_true(uidl_check(f, &err) >= 0);
	assert_null(err);
	uidl_format(f, m, uidv, out, sizeof(out));
	return out;
}

/* The escapes. */
static void
test_escapes(void **state)
{
	struct mail	*m = msg("1700000000.M1P2.host,S=10,W=11", 1, 255);

	assert_string_equal(fmt("%f", m, 7), "1700000000.M1P2.host,S=10,W=11");
	assert_string_equal(fmt("%u", m, 7), "1");
	assert_string_equal(fmt("%v.%u", m, 1234567890), "1234567890.1");
	assert_string_equal(fmt("%v-%u", m, 9), "9-1");
	assert_string_equal(fmt("%g", m, 9), "255");
	assert_string_equal(fmt("%Xg", m, 9), "ff");
	assert_string_equal(fmt("%08Xu%08Xv", m, 0x4f9b6d1e),
	    "000000014f9b6d1e");
	assert_string_equal(fmt("%08Xv%08Xu", m, 0x4f9b6d1e),
	    "4f9b6d1e00000001");
	assert_string_equal(fmt("%05u", m, 0), "00001");
	assert_string_equal(fmt("%010g", m, 0), "0000000255");
	assert_string_equal(fmt("%%%u%%", m, 0), "%1%");
	assert_string_equal(fmt("%4f", m, 0), "1700");		/* cut */
	assert_string_equal(fmt("id-%u-%g", m, 0), "id-1-255");
	/* (msg() reuses its message) */
	assert_string_equal(fmt("%2u", msg("x", 12345, 0), 0), "12");
	/* the padding is a minimum: nothing is cut */
	assert_string_equal(fmt("%02u", msg("x", 12345, 0), 0), "12345");
}

/* Formats refused when the configuration is read. */
static void
test_check(void **state)
{
	static const char *const bad[] = {
		"", "%", "%q", "%M", "abc", "%%", "%0u", "%Xf", "%0f", "%X",
		"%071u", "%5%", "a b%u", "%u\t", "%u\x7f", "%L%u", "%08xu",
		"%v", "%08Xv-",
	};
	const char	*err;
	size_t		 i;
	char		 longfmt[UIDL_FORMAT_MAX + 8];

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(uidl_check(bad[i], &err), -1);
		assert_non_null(err);
	}
	assert_int_equal(uidl_check("%f", &err), 0);
	assert_int_equal(uidl_check("%08Xu%08Xv", &err), UIDL_NEEDS_UIDS);
	assert_int_equal(uidl_check("%g", &err), UIDL_NEEDS_GIDS);
	assert_int_equal(uidl_check("x%v%f", &err), UIDL_NEEDS_UIDS);
	assert_int_equal(uidl_check("%u-%g", &err), UIDL_NEEDS_UIDS |
	    UIDL_NEEDS_GIDS);
	memset(longfmt, 'a', sizeof(longfmt));
	memcpy(longfmt, "%f", 2);
	longfmt[UIDL_FORMAT_MAX + 1] = '\0';
	assert_int_equal(uidl_check(longfmt, &err), -1);
	longfmt[UIDL_FORMAT_MAX] = '\0';
	assert_int_equal(uidl_check(longfmt, &err), 0);
}

/* Results that break RFC 1939 become 'h' and 32 hex digits. */
static void
test_digest(void **state)
{
	char		 base[200];
	const char	*u;
	char		 first[UIDL_MAX + 1];
	size_t		 i;

	/* a base name with a space, and one of 71 characters */
	u = fmt("%f", msg("1.with space", 1, 1), 0);
	assert_int_equal(strlen(u), 33);
	assert_int_equal(u[0], 'h');
	assert_int_equal(strspn(u + 1, "0123456789abcdef"), 32);
	memset(base, 'x', 71);
	base[71] = '\0';
	u = fmt("%f", msg(base, 1, 1), 0);
	assert_int_equal(strlen(u), 33);
	base[70] = '\0';
	assert_string_equal(fmt("%f", msg(base, 1, 1), 0), base);
	/* the digest is of the result: stable, and differs by message */
	(void)snprintf(first, sizeof(first), "%s", fmt("%f%f", msg(base, 1,
	    1), 0));
	assert_int_equal(first[0], 'h');
	assert_string_equal(fmt("%f%f", msg(base, 1, 1), 0), first);
	base[0] = 'y';
	u = fmt("%f%f", msg(base, 1, 1), 0);
	assert_true(strcmp(u, first) != 0);
	/* and every character is 0x21 to 0x7e */
	for (i = 0; u[i] != '\0'; i++)
		assert_true(u[i] >= 0x21 && u[i] <= 0x7e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_digest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
