/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The machine memory: the layout of the machine memfd (header, domain
 * table, pin matrix, one region per domain slot), creating and mapping
 * it, looking domains up in the table, and the small lock that guards
 * each active grant entry.  Every process of a simulation maps the same
 * memfd, so nothing here may hold a pointer: only indices and offsets.
 */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv_internal.h"

/* Spins on an active-entry lock before checking that its holder lives. */
#define HV_LOCK_SPINS 1024

static size_t
hv_page_round(size_t n)
{
	return ((n + XBD_PAGE_SIZE - 1) & ~(size_t)(XBD_PAGE_SIZE - 1));
}

int
hv_geom_init(struct hv_geom *g, uint32_t nents, uint32_t nports,
    uint32_t npages)
{
	size_t off;

	if (nents <= GNTTAB_NR_RESERVED_ENTRIES ||
	    nents > HV_MAX_GRANT_ENTRIES || nports < 2 ||
	    nports > HV_MAX_EVTCHN_PORTS || npages < 1 ||
	    npages > HV_MAX_ARENA_PAGES)
		return (-EINVAL);
	memset(g, 0, sizeof(*g));
	g->hv_nents = nents;
	g->hv_nports = nports;
	g->hv_npages = npages;
	g->hv_ref_chunks = (nents + HV_REF_CHUNK - 1) / HV_REF_CHUNK;
	g->hv_arena_chunks = (npages + HV_ARENA_CHUNK - 1) / HV_ARENA_CHUNK;
	g->hv_slot_off = hv_page_round(sizeof(struct hv_shm_hdr));
	off = 0;
	g->hv_off_ports = off;
	off += (size_t)nports * sizeof(struct hv_port);
	g->hv_off_gnt = off;
	off += (size_t)nents * sizeof(struct grant_entry_v1);
	g->hv_off_act = off;
	off += (size_t)nents * sizeof(struct hv_active);
	g->hv_off_refown = off;
	off += (size_t)g->hv_ref_chunks * sizeof(uint32_t);
	g->hv_off_arenaown = off;
	off += (size_t)g->hv_arena_chunks * sizeof(uint32_t);
	g->hv_slot_size = hv_page_round(off);
	g->hv_size = g->hv_slot_off + HV_MAX_DOMAINS * g->hv_slot_size;
	return (0);
}

static int
hv_shm_map(int fd, size_t size, struct hv_shm *m)
{
	void *p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return (-errno);
	m->hv_hdr = p;
	return (0);
}

int
hv_shm_create(const struct hv_geom *g, int *fdp, struct hv_shm *m)
{
	struct hv_shm_hdr *h;
	unsigned int i;
	int fd, error;

	fd = memfd_create("xbd-hv-machine", MFD_CLOEXEC);
	if (fd < 0)
		return (-errno);
	if (ftruncate(fd, (off_t)g->hv_size) != 0) {
		error = -errno;
		goto fail_fd;
	}
	if ((error = hv_shm_map(fd, g->hv_size, m)) != 0)
		goto fail_fd;
	m->hv_geom = *g;
	h = m->hv_hdr;
	h->hv_magic = HV_MAGIC;
	h->hv_version = HV_VERSION;
	h->hv_grant_entries = g->hv_nents;
	h->hv_evtchn_ports = g->hv_nports;
	h->hv_arena_pages = g->hv_npages;
	h->hv_size = g->hv_size;
	atomic_init(&h->hv_next_id, 1);
	for (i = 0; i < HV_MAX_DOMAINS; i++)
		atomic_init(&h->hv_dom[i].dom_gen, 1);
	*fdp = fd;
	return (0);

fail_fd:
	close(fd);
	return (error);
}

int
hv_shm_attach(int fd, struct hv_shm *m)
{
	struct hv_shm_hdr hdr;
	struct hv_geom g;
	struct stat st;
	int error;

	/*
	 * The memfd came from the daemon; check it describes itself
	 * consistently before computing offsets from it.
	 */
	if (fstat(fd, &st) != 0)
		return (-errno);
	if ((size_t)st.st_size < sizeof(hdr) ||
	    pread(fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		return (-EPROTO);
	if (hdr.hv_magic != HV_MAGIC || hdr.hv_version != HV_VERSION)
		return (-EPROTO);
	if (hv_geom_init(&g, hdr.hv_grant_entries, hdr.hv_evtchn_ports,
		hdr.hv_arena_pages) != 0 ||
	    g.hv_size != hdr.hv_size || (size_t)st.st_size != g.hv_size)
		return (-EPROTO);
	if ((error = hv_shm_map(fd, g.hv_size, m)) != 0)
		return (error);
	m->hv_geom = g;
	return (0);
}

void
hv_shm_detach(struct hv_shm *m)
{
	if (m->hv_hdr != NULL)
		munmap(m->hv_hdr, m->hv_geom.hv_size);
	m->hv_hdr = NULL;
}

int
hv_dom_find(const struct hv_shm *m, uint32_t domid, unsigned int *slot,
    uint32_t *gen)
{
	const struct hv_shm_dom *d;
	uint32_t g;
	unsigned int i;

	for (i = 0; i < HV_MAX_DOMAINS; i++) {
		d = hv_dom_at(m, i);
		g = atomic_load(&d->dom_gen);
		if (atomic_load(&d->dom_state) != HV_DOM_ALIVE ||
		    atomic_load(&d->dom_domid) != domid)
			continue;
		/* The generation read first must still be the one alive. */
		if (atomic_load(&d->dom_gen) != g)
			continue;
		*slot = i;
		*gen = g;
		return (0);
	}
	return (-ESRCH);
}

void
hv_hwm_raise(_Atomic uint32_t *hwm, uint32_t v)
{
	uint32_t cur = atomic_load(hwm);

	while (cur < v && !atomic_compare_exchange_weak(hwm, &cur, v))
		;
}

uint32_t
hv_new_id(const struct hv_shm *m)
{
	uint32_t id;

	/* Zero means "no handle" in a port; skip it on wrap-around. */
	do
		id = atomic_fetch_add(&m->hv_hdr->hv_next_id, 1);
	while (id == 0);
	return (id);
}

/*
 * Is the process that holds a lock gone?  A domain process killed inside
 * the few instructions of a critical section must not wedge the machine.
 * A killed process stays a zombie until its parent reaps it, and kill()
 * still finds a zombie: look at its state too.
 */
static bool
hv_pid_dead(uint32_t pid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	if (kill((pid_t)pid, 0) != 0)
		return (errno == ESRCH);
	snprintf(path, sizeof(path), "/proc/%u/stat", (unsigned int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return (errno == ENOENT);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (false);
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return (false);
	return (p[2] == 'Z' || p[2] == 'X');
}

void
hv_act_lock(struct hv_active *a, uint32_t pid)
{
	uint32_t cur;
	unsigned int spins = 0;

	for (;;) {
		cur = 0;
		if (atomic_compare_exchange_weak_explicit(&a->ge_lock, &cur,
			pid, memory_order_acquire, memory_order_relaxed))
			return;
		if (++spins % HV_LOCK_SPINS != 0)
			continue;
		/* Held for long: yield, and take it over from the dead. */
		if (cur != 0 && cur != pid && hv_pid_dead(cur) &&
		    atomic_compare_exchange_strong(&a->ge_lock, &cur, pid))
			return;
		sched_yield();
	}
}

void
hv_act_unlock(struct hv_active *a)
{
	atomic_store_explicit(&a->ge_lock, 0, memory_order_release);
}
