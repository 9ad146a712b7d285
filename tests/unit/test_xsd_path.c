/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: xenstored paths, permission strings and numbers.  Path
 * syntax (no "//", no trailing '/', the character set, "@" names), the
 * canonical form of relative paths, every length limit at its boundary
 * (absolute 3072, relative 2048, 2048 below a domain home for domains,
 * measured after expansion: XSA-323), "/local/domain/" (XSA-481), the
 * perm-string parser and printer, the access check, and the strict
 * decimal parser every request argument goes through.
 */

#include <errno.h>
#include <limits.h>

#include "test_xsd.h"

static struct xt_env env;
static struct xsd_conn *dom5;

static int
setup(void **state)
{
	xt_env_init(&env, NULL);
	dom5 = xt_dom(&env, 5);
	return (0);
}

static int
teardown(void **state)
{
	xt_env_fini(&env);
	return (0);
}

/* Canonicalise in for c: the length, or -EINVAL. */
static int
canon(const struct xsd_conn *c, const char *in, char *out)
{
	return (xsd_path_canon(c, in, out));
}

/* A path of n bytes: prefix, then "a/" repeated, ending in 'a'. */
static char *
mkpath(const char *prefix, size_t n)
{
	size_t plen = strlen(prefix), i;
	char *p = malloc(n + 1);

	assert_non_null(p);
	assert_true(n > plen);
	memcpy(p, prefix, plen);
	for (i = plen; i < n; i++)
		p[i] = ((i - plen) % 2 == 0) ? 'a' : '/';
	p[n - 1] = 'b';
	p[n] = '\0';
	return (p);
}

/* catalogue: X9 */
static void
test_syntax(void **state)
{
	char out[XENSTORE_ABS_PATH_MAX + 1];

	assert_int_equal(canon(env.priv, "/", out), 1);
	assert_int_equal(canon(env.priv, "/a", out), 2);
	assert_int_equal(canon(env.priv, "/A-z_0/9@x", out), 10);
	assert_int_equal(canon(env.priv, "", out), -EINVAL);
	assert_int_equal(canon(env.priv, "//", out), -EINVAL);
	assert_int_equal(canon(env.priv, "/a//b", out), -EINVAL);
	assert_int_equal(canon(env.priv, "/a/", out), -EINVAL);
	assert_int_equal(canon(env.priv, "/a/./b", out), -EINVAL);
	assert_int_equal(canon(env.priv, "/a/../b", out), -EINVAL);
	assert_int_equal(canon(env.priv, "/a b", out), -EINVAL);
	assert_int_equal(canon(env.priv, "/a*", out), -EINVAL);
	assert_int_equal(canon(env.priv, "/a\n", out), -EINVAL);
	assert_int_equal(canon(env.priv, "/\xc3\xa9", out), -EINVAL);
	/* XSA-481: an empty domid component is a trailing or double '/'. */
	assert_int_equal(canon(env.priv, "/local/domain/", out), -EINVAL);
	assert_int_equal(canon(dom5, "/local/domain/", out), -EINVAL);
	assert_int_equal(canon(env.priv, "/local/domain//x", out), -EINVAL);
	/* '@' names are for watches only. */
	assert_int_equal(canon(env.priv, "@releaseDomain", out), -EINVAL);
	assert_int_equal(canon(dom5, "@introduceDomain", out), -EINVAL);
}

static void
test_relative(void **state)
{
	char out[XENSTORE_ABS_PATH_MAX + 1];

	assert_int_equal(canon(env.priv, "name", out), 20);
	assert_string_equal(out, "/local/domain/0/name");
	assert_int_equal(canon(dom5, "device/vbd", out), 26);
	assert_string_equal(out, "/local/domain/5/device/vbd");
	/* Relative "" is the home plus a trailing slash. */
	assert_int_equal(canon(dom5, "", out), -EINVAL);
	assert_int_equal(canon(dom5, "a/", out), -EINVAL);
	assert_int_equal(canon(dom5, "a//b", out), -EINVAL);
}

/* catalogue: X8 */
static void
test_abs_limit(void **state)
{
	char out[XENSTORE_ABS_PATH_MAX + 1];
	char *p;

	/* Privileged: 3072 bytes anywhere, 3073 never. */
	p = mkpath("/x/", XENSTORE_ABS_PATH_MAX);
	assert_int_equal(canon(env.priv, p, out), XENSTORE_ABS_PATH_MAX);
	free(p);
	p = mkpath("/x/", XENSTORE_ABS_PATH_MAX + 1);
	assert_int_equal(canon(env.priv, p, out), -EINVAL);
	free(p);
	/* A domain: 3072 under a home prefix with 2048 below it is fine. */
	p = mkpath("/local/domain/7/", 16 + 2048);
	assert_int_equal(canon(dom5, p, out), 16 + 2048);
	free(p);
	p = mkpath("/local/domain/7/", 16 + 2049);
	assert_int_equal(canon(dom5, p, out), -EINVAL);
	assert_int_equal(canon(env.priv, p, out), 16 + 2049);
	free(p);
	/* Elsewhere the whole path counts for a domain (4.17's -M). */
	p = mkpath("/x/", 2048);
	assert_int_equal(canon(dom5, p, out), 2048);
	free(p);
	p = mkpath("/x/", 2049);
	assert_int_equal(canon(dom5, p, out), -EINVAL);
	free(p);
	/* Five domid digits at most form a home prefix, as in 4.17. */
	p = mkpath("/local/domain/123456/", 2060);
	assert_int_equal(canon(dom5, p, out), -EINVAL);
	free(p);
}

/* catalogue: X8 */
static void
test_rel_limit(void **state)
{
	char out[XENSTORE_ABS_PATH_MAX + 1];
	char *p;

	p = mkpath("r/", XENSTORE_REL_PATH_MAX);
	assert_int_equal(canon(dom5, p, out), 16 + XENSTORE_REL_PATH_MAX);
	assert_int_equal(canon(env.priv, p, out), 16 + XENSTORE_REL_PATH_MAX);
	free(p);
	/* Checked on the canonical form too (XSA-323), and as sent. */
	p = mkpath("r/", XENSTORE_REL_PATH_MAX + 1);
	assert_int_equal(canon(dom5, p, out), -EINVAL);
	assert_int_equal(canon(env.priv, p, out), -EINVAL);
	free(p);
}

/* catalogue: X8 */
static void
test_limit_on_wire(void **state)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	char *p;
	size_t len;

	/* The boundaries through WRITE: EINVAL is a reply, not a drop. */
	p = mkpath("/x/", XENSTORE_ABS_PATH_MAX);
	len = xt_pv(buf, sizeof(buf), p, "v", 1);
	xt_expect(env.priv, XS_WRITE, 0, buf, len, "OK");
	free(p);
	p = mkpath("/x/", XENSTORE_ABS_PATH_MAX + 1);
	len = xt_pv(buf, sizeof(buf), p, "v", 1);
	xt_expect(env.priv, XS_WRITE, 0, buf, len, "EINVAL");
	free(p);
	xt_op(env.priv, XS_RM, 0, "/x", "OK");
	assert_false(xsd_conn_is_closing(env.priv));
}

static void
test_within(void **state)
{
	assert_true(xsd_path_within("/a", "/", 1));
	assert_true(xsd_path_within("/a/b", "/a", 2));
	assert_true(xsd_path_within("/a", "/a", 2));
	assert_false(xsd_path_within("/ab", "/a", 2));
	assert_false(xsd_path_within("/", "/a", 2));
	assert_false(xsd_path_within("@releaseDomain", "/", 1));
	assert_int_equal(xsd_path_parent_len("/a", 2), 1);
	assert_int_equal(xsd_path_parent_len("/a/bc", 5), 2);
	assert_true(xsd_path_is_special("@introduceDomain"));
	assert_true(xsd_path_is_special("@releaseDomain"));
	assert_false(xsd_path_is_special("@releaseDomain/5"));
}

static void
test_perm_strings(void **state)
{
	struct xsd_perm p[4];
	char buf[64];

	assert_int_equal(xsd_perms_parse("n0\0r5\0w7\0b3", 4, p), 0);
	assert_int_equal(p[0].domid, 0);
	assert_int_equal(p[0].bits, XSD_PERM_NONE);
	assert_int_equal(p[1].domid, 5);
	assert_int_equal(p[1].bits, XSD_PERM_READ);
	assert_int_equal(p[2].bits, XSD_PERM_WRITE);
	assert_int_equal(p[3].bits, XSD_PERM_READ | XSD_PERM_WRITE);
	assert_int_equal(xsd_perms_format(p, 4, buf, sizeof(buf)), 12);
	assert_memory_equal(buf, "n0\0r5\0w7\0b3\0", 12);
	/* libxenstore's strtol(, 0): hex and octal domids, printed decimal. */
	assert_int_equal(xsd_perms_parse("r0x10", 1, p), 0);
	assert_int_equal(p[0].domid, 16);
	assert_int_equal(xsd_perms_parse("b010", 1, p), 0);
	assert_int_equal(p[0].domid, 8);
	assert_int_equal(xsd_perms_parse("r4294967295", 1, p), 0);
	assert_int_equal(p[0].domid, UINT_MAX);
	assert_int_equal(xsd_perms_format(p, 1, buf, sizeof(buf)), 12);
	assert_string_equal(buf, "r4294967295");
	/* Too small a buffer says so. */
	assert_int_equal(xsd_perms_format(p, 1, buf, 5), 0);
	assert_int_equal(xsd_perms_parse("x1", 1, p), -EINVAL);
	assert_int_equal(xsd_perms_parse("r", 1, p), -EINVAL);
	assert_int_equal(xsd_perms_parse("r-1", 1, p), -EINVAL);
	assert_int_equal(xsd_perms_parse("r 1", 1, p), -EINVAL);
	assert_int_equal(xsd_perms_parse("r5a", 1, p), -EINVAL);
	assert_int_equal(xsd_perms_parse("r08", 1, p), -EINVAL);
	assert_int_equal(xsd_perms_parse("r4294967296", 1, p), -EINVAL);
	assert_int_equal(xsd_perms_parse("", 1, p), -EINVAL);
}

static void
test_perm_for(void **state)
{
	struct xsd_perm p[3] = { { 5, XSD_PERM_NONE }, { 6, XSD_PERM_READ },
		{ 7, XSD_PERM_WRITE } };
	struct xsd_conn *d6 = xt_dom(&env, 6), *d7 = xt_dom(&env, 7),
			*d8 = xt_dom(&env, 8);
	unsigned int all = XSD_PERM_READ | XSD_PERM_WRITE | XSD_PERM_OWNER;

	assert_int_equal(xsd_perm_for(env.priv, p, 3), all);
	assert_int_equal(xsd_perm_for(dom5, p, 3), all); /* owner */
	assert_int_equal(xsd_perm_for(d6, p, 3), XSD_PERM_READ);
	assert_int_equal(xsd_perm_for(d7, p, 3), XSD_PERM_WRITE);
	assert_int_equal(xsd_perm_for(d8, p, 3), XSD_PERM_NONE);
	p[0].bits = XSD_PERM_READ; /* the default for everyone else */
	assert_int_equal(xsd_perm_for(d8, p, 3), XSD_PERM_READ);
	/* An ignored entry (dead domain) falls back to the default. */
	p[1].bits |= XSD_PERM_IGNORE;
	p[1].bits &= ~XSD_PERM_READ;
	assert_int_equal(xsd_perm_for(d6, p, 3), XSD_PERM_READ);
	/* The first matching entry wins. */
	p[2].domid = 6;
	p[1].bits = XSD_PERM_NONE;
	assert_int_equal(xsd_perm_for(d6, p, 3), XSD_PERM_NONE);
	xsd_conn_free(d6);
	xsd_conn_free(d7);
	xsd_conn_free(d8);
}

/* catalogue: X5 */
static void
test_numbers(void **state)
{
	unsigned long v;

	assert_int_equal(xsd_parse_ulong("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(xsd_parse_ulong("32751", 32751, &v), 0);
	assert_int_equal(v, 32751);
	assert_int_equal(xsd_parse_ulong("32752", 32751, &v), -EINVAL);
	assert_int_equal(xsd_parse_ulong("4294967295", UINT_MAX, &v), 0);
	assert_int_equal(xsd_parse_ulong("4294967296", UINT_MAX, &v), -EINVAL);
	assert_int_equal(xsd_parse_ulong("18446744073709551616", ULONG_MAX, &v),
	    -EINVAL);
	assert_int_equal(xsd_parse_ulong("", 10, &v), -EINVAL);
	assert_int_equal(xsd_parse_ulong("-1", 10, &v), -EINVAL);
	assert_int_equal(xsd_parse_ulong("+1", 10, &v), -EINVAL);
	assert_int_equal(xsd_parse_ulong(" 1", 10, &v), -EINVAL);
	assert_int_equal(xsd_parse_ulong("1x", 10, &v), -EINVAL);
	assert_int_equal(xsd_parse_ulong("0x1", 10, &v), -EINVAL);
	assert_int_equal(xsd_parse_ulong("5", 3, &v), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_relative),
		cmocka_unit_test(test_abs_limit),
		cmocka_unit_test(test_rel_limit),
		cmocka_unit_test(test_limit_on_wire),
		cmocka_unit_test(test_within),
		cmocka_unit_test(test_perm_strings),
		cmocka_unit_test(test_perm_for),
		cmocka_unit_test(test_numbers),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
