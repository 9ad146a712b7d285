/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the simulated v1 grant table, in-process and through the
 * `xbd hv` daemon (docs/reliability.md 6.4 H1-H4, docs/hypervisor.md 2.2-2.4):
 * grant, map (batch and contiguous), unmap, end access refused while
 * mapped and racing with maps (XSA-396, XSA-218), pin counting over
 * several mappings of one ref (XSA-224/230), every GNTST error, partial
 * batch failure (XSA-361), grant copy with its argument checks, a
 * hostile granter rewriting an entry in use, the ref budget with free
 * callbacks, and arena memory.
 */

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "test_hv_fixture.h"

static void
fill(void *p, int c, size_t n)
{
	memset(p, c, n);
}

/* catalogue: H1 */
static void
test_grant_map_write(void **state)
{
	struct fx *fx = *state;
	struct plat_map_seg seg = { 0 };
	struct plat_stats st;
	grant_ref_t ref;
	char *page;

	fx_grant_page(fx->fx_d1, 0, false, (void **)&page, &ref);
	assert_true(ref >= GNTTAB_NR_RESERVED_ENTRIES);
	assert_int_equal(fx_gflags(fx->fx_d1, ref), GTF_permit_access);
	seg.ms_ref = ref;
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, true, &seg), 0);
	assert_int_equal(seg.ms_status, GNTST_okay);
	assert_non_null(seg.ms_addr);
	assert_int_equal(fx_gflags(fx->fx_d1, ref),
	    GTF_permit_access | GTF_reading | GTF_writing);
	/* The same memory: what the mapper writes, the granter reads. */
	fill(seg.ms_addr, 0x5a, 4096);
	assert_int_equal((unsigned char)page[0], 0x5a);
	assert_int_equal((unsigned char)page[4095], 0x5a);
	page[17] = 7;
	assert_int_equal(((char *)seg.ms_addr)[17], 7);
	plat_unmap_batch(fx->fx_d0, 1, &seg);
	assert_int_equal(fx_gflags(fx->fx_d1, ref), GTF_permit_access);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ref), 0);
	assert_int_equal(fx_gflags(fx->fx_d1, ref), 0);
	plat_gnt_release(fx->fx_d1, 1, &ref);
	plat_mem_free(fx->fx_d1, page, 1);
	plat_stats(fx->fx_d0, &st);
	assert_int_equal(st.ps_maps, 1);
	assert_int_equal(st.ps_unmaps, 1);
	assert_int_equal(st.ps_map_errors, 0);
	plat_stats(fx->fx_d1, &st);
	assert_int_equal(st.ps_grants, 1);
	assert_int_equal(st.ps_grant_ends, 1);
	assert_int_equal(st.ps_refs_in_use, 0);
	assert_int_equal(st.ps_refs_total,
	    FX_GRANTS - GNTTAB_NR_RESERVED_ENTRIES);
	assert_string_equal(plat_name(fx->fx_d0), "sim");
	assert_true(plat_has(fx->fx_d0,
	    PLAT_CAP_GNT_PER_PAGE | PLAT_CAP_GNT_READONLY | PLAT_CAP_GNT_MAP |
		PLAT_CAP_GNT_COPY));
	assert_int_equal(plat_domid(fx->fx_d1), 1);
}

/* catalogue: H2 */
static void
test_end_refused_while_mapped(void **state)
{
	struct fx *fx = *state;
	struct plat_map_seg seg = { 0 };
	struct plat_stats st;
	grant_ref_t ref;
	void *page;

	fx_grant_page(fx->fx_d1, 0, false, &page, &ref);
	seg.ms_ref = ref;
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &seg), 0);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ref), -EBUSY);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ref), -EBUSY);
	/* Still granted: a re-grant through the same ref is refused. */
	assert_int_equal(plat_gnt_grant(fx->fx_d1, ref, 0, page, false, &ref),
	    -EBUSY);
	plat_stats(fx->fx_d1, &st);
	assert_int_equal(st.ps_grant_busy, 2);
	plat_unmap_batch(fx->fx_d0, 1, &seg);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ref), 0);
	/* Ended: the peer can no longer map it. */
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &seg), -EIO);
	assert_int_equal(seg.ms_status, GNTST_general_error);
	assert_null(seg.ms_addr);
}

/* catalogue: H1 */
static void
test_pin_counting(void **state)
{
	struct fx *fx = *state;
	struct plat_map_seg w1 = { 0 }, w2 = { 0 }, r1 = { 0 };
	grant_ref_t ref;
	void *page, *ring;

	fx_grant_page(fx->fx_d1, 0, false, &page, &ref);
	w1.ms_ref = w2.ms_ref = r1.ms_ref = ref;
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, true, &w1), 0);
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, true, &w2), 0);
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &r1), 0);
	assert_int_equal(plat_map(fx->fx_d0, 1, 1, &ref, false, &ring), 0);
	assert_int_equal(fx_gflags(fx->fx_d1, ref),
	    GTF_permit_access | GTF_reading | GTF_writing);
	/* One write pin left: GTF_writing stays (XSA-218). */
	plat_unmap_batch(fx->fx_d0, 1, &w1);
	assert_int_equal(fx_gflags(fx->fx_d1, ref),
	    GTF_permit_access | GTF_reading | GTF_writing);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ref), -EBUSY);
	/* The last write pin: GTF_writing goes, GTF_reading stays. */
	plat_unmap_batch(fx->fx_d0, 1, &w2);
	assert_int_equal(fx_gflags(fx->fx_d1, ref),
	    GTF_permit_access | GTF_reading);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ref), -EBUSY);
	w1 = r1;
	plat_unmap_batch(fx->fx_d0, 1, &r1);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ref), -EBUSY);
	/* Unmapping a handle twice drops nothing more (XSA-218). */
	plat_unmap_batch(fx->fx_d0, 1, &w1);
	w2.ms_handle += 1000;
	plat_unmap_batch(fx->fx_d0, 1, &w2);
	assert_int_equal(fx_gflags(fx->fx_d1, ref),
	    GTF_permit_access | GTF_reading);
	assert_int_equal(plat_unmap(fx->fx_d0, ring, 2), -EINVAL);
	assert_int_equal(plat_unmap(fx->fx_d0, ring, 1), 0);
	assert_int_equal(plat_unmap(fx->fx_d0, ring, 1), -EINVAL);
	assert_int_equal(fx_gflags(fx->fx_d1, ref), GTF_permit_access);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ref), 0);
}

/* Does a write to addr, made in a child process, fault? */
static bool
write_faults(void *addr)
{
	pid_t pid;
	int st;

	if ((pid = fork()) == 0) {
		/* cmocka catches SIGSEGV; the child must just die of it. */
		signal(SIGSEGV, SIG_DFL);
		*(volatile char *)addr = 'w';
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
}

/*
 * A read-only mapping is enforced by the MMU, as Xen's GNTMAP_readonly
 * is: reading works, a write faults, whether the grant itself was
 * read-only or writable; a writable mapping of a writable grant takes
 * the write.
 */
static void
test_readonly_mapping(void **state)
{
	struct fx *fx = *state;
	struct plat_map_seg seg = { 0 };
	grant_ref_t ro, rw;
	char *p_ro, *p_rw;

	fx_grant_page(fx->fx_d1, 0, true, (void **)&p_ro, &ro);
	fx_grant_page(fx->fx_d1, 0, false, (void **)&p_rw, &rw);
	p_ro[0] = 'a';
	p_rw[0] = 'b';

	seg.ms_ref = ro;
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &seg), 0);
	assert_int_equal(*(volatile char *)seg.ms_addr, 'a');
	assert_true(write_faults(seg.ms_addr));
	plat_unmap_batch(fx->fx_d0, 1, &seg);

	seg.ms_ref = rw;
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &seg), 0);
	assert_int_equal(*(volatile char *)seg.ms_addr, 'b');
	assert_true(write_faults(seg.ms_addr));
	plat_unmap_batch(fx->fx_d0, 1, &seg);

	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, true, &seg), 0);
	assert_false(write_faults(seg.ms_addr));
	*(volatile char *)seg.ms_addr = 'c';
	assert_int_equal(p_rw[0], 'c');
	plat_unmap_batch(fx->fx_d0, 1, &seg);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ro), 0);
	assert_int_equal(plat_gnt_end(fx->fx_d1, rw), 0);
}

/* catalogue: H1 */
static void
test_gntst_errors(void **state)
{
	struct fx *fx = *state;
	struct plat_map_seg seg = { 0 };
	grant_ref_t ref, other, ro, never;
	void *page, *p2, *p3;

	fx_grant_page(fx->fx_d1, 0, false, &page, &ref);
	fx_grant_page(fx->fx_d1, 5, false, &p2, &other);
	fx_grant_page(fx->fx_d1, 0, true, &p3, &ro);
	assert_int_equal(plat_gnt_reserve(fx->fx_d1, 1, &never), 0);

	seg.ms_ref = never; /* reserved, never granted */
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &seg), -EIO);
	assert_int_equal(seg.ms_status, GNTST_general_error);
	seg.ms_ref = other; /* granted to domain 5 */
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &seg), -EIO);
	assert_int_equal(seg.ms_status, GNTST_general_error);
	seg.ms_ref = ro; /* read-only, mapped for writing */
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, true, &seg), -EIO);
	assert_int_equal(seg.ms_status, GNTST_general_error);
	assert_int_equal(fx_gflags(fx->fx_d1, ro),
	    GTF_permit_access | GTF_readonly);
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &seg), 0);
	plat_unmap_batch(fx->fx_d0, 1, &seg);
	seg.ms_ref = FX_GRANTS; /* past the table */
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &seg), -EIO);
	assert_int_equal(seg.ms_status, GNTST_bad_gntref);
	seg.ms_ref = ref; /* a domain that does not exist */
	assert_int_equal(plat_map_batch(fx->fx_d0, 7, 1, false, &seg), -EIO);
	assert_int_equal(seg.ms_status, GNTST_bad_domain);
	assert_int_equal(plat_map(fx->fx_d0, 7, 1, &ref, false, &page),
	    -ENOENT);
	assert_int_equal(plat_map(fx->fx_d0, 1, 1, &other, false, &p2),
	    -EACCES);
	assert_int_equal(plat_map(fx->fx_d0, 1, 1, &ro, true, &p2), -EACCES);
	other = FX_GRANTS + 3;
	assert_int_equal(plat_map(fx->fx_d0, 1, 1, &other, false, &p2),
	    -EINVAL);
	/* Granting side misuse. */
	assert_int_equal(plat_gnt_grant(fx->fx_d1, 3, 0, page, false, &other),
	    -EINVAL); /* reserved ref, not ours */
	assert_int_equal(
	    plat_gnt_grant(fx->fx_d1, never, 0, &seg, false, &other),
	    -EINVAL); /* not grantable memory */
	assert_int_equal(plat_gnt_grant(fx->fx_d1, never, 0, (char *)page + 8,
			     false, &other),
	    -EINVAL); /* not page-aligned */
	assert_int_equal(
	    plat_gnt_grant(fx->fx_d1, never, DOMID_SELF, page, false, &other),
	    -EINVAL);
}

/* catalogue: H4 */
static void
test_partial_batch(void **state)
{
	struct fx *fx = *state;
	struct plat_map_seg seg[5];
	grant_ref_t good[3], never;
	void *page[3];
	unsigned int i;

	for (i = 0; i < 3; i++) {
		fx_grant_page(fx->fx_d1, 0, false, &page[i], &good[i]);
		fill(page[i], 'a' + (int)i, 4096);
	}
	assert_int_equal(plat_gnt_reserve(fx->fx_d1, 1, &never), 0);
	memset(seg, 0, sizeof(seg));
	seg[0].ms_ref = good[0];
	seg[1].ms_ref = FX_GRANTS + 1;
	seg[2].ms_ref = good[1];
	seg[3].ms_ref = never;
	seg[4].ms_ref = good[2];
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 5, true, seg), -EIO);
	assert_int_equal(seg[0].ms_status, GNTST_okay);
	assert_int_equal(seg[1].ms_status, GNTST_bad_gntref);
	assert_int_equal(seg[2].ms_status, GNTST_okay);
	assert_int_equal(seg[3].ms_status, GNTST_general_error);
	assert_int_equal(seg[4].ms_status, GNTST_okay);
	assert_null(seg[1].ms_addr);
	assert_null(seg[3].ms_addr);
	/* Exactly the good ones are mapped, each to its own page. */
	assert_int_equal(((char *)seg[0].ms_addr)[100], 'a');
	assert_int_equal(((char *)seg[2].ms_addr)[100], 'b');
	assert_int_equal(((char *)seg[4].ms_addr)[100], 'c');
	for (i = 0; i < 3; i++)
		assert_int_equal(plat_gnt_end(fx->fx_d1, good[i]), -EBUSY);
	plat_unmap_batch(fx->fx_d0, 5, seg);
	for (i = 0; i < 3; i++)
		assert_int_equal(plat_gnt_end(fx->fx_d1, good[i]), 0);
	assert_int_equal(fx_gflags(fx->fx_d1, never), 0);
}

static void
test_contiguous_map(void **state)
{
	struct fx *fx = *state;
	grant_ref_t refs[4], bad[3];
	char *page[4], *ring;
	unsigned int i;

	for (i = 0; i < 4; i++)
		fx_grant_page(fx->fx_d1, 0, false, (void **)&page[i], &refs[i]);
	assert_int_equal(plat_map(fx->fx_d0, 1, 4, refs, true, (void **)&ring),
	    0);
	/* Really contiguous: one memset across all four pages. */
	fill(ring, 0x33, 4 * 4096);
	for (i = 0; i < 4; i++) {
		assert_int_equal(page[i][0], 0x33);
		assert_int_equal(page[i][4095], 0x33);
	}
	page[2][5] = 9;
	assert_int_equal(ring[2 * 4096 + 5], 9);
	for (i = 0; i < 4; i++)
		assert_int_equal(plat_gnt_end(fx->fx_d1, refs[i]), -EBUSY);
	assert_int_equal(plat_unmap(fx->fx_d0, ring, 4), 0);
	/* All or nothing: one bad ref leaves nothing pinned. */
	bad[0] = refs[0];
	bad[1] = refs[1];
	bad[2] = FX_GRANTS + 2;
	assert_int_equal(plat_map(fx->fx_d0, 1, 3, bad, false, (void **)&ring),
	    -EINVAL);
	for (i = 0; i < 4; i++)
		assert_int_equal(plat_gnt_end(fx->fx_d1, refs[i]), 0);
	assert_int_equal(plat_map(fx->fx_d0, 1, 0, refs, false, (void **)&ring),
	    -EINVAL);
}

/* catalogue: H3 */
static void
test_copy(void **state)
{
	struct fx *fx = *state;
	struct plat_copy_seg cs[4];
	struct plat_stats st;
	grant_ref_t ref, ro;
	char *page, *rop, local[8192];

	fx_grant_page(fx->fx_d1, 0, false, (void **)&page, &ref);
	fx_grant_page(fx->fx_d1, 0, true, (void **)&rop, &ro);
	fill(page, 'p', 4096);
	fill(rop, 'r', 4096);
	memset(cs, 0, sizeof(cs));
	/* Foreign -> local, into a buffer that crosses a page boundary. */
	cs[0].cs_local = local + 4000;
	cs[0].cs_ref = ref;
	cs[0].cs_offset = 96;
	cs[0].cs_len = 4000;
	/* Local -> foreign. */
	fill(local, 'L', 64);
	cs[1].cs_local = local;
	cs[1].cs_ref = ref;
	cs[1].cs_offset = 4032;
	cs[1].cs_len = 64;
	cs[1].cs_to_foreign = true;
	/* From a read-only grant is fine; zero length is fine. */
	cs[2].cs_local = local + 100;
	cs[2].cs_ref = ro;
	cs[2].cs_len = 10;
	cs[3].cs_local = local;
	cs[3].cs_ref = ref;
	cs[3].cs_offset = 4096;
	cs[3].cs_len = 0;
	assert_int_equal(plat_copy(fx->fx_d0, 1, 4, cs), 0);
	assert_int_equal(cs[0].cs_status, GNTST_okay);
	assert_int_equal(cs[1].cs_status, GNTST_okay);
	assert_int_equal(cs[2].cs_status, GNTST_okay);
	assert_int_equal(cs[3].cs_status, GNTST_okay);
	assert_int_equal(local[4000], 'p');
	assert_int_equal(local[7999], 'p');
	assert_int_equal(page[4032], 'L');
	assert_int_equal(page[4095], 'L');
	assert_int_equal(local[100], 'r');
	/* The pins were temporary. */
	assert_int_equal(fx_gflags(fx->fx_d1, ref), GTF_permit_access);
	/* Argument and permission errors, per segment. */
	memset(cs, 0, sizeof(cs));
	cs[0].cs_local = local;
	cs[0].cs_ref = ref;
	cs[0].cs_offset = 4000;
	cs[0].cs_len = 200; /* crosses the foreign page */
	cs[1].cs_local = local;
	cs[1].cs_ref = ro;
	cs[1].cs_len = 8;
	cs[1].cs_to_foreign = true; /* into a read-only grant */
	cs[2].cs_local = local;
	cs[2].cs_ref = FX_GRANTS;
	cs[2].cs_len = 8;
	cs[3].cs_local = local;
	cs[3].cs_ref = ref;
	cs[3].cs_len = 8;
	assert_int_equal(plat_copy(fx->fx_d0, 1, 4, cs), -EIO);
	assert_int_equal(cs[0].cs_status, GNTST_bad_copy_arg);
	assert_int_equal(cs[1].cs_status, GNTST_general_error);
	assert_int_equal(cs[2].cs_status, GNTST_bad_gntref);
	assert_int_equal(cs[3].cs_status, GNTST_okay);
	assert_int_equal(rop[0], 'r');
	assert_int_equal(plat_copy(fx->fx_d0, 9, 1, cs), -EIO);
	assert_int_equal(cs[0].cs_status, GNTST_bad_domain);
	plat_stats(fx->fx_d0, &st);
	assert_int_equal(st.ps_copy_segs, 9);
	assert_int_equal(st.ps_copy_bytes, 4000 + 64 + 10 + 8);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ref), 0);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ro), 0);
	/* Ended: copies fail like maps. */
	assert_int_equal(plat_copy(fx->fx_d0, 1, 1, &cs[3]), -EIO);
	assert_int_equal(cs[3].cs_status, GNTST_general_error);
}

/* A hostile granter rewriting its entry (H2), white-box. */
/* catalogue: H2 */
static void
test_hostile_granter(void **state)
{
	struct fx *fx = *state;
	struct plat_map_seg a = { 0 }, b = { 0 };
	struct grant_entry_v1 *ge;
	grant_ref_t ref;
	char *page, *other;

	fx_grant_page(fx->fx_d1, 0, false, (void **)&page, &ref);
	assert_int_equal(plat_mem_alloc(fx->fx_d1, 0, 1, (void **)&other), 0);
	page[0] = 'A';
	other[0] = 'B';
	ge = hv_gent_at(fx_shm(fx->fx_d1), fx_slot(fx->fx_d1), ref);
	a.ms_ref = b.ms_ref = ref;
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &a), 0);
	/* The frame moves while pinned: Xen latched the first one. */
	ge->frame =
	    (uint32_t)((other - hv_view_of(fx->fx_d1)->hv_arena) / 4096);
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &b), 0);
	assert_ptr_equal(a.ms_addr, b.ms_addr);
	assert_int_equal(*(char *)b.ms_addr, 'A');
	plat_unmap_batch(fx->fx_d0, 1, &a);
	plat_unmap_batch(fx->fx_d0, 1, &b);
	/* Unpinned, the next first pin takes the new frame. */
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &a), 0);
	assert_int_equal(*(char *)a.ms_addr, 'B');
	plat_unmap_batch(fx->fx_d0, 1, &a);
	/* A frame outside the arena. */
	ge->frame = FX_PAGES;
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &a), -EIO);
	assert_int_equal(a.ms_status, GNTST_bad_page);
	assert_int_equal(fx_gflags(fx->fx_d1, ref), GTF_permit_access);
	/* Sub-page and transfer entries are not mappable. */
	ge->frame = 0;
	__atomic_store_n(&ge->flags, GTF_permit_access | GTF_sub_page,
	    __ATOMIC_RELEASE);
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &a), -EIO);
	assert_int_equal(a.ms_status, GNTST_general_error);
	__atomic_store_n(&ge->flags, GTF_accept_transfer, __ATOMIC_RELEASE);
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &a), -EIO);
	assert_int_equal(a.ms_status, GNTST_general_error);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ref), 0);
}

/* ---------------------------------------------------------------------
 * Revocation racing with maps (XSA-396, XSA-218)
 */

#define RACE_MAPPERS 3
/* Run until this many revocations, refusals and maps (or 5 s passed). */
#define RACE_ENDS 300
#define RACE_BUSY 100
#define RACE_MAPS 3000

struct race {
	struct plat *r_mapper;	   /* domain 0 */
	grant_ref_t r_ref;	   /* the contested ref */
	_Atomic int r_mapped;	   /* mappings the mappers hold */
	_Atomic int r_stop;	   /* set by the granter when done */
	_Atomic unsigned r_maps;   /* successful maps */
	_Atomic unsigned r_contig; /* successful contiguous maps */
};

static void *
race_mapper(void *arg)
{
	struct race *r = arg;
	struct plat_map_seg seg;
	unsigned int i = 0;
	void *ring;

	while (!atomic_load(&r->r_stop)) {
		if (i++ % 4 == 3) {
			if (plat_map(r->r_mapper, 1, 1, &r->r_ref, true,
				&ring) != 0)
				continue;
			atomic_fetch_add(&r->r_mapped, 1);
			atomic_fetch_add(&r->r_contig, 1);
			atomic_fetch_sub(&r->r_mapped, 1);
			assert_int_equal(plat_unmap(r->r_mapper, ring, 1), 0);
			continue;
		}
		memset(&seg, 0, sizeof(seg));
		seg.ms_ref = r->r_ref;
		if (plat_map_batch(r->r_mapper, 1, 1, i % 2 == 0, &seg) != 0)
			continue;
		atomic_fetch_add(&r->r_mapped, 1);
		atomic_fetch_add(&r->r_maps, 1);
		*(volatile char *)seg.ms_addr;
		atomic_fetch_sub(&r->r_mapped, 1);
		plat_unmap_batch(r->r_mapper, 1, &seg);
	}
	return (NULL);
}

/* catalogue: H2 F18 */
static void
test_race_end_vs_map(void **state)
{
	struct fx *fx = *state;
	pthread_t th[RACE_MAPPERS];
	struct race r;
	grant_ref_t wire;
	unsigned int i, ended = 0, busy = 0, violations = 0;
	long deadline;
	void *page;
	int error;

	memset(&r, 0, sizeof(r));
	r.r_mapper = fx->fx_d0;
	fx_grant_page(fx->fx_d1, 0, false, &page, &r.r_ref);
	for (i = 0; i < RACE_MAPPERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, race_mapper, &r),
		    0);
	deadline = fx_now_ms() + 5000;
	while ((ended < RACE_ENDS || busy < RACE_BUSY ||
		   atomic_load(&r.r_maps) < RACE_MAPS) &&
	    fx_now_ms() < deadline) {
		error = plat_gnt_end(fx->fx_d1, r.r_ref);
		if (error == -EBUSY) {
			busy++;
			sched_yield();
			continue;
		}
		assert_int_equal(error, 0);
		ended++;
		/*
		 * A mapper counts itself mapped only after its map
		 * succeeded and uncounts before unmapping, so a successful
		 * end must never see a count: the flags refuse it first.
		 */
		if (atomic_load(&r.r_mapped) != 0)
			violations++;
		sched_yield();
		if (atomic_load(&r.r_mapped) != 0)
			violations++;
		assert_int_equal(
		    plat_gnt_grant(fx->fx_d1, r.r_ref, 0, page, false, &wire),
		    0);
	}
	atomic_store(&r.r_stop, 1);
	for (i = 0; i < RACE_MAPPERS; i++)
		pthread_join(th[i], NULL);
	print_message("race: %u ended, %u refused, %u maps, %u ring maps\n",
	    ended, busy, atomic_load(&r.r_maps), atomic_load(&r.r_contig));
	assert_int_equal(violations, 0);
	assert_true(ended >= RACE_ENDS && busy > 0);
	assert_true(atomic_load(&r.r_maps) >= RACE_MAPS);
	assert_int_equal(plat_gnt_end(fx->fx_d1, r.r_ref), 0);
	assert_int_equal(fx_gflags(fx->fx_d1, r.r_ref), 0);
}

/* ---------------------------------------------------------------------
 * The ref budget and arena memory
 */

static unsigned int cb_calls;

static void
free_cb(void *arg)
{
	cb_calls++;
	assert_ptr_equal(arg, &cb_calls);
}

static void
test_ref_budget(void **state)
{
	struct fx *fx = *state;
	unsigned int n = FX_GRANTS - GNTTAB_NR_RESERVED_ENTRIES, i;
	struct plat_stats st;
	grant_ref_t *refs, one;

	refs = calloc(n, sizeof(*refs));
	assert_non_null(refs);
	assert_int_equal(plat_gnt_reserve(fx->fx_d1, n + 1, refs), -ENOSPC);
	assert_int_equal(plat_gnt_reserve(fx->fx_d1, n, refs), 0);
	for (i = 0; i < n; i++)
		assert_true(refs[i] >= GNTTAB_NR_RESERVED_ENTRIES &&
		    refs[i] < FX_GRANTS);
	assert_int_equal(plat_gnt_reserve(fx->fx_d1, 1, &one), -ENOSPC);
	plat_stats(fx->fx_d1, &st);
	assert_int_equal(st.ps_refs_in_use, n);
	assert_int_equal(st.ps_refs_total, n);
	cb_calls = 0;
	assert_int_equal(
	    plat_gnt_request_free_callback(fx->fx_d1, 2, free_cb, &cb_calls),
	    0);
	assert_int_equal(
	    plat_gnt_request_free_callback(fx->fx_d1, 2, free_cb, &cb_calls),
	    -EALREADY);
	plat_gnt_release(fx->fx_d1, 1, &refs[0]);
	assert_int_equal(cb_calls, 0);
	plat_gnt_release(fx->fx_d1, 1, &refs[1]);
	assert_int_equal(cb_calls, 1);
	plat_gnt_release(fx->fx_d1, 1, &refs[2]);
	assert_int_equal(cb_calls, 1); /* once per request */
	/* Enough free already: called at once. */
	assert_int_equal(
	    plat_gnt_request_free_callback(fx->fx_d1, 3, free_cb, &cb_calls),
	    0);
	assert_int_equal(cb_calls, 2);
	/* Cancelled: never called. */
	assert_int_equal(
	    plat_gnt_request_free_callback(fx->fx_d1, 10, free_cb, &cb_calls),
	    0);
	plat_gnt_cancel_free_callback(fx->fx_d1, &cb_calls);
	plat_gnt_release(fx->fx_d1, n - 3, &refs[3]);
	assert_int_equal(cb_calls, 2);
	plat_stats(fx->fx_d1, &st);
	assert_int_equal(st.ps_refs_in_use, 0);
	free(refs);
}

static void
test_mem(void **state)
{
	struct fx *fx = *state;
	unsigned char *a, *b, *c;
	unsigned int i;
	void *all;

	assert_int_equal(plat_mem_alloc(fx->fx_d1, 0, 3, (void **)&a), 0);
	assert_int_equal((uintptr_t)a % 4096, 0);
	for (i = 0; i < 3 * 4096; i++)
		assert_int_equal(a[i], 0);
	fill(a, 0xee, 3 * 4096);
	assert_int_equal(plat_mem_alloc(fx->fx_d1, 0, 1, (void **)&b), 0);
	assert_true(b >= a + 3 * 4096 || b + 4096 <= a);
	plat_mem_free(fx->fx_d1, a, 3);
	/* Reused memory comes back zeroed. */
	assert_int_equal(plat_mem_alloc(fx->fx_d1, 0, 2, (void **)&c), 0);
	for (i = 0; i < 2 * 4096; i++)
		assert_int_equal(c[i], 0);
	assert_int_equal(plat_mem_alloc(fx->fx_d1, 0, FX_PAGES, &all), -ENOMEM);
	assert_int_equal(plat_mem_alloc(fx->fx_d1, 0, 0, &all), -EINVAL);
	plat_mem_free(fx->fx_d1, b, 1);
	plat_mem_free(fx->fx_d1, c, 2);
	assert_int_equal(plat_mem_alloc(fx->fx_d1, 0, FX_PAGES, &all), 0);
	plat_mem_free(fx->fx_d1, all, FX_PAGES);
}

/* Loopback: a domain maps its own grant (Xen allows it). */
static void
test_self_map(void **state)
{
	struct fx *fx = *state;
	struct plat_map_seg seg = { 0 };
	grant_ref_t ref;
	char *page;

	fx_grant_page(fx->fx_d1, 1, false, (void **)&page, &ref);
	seg.ms_ref = ref;
	assert_int_equal(plat_map_batch(fx->fx_d1, 1, 1, true, &seg), 0);
	*(char *)seg.ms_addr = 'S';
	assert_int_equal(page[0], 'S');
	assert_int_equal(plat_gnt_end(fx->fx_d1, ref), -EBUSY);
	plat_unmap_batch(fx->fx_d1, 1, &seg);
	assert_int_equal(plat_gnt_end(fx->fx_d1, ref), 0);
}

/* The granter dies while mapped: memory stays valid, new maps fail. */
/* catalogue: H6 */
static void
test_granter_dies(void **state)
{
	struct fx *fx = *state;
	struct plat_map_seg seg = { 0 };
	grant_ref_t ref;
	char *page;
	void *ring;

	fx_grant_page(fx->fx_d1, 0, false, (void **)&page, &ref);
	page[1] = 'G';
	seg.ms_ref = ref;
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, true, &seg), 0);
	assert_int_equal(plat_map(fx->fx_d0, 1, 1, &ref, false, &ring), 0);
	fx_kill(fx, &fx->fx_d1, fx->fx_d0);
	assert_int_equal(((char *)seg.ms_addr)[1], 'G');
	assert_int_equal(((char *)ring)[1], 'G');
	((char *)seg.ms_addr)[2] = 'x';
	assert_int_equal(plat_map_batch(fx->fx_d0, 1, 1, false, &seg), -EIO);
	assert_int_equal(seg.ms_status, GNTST_bad_domain);
	seg.ms_status = GNTST_okay;
	plat_unmap_batch(fx->fx_d0, 1, &seg);
	assert_int_equal(plat_unmap(fx->fx_d0, ring, 1), 0);
}

#define TESTS(setup)                                                        \
	cmocka_unit_test_setup_teardown(test_grant_map_write, setup,        \
	    fx_teardown),                                                   \
	    cmocka_unit_test_setup_teardown(test_end_refused_while_mapped,  \
		setup, fx_teardown),                                        \
	    cmocka_unit_test_setup_teardown(test_pin_counting, setup,       \
		fx_teardown),                                               \
	    cmocka_unit_test_setup_teardown(test_readonly_mapping, setup,   \
		fx_teardown),                                               \
	    cmocka_unit_test_setup_teardown(test_gntst_errors, setup,       \
		fx_teardown),                                               \
	    cmocka_unit_test_setup_teardown(test_partial_batch, setup,      \
		fx_teardown),                                               \
	    cmocka_unit_test_setup_teardown(test_contiguous_map, setup,     \
		fx_teardown),                                               \
	    cmocka_unit_test_setup_teardown(test_copy, setup, fx_teardown), \
	    cmocka_unit_test_setup_teardown(test_hostile_granter, setup,    \
		fx_teardown),                                               \
	    cmocka_unit_test_setup_teardown(test_race_end_vs_map, setup,    \
		fx_teardown),                                               \
	    cmocka_unit_test_setup_teardown(test_ref_budget, setup,         \
		fx_teardown),                                               \
	    cmocka_unit_test_setup_teardown(test_mem, setup, fx_teardown),  \
	    cmocka_unit_test_setup_teardown(test_self_map, setup,           \
		fx_teardown),                                               \
	    cmocka_unit_test_setup_teardown(test_granter_dies, setup,       \
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
