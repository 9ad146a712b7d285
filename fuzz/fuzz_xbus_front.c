/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the frontend's XenBus state machine driven by a backend
 * that publishes whatever it likes.  One machine is built on the first
 * input and kept; each input starts the scripted backend of the tests
 * with the node values it chooses (left alone, removed, one of a list of
 * nasty values, or raw bytes), attaches, and if that worked plays a
 * script of backend state changes, node rewrites and reads before
 * detaching.  Attach must succeed or fail with an errno in bounded time,
 * an attached device must report a sane geometry, every read must return
 * 0 or a negative errno, and detach must come back; a violation aborts.
 *
 * Input: [flags: bit 0 skip InitWait][one selector per fz_nodes entry:
 *        0 default, 1 removed, 2 nasty [index byte], 3 raw [length,
 *        bytes]] then 2-byte steps: 0 state [index] | 1 node [node,
 *        nasty] | 2 read | 3 wait 1 ms.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fz_sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const fz_nodes[] = { "sectors", "sector-size",
	"physical-sector-size", "info", "feature-flush-cache",
	"feature-barrier", "feature-discard", "discard-granularity",
	"discard-alignment", "discard-secure", "max-ring-page-order",
	"max-ring-pages", "feature-max-indirect-segments",
	"multi-queue-max-queues", "feature-persistent", "mode" };

static const char *const fz_nasty[] = { "", "0", "1", "-1", "1abc", " 1", "7",
	"9", "31", "255", "511", "512", "513", "4096", "8192", "65536",
	"4294967295", "4294967296", "18446744073709551615",
	"18446744073709551616", "36028797018963968", "r", "w", "abc" };

static const char *const fz_states[] = { "0", "1", "2", "3", "4", "5", "6", "7",
	"8", "99", "abc", "" };

static struct {
	struct fz_sim m_sim;		     /* the machine */
	struct hostile m_h;		     /* the backend */
	char m_vals[FZ_NELEM(fz_nodes)][40]; /* raw values published */
} fz;

static uint8_t
fz_byte(const uint8_t **p, const uint8_t *end)
{
	return (*p < end ? *(*p)++ : 0);
}

/* Fill the backend's node overrides from the input. */
static void
fz_nodes_pick(const uint8_t **p, const uint8_t *end)
{
	struct hostile_node *n = fz.m_h.h_nodes;
	size_t i, k, len;

	for (i = 0; i < FZ_NELEM(fz_nodes); i++) {
		switch (fz_byte(p, end) % 4) {
		case 0:
			continue;
		case 1:
			n->n_value = NULL;
			break;
		case 2:
			n->n_value =
			    fz_nasty[fz_byte(p, end) % FZ_NELEM(fz_nasty)];
			break;
		default:
			len = fz_byte(p, end) % (sizeof(fz.m_vals[i]) - 1);
			for (k = 0; k < len && *p < end; k++, (*p)++)
				fz.m_vals[i][k] = **p != 0 ? (char)**p : '0';
			fz.m_vals[i][k] = '\0';
			n->n_value = fz.m_vals[i];
		}
		n->n_name = fz_nodes[i];
		n++;
	}
	n->n_name = NULL;
}

/* What a connected frontend reports must make sense. */
static void
fz_check_info(struct xbd_dev *dev)
{
	struct xbd_info in;

	xbd_get_info(dev, &in);
	if (in.xi_sector_size < 512 || in.xi_sector_size > 4096 ||
	    (in.xi_sector_size & (in.xi_sector_size - 1)) != 0)
		fz_die("sector size accepted");
	if (in.xi_sectors == 0 || in.xi_size / 512 != in.xi_sectors ||
	    in.xi_size % in.xi_sector_size != 0)
		fz_die("size accepted");
	if (in.xi_ring_pages == 0 || in.xi_ring_pages > 32 ||
	    in.xi_queues == 0 || in.xi_max_request_segments == 0)
		fz_die("limits accepted");
}

static void
fz_script(struct xbd_dev *dev, const uint8_t *p, const uint8_t *end)
{
	char buf[4096];
	int rc;

	for (; end - p >= 2; p += 2) {
		switch (p[0] % 4) {
		case 0:
			hostile_write(&fz.m_h, "state",
			    fz_states[p[1] % FZ_NELEM(fz_states)]);
			break;
		case 1:
			hostile_write(&fz.m_h,
			    fz_nodes[p[1] % FZ_NELEM(fz_nodes)],
			    fz_nasty[p[1] / FZ_NELEM(fz_nodes) %
				FZ_NELEM(fz_nasty)]);
			break;
		case 2:
			rc = xbd_read(dev, buf, 0, sizeof(buf));
			if (rc > 0)
				fz_die("a read returned a positive value");
			break;
		default:
			usleep(1000);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct xbd_dev *dev = NULL;
	struct xbd_opts o;
	uint8_t flags;
	int rc;

	fz_sim_hostile(&fz.m_sim, &fz.m_h);
	flags = fz_byte(&p, end);
	fz.m_h.h_skip_initwait = (flags & 1) != 0;
	fz_nodes_pick(&p, end);
	if (hostile_start(&fz.m_h, fz.m_sim.s_priv) != 0)
		fz_die("no backend");
	xbd_opts_init(&o);
	o.o_connect_timeout_ms = 300;
	o.o_recovery_timeout_ms = 0;
	o.o_max_queues = 2;
	rc = xbd_attach(fz.m_sim.s_xp, "xvda", &o, &dev);
	if (rc > 0 || (rc == 0) != (dev != NULL))
		fz_die("attach result");
	if (rc == 0) {
		fz_check_info(dev);
		fz_script(dev, p, end);
		xbd_detach(dev);
	}
	hostile_stop(&fz.m_h);
	return (0);
}
