/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: goal G5 of docs/reliability.md, bounded resources under
 * attack.  `xbd xenstored` (argv[1]) runs as a process of its own, so
 * that its memory is its own in /proc/PID/status.  Domain 5 then runs
 * every XSA-326/416/419/421 pattern at once, one thread each, for
 * XBD_SIEGE_SECONDS (15; the documented run is 600): replies never read
 * (326a, 416), watches on nodes it deletes by the hundred and a
 * watcher that never reads, with a token of 3000 bytes (326b, XSA-324),
 * the most nodes of the longest paths and the largest values in as
 * many transactions as it may open, left open (326c), one transaction
 * touching more nodes than allowed (326d), nodes created and deleted in
 * one transaction (421), an accomplice domain 6 writing into 5's tree
 * and rebooting (419), nesting a thousand levels deep (418), too many
 * permission entries and RESET_WATCHES inside a transaction (484).
 * Meanwhile domain 7 reads, writes and lists its own nodes and times
 * every request.
 *
 * Pass: the daemon is alive, answers, and its tree and accounting are
 * consistent (CONTROL check); its resident memory grows, at the end and
 * at the peak, by at most the per-domain memory quota it reports (2.5
 * MiB by default) plus 1 MiB over the figure taken after setup; domain
 * 7's p99 latency is at most 10 ms; it exits cleanly on SIGTERM.
 */

#include <sys/socket.h>
#include <sys/uio.h>

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include "common/xu_assert.h"
#include "test_xsd_integ.h"
#include "xt_res.h"

#define SG_HOSTILE 5 /* the attacker */
#define SG_HELPER 6  /* its accomplice (XSA-419), rebooted over and over */
#define SG_HONEST 7  /* the client whose latency is measured */
/* Run length in seconds unless XBD_SIEGE_SECONDS says otherwise. */
#define SG_SECONDS 15
/* G5's bounds: honest p99 and memory beyond the quota. */
#define SG_P99_US 10000
#define SG_SLACK_KB 1024
/* Connections the never-reading thread keeps stuffed. */
#define SG_NOREAD_CONNS 12
/* Nodes the watch storm creates and deletes per round. */
#define SG_STORM_NODES 60
/* Watches the storm asks for: more than the quota of 128. */
#define SG_STORM_WATCHES 130
#define SG_BUF (XENSTORE_PAYLOAD_MAX + 1)
/*
 * The largest value of a node with one permission under the default
 * entry size of 2048: the stored record has a 24-byte header and 8
 * bytes per permission (docs/hypervisor.md, the 4.17 quota).
 */
#define SG_VMAX (2048 - 24 - 8)
/* A literal payload of NUL-terminated strings and its length. */
#define SG_LIT(lit) lit, sizeof(lit)

/* What each attacking thread does, for the report. */
enum sg_kind {
	SG_NOREAD,
	SG_STORM,
	SG_TXNFILL,
	SG_FILL,
	SG_TXNWIDE,
	SG_XSA421,
	SG_DEEP,
	SG_PERMS,
	SG_REBOOT,
	SG_NKIND,
};

/* Counters of one kind of hostile operation. */
struct sg_stat {
	const char *s_name;	/* kind, as printed */
	atomic_ulong s_ops;	/* requests sent */
	atomic_ulong s_refused; /* error replies (quotas, rules) */
	atomic_ulong s_dropped; /* connections dropped or held back */
};

static struct sg_stat sg_stats[SG_NKIND] = {
	[SG_NOREAD] = { .s_name = "326a/416 replies never read" },
	[SG_STORM] = { .s_name = "326b watch storm, huge tokens" },
	[SG_TXNFILL] = { .s_name = "326c max in open transactions" },
	[SG_FILL] = { .s_name = "326c max nodes x size x path" },
	[SG_TXNWIDE] = { .s_name = "326d wide transaction, 484/330" },
	[SG_XSA421] = { .s_name = "421 create+delete in a txn" },
	[SG_DEEP] = { .s_name = "418 nesting, rm of the top" },
	[SG_PERMS] = { .s_name = "perms: too many, unknown ids" },
	[SG_REBOOT] = { .s_name = "419 accomplice writes, reboots" },
};

/* The daemon and the run, shared by the threads. */
static struct {
	char dir[64];	     /* the daemon's directory */
	char priv[96];	     /* DIR/socket */
	char dom[3][96];     /* DIR/domain/{5,6,7} */
	pid_t pid;	     /* the daemon */
	atomic_bool stop;    /* the attackers stop */
	atomic_long rss_max; /* highest VmRSS sampled, KiB */
} sg;

static const char *xbd_path;

static long
sg_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/* Sleep ms milliseconds, or less once the run is over. */
static void
sg_nap(int ms)
{
	while (ms > 0 && !atomic_load(&sg.stop)) {
		usleep(10000 < ms * 1000 ? 10000 : ms * 1000);
		ms -= 10;
	}
}

/* ---------------------------------------------------------------------
 * A client that never asserts: the attackers run on threads, and their
 * connections are expected to be dropped.
 */

static int
sg_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return (-1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* One message in one call: 0, or -1 if not all of it went. */
static int
sg_send(int fd, uint32_t type, uint32_t tx, const void *p, size_t len,
    int flags)
{
	struct xsd_sockmsg h = { type, 0, tx, (uint32_t)len };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)p, len } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };

	return (sendmsg(fd, &m, MSG_NOSIGNAL | flags) ==
		    (ssize_t)(sizeof(h) + len) ?
		0 :
		-1);
}

/* A descriptor that may be -1 (a connection that failed). */
static void
sg_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

static bool
sg_read_full(int fd, void *buf, size_t len)
{
	return (xi_read_some(fd, buf, len) > 0);
}

/*
 * A request and its reply (watch events before it skipped): the reply's
 * type, its payload NUL-terminated in out (SG_BUF bytes), or -1 when
 * the connection is gone or silent.
 */
static int
sg_req(int fd, uint32_t type, uint32_t tx, const void *p, size_t len, char *out)
{
	struct xsd_sockmsg h;

	if (sg_send(fd, type, tx, p, len, 0) != 0)
		return (-1);
	do {
		if (!sg_read_full(fd, &h, sizeof(h)) || h.len >= SG_BUF ||
		    !sg_read_full(fd, out, h.len))
			return (-1);
		out[h.len] = '\0';
	} while (h.type == XS_WATCH_EVENT);
	return ((int)h.type);
}

/* "path\0value" into buf (SG_BUF bytes); its length. */
static size_t
sg_pv(char *buf, const char *path, const char *val, size_t vlen)
{
	size_t plen = strlen(path) + 1;

	memcpy(buf, path, plen);
	memcpy(buf + plen, val, vlen);
	return (plen + vlen);
}

/*
 * A hostile request on *fd (reconnected to sock if the daemon dropped
 * it), counted under kind: the reply's type or -1.
 */
static int
sg_hreq(enum sg_kind kind, int *fd, const char *sock, uint32_t type,
    uint32_t tx, const void *p, size_t len, char *out)
{
	int t;

	atomic_fetch_add(&sg_stats[kind].s_ops, 1);
	if (*fd >= 0 && (t = sg_req(*fd, type, tx, p, len, out)) >= 0) {
		if (t == XS_ERROR)
			atomic_fetch_add(&sg_stats[kind].s_refused, 1);
		return (t);
	}
	atomic_fetch_add(&sg_stats[kind].s_dropped, 1);
	sg_close(*fd);
	*fd = sg_connect(sock);
	return (-1);
}

/* Shorthands on domain 5's socket. */
static int
sg_h(enum sg_kind k, int *fd, uint32_t type, uint32_t tx, const char *path,
    char *out)
{
	return (
	    sg_hreq(k, fd, sg.dom[0], type, tx, path, strlen(path) + 1, out));
}

static int
sg_hw(enum sg_kind k, int *fd, uint32_t tx, const char *path, const char *val,
    size_t vlen, char *out)
{
	char buf[SG_BUF];

	return (sg_hreq(k, fd, sg.dom[0], XS_WRITE, tx, buf,
	    sg_pv(buf, path, val, vlen), out));
}

/* TRANSACTION_START: the id, or 0 when refused. */
static uint32_t
sg_txn(enum sg_kind k, int *fd, char *out)
{
	if (sg_hreq(k, fd, sg.dom[0], XS_TRANSACTION_START, 0, "", 1, out) !=
	    XS_TRANSACTION_START)
		return (0);
	return ((uint32_t)strtoul(out, NULL, 10));
}

static void
sg_txn_end(enum sg_kind k, int *fd, uint32_t tx, bool commit, char *out)
{
	sg_hreq(k, fd, sg.dom[0], XS_TRANSACTION_END, tx, commit ? "T" : "F", 2,
	    out);
}

/* Path bytes of the long components the fillers use. */
static char sg_long[3][600];

/* "/local/domain/5/<top>/<long0>/<long1>/<long2>" into p. */
static void
sg_long_path(char *p, size_t cap, const char *top)
{
	snprintf(p, cap, "/local/domain/5/%s/%s/%s/%s", top, sg_long[0],
	    sg_long[1], sg_long[2]);
}

/* ---------------------------------------------------------------------
 * The attackers
 */

/* 326a, 416: stuff connections with requests for big replies. */
static void *
sg_noread(void *arg)
{
	static const char *const reqs[] = { "/siege/big", "/siege/wide" };
	int fds[SG_NOREAD_CONNS], i, n, fl;
	size_t k;

	while (!atomic_load(&sg.stop)) {
		for (i = 0; i < SG_NOREAD_CONNS; i++) {
			if ((fds[i] = sg_connect(sg.dom[0])) < 0)
				continue;
			fl = fcntl(fds[i], F_GETFL);
			(void)fcntl(fds[i], F_SETFL, fl | O_NONBLOCK);
			for (n = 0; n < 100000; n++) {
				k = (size_t)n % 2;
				if (sg_send(fds[i],
					k == 0 ? XS_READ : XS_DIRECTORY, 0,
					reqs[k], strlen(reqs[k]) + 1,
					MSG_DONTWAIT) != 0)
					break;
				atomic_fetch_add(&sg_stats[SG_NOREAD].s_ops, 1);
			}
			atomic_fetch_add(&sg_stats[SG_NOREAD].s_dropped, 1);
		}
		sg_nap(500); /* held, unread */
		for (i = 0; i < SG_NOREAD_CONNS; i++)
			sg_close(fds[i]);
	}
	return (arg);
}

/* A watcher that reads only its WATCH replies, then nothing. */
static int
sg_watcher(char *out)
{
	static char tok[3001];
	char p[SG_BUF], path[64];
	int fd = sg_connect(sg.dom[0]), i;

	memset(tok, 'k', sizeof(tok) - 1);
	/* A 3000-byte token on the root of the storm (XSA-324 sizes). */
	sg_hreq(SG_STORM, &fd, sg.dom[0], XS_WATCH, 0, p,
	    sg_pv(p, "/local/domain/5/storm", tok, sizeof(tok)), out);
	/* Unprivileged watches on / and @releaseDomain (XSA-115). */
	sg_hreq(SG_STORM, &fd, sg.dom[0], XS_WATCH, 0, p,
	    sg_pv(p, "/", "root", 5), out);
	sg_hreq(SG_STORM, &fd, sg.dom[0], XS_WATCH, 0, p,
	    sg_pv(p, "@releaseDomain", "rel", 4), out);
	/* One per node to be deleted, beyond the quota. */
	for (i = 0; i < SG_STORM_WATCHES && fd >= 0; i++) {
		snprintf(path, sizeof(path), "/local/domain/5/storm/n%d", i);
		sg_hreq(SG_STORM, &fd, sg.dom[0], XS_WATCH, 0, p,
		    sg_pv(p, path, "t", 2), out);
	}
	return (fd);
}

/* 326b, X13, X14: events by the thousand towards a client not reading. */
static void *
sg_storm(void *arg)
{
	char out[SG_BUF], path[64];
	struct pollfd pfd;
	int w = -1, m = sg_connect(sg.dom[0]), i;

	while (!atomic_load(&sg.stop)) {
		if (w < 0)
			w = sg_watcher(out);
		for (i = 0; i < SG_STORM_NODES; i++) {
			snprintf(path, sizeof(path),
			    "/local/domain/5/storm/n%d", i);
			sg_hw(SG_STORM, &m, 0, path, "x", 1, out);
		}
		sg_h(SG_STORM, &m, XS_RM, 0, "/local/domain/5/storm", out);
		/* Dropped for its backlog: count it, start another. */
		pfd = (struct pollfd) { w, POLLRDHUP, 0 };
		if (w >= 0 && poll(&pfd, 1, 0) == 1) {
			atomic_fetch_add(&sg_stats[SG_STORM].s_dropped, 1);
			close(w);
			w = -1;
		}
		sg_nap(2);
	}
	sg_close(w);
	sg_close(m);
	return (arg);
}

/* 326c, X15: as many transactions as allowed, each as full as allowed. */
static void *
sg_txnfill(void *arg)
{
	static char val[2000];
	char out[SG_BUF], base[XENSTORE_ABS_PATH_MAX], path[SG_BUF];
	uint32_t tx[16];
	int fd = sg_connect(sg.dom[0]), n, i, j;
	bool full;

	memset(val, 'v', sizeof(val));
	sg_long_path(base, sizeof(base), "tf");
	while (!atomic_load(&sg.stop)) {
		/* One more than the quota of 10: the last is refused. */
		for (n = 0; n < 11; n++)
			if ((tx[n] = sg_txn(SG_TXNFILL, &fd, out)) == 0)
				break;
		for (i = 0; i < n; i++) {
			full = false;
			for (j = 0; j < 120 && !full; j++) {
				snprintf(path, sizeof(path), "%s/k%03d", base,
				    j);
				full = sg_hw(SG_TXNFILL, &fd, tx[i], path, val,
					   sizeof(val), out) != XS_WRITE;
			}
		}
		sg_nap(300); /* left open */
		for (i = 0; i < n; i++)
			sg_txn_end(SG_TXNFILL, &fd, tx[i], i % 2 == 0, out);
		sg_h(SG_TXNFILL, &fd, XS_RM, 0, "/local/domain/5/tf", out);
	}
	sg_close(fd);
	return (arg);
}

/* 326c, X11, X12: the node quota filled with the biggest nodes. */
static void *
sg_fill(void *arg)
{
	static char val[2100];
	char out[SG_BUF], base[XENSTORE_ABS_PATH_MAX], path[SG_BUF];
	int fd = sg_connect(sg.dom[0]), j;

	memset(val, 'f', sizeof(val));
	sg_long_path(base, sizeof(base), "fill");
	while (!atomic_load(&sg.stop)) {
		/* A value one byte over the entry size, then exactly it. */
		sg_hw(SG_FILL, &fd, 0, "/local/domain/5/fv", val, SG_VMAX + 1,
		    out);
		sg_hw(SG_FILL, &fd, 0, "/local/domain/5/fv", val, SG_VMAX, out);
		/* Children of ~330 per parent fit its entry size. */
		for (j = 0; j < 1100 && !atomic_load(&sg.stop); j++) {
			snprintf(path, sizeof(path), "%s/p%d/k%04d", base,
			    j / 300, j);
			if (sg_hw(SG_FILL, &fd, 0, path, val, SG_VMAX, out) !=
			    XS_WRITE)
				break;
		}
		sg_nap(1000);
		sg_h(SG_FILL, &fd, XS_RM, 0, "/local/domain/5/fill", out);
		sg_nap(20);
	}
	sg_close(fd);
	return (arg);
}

/* 326d, 421, 484, 330: wide transactions and transaction corner cases. */
static void *
sg_txnwide(void *arg)
{
	char out[SG_BUF], path[64];
	uint32_t tx;
	int fd = sg_connect(sg.dom[0]), j;

	while (!atomic_load(&sg.stop)) {
		/* More nodes touched than the 1024 allowed. */
		if ((tx = sg_txn(SG_TXNWIDE, &fd, out)) != 0) {
			for (j = 0; j < 1100; j++) {
				snprintf(path, sizeof(path),
				    "/local/domain/5/wide/n%d", j);
				if (sg_h(SG_TXNWIDE, &fd, XS_READ, tx, path,
					out) != XS_ERROR ||
				    strcmp(out, "ENOENT") != 0)
					break;
			}
			sg_txn_end(SG_TXNWIDE, &fd, tx, true, out);
		}
		/* Created and deleted in one transaction, committed. */
		for (j = 0; j < 50; j++) {
			if ((tx = sg_txn(SG_XSA421, &fd, out)) == 0)
				continue;
			snprintf(path, sizeof(path), "/local/domain/5/x421/n%d",
			    j);
			sg_hw(SG_XSA421, &fd, tx, path, "1", 1, out);
			sg_h(SG_XSA421, &fd, XS_RM, tx, path, out);
			sg_txn_end(SG_XSA421, &fd, tx, true, out);
		}
		/* RESET_WATCHES inside a transaction, then over and over. */
		if ((tx = sg_txn(SG_TXNWIDE, &fd, out)) != 0) {
			sg_hw(SG_TXNWIDE, &fd, tx, "/local/domain/5/r/x", "1",
			    1, out);
			sg_hreq(SG_TXNWIDE, &fd, sg.dom[0], XS_RESET_WATCHES,
			    tx, "", 1, out);
			sg_txn_end(SG_TXNWIDE, &fd, tx, true, out);
		}
		for (j = 0; j < 20; j++)
			sg_hreq(SG_TXNWIDE, &fd, sg.dom[0], XS_RESET_WATCHES, 0,
			    "", 1, out);
		sg_nap(5);
	}
	sg_close(fd);
	return (arg);
}

/* Privileged request from an attacker thread (the toolstack's part). */
static void
sg_priv(int *fd, uint32_t type, const char *p, size_t len, char *out)
{
	sg_hreq(SG_REBOOT, fd, sg.priv, type, 0, p, len, out);
}

/* 418, X16, 419: deep trees, bad perms, an accomplice that reboots. */
static void *
sg_deep(void *arg)
{
	char out[SG_BUF], p[SG_BUF], path[XENSTORE_ABS_PATH_MAX + 1];
	int fd = sg_connect(sg.dom[0]), pv = sg_connect(sg.priv), acc, j;
	size_t len;

	while (!atomic_load(&sg.stop)) {
		/* 800 levels in one WRITE, then RM of the top (XSA-418). */
		len = (size_t)snprintf(path, sizeof(path),
		    "/local/domain/5/deep");
		while (len + 2 < 16 + 1600) {
			memcpy(path + len, "/a", 3);
			len += 2;
		}
		sg_hw(SG_DEEP, &fd, 0, path, "", 0, out);
		sg_h(SG_DEEP, &fd, XS_RM, 0, "/local/domain/5/deep", out);
		/* Six entries (one over), unknown ids, giving it away. */
		sg_hw(SG_PERMS, &fd, 0, "/local/domain/5/pm", "", 0, out);
		sg_hreq(SG_PERMS, &fd, sg.dom[0], XS_SET_PERMS, 0,
		    SG_LIT("/local/domain/5/pm\0n5\0r1\0r2\0r3\0r4\0r9"), out);
		sg_hreq(SG_PERMS, &fd, sg.dom[0], XS_SET_PERMS, 0,
		    SG_LIT("/local/domain/5/pm\0n5\0r31000\0w32001\0b32002"),
		    out);
		sg_hreq(SG_PERMS, &fd, sg.dom[0], XS_SET_PERMS, 0,
		    SG_LIT("/local/domain/5/pm\0n0"), out);
		/* 419: 6 may write under 5; it does, and reboots. */
		sg_priv(&pv, XS_MKDIR, SG_LIT("/local/domain/6"), out);
		sg_priv(&pv, XS_SET_PERMS, SG_LIT("/local/domain/6\0n6"), out);
		sg_priv(&pv, XS_INTRODUCE, SG_LIT("6\0001\0001"), out);
		sg_hw(SG_REBOOT, &fd, 0, "/local/domain/5/share", "", 0, out);
		sg_hreq(SG_REBOOT, &fd, sg.dom[0], XS_SET_PERMS, 0,
		    SG_LIT("/local/domain/5/share\0n5\0w6"), out);
		acc = sg_connect(sg.dom[1]);
		for (j = 0; j < 300 && acc >= 0; j++) {
			snprintf(path, sizeof(path),
			    "/local/domain/5/share/s%d", j);
			if (sg_hreq(SG_REBOOT, &acc, sg.dom[1], XS_WRITE, 0, p,
				sg_pv(p, path, "acc", 3), out) != XS_WRITE)
				break;
		}
		sg_close(acc);
		sg_priv(&pv, XS_RELEASE, SG_LIT("6"), out);
		sg_nap(20);
	}
	sg_close(fd);
	sg_close(pv);
	return (arg);
}

/* Samples the daemon's resident memory, keeping the highest. */
static void *
sg_sampler(void *arg)
{
	long kb, max;

	while (!atomic_load(&sg.stop)) {
		kb = xt_proc_status_kb(sg.pid, "VmRSS");
		max = atomic_load(&sg.rss_max);
		if (kb > max)
			atomic_store(&sg.rss_max, kb);
		usleep(20000);
	}
	return (arg);
}

/* ---------------------------------------------------------------------
 * The honest client and the test
 */

/* The honest client's request latencies, in microseconds. */
struct sg_lat {
	uint32_t *l_us;	     /* one per request */
	size_t l_n;	     /* requests timed */
	size_t l_cap;	     /* entries of l_us */
	unsigned int l_fail; /* requests without the expected reply */
};

static void
sg_honest_req(struct sg_lat *l, int fd, uint32_t type, const void *p,
    size_t len)
{
	char out[SG_BUF];
	long t0 = sg_now_us(), us;
	int t = sg_req(fd, type, 0, p, len, out);

	us = sg_now_us() - t0;
	if (t != (int)type && l->l_fail++ < 5)
		printf("siege: honest request %u: reply %d %s\n", type, t,
		    t == XS_ERROR ? out : "");
	if (l->l_n == l->l_cap) {
		l->l_cap = l->l_cap * 2 + 4096;
		l->l_us = realloc(l->l_us, l->l_cap * sizeof(*l->l_us));
		assert_non_null(l->l_us);
	}
	l->l_us[l->l_n++] = (uint32_t)(us < UINT32_MAX ? us : UINT32_MAX);
}

/* Domain 7 reads, writes and lists its nodes until the end of the run. */
static void
sg_honest(struct sg_lat *l, long end_ms)
{
	char p[SG_BUF], path[64], val[64];
	unsigned int i;
	int fd = xi_connect(sg.dom[2]);

	for (i = 0; xi_now_ms() < end_ms; i++) {
		/* Write a node, read it back, list its directory. */
		snprintf(path, sizeof(path), "/local/domain/7/h/k%u",
		    i / 3 % 64);
		switch (i % 3) {
		case 0:
			snprintf(val, sizeof(val), "value %u", i);
			sg_honest_req(l, fd, XS_WRITE, p,
			    sg_pv(p, path, val, strlen(val)));
			break;
		case 1:
			sg_honest_req(l, fd, XS_READ, path, strlen(path) + 1);
			break;
		default:
			sg_honest_req(l, fd, XS_DIRECTORY,
			    SG_LIT("/local/domain/7/h"));
			break;
		}
		usleep(1000);
	}
	close(fd);
}

static int
sg_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

/* A privileged request that must succeed; its reply in out. */
static void
sg_ok(int fd, uint32_t type, const void *p, size_t len, char *out)
{
	assert_int_equal(sg_req(fd, type, 0, p, len, out), (int)type);
}

static void
sg_introduce(int fd, unsigned int domid)
{
	char out[SG_BUF], p[64];
	int n;

	snprintf(p, sizeof(p), "/local/domain/%u", domid);
	sg_ok(fd, XS_MKDIR, p, strlen(p) + 1, out);
	n = snprintf(p, sizeof(p), "/local/domain/%u%cn%u", domid, 0, domid);
	sg_ok(fd, XS_SET_PERMS, p, (size_t)n + 1, out);
	n = snprintf(p, sizeof(p), "%u%c1%c1", domid, 0, 0);
	sg_ok(fd, XS_INTRODUCE, p, (size_t)n + 1, out);
}

/* The per-domain memory quota the daemon reports (CONTROL quota). */
static long
sg_quota_memory(int fd)
{
	char out[SG_BUF], *m;

	sg_ok(fd, XS_CONTROL, SG_LIT("quota"), out);
	m = strstr(out, "\nmemory ");
	assert_non_null(m);
	return (strtol(m + 8, NULL, 10));
}

static pid_t
sg_spawn(void)
{
	long deadline = xi_now_ms() + XI_DEADLINE_MS;
	pid_t pid;
	int fd;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(xbd_path, "xbd", "xenstored", "--dir", sg.dir,
		    "--foreground", (char *)NULL);
		_exit(127);
	}
	while ((fd = sg_connect(sg.priv)) < 0) {
		assert_true(xi_now_ms() < deadline);
		usleep(5000);
	}
	close(fd);
	return (pid);
}

/* Set up the tree every attacker and the honest client use. */
static void
sg_setup(int priv)
{
	static char big[XENSTORE_PAYLOAD_MAX], p[SG_BUF], out[SG_BUF];
	char path[64];
	int i;

	for (i = 0; i < 3; i++)
		memset(sg_long[i], 'a' + i, sizeof(sg_long[i]) - 1);
	sg_introduce(priv, SG_HOSTILE);
	sg_introduce(priv, SG_HONEST);
	/* A 4000-byte value and a wide directory anyone may read. */
	memset(big, 'b', sizeof(big));
	sg_ok(priv, XS_WRITE, p, sg_pv(p, "/siege/big", big, 4000), out);
	for (i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), "/siege/wide/entry-number-%03d",
		    i);
		sg_ok(priv, XS_MKDIR, path, strlen(path) + 1, out);
	}
	sg_ok(priv, XS_SET_PERMS, SG_LIT("/siege\0r0"), out);
	sg_ok(priv, XS_SET_PERMS, SG_LIT("/siege/big\0r0"), out);
	sg_ok(priv, XS_SET_PERMS, SG_LIT("/siege/wide\0r0"), out);
}

/* catalogue: X7 X10 X11 X12 X13 X14 X15 X16 X21 */
static void
test_siege(void **state)
{
	void *(*const attackers[])(void *) = { sg_noread, sg_storm, sg_txnfill,
		sg_fill, sg_txnwide, sg_deep };
	pthread_t th[7];
	unsigned int secs = xt_env_count("XBD_SIEGE_SECONDS", SG_SECONDS);
	struct sg_lat lat = { 0 };
	char out[SG_BUF];
	long quota_kb, base_kb, end_kb, hwm_kb, peak_kb;
	uint32_t p50, p99, max;
	size_t i;
	int priv, st;

	snprintf(sg.dir, sizeof(sg.dir), "/tmp/xsd-siege-XXXXXX");
	assert_non_null(mkdtemp(sg.dir));
	snprintf(sg.priv, sizeof(sg.priv), "%s/socket", sg.dir);
	for (i = 0; i < 3; i++)
		snprintf(sg.dom[i], sizeof(sg.dom[i]), "%s/domain/%zu", sg.dir,
		    SG_HOSTILE + i);
	sg.pid = sg_spawn();
	priv = xi_connect(sg.priv);
	sg_setup(priv);
	quota_kb = sg_quota_memory(priv) / 1024;
	/* Warm up the honest path, then take the baseline. */
	sg_honest(&lat, xi_now_ms() + 200);
	assert_int_equal(lat.l_fail, 0);
	lat.l_n = 0;
	base_kb = xt_proc_status_kb(sg.pid, "VmRSS");
	assert_true(base_kb > 0);
	atomic_store(&sg.rss_max, base_kb);
	for (i = 0; i < XU_NELEM(attackers); i++)
		assert_int_equal(
		    pthread_create(&th[i], NULL, attackers[i], NULL), 0);
	assert_int_equal(pthread_create(&th[i], NULL, sg_sampler, NULL), 0);
	sg_honest(&lat, xi_now_ms() + (long)secs * 1000);
	atomic_store(&sg.stop, true);
	for (i = 0; i <= XU_NELEM(attackers); i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);

	/* Alive, answering, consistent (XSA-421: accounting intact). */
	assert_int_equal(waitpid(sg.pid, &st, WNOHANG), 0);
	sg_ok(priv, XS_CONTROL, SG_LIT("check"), out);
	sg_ok(priv, XS_READ, SG_LIT("/local/domain/7/h/k0"), out);
	end_kb = xt_proc_status_kb(sg.pid, "VmRSS");
	hwm_kb = xt_proc_status_kb(sg.pid, "VmHWM");
	peak_kb = atomic_load(&sg.rss_max);
	peak_kb = hwm_kb > peak_kb ? hwm_kb : peak_kb;
	qsort(lat.l_us, lat.l_n, sizeof(*lat.l_us), sg_cmp_u32);
	assert_true(lat.l_n > 0);
	p50 = lat.l_us[lat.l_n / 2];
	p99 = lat.l_us[lat.l_n * 99 / 100];
	max = lat.l_us[lat.l_n - 1];
	printf("siege: %u s, memory quota %ld KiB\n", secs, quota_kb);
	printf("siege: VmRSS baseline %ld KiB, end %ld KiB (+%ld), "
	       "peak %ld KiB (+%ld), bound +%ld\n",
	    base_kb, end_kb, end_kb - base_kb, peak_kb, peak_kb - base_kb,
	    quota_kb + SG_SLACK_KB);
	printf("siege: honest requests %zu, failed %u, latency p50 %u us, "
	       "p99 %u us, max %u us\n",
	    lat.l_n, lat.l_fail, p50, p99, max);
	for (i = 0; i < SG_NKIND; i++)
		printf("siege: %-32s ops %8lu refused %8lu dropped %6lu\n",
		    sg_stats[i].s_name, atomic_load(&sg_stats[i].s_ops),
		    atomic_load(&sg_stats[i].s_refused),
		    atomic_load(&sg_stats[i].s_dropped));
	assert_int_equal(lat.l_fail, 0);
#if !defined(__SANITIZE_ADDRESS__)
	/* ASan's shadow memory and quarantine are not the daemon's. */
	assert_true(end_kb - base_kb <= quota_kb + SG_SLACK_KB);
	assert_true(peak_kb - base_kb <= quota_kb + SG_SLACK_KB);
	/* ASan slows every request several times over. */
	assert_true(p99 <= SG_P99_US);
#endif
	free(lat.l_us);
	close(priv);
	/* A clean exit (under ASan: no leak report either). */
	assert_int_equal(kill(sg.pid, SIGTERM), 0);
	assert_int_equal(waitpid(sg.pid, &st, 0), sg.pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(rmdir(sg.dir), 0);
}

/* After a failure: the daemon must not outlive the test. */
static int
sg_teardown(void **state)
{
	int st;

	if (sg.pid > 0 && waitpid(sg.pid, &st, WNOHANG) == 0) {
		kill(sg.pid, SIGTERM);
		(void)waitpid(sg.pid, &st, 0);
		(void)rmdir(sg.dir);
	}
	return (0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siege),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s path/to/xbd\n", argv[0]);
		return (1);
	}
	xbd_path = argv[1];
	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, NULL, sg_teardown));
}
