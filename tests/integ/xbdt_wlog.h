/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reading the backend's write log (lib/back/xbb_wlog.h) for power-loss
 * replay: load and validate it, say which entries a power cut must have
 * kept, apply entries to an image in memory.  A log that is cut short
 * inside an entry, carries a bad checksum, a field out of range or the
 * backend's "broken" flag is refused as a whole: a replay of a record
 * that is not faithful would check nothing.
 */

#ifndef XBD_TESTS_XBDT_WLOG_H
#define XBD_TESTS_XBDT_WLOG_H

#include <stddef.h>
#include <stdint.h>

#include "xbb_wlog.h"

/* One validated entry; e_data points into the loaded log. */
struct xbdt_wlog_ent {
	uint16_t e_type;       /* enum xbb_wlog_type */
	uint32_t e_feid;       /* frontend domain of the device */
	uint32_t e_vdev;       /* its virtual-device number */
	uint64_t e_off;	       /* byte offset on the device */
	uint64_t e_len;	       /* bytes */
	uint64_t e_covers;     /* mark: entries it made durable */
	const uint8_t *e_data; /* write: e_len bytes */
	uint64_t e_end;	       /* file offset just past the entry */
};

struct xbdt_wlog {
	uint8_t *wl_buf;	      /* the file, when loaded by path */
	struct xbdt_wlog_ent *wl_ent; /* wl_n entries in log order */
	size_t wl_n;		      /* entries */
	size_t wl_marks;	      /* of which marks */
};

/*
 * Validate the log in buf (len bytes, kept by the caller while *wl is
 * used) and index its entries; wl_buf is left alone, and on failure
 * nothing is kept.
 * \return 0, -EBADMSG (bad header, bad entry, cut inside an entry,
 *         broken flag), -ENOMEM.
 */
int xbdt_wlog_parse(const uint8_t *buf, size_t len, struct xbdt_wlog *wl);

/* Read the file at path and parse it; also -errno from reading. */
int xbdt_wlog_load(const char *path, struct xbdt_wlog *wl);

void xbdt_wlog_free(struct xbdt_wlog *wl);

/* How many entries lie wholly within the log's first `bytes` bytes. */
size_t xbdt_wlog_within(const struct xbdt_wlog *wl, uint64_t bytes);

/*
 * dur[i] for i in 0..wl_n: the entries a power cut must keep once the
 * first i entries exist, the largest e_covers of a mark among them.
 */
void xbdt_wlog_durable(const struct xbdt_wlog *wl, size_t *dur);

/*
 * Apply a write or discard to an image of size bytes (a mark changes
 * nothing).  \return 0, -ERANGE (outside the image).
 */
int xbdt_wlog_apply(const struct xbdt_wlog_ent *e, uint8_t *img, uint64_t size);

#endif /* XBD_TESTS_XBDT_WLOG_H */
