/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: xenstored watches.  OK then the initial event; matching
 * on the node and its ancestors; relative watches hear relative paths;
 * the writer's own events before its reply; pending duplicates merged
 * (special events excepted); RM's events (the root to ancestors, each
 * removed descendant only to watches exactly on it); MKDIR of an
 * existing node is silent; filtering by read permission on the node,
 * its old perms or its parent (XSA-115); @introduceDomain and
 * @releaseDomain only to those allowed; UNWATCH; argument errors; a
 * token so long that children's events would pass 4096 (XSA-324).
 */

#include <errno.h>

#include "test_xsd.h"

static struct xt_env env;
static struct xsd_conn *d5, *w0;

static int
setup(void **state)
{
	xt_env_init(&env, NULL);
	d5 = xt_dom(&env, 5);
	w0 = xt_dom(&env, 0); /* a second privileged client */
	xt_op(env.priv, XS_MKDIR, 0, "/local/domain/5", "OK");
	xt_chmod(env.priv, 0, "/local/domain/5", XT_S("n5"), "OK");
	return (0);
}

static int
teardown(void **state)
{
	xt_env_fini(&env);
	return (0);
}

/* Each test starts with no watches and leaves /w gone. */
static void
clean(void)
{
	struct xsd_conn *c[3] = { env.priv, d5, w0 };
	int i;

	xt_op(env.priv, XS_RM, 0, "/w", "OK");
	for (i = 0; i < 3; i++) {
		xt_expect(c[i], XS_RESET_WATCHES, 0, XT_S("\0"), "OK");
		xt_drain(c[i]);
	}
}

static void
test_basic(void **state)
{
	struct xt_msg m;

	/* OK first, then the initial event; a missing path is fine. */
	xt_send(w0, XS_WATCH, 0, XT_S("/w/a\0tok\0"));
	xt_recv(w0, &m);
	assert_int_equal(m.hdr.type, XS_WATCH);
	assert_string_equal(m.data, "OK");
	xt_event(w0, "/w/a", "tok");
	assert_false(xt_pending(w0));
	/* The node and what is below it, not what is above. */
	xt_write(env.priv, 0, "/w/a", "1", "OK");
	xt_event(w0, "/w/a", "tok");
	xt_write(env.priv, 0, "/w/a/b/c", "1", "OK");
	xt_event(w0, "/w/a/b/c", "tok"); /* created parents: no event */
	assert_false(xt_pending(w0));
	xt_write(env.priv, 0, "/w", "1", "OK");
	xt_write(env.priv, 0, "/w/ab", "1", "OK");
	assert_false(xt_pending(w0));
	/* A watch on / sees everything. */
	xt_watch(w0, "/", "all");
	xt_write(env.priv, 0, "/w/x", "1", "OK");
	xt_event(w0, "/w/x", "all");
	/* Unchanged value: still an event. */
	xt_write(env.priv, 0, "/w/x", "1", "OK");
	xt_event(w0, "/w/x", "all");
	/* MKDIR of an existing node: silent; of a new one: one event. */
	xt_op(env.priv, XS_MKDIR, 0, "/w/x", "OK");
	assert_false(xt_pending(w0));
	xt_op(env.priv, XS_MKDIR, 0, "/w/y", "OK");
	xt_event(w0, "/w/y", "all");
	/* SET_PERMS fires. */
	xt_chmod(env.priv, 0, "/w/y", XT_S("n0\0r5"), "OK");
	xt_event(w0, "/w/y", "all");
	/* Errors fire nothing. */
	xt_write(d5, 0, "/w/z", "1", "EACCES");
	assert_false(xt_pending(w0));
	/* Several watches of one connection each fire. */
	xt_watch(w0, "/w", "two");
	xt_write(env.priv, 0, "/w/x", "2", "OK");
	xt_event(w0, "/w/x", "all");
	xt_event(w0, "/w/x", "two");
	clean();
}

static void
test_relative(void **state)
{
	xt_watch(d5, "data", "rel");
	xt_watch(d5, "/local/domain/5/data", "abs");
	xt_write(env.priv, 0, "/local/domain/5/data/x", "1", "OK");
	xt_event(d5, "data/x", "rel");
	xt_event(d5, "/local/domain/5/data/x", "abs");
	xt_read(d5, 0, "data/x", "1");
	xt_write(env.priv, 0, "/local/domain/5/data", "", "OK");
	xt_event(d5, "data", "rel");
	xt_event(d5, "/local/domain/5/data", "abs");
	/* The privileged socket's home is dom0's. */
	xt_watch(env.priv, "name", "n");
	xt_write(w0, 0, "/local/domain/0/name", "x", "OK");
	xt_event(env.priv, "name", "n");
	xt_op(env.priv, XS_RM, 0, "/local/domain/5/data", "OK");
	xt_op(env.priv, XS_RM, 0, "/local/domain/0", "OK");
	clean();
}

static void
test_own_first(void **state)
{
	struct xt_msg m;

	xt_watch(w0, "/w", "me");
	xt_send(w0, XS_WRITE, 0, XT_S("/w/a\0v"));
	xt_event(w0, "/w/a", "me");
	xt_recv(w0, &m);
	assert_int_equal(m.hdr.type, XS_WRITE);
	assert_string_equal(m.data, "OK");
	/* RM too, each event before the reply. */
	xt_send(w0, XS_RM, 0, XT_S("/w\0"));
	xt_event(w0, "/w", "me");
	xt_recv(w0, &m);
	assert_int_equal(m.hdr.type, XS_RM);
	clean();
}

static void
test_duplicates(void **state)
{
	xt_watch(w0, "/w", "d");
	xt_watch(w0, "/w/a", "e");
	xt_write(env.priv, 0, "/w/a", "1", "OK");
	xt_write(env.priv, 0, "/w/a", "2", "OK");
	xt_write(env.priv, 0, "/w/b", "1", "OK");
	xt_write(env.priv, 0, "/w/a", "3", "OK");
	/* Pending duplicates merged, order of first occurrence kept. */
	xt_event(w0, "/w/a", "d");
	xt_event(w0, "/w/a", "e");
	xt_event(w0, "/w/b", "d");
	assert_false(xt_pending(w0));
	/* Once read, the next change is heard again. */
	xt_write(env.priv, 0, "/w/a", "4", "OK");
	xt_event(w0, "/w/a", "d");
	xt_event(w0, "/w/a", "e");
	/* Special events are never merged. */
	xt_watch(w0, "@introduceDomain", "i");
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("6\0"
		 "1\0"
		 "1\0"),
	    "OK");
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("7\0"
		 "1\0"
		 "1\0"),
	    "OK");
	xt_event(w0, "@introduceDomain", "i");
	xt_event(w0, "@introduceDomain", "i");
	xt_op(env.priv, XS_RELEASE, 0, "6", "OK");
	xt_op(env.priv, XS_RELEASE, 0, "7", "OK");
	clean();
}

static void
test_rm_events(void **state)
{
	xt_write(env.priv, 0, "/w/r/a/b/c", "1", "OK");
	xt_write(env.priv, 0, "/w/r/a/d", "1", "OK");
	xt_watch(w0, "/w/r", "parent");
	xt_watch(w0, "/w/r/a", "self");
	xt_watch(w0, "/w/r/a/b/c", "leaf");
	xt_watch(w0, "/w/r/a/b", "mid");
	xt_watch(w0, "/w/r/a/nope", "missing");
	xt_op(env.priv, XS_RM, 0, "/w/r/a", "OK");
	/* The root first, to itself and its ancestors... */
	xt_event(w0, "/w/r/a", "parent");
	xt_event(w0, "/w/r/a", "self");
	/* ...then each descendant, children first, to exact watches. */
	xt_event(w0, "/w/r/a/b/c", "leaf");
	xt_event(w0, "/w/r/a/b", "mid");
	assert_false(xt_pending(w0));
	/* RM of a missing node: nothing. */
	xt_op(env.priv, XS_RM, 0, "/w/r/a", "OK");
	assert_false(xt_pending(w0));
	clean();
}

/* catalogue: X13 */
static void
test_permissions(void **state)
{
	/* An unprivileged watch on / hears only what it may read. */
	xt_watch(d5, "/", "all");
	xt_write(env.priv, 0, "/w/secret", "1", "OK");
	xt_write(env.priv, 0, "/local/domain/5/mine", "1", "OK");
	xt_event(d5, "/local/domain/5/mine", "all");
	assert_false(xt_pending(d5));
	/* Readable parent, unreadable node: heard (4.17's rule). */
	xt_chmod(env.priv, 0, "/w", XT_S("n0\0r5"), "OK");
	xt_event(d5, "/w", "all");
	xt_write(env.priv, 0, "/w/secret", "2", "OK");
	xt_event(d5, "/w/secret", "all");
	xt_write(env.priv, 0, "/w/secret/deeper", "2", "OK");
	assert_false(xt_pending(d5));
	/* Losing access: the old perms still let it hear that. */
	xt_chmod(env.priv, 0, "/w/secret", XT_S("n0\0r5"), "OK");
	xt_event(d5, "/w/secret", "all");
	xt_write(env.priv, 0, "/w/secret/deeper", "3", "OK");
	xt_event(d5, "/w/secret/deeper", "all");
	xt_chmod(env.priv, 0, "/w", XT_S("n0"), "OK");
	xt_event(d5, "/w", "all"); /* old perms r5 */
	xt_chmod(env.priv, 0, "/w/secret", XT_S("n0"), "OK");
	xt_event(d5, "/w/secret", "all");
	xt_write(env.priv, 0, "/w/secret", "4", "OK");
	assert_false(xt_pending(d5));
	/* Removal of a readable node is heard, with its perms then. */
	xt_chmod(env.priv, 0, "/w/secret", XT_S("n0\0r5"), "OK");
	xt_event(d5, "/w/secret", "all");
	xt_op(env.priv, XS_RM, 0, "/w/secret", "OK");
	xt_event(d5, "/w/secret", "all");
	xt_op(env.priv, XS_RM, 0, "/local/domain/5/mine", "OK");
	xt_event(d5, "/local/domain/5/mine", "all");
	clean();
}

/* catalogue: X13 */
static void
test_special(void **state)
{
	/* Anyone may register; the initial event always comes. */
	xt_watch(d5, "@introduceDomain", "i");
	xt_watch(d5, "@releaseDomain", "r");
	xt_watch(w0, "@introduceDomain", "i");
	xt_watch(w0, "/", "all"); /* never hears @ events */
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("6\0"
		 "1\0"
		 "1\0"),
	    "OK");
	xt_event(w0, "@introduceDomain", "i");
	assert_false(xt_pending(w0));
	assert_false(xt_pending(d5)); /* default perms n0: privileged only */
	/* Read on the special name lets a domain hear. */
	xt_chmod(env.priv, 0, "@introduceDomain", XT_S("n0\0r5"), "OK");
	xt_chmod(env.priv, 0, "@releaseDomain", XT_S("n0\0r5"), "OK");
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("7\0"
		 "1\0"
		 "1\0"),
	    "OK");
	xt_event(d5, "@introduceDomain", "i");
	xt_event(w0, "@introduceDomain", "i");
	/* Again: no event; dom0: no event. */
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("7\0"
		 "2\0"
		 "2\0"),
	    "OK");
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("0\0"
		 "1\0"
		 "1\0"),
	    "OK");
	assert_false(xt_pending(d5));
	assert_false(xt_pending(w0));
	xt_op(env.priv, XS_RELEASE, 0, "6", "OK");
	xt_event(d5, "@releaseDomain", "r");
	xt_op(env.priv, XS_RELEASE, 0, "7", "OK");
	xt_event(d5, "@releaseDomain", "r");
	xt_chmod(env.priv, 0, "@introduceDomain", XT_S("n0"), "OK");
	xt_chmod(env.priv, 0, "@releaseDomain", XT_S("n0"), "OK");
	xt_op(env.priv, XS_RELEASE, 0, "0", "EINVAL");
	clean();
}

static void
test_unwatch(void **state)
{
	xt_watch(d5, "data", "t");
	/* Relative and absolute name the same watch. */
	xt_expect(d5, XS_WATCH, 0, XT_S("/local/domain/5/data\0t\0"), "EEXIST");
	xt_expect(d5, XS_WATCH, 0, XT_S("data\0t\0"), "EEXIST");
	xt_watch(d5, "data", "u"); /* another token: another watch */
	xt_expect(d5, XS_UNWATCH, 0, XT_S("/local/domain/5/data\0t\0"), "OK");
	xt_expect(d5, XS_UNWATCH, 0, XT_S("data\0t\0"), "ENOENT");
	xt_write(env.priv, 0, "/local/domain/5/data", "1", "OK");
	xt_event(d5, "data", "u");
	assert_false(xt_pending(d5));
	xt_expect(d5, XS_UNWATCH, 0, XT_S("data\0u\0"), "OK");
	xt_write(env.priv, 0, "/local/domain/5/data", "2", "OK");
	assert_false(xt_pending(d5));
	xt_expect(d5, XS_UNWATCH, 0, XT_S("@releaseDomain\0u\0"), "ENOENT");
	xt_expect(d5, XS_UNWATCH, 0, XT_S("data\0"), "EINVAL");
	xt_expect(d5, XS_UNWATCH, 0, XT_S("data//x\0u\0"), "EINVAL");
	assert_int_equal(xsd_dom_find(env.core, 5)->d_watches, 0);
	xt_op(env.priv, XS_RM, 0, "/local/domain/5/data", "OK");
	clean();
}

static void
test_args(void **state)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	size_t len;

	xt_expect(w0, XS_WATCH, 0,
	    XT_S("/w\0t\0"
		 "1\0"),
	    "EINVAL"); /* depth */
	xt_expect(w0, XS_WATCH, 0, XT_S("/w\0"), "EINVAL");
	xt_expect(w0, XS_WATCH, 0, XT_S("/w\0t"), "EINVAL");
	xt_expect(w0, XS_WATCH, 0, XT_S(""), "EINVAL");
	xt_expect(w0, XS_WATCH, 0, XT_S("/w/\0t\0"), "EINVAL");
	xt_expect(w0, XS_WATCH, 0, XT_S("/w w\0t\0"), "EINVAL");
	/* tx_id is ignored by WATCH. */
	xt_send(w0, XS_WATCH, 42, XT_S("/w\0t\0"));
	xt_drain(w0);
	/* Any @name up to 2048 bytes registers; longer does not. */
	memset(buf, 'x', sizeof(buf));
	buf[0] = '@';
	buf[2048] = '\0';
	buf[2049] = 't';
	buf[2050] = '\0';
	xt_expect(w0, XS_WATCH, 0, buf, 2051, "OK");
	buf[2048] = 'x';
	buf[2049] = '\0';
	buf[2050] = 't';
	buf[2051] = '\0';
	len = 2052;
	xt_expect(w0, XS_WATCH, 0, buf, len, "EINVAL");
	clean();
}

/* catalogue: X13 */
static void
test_long_token(void **state)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	struct xt_msg m;

	/* "/w\0" + 4092-byte token + NUL: exactly 4096. */
	memcpy(buf, "/w", 3);
	memset(buf + 3, 't', 4092);
	buf[4095] = '\0';
	xt_expect(w0, XS_WATCH, 0, buf, sizeof(buf), "OK");
	xt_recv(w0, &m); /* the initial event: 4096 bytes */
	assert_int_equal(m.hdr.len, 4096);
	/* A child's event would be longer: dropped (XSA-324), no crash. */
	xt_write(env.priv, 0, "/w/bb", "1", "OK");
	assert_false(xt_pending(w0));
	xt_write(env.priv, 0, "/w", "1", "OK");
	xt_recv(w0, &m);
	assert_int_equal(m.hdr.type, XS_WATCH_EVENT);
	assert_int_equal(m.hdr.len, 4096);
	assert_false(xsd_conn_is_closing(w0));
	clean();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_relative),
		cmocka_unit_test(test_own_first),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_rm_events),
		cmocka_unit_test(test_permissions),
		cmocka_unit_test(test_special),
		cmocka_unit_test(test_unwatch),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_long_token),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
