/* SPDX-License-Identifier: BSD-2-Clause */
/* What the frontend's XenBus fuzz targets share; see fz_front.h. */

#include "fz_front.h"

#define FZ_NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *const fz_front_nodes[FZ_FRONT_NODES] = { "sectors", "sector-size",
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

static char fz_vals[FZ_FRONT_NODES][40]; /* raw values picked */

uint8_t
fz_front_byte(const uint8_t **p, const uint8_t *end)
{
	return (*p < end ? *(*p)++ : 0);
}

void
fz_front_pick(const uint8_t **p, const uint8_t *end,
    const char *vals[FZ_FRONT_NODES], bool keep[FZ_FRONT_NODES])
{
	size_t i, k, len;

	for (i = 0; i < FZ_FRONT_NODES; i++) {
		keep[i] = false;
		vals[i] = NULL;
		switch (fz_front_byte(p, end) % 4) {
		case 0:
			keep[i] = true;
			break;
		case 1:
			break;
		case 2:
			vals[i] = fz_nasty[fz_front_byte(p, end) %
			    FZ_NELEM(fz_nasty)];
			break;
		default:
			len = fz_front_byte(p, end) % (sizeof(fz_vals[i]) - 1);
			for (k = 0; k < len && *p < end; k++, (*p)++)
				fz_vals[i][k] = **p != 0 ? (char)**p : '0';
			fz_vals[i][k] = '\0';
			vals[i] = fz_vals[i];
		}
	}
}

const char *
fz_front_state(uint8_t b)
{
	return (fz_states[b % FZ_NELEM(fz_states)]);
}

const char *
fz_front_nasty(uint8_t b, const char **node)
{
	*node = fz_front_nodes[b % FZ_FRONT_NODES];
	return (fz_nasty[b / FZ_FRONT_NODES % FZ_NELEM(fz_nasty)]);
}

void
fz_front_check_info(struct xbd_dev *dev)
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
