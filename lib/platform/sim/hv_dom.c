/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The machine and its domains: hv_create/hv_destroy, creating a domain
 * as libxl would (arena, domain-table slot, the XenStore skeleton of
 * docs/hypervisor.md 4.3, XS_INTRODUCE) and destroying it as if it died:
 * generation bumped first so nothing stale succeeds, its pins on other
 * domains' grants released, its ports closed (peers back to unbound), its
 * own grant table reset, XS_RELEASE and the skeleton removed.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xenstore.h>

#include "../../../xenstored/xsd.h"
#include "hv_internal.h"
#include "xenbus/xbus.h"

/* A domain id nobody has: what a free slot holds. */
#define HV_DOMID_NONE DOMID_INVALID

void
hv_opts_init(struct hv_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->o_size = sizeof(*o);
	o->o_grant_entries = HV_DEF_GRANT_ENTRIES;
	o->o_evtchn_ports = HV_DEF_EVTCHN_PORTS;
	o->o_arena_pages = HV_DEF_ARENA_PAGES;
	o->o_xenstored = 1;
}

int
hv_xs_path(const char *dir, uint32_t domid, char *buf, size_t len)
{
	int n;

	if (domid == 0)
		n = snprintf(buf, len, "%s/socket", dir);
	else
		n = snprintf(buf, len, "%s/domain/%" PRIu32, dir, domid);
	return (n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0);
}

/* ---------------------------------------------------------------------
 * XenStore: the toolstack's part of creating and destroying a domain
 */

/* Write home/rel = printf(fmt, ...). */
static bool hv_xs_set(struct xs_handle *xs, xs_transaction_t t,
    const char *home, const char *rel, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static bool
hv_xs_set(struct xs_handle *xs, xs_transaction_t t, const char *home,
    const char *rel, const char *fmt, ...)
{
	char path[192], val[128];
	va_list ap;
	int n, np;

	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	np = snprintf(path, sizeof(path), "%s/%s", home, rel);
	if (n < 0 || (size_t)n >= sizeof(val) || np < 0 ||
	    (size_t)np >= sizeof(path)) {
		errno = E2BIG;
		return (false);
	}
	return (xs_write(xs, t, path, val, (unsigned int)n));
}

/* Nodes of a domain home owned by the guest (libxl__domain_make). */
static const char *const hv_guest_nodes[] = {
	"device/suspend/event-channel",
	"control/shutdown",
	"control/feature-poweroff",
	"control/feature-reboot",
	"control/feature-suspend",
	"control/sysrq",
	"data",
	"drivers",
	"feature",
	"attr",
	"error",
};

/* Directories above guest nodes that the guest may only read. */
static const char *const hv_readonly_dirs[] = {
	"control",
	"device",
	"device/suspend",
};

static bool
hv_xs_perms(struct xs_handle *xs, xs_transaction_t t, const char *path,
    uint32_t owner, uint32_t reader)
{
	struct xs_permissions perms[2] = {
		{ .id = owner, .perms = XS_PERM_NONE },
		{ .id = reader, .perms = XS_PERM_READ },
	};

	return (
	    xs_set_permissions(xs, t, path, perms, owner == reader ? 1 : 2));
}

/* The uuid path of domain d created in slot generation gen. */
static void
hv_xs_vm_path(char *buf, size_t len, uint32_t d, uint32_t gen)
{
	snprintf(buf, len,
	    "/vm/00000000-0000-4000-8000-%04" PRIx32 "%08" PRIx32, gen & 0xffff,
	    d);
}

/*
 * libxl's domain skeleton (docs/hypervisor.md 4.3), in few round trips since
 * tests create domains by the thousand: the home is first owned by the
 * guest, so that the guest's nodes inherit n<d> as they are created (a
 * privileged creator's new node copies its parent's permissions); then
 * the directories above them and the home itself get n0,r<d>, which
 * everything written afterwards (cpu, memory, ...) inherits.
 */
static bool
hv_xs_skeleton_txn(struct hv *hv, xs_transaction_t t, uint32_t d,
    const char *name, uint32_t gen)
{
	struct xs_handle *xs = hv->hv_xs;
	uint32_t kib = hv->hv_shm.hv_geom.hv_npages * (XBD_PAGE_SIZE / 1024);
	char home[64], path[192], vm[96];
	size_t i;

	snprintf(home, sizeof(home), "/local/domain/%" PRIu32, d);
	if (!xs_mkdir(xs, t, home))
		return (false);
	if (d != 0) {
		if (!hv_xs_perms(xs, t, home, d, d))
			return (false);
		for (i = 0; i < XU_NELEM(hv_guest_nodes); i++) {
			snprintf(path, sizeof(path), "%s/%s", home,
			    hv_guest_nodes[i]);
			if (!xs_mkdir(xs, t, path))
				return (false);
		}
		for (i = 0; i < XU_NELEM(hv_readonly_dirs); i++) {
			snprintf(path, sizeof(path), "%s/%s", home,
			    hv_readonly_dirs[i]);
			if (!hv_xs_perms(xs, t, path, 0, d))
				return (false);
		}
	}
	if (!hv_xs_perms(xs, t, home, 0, d) ||
	    !hv_xs_set(xs, t, home, "name", "%s", name) ||
	    !hv_xs_set(xs, t, home, "domid", "%" PRIu32, d))
		return (false);
	if (d == 0)
		return (true); /* the toolstack domain: no guest nodes */
	hv_xs_vm_path(vm, sizeof(vm), d, gen);
	snprintf(path, sizeof(path), "/libxl/%" PRIu32 "/device", d);
	return (hv_xs_set(xs, t, home, "vm", "%s", vm) && xs_mkdir(xs, t, vm) &&
	    hv_xs_perms(xs, t, vm, 0, d) &&
	    hv_xs_set(xs, t, vm, "uuid", "%s", vm + 4) &&
	    hv_xs_set(xs, t, vm, "name", "%s", name) && xs_mkdir(xs, t, path) &&
	    hv_xs_set(xs, t, home,
		"control/platform-feature-multiprocessor-suspend", "1") &&
	    hv_xs_set(xs, t, home, "control/platform-feature-xs_reset_watches",
		"1") &&
	    hv_xs_set(xs, t, home, "memory/static-max", "%" PRIu32, kib) &&
	    hv_xs_set(xs, t, home, "memory/target", "%" PRIu32, kib));
}

/* Remove what hv_xs_skeleton_txn wrote. */
static bool
hv_xs_unskeleton_txn(struct hv *hv, xs_transaction_t t, uint32_t d,
    uint32_t gen)
{
	struct xs_handle *xs = hv->hv_xs;
	char path[96];
	bool ok = true;

	if (d != 0) {
		hv_xs_vm_path(path, sizeof(path), d, gen);
		if (!xs_rm(xs, t, path) && errno != ENOENT)
			ok = false;
		snprintf(path, sizeof(path), "/libxl/%" PRIu32, d);
		if (!xs_rm(xs, t, path) && errno != ENOENT)
			ok = false;
	}
	snprintf(path, sizeof(path), "/local/domain/%" PRIu32, d);
	if (!xs_rm(xs, t, path) && errno != ENOENT)
		ok = false;
	return (ok);
}

/* One skeleton edit: a domain's nodes written, or removed. */
struct hv_xs_edit {
	struct hv *xe_hv;    /* the machine */
	bool xe_create;	     /* write (true) or remove */
	uint32_t xe_domid;   /* the domain */
	const char *xe_name; /* its name (to write) */
	uint32_t xe_gen;     /* its generation (its vm path) */
};

/* The edit as a transaction's body; libxenstore's errno as ours. */
static int
hv_xs_edit_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	const struct hv_xs_edit *e = arg;
	bool ok;

	ok = e->xe_create ?
	    hv_xs_skeleton_txn(e->xe_hv, t, e->xe_domid, e->xe_name,
		e->xe_gen) :
	    hv_xs_unskeleton_txn(e->xe_hv, t, e->xe_domid, e->xe_gen);
	return (ok ? 0 : errno != 0 ? -errno : -EIO);
}

/* Run one skeleton edit in a transaction, retried on conflicts. */
static int
hv_xs_txn(struct hv *hv, bool create, uint32_t d, const char *name,
    uint32_t gen)
{
	struct hv_xs_edit e = { hv, create, d, name, gen };

	return (xbus_txn(hv->hv_xs, hv_xs_edit_txn, &e));
}

/* ---------------------------------------------------------------------
 * Domains (hv_lock held)
 */

int
hv_m_domain_create(struct hv *hv, uint32_t domid, const char *name,
    unsigned int *slotp, uint32_t *genp)
{
	const struct hv_shm *m = &hv->hv_shm;
	struct hv_shm_dom *d;
	unsigned int slot, s;
	uint32_t gen;
	char mname[32];
	int fd, error;

	if (domid >= DOMID_FIRST_RESERVED || hv->hv_dead)
		return (-EINVAL);
	if (hv_dom_find(m, domid, &s, &gen) == 0)
		return (-EEXIST);
	for (slot = 0; slot < HV_MAX_DOMAINS; slot++)
		if (atomic_load(&hv_dom_at(m, slot)->dom_state) == HV_DOM_FREE)
			break;
	if (slot == HV_MAX_DOMAINS)
		return (-ENOSPC);
	d = hv_dom_at(m, slot);
	gen = atomic_load(&d->dom_gen);
	snprintf(mname, sizeof(mname), "xbd-hv-arena-%" PRIu32, domid);
	if ((fd = memfd_create(mname, MFD_CLOEXEC)) < 0)
		return (-errno);
	if (ftruncate(fd, (off_t)m->hv_geom.hv_npages * XBD_PAGE_SIZE) != 0) {
		error = -errno;
		goto fail_fd;
	}
	if (name == NULL || name[0] == '\0') {
		snprintf(mname, sizeof(mname), "domain-%" PRIu32, domid);
		name = mname;
	}
	if (hv->hv_xs != NULL) {
		if ((error = hv_xs_txn(hv, true, domid, name, gen)) != 0)
			goto fail_xs;
		/* The daemon creates DIR/domain/<domid> for it. */
		if (domid != 0 &&
		    !xs_introduce_domain(hv->hv_xs, domid, 0, 1)) {
			error = errno != 0 ? -errno : -EIO;
			goto fail_xs;
		}
	}
	snprintf(d->dom_name, sizeof(d->dom_name), "%s", name);
	atomic_store(&d->dom_domid, domid);
	atomic_store(&d->dom_gnt_hwm, 0);
	atomic_store(&d->dom_port_hwm, 0);
	hv->hv_arena_fd[slot] = fd;
	atomic_store(&d->dom_state, HV_DOM_ALIVE);
	*slotp = slot;
	*genp = gen;
	return (0);

fail_xs:
	if (hv->hv_xs != NULL)
		(void)hv_xs_txn(hv, false, domid, NULL, gen);
fail_fd:
	close(fd);
	return (error);
}

int
hv_m_domain_destroy(struct hv *hv, unsigned int slot)
{
	const struct hv_shm *m = &hv->hv_shm;
	struct hv_shm_dom *d;
	uint32_t domid, gen;

	if (slot >= HV_MAX_DOMAINS)
		return (-ESRCH);
	d = hv_dom_at(m, slot);
	if (atomic_load(&d->dom_state) != HV_DOM_ALIVE)
		return (-ESRCH);
	domid = atomic_load(&d->dom_domid);
	/* Nothing started from now on succeeds; then clean behind it. */
	atomic_store(&d->dom_state, HV_DOM_DYING);
	gen = atomic_fetch_add(&d->dom_gen, 1);
	hv_m_drop_pins_of(hv, slot);
	hv_m_close_ports(hv, slot);
	hv_m_reset_grants(hv, slot);
	if (hv->hv_arena_fd[slot] >= 0)
		close(hv->hv_arena_fd[slot]);
	hv->hv_arena_fd[slot] = -1;
	if (hv->hv_xs != NULL) {
		if (domid != 0)
			(void)xs_release_domain(hv->hv_xs, domid);
		(void)hv_xs_txn(hv, false, domid, NULL, gen);
	}
	memset(d->dom_name, 0, sizeof(d->dom_name));
	atomic_store(&d->dom_domid, HV_DOMID_NONE);
	atomic_store(&d->dom_state, HV_DOM_FREE);
	return (0);
}

int
hv_m_arena_fd(struct hv *hv, unsigned int slot, uint32_t gen, int *fd)
{
	if (slot >= HV_MAX_DOMAINS || !hv_dom_alive(&hv->hv_shm, slot, gen) ||
	    hv->hv_arena_fd[slot] < 0)
		return (-ESRCH);
	if ((*fd = fcntl(hv->hv_arena_fd[slot], F_DUPFD_CLOEXEC, 0)) < 0)
		return (-errno);
	return (0);
}

void
hv_m_release_leases(struct hv *hv, unsigned int slot, uint32_t gen,
    uint32_t view_id)
{
	const struct hv_shm *m = &hv->hv_shm;
	uint32_t c, id;

	if (slot >= HV_MAX_DOMAINS || !hv_dom_alive(m, slot, gen))
		return;
	for (c = 0; c < m->hv_geom.hv_ref_chunks; c++) {
		id = view_id;
		(void)atomic_compare_exchange_strong(hv_refown_at(m, slot, c),
		    &id, 0);
	}
	for (c = 0; c < m->hv_geom.hv_arena_chunks; c++) {
		id = view_id;
		(void)atomic_compare_exchange_strong(hv_arenaown_at(m, slot, c),
		    &id, 0);
	}
}

/* ---------------------------------------------------------------------
 * The machine
 */

/* A private directory for the sockets when the caller gave none. */
static int
hv_tmpdir(char **out)
{
	const char *base = getenv("TMPDIR");
	char *dir;

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	if (asprintf(&dir, "%s/xbd-hv-XXXXXX", base) < 0)
		return (-ENOMEM);
	if (mkdtemp(dir) == NULL) {
		free(dir);
		return (-errno);
	}
	*out = dir;
	return (0);
}

/* Remove a private directory once the daemons removed their sockets. */
static void
hv_tmpdir_remove(const char *dir)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/domain", dir) < (int)sizeof(path))
		(void)rmdir(path);
	if (snprintf(path, sizeof(path), "%s/hv.sock", dir) < (int)sizeof(path))
		(void)unlink(path);
	(void)rmdir(dir);
}

int
hv_create(const struct hv_opts *o, struct hv **out)
{
	struct hv_opts opts;
	struct xsd_opts xo;
	struct hv_geom g;
	struct hv *hv;
	unsigned int i;
	int error;

	hv_opts_init(&opts);
	if (o != NULL)
		memcpy(&opts, o, XU_MIN(o->o_size, sizeof(opts)));
	opts.o_size = sizeof(opts);
	if ((error = hv_geom_init(&g, opts.o_grant_entries, opts.o_evtchn_ports,
		 opts.o_arena_pages)) != 0)
		return (error);
	if ((hv = calloc(1, sizeof(*hv))) == NULL)
		return (-ENOMEM);
	pthread_mutex_init(&hv->hv_lock, NULL);
	atomic_init(&hv->hv_refs, 1);
	hv->hv_pid = (uint32_t)getpid();
	hv->hv_mfd = -1;
	for (i = 0; i < HV_MAX_DOMAINS; i++)
		hv->hv_arena_fd[i] = -1;
	hv_env_init();
	if (opts.o_dir != NULL) {
		if ((hv->hv_dir = strdup(opts.o_dir)) == NULL) {
			error = -ENOMEM;
			goto fail;
		}
		if (mkdir(hv->hv_dir, 0700) == 0) {
			/* Ours: removed at the end if nobody else left
			   anything in it. */
			hv->hv_tmpdir = 1;
		} else if (errno != EEXIST) {
			error = -errno;
			goto fail;
		}
	} else {
		if ((error = hv_tmpdir(&hv->hv_dir)) != 0)
			goto fail;
		hv->hv_tmpdir = 1;
	}
	opts.o_dir = hv->hv_dir;
	hv->hv_opts = opts;
	if ((error = hv_shm_create(&g, &hv->hv_mfd, &hv->hv_shm)) != 0)
		goto fail;
	for (i = 0; i < HV_MAX_DOMAINS; i++)
		atomic_store(&hv_dom_at(&hv->hv_shm, i)->dom_domid,
		    HV_DOMID_NONE);
	if (opts.o_xenstored) {
		xsd_opts_init(&xo);
		error = xsd_server_start(hv->hv_dir, &xo, &hv->hv_xsd);
		if (error != 0)
			goto fail;
	}
	if ((hv->hv_xs = hv_xs_open_priv(hv)) == NULL) {
		error = errno != 0 ? -errno : -EIO;
		goto fail;
	}
	*out = hv;
	return (0);

fail:
	hv->hv_dead = 1;
	hv_destroy(hv);
	return (error);
}

void
hv_put(struct hv *hv)
{
	if (atomic_fetch_sub(&hv->hv_refs, 1) != 1)
		return;
	hv_shm_detach(&hv->hv_shm);
	if (hv->hv_mfd >= 0)
		close(hv->hv_mfd);
	free(hv->hv_handles);
	free(hv->hv_dir);
	pthread_mutex_destroy(&hv->hv_lock);
	free(hv);
}

void
hv_destroy(struct hv *hv)
{
	unsigned int i;

	if (hv == NULL)
		return;
	pthread_mutex_lock(&hv->hv_lock);
	if (hv->hv_shm.hv_hdr != NULL)
		for (i = 0; i < HV_MAX_DOMAINS; i++)
			(void)hv_m_domain_destroy(hv, i);
	hv->hv_dead = 1;
	if (hv->hv_xs != NULL)
		xs_close(hv->hv_xs);
	hv->hv_xs = NULL;
	pthread_mutex_unlock(&hv->hv_lock);
	xsd_server_stop(hv->hv_xsd);
	hv->hv_xsd = NULL;
	if (hv->hv_tmpdir && hv->hv_dir != NULL) {
		hv_tmpdir_remove(hv->hv_dir);
	}
	hv_put(hv);
}

const char *
hv_dir(const struct hv *hv)
{
	return (hv->hv_dir);
}

int
hv_domain_create(struct hv *hv, uint32_t domid, const char *name,
    struct plat **out)
{
	unsigned int slot;
	uint32_t gen;
	int error;

	pthread_mutex_lock(&hv->hv_lock);
	error = hv_m_domain_create(hv, domid, name, &slot, &gen);
	pthread_mutex_unlock(&hv->hv_lock);
	if (error != 0)
		return (error);
	if ((error = hv_view_new_local(hv, slot, gen, out)) != 0) {
		pthread_mutex_lock(&hv->hv_lock);
		(void)hv_m_domain_destroy(hv, slot);
		pthread_mutex_unlock(&hv->hv_lock);
	}
	return (error);
}

int
hv_domain_destroy(struct hv *hv, uint32_t domid)
{
	unsigned int slot;
	uint32_t gen;
	int error;

	pthread_mutex_lock(&hv->hv_lock);
	error = hv_dom_find(&hv->hv_shm, domid, &slot, &gen);
	if (error == 0)
		error = hv_m_domain_destroy(hv, slot);
	pthread_mutex_unlock(&hv->hv_lock);
	return (error);
}

unsigned int
hv_domain_count(struct hv *hv)
{
	unsigned int i, n = 0;
	uint32_t st;

	for (i = 0; i < HV_MAX_DOMAINS; i++) {
		st = atomic_load(&hv_dom_at(&hv->hv_shm, i)->dom_state);
		if (st == HV_DOM_ALIVE)
			n++;
	}
	return (n);
}

/*
 * The counts of hv_domain_usage from machine memory alone, which every
 * view maps too; without the machine's lock a domain dying meanwhile
 * gives a snapshot of its teardown.
 */
int
hv_shm_usage(const struct hv_shm *m, uint32_t domid, struct hv_dom_usage *u)
{
	unsigned int slot, g;
	uint32_t gen, i, hwm;

	memset(u, 0, sizeof(*u));
	if (hv_dom_find(m, domid, &slot, &gen) != 0)
		return (-ESRCH);
	hwm = XU_MIN(atomic_load(&hv_dom_at(m, slot)->dom_gnt_hwm),
	    m->hv_geom.hv_nents);
	for (i = 0; i < hwm; i++)
		if ((__atomic_load_n(hv_gent_word(hv_gent_at(m, slot, i)),
			 __ATOMIC_ACQUIRE) &
			0xffffu) != 0)
			u->du_grants++;
	hwm = XU_MIN(atomic_load(&hv_dom_at(m, slot)->dom_port_hwm),
	    m->hv_geom.hv_nports);
	for (i = 1; i < hwm; i++)
		if (hv_port_used(m, slot, i))
			u->du_ports++;
	for (g = 0; g < HV_MAX_DOMAINS; g++)
		if (g != slot)
			u->du_mapped +=
			    atomic_load(&m->hv_hdr->hv_pins[g][slot]);
	return (0);
}

int
hv_domain_usage(struct hv *hv, uint32_t domid, struct hv_dom_usage *u)
{
	int error;

	pthread_mutex_lock(&hv->hv_lock);
	error = hv_shm_usage(&hv->hv_shm, domid, u);
	pthread_mutex_unlock(&hv->hv_lock);
	return (error);
}
