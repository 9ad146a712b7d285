/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a device tells the world: the negotiated parameters FreeBSD
 * exposes as dev.xbd.N.* (max_requests, max_request_segments,
 * max_request_size, ring_pages, features), the queue statistics and the
 * counters, as structures, as text, as JSON and as the one-line attach
 * banner; the vdevice-to-unit naming; and the driver's log.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xbd_internal.h"

/* FreeBSD's xbd_vdevice_to_unit table: IDE and SCSI majors keep names. */
static const struct xbd_vdev_info {
	int major; /* Linux major number */
	int shift; /* minor bits per disk */
	int base;  /* first unit of this major */
	const char *name;
} xbd_vdev_info[] = {
	{ 3, 6, 0, "ada" },    /* ide0 */
	{ 22, 6, 2, "ada" },   /* ide1 */
	{ 33, 6, 4, "ada" },   /* ide2 */
	{ 34, 6, 6, "ada" },   /* ide3 */
	{ 56, 6, 8, "ada" },   /* ide4 */
	{ 57, 6, 10, "ada" },  /* ide5 */
	{ 88, 6, 12, "ada" },  /* ide6 */
	{ 89, 6, 14, "ada" },  /* ide7 */
	{ 90, 6, 16, "ada" },  /* ide8 */
	{ 91, 6, 18, "ada" },  /* ide9 */
	{ 8, 4, 0, "da" },     /* scsi disk0 */
	{ 65, 4, 16, "da" },   /* scsi disk1 */
	{ 66, 4, 32, "da" },   /* scsi disk2 */
	{ 67, 4, 48, "da" },   /* scsi disk3 */
	{ 68, 4, 64, "da" },   /* scsi disk4 */
	{ 69, 4, 80, "da" },   /* scsi disk5 */
	{ 70, 4, 96, "da" },   /* scsi disk6 */
	{ 71, 4, 112, "da" },  /* scsi disk7 */
	{ 128, 4, 128, "da" }, /* scsi disk8 */
	{ 129, 4, 144, "da" }, /* scsi disk9 */
	{ 130, 4, 160, "da" }, /* scsi disk10 */
	{ 131, 4, 176, "da" }, /* scsi disk11 */
	{ 132, 4, 192, "da" }, /* scsi disk12 */
	{ 133, 4, 208, "da" }, /* scsi disk13 */
	{ 134, 4, 224, "da" }, /* scsi disk14 */
	{ 135, 4, 240, "da" }, /* scsi disk15 */
	{ 202, 4, 0, "xbd" },  /* xbd */
	{ 0, 0, 0, NULL },
};

void
xbd_vdevice_to_unit(uint32_t vdevice, int *unit, const char **name)
{
	int major = (int)(vdevice >> 8), minor = (int)(vdevice & 0xff), i;

	if ((vdevice & (1u << 28)) != 0) {
		*unit = (int)((vdevice & ((1u << 28) - 1)) >> 8);
		*name = "xbd";
		return;
	}
	for (i = 0; xbd_vdev_info[i].major != 0; i++) {
		if (xbd_vdev_info[i].major == major) {
			*unit = xbd_vdev_info[i].base +
			    (minor >> xbd_vdev_info[i].shift);
			*name = xbd_vdev_info[i].name;
			return;
		}
	}
	*unit = minor >> 4;
	*name = "xbd";
}

void
xbd_log(struct xbd_softc *sc, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (getenv("XBD_QUIET") != NULL && getenv("XBD_VERBOSE") == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n",
	    sc->xbd_name[0] != '\0' ? sc->xbd_name : "xbd", msg);
}

/*
 * Log why I/O is stuck: each ring's shared indices next to ours.  The
 * caller holds the lock.
 */
void
xbd_log_rings(struct xbd_softc *sc, const char *why)
{
	struct xring_indices xi;
	struct xbd_ring *ring;
	uint32_t q;

	xbd_log(sc, "%s: %u requests in flight", why,
	    sc->xbd_cm_q[XBD_Q_BUSY].q_length);
	for (q = 0; q < sc->xbd_nqueues; q++) {
		ring = &sc->xbd_rings[q];
		if (ring->rq_sring == NULL)
			continue;
		xring_front_indices(&ring->rq_ring, &xi);
		xbd_log(sc,
		    "ring %u: req_prod %u req_event %u rsp_prod %u "
		    "rsp_event %u; ours: outstanding %u busy %u",
		    q, xi.ix_req_prod, xi.ix_req_event, xi.ix_rsp_prod,
		    xi.ix_rsp_event, xring_front_outstanding(&ring->rq_ring),
		    ring->rq_busy);
	}
}

/* FreeBSD's dev.xbd.N.features string, plus what we added. */
void
xbd_features_string(struct xbd_softc *sc, char *buf, size_t len)
{
	static const struct {
		enum xbd_flag flag;
		const char *name;
	} feats[] = {
		{ XBDF_FLUSH, "flush" },
		{ XBDF_BARRIER, "write_barrier" },
		{ XBDF_DISCARD, "discard" },
		{ XBDF_SECURE_DISCARD, "secure_discard" },
		{ XBDF_PERSISTENT, "persistent_grants" },
		{ XBDF_INDIRECT, "indirect" },
		{ XBDF_BOUNCE, "bounce" },
		{ XBDF_READONLY, "read_only" },
	};
	size_t i, n = 0;
	int w;

	buf[0] = '\0';
	for (i = 0; i < XU_NELEM(feats); i++) {
		if ((sc->xbd_flags & feats[i].flag) == 0)
			continue;
		w = snprintf(buf + n, len - n, "%s%s", n > 0 ? ", " : "",
		    feats[i].name);
		if (w < 0 || (size_t)w >= len - n)
			break;
		n += (size_t)w;
	}
}

static uint32_t
xbd_feature_bits(struct xbd_softc *sc)
{
	uint32_t f = 0;

	if (sc->xbd_flags & XBDF_FLUSH)
		f |= XBD_FEAT_FLUSH;
	if (sc->xbd_flags & XBDF_BARRIER)
		f |= XBD_FEAT_BARRIER;
	if (sc->xbd_flags & XBDF_DISCARD)
		f |= XBD_FEAT_DISCARD;
	if (sc->xbd_flags & XBDF_SECURE_DISCARD)
		f |= XBD_FEAT_SECURE_DISCARD;
	if (sc->xbd_flags & XBDF_PERSISTENT)
		f |= XBD_FEAT_PERSISTENT;
	if (sc->xbd_flags & XBDF_INDIRECT)
		f |= XBD_FEAT_INDIRECT;
	if (sc->xbd_flags & XBDF_READONLY)
		f |= XBD_FEAT_READONLY;
	if (sc->xbd_flags & XBDF_BOUNCE)
		f |= XBD_FEAT_BOUNCE;
	if (sc->xbd_vdisk_info & VDISK_CDROM)
		f |= XBD_FEAT_CDROM;
	if (sc->xbd_vdisk_info & VDISK_REMOVABLE)
		f |= XBD_FEAT_REMOVABLE;
	return (f);
}

/* Fill info; the caller holds the lock. */
static void
xbd_fill_info(struct xbd_softc *sc, struct xbd_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->xi_name, sizeof(info->xi_name), "%s", sc->xbd_name);
	info->xi_vdevice = sc->xbd_vdevice;
	info->xi_backend_id = sc->xbd_otherend_id;
	snprintf(info->xi_backend, sizeof(info->xi_backend), "%.*s",
	    (int)sizeof(info->xi_backend) - 1, sc->xbd_otherend);
	info->xi_sectors = sc->xbd_sectors;
	info->xi_size = sc->xbd_sectors << XBD_SECTOR_SHIFT;
	info->xi_sector_size = sc->xbd_sector_size;
	info->xi_physical_sector_size = sc->xbd_phys_sector_size;
	info->xi_info = sc->xbd_vdisk_info;
	info->xi_features = xbd_feature_bits(sc);
	info->xi_ring_pages = sc->xbd_ring_pages;
	info->xi_queues = sc->xbd_nqueues;
	info->xi_max_requests = sc->xbd_max_requests;
	info->xi_max_request_segments = sc->xbd_max_request_segments;
	info->xi_max_request_size = sc->xbd_max_request_size;
	info->xi_max_request_indirectpages = sc->xbd_max_request_indirectpages;
	info->xi_discard_granularity = sc->xbd_discard_granularity;
	info->xi_discard_alignment = sc->xbd_discard_alignment;
	info->xi_state = (int)sc->xbd_state;
}

/* Fill st (all of it); the caller holds the lock. */
static void
xbd_fill_stats(struct xbd_softc *sc, struct xbd_stats *st)
{
	int q;

	*st = sc->xbd_stats;
	for (q = 0; q < XBD_Q_COUNT; q++) {
		st->xst_q_length[q] = sc->xbd_cm_q[q].q_length;
		st->xst_q_max[q] = sc->xbd_cm_q[q].q_max;
	}
	st->xst_frozen = (uint32_t)sc->xbd_qfrozen_cnt;
}

void
xbd_get_info(struct xbd_dev *dev, struct xbd_info *info)
{
	struct xbd_softc *sc = &dev->xd_sc;

	XBD_LOCK(sc);
	xbd_fill_info(sc, info);
	XBD_UNLOCK(sc);
}

void
xbd_get_stats(struct xbd_dev *dev, struct xbd_stats *st, size_t st_size)
{
	struct xbd_softc *sc = &dev->xd_sc;
	struct xbd_stats all;

	XBD_LOCK(sc);
	xbd_fill_stats(sc, &all);
	XBD_UNLOCK(sc);
	memcpy(st, &all, XU_MIN(st_size, sizeof(all)));
}

/* A bounded appender for describe. */
struct xbd_buf {
	char *b_buf;  /* output */
	size_t b_len; /* its size */
	size_t b_off; /* bytes written */
	bool b_full;  /* something did not fit */
};

static void xbd_put(struct xbd_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
xbd_put(struct xbd_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->b_full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->b_buf + b->b_off, b->b_len - b->b_off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->b_len - b->b_off)
		b->b_full = true;
	else
		b->b_off += (size_t)n;
}

static const char *const xbd_q_names[XBD_Q_COUNT] = { "free", "ready", "busy",
	"complete", "bio" };
static const char *const xbd_op_names[7] = { "read", "write", "write_barrier",
	"flush_diskcache", "reserved", "discard", "indirect" };
static const char *const xbd_state_names[] = { "disconnected", "connected",
	"suspended", "error", "gone", "recovering" };

static void
xbd_describe_text(struct xbd_softc *sc, struct xbd_buf *b,
    const struct xbd_info *in, const struct xbd_stats *st)
{
	const char *n = in->xi_name;
	char feats[256];
	int i;

	xbd_features_string(sc, feats, sizeof(feats));
	xbd_put(b, "dev.%s.state: %s\n", n, xbd_state_names[in->xi_state]);
	xbd_put(b, "dev.%s.vdevice: %u\n", n, in->xi_vdevice);
	xbd_put(b, "dev.%s.backend: %s\n", n, in->xi_backend);
	xbd_put(b, "dev.%s.sectors: %ju\n", n, (uintmax_t)in->xi_sectors);
	xbd_put(b, "dev.%s.sector_size: %u\n", n, in->xi_sector_size);
	xbd_put(b, "dev.%s.physical_sector_size: %u\n", n,
	    in->xi_physical_sector_size);
	xbd_put(b, "dev.%s.ring_pages: %u\n", n, in->xi_ring_pages);
	xbd_put(b, "dev.%s.queues: %u\n", n, in->xi_queues);
	xbd_put(b, "dev.%s.max_requests: %u\n", n, in->xi_max_requests);
	xbd_put(b, "dev.%s.max_request_segments: %u\n", n,
	    in->xi_max_request_segments);
	xbd_put(b, "dev.%s.max_request_size: %u\n", n, in->xi_max_request_size);
	xbd_put(b, "dev.%s.max_request_indirectpages: %u\n", n,
	    in->xi_max_request_indirectpages);
	xbd_put(b, "dev.%s.features: %s\n", n, feats);
	for (i = 0; i < XBD_Q_COUNT; i++)
		xbd_put(b, "dev.%s.queue.%s: %u (max %u)\n", n, xbd_q_names[i],
		    st->xst_q_length[i], st->xst_q_max[i]);
	xbd_put(b, "dev.%s.frozen: %u\n", n, st->xst_frozen);
	xbd_put(b, "dev.%s.cm_shortage: %ju\n", n,
	    (uintmax_t)st->xst_cm_shortage);
	xbd_put(b, "dev.%s.gnt_shortage: %ju\n", n,
	    (uintmax_t)st->xst_gnt_shortage);
	xbd_put(b, "dev.%s.wait_idle: %ju\n", n, (uintmax_t)st->xst_wait_idle);
	xbd_put(b, "dev.%s.single_step: %ju\n", n,
	    (uintmax_t)st->xst_single_step);
	xbd_put(b, "dev.%s.bios: %ju\n", n, (uintmax_t)st->xst_bios);
	xbd_put(b, "dev.%s.splits: %ju\n", n, (uintmax_t)st->xst_splits);
	for (i = 0; i < 7; i++)
		if (i != BLKIF_OP_RESERVED_1 && i != BLKIF_OP_INDIRECT)
			xbd_put(b, "dev.%s.requests.%s: %ju\n", n,
			    xbd_op_names[i], (uintmax_t)st->xst_requests[i]);
	xbd_put(b, "dev.%s.requests.indirect: %ju\n", n,
	    (uintmax_t)st->xst_indirect);
	xbd_put(b, "dev.%s.segments: %ju\n", n, (uintmax_t)st->xst_segments);
	xbd_put(b, "dev.%s.bytes_read: %ju\n", n,
	    (uintmax_t)st->xst_bytes_read);
	xbd_put(b, "dev.%s.bytes_written: %ju\n", n,
	    (uintmax_t)st->xst_bytes_written);
	xbd_put(b, "dev.%s.errors: %ju\n", n, (uintmax_t)st->xst_errors);
	xbd_put(b, "dev.%s.eopnotsupp: %ju\n", n,
	    (uintmax_t)st->xst_eopnotsupp);
	xbd_put(b, "dev.%s.protocol_errors: %ju\n", n,
	    (uintmax_t)st->xst_protocol_errors);
	xbd_put(b, "dev.%s.grant_busy: %ju\n", n,
	    (uintmax_t)st->xst_grant_busy);
	xbd_put(b, "dev.%s.notifications_sent: %ju\n", n,
	    (uintmax_t)st->xst_notify);
	xbd_put(b, "dev.%s.notifications_received: %ju\n", n,
	    (uintmax_t)st->xst_events);
	xbd_put(b, "dev.%s.bounce_bytes: %ju\n", n,
	    (uintmax_t)st->xst_bounce_bytes);
	xbd_put(b, "dev.%s.grants: %ju\n", n, (uintmax_t)st->xst_grants);
	xbd_put(b, "dev.%s.resizes: %ju\n", n, (uintmax_t)st->xst_resizes);
	xbd_put(b, "dev.%s.reconnects: %ju\n", n,
	    (uintmax_t)st->xst_reconnects);
	xbd_put(b, "dev.%s.recoveries: %ju\n", n,
	    (uintmax_t)st->xst_recoveries);
	xbd_put(b, "dev.%s.reissued: %ju\n", n, (uintmax_t)st->xst_reissued);
	xbd_put(b, "dev.%s.events_spurious: %ju\n", n,
	    (uintmax_t)st->xst_events_spurious);
	xbd_put(b, "dev.%s.eoi_delayed: %ju\n", n,
	    (uintmax_t)st->xst_eoi_delayed);
}

static void
xbd_describe_json(struct xbd_softc *sc, struct xbd_buf *b,
    const struct xbd_info *in, const struct xbd_stats *st)
{
	char feats[256], *p, *save;
	int i;

	xbd_features_string(sc, feats, sizeof(feats));
	/* The features list becomes a JSON array of strings. */
	xbd_put(b, "{\"name\":\"%s\",\"state\":\"%s\",\"vdevice\":%u,",
	    in->xi_name, xbd_state_names[in->xi_state], in->xi_vdevice);
	xbd_put(b, "\"backend\":\"%s\",\"backend_id\":%u,", in->xi_backend,
	    in->xi_backend_id);
	xbd_put(b, "\"sectors\":%ju,\"size\":%ju,\"sector_size\":%u,",
	    (uintmax_t)in->xi_sectors, (uintmax_t)in->xi_size,
	    in->xi_sector_size);
	xbd_put(b, "\"physical_sector_size\":%u,\"info\":%u,",
	    in->xi_physical_sector_size, in->xi_info);
	xbd_put(b, "\"ring_pages\":%u,\"queues\":%u,\"max_requests\":%u,",
	    in->xi_ring_pages, in->xi_queues, in->xi_max_requests);
	xbd_put(b, "\"max_request_segments\":%u,\"max_request_size\":%u,",
	    in->xi_max_request_segments, in->xi_max_request_size);
	xbd_put(b, "\"max_request_indirectpages\":%u,",
	    in->xi_max_request_indirectpages);
	xbd_put(b, "\"discard_granularity\":%u,\"discard_alignment\":%u,",
	    in->xi_discard_granularity, in->xi_discard_alignment);
	xbd_put(b, "\"features\":[");
	for (p = strtok_r(feats, ", ", &save), i = 0; p != NULL;
	     p = strtok_r(NULL, ", ", &save), i++)
		xbd_put(b, "%s\"%s\"", i > 0 ? "," : "", p);
	xbd_put(b, "],\"queues_stats\":{");
	for (i = 0; i < XBD_Q_COUNT; i++)
		xbd_put(b, "%s\"%s\":{\"length\":%u,\"max\":%u}",
		    i > 0 ? "," : "", xbd_q_names[i], st->xst_q_length[i],
		    st->xst_q_max[i]);
	xbd_put(b, "},\"stats\":{\"frozen\":%u,", st->xst_frozen);
	xbd_put(b, "\"cm_shortage\":%ju,\"gnt_shortage\":%ju,",
	    (uintmax_t)st->xst_cm_shortage, (uintmax_t)st->xst_gnt_shortage);
	xbd_put(b, "\"wait_idle\":%ju,\"single_step\":%ju,",
	    (uintmax_t)st->xst_wait_idle, (uintmax_t)st->xst_single_step);
	xbd_put(b, "\"bios\":%ju,\"splits\":%ju,\"requests\":{",
	    (uintmax_t)st->xst_bios, (uintmax_t)st->xst_splits);
	for (i = 0; i < 7; i++)
		xbd_put(b, "%s\"%s\":%ju", i > 0 ? "," : "", xbd_op_names[i],
		    (uintmax_t)(i == BLKIF_OP_INDIRECT ? st->xst_indirect :
							 st->xst_requests[i]));
	xbd_put(b, "},\"segments\":%ju,\"bytes_read\":%ju,",
	    (uintmax_t)st->xst_segments, (uintmax_t)st->xst_bytes_read);
	xbd_put(b, "\"bytes_written\":%ju,\"responses\":%ju,",
	    (uintmax_t)st->xst_bytes_written, (uintmax_t)st->xst_responses);
	xbd_put(b, "\"errors\":%ju,\"eopnotsupp\":%ju,",
	    (uintmax_t)st->xst_errors, (uintmax_t)st->xst_eopnotsupp);
	xbd_put(b, "\"protocol_errors\":%ju,\"grant_busy\":%ju,",
	    (uintmax_t)st->xst_protocol_errors, (uintmax_t)st->xst_grant_busy);
	xbd_put(b, "\"notifications_sent\":%ju,", (uintmax_t)st->xst_notify);
	xbd_put(b, "\"notifications_received\":%ju,",
	    (uintmax_t)st->xst_events);
	xbd_put(b, "\"bounce_bytes\":%ju,\"grants\":%ju,",
	    (uintmax_t)st->xst_bounce_bytes, (uintmax_t)st->xst_grants);
	xbd_put(b, "\"resizes\":%ju,\"reconnects\":%ju,",
	    (uintmax_t)st->xst_resizes, (uintmax_t)st->xst_reconnects);
	xbd_put(b, "\"recoveries\":%ju,\"reissued\":%ju,",
	    (uintmax_t)st->xst_recoveries, (uintmax_t)st->xst_reissued);
	xbd_put(b, "\"events_spurious\":%ju,\"eoi_delayed\":%ju}}",
	    (uintmax_t)st->xst_events_spurious, (uintmax_t)st->xst_eoi_delayed);
}

static void
xbd_describe_line(struct xbd_softc *sc, struct xbd_buf *b,
    const struct xbd_info *in)
{
	char feats[256];

	xbd_features_string(sc, feats, sizeof(feats));
	xbd_put(b, "%juMB <Virtual Block Device> at %s; ",
	    (uintmax_t)(in->xi_size >> 20), sc->xbd_node);
	xbd_put(b,
	    "%u-byte sectors (physical %u), %u ring page%s x %u "
	    "queue%s, %u requests, max request %u bytes (%u "
	    "segments, %u indirect page%s); features: %s",
	    in->xi_sector_size, in->xi_physical_sector_size, in->xi_ring_pages,
	    in->xi_ring_pages == 1 ? "" : "s", in->xi_queues,
	    in->xi_queues == 1 ? "" : "s", in->xi_max_requests * in->xi_queues,
	    in->xi_max_request_size, in->xi_max_request_segments,
	    in->xi_max_request_indirectpages,
	    in->xi_max_request_indirectpages == 1 ? "" : "s",
	    feats[0] != '\0' ? feats : "none");
}

int
xbd_describe(struct xbd_dev *dev, enum xbd_fmt fmt, char *buf, size_t len)
{
	struct xbd_softc *sc = &dev->xd_sc;
	struct xbd_buf b = { buf, len, 0, len == 0 };
	struct xbd_info in;
	struct xbd_stats st;

	XBD_LOCK(sc);
	xbd_fill_info(sc, &in);
	xbd_fill_stats(sc, &st);
	switch (fmt) {
	case XBD_FMT_TEXT:
		xbd_describe_text(sc, &b, &in, &st);
		break;
	case XBD_FMT_JSON:
		xbd_describe_json(sc, &b, &in, &st);
		break;
	case XBD_FMT_LINE:
		xbd_describe_line(sc, &b, &in);
		break;
	}
	XBD_UNLOCK(sc);
	if (b.b_full)
		return (-ENOSPC);
	return ((int)b.b_off);
}
