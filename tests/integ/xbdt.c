/* SPDX-License-Identifier: BSD-2-Clause */
/* The frontend's end-to-end fixture; see xbdt.h. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xbdt.h"

int
xbdt_setup(struct xbdt *t, const struct xbdt_opts *o)
{
	struct xemb_opts eo;
	int fd, rc;

	memset(t, 0, sizeof(*t));
	setenv("XBD_QUIET", "1", 0);
	snprintf(t->t_dir, sizeof(t->t_dir), "%s/xbdt.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(t->t_dir) == NULL)
		return (-errno);
	snprintf(t->t_img, sizeof(t->t_img), "%s/disk.img", t->t_dir);
	if ((fd = open(t->t_img, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0)
		return (-errno);
	rc = ftruncate(fd, (off_t)o->size) != 0 ? -errno : 0;
	close(fd);
	if (rc != 0)
		return (rc);
	xemb_opts_init(&eo);
	eo.o_image = t->t_img;
	eo.o_readonly = o->readonly;
	eo.o_untrusted = o->untrusted;
	eo.o_grant_entries = o->grant_entries;
	eo.o_xbb = o->xbb;
	if ((rc = xemb_start(&eo, &t->t_e)) != 0)
		return (rc == -ENOSYS || rc == -EPERM ? 77 : rc);
	t->t_xbb = xemb_backend(t->t_e);
	t->t_xs = xemb_xs(t->t_e);
	t->t_vbd = xemb_vbd(t->t_e);
	return (0);
}

int
xbdt_attach(struct xbdt *t, const struct xbd_opts *o, struct xbd_dev **out)
{
	return (xbd_attach(xemb_plat(t->t_e), "xvda", o, out));
}

void
xbdt_teardown(struct xbdt *t)
{
	xemb_stop(t->t_e);
	unlink(t->t_img);
	rmdir(t->t_dir);
}
