# SPDX-License-Identifier: BSD-2-Clause
#
# The interop suite (label interop; the presets' test runs exclude it):
# interop_boot boots Xen and dom0 under QEMU once and runs every check in
# dom0 (tests/interop/run.sh); each check is then a test of its own that
# reports that check's verdict and log; interop_kernel fails on any
# warning the kernels logged meanwhile.  Needs root for the Debian
# packages QEMU and busybox; downloads Xen and a kernel into
# ~/.cache/xbd-interop the first time.

if(XENEVTCHN_FOUND AND XENGNTTAB_FOUND)
	set(XBD_INTEROP_OUT ${PROJECT_BINARY_DIR}/interop)
	set(XBD_INTEROP_CHECKS blkback qdisk blkfront xl resize restart_term
	    restart_kill)
	# A Linux PV guest on our backend (tests/interop/guest.sh).
	list(APPEND XBD_INTEROP_CHECKS guest_boot guest_saverestore guest_io
	    guest_lifecycle)
	# xl block-attach of an NBD target (tests/interop/storage.sh).
	list(APPEND XBD_INTEROP_CHECKS storage_nbd)
	# Our frontend inside a guest, beside Linux's blkfront
	# (tests/interop/guest-fe.sh).
	list(APPEND XBD_INTEROP_CHECKS guest_xbd_blkback guest_xbd_serve
	    guest_perf)
	# xbd serve in a driver domain (tests/interop/guest-dd.sh).
	list(APPEND XBD_INTEROP_CHECKS guest_driver_domain)
	add_test(NAME interop_boot COMMAND
	    ${PROJECT_SOURCE_DIR}/tests/interop/run.sh $<TARGET_FILE:xbd>
	    ${XBD_INTEROP_OUT} ${XBD_INTEROP_CHECKS})
	set_tests_properties(interop_boot PROPERTIES LABELS interop
	    TIMEOUT 2700 FIXTURES_SETUP interop)
	foreach(c ${XBD_INTEROP_CHECKS})
		add_test(NAME interop_${c} COMMAND
		    ${PROJECT_SOURCE_DIR}/tests/interop/result.sh
		    ${XBD_INTEROP_OUT} ${c})
		set_tests_properties(interop_${c} PROPERTIES LABELS interop
		    TIMEOUT 30 FIXTURES_REQUIRED interop SKIP_RETURN_CODE 77)
	endforeach()
	# After every check: what the kernels logged over the whole run.
	add_test(NAME interop_kernel COMMAND
	    ${PROJECT_SOURCE_DIR}/tests/interop/kernel.sh ${XBD_INTEROP_OUT})
	set_tests_properties(interop_kernel PROPERTIES LABELS interop
	    TIMEOUT 30 FIXTURES_REQUIRED interop)
	# The same for the guests' kernels, from their consoles.
	add_test(NAME interop_guest_kernel COMMAND
	    ${PROJECT_SOURCE_DIR}/tests/interop/guest-kernel.sh
	    ${XBD_INTEROP_OUT})
	set_tests_properties(interop_guest_kernel PROPERTIES LABELS interop
	    TIMEOUT 30 FIXTURES_REQUIRED interop SKIP_RETURN_CODE 77)
endif()
