/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the backend's XenBus state machine driven by a frontend
 * that writes whatever it likes into its own XenStore directory.  One
 * machine is built on the first input and kept: a simulated hypervisor,
 * the real backend (xbb) serving a small image from domain 0, and a
 * frontend domain owning two granted ring pages and an unbound event
 * channel.  Each input creates the vbd, writes the transport nodes
 * (honest, missing, one of a list of nasty values, or raw bytes), plays
 * a script of frontend states, then closes and removes the vbd.  The
 * backend must survive, and once the vbd is gone it must hold no
 * mapping of the frontend's pages; a violation aborts.
 *
 * Input: one selector byte per node of fz_nodes (0 honest, 1 absent,
 *        2 nasty value [next byte], 3 raw value [length byte, bytes]),
 *        then state bytes, each an index into fz_states.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "back/xbb.h"
#include "fz_back.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	struct fz_back m_b; /* the machine and the guest's side */
	struct xbb *m_xbb;  /* the backend, with its control thread */
} fz;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_dom_usage u;
	struct xbus_vbd v;
	struct xbb_opts bo;
	uint64_t t0;
	size_t used, i;

	if (fz.m_xbb == NULL) {
		fz_back_machine(&fz.m_b);
		xbb_opts_init(&bo);
		if (xbb_start(fz.m_b.b_sim.s_be, &bo, &fz.m_xbb) != 0)
			fz_die("no backend");
	}
	fz_back_ring_reset(&fz.m_b);
	v = fz_back_vbd(&fz.m_b);
	if (xbus_vbd_add(fz.m_b.b_sim.s_priv, &v) != 0)
		fz_die("vbd not created");
	used = fz_back_nodes_write(&fz.m_b, data, size, true);
	for (i = used; i < size && i < used + 16; i++) {
		fz_back_state(&fz.m_b,
		    fz_back_states[data[i] % fz_back_nstates]);
		usleep(500);
	}
	/* The toolstack takes the vbd away. */
	fz_back_state(&fz.m_b, "6");
	(void)xbus_vbd_remove(fz.m_b.b_sim.s_priv, &v, 200, false);
	t0 = fz_now_ms();
	do {
		if (hv_domain_usage(fz.m_b.b_sim.s_hv, 0, &u) != 0)
			fz_die("no usage");
		if (u.du_mapped == 0)
			break;
		usleep(200);
	} while (fz_now_ms() - t0 < 5000);
	if (u.du_mapped != 0)
		fz_die("the backend kept the frontend's pages mapped");
	return (0);
}
