# SPDX-License-Identifier: BSD-2-Clause
# Tests of the xenstored component (included from tests/CMakeLists.txt).

foreach(t path tree txn watch quota wire)
	xbd_test(NAME test_xsd_${t} SOURCES unit/test_xsd_${t}.c LIBS xsd
	    LABELS "unit;xenstored" TIMEOUT 30)
endforeach()

# Integration: the daemon in-process on a temporary directory, Xen's
# real tools and libxenstore against it, and hostile raw clients.
xbd_test(NAME test_xsd_tools SOURCES integ/test_xsd_tools.c LIBS xsd
    LABELS "integ;xenstored" TIMEOUT 60)
xbd_test(NAME test_xsd_libxs SOURCES integ/test_xsd_libxs.c
    LIBS xsd PkgConfig::XENSTORE LABELS "integ;xenstored" TIMEOUT 60)
xbd_test(NAME test_xsd_hostile SOURCES integ/test_xsd_hostile.c LIBS xsd
    LABELS "integ;xenstored" TIMEOUT 60)
xbd_script_test(NAME test_xsd_cmd
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/integ/test_xsd_cmd.sh
    LABELS "integ;xenstored" TIMEOUT 60)
# G5: the daemon as a process under every XSA-326/416/419/421 pattern at
# once; XBD_SIEGE_SECONDS=600 is the documented run.
xbd_test(NAME test_xsd_siege SOURCES integ/test_xsd_siege.c LIBS xsd
    ARGS $<TARGET_FILE:xbd> LABELS "integ;xenstored;hardening" TIMEOUT 120)
