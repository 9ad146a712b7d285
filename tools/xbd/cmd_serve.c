/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xbd serve: run the block backend (lib/back) as a domain of a machine
 * that `xbd hv --dir DIR` runs, or on real Xen as the domain the process
 * runs in (--platform xen), until SIGINT or SIGTERM.  With --image it
 * also plays the toolstack for that vbd: it creates it in the frontend
 * domain, as libxl would, removes it when the domain goes away (libxl's
 * domain destruction), creates it again when a domain of that id comes
 * back, and removes it on the way out.  Without --image it serves
 * whatever vbds others create.
 */

#include <sys/signalfd.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "back/xbb.h"
#include "cmd.h"
#include "cmd_opt.h"
#include "common/xu_assert.h"
#include "platform/sim/hv.h"
#include "xenbus/xbus.h"

/* How long the removal of our vbd waits for the frontend to close. */
#define CMD_SERVE_REMOVE_MS 5000
/* Where a backend on real Xen keeps its rings' shadows: /run survives
   the process, not the host, which is what a ring needs. */
#define CMD_SERVE_XEN_STATE "/run/xbd"

/* The command line, parsed. */
struct serve_args {
	const char *sa_dir;	 /* the machine's directory (sim) */
	bool sa_xen;		 /* --platform xen */
	uint32_t sa_domid;	 /* the domain we serve as */
	const char *sa_name;	 /* its name */
	const char *sa_image;	 /* --image: a vbd to create */
	uint32_t sa_frontend;	 /* its frontend domain */
	uint32_t sa_vdev;	 /* its virtual-device number */
	bool sa_readonly;	 /* mode r */
	bool sa_quiet;		 /* no diagnostics */
	bool sa_has_frontend;	 /* --frontend was given */
	bool sa_close;		 /* --close-on-exit */
	bool sa_nostate;	 /* --no-state */
	char sa_state[PATH_MAX]; /* --state-dir, or the default */
	struct xbb_opts sa_o;	 /* backend options */
};

/* The toolstack's view of the --image vbd. */
struct serve_vbd {
	struct xbus_vbd sv_v; /* what to create */
	bool sv_present;      /* it is in the store */
	bool sv_fe_up;	      /* its frontend domain was there last we looked */
};

static void
serve_usage(FILE *out)
{
	fprintf(out,
	    "usage: xbd serve {--dir DIR --domid N [--name NAME] | "
	    "--platform xen}\n"
	    "                 [--image PATH --frontend M [--vdev xvda] "
	    "[--readonly]]\n"
	    "                 [backend options]\n"
	    "\n"
	    "Serve blkif vbds as domain N of the simulated machine on DIR\n"
	    "(started with `xbd hv --dir DIR`), or on real Xen as the domain\n"
	    "this runs in, until SIGINT or SIGTERM.\n"
	    "With --image, first create a vbd for PATH in domain M, as the\n"
	    "toolstack would, and remove it on exit; it goes when domain M\n"
	    "goes, and a new domain M gets a new one.\n"
	    "\n"
	    "  --platform NAME           sim (default) or xen\n"
	    "  --dir DIR                 the machine's directory (sim)\n"
	    "  --domid N                 the backend domain (sim; 0..32751)\n"
	    "  --name NAME               its name if it must be created\n"
	    "  --image PATH              file or block device to serve, or\n"
	    "                            rbd:POOL/IMAGE[@SNAP][:conf=PATH]\n"
	    "                            [:id=USER], nbd://HOST[:PORT]/[EXPORT],\n"
	    "                            nbd+unix:///[EXPORT]?socket=PATH\n"
	    "  --frontend M              the domain the disk appears in\n"
	    "  --vdev NAME               xvda (default), xvdb, 51712 ...\n"
	    "  --readonly                a read-only vbd\n"
	    "  --max-ring-page-order N   largest ring offered (0..5; 5)\n"
	    "  --max-queues N            multi-queue-max-queues (1..16; 4)\n"
	    "  --max-indirect-segs N     0 to 4096; 0 disables (256)\n"
	    "  --max-persistent N        persistent grants per ring\n"
	    "                            (0..1048576; 9216)\n"
	    "  --no-persistent           do not offer persistent grants\n"
	    "  --no-flush, --no-barrier, --no-discard\n"
	    "                            do not offer that feature\n"
	    "  --discard-secure          offer secure discard (block devices)\n"
	    "  --direct                  open the storage O_DIRECT (not\n"
	    "                            with mapped grants if it may be\n"
	    "                            SIGKILLed: see xbd(1))\n"
	    "  --grant-copy              grant copy instead of mapping\n"
	    "  --uring-depth N           io_uring entries per ring\n"
	    "                            (0..32768; 0: auto)\n"
	    "  --sector-size SIZE        sector-size to publish (512..64K,\n"
	    "                            a power of two; auto)\n"
	    "  --resize-poll MS          check the storage size this often\n"
	    "                            and publish a change (0..3600000;\n"
	    "                            default 1000; 0: off)\n"
	    "  --nbd-timeout SECONDS     I/O to an NBD server that does not\n"
	    "                            answer fails after this long; the\n"
	    "                            backend reconnects (1..3600; 30)\n"
	    "  --log-writes FILE         record completed writes, discards\n"
	    "                            and flushes for power-loss replay\n"
	    "  --state-dir DIR           where the rings' shadows live, so a\n"
	    "                            restarted xbd serve resumes them\n"
	    "                            (default /run/xbd on Xen, DIR/state\n"
	    "                            on the simulator)\n"
	    "  --no-state                no shadows (only the lock): a\n"
	    "                            restarted xbd serve resumes only\n"
	    "                            idle rings\n"
	    "  --driver-domain           remove each vbd's backend directory\n"
	    "                            once it is closed, as xl devd does\n"
	    "                            (running in a driver domain)\n"
	    "  --close-on-exit           close every vbd on exit (default:\n"
	    "                            leave the toolstack's vbds connected\n"
	    "                            for the next xbd serve)\n"
	    "  --quiet                   no diagnostics on stderr\n");
}

static void
serve_log(void *arg, const char *msg)
{
	fprintf(stderr, "xbd serve: %s\n", msg);
}

enum serve_opt {
	SO_DIR = 256,
	SO_DOMID,
	SO_NAME,
	SO_IMAGE,
	SO_FRONTEND,
	SO_VDEV,
	SO_READONLY,
	SO_ORDER,
	SO_QUEUES,
	SO_INDIRECT,
	SO_MAXPERS,
	SO_NOPERS,
	SO_NOFLUSH,
	SO_NOBARRIER,
	SO_NODISCARD,
	SO_SECURE,
	SO_DIRECT,
	SO_DRIVER,
	SO_COPY,
	SO_DEPTH,
	SO_SECTOR,
	SO_LOGW,
	SO_RESIZE,
	SO_NBD_TIMEOUT,
	SO_QUIET,
	SO_PLATFORM,
	SO_STATE,
	SO_CLOSE,
	SO_NOSTATE,
};

static const struct option serve_longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "dir", required_argument, NULL, SO_DIR },
	{ "domid", required_argument, NULL, SO_DOMID },
	{ "name", required_argument, NULL, SO_NAME },
	{ "image", required_argument, NULL, SO_IMAGE },
	{ "frontend", required_argument, NULL, SO_FRONTEND },
	{ "vdev", required_argument, NULL, SO_VDEV },
	{ "readonly", no_argument, NULL, SO_READONLY },
	{ "max-ring-page-order", required_argument, NULL, SO_ORDER },
	{ "max-queues", required_argument, NULL, SO_QUEUES },
	{ "max-indirect-segs", required_argument, NULL, SO_INDIRECT },
	{ "max-persistent", required_argument, NULL, SO_MAXPERS },
	{ "no-persistent", no_argument, NULL, SO_NOPERS },
	{ "no-flush", no_argument, NULL, SO_NOFLUSH },
	{ "no-barrier", no_argument, NULL, SO_NOBARRIER },
	{ "no-discard", no_argument, NULL, SO_NODISCARD },
	{ "discard-secure", no_argument, NULL, SO_SECURE },
	{ "direct", no_argument, NULL, SO_DIRECT },
	{ "driver-domain", no_argument, NULL, SO_DRIVER },
	{ "grant-copy", no_argument, NULL, SO_COPY },
	{ "uring-depth", required_argument, NULL, SO_DEPTH },
	{ "sector-size", required_argument, NULL, SO_SECTOR },
	{ "log-writes", required_argument, NULL, SO_LOGW },
	{ "quiet", no_argument, NULL, SO_QUIET },
	{ "platform", required_argument, NULL, SO_PLATFORM },
	{ "state-dir", required_argument, NULL, SO_STATE },
	{ "close-on-exit", no_argument, NULL, SO_CLOSE },
	{ "no-state", no_argument, NULL, SO_NOSTATE },
	{ "resize-poll", required_argument, NULL, SO_RESIZE },
	{ "nbd-timeout", required_argument, NULL, SO_NBD_TIMEOUT },
	{ NULL, 0, NULL, 0 },
};

/* --domid or --frontend not given. */
#define CMD_SERVE_UNSET UINT32_MAX

/* What the options say together; -EINVAL (reported) if they clash. */
static int
serve_check(int argc, char **argv, struct serve_args *a)
{
	bool has_domid = a->sa_domid != CMD_SERVE_UNSET;

	a->sa_has_frontend = a->sa_frontend != CMD_SERVE_UNSET;
	if (optind != argc) {
		fprintf(stderr, "xbd serve: unexpected argument '%s'\n",
		    argv[optind]);
		return (-EINVAL);
	}
	if (a->sa_xen != (a->sa_dir == NULL && !has_domid) ||
	    (!a->sa_xen && (a->sa_dir == NULL || !has_domid))) {
		fprintf(stderr,
		    "xbd serve: --dir and --domid are required with the "
		    "simulator, not with xen\n");
		return (-EINVAL);
	}
	if ((a->sa_image != NULL) != a->sa_has_frontend) {
		fprintf(stderr,
		    "xbd serve: --image and --frontend go together\n");
		return (-EINVAL);
	}
	if (a->sa_image != NULL && !a->sa_xen &&
	    a->sa_frontend == a->sa_domid) {
		fprintf(stderr,
		    "xbd serve: the frontend must be another "
		    "domain\n");
		return (-EINVAL);
	}
	if (!has_domid)
		a->sa_domid = 0;
	if (!a->sa_has_frontend)
		a->sa_frontend = 0;
	if (a->sa_name == NULL)
		a->sa_name = a->sa_domid == 0 ? "Domain-0" : "xbd-serve";
	if (!a->sa_quiet)
		a->sa_o.o_log = serve_log;
	if (a->sa_state[0] == '\0' &&
	    (size_t)snprintf(a->sa_state, sizeof(a->sa_state), "%s%s",
		a->sa_xen ? CMD_SERVE_XEN_STATE : a->sa_dir,
		a->sa_xen ? "" : "/state") >= sizeof(a->sa_state)) {
		fprintf(stderr, "xbd serve: --dir: path too long\n");
		return (-EINVAL);
	}
	a->sa_o.o_state_dir = a->sa_state;
	a->sa_o.o_shadows = !a->sa_nostate;
	a->sa_o.o_keep_connected = !a->sa_close;
	return (0);
}

/* The state directory (mode 0700: the shadows hold guests' requests). */
static int
serve_state_dir(const char *dir)
{
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return (0);
	fprintf(stderr, "xbd serve: --state-dir %s: %s\n", dir,
	    strerror(errno));
	return (-errno);
}

/* Start the backend; say who else serves the domain if one does. */
static int
serve_start(struct plat *p, struct serve_args *a, struct xbb **b)
{
	int rc, pid;

	if ((rc = serve_state_dir(a->sa_state)) != 0)
		return (rc);
	if ((rc = xbb_start(p, &a->sa_o, b)) == 0)
		return (0);
	if (rc == -EBUSY && (pid = xbb_holder(a->sa_state, a->sa_domid)) > 0)
		fprintf(stderr,
		    "xbd serve: domain %u is already served by pid %d "
		    "(state directory %s)\n",
		    a->sa_domid, pid, a->sa_state);
	else
		fprintf(stderr, "xbd serve: starting the backend: %s\n",
		    strerror(-rc));
	return (rc);
}

/* The options that are not a plain value: 1 if c is not one of them. */
static int
serve_special(int c, const char *prog, struct serve_args *a)
{
	int rc = 0;

	if (c == SO_VDEV) {
		if ((rc = xbus_vdev_parse(optarg, &a->sa_vdev)) != 0)
			fprintf(stderr,
			    "%s: --vdev: '%s' is not a disk name (xvda, "
			    "51712 ...)\n",
			    prog, optarg);
	} else if (c == SO_PLATFORM) {
		rc = cmd_opt_platform(prog, optarg, &a->sa_xen);
	} else if (c == SO_STATE) {
		if ((size_t)snprintf(a->sa_state, sizeof(a->sa_state), "%s",
			optarg) >= sizeof(a->sa_state) ||
		    optarg[0] == '\0') {
			fprintf(stderr,
			    "%s: --state-dir: '%s' is not a usable "
			    "directory name\n",
			    prog, optarg);
			rc = -EINVAL;
		}
	} else if (c == 'h') {
		serve_usage(stdout);
		rc = 1;
	} else {
		rc = -EINVAL;
	}
	return (rc);
}

static int
serve_parse(int argc, char **argv, struct serve_args *a)
{
	struct xbb_opts *o = &a->sa_o;
	const struct cmd_opt_dest dest[] = {
		{ SO_DIR, NULL, CMD_OPT_STR, &a->sa_dir },
		{ SO_DOMID, "domid", CMD_OPT_U32, &a->sa_domid },
		{ SO_NAME, NULL, CMD_OPT_STR, &a->sa_name },
		{ SO_IMAGE, NULL, CMD_OPT_STR, &a->sa_image },
		{ SO_FRONTEND, "frontend", CMD_OPT_U32, &a->sa_frontend },
		{ SO_READONLY, NULL, CMD_OPT_TRUE, &a->sa_readonly },
		{ SO_ORDER, "max-ring-page-order", CMD_OPT_U32,
		    &o->o_max_ring_page_order },
		{ SO_QUEUES, "max-queues", CMD_OPT_U32, &o->o_max_queues },
		{ SO_INDIRECT, "max-indirect-segs", CMD_OPT_U32,
		    &o->o_max_indirect_segs },
		{ SO_MAXPERS, "max-persistent", CMD_OPT_U32,
		    &o->o_max_persistent },
		{ SO_NOPERS, NULL, CMD_OPT_FALSE, &o->o_persistent },
		{ SO_NOFLUSH, NULL, CMD_OPT_FALSE, &o->o_flush },
		{ SO_NOBARRIER, NULL, CMD_OPT_FALSE, &o->o_barrier },
		{ SO_NODISCARD, NULL, CMD_OPT_FALSE, &o->o_discard },
		{ SO_SECURE, NULL, CMD_OPT_TRUE, &o->o_discard_secure },
		{ SO_DIRECT, NULL, CMD_OPT_TRUE, &o->o_direct },
		{ SO_DRIVER, NULL, CMD_OPT_TRUE, &o->o_remove_closed },
		{ SO_COPY, NULL, CMD_OPT_TRUE, &o->o_grant_copy },
		{ SO_DEPTH, "uring-depth", CMD_OPT_U32, &o->o_uring_depth },
		{ SO_SECTOR, "sector-size", CMD_OPT_U32, &o->o_sector_size },
		{ SO_LOGW, NULL, CMD_OPT_STR, &o->o_log_writes },
		{ SO_QUIET, NULL, CMD_OPT_TRUE, &a->sa_quiet },
		{ SO_CLOSE, NULL, CMD_OPT_TRUE, &a->sa_close },
		{ SO_NOSTATE, NULL, CMD_OPT_TRUE, &a->sa_nostate },
		{ SO_RESIZE, "resize-poll", CMD_OPT_U32, &o->o_resize_poll_ms },
		{ SO_NBD_TIMEOUT, "nbd-timeout", CMD_OPT_U32,
		    &o->o_nbd_timeout_s },
	};
	int c, rc;

	memset(a, 0, sizeof(*a));
	a->sa_vdev = 51712; /* xvda */
	a->sa_domid = a->sa_frontend = CMD_SERVE_UNSET;
	xbb_opts_init(o);
	while ((c = getopt_long(argc, argv, "h", serve_longopts, NULL)) != -1) {
		rc = cmd_opt_apply(argv[0], dest, XU_NELEM(dest), c, optarg);
		if (rc == 1)
			rc = serve_special(c, argv[0], a);
		if (rc != 0)
			return (rc);
	}
	return (serve_check(argc, argv, a));
}

/*
 * A toolstack handle on the machine's privileged socket.  libxenstore
 * reads XENSTORED_PATH in xs_open(); we set it before any thread exists
 * (the simulated platform later swaps it in place under its own lock).
 */
static struct xs_handle *
serve_xs_priv(const char *dir)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/socket", dir) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return (NULL);
	}
	/* The one way to open a handle on a chosen daemon (plat_sim.c). */
	return (hv_xs_open_path(path));
}

/*
 * Real Xen: the platform of our own domain and a XenStore handle, which
 * is privileged when we run as root in dom0 (the toolstack's steps of
 * --image need that).
 */
static int
serve_open_xen(struct serve_args *a, struct xs_handle **xs, struct plat **p)
{
	int rc;

	if ((rc = plat_xen_open(p)) != 0) {
		fprintf(stderr,
		    "xbd serve: opening Xen: %s (as root, with "
		    "xen-gntdev and xen-evtchn loaded?)\n",
		    strerror(-rc));
		return (rc);
	}
	a->sa_domid = plat_domid(*p);
	if ((*xs = xs_open(0)) == NULL) {
		rc = -errno;
		fprintf(stderr, "xbd serve: opening XenStore: %s\n",
		    strerror(errno));
		return (rc);
	}
	return (0);
}

static void
serve_summary(struct xbb *b, const struct serve_args *a)
{
	struct xbb_stats st;

	if (xbb_dev_stats(b, a->sa_frontend, a->sa_vdev, &st, sizeof(st)) != 0)
		return;
	printf("xbd serve: %u/%u: %llu connection(s), %llu reads, "
	       "%llu writes, %llu flushes, %llu errors, %llu bytes read, "
	       "%llu bytes written\n",
	    a->sa_frontend, a->sa_vdev, (unsigned long long)st.st_connects,
	    (unsigned long long)st.st_req_read,
	    (unsigned long long)st.st_req_write,
	    (unsigned long long)st.st_req_flush,
	    (unsigned long long)st.st_rsp_error,
	    (unsigned long long)st.st_bytes_read,
	    (unsigned long long)st.st_bytes_written);
	if (st.st_err_nospace != 0)
		printf("xbd serve: %u/%u: %llu write(s) refused for lack of "
		       "space\n",
		    a->sa_frontend, a->sa_vdev,
		    (unsigned long long)st.st_err_nospace);
	if (st.st_failed)
		printf("xbd serve: %u/%u: failed: %s\n", a->sa_frontend,
		    a->sa_vdev, strerror((int)st.st_fail_errno));
}

/*
 * Create the --image vbd and run the hotplug step, as libxl does; or
 * take over the one a previous xbd serve left when it died, so that its
 * frontend carries on (the backend resumes the rings).
 */
static int
serve_vbd_create(struct xs_handle *xs, struct serve_vbd *sv)
{
	int rc;

	if (xbus_vbd_exists(xs, &sv->sv_v)) {
		sv->sv_present = true;
		return (0);
	}
	if ((rc = xbus_vbd_add(xs, &sv->sv_v)) != 0) {
		/* The domain came and went before we saw it come. */
		if (rc == -ESRCH)
			return (rc);
		fprintf(stderr, "xbd serve: creating the vbd: %s\n",
		    strerror(-rc));
		return (rc);
	}
	if ((rc = xbus_vbd_hotplug(xs, &sv->sv_v, XBUS_INIT_TIMEOUT_MS)) != 0) {
		if (rc != -ESRCH)
			fprintf(stderr,
			    "xbd serve: the vbd's hotplug step: %s\n",
			    strerror(-rc));
		(void)xbus_vbd_remove(xs, &sv->sv_v, 0, true);
		return (rc);
	}
	sv->sv_present = true;
	return (0);
}

/* Is the frontend directory of our vbd there? */
static bool
serve_fe_exists(struct xs_handle *xs, const struct serve_vbd *sv)
{
	char fe[XBUS_PATH_MAX], be[XBUS_PATH_MAX];
	uint64_t v;

	if (xbus_vbd_paths(&sv->sv_v, fe, sizeof(fe), be, sizeof(be)) != 0)
		return (true);
	return (xbus_read_u64(xs, XBT_NULL, fe, "virtual-device", UINT32_MAX,
		    &v) != -ENOENT);
}

/*
 * A domain came or went.  Ours going away is libxl's domain destruction:
 * the vbd is deleted without waiting (nobody is left to close it); a
 * domain of that id appearing while there is no vbd gets a new one.
 * A domain that did not exist yet when the vbd was made is not "gone".
 * One that went and came back between two looks is seen by its home:
 * the new one has no frontend directory.
 */
static int
serve_vbd_track(struct xs_handle *xs, const struct serve_args *a,
    struct serve_vbd *sv)
{
	bool up = xs_is_domain_introduced(xs, a->sa_frontend);
	int rc = 0;

	if (sv->sv_present && sv->sv_fe_up &&
	    (!up || !serve_fe_exists(xs, sv))) {
		(void)xbus_vbd_remove(xs, &sv->sv_v, 0, true);
		sv->sv_present = false;
		if (!a->sa_quiet)
			fprintf(stderr,
			    "xbd serve: domain %u is gone; vbd removed\n",
			    a->sa_frontend);
	}
	if (!sv->sv_present && up) {
		if ((rc = serve_vbd_create(xs, sv)) == 0 && !a->sa_quiet)
			fprintf(stderr,
			    "xbd serve: domain %u is back; vbd created\n",
			    a->sa_frontend);
		if (rc == -ESRCH) {
			up = false;
			rc = 0;
		}
	}
	sv->sv_fe_up = up;
	return (rc);
}

/*
 * Serve until SIGINT or SIGTERM.  With --image, also follow the frontend
 * domain through @introduceDomain and @releaseDomain; those fire for
 * every domain, so each event only means "look again".
 */
static int
serve_wait(struct xs_handle *xs, const sigset_t *set,
    const struct serve_args *a, struct serve_vbd *sv)
{
	struct signalfd_siginfo si;
	struct pollfd pfd[2];
	char **vec;
	bool look;
	int rc = 0;

	if ((pfd[0].fd = signalfd(-1, set, SFD_CLOEXEC)) < 0) {
		rc = -errno;
		fprintf(stderr, "xbd serve: signalfd: %s\n", strerror(errno));
		return (rc);
	}
	pfd[0].events = pfd[1].events = POLLIN;
	pfd[1].fd = -1;
	if (a->sa_image != NULL) {
		if (!xs_watch(xs, "@introduceDomain", "i") ||
		    !xs_watch(xs, "@releaseDomain", "r")) {
			rc = -errno;
			fprintf(stderr, "xbd serve: watching domains: %s\n",
			    strerror(errno));
			goto out;
		}
		pfd[1].fd = xs_fileno(xs);
	}
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if ((pfd[0].revents & POLLIN) != 0 &&
		    read(pfd[0].fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			break;
		if ((pfd[1].revents & (POLLERR | POLLHUP)) != 0) {
			fprintf(stderr, "xbd serve: lost XenStore\n");
			rc = -ECONNRESET;
			break;
		}
		for (look = false; (vec = xs_check_watch(xs)) != NULL;
		     look = true)
			free(vec);
		/* A failed re-creation is reported; the next event retries. */
		if (look)
			(void)serve_vbd_track(xs, a, sv);
	}
out:
	close(pfd[0].fd);
	return (rc);
}

/*
 * Can --image be served?  A path is made absolute into real (the backend
 * does not share our directory); a remote target is written as given,
 * read-only (--readonly) when it can only be read.
 */
static int
serve_check_image(struct serve_args *a, char *real)
{
	char msg[512];
	int rc;

	rc = xbb_params_check(a->sa_image, a->sa_readonly,
	    a->sa_o.o_nbd_timeout_s, msg, sizeof(msg));
	/* A snapshot or read-only export: a read-only vbd, as mode says. */
	if (rc == -EROFS && xbb_params_remote(a->sa_image)) {
		a->sa_readonly = true;
		rc = 0;
	}
	if (rc != 0) {
		fprintf(stderr, "xbd serve: %s\n", msg);
		return (-EINVAL);
	}
	if (xbb_params_remote(a->sa_image)) {
		/* Checked: shorter than XBB_PARAMS_MAX. */
		snprintf(real, PATH_MAX, "%s", a->sa_image);
	} else if (realpath(a->sa_image, real) == NULL) {
		fprintf(stderr, "xbd serve: %s: %s\n", a->sa_image,
		    strerror(errno));
		return (-errno);
	}
	return (0);
}

int
cmd_serve(int argc, char **argv)
{
	struct serve_args a;
	struct xs_handle *xs = NULL;
	struct serve_vbd sv;
	struct plat *p = NULL;
	struct xbb *b = NULL;
	char real[PATH_MAX];
	sigset_t set;
	int rc, ret = CMD_EXIT_FAIL;

	if ((rc = serve_parse(argc, argv, &a)) != 0)
		return (rc > 0 ? CMD_EXIT_OK : CMD_EXIT_USAGE);
	/* Before anything is created: the real reason, at once. */
	if (a.sa_image != NULL && serve_check_image(&a, real) != 0)
		return (CMD_EXIT_FAIL);
	/* Every thread inherits this mask; only our signalfd sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (a.sa_xen) {
		if ((rc = serve_open_xen(&a, &xs, &p)) != 0)
			goto out;
	} else {
		if ((xs = serve_xs_priv(a.sa_dir)) == NULL) {
			fprintf(stderr,
			    "xbd serve: %s/socket: %s (is `xbd hv` "
			    "running?)\n",
			    a.sa_dir, strerror(errno));
			return (CMD_EXIT_FAIL);
		}
		if ((rc = plat_sim_connect(a.sa_dir, a.sa_domid, a.sa_name, 1,
			 &p)) != 0) {
			fprintf(stderr,
			    "xbd serve: joining %s as domain %u: %s\n",
			    a.sa_dir, a.sa_domid, strerror(-rc));
			goto out;
		}
		plat_sim_on_lost(p, cmd_hv_lost, "xbd serve");
	}
	if ((rc = serve_start(p, &a, &b)) != 0)
		goto out;
	memset(&sv, 0, sizeof(sv));
	if (a.sa_image != NULL) {
		sv.sv_v.v_frontend_id = a.sa_frontend;
		sv.sv_v.v_backend_id = a.sa_domid;
		sv.sv_v.v_vdev = a.sa_vdev;
		sv.sv_v.v_kind = "vbd";
		sv.sv_v.v_params = real;
		sv.sv_v.v_remote = xbb_params_remote(real);
		sv.sv_v.v_readonly = a.sa_readonly;
		sv.sv_v.v_discard = true;
		sv.sv_fe_up = xs_is_domain_introduced(xs, a.sa_frontend);
		if ((rc = serve_vbd_create(xs, &sv)) != 0)
			goto out;
		/* From now on a vbd is made only for a living domain. */
		sv.sv_v.v_live_frontend = true;
	}
	if (!a.sa_quiet)
		fprintf(stderr, "xbd serve: serving as domain %u on %s\n",
		    a.sa_domid, a.sa_xen ? "Xen" : a.sa_dir);
	if ((rc = serve_wait(xs, &set, &a, &sv)) != 0)
		goto out;
	ret = CMD_EXIT_OK;
	if (a.sa_image != NULL && !a.sa_quiet)
		serve_summary(b, &a);
	/* libxl's unplug; forced if the frontend does not close. */
	if (sv.sv_present &&
	    (rc = xbus_vbd_remove(xs, &sv.sv_v, CMD_SERVE_REMOVE_MS, false)) !=
		0 &&
	    !a.sa_quiet)
		fprintf(stderr, "xbd serve: removing the vbd: %s\n",
		    strerror(-rc));
out:
	xbb_stop(b);
	/* Ours to remove once empty: no shadow kept, no lock held. */
	(void)rmdir(a.sa_state);
	plat_close(p);
	if (xs != NULL)
		xs_close(xs);
	return (ret);
}
