/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The "xen" platform's table and lifetime: opening the process's own
 * domain on real Xen (dom0 or a domU with the Xen devices), its
 * XenStore handles, and its counters.
 *
 * The domain id comes from XenStore's relative "domid" node, which the
 * toolstack writes for every domain (xen-init-dom0 for dom0); a store
 * without it still works in the control domain, which is domain 0.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "common/xu_parse.h"
#include "px_internal.h"

/* Does /proc/xen/capabilities say we are the control domain? */
static bool
px_is_control_domain(void)
{
	char buf[64];
	FILE *f;
	bool yes = false;

	if ((f = fopen("/proc/xen/capabilities", "re")) == NULL)
		return (false);
	if (fgets(buf, sizeof(buf), f) != NULL)
		yes = strstr(buf, "control_d") != NULL;
	fclose(f);
	return (yes);
}

/* Our domain id, from XenStore. */
static int
px_read_domid(uint32_t *domid)
{
	struct xs_handle *xs;
	unsigned int len;
	char *val;
	int rc;

	if ((xs = xs_open(0)) == NULL)
		return (errno == ENOENT ? -ENODEV : -errno);
	val = xs_read(xs, XBT_NULL, "domid", &len);
	xs_close(xs);
	if (val == NULL) {
		if (!px_is_control_domain())
			return (-ENOENT);
		*domid = 0;
		return (0);
	}
	rc = xu_parse_u32(val, domid);
	free(val);
	return (rc != 0 || *domid >= DOMID_FIRST_RESERVED ? -EINVAL : 0);
}

static void
px_close(struct plat *p)
{
	struct px *x = px_of(p);

	px_gnt_fini(x);
	if (x->px_gt != NULL)
		xengnttab_close(x->px_gt);
	if (x->px_gs != NULL)
		xengntshr_close(x->px_gs);
	pthread_mutex_destroy(&x->px_lock);
	free(x);
}

static struct xs_handle *
px_xs_open(struct plat *p)
{
	return (xs_open(0));
}

static void
px_stats(struct plat *p, struct plat_stats *st)
{
	struct px *x = px_of(p);

	memset(st, 0, sizeof(*st));
	st->ps_notify = atomic_load(&x->px_st.st_notify);
	st->ps_events = atomic_load(&x->px_st.st_events);
	st->ps_grants = atomic_load(&x->px_st.st_grants);
	st->ps_grant_ends = atomic_load(&x->px_st.st_grant_ends);
	st->ps_maps = atomic_load(&x->px_st.st_maps);
	st->ps_unmaps = atomic_load(&x->px_st.st_unmaps);
	st->ps_map_errors = atomic_load(&x->px_st.st_map_errors);
	st->ps_copy_segs = atomic_load(&x->px_st.st_copy_segs);
	st->ps_copy_bytes = atomic_load(&x->px_st.st_copy_bytes);
	pthread_mutex_lock(&x->px_lock);
	st->ps_refs_in_use = PX_NREFS - x->px_nfree;
	pthread_mutex_unlock(&x->px_lock);
	st->ps_refs_total = PX_NREFS;
}

static const struct plat_ops px_ops = {
	.po_name = "xen",
	.po_caps = PLAT_CAP_GNT_MAP | PLAT_CAP_GNT_COPY,
	.po_close = px_close,
	.po_xs_open = px_xs_open,
	.po_mem_alloc = px_mem_alloc,
	.po_mem_free = px_mem_free,
	.po_gnt_reserve = px_gnt_reserve,
	.po_gnt_release = px_gnt_release,
	.po_gnt_request_free_callback = px_gnt_request_free_callback,
	.po_gnt_cancel_free_callback = px_gnt_cancel_free_callback,
	.po_gnt_grant = px_gnt_grant,
	.po_gnt_end = px_gnt_end,
	.po_map = px_map,
	.po_unmap = px_unmap,
	.po_map_batch = px_map_batch,
	.po_unmap_batch = px_unmap_batch,
	.po_copy = px_copy,
	.po_evtchn_open = px_evtchn_open,
	.po_evtchn_close = px_evtchn_close,
	.po_evtchn_fd = px_evtchn_fd,
	.po_evtchn_bind_unbound = px_evtchn_bind_unbound,
	.po_evtchn_bind_interdomain = px_evtchn_bind_interdomain,
	.po_evtchn_notify = px_evtchn_notify,
	.po_evtchn_pending = px_evtchn_pending,
	.po_evtchn_unmask = px_evtchn_unmask,
	.po_evtchn_unbind = px_evtchn_unbind,
	.po_stats = px_stats,
};

int
plat_xen_open(struct plat **out)
{
	struct px *x;
	int rc;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return (-ENOMEM);
	pthread_mutex_init(&x->px_lock, NULL);
	x->px_plat.pl_ops = &px_ops;
	if ((rc = px_gnt_init(x)) != 0)
		goto fail;
	/* A missing device node is a host without Xen (or its modules). */
	if ((x->px_gs = xengntshr_open(NULL, 0)) == NULL ||
	    (x->px_gt = xengnttab_open(NULL, 0)) == NULL) {
		rc = errno == ENOENT ? -ENODEV : -errno;
		goto fail;
	}
	if ((rc = px_read_domid(&x->px_plat.pl_domid)) != 0)
		goto fail;
	*out = &x->px_plat;
	return (0);

fail:
	px_close(&x->px_plat);
	return (rc);
}
