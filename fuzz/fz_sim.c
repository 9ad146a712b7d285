/* SPDX-License-Identifier: BSD-2-Clause */
/* The fuzz targets' simulated machine; see fz_sim.h. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fz_sim.h"

void
fz_die(const char *why)
{
	fprintf(stderr, "fuzz invariant broken: %s\n", why);
	abort();
}

uint64_t
fz_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

void
fz_sim_start(struct fz_sim *s)
{
	struct hv_opts ho;

	setenv("XBD_QUIET", "1", 0);
	hv_opts_init(&ho);
	if (hv_create(&ho, &s->s_hv) != 0 ||
	    hv_domain_create(s->s_hv, 0, "Domain-0", &s->s_be) != 0 ||
	    hv_domain_create(s->s_hv, 1, "guest", &s->s_fe) != 0 ||
	    (s->s_priv = hv_xs_open_priv(s->s_hv)) == NULL ||
	    xbd_plat_wrap(s->s_fe, &s->s_xp) != 0)
		fz_die("no simulated machine");
}

void
fz_sim_hostile(struct fz_sim *s, struct hostile *h)
{
	if (s->s_hv == NULL)
		fz_sim_start(s);
	memset(h, 0, sizeof(*h));
	h->h_plat = s->s_be;
	h->h_fe_id = 1;
	h->h_vdev = 51712;
	h->h_disk_size = 1u << 20;
}

void
fz_sim_vbd(struct fz_sim *s, struct xs_handle **bxs, char *be, size_t belen)
{
	struct xbus_vbd v;
	char fe[XBUS_PATH_MAX];

	if (s->s_hv == NULL)
		fz_sim_start(s);
	memset(&v, 0, sizeof(v));
	v.v_frontend_id = 1;
	v.v_vdev = 51712;
	v.v_kind = "vbd";
	v.v_params = "fuzz";
	if ((*bxs = plat_xs_open(s->s_be)) == NULL ||
	    xbus_vbd_paths(&v, fe, sizeof(fe), be, belen) != 0 ||
	    xbus_vbd_add(s->s_priv, &v) != 0)
		fz_die("no vbd");
}
