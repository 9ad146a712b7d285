/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: domains of the simulated machine (in-process API): create
 * errors and the domain table limit, a mapper domain destroyed while it
 * holds mappings and bound ports (docs/reliability.md H6: the granter can end
 * access again, ports return to unbound, its views fail with -ESRCH),
 * XenStore identity (the skeleton's permissions, relative paths, EACCES
 * on another domain's node, release on destroy), and 10,000
 * create/destroy cycles with real work in each that must leak no file
 * descriptor, no mapping and no memory.
 */

#include <dirent.h>
#include <malloc.h>
#include <pthread.h>
#include <xenstore.h>

#include "test_hv_fixture.h"
#include "xt_res.h"

/* Create/destroy cycles of test_cycles and the warm-up before counting. */
#define CYCLES 10000
#define WARMUP 20

/* Heap drift allowed per cycle (see xt_heap_in_use). */
#define MEM_SLACK 16

/* catalogue: H6 */
static void
test_create_errors(void **state)
{
	struct fx *fx = *state;
	struct plat *p[HV_MAX_DOMAINS], *x;
	unsigned int i, n;

	assert_int_equal(hv_domain_create(fx->fx_hv, 1, "again", &x), -EEXIST);
	assert_int_equal(
	    hv_domain_create(fx->fx_hv, DOMID_FIRST_RESERVED, NULL, &x),
	    -EINVAL);
	assert_int_equal(hv_domain_count(fx->fx_hv), 2);
	for (n = 0; n < HV_MAX_DOMAINS; n++)
		if (hv_domain_create(fx->fx_hv, 100 + n, NULL, &p[n]) != 0)
			break;
	assert_int_equal(n, HV_MAX_DOMAINS - 2);
	assert_int_equal(hv_domain_create(fx->fx_hv, 99, NULL, &x), -ENOSPC);
	assert_int_equal(hv_domain_count(fx->fx_hv), HV_MAX_DOMAINS);
	for (i = 0; i < n; i++) {
		assert_int_equal(hv_domain_destroy(fx->fx_hv, 100 + i), 0);
		plat_close(p[i]);
	}
	assert_int_equal(hv_domain_destroy(fx->fx_hv, 100), -ESRCH);
	assert_int_equal(hv_domain_count(fx->fx_hv), 2);
}

/* The mapper (domain 0) dies holding maps and ports (H6). */
/* catalogue: H6 */
static void
test_mapper_dies(void **state)
{
	struct fx *fx = *state;
	struct plat_map_seg seg = { 0 };
	struct plat_evtchn *h0, *h1;
	struct hv_dom_usage u;
	evtchn_port_t p0, p1, p;
	grant_ref_t ref, ref2;
	void *page, *page2, *ring;
	struct hv_port *q;

	fx_grant_page(fx->fx_d1, 0, false, &page, &ref);
	fx_grant_page(fx->fx_d1, 0, false, &page2, &ref2);
	seg.ms_ref = ref;
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, true, &seg), 0);
	assert_int_equal(plat_map(fx->fx_d0, 1, 1, &ref2, true, &ring), 0);
	assert_int_equal(plat_evtchn_open(fx->fx_d0, &h0), 0);
	assert_int_equal(plat_evtchn_open(fx->fx_d1, &h1), 0);
	assert_int_equal(plat_evtchn_bind_unbound(h1, 0, &p1), 0);
	assert_int_equal(plat_evtchn_bind_interdomain(h0, 1, p1, &p0), 0);
	assert_int_equal(hv_domain_usage(fx->fx_hv, 0, &u), 0);
	assert_int_equal(u.du_mapped, 2);
	assert_int_equal(u.du_ports, 1);
	assert_int_equal(hv_domain_usage(fx->fx_hv, 1, &u), 0);
	assert_int_equal(u.du_grants, 2);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ref), -EBUSY);

	assert_int_equal(hv_domain_destroy(fx->fx_hv, 0), 0);
	assert_int_equal(hv_domain_usage(fx->fx_hv, 0, &u), -ESRCH);
	/* The granter can end access: the dead mapper's pins are gone. */
	assert_int_equal(fx_gflags(fx->fx_d1, ref), GTF_permit_access);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ref), 0);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ref2), 0);
	q = hv_port_at(fx_shm(fx->fx_d1), fx_slot(fx->fx_d1), p1);
	assert_int_equal(atomic_load(&q->ec_state), HV_PORT_UNBOUND);
	assert_int_equal(atomic_load(&q->ec_remote_dom), 0);
	/* Every operation of the dead domain's view fails. */
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &seg), -ESRCH);
	assert_int_equal(plat_gnt_reserve(fx->fx_d0, 1, &ref), -ESRCH);
	assert_int_equal(plat_mem_alloc(fx->fx_d0, 1, 1, &page), -ESRCH);
	assert_int_equal(plat_evtchn_notify(h0, p0), -ESRCH);
	assert_int_equal(plat_evtchn_bind_unbound(h0, 1, &p), -ESRCH);
	assert_null(plat_xs_open(fx->fx_d0));
	assert_int_equal(errno, ESRCH);
	/* Its unmaps after the fact are harmless no-ops. */
	plat_unmap_batch(fx->fx_d0, 1, &seg);
	assert_int_equal(plat_unmap(fx->fx_d0, ring, 1), 0);
	plat_evtchn_close(h0);
	plat_close(fx->fx_d0);
	/* A new domain 0 starts clean and can bind to the same port. */
	assert_int_equal(hv_domain_create(fx->fx_hv, 0, "Domain-0", &fx->fx_d0),
	    0);
	assert_int_equal(hv_domain_usage(fx->fx_hv, 0, &u), 0);
	assert_int_equal(u.du_mapped + u.du_ports + u.du_grants, 0);
	assert_int_equal(plat_evtchn_open(fx->fx_d0, &h0), 0);
	assert_int_equal(plat_evtchn_bind_interdomain(h0, 1, p1, &p0), 0);
	plat_evtchn_close(h0);
	plat_evtchn_close(h1);
}

static char *
xs_get(struct xs_handle *xs, const char *path)
{
	unsigned int len;

	return (xs_read(xs, XBT_NULL, path, &len));
}

/* Handles opened per thread while the other threads open theirs. */
#define XS_THREADS 4
#define XS_OPENS 150

struct xs_opener {
	struct fx *o_fx;
	int o_index;  /* even: domain 0, odd: domain 1 */
	int o_wrong;  /* handles that came up as another domain */
	int o_failed; /* opens or reads that failed */
};

static void *
xs_opener_main(void *arg)
{
	struct xs_opener *o = arg;
	struct plat *d = o->o_index % 2 == 0 ? o->o_fx->fx_d0 : o->o_fx->fx_d1;
	const char *want = o->o_index % 2 == 0 ? "0" : "1";
	struct xs_handle *xs;
	char *v;
	int i;

	for (i = 0; i < XS_OPENS; i++) {
		if ((xs = plat_xs_open(d)) == NULL) {
			o->o_failed++;
			continue;
		}
		/* A relative path is the home of the handle's domain. */
		if ((v = xs_get(xs, "domid")) == NULL)
			o->o_failed++;
		else if (strcmp(v, want) != 0)
			o->o_wrong++;
		free(v);
		xs_close(xs);
	}
	return (NULL);
}

/*
 * libxenstore reads the daemon's socket from the environment inside
 * xs_open(); threads opening handles for different domains at once must
 * each get their own domain's socket (plat_sim.c explains how).
 */
static void
test_xenstore_threads(void **state)
{
	struct xs_opener o[XS_THREADS];
	pthread_t th[XS_THREADS];
	int i;

	for (i = 0; i < XS_THREADS; i++) {
		o[i] = (struct xs_opener) { .o_fx = *state, .o_index = i };
		assert_int_equal(
		    pthread_create(&th[i], NULL, xs_opener_main, &o[i]), 0);
	}
	for (i = 0; i < XS_THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(o[i].o_failed, 0);
		assert_int_equal(o[i].o_wrong, 0);
	}
}

static void
test_xenstore_identity(void **state)
{
	struct fx *fx = *state;
	struct xs_permissions *perms;
	struct xs_handle *xs1, *xs0, *priv;
	unsigned int n;
	char *v;

	xs1 = plat_xs_open(fx->fx_d1);
	assert_non_null(xs1);
	xs0 = plat_xs_open(fx->fx_d0);
	assert_non_null(xs0);
	priv = hv_xs_open_priv(fx->fx_hv);
	assert_non_null(priv);
	/* Relative paths are the domain's home. */
	v = xs_get(xs1, "name");
	assert_non_null(v);
	assert_string_equal(v, "guest");
	free(v);
	v = xs_get(xs1, "domid");
	assert_non_null(v);
	assert_string_equal(v, "1");
	free(v);
	v = xs_get(xs0, "name");
	assert_non_null(v);
	assert_string_equal(v, "Domain-0");
	free(v);
	/* The guest writes where it owns, nowhere else. */
	assert_true(xs_write(xs1, XBT_NULL, "data/k", "v", 1));
	v = xs_get(priv, "/local/domain/1/data/k");
	assert_non_null(v);
	assert_string_equal(v, "v");
	free(v);
	assert_false(xs_write(xs1, XBT_NULL, "name", "x", 1));
	assert_int_equal(errno, EACCES);
	assert_false(xs_write(xs1, XBT_NULL, "/local/domain/0/x", "x", 1));
	assert_int_equal(errno, EACCES);
	assert_null(xs_get(xs1, "/local/domain/0/name"));
	assert_int_equal(errno, EACCES);
	/* libxl's permissions on the skeleton. */
	perms = xs_get_permissions(priv, XBT_NULL, "/local/domain/1", &n);
	assert_non_null(perms);
	assert_int_equal(n, 2);
	assert_int_equal(perms[0].id, 0);
	assert_int_equal(perms[0].perms, XS_PERM_NONE);
	assert_int_equal(perms[1].id, 1);
	assert_int_equal(perms[1].perms, XS_PERM_READ);
	free(perms);
	perms = xs_get_permissions(priv, XBT_NULL,
	    "/local/domain/1/device/suspend/event-channel", &n);
	assert_non_null(perms);
	assert_int_equal(perms[0].id, 1);
	free(perms);
	v = xs_get(priv, "/local/domain/1/vm");
	assert_non_null(v);
	assert_true(strncmp(v, "/vm/", 4) == 0);
	free(v);
	assert_true(xs_is_domain_introduced(priv, 1));
	xs_close(xs1);
	xs_close(xs0);
	/* Destroyed: released and its nodes gone. */
	assert_int_equal(hv_domain_destroy(fx->fx_hv, 1), 0);
	assert_null(xs_get(priv, "/local/domain/1"));
	assert_int_equal(errno, ENOENT);
	assert_null(xs_get(priv, "/libxl/1"));
	assert_false(xs_is_domain_introduced(priv, 1));
	assert_null(plat_xs_open(fx->fx_d1));
	xs_close(priv);
}

/* One cycle's work: a grant mapped both ways and events both ways. */
static void
cycle_work(struct plat *d0, struct plat *d1, struct plat_evtchn *h0)
{
	struct plat_map_seg seg = { 0 };
	struct plat_evtchn *h1;
	evtchn_port_t p0, p1, got;
	grant_ref_t ref;
	char *page;

	fx_grant_page(d1, 0, false, (void **)&page, &ref);
	seg.ms_ref = ref;
	assert_int_equal(plat_map_batch(d0, 1, 1, true, &seg), 0);
	*(char *)seg.ms_addr = 'w';
	assert_int_equal(page[0], 'w');
	plat_unmap_batch(d0, 1, &seg);
	assert_int_equal(plat_gnt_end(d1, ref), 0);
	plat_gnt_release(d1, 1, &ref);
	plat_mem_free(d1, page, 1);
	assert_int_equal(plat_evtchn_open(d1, &h1), 0);
	assert_int_equal(plat_evtchn_bind_unbound(h1, 0, &p1), 0);
	assert_int_equal(plat_evtchn_bind_interdomain(h0, 1, p1, &p0), 0);
	assert_int_equal(plat_evtchn_pending(h0, &got), 0);
	assert_int_equal(got, p0);
	assert_int_equal(plat_evtchn_unmask(h0, p0), 0);
	assert_int_equal(plat_evtchn_notify(h0, p0), 0);
	assert_int_equal(plat_evtchn_pending(h1, &got), 0);
	assert_int_equal(got, p1);
	assert_int_equal(plat_evtchn_notify(h1, p1), 0);
	assert_int_equal(plat_evtchn_pending(h0, &got), 0);
	assert_int_equal(plat_evtchn_unmask(h0, p0), 0);
	plat_evtchn_close(h1);
	/* dom0's port went back to unbound; close it. */
	assert_int_equal(plat_evtchn_unbind(h0, p0), 0);
}

/* catalogue: L1 */
static void
test_cycles(void **state)
{
	struct fx *fx = *state;
	struct plat_evtchn *h0;
	struct hv_dom_usage u;
	int fds = 0, maps = 0, i;
	size_t heap = 0;
	long t0;

	/* The fixture's domain 1 is replaced by the cycled ones. */
	assert_int_equal(hv_domain_destroy(fx->fx_hv, 1), 0);
	plat_close(fx->fx_d1);
	fx->fx_d1 = NULL;
	assert_int_equal(plat_evtchn_open(fx->fx_d0, &h0), 0);
	t0 = fx_now_ms();
	for (i = 0; i < CYCLES + WARMUP; i++) {
		if (i == WARMUP) {
			fds = xt_count_fds();
			maps = xt_count_maps();
			heap = xt_heap_in_use();
		}
		assert_int_equal(
		    hv_domain_create(fx->fx_hv, 1, "cycled", &fx->fx_d1), 0);
		cycle_work(fx->fx_d0, fx->fx_d1, h0);
		/* Half the time the domain dies with a page still mapped. */
		if (i % 2 == 0) {
			struct plat_map_seg seg = { 0 };
			grant_ref_t ref;
			void *page;

			fx_grant_page(fx->fx_d1, 0, false, &page, &ref);
			seg.ms_ref = ref;
			assert_int_equal(
			    plat_map_batch(fx->fx_d0, 1, 1, true, &seg), 0);
			assert_int_equal(hv_domain_destroy(fx->fx_hv, 1), 0);
			plat_unmap_batch(fx->fx_d0, 1, &seg);
		} else
			assert_int_equal(hv_domain_destroy(fx->fx_hv, 1), 0);
		plat_close(fx->fx_d1);
		fx->fx_d1 = NULL;
	}
	print_message("cycles: %d create/destroy in %ld ms; fds %d -> %d, "
		      "mappings %d -> %d, heap %zu -> %zu\n",
	    CYCLES, fx_now_ms() - t0, fds, xt_count_fds(), maps,
	    xt_count_maps(), heap, xt_heap_in_use());
	assert_int_equal(xt_count_fds(), fds);
	assert_int_equal(xt_count_maps(), maps);
	assert_true(xt_heap_in_use() <= heap + (size_t)CYCLES * MEM_SLACK);
	assert_int_equal(hv_domain_count(fx->fx_hv), 1);
	assert_int_equal(hv_domain_usage(fx->fx_hv, 0, &u), 0);
	assert_int_equal(u.du_mapped + u.du_ports + u.du_grants, 0);
	plat_evtchn_close(h0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_errors,
		    fx_setup_inproc, fx_teardown),
		cmocka_unit_test_setup_teardown(test_mapper_dies,
		    fx_setup_inproc, fx_teardown),
		cmocka_unit_test_setup_teardown(test_xenstore_identity,
		    fx_setup_inproc, fx_teardown),
		cmocka_unit_test_setup_teardown(test_xenstore_threads,
		    fx_setup_inproc, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cycles, fx_setup_inproc,
		    fx_teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
