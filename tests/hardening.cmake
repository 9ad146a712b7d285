# SPDX-License-Identifier: BSD-2-Clause
# Tests of the hardening component (included from tests/CMakeLists.txt).
