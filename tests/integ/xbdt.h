/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The frontend's end-to-end fixture: an image file in a temporary
 * directory served by the embedded machine (lib/embed): backend domain
 * 0 running xbb, frontend domain 1, the vbd between them created the way
 * libxl creates one.
 */

#ifndef XBD_TESTS_XBDT_H
#define XBD_TESTS_XBDT_H

#include <stdbool.h>
#include <stdint.h>

#include "back/xbb.h"
#include "embed/xemb.h"
#include "front/xbd_internal.h"

struct xbdt {
	struct xemb *t_e;	      /* the machine */
	struct xbb *t_xbb;	      /* its backend */
	struct xs_handle *t_xs;	      /* its toolstack handle */
	const struct xbus_vbd *t_vbd; /* the vbd */
	char t_dir[256];	      /* temporary directory */
	char t_img[300];	      /* the image file */
};

/* Fixture options. */
struct xbdt_opts {
	uint64_t size;		    /* image bytes */
	bool readonly;		    /* vbd mode "r" */
	bool untrusted;		    /* frontend trusted = 0 */
	uint32_t grant_entries;	    /* grant table size (0: default) */
	const struct xbb_opts *xbb; /* backend options (NULL: defaults) */
};

/* Build the machine with a fresh image; 77 means skip (no io_uring). */
int xbdt_setup(struct xbdt *t, const struct xbdt_opts *o);
/* Tear everything down and remove the image. */
void xbdt_teardown(struct xbdt *t);
/* Attach the frontend with o (NULL: defaults). */
int xbdt_attach(struct xbdt *t, const struct xbd_opts *o, struct xbd_dev **out);

#endif /* XBD_TESTS_XBDT_H */
