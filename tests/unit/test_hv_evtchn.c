/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: simulated event channels, in-process and through the
 * `xbd hv` daemon (docs/hypervisor.md 3, docs/reliability.md 6.4 H5): binding
 * with its spurious first event, notify in both directions, coalescing
 * (several notifies, one event), masking until unmask, a port closed on
 * one end returning the other to unbound (and rebinding), notifies on an
 * unbound port dropped, a closed handle whose port number is reused
 * never receiving stale events, round-robin fairness, a notification
 * storm, loopback, and every error code.
 */

#include <pthread.h>
#include <stdatomic.h>

#include "test_hv_fixture.h"

/* A bound pair: dom1's port p1 (handle h1) <-> dom0's p0 (handle h0). */
struct pair {
	struct plat_evtchn *h0, *h1;
	evtchn_port_t p0, p1;
};

/* Take the one pending port of h (it must be ready within a second). */
static evtchn_port_t
take(struct plat_evtchn *h)
{
	evtchn_port_t port;

	assert_true(fx_readable(plat_evtchn_fd(h), 1000));
	assert_int_equal(plat_evtchn_pending(h, &port), 0);
	return (port);
}

/* Nothing pending on h (and its fd, once drained, stays quiet). */
static void
quiet(struct plat_evtchn *h)
{
	evtchn_port_t port;

	assert_int_equal(plat_evtchn_pending(h, &port), -EAGAIN);
	assert_false(fx_readable(plat_evtchn_fd(h), 0));
}

static void
pair_open(struct fx *fx, struct pair *pr)
{
	assert_int_equal(plat_evtchn_open(fx->fx_d0, &pr->h0), 0);
	assert_int_equal(plat_evtchn_open(fx->fx_d1, &pr->h1), 0);
	assert_int_equal(plat_evtchn_bind_unbound(pr->h1, 0, &pr->p1), 0);
	assert_true(pr->p1 >= 1);
	assert_int_equal(
	    plat_evtchn_bind_interdomain(pr->h0, 1, pr->p1, &pr->p0), 0);
	/* Xen's spurious first event on the new local port. */
	assert_int_equal(take(pr->h0), pr->p0);
	assert_int_equal(plat_evtchn_unmask(pr->h0, pr->p0), 0);
	quiet(pr->h0);
	quiet(pr->h1);
}

static void
pair_close(struct pair *pr)
{
	plat_evtchn_close(pr->h0);
	plat_evtchn_close(pr->h1);
}

static void
test_notify_both_ways(void **state)
{
	struct fx *fx = *state;
	struct plat_stats st;
	struct pair pr;

	pair_open(fx, &pr);
	assert_int_equal(plat_evtchn_notify(pr.h0, pr.p0), 0);
	assert_int_equal(take(pr.h1), pr.p1);
	assert_int_equal(plat_evtchn_unmask(pr.h1, pr.p1), 0);
	quiet(pr.h1);
	assert_int_equal(plat_evtchn_notify(pr.h1, pr.p1), 0);
	assert_int_equal(take(pr.h0), pr.p0);
	assert_int_equal(plat_evtchn_unmask(pr.h0, pr.p0), 0);
	quiet(pr.h0);
	plat_stats(fx->fx_d0, &st);
	assert_int_equal(st.ps_notify, 1);
	assert_int_equal(st.ps_events, 2); /* the spurious one + one */
	pair_close(&pr);
}

static void
test_coalescing(void **state)
{
	struct fx *fx = *state;
	struct plat_stats st;
	struct pair pr;
	int i;

	pair_open(fx, &pr);
	for (i = 0; i < 5; i++)
		assert_int_equal(plat_evtchn_notify(pr.h0, pr.p0), 0);
	assert_int_equal(take(pr.h1), pr.p1);
	quiet(pr.h1);
	plat_stats(fx->fx_d0, &st);
	assert_int_equal(st.ps_notify, 1);
	assert_int_equal(st.ps_notify_skip, 4);
	plat_stats(fx->fx_d1, &st);
	assert_int_equal(st.ps_events, 1);
	pair_close(&pr);
}

/* catalogue: H5 */
static void
test_masking(void **state)
{
	struct fx *fx = *state;
	struct pair pr;

	pair_open(fx, &pr);
	assert_int_equal(plat_evtchn_notify(pr.h0, pr.p0), 0);
	assert_int_equal(take(pr.h1), pr.p1);
	/* Taken: masked until unmask; notifies leave it pending, silently. */
	assert_int_equal(plat_evtchn_notify(pr.h0, pr.p0), 0);
	assert_int_equal(plat_evtchn_notify(pr.h0, pr.p0), 0);
	quiet(pr.h1);
	/* Unmask delivers what arrived meanwhile, once. */
	assert_int_equal(plat_evtchn_unmask(pr.h1, pr.p1), 0);
	assert_int_equal(take(pr.h1), pr.p1);
	quiet(pr.h1);
	assert_int_equal(plat_evtchn_unmask(pr.h1, pr.p1), 0);
	quiet(pr.h1);
	pair_close(&pr);
}

static void
test_close_returns_unbound(void **state)
{
	struct fx *fx = *state;
	struct hv_port *q;
	struct pair pr;
	evtchn_port_t again;

	pair_open(fx, &pr);
	assert_int_equal(plat_evtchn_unbind(pr.h1, pr.p1), 0);
	assert_int_equal(plat_evtchn_unbind(pr.h1, pr.p1), -ENOTCONN);
	q = hv_port_at(fx_shm(fx->fx_d0), fx_slot(fx->fx_d0), pr.p0);
	assert_int_equal(atomic_load(&q->ec_state), HV_PORT_UNBOUND);
	assert_int_equal(atomic_load(&q->ec_remote_dom), 1);
	/* A notify on the now unbound port is dropped, not an error. */
	assert_int_equal(plat_evtchn_notify(pr.h0, pr.p0), 0);
	quiet(pr.h1);
	assert_int_equal(plat_evtchn_notify(pr.h1, pr.p1), -ENOTCONN);
	/* Domain 1 may bind to it again. */
	assert_int_equal(plat_evtchn_bind_interdomain(pr.h1, 0, pr.p0, &again),
	    0);
	assert_int_equal(take(pr.h1), again);
	assert_int_equal(plat_evtchn_unmask(pr.h1, again), 0);
	assert_int_equal(plat_evtchn_notify(pr.h0, pr.p0), 0);
	assert_int_equal(take(pr.h1), again);
	pair_close(&pr);
	/* Closing the handle closed dom0's port too. */
	assert_int_equal(atomic_load(&q->ec_state), HV_PORT_FREE);
}

/* catalogue: H5 */
static void
test_notify_unbound_dropped(void **state)
{
	struct fx *fx = *state;
	struct plat_evtchn *h;
	struct plat_stats st;
	evtchn_port_t p;

	assert_int_equal(plat_evtchn_open(fx->fx_d1, &h), 0);
	assert_int_equal(plat_evtchn_bind_unbound(h, 0, &p), 0);
	assert_int_equal(plat_evtchn_notify(h, p), 0);
	quiet(h);
	plat_stats(fx->fx_d1, &st);
	assert_int_equal(st.ps_notify, 0);
	plat_evtchn_close(h);
}

/* catalogue: H5 */
static void
test_errors(void **state)
{
	struct fx *fx = *state;
	struct plat_evtchn *h0, *h1, *h1b;
	evtchn_port_t p1, p1b, p5, out;

	assert_int_equal(plat_evtchn_open(fx->fx_d0, &h0), 0);
	assert_int_equal(plat_evtchn_open(fx->fx_d1, &h1), 0);
	assert_int_equal(plat_evtchn_open(fx->fx_d1, &h1b), 0);
	assert_int_equal(plat_evtchn_bind_unbound(h1, 0, &p1), 0);
	assert_int_equal(plat_evtchn_bind_unbound(h1b, 0, &p1b), 0);
	assert_true(p1b != p1);
	/* Not bound through this handle (another handle's, 0, huge). */
	assert_int_equal(plat_evtchn_notify(h1b, p1), -ENOTCONN);
	assert_int_equal(plat_evtchn_notify(h1, 0), -ENOTCONN);
	assert_int_equal(plat_evtchn_notify(h1, 100000), -ENOTCONN);
	assert_int_equal(plat_evtchn_unmask(h1b, p1), -ENOTCONN);
	assert_int_equal(plat_evtchn_unbind(h1b, p1), -ENOTCONN);
	/* Binding: no such domain, no such port, not unbound, not for us. */
	assert_int_equal(plat_evtchn_bind_unbound(h1, 9, &out), -ESRCH);
	assert_int_equal(plat_evtchn_bind_interdomain(h0, 9, p1, &out), -ESRCH);
	assert_int_equal(plat_evtchn_bind_interdomain(h0, 1, 0, &out), -EINVAL);
	assert_int_equal(plat_evtchn_bind_interdomain(h0, 1, FX_PORTS, &out),
	    -EINVAL);
	assert_int_equal(
	    plat_evtchn_bind_interdomain(h0, 1, FX_PORTS - 1, &out), -EINVAL);
	assert_int_equal(plat_evtchn_bind_unbound(h1, 1, &p5), 0);
	assert_int_equal(plat_evtchn_bind_interdomain(h0, 1, p5, &out),
	    -EINVAL); /* reserved for domain 1 itself */
	assert_int_equal(plat_evtchn_bind_interdomain(h0, 1, p1, &out), 0);
	assert_int_equal(plat_evtchn_bind_interdomain(h0, 1, p1, &out),
	    -EINVAL); /* already interdomain */
	plat_evtchn_close(h0);
	plat_evtchn_close(h1);
	plat_evtchn_close(h1b);
}

/* A port number reused by a new handle gets nothing meant for the old. */
/* catalogue: H5 */
static void
test_stale_handle(void **state)
{
	struct fx *fx = *state;
	struct plat_evtchn *h1;
	struct pair pr;
	evtchn_port_t p;

	pair_open(fx, &pr);
	/* Warm dom0's cache of the peer handle's fd. */
	assert_int_equal(plat_evtchn_notify(pr.h0, pr.p0), 0);
	assert_int_equal(take(pr.h1), pr.p1);
	plat_evtchn_close(pr.h1);
	assert_int_equal(plat_evtchn_open(fx->fx_d1, &h1), 0);
	assert_int_equal(plat_evtchn_bind_unbound(h1, 0, &p), 0);
	assert_int_equal(p, pr.p1); /* lowest free port: the same number */
	assert_int_equal(plat_evtchn_notify(pr.h0, pr.p0), 0);
	quiet(h1);
	/* Once bound to the new port, events flow to the new handle. */
	assert_int_equal(plat_evtchn_unbind(pr.h0, pr.p0), 0);
	assert_int_equal(plat_evtchn_bind_interdomain(pr.h0, 1, p, &pr.p0), 0);
	assert_int_equal(take(pr.h0), pr.p0);
	assert_int_equal(plat_evtchn_unmask(pr.h0, pr.p0), 0);
	assert_int_equal(plat_evtchn_notify(pr.h0, pr.p0), 0);
	assert_int_equal(take(h1), p);
	plat_evtchn_close(pr.h0);
	plat_evtchn_close(h1);
}

static void
test_round_robin(void **state)
{
	struct fx *fx = *state;
	struct plat_evtchn *h0, *h1;
	evtchn_port_t p1[3], p0[3], got;
	unsigned int i, seen[3] = { 0 }, k;

	assert_int_equal(plat_evtchn_open(fx->fx_d0, &h0), 0);
	assert_int_equal(plat_evtchn_open(fx->fx_d1, &h1), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(plat_evtchn_bind_unbound(h1, 0, &p1[i]), 0);
		assert_int_equal(
		    plat_evtchn_bind_interdomain(h0, 1, p1[i], &p0[i]), 0);
	}
	/* Three spurious events on h0, one per port, each once. */
	for (i = 0; i < 3; i++) {
		got = take(h0);
		assert_int_equal(plat_evtchn_unmask(h0, got), 0);
	}
	quiet(h0);
	/*
	 * Port 0 fires again every time it is handled: the others must
	 * still get their turn.
	 */
	for (i = 0; i < 3; i++)
		assert_int_equal(plat_evtchn_notify(h0, p0[i]), 0);
	for (k = 0; k < 6; k++) {
		got = take(h1);
		for (i = 0; i < 3; i++)
			if (got == p1[i])
				seen[i]++;
		assert_int_equal(plat_evtchn_unmask(h1, got), 0);
		assert_int_equal(plat_evtchn_notify(h0, p0[0]), 0);
	}
	assert_true(seen[1] >= 1 && seen[2] >= 1);
	plat_evtchn_close(h0);
	plat_evtchn_close(h1);
}

static void
test_loopback(void **state)
{
	struct fx *fx = *state;
	struct plat_evtchn *h;
	evtchn_port_t a, b;

	assert_int_equal(plat_evtchn_open(fx->fx_d1, &h), 0);
	assert_int_equal(plat_evtchn_bind_unbound(h, DOMID_SELF, &a), 0);
	assert_int_equal(plat_evtchn_bind_interdomain(h, DOMID_SELF, a, &b), 0);
	assert_int_equal(take(h), b);
	assert_int_equal(plat_evtchn_unmask(h, b), 0);
	assert_int_equal(plat_evtchn_notify(h, b), 0);
	assert_int_equal(take(h), a);
	plat_evtchn_close(h);
}

/* A notification storm while the other side keeps handling (H5). */
#define STORM_NOTIFIES 100000

struct storm {
	struct plat_evtchn *s_h; /* receiving handle */
	_Atomic int s_stop;	 /* sender finished */
	unsigned long s_events;	 /* events taken */
};

static void *
storm_rx(void *arg)
{
	struct storm *s = arg;
	evtchn_port_t port;

	for (;;) {
		if (!fx_readable(plat_evtchn_fd(s->s_h), 50)) {
			if (atomic_load(&s->s_stop))
				break;
			continue;
		}
		while (plat_evtchn_pending(s->s_h, &port) == 0) {
			s->s_events++;
			assert_int_equal(plat_evtchn_unmask(s->s_h, port), 0);
		}
	}
	return (NULL);
}

/* catalogue: H5 */
static void
test_storm(void **state)
{
	struct fx *fx = *state;
	struct plat_stats st;
	struct storm s;
	struct pair pr;
	pthread_t th;
	int i;

	pair_open(fx, &pr);
	memset(&s, 0, sizeof(s));
	s.s_h = pr.h1;
	assert_int_equal(pthread_create(&th, NULL, storm_rx, &s), 0);
	for (i = 0; i < STORM_NOTIFIES; i++)
		assert_int_equal(plat_evtchn_notify(pr.h0, pr.p0), 0);
	atomic_store(&s.s_stop, 1);
	pthread_join(th, NULL);
	plat_stats(fx->fx_d0, &st);
	print_message("storm: %d notifies, %lu signalled, %lu coalesced, "
		      "%lu events\n",
	    STORM_NOTIFIES, (unsigned long)st.ps_notify,
	    (unsigned long)st.ps_notify_skip, s.s_events);
	assert_int_equal(st.ps_notify + st.ps_notify_skip, STORM_NOTIFIES);
	/* Each event consumed at least one notify that found it clear. */
	assert_true(s.s_events >= 1 && s.s_events <= STORM_NOTIFIES);
	/* Nothing is lost: a final notify still arrives. */
	assert_int_equal(plat_evtchn_notify(pr.h0, pr.p0), 0);
	assert_int_equal(take(pr.h1), pr.p1);
	pair_close(&pr);
}

/* A thread blocked in poll() wakes up for a notify from another. */
struct waiter {
	struct plat_evtchn *w_h; /* handle polled */
	evtchn_port_t w_port;	 /* what it took */
};

static void *
waiter_run(void *arg)
{
	struct waiter *w = arg;

	assert_true(fx_readable(plat_evtchn_fd(w->w_h), 5000));
	assert_int_equal(plat_evtchn_pending(w->w_h, &w->w_port), 0);
	return (NULL);
}

static void
test_wakeup(void **state)
{
	struct fx *fx = *state;
	struct waiter w;
	struct pair pr;
	pthread_t th;

	pair_open(fx, &pr);
	w.w_h = pr.h1;
	w.w_port = 0;
	assert_int_equal(pthread_create(&th, NULL, waiter_run, &w), 0);
	usleep(20000);
	assert_int_equal(plat_evtchn_notify(pr.h0, pr.p0), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.w_port, pr.p1);
	pair_close(&pr);
}

/*
 * The peer domain dies with the port bound: ours goes back to unbound.
 * (Killing a domain process with its ports bound: tests/integ.)
 */
/* catalogue: H6 */
static void
test_peer_dies(void **state)
{
	struct fx *fx = *state;
	struct hv_port *q;
	struct pair pr;
	evtchn_port_t p;

	pair_open(fx, &pr);
	q = hv_port_at(fx_shm(fx->fx_d0), fx_slot(fx->fx_d0), pr.p0);
	if (!fx->fx_multi) {
		assert_int_equal(hv_domain_destroy(fx->fx_hv, 1), 0);
		assert_int_equal(atomic_load(&q->ec_state), HV_PORT_UNBOUND);
		/* The dead domain's handle fails, then closes quietly. */
		assert_int_equal(plat_evtchn_notify(pr.h1, pr.p1), -ESRCH);
		assert_int_equal(plat_evtchn_pending(pr.h1, &p), -ESRCH);
		assert_int_equal(plat_evtchn_unmask(pr.h1, pr.p1), -ESRCH);
		assert_int_equal(plat_evtchn_bind_unbound(pr.h1, 0, &p),
		    -ESRCH);
		plat_evtchn_close(pr.h1);
		plat_close(fx->fx_d1);
		fx->fx_d1 = NULL;
	} else {
		plat_evtchn_close(pr.h1);
		fx_kill(fx, &fx->fx_d1, fx->fx_d0);
	}
	assert_int_equal(atomic_load(&q->ec_state), HV_PORT_UNBOUND);
	assert_int_equal(plat_evtchn_notify(pr.h0, pr.p0), 0);
	assert_int_equal(plat_evtchn_bind_unbound(pr.h0, 1, &p), -ESRCH);
	plat_evtchn_close(pr.h0);
}

#define TESTS(setup)                                                           \
	cmocka_unit_test_setup_teardown(test_notify_both_ways, setup,          \
	    fx_teardown),                                                      \
	    cmocka_unit_test_setup_teardown(test_coalescing, setup,            \
		fx_teardown),                                                  \
	    cmocka_unit_test_setup_teardown(test_masking, setup, fx_teardown), \
	    cmocka_unit_test_setup_teardown(test_close_returns_unbound, setup, \
		fx_teardown),                                                  \
	    cmocka_unit_test_setup_teardown(test_notify_unbound_dropped,       \
		setup, fx_teardown),                                           \
	    cmocka_unit_test_setup_teardown(test_errors, setup, fx_teardown),  \
	    cmocka_unit_test_setup_teardown(test_stale_handle, setup,          \
		fx_teardown),                                                  \
	    cmocka_unit_test_setup_teardown(test_round_robin, setup,           \
		fx_teardown),                                                  \
	    cmocka_unit_test_setup_teardown(test_loopback, setup,              \
		fx_teardown),                                                  \
	    cmocka_unit_test_setup_teardown(test_storm, setup, fx_teardown),   \
	    cmocka_unit_test_setup_teardown(test_wakeup, setup, fx_teardown),  \
	    cmocka_unit_test_setup_teardown(test_peer_dies, setup,             \
		fx_teardown)

int
main(void)
{
	const struct CMUnitTest inproc[] = { TESTS(fx_setup_inproc) };
	const struct CMUnitTest multiproc[] = { TESTS(fx_setup_multiproc) };
	int fails;

	fails = cmocka_run_group_tests_name("inproc", inproc, NULL, NULL);
	fails +=
	    cmocka_run_group_tests_name("multiproc", multiproc, NULL, NULL);
	return (fails);
}
