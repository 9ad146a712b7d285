/* SPDX-License-Identifier: BSD-2-Clause */
/* Reading the backend's write log; see xbdt_wlog.h. */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xbdt_wlog.h"

static int
xbdt_wlog_header(const uint8_t *buf, size_t len)
{
	struct xbb_wlog_file f;

	if (len < sizeof(f))
		return (-EBADMSG);
	memcpy(&f, buf, sizeof(f));
	/* Every field exact: a header that is off in any way is refused. */
	if (memcmp(f.f_magic, XBB_WLOG_MAGIC, sizeof(f.f_magic)) != 0 ||
	    f.f_version != XBB_WLOG_VERSION ||
	    f.f_entsize != sizeof(struct xbb_wlog_ent) || f.f_flags != 0 ||
	    f.f_pad != 0)
		return (-EBADMSG);
	return (0);
}

/* Check one entry header at index i with `left` bytes after it. */
static int
xbdt_wlog_check(const struct xbb_wlog_ent *h, size_t i, uint64_t left)
{
	if (h->e_magic != XBB_WLOG_ENT_MAGIC || h->e_pad != 0 || h->e_seq != i)
		return (-EBADMSG);
	switch (h->e_type) {
	case XBB_WLOG_MARK:
		/* A sync covers only entries logged before it. */
		if (h->e_off != 0 || h->e_len != 0 || h->e_covers > i)
			return (-EBADMSG);
		return (0);
	case XBB_WLOG_WRITE:
		if (h->e_len > left)
			return (-EBADMSG);
		/* FALLTHROUGH */
	case XBB_WLOG_DISCARD:
		if (h->e_len == 0 || h->e_covers != 0 ||
		    h->e_off + h->e_len < h->e_off)
			return (-EBADMSG);
		return (0);
	default:
		return (-EBADMSG);
	}
}

int
xbdt_wlog_parse(const uint8_t *buf, size_t len, struct xbdt_wlog *wl)
{
	struct xbdt_wlog_ent *e;
	struct xbb_wlog_ent h;
	size_t pos, cap = 0;
	uint64_t sum;
	void *p;
	int rc;

	wl->wl_ent = NULL;
	wl->wl_n = wl->wl_marks = 0;
	if ((rc = xbdt_wlog_header(buf, len)) != 0)
		return (rc);
	for (pos = sizeof(struct xbb_wlog_file); pos < len;) {
		if (len - pos < sizeof(h))
			goto bad; /* cut inside an entry header */
		memcpy(&h, buf + pos, sizeof(h));
		pos += sizeof(h);
		if (xbdt_wlog_check(&h, wl->wl_n, len - pos) != 0)
			goto bad;
		sum = h.e_sum;
		h.e_sum = 0;
		h.e_sum = xbb_wlog_fnv(XBB_WLOG_FNV_INIT, &h, sizeof(h));
		if (h.e_type == XBB_WLOG_WRITE)
			h.e_sum = xbb_wlog_fnv(h.e_sum, buf + pos, h.e_len);
		if (h.e_sum != sum)
			goto bad;
		if (wl->wl_n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((p = realloc(wl->wl_ent, cap * sizeof(*e))) ==
			    NULL) {
				rc = -ENOMEM;
				goto fail;
			}
			wl->wl_ent = p;
		}
		e = &wl->wl_ent[wl->wl_n++];
		e->e_type = h.e_type;
		e->e_feid = h.e_feid;
		e->e_vdev = h.e_vdev;
		e->e_off = h.e_off;
		e->e_len = h.e_len;
		e->e_covers = h.e_covers;
		e->e_data = h.e_type == XBB_WLOG_WRITE ? buf + pos : NULL;
		if (h.e_type == XBB_WLOG_WRITE)
			pos += h.e_len;
		else if (h.e_type == XBB_WLOG_MARK)
			wl->wl_marks++;
		e->e_end = pos;
	}
	return (0);
bad:
	rc = -EBADMSG;
fail:
	/* wl_buf is the caller's (or xbdt_wlog_load's) to free. */
	free(wl->wl_ent);
	wl->wl_ent = NULL;
	wl->wl_n = wl->wl_marks = 0;
	return (rc);
}

int
xbdt_wlog_load(const char *path, struct xbdt_wlog *wl)
{
	struct stat st;
	ssize_t n;
	int fd, rc;

	memset(wl, 0, sizeof(*wl));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return (-errno);
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if ((wl->wl_buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) ==
	    NULL) {
		rc = -ENOMEM;
		goto out;
	}
	n = pread(fd, wl->wl_buf, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		rc = n < 0 ? -errno : -EIO;
		goto out;
	}
	rc = xbdt_wlog_parse(wl->wl_buf, (size_t)st.st_size, wl);
out:
	close(fd);
	if (rc != 0) {
		free(wl->wl_buf);
		wl->wl_buf = NULL;
	}
	return (rc);
}

void
xbdt_wlog_free(struct xbdt_wlog *wl)
{
	free(wl->wl_ent);
	free(wl->wl_buf);
	wl->wl_ent = NULL;
	wl->wl_buf = NULL;
	wl->wl_n = wl->wl_marks = 0;
}

size_t
xbdt_wlog_within(const struct xbdt_wlog *wl, uint64_t bytes)
{
	size_t n = 0;

	while (n < wl->wl_n && wl->wl_ent[n].e_end <= bytes)
		n++;
	return (n);
}

void
xbdt_wlog_durable(const struct xbdt_wlog *wl, size_t *dur)
{
	size_t i;

	dur[0] = 0;
	for (i = 0; i < wl->wl_n; i++) {
		dur[i + 1] = dur[i];
		if (wl->wl_ent[i].e_type == XBB_WLOG_MARK &&
		    wl->wl_ent[i].e_covers > dur[i])
			dur[i + 1] = wl->wl_ent[i].e_covers;
	}
}

int
xbdt_wlog_apply(const struct xbdt_wlog_ent *e, uint8_t *img, uint64_t size)
{
	if (e->e_type == XBB_WLOG_MARK)
		return (0);
	if (e->e_off > size || e->e_len > size - e->e_off)
		return (-ERANGE);
	if (e->e_type == XBB_WLOG_WRITE)
		memcpy(img + e->e_off, e->e_data, e->e_len);
	else
		memset(img + e->e_off, 0, e->e_len);
	return (0);
}
