/* SPDX-License-Identifier: BSD-2-Clause */
/* The frontend's scripted-backend machine; see sfix.h. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sfix.h"
#include "xt.h"

struct hostile *
sfix_new_backend(struct sfix *f, hostile_hook_fn *hook, void *arg,
    const struct hostile_node *nodes)
{
	uint32_t domid = f->f_nbe == 0 ? 0 : (uint32_t)f->f_nbe + 1;
	struct hostile *h;
	int i;

	assert_true(f->f_nbe < SFIX_MAX_BACKENDS);
	assert_int_equal(
	    hv_domain_create(f->f_hv, domid, "backend", &f->f_be[f->f_nbe]), 0);
	h = &f->f_h[f->f_nbe];
	h->h_plat = f->f_be[f->f_nbe];
	h->h_fe_id = 1;
	h->h_vdev = 51712;
	h->h_disk_size = SFIX_DISK;
	h->h_hook = hook;
	h->h_arg = arg;
	for (i = 0; nodes != NULL && nodes[i].n_name != NULL; i++)
		h->h_nodes[i] = nodes[i];
	assert_int_equal(hostile_start(h, f->f_priv), 0);
	f->f_nbe++;
	return (h);
}

struct hostile *
sfix_backend(struct sfix *f)
{
	return (&f->f_h[f->f_nbe - 1]);
}

int
sfix_up(struct sfix *f, hostile_hook_fn *hook, void *arg,
    const struct hostile_node *nodes, const struct xbd_opts *o)
{
	return (sfix_up_on(f, NULL, hook, arg, nodes, o));
}

int
sfix_up_on(struct sfix *f, const char *xsd_dir, hostile_hook_fn *hook,
    void *arg, const struct hostile_node *nodes, const struct xbd_opts *o)
{
	struct hv_opts ho;

	memset(f, 0, sizeof(*f));
	setenv("XBD_QUIET", "1", 0);
	hv_opts_init(&ho);
	if (xsd_dir != NULL) {
		ho.o_dir = xsd_dir;
		ho.o_xenstored = 0;
	}
	assert_int_equal(hv_create(&ho, &f->f_hv), 0);
	assert_int_equal(hv_domain_create(f->f_hv, 1, "guest", &f->f_fe), 0);
	assert_non_null(f->f_priv = hv_xs_open_priv(f->f_hv));
	(void)sfix_new_backend(f, hook, arg, nodes);
	assert_int_equal(xbd_plat_wrap(f->f_fe, &f->f_xp), 0);
	return (xbd_attach(f->f_xp, "xvda", o, &f->f_dev));
}

void
sfix_down(struct sfix *f)
{
	int i;

	if (f->f_dev != NULL)
		xbd_detach(f->f_dev);
	/* Newest first, the reverse of the order they were started in. */
	for (i = f->f_nbe - 1; i >= 0; i--)
		hostile_stop(&f->f_h[i]);
	xbd_plat_close(f->f_xp);
	xs_close(f->f_priv);
	plat_close(f->f_fe);
	for (i = 0; i < f->f_nbe; i++)
		plat_close(f->f_be[i]);
	hv_destroy(f->f_hv);
}

int
sfix_state(struct sfix *f)
{
	struct xbd_info info;

	xbd_get_info(f->f_dev, &info);
	return (info.xi_state);
}

void
sfix_stats(struct sfix *f, struct xbd_stats *st)
{
	xbd_get_stats(f->f_dev, st, sizeof(*st));
}

void
sfix_assert_error(struct sfix *f)
{
	struct xbd_stats st;
	char buf[4096];

	assert_int_equal(sfix_state(f), 3);
	assert_int_equal(xbd_read(f->f_dev, buf, 0, 4096), -EIO);
	sfix_stats(f, &st);
	assert_true(st.xst_protocol_errors > 0);
}
