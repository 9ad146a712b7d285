/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The backend tests' scripted frontend and machine; see xbbt_front.h.
 * Failures of the harness itself are cmocka assertions: a test that
 * cannot set up its peer has nothing to say about the backend.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/blkif_x86_32.h"
#include "common/xu_assert.h"
#include "xbbt_front.h"
#include "xt.h"

/* ---------------------------------------------------------------------
 * Machine
 */

void
xbbt_require_uring(void)
{
	struct io_uring ring;
	int rc;

	/* xbb_start refuses without io_uring; probe the same way. */
	if ((rc = io_uring_queue_init(2, &ring, 0)) == -ENOSYS ||
	    rc == -EPERM) {
		fprintf(stderr, "io_uring unavailable: skipped\n");
		exit(XT_SKIP);
	}
	assert_int_equal(rc, 0);
	io_uring_queue_exit(&ring);
	/* XBBT_FILTER=test_name runs one case (when debugging). */
	if (getenv("XBBT_FILTER") != NULL)
		cmocka_set_test_filter(getenv("XBBT_FILTER"));
}

static void
xbbt_log(void *arg, const char *msg)
{
	struct xbbt_machine *m = arg;
	const char *match = m->m_log_match;

	/* XBBT_VERBOSE=1 shows what the backend says (when debugging). */
	if (getenv("XBBT_VERBOSE") != NULL)
		fprintf(stderr, "xbb: %s\n", msg);
	if (match != NULL && strstr(msg, match) != NULL)
		atomic_fetch_add(&m->m_log_hits, 1);
}

int
xbbt_machine_start(struct xbbt_machine *m)
{
	struct hv_opts o;
	const char *base = getenv("TMPDIR");
	int rc;

	memset(m, 0, sizeof(*m));
	snprintf(m->m_tmp, sizeof(m->m_tmp), "%s/xbbt.XXXXXX",
	    base != NULL && base[0] != '\0' ? base : "/tmp");
	if (mkdtemp(m->m_tmp) == NULL)
		return (-errno);
	hv_opts_init(&o);
	if ((rc = hv_create(&o, &m->m_hv)) != 0 ||
	    (rc = hv_domain_create(m->m_hv, XBBT_BE, "Domain-0", &m->m_be)) !=
		0 ||
	    (rc = hv_domain_create(m->m_hv, XBBT_FE, "guest", &m->m_fe)) != 0)
		return (rc);
	if ((m->m_xs = hv_xs_open_priv(m->m_hv)) == NULL)
		return (-errno);
	return (0);
}

void
xbbt_machine_stop(struct xbbt_machine *m)
{
	xbbt_backend_stop(m);
	if (m->m_xs != NULL)
		xs_close(m->m_xs);
	plat_close(m->m_fe);
	plat_close(m->m_be);
	if (m->m_hv != NULL)
		hv_destroy(m->m_hv);
	(void)rmdir(m->m_tmp);
	memset(m, 0, sizeof(*m));
}

int
xbbt_backend_start(struct xbbt_machine *m, const struct xbb_opts *o)
{
	struct xbb_opts bo;

	if (o != NULL)
		bo = *o;
	else
		xbb_opts_init(&bo);
	bo.o_log = xbbt_log;
	bo.o_log_arg = m;
	return (xbb_start(m->m_be, &bo, &m->m_xbb));
}

void
xbbt_backend_stop(struct xbbt_machine *m)
{
	xbb_stop(m->m_xbb);
	m->m_xbb = NULL;
}

void
xbbt_image(struct xbbt_machine *m, const char *name, uint64_t size, char *path,
    size_t len)
{
	int fd;

	snprintf(path, len, "%s/%s", m->m_tmp, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

void
xbbt_file_read(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

void
xbbt_pattern(uint8_t *b, size_t n, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		b[i] = (uint8_t)(seed >> 56);
	}
}

static struct xbus_vbd
xbbt_xvbd(uint32_t vdev)
{
	struct xbus_vbd v;

	memset(&v, 0, sizeof(v));
	v.v_frontend_id = XBBT_FE;
	v.v_backend_id = XBBT_BE;
	v.v_vdev = vdev;
	v.v_kind = "vbd";
	return (v);
}

int
xbbt_vbd_add(struct xbbt_machine *m, const struct xbbt_vbd *tv)
{
	struct xbus_vbd v = xbbt_xvbd(tv->v_vdev);

	v.v_params = tv->v_params;
	v.v_readonly = tv->v_readonly;
	v.v_discard = !tv->v_nodiscard;
	v.v_cdrom = tv->v_cdrom;
	return (xbus_vbd_add(m->m_xs, &v));
}

void
xbbt_vbd_destroy(struct xbbt_machine *m, uint32_t vdev)
{
	struct xbus_vbd v = xbbt_xvbd(vdev);

	v.v_params = "-";
	(void)xbus_vbd_remove(m->m_xs, &v, 0, true);
}

void
xbbt_bedir(uint32_t vdev, char *buf, size_t len)
{
	snprintf(buf, len, "/local/domain/%u/backend/vbd/%u/%u", XBBT_BE,
	    XBBT_FE, vdev);
}

static bool
xbbt_state_is(enum xenbus_state s, void *arg)
{
	return (s == *(enum xenbus_state *)arg);
}

int
xbbt_wait_be(struct xbbt_machine *m, uint32_t vdev, enum xenbus_state st,
    unsigned int timeout_ms)
{
	char dir[128];

	xbbt_bedir(vdev, dir, sizeof(dir));
	return (xbus_wait_state(m->m_xs, dir, xbbt_state_is, &st, timeout_ms));
}

void
xbbt_stats(struct xbbt_machine *m, uint32_t vdev, struct xbb_stats *st)
{
	assert_int_equal(
	    xbb_dev_stats(m->m_xbb, XBBT_FE, vdev, st, sizeof(*st)), 0);
}

uint64_t
xbbt_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return (*s = x);
}

/* ---------------------------------------------------------------------
 * Frontend: rings and pages
 */

uint8_t *
xbbt_page(struct xbbt_front *f, uint32_t page)
{
	assert_true(page < f->f_npages);
	return (f->f_data + (size_t)page * XBD_PAGE_SIZE);
}

grant_ref_t
xbbt_grant(struct xbbt_front *f, uint32_t page, bool readonly)
{
	grant_ref_t ref, wire;

	assert_int_equal(plat_gnt_reserve(f->f_p, 1, &ref), 0);
	assert_int_equal(plat_gnt_grant(f->f_p, ref, XBBT_BE,
			     xbbt_page(f, page), readonly, &wire),
	    0);
	/* The simulator puts the reserved ref itself on the wire. */
	assert_int_equal(wire, ref);
	return (ref);
}

void
xbbt_ungrant(struct xbbt_front *f, grant_ref_t ref)
{
	/* -EBUSY would mean the backend kept a one-shot mapping (XSA-396). */
	assert_int_equal(plat_gnt_end(f->f_p, ref), 0);
	plat_gnt_release(f->f_p, 1, &ref);
}

static uint32_t
xbbt_page_get(struct xbbt_front *f)
{
	assert_true(f->f_nfree > 0);
	return (f->f_free[--f->f_nfree]);
}

static void
xbbt_page_put(struct xbbt_front *f, uint32_t page)
{
	f->f_free[f->f_nfree++] = page;
}

/* A data page's ref: permanent in persistent mode, fresh otherwise. */
static grant_ref_t
xbbt_data_ref(struct xbbt_front *f, uint32_t page, bool readonly)
{
	if (!f->f_o.fo_persistent)
		return (xbbt_grant(f, page, readonly));
	/* Persistent grants must be writable, whatever the operation. */
	if (f->f_pref[page] == 0)
		f->f_pref[page] = xbbt_grant(f, page, false);
	return (f->f_pref[page]);
}

int
xbbt_front_open(struct xbbt_front *f, struct xbbt_machine *m, uint32_t vdev,
    const struct xbbt_fopts *o)
{
	struct xbbt_ring *r;
	void *mem;
	unsigned int q, i;
	int rc;

	memset(f, 0, sizeof(*f));
	f->f_m = m;
	f->f_p = m->m_fe;
	f->f_vdev = vdev;
	if (o != NULL)
		f->f_o = *o;
	if (f->f_o.fo_pages == 0)
		f->f_o.fo_pages = 1;
	if (f->f_o.fo_queues == 0)
		f->f_o.fo_queues = 1;
	if (f->f_o.fo_data_pages == 0)
		f->f_o.fo_data_pages = 2048;
	f->f_seed = 0x9e3779b97f4a7c15ull ^ vdev;
	f->f_next_id = 0x1000;
	snprintf(f->f_dir, sizeof(f->f_dir), "/local/domain/%u/device/vbd/%u",
	    XBBT_FE, vdev);
	xbbt_bedir(vdev, f->f_bedir, sizeof(f->f_bedir));
	if ((f->f_xs = plat_xs_open(f->f_p)) == NULL)
		return (-errno);
	f->f_nrings = f->f_o.fo_queues;
	for (q = 0; q < f->f_nrings; q++) {
		r = &f->f_rings[q];
		r->r_npages = f->f_o.fo_pages;
		r->r_slots = xring_slots(r->r_npages);
		r->r_slot = f->f_o.fo_x86_32 ?
		    sizeof(struct blkif_x86_32_request) :
		    sizeof(union blkif_sring_entry);
		if ((rc = plat_mem_alloc(f->f_p, XBBT_BE, r->r_npages, &mem)) !=
		    0)
			return (rc);
		r->r_sring = mem;
		/* SHARED_RING_INIT: producers 0, events 1. */
		memset(r->r_sring, 0, (size_t)r->r_npages * XBD_PAGE_SIZE);
		((struct blkif_sring *)mem)->req_event = 1;
		((struct blkif_sring *)mem)->rsp_event = 1;
		for (i = 0; i < r->r_npages; i++) {
			assert_int_equal(
			    plat_gnt_reserve(f->f_p, 1, &r->r_refs[i]), 0);
			assert_int_equal(
			    plat_gnt_grant(f->f_p, r->r_refs[i], XBBT_BE,
				r->r_sring + (size_t)i * XBD_PAGE_SIZE, false,
				&r->r_refs[i]),
			    0);
		}
		if ((rc = plat_evtchn_open(f->f_p, &r->r_evh)) != 0 ||
		    (rc = plat_evtchn_bind_unbound(r->r_evh, XBBT_BE,
			 &r->r_port)) != 0)
			return (rc);
	}
	f->f_npages = f->f_o.fo_data_pages;
	if ((rc = plat_mem_alloc(f->f_p, XBBT_BE, f->f_npages, &mem)) != 0)
		return (rc);
	f->f_data = mem;
	f->f_free = calloc(f->f_npages, sizeof(*f->f_free));
	f->f_pref = calloc(f->f_npages, sizeof(*f->f_pref));
	assert_non_null(f->f_free);
	assert_non_null(f->f_pref);
	for (i = f->f_npages; i > 0; i--)
		xbbt_page_put(f, i - 1);
	return (0);
}

static uint32_t
xbbt_be_u32(struct xbbt_front *f, const char *node, uint32_t def)
{
	uint64_t v;

	if (xbus_read_u64_def(f->f_xs, XBT_NULL, f->f_bedir, node, UINT32_MAX,
		def, &v) != 0)
		return (def);
	return ((uint32_t)v);
}

/* Every node the frontend's transport may consist of. */
static const char *const xbbt_transport[] = { "protocol", "ring-page-order",
	"num-ring-pages", "multi-queue-num-queues", "feature-persistent",
	"ring-ref", "event-channel" };

int
xbbt_publish(struct xbbt_front *f)
{
	struct xs_handle *xs = f->f_xs;
	const char *proto;
	char dir[160], node[32];
	unsigned int q, i, order = 0;
	struct xbbt_ring *r;

	while ((1u << order) < f->f_o.fo_pages)
		order++;
	/* A previous connection's transport must not linger. */
	for (i = 0; i < XU_NELEM(xbbt_transport); i++)
		assert_int_equal(
		    xbus_rm(xs, XBT_NULL, f->f_dir, xbbt_transport[i]), 0);
	for (i = 0; i < XRING_MAX_PAGES; i++) {
		snprintf(node, sizeof(node), "ring-ref%u", i);
		assert_int_equal(xbus_rm(xs, XBT_NULL, f->f_dir, node), 0);
	}
	for (i = 0; i < XBB_MAX_QUEUES; i++) {
		snprintf(node, sizeof(node), "queue-%u", i);
		assert_int_equal(xbus_rm(xs, XBT_NULL, f->f_dir, node), 0);
	}
	proto = f->f_o.fo_protocol != NULL ?
	    f->f_o.fo_protocol :
	    (f->f_o.fo_x86_32 ? XEN_IO_PROTO_ABI_X86_32 :
				XEN_IO_PROTO_ABI_X86_64);
	if (proto[0] != '\0')
		assert_int_equal(
		    xbus_write(xs, XBT_NULL, f->f_dir, "protocol", proto), 0);
	if (f->f_o.fo_pages > 1 && f->f_o.fo_num_ring_pages)
		assert_int_equal(xbus_printf(xs, XBT_NULL, f->f_dir,
				     "num-ring-pages", "%u", f->f_o.fo_pages),
		    0);
	else if (f->f_o.fo_pages > 1)
		assert_int_equal(xbus_printf(xs, XBT_NULL, f->f_dir,
				     "ring-page-order", "%u", order),
		    0);
	if (f->f_nrings > 1)
		assert_int_equal(xbus_printf(xs, XBT_NULL, f->f_dir,
				     "multi-queue-num-queues", "%u",
				     f->f_nrings),
		    0);
	assert_int_equal(xbus_printf(xs, XBT_NULL, f->f_dir,
			     "feature-persistent", "%d", f->f_o.fo_persistent),
	    0);
	for (q = 0; q < f->f_nrings; q++) {
		r = &f->f_rings[q];
		if (f->f_nrings > 1)
			snprintf(dir, sizeof(dir), "%s/queue-%u", f->f_dir, q);
		else
			snprintf(dir, sizeof(dir), "%s", f->f_dir);
		for (i = 0; i < r->r_npages; i++) {
			if (r->r_npages == 1)
				snprintf(node, sizeof(node), "ring-ref");
			else
				snprintf(node, sizeof(node), "ring-ref%u", i);
			assert_int_equal(xbus_printf(xs, XBT_NULL, dir, node,
					     "%u", r->r_refs[i]),
			    0);
		}
		assert_int_equal(xbus_printf(xs, XBT_NULL, dir, "event-channel",
				     "%u", r->r_port),
		    0);
	}
	for (i = 0; i < f->f_o.fo_nnodes; i++) {
		if (f->f_o.fo_nodes[i].n_value == NULL)
			assert_int_equal(xbus_rm(xs, XBT_NULL, f->f_dir,
					     f->f_o.fo_nodes[i].n_name),
			    0);
		else
			assert_int_equal(xbus_write(xs, XBT_NULL, f->f_dir,
					     f->f_o.fo_nodes[i].n_name,
					     f->f_o.fo_nodes[i].n_value),
			    0);
	}
	return (0);
}

void
xbbt_front_state(struct xbbt_front *f, enum xenbus_state st)
{
	assert_int_equal(xbus_write_state(f->f_xs, f->f_dir, st), 0);
}

/* After Initialised: connected, or refused (Closing with `error`). */
static bool
xbbt_be_settled(enum xenbus_state s, void *arg)
{
	return (s == XenbusStateConnected || s == XenbusStateClosing);
}

/*
 * Before publishing: the backend offers its features (InitWait), or gave
 * up on the device already (Closing).  A Closed backend is still busy
 * with our previous connection: wait for it to come back.
 */
static bool
xbbt_be_initwait(enum xenbus_state s, void *arg)
{
	return (s == XenbusStateInitWait || s == XenbusStateClosing);
}

uint64_t
xbbt_front_sectors(struct xbbt_front *f)
{
	uint64_t v = 0;

	assert_int_equal(xbus_read_u64(f->f_xs, XBT_NULL, f->f_bedir, "sectors",
			     UINT64_MAX, &v),
	    0);
	return (f->f_sectors = v);
}

int
xbbt_front_connect(struct xbbt_front *f)
{
	enum xenbus_state st;
	int rc;

	/* Initialising again tells a Closed backend to start over. */
	xbbt_front_state(f, XenbusStateInitialising);
	if ((rc = xbus_wait_state(f->f_xs, f->f_bedir, xbbt_be_initwait, NULL,
		 XBBT_TIMEOUT_MS)) != 0)
		return (rc);
	if (xbus_read_state(f->f_xs, f->f_bedir) != XenbusStateInitWait)
		return (-EPROTO);
	f->f_max_order = xbbt_be_u32(f, "max-ring-page-order", 0);
	f->f_max_queues = xbbt_be_u32(f, "multi-queue-max-queues", 1);
	f->f_max_indirect = xbbt_be_u32(f, "feature-max-indirect-segments", 0);
	f->f_flush = xbbt_be_u32(f, "feature-flush-cache", 0) != 0;
	f->f_barrier = xbbt_be_u32(f, "feature-barrier", 0) != 0;
	f->f_discard = xbbt_be_u32(f, "feature-discard", 0) != 0;
	f->f_discard_gran = xbbt_be_u32(f, "discard-granularity", 512);
	f->f_secure = xbbt_be_u32(f, "discard-secure", 0) != 0;
	f->f_be_persistent = xbbt_be_u32(f, "feature-persistent", 0) != 0;
	xbbt_publish(f);
	xbbt_front_state(f,
	    f->f_o.fo_straight_connected ? XenbusStateConnected :
					   XenbusStateInitialised);
	if ((rc = xbus_wait_state(f->f_xs, f->f_bedir, xbbt_be_settled, NULL,
		 XBBT_TIMEOUT_MS)) != 0)
		return (rc);
	st = xbus_read_state(f->f_xs, f->f_bedir);
	if (st != XenbusStateConnected)
		return (-EPROTO);
	xbbt_front_sectors(f);
	f->f_sector_size = xbbt_be_u32(f, "sector-size", 0);
	f->f_phys_size = xbbt_be_u32(f, "physical-sector-size", 0);
	f->f_info = xbbt_be_u32(f, "info", 0);
	xbbt_front_state(f, XenbusStateConnected);
	return (0);
}

static bool
xbbt_be_closing(enum xenbus_state s, void *arg)
{
	return (s == XenbusStateClosing || s == XenbusStateClosed ||
	    s == XenbusStateUnknown || s == XenbusStateInitWait);
}

static bool
xbbt_be_closed(enum xenbus_state s, void *arg)
{
	/* Closed, or already back at InitWait / gone when online. */
	return (s == XenbusStateClosed || s == XenbusStateUnknown ||
	    s == XenbusStateInitWait);
}

void
xbbt_front_close(struct xbbt_front *f)
{
	struct xbbt_ring *r;
	unsigned int q, i;

	if (f->f_xs != NULL) {
		xbbt_front_state(f, XenbusStateClosing);
		(void)xbus_wait_state(f->f_xs, f->f_bedir, xbbt_be_closing,
		    NULL, XBBT_TIMEOUT_MS);
		xbbt_front_state(f, XenbusStateClosed);
		(void)xbus_wait_state(f->f_xs, f->f_bedir, xbbt_be_closed, NULL,
		    XBBT_TIMEOUT_MS);
	}
	/* The backend has let go of everything: every grant ends. */
	for (q = 0; q < f->f_nrings; q++) {
		r = &f->f_rings[q];
		if (r->r_evh != NULL)
			plat_evtchn_close(r->r_evh);
		for (i = 0; i < r->r_npages && r->r_sring != NULL; i++)
			xbbt_ungrant(f, r->r_refs[i]);
		if (r->r_sring != NULL)
			plat_mem_free(f->f_p, r->r_sring, r->r_npages);
	}
	if (f->f_pref != NULL)
		for (i = 0; i < f->f_npages; i++)
			if (f->f_pref[i] != 0)
				xbbt_ungrant(f, f->f_pref[i]);
	if (f->f_data != NULL)
		plat_mem_free(f->f_p, f->f_data, f->f_npages);
	free(f->f_free);
	free(f->f_pref);
	if (f->f_xs != NULL)
		xs_close(f->f_xs);
	memset(f, 0, sizeof(*f));
}

/* ---------------------------------------------------------------------
 * Frontend: the ring, by hand
 */

static volatile uint32_t *
xbbt_idx(struct xbbt_ring *r, size_t off)
{
	return ((volatile uint32_t *)(r->r_sring + off));
}

uint8_t *
xbbt_slot(struct xbbt_front *f, unsigned int q, uint32_t idx)
{
	struct xbbt_ring *r = &f->f_rings[q];

	return (r->r_sring + offsetof(struct blkif_sring, ring) +
	    (size_t)(idx & (r->r_slots - 1)) * r->r_slot);
}

void
xbbt_put_raw(struct xbbt_front *f, unsigned int q, const void *bytes,
    size_t len)
{
	struct xbbt_ring *r = &f->f_rings[q];

	assert_true(len <= r->r_slot);
	memcpy(xbbt_slot(f, q, r->r_req_prod), bytes, len);
	r->r_req_prod++;
}

/* The native request in the 32-bit layout. */
static void
xbbt_to_x86_32(const void *req, uint8_t *out)
{
	const struct blkif_request *rw = req;
	const struct blkif_request_discard *d = req;
	const struct blkif_request_indirect *in = req;
	struct blkif_x86_32_request r32;
	struct blkif_x86_32_request_discard d32;
	struct blkif_x86_32_request_indirect i32;
	unsigned int i;

	memset(out, 0, sizeof(r32));
	switch (rw->operation) {
	case BLKIF_OP_DISCARD:
		memset(&d32, 0, sizeof(d32));
		d32.operation = d->operation;
		d32.flag = d->flag;
		d32.handle = d->handle;
		d32.id = d->id;
		d32.sector_number = d->sector_number;
		d32.nr_sectors = d->nr_sectors;
		memcpy(out, &d32, sizeof(d32));
		break;
	case BLKIF_OP_INDIRECT:
		memset(&i32, 0, sizeof(i32));
		i32.operation = in->operation;
		i32.indirect_op = in->indirect_op;
		i32.nr_segments = in->nr_segments;
		i32.id = in->id;
		i32.sector_number = in->sector_number;
		i32.handle = in->handle;
		for (i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
			i32.indirect_grefs[i] = in->indirect_grefs[i];
		memcpy(out, &i32, sizeof(i32));
		break;
	default:
		memset(&r32, 0, sizeof(r32));
		r32.operation = rw->operation;
		r32.nr_segments = rw->nr_segments;
		r32.handle = rw->handle;
		r32.id = rw->id;
		r32.sector_number = rw->sector_number;
		for (i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
			r32.seg[i] = rw->seg[i];
		memcpy(out, &r32, sizeof(r32));
		break;
	}
}

void
xbbt_put(struct xbbt_front *f, unsigned int q, const void *req, size_t len)
{
	uint8_t buf[sizeof(struct blkif_request)];

	if (!f->f_o.fo_x86_32) {
		xbbt_put_raw(f, q, req, len);
		return;
	}
	xbbt_to_x86_32(req, buf);
	xbbt_put_raw(f, q, buf, sizeof(struct blkif_x86_32_request));
}

static void
xbbt_notify(struct xbbt_front *f, unsigned int q)
{
	assert_int_equal(
	    plat_evtchn_notify(f->f_rings[q].r_evh, f->f_rings[q].r_port), 0);
	f->f_rings[q].r_notifies++;
}

void
xbbt_push(struct xbbt_front *f, unsigned int q)
{
	struct xbbt_ring *r = &f->f_rings[q];
	uint32_t old = r->r_req_pushed, new = r->r_req_prod, event;

	xen_wmb(); /* the slots before the index that covers them */
	*xbbt_idx(r, offsetof(struct blkif_sring, req_prod)) = new;
	r->r_req_pushed = new;
	xen_mb(); /* the index before reading the event */
	event = *xbbt_idx(r, offsetof(struct blkif_sring, req_event));
	/* RING_PUSH_REQUESTS_AND_CHECK_NOTIFY's test. */
	if ((uint32_t)(new - event) < (uint32_t)(new - old))
		xbbt_notify(f, q);
}

void
xbbt_set_req_prod(struct xbbt_front *f, unsigned int q, uint32_t prod)
{
	struct xbbt_ring *r = &f->f_rings[q];

	xen_wmb();
	*xbbt_idx(r, offsetof(struct blkif_sring, req_prod)) = prod;
	xen_mb();
	xbbt_notify(f, q);
}

void
xbbt_kick(struct xbbt_front *f, unsigned int q)
{
	xbbt_notify(f, q);
}

void
xbbt_put_rsp(struct xbbt_front *f, unsigned int q, uint32_t idx, uint64_t id,
    uint8_t op, int16_t status)
{
	uint8_t *slot = xbbt_slot(f, q, idx);

	/* Both ABIs: id at 0, operation at 8, status at 10. */
	memcpy(slot, &id, sizeof(id));
	memcpy(slot + 8, &op, sizeof(op));
	memcpy(slot + 10, &status, sizeof(status));
}

void
xbbt_set_rsp_prod(struct xbbt_front *f, unsigned int q, uint32_t prod)
{
	xen_wmb(); /* the responses before the index that covers them */
	*xbbt_idx(&f->f_rings[q], offsetof(struct blkif_sring, rsp_prod)) =
	    prod;
	xen_mb();
}

unsigned int
xbbt_ready(struct xbbt_front *f, unsigned int q)
{
	struct xbbt_ring *r = &f->f_rings[q];
	uint32_t prod = *xbbt_idx(r, offsetof(struct blkif_sring, rsp_prod));

	xen_rmb();
	return (prod - r->r_rsp_cons);
}

static long
xbbt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int
xbbt_wait(struct xbbt_front *f, unsigned int q, struct blkif_response *rsp,
    unsigned int timeout_ms)
{
	struct xbbt_ring *r = &f->f_rings[q];
	long end = xbbt_now_ms() + timeout_ms;
	struct pollfd pfd;
	evtchn_port_t port;
	uint8_t *slot;
	long left;

	for (;;) {
		if (xbbt_ready(f, q) > 0)
			break;
		/* Re-arm the response event, then look again. */
		*xbbt_idx(r, offsetof(struct blkif_sring, rsp_event)) =
		    r->r_rsp_cons + 1;
		xen_mb();
		if (xbbt_ready(f, q) > 0)
			break;
		if ((left = end - xbbt_now_ms()) <= 0)
			return (-ETIMEDOUT);
		pfd.fd = plat_evtchn_fd(r->r_evh);
		pfd.events = POLLIN;
		(void)poll(&pfd, 1, (int)XU_MIN(left, 100L));
		while (plat_evtchn_pending(r->r_evh, &port) == 0)
			(void)plat_evtchn_unmask(r->r_evh, port);
	}
	slot = xbbt_slot(f, q, r->r_rsp_cons);
	/* Both ABIs: id at 0, operation at 8, status at 10. */
	memset(rsp, 0, sizeof(*rsp));
	memcpy(&rsp->id, slot, sizeof(rsp->id));
	memcpy(&rsp->operation, slot + 8, sizeof(rsp->operation));
	memcpy(&rsp->status, slot + 10, sizeof(rsp->status));
	r->r_rsp_cons++;
	return (0);
}

/* ---------------------------------------------------------------------
 * Frontend: requests
 */

/* Split nsect sectors into segments: whole pages, or random pieces. */
static void
xbbt_layout(struct xbbt_front *f, struct xbbt_io *io, unsigned int flags)
{
	uint32_t left = io->io_nsect, len, first;

	io->io_nseg = 0;
	while (left > 0) {
		assert_true(io->io_nseg < XBBT_MAX_SEGS);
		if (flags & XBBT_SUB) {
			len = 1 +
			    (uint32_t)(xbbt_rand(&f->f_seed) %
				XU_MIN(left, (uint32_t)XBD_SECTORS_PER_PAGE));
			first = (uint32_t)(xbbt_rand(&f->f_seed) %
			    (XBD_SECTORS_PER_PAGE - len + 1));
		} else {
			len = XU_MIN(left, (uint32_t)XBD_SECTORS_PER_PAGE);
			first = 0;
		}
		io->io_segs[io->io_nseg].first_sect = (uint8_t)first;
		io->io_segs[io->io_nseg].last_sect = (uint8_t)(first + len - 1);
		io->io_nseg++;
		left -= len;
	}
}

static size_t
xbbt_seg_bytes(const struct blkif_request_segment *s)
{
	return ((size_t)(s->last_sect - s->first_sect + 1) * XBD_SECTOR_SIZE);
}

int
xbbt_rw_start(struct xbbt_front *f, unsigned int q, struct xbbt_io **out,
    uint8_t op, uint64_t sector, uint32_t nsect, const void *wbuf,
    unsigned int flags)
{
	struct blkif_request_indirect in;
	struct blkif_request rq;
	struct blkif_request_segment *desc;
	struct xbbt_io *io;
	bool ro = op != BLKIF_OP_READ, indirect;
	size_t off = 0, n;
	uint32_t i, per;

	io = calloc(1, sizeof(*io));
	assert_non_null(io);
	io->io_segs = calloc(XBBT_MAX_SEGS, sizeof(*io->io_segs));
	io->io_page = calloc(XBBT_MAX_SEGS, sizeof(*io->io_page));
	io->io_ref = calloc(XBBT_MAX_SEGS, sizeof(*io->io_ref));
	assert_non_null(io->io_segs);
	assert_non_null(io->io_page);
	assert_non_null(io->io_ref);
	io->io_id = f->f_next_id++;
	io->io_op = op;
	io->io_sector = sector;
	io->io_nsect = nsect;
	xbbt_layout(f, io, flags);
	indirect = (flags & XBBT_INDIRECT) ||
	    (io->io_nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST &&
		!(flags & XBBT_DIRECT));
	for (i = 0; i < io->io_nseg; i++) {
		io->io_page[i] = xbbt_page_get(f);
		n = xbbt_seg_bytes(&io->io_segs[i]);
		if (wbuf != NULL)
			memcpy(xbbt_page(f, io->io_page[i]) +
				io->io_segs[i].first_sect * XBD_SECTOR_SIZE,
			    (const uint8_t *)wbuf + off, n);
		else
			/* A canary the backend must overwrite (reads). */
			memset(xbbt_page(f, io->io_page[i]), 0xee,
			    XBD_PAGE_SIZE);
		off += n;
		io->io_ref[i] = xbbt_data_ref(f, io->io_page[i], ro);
		io->io_segs[i].gref = io->io_ref[i];
	}
	if (!indirect) {
		assert_true(io->io_nseg <= BLKIF_MAX_SEGMENTS_PER_REQUEST);
		memset(&rq, 0, sizeof(rq));
		rq.operation = op;
		rq.nr_segments = (uint8_t)io->io_nseg;
		rq.handle = (blkif_vdev_t)f->f_vdev;
		rq.id = io->io_id;
		rq.sector_number = sector;
		memcpy(rq.seg, io->io_segs, io->io_nseg * sizeof(rq.seg[0]));
		xbbt_put(f, q, &rq, sizeof(rq));
	} else {
		memset(&in, 0, sizeof(in));
		in.operation = BLKIF_OP_INDIRECT;
		in.indirect_op = op;
		in.nr_segments = (uint16_t)io->io_nseg;
		in.id = io->io_id;
		in.sector_number = sector;
		in.handle = (blkif_vdev_t)f->f_vdev;
		io->io_nind = (io->io_nseg + XBD_SEGS_PER_INDIRECT_PAGE - 1) /
		    XBD_SEGS_PER_INDIRECT_PAGE;
		for (i = 0; i < io->io_nind; i++) {
			io->io_ipage[i] = xbbt_page_get(f);
			desc = (struct blkif_request_segment *)xbbt_page(f,
			    io->io_ipage[i]);
			per = XU_MIN(io->io_nseg -
				i * (uint32_t)XBD_SEGS_PER_INDIRECT_PAGE,
			    (uint32_t)XBD_SEGS_PER_INDIRECT_PAGE);
			memcpy(desc,
			    io->io_segs +
				(size_t)i * XBD_SEGS_PER_INDIRECT_PAGE,
			    per * sizeof(*desc));
			io->io_iref[i] = xbbt_grant(f, io->io_ipage[i], true);
			in.indirect_grefs[i] = io->io_iref[i];
		}
		xbbt_put(f, q, &in, sizeof(in));
	}
	*out = io;
	return (0);
}

void
xbbt_rw_end(struct xbbt_front *f, struct xbbt_io *io, void *rbuf)
{
	size_t off = 0, n;
	uint32_t i;

	for (i = 0; i < io->io_nseg; i++) {
		n = xbbt_seg_bytes(&io->io_segs[i]);
		if (rbuf != NULL)
			memcpy((uint8_t *)rbuf + off,
			    xbbt_page(f, io->io_page[i]) +
				io->io_segs[i].first_sect * XBD_SECTOR_SIZE,
			    n);
		off += n;
		if (!f->f_o.fo_persistent)
			xbbt_ungrant(f, io->io_ref[i]);
		xbbt_page_put(f, io->io_page[i]);
	}
	for (i = 0; i < io->io_nind; i++) {
		xbbt_ungrant(f, io->io_iref[i]);
		xbbt_page_put(f, io->io_ipage[i]);
	}
	free(io->io_segs);
	free(io->io_page);
	free(io->io_ref);
	free(io);
}

int
xbbt_rw(struct xbbt_front *f, unsigned int q, uint8_t op, uint64_t sector,
    uint32_t nsect, void *buf, unsigned int flags)
{
	struct blkif_response rsp;
	struct xbbt_io *io;
	uint8_t want;

	assert_int_equal(xbbt_rw_start(f, q, &io, op, sector, nsect,
			     op == BLKIF_OP_READ ? NULL : buf, flags),
	    0);
	xbbt_push(f, q);
	assert_int_equal(xbbt_wait(f, q, &rsp, XBBT_TIMEOUT_MS), 0);
	assert_true(rsp.id == io->io_id);
	want = op;
	assert_int_equal(rsp.operation, want);
	xbbt_rw_end(f, io,
	    op == BLKIF_OP_READ && rsp.status == BLKIF_RSP_OKAY ? buf : NULL);
	return (rsp.status);
}

int
xbbt_nodata(struct xbbt_front *f, unsigned int q, uint8_t op)
{
	struct blkif_response rsp;
	struct blkif_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.operation = op;
	rq.id = f->f_next_id++;
	xbbt_put(f, q, &rq, sizeof(rq));
	xbbt_push(f, q);
	assert_int_equal(xbbt_wait(f, q, &rsp, XBBT_TIMEOUT_MS), 0);
	assert_true(rsp.id == rq.id);
	assert_int_equal(rsp.operation, op);
	return (rsp.status);
}

int
xbbt_discard(struct xbbt_front *f, unsigned int q, uint64_t sector,
    uint64_t nsect, uint8_t flag)
{
	struct blkif_request_discard d;
	struct blkif_response rsp;

	memset(&d, 0, sizeof(d));
	d.operation = BLKIF_OP_DISCARD;
	d.flag = flag;
	d.id = f->f_next_id++;
	d.sector_number = sector;
	d.nr_sectors = nsect;
	xbbt_put(f, q, &d, sizeof(d));
	xbbt_push(f, q);
	assert_int_equal(xbbt_wait(f, q, &rsp, XBBT_TIMEOUT_MS), 0);
	assert_true(rsp.id == d.id);
	assert_int_equal(rsp.operation, BLKIF_OP_DISCARD);
	return (rsp.status);
}
