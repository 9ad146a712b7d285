/* SPDX-License-Identifier: BSD-2-Clause */
/* The hostile-backend fixture of the frontend's tests; see hfix.h. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hfix.h"
#include "xt.h"

int
hfix_up(struct hfix *f, hostile_hook_fn *hook, void *arg,
    const struct hostile_node *nodes, const struct xbd_opts *o)
{
	return (hfix_up_on(f, NULL, hook, arg, nodes, o));
}

int
hfix_up_on(struct hfix *f, const char *xsd_dir, hostile_hook_fn *hook,
    void *arg, const struct hostile_node *nodes, const struct xbd_opts *o)
{
	struct hv_opts ho;
	int i;

	memset(f, 0, sizeof(*f));
	setenv("XBD_QUIET", "1", 0);
	hv_opts_init(&ho);
	if (xsd_dir != NULL) {
		ho.o_dir = xsd_dir;
		ho.o_xenstored = 0;
	}
	assert_int_equal(hv_create(&ho, &f->f_hv), 0);
	assert_int_equal(hv_domain_create(f->f_hv, 0, "Domain-0", &f->f_be), 0);
	assert_int_equal(hv_domain_create(f->f_hv, 1, "guest", &f->f_fe), 0);
	assert_non_null(f->f_priv = hv_xs_open_priv(f->f_hv));
	f->f_h.h_plat = f->f_be;
	f->f_h.h_fe_id = 1;
	f->f_h.h_vdev = 51712;
	f->f_h.h_disk_size = HFIX_DISK;
	f->f_h.h_hook = hook;
	f->f_h.h_arg = arg;
	for (i = 0; nodes != NULL && nodes[i].n_name != NULL; i++)
		f->f_h.h_nodes[i] = nodes[i];
	assert_int_equal(hostile_start(&f->f_h, f->f_priv), 0);
	assert_int_equal(xbd_plat_wrap(f->f_fe, &f->f_xp), 0);
	return (xbd_attach(f->f_xp, "xvda", o, &f->f_dev));
}

void
hfix_down(struct hfix *f)
{
	if (f->f_dev != NULL)
		xbd_detach(f->f_dev);
	hostile_stop(&f->f_h);
	xbd_plat_close(f->f_xp);
	xs_close(f->f_priv);
	plat_close(f->f_fe);
	plat_close(f->f_be);
	hv_destroy(f->f_hv);
}

int
hfix_state(struct hfix *f)
{
	struct xbd_info info;

	xbd_get_info(f->f_dev, &info);
	return (info.xi_state);
}

void
hfix_assert_error(struct hfix *f)
{
	struct xbd_stats st;
	char buf[4096];

	assert_int_equal(hfix_state(f), 3);
	assert_int_equal(xbd_read(f->f_dev, buf, 0, 4096), -EIO);
	xbd_get_stats(f->f_dev, &st, sizeof(st));
	assert_true(st.xs_protocol_errors > 0);
}
