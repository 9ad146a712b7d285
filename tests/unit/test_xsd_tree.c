/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the xenstored node tree through the wire protocol on
 * in-memory connections.  The initial tree, READ/WRITE/MKDIR/RM/
 * DIRECTORY/DIRECTORY_PART/GET_PERMS/SET_PERMS replies, implicit
 * creation with inherited perms, ENOENT versus EACCES, SET_PERMS rules
 * (EPERM, ENOSPC, ENOENT, "/" itself: XSA-352/353), generation counts,
 * a subtree thousands of levels... as deep as paths allow, removed
 * without recursion (XSA-418), and RELEASE removing a domain's nodes and
 * voiding its perm entries (XSA-419/322).  Every test ends with the
 * core's consistency check.
 */

#include <errno.h>

#include "test_xsd.h"

static struct xt_env env;

static int
setup(void **state)
{
	xt_env_init(&env, NULL);
	return (0);
}

static int
teardown(void **state)
{
	xt_env_fini(&env);
	return (0);
}

static void
test_initial_tree(void **state)
{
	struct xsd_conn *d5 = xt_dom(&env, 5);

	xt_dir(env.priv, 0, "/", "tool");
	xt_dir(env.priv, 0, "/tool", "xenstored");
	xt_dir(env.priv, 0, "/tool/xenstored", "");
	xt_perms(env.priv, "/", "n0");
	xt_perms(env.priv, "/tool", "n0");
	xt_perms(env.priv, "/tool/xenstored", "n0");
	xt_read(env.priv, 0, "/", "");
	xt_read_err(d5, 0, "/", "EACCES");
	xt_op(d5, XS_DIRECTORY, 0, "/tool", "EACCES");
	xsd_conn_free(d5);
}

static void
test_read_write(void **state)
{
	char buf[XENSTORE_PAYLOAD_MAX], val[XENSTORE_PAYLOAD_MAX];
	struct xt_msg m;
	size_t len;

	xt_write(env.priv, 0, "/a/b", "hello", "OK");
	xt_read(env.priv, 0, "/a/b", "hello");
	xt_read(env.priv, 0, "/a", ""); /* created on the way, empty */
	xt_dir(env.priv, 0, "/", "tool,a");
	xt_dir(env.priv, 0, "/a", "b");
	xt_write(env.priv, 0, "/a/b", "", "OK");
	xt_read(env.priv, 0, "/a/b", "");
	xt_read_err(env.priv, 0, "/a/c", "ENOENT");
	/* Values are bytes: NULs inside, no terminator added. */
	xt_expect(env.priv, XS_WRITE, 0, XT_S("/a/c\0x\0y"), "OK");
	xt_req(env.priv, XS_READ, 0, XT_S("/a/c\0"), &m);
	assert_int_equal(m.hdr.type, XS_READ);
	assert_int_equal(m.hdr.len, 3);
	assert_memory_equal(m.data, "x\0y", 3);
	/* The largest value: the payload is exactly 4096 bytes. */
	memset(val, 'v', sizeof(val));
	len = xt_pv(buf, sizeof(buf), "/a/c", val, sizeof(buf) - 5);
	assert_int_equal(len, XENSTORE_PAYLOAD_MAX);
	xt_expect(env.priv, XS_WRITE, 0, buf, len, "OK");
	xt_req(env.priv, XS_READ, 0, XT_S("/a/c\0"), &m);
	assert_int_equal(m.hdr.len, XENSTORE_PAYLOAD_MAX - 5);
	/* Relative paths of the privileged socket live under dom0. */
	xt_write(env.priv, 0, "name", "Domain-0", "OK");
	xt_read(env.priv, 0, "/local/domain/0/name", "Domain-0");
	xt_read(env.priv, 0, "name", "Domain-0");
	/* Malformed: no NUL after the path, bad path, '@' name. */
	xt_expect(env.priv, XS_WRITE, 0, XT_S("/a/d"), "EINVAL");
	xt_expect(env.priv, XS_WRITE, 0, XT_S("/a/\0v"), "EINVAL");
	xt_expect(env.priv, XS_WRITE, 0, XT_S("@releaseDomain\0v"), "EINVAL");
	xt_expect(env.priv, XS_READ, 0, XT_S("/a/b"), "EINVAL");
	xt_expect(env.priv, XS_READ, 0, XT_S("/a/b\0\0"), "EINVAL");
	xt_expect(env.priv, XS_READ, 0, XT_S(""), "EINVAL");
	xt_expect(env.priv, XS_DIRECTORY, 0, XT_S("/a\0x"), "EINVAL");
	xt_op(env.priv, XS_RM, 0, "/a", "OK");
	xt_op(env.priv, XS_RM, 0, "/local", "OK");
}

static void
test_mkdir_rm(void **state)
{
	xt_op(env.priv, XS_MKDIR, 0, "/m/n/o", "OK");
	xt_dir(env.priv, 0, "/m/n", "o");
	xt_read(env.priv, 0, "/m/n/o", "");
	xt_write(env.priv, 0, "/m/n/o", "keep", "OK");
	xt_op(env.priv, XS_MKDIR, 0, "/m/n/o", "OK"); /* exists: fine */
	xt_read(env.priv, 0, "/m/n/o", "keep");
	xt_write(env.priv, 0, "/m/p", "1", "OK");
	xt_op(env.priv, XS_RM, 0, "/m/n", "OK");
	xt_dir(env.priv, 0, "/m", "p");
	xt_read_err(env.priv, 0, "/m/n/o", "ENOENT");
	/* Missing with its parent there: fine.  Parent missing: ENOENT. */
	xt_op(env.priv, XS_RM, 0, "/m/n", "OK");
	xt_op(env.priv, XS_RM, 0, "/m/n/o", "ENOENT");
	xt_op(env.priv, XS_RM, 0, "/", "EINVAL");
	xt_op(env.priv, XS_RM, 0, "/m", "OK");
	xt_dir(env.priv, 0, "/", "tool");
}

/* Parse a DIRECTORY_PART reply: generation, then append names to out. */
static bool
dirpart(const char *path, unsigned long off, char *gen, size_t *gotlen,
    char *out, size_t *outlen)
{
	char req[128];
	struct xt_msg m;
	size_t len, glen;

	len = (size_t)snprintf(req, sizeof(req), "%s%c%lu", path, 0, off) + 1;
	xt_req(env.priv, XS_DIRECTORY_PART, 0, req, len, &m);
	assert_int_equal(m.hdr.type, XS_DIRECTORY_PART);
	glen = strlen(m.data) + 1;
	memcpy(gen, m.data, glen);
	assert_true(m.hdr.len >= glen + 1);
	*gotlen = m.hdr.len - glen;
	memcpy(out + *outlen, m.data + glen, *gotlen);
	*outlen += *gotlen;
	/* The last chunk ends with an empty name (two NULs). */
	return (m.data[m.hdr.len - 1] == '\0' &&
	    (m.hdr.len - glen == 1 || m.data[m.hdr.len - 2] == '\0'));
}

static void
test_directory_part(void **state)
{
	char path[64], gen[32], gen2[32], all[16384];
	size_t len = 0, got, off = 0, expect = 0;
	bool last;
	int i, chunks = 0;

	/* 300 children of 16-byte names: 5100 bytes, too many for one. */
	for (i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "/big/child-%010d", i);
		xt_op(env.priv, XS_MKDIR, 0, path, "OK");
		expect += strlen(path) - 5 + 1;
	}
	xt_op(env.priv, XS_DIRECTORY, 0, "/big", "E2BIG");
	do {
		last = dirpart("/big", off, gen, &got, all, &len);
		if (chunks > 0)
			assert_string_equal(gen, gen2);
		memcpy(gen2, gen, sizeof(gen));
		off += got;
		chunks++;
	} while (!last && chunks < 10);
	assert_true(last);
	assert_int_equal(chunks, 2);
	assert_int_equal(len, expect + 1); /* plus the closing empty name */
	assert_string_equal(all, "child-0000000000");
	assert_string_equal(all + len - 18, "child-0000000299");
	/* At or past the end: "gen\0\0". */
	assert_true(dirpart("/big", expect, gen, &got, all, &len));
	assert_int_equal(got, 1);
	assert_true(dirpart("/big", 1000000, gen, &got, all, &len));
	/* A change moves the generation (the client restarts). */
	xt_op(env.priv, XS_MKDIR, 0, "/big/another", "OK");
	dirpart("/big", 0, gen, &got, all, &len);
	assert_string_not_equal(gen, gen2);
	/* Bad offset, extra argument, missing node. */
	xt_expect(env.priv, XS_DIRECTORY_PART, 0, XT_S("/big\0x\0"), "EINVAL");
	xt_expect(env.priv, XS_DIRECTORY_PART, 0, XT_S("/big\0-1\0"), "EINVAL");
	xt_expect(env.priv, XS_DIRECTORY_PART, 0, XT_S("/big\0"), "EINVAL");
	xt_expect(env.priv, XS_DIRECTORY_PART, 0,
	    XT_S("/big\0"
		 "0\0x\0"),
	    "EINVAL");
	xt_expect(env.priv, XS_DIRECTORY_PART, 0,
	    XT_S("/nope\0"
		 "0\0"),
	    "ENOENT");
	/* An empty directory: "gen\0\0". */
	xt_req(env.priv, XS_DIRECTORY_PART, 0,
	    XT_S("/big/another\0"
		 "0\0"),
	    &(struct xt_msg) { 0 });
	xt_op(env.priv, XS_RM, 0, "/big", "OK");
}

static void
test_inherit(void **state)
{
	struct xsd_conn *d5 = xt_dom(&env, 5), *d7 = xt_dom(&env, 7);

	xt_op(env.priv, XS_MKDIR, 0, "/local/domain/5", "OK");
	xt_chmod(env.priv, 0, "/local/domain/5", XT_S("n5\0r0"), "OK");
	xt_perms(env.priv, "/local/domain/5", "n5,r0");
	/* An unprivileged creator owns what it creates; the rest is kept. */
	xt_write(d5, 0, "data/x", "1", "OK");
	xt_perms(env.priv, "/local/domain/5/data", "n5,r0");
	xt_perms(d5, "data/x", "n5,r0");
	/* docs/hypervisor.md 1.5's example: b7 on "n0,b7", child "n7,b7". */
	xt_op(env.priv, XS_MKDIR, 0, "/shared", "OK");
	xt_chmod(env.priv, 0, "/shared", XT_S("n0\0b7"), "OK");
	xt_write(d7, 0, "/shared/c/d", "v", "OK");
	xt_perms(env.priv, "/shared/c", "n7,b7");
	xt_perms(env.priv, "/shared/c/d", "n7,b7");
	/* A privileged creator leaves the copy as it is. */
	xt_write(env.priv, 0, "/shared/p/q", "v", "OK");
	xt_perms(env.priv, "/shared/p/q", "n0,b7");
	xt_op(env.priv, XS_RM, 0, "/shared", "OK");
	xt_op(env.priv, XS_RM, 0, "/local", "OK");
	xsd_conn_free(d5);
	xsd_conn_free(d7);
}

static void
test_enoent_eacces(void **state)
{
	struct xsd_conn *d5 = xt_dom(&env, 5);

	xt_op(env.priv, XS_MKDIR, 0, "/local/domain/5", "OK");
	xt_chmod(env.priv, 0, "/local/domain/5", XT_S("n5"), "OK");
	xt_write(env.priv, 0, "/local/domain/0/name", "Domain-0", "OK");
	/* Missing under its own home: ENOENT.  Under dom0's: EACCES. */
	xt_read_err(d5, 0, "nope", "ENOENT");
	xt_read_err(d5, 0, "/local/domain/0/nope", "EACCES");
	xt_read_err(d5, 0, "/local/domain/0/name", "EACCES");
	xt_read_err(d5, 0, "/nope/deeper/still", "EACCES");
	xt_write(d5, 0, "/local/domain/0/x", "1", "EACCES");
	xt_write(d5, 0, "/x", "1", "EACCES");
	xt_op(d5, XS_MKDIR, 0, "/local/domain/0", "EACCES");
	xt_op(d5, XS_RM, 0, "/local/domain/0/name", "EACCES");
	xt_op(d5, XS_RM, 0, "/local/domain/0/nope", "EACCES");
	/* Read granted on the parent: a missing child is ENOENT. */
	xt_chmod(env.priv, 0, "/local/domain/0", XT_S("n0\0r5"), "OK");
	xt_read_err(d5, 0, "/local/domain/0/nope", "ENOENT");
	xt_read_err(d5, 0, "/local/domain/0/name", "EACCES"); /* own perms */
	xt_write(d5, 0, "/local/domain/0/x", "1", "EACCES");
	/* Write granted: creating works, and the node is the creator's. */
	xt_chmod(env.priv, 0, "/local/domain/0", XT_S("n0\0w5"), "OK");
	xt_write(d5, 0, "/local/domain/0/x/y", "1", "OK");
	xt_perms(env.priv, "/local/domain/0/x/y", "n5,w5");
	xt_read(d5, 0, "/local/domain/0/x/y", "1");
	xt_op(env.priv, XS_RM, 0, "/local", "OK");
	xsd_conn_free(d5);
}

/* catalogue: X16 */
static void
test_set_perms(void **state)
{
	struct xsd_conn *d5 = xt_dom(&env, 5), *d6 = xt_dom(&env, 6);
	struct xsd_conn *d9;

	xt_op(env.priv, XS_MKDIR, 0, "/local/domain/5", "OK");
	xt_chmod(env.priv, 0, "/local/domain/5", XT_S("n5"), "OK");
	xt_write(d5, 0, "x", "1", "OK");
	/* The owner may change the rest, never the owner (XSA-352). */
	xt_chmod(d5, 0, "x", XT_S("n5\0r6"), "OK");
	xt_read(d6, 0, "/local/domain/5/x", "1");
	xt_chmod(d5, 0, "x", XT_S("n6"), "EPERM");
	xt_chmod(d5, 0, "x", XT_S("b5\0r6\0r6\0r6\0r6"), "OK"); /* 5 */
	xt_chmod(d5, 0, "x", XT_S("b5\0r6\0r6\0r6\0r6\0r6"), "ENOSPC");
	/* Not the owner: EACCES even with write access. */
	xt_chmod(d5, 0, "x", XT_S("n5\0b6"), "OK");
	xt_write(d6, 0, "/local/domain/5/x", "2", "OK");
	xt_chmod(d6, 0, "/local/domain/5/x", XT_S("n5"), "EACCES");
	/* "/" is checked like any node (XSA-353). */
	xt_chmod(d5, 0, "/", XT_S("b5"), "EACCES");
	xt_chmod(d5, 0, "/", XT_S("n0"), "EACCES");
	/* Malformed. */
	xt_expect(d5, XS_SET_PERMS, 0, XT_S("x\0"), "EINVAL");
	xt_expect(d5, XS_SET_PERMS, 0, XT_S("x"), "EINVAL");
	xt_chmod(d5, 0, "x", XT_S("q5"), "EINVAL");
	xt_chmod(d5, 0, "x", XT_S("r"), "EINVAL");
	xt_chmod(d5, 0, "x/", XT_S("n5"), "EINVAL");
	xt_chmod(d5, 0, "nope", XT_S("n5"), "ENOENT");
	/* An unknown owner: ENOENT; an unknown reader: kept but void. */
	xt_chmod(d5, 0, "x", XT_S("n9"), "ENOENT");
	xt_chmod(env.priv, 0, "/local/domain/5/x", XT_S("n40000"), "ENOENT");
	xt_chmod(d5, 0, "x", XT_S("n5\0r9"), "OK");
	xt_perms(d5, "x", "n5,r9");
	d9 = xt_dom(&env, 9); /* domain 9 appears only now */
	xt_read_err(d9, 0, "/local/domain/5/x", "EACCES");
	xt_chmod(d5, 0, "x", XT_S("n5\0r9"), "OK"); /* named again: counts */
	xt_read(d9, 0, "/local/domain/5/x", "2");
	/* Privileged: anything, owners included. */
	xt_chmod(env.priv, 0, "/local/domain/5/x", XT_S("n6"), "OK");
	xt_write(d5, 0, "x", "3", "EACCES");
	xt_write(d6, 0, "/local/domain/5/x", "3", "OK");
	/* Special names: only the two, only with owner rights. */
	xt_chmod(d5, 0, "@releaseDomain", XT_S("n5"), "EACCES");
	xt_chmod(env.priv, 0, "@other", XT_S("n0"), "EINVAL");
	xt_chmod(env.priv, 0, "@releaseDomain", XT_S("n0\0r5"), "OK");
	xt_op(env.priv, XS_GET_PERMS, 0, "@releaseDomain", "EINVAL");
	xt_op(env.priv, XS_RM, 0, "/local", "OK");
	xsd_conn_free(d5);
	xsd_conn_free(d6);
	xsd_conn_free(d9);
}

/* catalogue: X10 */
static void
test_deep_tree(void **state)
{
	static char path[XENSTORE_ABS_PATH_MAX + 1];
	char buf[XENSTORE_PAYLOAD_MAX];
	size_t i, len;
	uint32_t tx;

	/* "/a/a/.../a": 1536 levels, the deepest a path allows. */
	for (i = 0; i < XENSTORE_ABS_PATH_MAX; i += 2) {
		path[i] = '/';
		path[i + 1] = 'a';
	}
	path[XENSTORE_ABS_PATH_MAX] = '\0';
	len = xt_pv(buf, sizeof(buf), path, "deep", 4);
	xt_expect(env.priv, XS_WRITE, 0, buf, len, "OK");
	xt_read(env.priv, 0, path, "deep");
	/* Removal walks iteratively (XSA-418). */
	xt_op(env.priv, XS_RM, 0, "/a", "OK");
	xt_dir(env.priv, 0, "/", "tool");
	/* And once more inside a transaction. */
	xt_expect(env.priv, XS_WRITE, 0, buf, len, "OK");
	tx = xt_txn(env.priv);
	xt_op(env.priv, XS_RM, tx, "/a", "OK");
	xt_op(env.priv, XS_TRANSACTION_END, tx, "T", "OK");
	xt_dir(env.priv, 0, "/", "tool");
}

static void
test_wide_tree(void **state)
{
	char path[64];
	int i;

	for (i = 0; i < 3000; i++) {
		snprintf(path, sizeof(path), "/w/%d/x", i);
		xt_write(env.priv, 0, path, "v", "OK");
	}
	assert_int_equal(xsd_core_check(env.core), 0);
	xt_op(env.priv, XS_RM, 0, "/w", "OK");
	assert_int_equal(env.core->x_nodes.ht_count, 3);
}

/* catalogue: X16 */
static void
test_release(void **state)
{
	struct xsd_conn *d5, *d5b;
	struct xt_msg m;

	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("5\0"
		 "100\0"
		 "7\0"),
	    "OK");
	/* Again: only the ring details change. */
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("5\0"
		 "101\0"
		 "8\0"),
	    "OK");
	d5 = xt_dom(&env, 5);
	xt_watch(env.priv, "@releaseDomain", "rel");
	xt_op(env.priv, XS_MKDIR, 0, "/local/domain/5", "OK");
	xt_chmod(env.priv, 0, "/local/domain/5", XT_S("n5"), "OK");
	xt_write(d5, 0, "data/a", "1", "OK");
	xt_write(env.priv, 0, "/shared", "s", "OK");
	xt_chmod(env.priv, 0, "/shared", XT_S("n0\0r5"), "OK");
	xt_read(d5, 0, "/shared", "s");
	/* dom0-owned node under the domain's tree: goes with its parent. */
	xt_write(env.priv, 0, "/local/domain/5/tool", "t", "OK");
	/* The event comes before the OK, as for every own change. */
	xt_send(env.priv, XS_RELEASE, 0, XT_S("5\0"));
	xt_event(env.priv, "@releaseDomain", "rel");
	xt_recv(env.priv, &m);
	assert_int_equal(m.hdr.type, XS_RELEASE);
	assert_true(xsd_conn_is_closing(d5));
	/* Its nodes are gone (XSA-419); its perm entries are void. */
	xt_read_err(env.priv, 0, "/local/domain/5", "ENOENT");
	xt_dir(env.priv, 0, "/local/domain", "");
	xt_perms(env.priv, "/shared", "n0,r5");
	xt_op(env.priv, XS_RELEASE, 0, "5", "ENOENT");
	/* A new domain 5 inherits nothing (XSA-322). */
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("5\0"
		 "100\0"
		 "7\0"),
	    "OK");
	d5b = xt_dom(&env, 5);
	xt_read_err(d5b, 0, "/shared", "EACCES");
	xsd_conn_free(d5);
	xsd_conn_free(d5b);
	xt_send(env.priv, XS_RELEASE, 0, XT_S("5\0"));
	xt_event(env.priv, "@releaseDomain", "rel");
	xt_recv(env.priv, &m);
	assert_int_equal(m.hdr.type, XS_RELEASE);
	xt_op(env.priv, XS_RM, 0, "/local", "OK");
	xt_op(env.priv, XS_RM, 0, "/shared", "OK");
	xt_expect(env.priv, XS_RESET_WATCHES, 0, XT_S("\0"), "OK");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_tree),
		cmocka_unit_test(test_read_write),
		cmocka_unit_test(test_mkdir_rm),
		cmocka_unit_test(test_directory_part),
		cmocka_unit_test(test_inherit),
		cmocka_unit_test(test_enoent_eacces),
		cmocka_unit_test(test_set_perms),
		cmocka_unit_test(test_deep_tree),
		cmocka_unit_test(test_wide_tree),
		cmocka_unit_test(test_release),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
