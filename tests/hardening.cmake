# SPDX-License-Identifier: BSD-2-Clause
# Tests of the hardening component (included from tests/CMakeLists.txt).

# Every item of the adversarial catalogue (docs/reliability.md section 6)
# has a test and a row in docs/security.md.
add_test(NAME check_catalogue
    COMMAND ${PROJECT_SOURCE_DIR}/scripts/check-catalogue.sh
    ${PROJECT_SOURCE_DIR}/docs/reliability.md)
set_tests_properties(check_catalogue PROPERTIES LABELS "hardening"
    TIMEOUT 60)

# Only lib/ring touches the shared ring (docs/reliability.md G2's lint rule).
add_test(NAME check_shared COMMAND ${PROJECT_SOURCE_DIR}/scripts/check-shared.sh)
set_tests_properties(check_shared PROPERTIES LABELS "hardening" TIMEOUT 60)

# Both ends under a thread rewriting everything they share.
if(TARGET xbd_sim AND TARGET xbd_back)
	xbd_test(NAME test_flipper SOURCES integ/test_flipper.c LIBS xbdt
	    LABELS "integ;hardening" TIMEOUT 300)
endif()

# Goal G6: notification storms against each end while another device
# works (XBD_STORM_SECONDS=60 for the documented run).
if(TARGET xbbt_front AND TARGET xbd_front)
	xbd_test(NAME test_storm SOURCES integ/test_storm.c integ/hostile.c
	    LIBS xbbt_front xbd_front LABELS "integ;hardening" TIMEOUT 300)
endif()

# Power loss: the backend's write log replayed at every prefix (D2).
if(TARGET xbd_sim AND TARGET xbd_back)
	xbd_test(NAME test_xbd_powerloss
	    SOURCES integ/test_xbd_powerloss.c integ/xbdt_wlog.c LIBS xbdt
	    LABELS "integ;hardening" TIMEOUT 300)
endif()
