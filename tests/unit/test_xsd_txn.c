/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: xenstored transactions, 4.17's lazy optimistic model.
 * Ids per connection from 1; no nesting (EBUSY); unknown ids (ENOENT);
 * TRANSACTION_END arguments; private writes until commit; reads of
 * untouched nodes see the live tree; EAGAIN when a touched node (present
 * or absent) changed, none for untouched ones; events only on commit;
 * create-and-delete in one transaction (XSA-421); a node removed outside
 * before commit (XSA-440); RESET_WATCHES inside a transaction (XSA-484);
 * transactions dropped with their connection.
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

/* Each test leaves the tree as it found it. */
static void
clean(void)
{
	xt_expect(env.priv, XS_RESET_WATCHES, 0, XT_S("\0"), "OK");
	xt_op(env.priv, XS_RM, 0, "/t", "OK");
	xt_dir(env.priv, 0, "/", "tool");
	assert_int_equal(xsd_core_check(env.core), 0);
}

/* catalogue: X6 */
static void
test_ids(void **state)
{
	struct xsd_conn *d5 = xt_dom(&env, 5);
	uint32_t a, b, c;

	a = xt_txn(env.priv);
	b = xt_txn(env.priv); /* several may be open at once */
	assert_int_equal(a, 1);
	assert_int_equal(b, 2);
	xt_op(env.priv, XS_TRANSACTION_END, a, "F", "OK");
	c = xt_txn(env.priv);
	assert_int_equal(c, 3);		 /* the counter goes on */
	assert_int_equal(xt_txn(d5), 1); /* per connection */
	xt_op(env.priv, XS_TRANSACTION_END, b, "T", "OK");
	xt_op(env.priv, XS_TRANSACTION_END, c, "T", "OK");
	/* Ids are per connection: d5's id 1 is not priv's. */
	xt_op(env.priv, XS_TRANSACTION_END, 1, "T", "ENOENT");
	xt_op(d5, XS_TRANSACTION_END, 1, "T", "OK");
	/* The reply payload is the id in decimal plus NUL. */
	{
		struct xt_msg m;

		xt_req(d5, XS_TRANSACTION_START, 0, XT_S("\0"), &m);
		assert_int_equal(m.hdr.len, 2);
		assert_memory_equal(m.data, "2\0", 2);
	}
	xsd_conn_free(d5); /* drops its open transaction */
	clean();
}

/* catalogue: X6 */
static void
test_bad_ids(void **state)
{
	uint32_t t = xt_txn(env.priv);

	xt_expect(env.priv, XS_TRANSACTION_START, t, XT_S("\0"), "EBUSY");
	xt_expect(env.priv, XS_TRANSACTION_START, 99, XT_S("\0"), "ENOENT");
	xt_read_err(env.priv, 99, "/tool", "ENOENT");
	xt_write(env.priv, 0xffffffffu, "/t/x", "1", "ENOENT");
	xt_op(env.priv, XS_TRANSACTION_END, 0, "T", "ENOENT");
	xt_op(env.priv, XS_TRANSACTION_END, 0, "X", "EINVAL");
	xt_op(env.priv, XS_TRANSACTION_END, t, "X", "EINVAL");
	xt_op(env.priv, XS_TRANSACTION_END, t, "TF", "EINVAL");
	xt_op(env.priv, XS_TRANSACTION_END, t, "", "EINVAL");
	xt_expect(env.priv, XS_TRANSACTION_END, t, XT_S("T"), "EINVAL");
	xt_expect(env.priv, XS_TRANSACTION_END, t, XT_S("T\0\0"), "EINVAL");
	/* Still open after all that. */
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "OK");
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "ENOENT");
	clean();
}

static void
test_commit_abort(void **state)
{
	uint32_t t;

	t = xt_txn(env.priv);
	xt_write(env.priv, t, "/t/a", "1", "OK");
	xt_read(env.priv, t, "/t/a", "1");
	xt_dir(env.priv, t, "/t", "a");
	xt_read_err(env.priv, 0, "/t/a", "ENOENT");
	xt_op(env.priv, XS_TRANSACTION_END, t, "F", "OK");
	xt_read_err(env.priv, 0, "/t/a", "ENOENT");
	t = xt_txn(env.priv);
	xt_write(env.priv, t, "/t/a", "2", "OK");
	xt_op(env.priv, XS_MKDIR, t, "/t/b", "OK");
	xt_chmod(env.priv, t, "/t/b", XT_S("n0\0r5"), "OK");
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "OK");
	xt_read(env.priv, 0, "/t/a", "2");
	xt_perms(env.priv, "/t/b", "n0,r5");
	xt_dir(env.priv, 0, "/t", "a,b");
	/* RM in a transaction, the subtree included. */
	t = xt_txn(env.priv);
	xt_op(env.priv, XS_RM, t, "/t", "OK");
	xt_read_err(env.priv, t, "/t/a", "ENOENT");
	xt_read(env.priv, 0, "/t/a", "2");
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "OK");
	xt_read_err(env.priv, 0, "/t/a", "ENOENT");
	clean();
}

/* catalogue: X15 */
static void
test_conflicts(void **state)
{
	struct xsd_conn *o = xt_dom(&env, 0); /* a second privileged client */
	uint32_t t;

	xt_write(env.priv, 0, "/t/x", "0", "OK");
	/* Touched node changed by another: EAGAIN, nothing applied. */
	t = xt_txn(env.priv);
	xt_read(env.priv, t, "/t/x", "0");
	xt_write(o, 0, "/t/x", "1", "OK");
	xt_write(env.priv, t, "/t/y", "1", "OK");
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "EAGAIN");
	xt_read_err(env.priv, 0, "/t/y", "ENOENT");
	/* Untouched nodes do not conflict, /t changing included. */
	t = xt_txn(env.priv);
	xt_write(env.priv, t, "/t/x", "2", "OK");
	xt_write(o, 0, "/t/z", "1", "OK");
	xt_write(o, 0, "/tool/other", "2", "OK");
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "OK");
	xt_read(env.priv, 0, "/t/x", "2");
	/* Lazy: an untouched node shows others' changes... */
	t = xt_txn(env.priv);
	xt_write(o, 0, "/t/z", "3", "OK");
	xt_read(env.priv, t, "/t/z", "3");
	/* ...then stays as first seen. */
	xt_write(o, 0, "/t/z", "4", "OK");
	xt_read(env.priv, t, "/t/z", "3");
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "EAGAIN");
	/* Absent when looked at, created since: EAGAIN. */
	t = xt_txn(env.priv);
	xt_read_err(env.priv, t, "/t/new", "ENOENT");
	xt_write(o, 0, "/t/new", "1", "OK");
	xt_read_err(env.priv, t, "/t/new", "ENOENT");
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "EAGAIN");
	/* Deleted since: EAGAIN. */
	t = xt_txn(env.priv);
	xt_read(env.priv, t, "/t/new", "1");
	xt_op(o, XS_RM, 0, "/t/new", "OK");
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "EAGAIN");
	/* A failed commit still ends the transaction. */
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "ENOENT");
	/* Abort never conflicts. */
	t = xt_txn(env.priv);
	xt_read(env.priv, t, "/t/x", "2");
	xt_write(o, 0, "/t/x", "9", "OK");
	xt_op(env.priv, XS_TRANSACTION_END, t, "F", "OK");
	xt_op(o, XS_RM, 0, "/tool/other", "OK");
	xsd_conn_free(o);
	clean();
}

static void
test_events(void **state)
{
	struct xsd_conn *w = xt_dom(&env, 0);
	struct xt_msg m;
	uint32_t t;

	xt_watch(w, "/t", "tok");
	t = xt_txn(env.priv);
	xt_write(env.priv, t, "/t/a", "1", "OK");
	xt_op(env.priv, XS_MKDIR, t, "/t/b", "OK");
	assert_false(xt_pending(w));
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "OK");
	xt_event(w, "/t/a", "tok");
	xt_event(w, "/t/b", "tok");
	assert_false(xt_pending(w));
	/* Abort: nothing. */
	t = xt_txn(env.priv);
	xt_write(env.priv, t, "/t/a", "2", "OK");
	xt_op(env.priv, XS_TRANSACTION_END, t, "F", "OK");
	assert_false(xt_pending(w));
	/* Conflict: nothing either. */
	t = xt_txn(env.priv);
	xt_write(env.priv, t, "/t/a", "3", "OK");
	xt_write(env.priv, 0, "/t/a", "4", "OK");
	xt_event(w, "/t/a", "tok");
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "EAGAIN");
	assert_false(xt_pending(w));
	/* The committer's own watch hears before the OK. */
	xt_watch(env.priv, "/t/a", "own");
	t = xt_txn(env.priv);
	xt_write(env.priv, t, "/t/a", "5", "OK");
	xt_write(env.priv, t, "/t/a", "6", "OK"); /* one event per node */
	xt_send(env.priv, XS_TRANSACTION_END, t, XT_S("T\0"));
	xt_event(env.priv, "/t/a", "own");
	xt_recv(env.priv, &m);
	assert_int_equal(m.hdr.type, XS_TRANSACTION_END);
	assert_string_equal(m.data, "OK");
	xt_event(w, "/t/a", "tok");
	assert_false(xt_pending(w));
	xsd_conn_free(w);
	clean();
}

/* catalogue: X12 X20 */
static void
test_create_delete(void **state)
{
	struct xsd_conn *d5 = xt_dom(&env, 5);
	const struct xsd_domain *d;
	uint32_t t;

	xt_op(env.priv, XS_MKDIR, 0, "/t/5", "OK");
	xt_chmod(env.priv, 0, "/t/5", XT_S("n5"), "OK");
	d = xsd_dom_find(env.core, 5);
	assert_int_equal(d->d_nodes, 1);
	/* Created and deleted in one transaction (XSA-421). */
	t = xt_txn(d5);
	xt_write(d5, t, "/t/5/a/b/c", "1", "OK");
	xt_op(d5, XS_RM, t, "/t/5/a", "OK");
	xt_write(d5, t, "/t/5/k", "1", "OK");
	xt_op(d5, XS_TRANSACTION_END, t, "T", "OK");
	assert_int_equal(d->d_nodes, 2);
	xt_dir(env.priv, 0, "/t/5", "k");
	/* Removed outside before commit (XSA-440): EAGAIN, no crash. */
	t = xt_txn(d5);
	xt_op(d5, XS_RM, t, "/t/5/k", "OK");
	xt_op(env.priv, XS_RM, 0, "/t/5/k", "OK");
	assert_int_equal(d->d_nodes, 1);
	xt_op(d5, XS_TRANSACTION_END, t, "T", "EAGAIN");
	assert_int_equal(d->d_nodes, 1);
	assert_int_equal(xsd_core_check(env.core), 0);
	xsd_conn_free(d5);
	clean();
}

/* catalogue: X15 X20 */
static void
test_reset_watches(void **state)
{
	struct xsd_conn *d5 = xt_dom(&env, 5);
	uint32_t t, u;

	xt_op(env.priv, XS_MKDIR, 0, "/t/5", "OK");
	xt_chmod(env.priv, 0, "/t/5", XT_S("n5"), "OK");
	xt_watch(d5, "/t/5", "w");
	t = xt_txn(d5);
	u = xt_txn(d5);
	xt_write(d5, t, "/t/5/x", "1", "OK");
	/* XSA-484: inside a transaction, naming it; it goes with the rest. */
	xt_expect(d5, XS_RESET_WATCHES, t, XT_S("\0"), "OK");
	xt_op(d5, XS_TRANSACTION_END, t, "T", "ENOENT");
	xt_op(d5, XS_TRANSACTION_END, u, "F", "ENOENT");
	xt_read_err(env.priv, 0, "/t/5/x", "ENOENT");
	/* The watch is gone too; repeating is harmless (XSA-330). */
	xt_write(env.priv, 0, "/t/5/y", "1", "OK");
	assert_false(xt_pending(d5));
	xt_expect(d5, XS_RESET_WATCHES, 0, XT_S("\0"), "OK");
	xt_expect(d5, XS_RESET_WATCHES, 7, XT_S(""), "OK");
	/* Ids go on after a reset. */
	assert_int_equal(xt_txn(d5), 3);
	assert_int_equal(xsd_dom_find(env.core, 5)->d_watches, 0);
	xsd_conn_free(d5);
	assert_int_equal(xt_mem_beyond_nodes(env.core, 5), 0);
	clean();
}

static void
test_domain_gone(void **state)
{
	struct xsd_conn *d6 = xt_dom(&env, 6), *d6b;
	uint32_t t;

	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("5\0"
		 "1\0"
		 "1\0"),
	    "OK");
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("6\0"
		 "1\0"
		 "1\0"),
	    "OK");
	xt_write(env.priv, 0, "/t/x", "", "OK");
	xt_write(env.priv, 0, "/t/y", "", "OK");
	/* Given to domain 5 in a transaction, 5 released meanwhile. */
	t = xt_txn(env.priv);
	xt_chmod(env.priv, t, "/t/x", XT_S("n5"), "OK");
	xt_op(env.priv, XS_RELEASE, 0, "5", "OK");
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "EAGAIN");
	xt_perms(env.priv, "/t/x", "n0");
	/* Read access for 6, 6 released meanwhile: the entry is void. */
	t = xt_txn(env.priv);
	xt_chmod(env.priv, t, "/t/y", XT_S("n0\0r6"), "OK");
	xt_op(env.priv, XS_RELEASE, 0, "6", "OK");
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "OK");
	xt_perms(env.priv, "/t/y", "n0,r6");
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("6\0"
		 "1\0"
		 "1\0"),
	    "OK");
	d6b = xt_dom(&env, 6);
	xt_read_err(d6b, 0, "/t/y", "EACCES");
	xt_op(env.priv, XS_RELEASE, 0, "6", "OK");
	xsd_conn_free(d6);
	xsd_conn_free(d6b);
	clean();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_bad_ids),
		cmocka_unit_test(test_commit_abort),
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_create_delete),
		cmocka_unit_test(test_reset_watches),
		cmocka_unit_test(test_domain_gone),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
