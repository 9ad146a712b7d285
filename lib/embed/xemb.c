/* SPDX-License-Identifier: BSD-2-Clause */
/* The embedded default machine; see xemb.h. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "front/xbd_internal.h"
#include "platform/sim/hv.h"
#include "xemb.h"

struct xemb {
	struct hv *e_hv;	    /* the machine */
	struct plat *e_be;	    /* domain 0: backend and toolstack */
	struct plat *e_fe;	    /* domain 1: the frontend's */
	struct xbb *e_xbb;	    /* the backend */
	struct xbb_opts e_xbb_opts; /* its options, for a restart */
	struct xs_handle *e_xs;	    /* toolstack handle */
	struct xbd_plat *e_xp;	    /* domain 1 for xbd_attach */
	struct xbus_vbd e_vbd;	    /* the vbd */
	bool e_vbd_added;	    /* e_vbd exists in XenStore */
	char *e_image;		    /* copy of the image path */
};

void
xemb_opts_init(struct xemb_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->o_size = sizeof(*o);
}

int
xemb_start(const struct xemb_opts *o, struct xemb **out)
{
	struct hv_opts ho;
	struct xemb *e;
	int rc;

	if (o == NULL || o->o_image == NULL)
		return (-EINVAL);
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->e_image = strdup(o->o_image)) == NULL) {
		free(e);
		return (-ENOMEM);
	}
	if (o->o_xbb != NULL)
		e->e_xbb_opts = *o->o_xbb;
	else
		xbb_opts_init(&e->e_xbb_opts);
	hv_opts_init(&ho);
	if (o->o_grant_entries != 0)
		ho.o_grant_entries = o->o_grant_entries;
	if ((rc = hv_create(&ho, &e->e_hv)) != 0 ||
	    (rc = hv_domain_create(e->e_hv, 0, "Domain-0", &e->e_be)) != 0 ||
	    (rc = hv_domain_create(e->e_hv, 1, "guest", &e->e_fe)) != 0 ||
	    (rc = xbb_start(e->e_be, &e->e_xbb_opts, &e->e_xbb)) != 0)
		goto fail;
	if ((e->e_xs = hv_xs_open_priv(e->e_hv)) == NULL) {
		rc = errno != 0 ? -errno : -EIO;
		goto fail;
	}
	e->e_vbd.v_frontend_id = 1;
	e->e_vbd.v_backend_id = 0;
	e->e_vbd.v_vdev = 51712;
	e->e_vbd.v_kind = "vbd";
	e->e_vbd.v_params = e->e_image;
	e->e_vbd.v_remote = xbb_params_remote(e->e_image);
	e->e_vbd.v_readonly = o->o_readonly;
	e->e_vbd.v_untrusted = o->o_untrusted;
	e->e_vbd.v_discard = true;
	if ((rc = xbus_vbd_add(e->e_xs, &e->e_vbd)) != 0)
		goto fail;
	e->e_vbd_added = true;
	rc = xbus_vbd_hotplug(e->e_xs, &e->e_vbd, XBUS_INIT_TIMEOUT_MS);
	if (rc != 0)
		goto fail;
	if ((rc = xbd_plat_wrap(e->e_fe, &e->e_xp)) != 0)
		goto fail;
	*out = e;
	return (0);
fail:
	xemb_stop(e);
	return (rc);
}

void
xemb_stop(struct xemb *e)
{
	if (e == NULL)
		return;
	if (e->e_vbd_added)
		(void)xbus_vbd_remove(e->e_xs, &e->e_vbd, 5000, false);
	if (e->e_xs != NULL)
		xs_close(e->e_xs);
	xbb_stop(e->e_xbb);
	xbd_plat_close(e->e_xp);
	plat_close(e->e_fe);
	plat_close(e->e_be);
	if (e->e_hv != NULL)
		hv_destroy(e->e_hv);
	free(e->e_image);
	free(e);
}

struct xbd_plat *
xemb_plat(struct xemb *e)
{
	return (e->e_xp);
}

struct xbb *
xemb_backend(struct xemb *e)
{
	return (e->e_xbb);
}

struct xs_handle *
xemb_xs(struct xemb *e)
{
	return (e->e_xs);
}

const struct xbus_vbd *
xemb_vbd(struct xemb *e)
{
	return (&e->e_vbd);
}

const char *
xemb_dir(struct xemb *e)
{
	return (hv_dir(e->e_hv));
}

struct hv *
xemb_hv(struct xemb *e)
{
	return (e->e_hv);
}

int
xemb_backend_restart(struct xemb *e)
{
	xbb_stop(e->e_xbb);
	e->e_xbb = NULL;
	return (xbb_start(e->e_be, &e->e_xbb_opts, &e->e_xbb));
}
