/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The shadow file of a ring (xbb_shadow.h says why and how): opening,
 * validating and recovering it.  The hot-path steps are inline in the
 * header.
 */

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xu_lock.h"
#include "xbb.h"
#include "xbb_shadow.h"

#define XBB_SHADOW_MAGIC 0x53424258u /* "XBBS" */
/* Bump when the layout of the header or of an entry changes. */
#define XBB_SHADOW_VERSION 1u

_Static_assert(sizeof(struct xbb_shadow_hdr) % 8 == 0,
    "entries after the header stay aligned");
_Static_assert(offsetof(struct xbb_shadow_ent, se_req) % 8 == 0,
    "the request copy is aligned");

static size_t
xbb_shadow_len(uint32_t slots)
{
	return (sizeof(struct xbb_shadow_hdr) +
	    (size_t)slots * sizeof(struct xbb_shadow_ent));
}

static bool
xbb_shadow_same(const struct xbb_shadow *sw, const struct xbb_shadow_key *key,
    off_t size)
{
	const struct xbb_shadow_hdr *h = sw->sw_hdr;

	return ((size_t)size == sw->sw_len && h->sh_magic == XBB_SHADOW_MAGIC &&
	    h->sh_version == XBB_SHADOW_VERSION &&
	    memcmp(&h->sh_key, key, sizeof(*key)) == 0);
}

int
xbb_shadow_open(struct xbb_shadow *sw, const char *dir, uint32_t be,
    uint32_t feid, uint32_t vdev, unsigned int ring,
    const struct xbb_shadow_key *key, bool *matches)
{
	struct stat st;
	void *m;
	int rc;

	sw->sw_fd = -1;
	sw->sw_hdr = NULL;
	if (key->sk_slots == 0)
		return (-EINVAL);
	if ((size_t)snprintf(sw->sw_path, sizeof(sw->sw_path),
		"%s/vbd-%u-%u-%u.ring%u", dir, be, feid, vdev,
		ring) >= sizeof(sw->sw_path))
		return (-ENAMETOOLONG);
	sw->sw_len = xbb_shadow_len(key->sk_slots);
	if ((sw->sw_fd = open(sw->sw_path, O_RDWR | O_CREAT | O_CLOEXEC,
		 0600)) < 0 ||
	    fstat(sw->sw_fd, &st) != 0)
		goto fail;
	/* Grow (or shrink) first: a mapping past the end would fault. */
	if ((size_t)st.st_size != sw->sw_len &&
	    ftruncate(sw->sw_fd, (off_t)sw->sw_len) != 0)
		goto fail;
	m = mmap(NULL, sw->sw_len, PROT_READ | PROT_WRITE, MAP_SHARED,
	    sw->sw_fd, 0);
	if (m == MAP_FAILED)
		goto fail;
	sw->sw_hdr = m;
	sw->sw_ent = (struct xbb_shadow_ent *)(sw->sw_hdr + 1);
	*matches = xbb_shadow_same(sw, key, st.st_size);
	return (0);
fail:
	rc = -errno;
	if (sw->sw_fd >= 0)
		close(sw->sw_fd);
	sw->sw_fd = -1;
	return (rc);
}

void
xbb_shadow_reset(struct xbb_shadow *sw, const struct xbb_shadow_key *key,
    uint32_t req_cons)
{
	struct xbb_shadow_hdr *h = sw->sw_hdr;
	uint32_t i;

	if (sw->sw_fd < 0)
		return;
	/* Unrecognisable first, so a crash in here leaves no stale key. */
	h->sh_magic = 0;
	atomic_signal_fence(memory_order_seq_cst);
	for (i = 0; i < key->sk_slots; i++)
		atomic_store_explicit(&sw->sw_ent[i].se_state, XBB_SE_FREE,
		    memory_order_relaxed);
	h->sh_version = XBB_SHADOW_VERSION;
	h->sh_key = *key;
	atomic_store_explicit(&h->sh_req_cons, req_cons, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	h->sh_magic = XBB_SHADOW_MAGIC;
}

/* Is entry e a request whose response the frontend has not seen? */
static bool
xbb_shadow_pending(const struct xbb_shadow_ent *e, uint32_t req_cons,
    uint32_t pushed)
{
	switch (atomic_load_explicit(&e->se_state, memory_order_acquire)) {
	case XBB_SE_TAKEN:
		/*
		 * Committed once sh_req_cons moved past it; only the entry
		 * being taken when the process died has se_idx == req_cons.
		 * No window check: a slow request may be taken any number
		 * of requests before the ones taken after it.
		 */
		return (e->se_idx != req_cons);
	case XBB_SE_ANSWERED:
		/* Unpushed responses lie in [rsp_prod, req_cons). */
		return (e->se_rsp - pushed < req_cons - pushed);
	default:
		return (false);
	}
}

/*
 * Order the pending entries as they were taken, oldest first, by their
 * age below req_cons (at most a ring's worth of entries).
 */
static void
xbb_shadow_sort(const struct xbb_shadow *sw, uint32_t req_cons, uint32_t *s,
    uint32_t n)
{
	uint32_t i, j, v;

	for (i = 1; i < n; i++) {
		v = s[i];
		for (j = i; j > 0 &&
		     req_cons - sw->sw_ent[s[j - 1]].se_idx <
			 req_cons - sw->sw_ent[v].se_idx;
		     j--)
			s[j] = s[j - 1];
		s[j] = v;
	}
}

int
xbb_shadow_recover(struct xbb_shadow *sw, uint32_t pushed,
    struct xbb_shadow_replay *out)
{
	uint32_t slots = sw->sw_hdr->sh_key.sk_slots;
	uint32_t req_cons, i, n = 0;

	req_cons = atomic_load_explicit(&sw->sw_hdr->sh_req_cons,
	    memory_order_acquire);
	if (req_cons - pushed > slots)
		return (-ESTALE);
	for (i = 0; i < slots; i++)
		if (xbb_shadow_pending(&sw->sw_ent[i], req_cons, pushed))
			out->sr_slots[n++] = i;
	if (n != req_cons - pushed)
		return (-ESTALE);
	xbb_shadow_sort(sw, req_cons, out->sr_slots, n);
	/*
	 * Leave only these: the entry a dead take left TAKEN at req_cons
	 * would look committed once this backend has taken more.  Pending ones
	 * go back to TAKEN, whose response slot is not written yet.
	 */
	for (i = 0; i < slots; i++)
		if (!xbb_shadow_pending(&sw->sw_ent[i], req_cons, pushed))
			atomic_store_explicit(&sw->sw_ent[i].se_state,
			    XBB_SE_FREE, memory_order_release);
	for (i = 0; i < n; i++)
		atomic_store_explicit(&sw->sw_ent[out->sr_slots[i]].se_state,
		    XBB_SE_TAKEN, memory_order_release);
	out->sr_req_cons = req_cons;
	out->sr_count = n;
	out->sr_done = 0;
	return (0);
}

const union xring_req *
xbb_shadow_req(const struct xbb_shadow *sw, uint32_t slot)
{
	return (&sw->sw_ent[slot].se_req);
}

void
xbb_shadow_close(struct xbb_shadow *sw, bool remove)
{
	if (sw->sw_fd < 0)
		return;
	if (sw->sw_hdr != NULL)
		(void)munmap(sw->sw_hdr, sw->sw_len);
	close(sw->sw_fd);
	if (remove)
		(void)unlink(sw->sw_path);
	sw->sw_fd = -1;
	sw->sw_hdr = NULL;
}

static int
xbb_shadow_lockpath(char *buf, size_t len, const char *dir, uint32_t be)
{
	if ((size_t)snprintf(buf, len, "%s/backend-%u.lock", dir, be) >= len)
		return (-ENAMETOOLONG);
	return (0);
}

int
xbb_shadow_lock(const char *dir, uint32_t be)
{
	char path[256], text[64];
	int rc;

	if ((rc = xbb_shadow_lockpath(path, sizeof(path), dir, be)) != 0)
		return (rc);
	snprintf(text, sizeof(text), "pid %ld (%s)\n", (long)getpid(),
	    program_invocation_short_name);
	return (xu_lock_take(path, text, NULL, 0));
}

void
xbb_shadow_unlock(const char *dir, uint32_t be, int fd)
{
	char path[256];

	if (fd < 0 || xbb_shadow_lockpath(path, sizeof(path), dir, be) != 0)
		return;
	xu_lock_release(fd, path);
}

int
xbb_holder(const char *dir, uint32_t be)
{
	char path[256], line[64];
	long pid;
	int rc;

	if ((rc = xbb_shadow_lockpath(path, sizeof(path), dir, be)) != 0 ||
	    (rc = xu_lock_holder_of(path, line, sizeof(line))) != 0)
		return (rc);
	if (sscanf(line, "pid %ld", &pid) != 1 || pid <= 0 || pid > INT32_MAX)
		return (-ENOENT);
	return ((int)pid);
}
