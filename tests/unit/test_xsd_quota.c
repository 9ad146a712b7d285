/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: xenstored quotas of domain connections, each at its
 * boundary: the limit accepted, one more refused.  Nodes per domain
 * (1000, ENOSPC, all-or-nothing on multi-level creation: XSA-414/415,
 * inside transactions and at commit), entry size (2048 bytes of 4.17's
 * stored record, the parent's child list included), watches (128; the
 * 129th still succeeds as in 4.17, the 130th is E2BIG), transactions
 * (10; the 11th still opens), perms per SET_PERMS (5), nodes touched by
 * one transaction (1024; the transaction then fails), outstanding
 * replies (20: the 21st request waits), the memory quota (which bounds
 * a domain's nodes and queued output too, XSA-326), and the
 * pending-event bound that drops a client that never reads.  The
 * privileged connection is exempt from all of them.
 */

#include <errno.h>

#include "test_xsd.h"

static struct xt_env env;
static struct xsd_conn *d5;

static void
env_up(const struct xsd_opts *o)
{
	xt_env_init(&env, o);
	d5 = xt_dom(&env, 5);
	xt_op(env.priv, XS_MKDIR, 0, "/local/domain/5", "OK");
	xt_chmod(env.priv, 0, "/local/domain/5", XT_S("n5"), "OK");
}

static int
setup(void **state)
{
	env_up(NULL);
	return (0);
}

static int
teardown(void **state)
{
	xt_env_fini(&env);
	return (0);
}

static long
owned(unsigned int domid)
{
	return (xsd_dom_find(env.core, domid)->d_nodes);
}

/* catalogue: X12 */
static void
test_nodes(void **state)
{
	char path[64];
	uint32_t t1, t2;
	int d, c;

	/* The home (1), 24 dirs of 1 + 40, one of 1 + 14: 1000 nodes. */
	for (d = 0; d < 25; d++) {
		for (c = 0; c < (d < 24 ? 40 : 14); c++) {
			snprintf(path, sizeof(path), "d%02d/c%02d", d, c);
			xt_write(d5, 0, path, "", "OK");
		}
	}
	assert_int_equal(owned(5), 1000);
	xt_write(d5, 0, "d24/c14", "", "ENOSPC");
	xt_op(d5, XS_MKDIR, 0, "d25", "ENOSPC");
	/* Two levels with room for one: neither is created (XSA-415). */
	xt_op(d5, XS_RM, 0, "d24/c13", "OK");
	xt_write(d5, 0, "x/y", "", "ENOSPC");
	xt_read_err(d5, 0, "x", "ENOENT");
	assert_int_equal(owned(5), 999);
	/* In a transaction, the same count (global + its own changes). */
	t1 = xt_txn(d5);
	xt_write(d5, t1, "x", "", "OK");
	xt_write(d5, t1, "y", "", "ENOSPC");
	xt_op(d5, XS_RM, t1, "d24/c12", "OK");
	xt_write(d5, t1, "y", "", "OK");
	xt_op(d5, XS_TRANSACTION_END, t1, "T", "OK");
	assert_int_equal(owned(5), 1000);
	/* Each fits alone, both do not: the second commit says ENOSPC. */
	xt_op(d5, XS_RM, 0, "x", "OK");
	xt_op(d5, XS_RM, 0, "y", "OK");
	t1 = xt_txn(d5);
	t2 = xt_txn(d5);
	xt_write(d5, t1, "d00/n", "", "OK");
	xt_write(d5, t1, "d01/n", "", "OK");
	xt_write(d5, t2, "d02/n", "", "OK");
	xt_write(d5, t2, "d03/n", "", "OK");
	xt_op(d5, XS_TRANSACTION_END, t1, "T", "OK");
	xt_op(d5, XS_TRANSACTION_END, t2, "T", "ENOSPC");
	assert_int_equal(owned(5), 1000);
	/* The privileged connection is not held to it. */
	xt_write(env.priv, 0, "/local/domain/5/more", "", "OK");
	assert_int_equal(owned(5), 1001);
	xt_op(env.priv, XS_RM, 0, "/local/domain/5", "OK");
	assert_int_equal(owned(5), 0);
	xt_op(env.priv, XS_MKDIR, 0, "/local/domain/5", "OK");
	xt_chmod(env.priv, 0, "/local/domain/5", XT_S("n5"), "OK");
}

/* catalogue: X11 */
static void
test_entry_size(void **state)
{
	char buf[XENSTORE_PAYLOAD_MAX], val[XENSTORE_PAYLOAD_MAX];

	memset(val, 'v', sizeof(val));
	/* 24 + 8 (one perm) + 2016 = 2048: accepted; 2017 is not. */
	xt_expect(d5, XS_WRITE, 0, buf, xt_pv(buf, sizeof(buf), "e", val, 2016),
	    "OK");
	xt_expect(d5, XS_WRITE, 0, buf, xt_pv(buf, sizeof(buf), "e", val, 2017),
	    "ENOSPC");
	xt_expect(d5, XS_WRITE, 0, buf, xt_pv(buf, sizeof(buf), "f", val, 2017),
	    "ENOSPC");
	xt_read_err(d5, 0, "f", "ENOENT");
	/* The child list counts: 24 + 8 + 2012 + "abc\0" = 2048. */
	xt_expect(d5, XS_WRITE, 0, buf, xt_pv(buf, sizeof(buf), "e", val, 2012),
	    "OK");
	xt_op(d5, XS_MKDIR, 0, "e/abc", "OK");
	xt_op(d5, XS_MKDIR, 0, "e/d", "ENOSPC");
	/* More perms, bigger record. */
	xt_chmod(d5, 0, "e/abc", XT_S("n5\0r0"), "OK");
	xt_chmod(d5, 0, "e", XT_S("n5\0r0"), "ENOSPC");
	/* Privileged: any size the payload carries. */
	xt_expect(env.priv, XS_WRITE, 0, buf,
	    xt_pv(buf, sizeof(buf), "/local/domain/5/e", val, 4000), "OK");
	xt_op(d5, XS_RM, 0, "e", "OK");
}

/* catalogue: X13 */
static void
test_watches(void **state)
{
	char buf[64];
	int i;

	for (i = 0; i < 129; i++) {
		snprintf(buf, sizeof(buf), "w%d", i);
		xt_watch(d5, "/local/domain/5", buf);
	}
	/* 4.17 checks "count > 128": the 129th got in, the 130th not. */
	xt_expect(d5, XS_WATCH, 0, XT_S("/local/domain/5\0w129\0"), "E2BIG");
	xt_expect(d5, XS_UNWATCH, 0, XT_S("/local/domain/5\0w0\0"), "OK");
	xt_expect(d5, XS_WATCH, 0, XT_S("/local/domain/5\0w129\0"), "OK");
	xt_drain(d5);
	/* Per domain: another connection of domain 5 shares the count. */
	{
		struct xsd_conn *other = xt_dom(&env, 5);

		xt_expect(other, XS_WATCH, 0, XT_S("/x\0y\0"), "E2BIG");
		xsd_conn_free(other);
	}
	for (i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf), "p%d", i);
		xt_watch(env.priv, "/tool", buf);
	}
	xt_expect(d5, XS_RESET_WATCHES, 0, XT_S("\0"), "OK");
	xt_expect(env.priv, XS_RESET_WATCHES, 0, XT_S("\0"), "OK");
	assert_int_equal(xsd_dom_find(env.core, 5)->d_watches, 0);
}

/* catalogue: X15 */
static void
test_transactions(void **state)
{
	uint32_t first;
	int i;

	first = xt_txn(d5);
	for (i = 1; i < 11; i++)
		assert_int_equal(xt_txn(d5), first + (uint32_t)i);
	/* 4.17 checks "started > 10": the 11th opened, the 12th does not. */
	xt_expect(d5, XS_TRANSACTION_START, 0, XT_S("\0"), "ENOSPC");
	xt_op(d5, XS_TRANSACTION_END, first + 2, "F", "OK");
	assert_int_equal(xt_txn(d5), first + 11);
	for (i = 0; i < 50; i++)
		(void)xt_txn(env.priv);
	xt_expect(d5, XS_RESET_WATCHES, 0, XT_S("\0"), "OK");
	xt_expect(env.priv, XS_RESET_WATCHES, 0, XT_S("\0"), "OK");
}

/* catalogue: X16 */
static void
test_perms(void **state)
{
	xt_write(d5, 0, "p", "", "OK");
	xt_chmod(d5, 0, "p", XT_S("n5\0r1\0r2\0r3\0r4"), "OK");
	xt_chmod(d5, 0, "p", XT_S("n5\0r1\0r2\0r3\0r4\0r6"), "ENOSPC");
	xt_perms(d5, "p", "n5,r1,r2,r3,r4");
	xt_chmod(env.priv, 0, "/local/domain/5/p",
	    XT_S("n5\0r1\0r2\0r3\0r4\0r6\0r7"), "OK");
	xt_op(d5, XS_RM, 0, "p", "OK");
}

/* catalogue: X15 */
static void
test_txn_nodes(void **state)
{
	char path[64];
	uint32_t t;
	int i;

	t = xt_txn(d5);
	xt_read(d5, t, "/local/domain/5", "");
	/* 1 + 1023 missing nodes, each recorded: 1024 accepted. */
	for (i = 0; i < 1023; i++) {
		snprintf(path, sizeof(path), "m%d", i);
		xt_read_err(d5, t, path, "ENOENT");
	}
	xt_read(d5, t, "/local/domain/5", ""); /* known: no new record */
	xt_read_err(d5, t, "m0", "ENOENT");
	xt_read_err(d5, t, "m1023", "ENOSPC");
	/* The transaction failed: commit gives ENOMEM. */
	xt_op(d5, XS_TRANSACTION_END, t, "T", "ENOMEM");
	/* RM of a subtree bigger than that (XSA-326): the same, no change. */
	for (i = 0; i < 1100; i++) {
		snprintf(path, sizeof(path), "/local/domain/5/big/%d/x",
		    i % 50);
		xt_write(env.priv, 0, path, "", "OK");
		snprintf(path, sizeof(path), "/local/domain/5/big/%d/y%d",
		    i % 50, i);
		xt_write(env.priv, 0, path, "", "OK");
	}
	t = xt_txn(d5);
	xt_op(d5, XS_RM, t, "big", "ENOSPC");
	xt_op(d5, XS_TRANSACTION_END, t, "T", "ENOMEM");
	xt_op(d5, XS_RM, 0, "big", "OK");
	/* Privileged: no limit. */
	t = xt_txn(env.priv);
	for (i = 0; i < 1100; i++) {
		snprintf(path, sizeof(path), "/local/domain/5/m%d", i);
		xt_read_err(env.priv, t, path, "ENOENT");
	}
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "OK");
	assert_int_equal(xt_mem_beyond_nodes(env.core, 5), 0);
}

/* catalogue: X7 */
static void
test_outstanding(void **state)
{
	struct xt_msg m;
	int i;

	/* 21 requests, nothing read: 20 answered, the 21st waits. */
	for (i = 0; i < 21; i++)
		xt_send(d5, XS_READ, 0, XT_S("/local/domain/5\0"));
	assert_int_equal(d5->c_nreplies, 20);
	assert_int_equal(xsd_conn_input_room(d5), 0);
	/* Bytes still go into the bounded buffer, none beyond. */
	xt_send(d5, XS_READ, 0, XT_S("/local/domain/5\0"));
	assert_int_equal(d5->c_nreplies, 20);
	xt_recv(d5, &m);
	assert_int_equal(m.hdr.type, XS_READ);
	/* One read: one more answered. */
	assert_int_equal(d5->c_nreplies, 20);
	for (i = 0; i < 21; i++)
		xt_recv(d5, &m);
	assert_false(xt_pending(d5));
	assert_true(xsd_conn_input_room(d5) > 0);
	/* The privileged connection is only held at 256. */
	for (i = 0; i < 100; i++)
		xt_send(env.priv, XS_READ, 0, XT_S("/tool\0"));
	assert_int_equal(env.priv->c_nreplies, 100);
	xt_drain(env.priv);
}

/* catalogue: X21 */
static void
test_memory(void **state)
{
	struct xsd_opts o;
	char buf[XENSTORE_PAYLOAD_MAX];
	uint32_t t;
	int i;

	xt_env_fini(&env);
	xsd_opts_init(&o);
	env_up(&o);
	/*
	 * Watches are charged: long tokens run out.  Room for two and the
	 * first event of each (as big as the watch), drained meanwhile.
	 */
	env.core->x_opts.o_memory = xsd_dom_find(env.core, 5)->d_mem +
	    3 * (sizeof(struct xsd_watch) + 3 + 2997) + 64;
	memset(buf, 't', sizeof(buf));
	memcpy(buf, "/x\0", 3);
	buf[2999] = '\0';
	xt_expect(d5, XS_WATCH, 0, buf, 3000, "OK");
	xt_drain(d5);
	buf[3] = 'u';
	xt_expect(d5, XS_WATCH, 0, buf, 3000, "OK");
	xt_drain(d5);
	buf[3] = 'v';
	buf[2999] = 't';
	buf[3499] = '\0';
	xt_expect(d5, XS_WATCH, 0, buf, 3500, "ENOMEM");
	xt_expect(d5, XS_RESET_WATCHES, 0, XT_S("\0"), "OK");
	xt_drain(d5);
	/* Transaction copies are charged: the transaction fails. */
	t = xt_txn(d5);
	for (i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf), "m%d", i);
		xt_req(d5, XS_READ, t, buf, strlen(buf) + 1,
		    &(struct xt_msg) { 0 });
	}
	xt_read_err(d5, t, "one-more-node", "ENOMEM");
	xt_op(d5, XS_TRANSACTION_END, t, "T", "ENOMEM");
	assert_int_equal(xt_mem_beyond_nodes(env.core, 5), 0);
	/* Privileged: not charged. */
	t = xt_txn(env.priv);
	for (i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf), "/m%d", i);
		xt_read_err(env.priv, t, buf, "ENOENT");
	}
	xt_op(env.priv, XS_TRANSACTION_END, t, "T", "OK");
}

/*
 * XSA-326: the memory quota holds everything a domain makes the daemon
 * keep.  Its nodes: writes of big values stop at the quota, well below
 * the node quota.  A reply it does not read while over the quota: the
 * next request waits.  Events queued for it: over the quota, the
 * connection is dropped long before o_watch_events.
 */
/* catalogue: X21 */
static void
test_memory_all(void **state)
{
	static char val[2000];
	struct xsd_opts o;
	char path[1500], buf[XENSTORE_PAYLOAD_MAX];
	struct xt_msg m;
	size_t len;
	int i;

	xt_env_fini(&env);
	xsd_opts_init(&o);
	o.o_memory = 64 * 1024;
	env_up(&o);
	memset(val, 'v', sizeof(val));
	for (i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "/local/domain/5/n%d", i);
		len = xt_pv(buf, sizeof(buf), path, val, sizeof(val));
		xt_req(d5, XS_WRITE, 0, buf, len, &m);
		if (m.hdr.type == XS_ERROR)
			break;
	}
	assert_string_equal(m.data, "ENOMEM");
	assert_true(i > 20 && i < 32);
	assert_true(xsd_dom_find(env.core, 5)->d_mem <= o.o_memory);
	assert_int_equal(xsd_core_check(env.core), 0);
	/* Reads of 2000 bytes: one reply over the quota, then it waits. */
	for (i = 0; i < 4; i++)
		xt_send(d5, XS_READ, 0, XT_S("/local/domain/5/n0\0"));
	assert_true(d5->c_nreplies < 4);
	assert_int_equal(xsd_conn_input_room(d5), 0);
	for (i = 0; i < 4; i++) {
		xt_recv(d5, &m);
		assert_int_equal(m.hdr.type, XS_READ);
	}
	assert_false(xt_pending(d5));
	/* Room for a watch with a long token; its events fill the rest. */
	xt_op(d5, XS_RM, 0, "/local/domain/5/n1", "OK");
	xt_op(d5, XS_RM, 0, "/local/domain/5/n2", "OK");
	memset(path, 'w', sizeof(path));
	path[sizeof(path) - 1] = '\0';
	xt_watch(d5, "/local/domain/5", path);
	for (i = 0; i < 100 && !xsd_conn_is_closing(d5); i++) {
		snprintf(buf, sizeof(buf), "/local/domain/5/e%d", i);
		xt_write(env.priv, 0, buf, "", "OK");
	}
	assert_true(xsd_conn_is_closing(d5));
	assert_true(i < 10);
	assert_int_equal(xsd_core_check(env.core), 0);
	xsd_core_reap(env.core);
	assert_int_equal(xt_mem_beyond_nodes(env.core, 5), 0);
}

/* catalogue: X14 */
static void
test_event_bound(void **state)
{
	struct xsd_conn *w0;
	struct xsd_opts o;
	char path[64];
	int i;

	xt_env_fini(&env);
	xsd_opts_init(&o);
	o.o_watch_events = 8;
	env_up(&o);
	w0 = xt_dom(&env, 0);
	xt_watch(d5, "/local/domain/5", "w");
	xt_watch(w0, "/local/domain/5", "w");
	/* 8 pending events are kept; the 9th drops the client. */
	for (i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "/local/domain/5/n%d", i);
		xt_write(env.priv, 0, path, "", "OK");
	}
	assert_false(xsd_conn_is_closing(d5));
	xt_write(env.priv, 0, "/local/domain/5/n8", "", "OK");
	assert_true(xsd_conn_is_closing(d5));
	assert_int_equal(xsd_conn_input(d5, "x", 1), -EPIPE);
	/* Everyone else carries on; privileged watchers are held at 64k. */
	assert_false(xsd_conn_is_closing(w0));
	for (i = 0; i < 9; i++)
		xt_recv(w0, &(struct xt_msg) { 0 });
	assert_int_equal(xsd_dom_find(env.core, 5)->d_watches, 0);
	xt_read(env.priv, 0, "/local/domain/5/n8", "");
	xsd_conn_free(w0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nodes),
		cmocka_unit_test(test_entry_size),
		cmocka_unit_test(test_watches),
		cmocka_unit_test(test_transactions),
		cmocka_unit_test(test_perms),
		cmocka_unit_test(test_txn_nodes),
		cmocka_unit_test(test_outstanding),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_memory_all),
		cmocka_unit_test(test_event_bound),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
