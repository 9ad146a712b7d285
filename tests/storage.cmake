# SPDX-License-Identifier: BSD-2-Clause
# Network storage behind the backend (included from tests/CMakeLists.txt),
# label storage: Ceph RBD against a single-node cluster that the fixture
# ceph_cluster starts once for all of them (scripts/ceph-cluster.sh, about
# 10 s) and removes at the end, and NBD against nbdkit.  Where the cluster
# cannot start the setup records why and every RBD test exits 77 with it.

add_executable(stor_io storage/stor_io.c)
target_link_libraries(stor_io PRIVATE xbd_warnings xbd_front)

set(XBD_CEPH_DIR ${PROJECT_BINARY_DIR}/storage/ceph)
add_test(NAME storage_ceph_start COMMAND
    ${CMAKE_CURRENT_SOURCE_DIR}/storage/fixture.sh start ${XBD_CEPH_DIR})
set_tests_properties(storage_ceph_start PROPERTIES LABELS storage
    TIMEOUT 120 FIXTURES_SETUP ceph_cluster)
add_test(NAME storage_ceph_stop COMMAND
    ${CMAKE_CURRENT_SOURCE_DIR}/storage/fixture.sh stop ${XBD_CEPH_DIR})
set_tests_properties(storage_ceph_stop PROPERTIES LABELS storage
    TIMEOUT 60 FIXTURES_CLEANUP ceph_cluster)

# xbd_storage_test(NAME n TIMEOUT s [CEPH]): tests/storage/n.sh, with the
# cluster's directory in XBD_CEPH_DIR when CEPH is given.
function(xbd_storage_test)
	cmake_parse_arguments(T "CEPH" "NAME;TIMEOUT" "" ${ARGN})
	xbd_script_test(NAME ${T_NAME}
	    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/storage/${T_NAME}.sh
	    LABELS "storage" TIMEOUT ${T_TIMEOUT})
	set_property(TEST ${T_NAME} APPEND PROPERTY ENVIRONMENT
	    "XBD_STOR_IO=$<TARGET_FILE:stor_io>")
	if(T_CEPH)
		set_property(TEST ${T_NAME} APPEND PROPERTY ENVIRONMENT
		    "XBD_CEPH_DIR=${XBD_CEPH_DIR}")
		set_tests_properties(${T_NAME} PROPERTIES
		    FIXTURES_REQUIRED ceph_cluster RESOURCE_LOCK ceph_cluster)
	endif()
endfunction()

xbd_storage_test(NAME test_rbd_io TIMEOUT 120 CEPH)
xbd_storage_test(NAME test_rbd_snap TIMEOUT 90 CEPH)
xbd_storage_test(NAME test_rbd_resize TIMEOUT 90 CEPH)
xbd_storage_test(NAME test_rbd_osdkill TIMEOUT 150 CEPH)
xbd_storage_test(NAME test_rbd_params TIMEOUT 150 CEPH)
xbd_storage_test(NAME test_nbd_io TIMEOUT 90)
xbd_storage_test(NAME test_nbd_faults TIMEOUT 90)
xbd_storage_test(NAME test_nbd_reconnect TIMEOUT 90)
