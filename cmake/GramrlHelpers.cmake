# Warnings and sanitizers are INTERFACE targets, not global flags, so third-party code
# compiles with its own settings.
add_library(gramrl_warnings INTERFACE)
target_compile_options(gramrl_warnings INTERFACE
  -Wall -Wextra -Wnon-virtual-dtor -Wno-unused-parameter -Wno-missing-field-initializers
  $<$<BOOL:${GRAMRL_WERROR}>:-Werror>)

add_library(gramrl_sanitizers INTERFACE)
if(GRAMRL_SANITIZE)
  list(JOIN GRAMRL_SANITIZE "," _gramrl_san)
  target_compile_options(gramrl_sanitizers INTERFACE -fsanitize=${_gramrl_san} -fno-omit-frame-pointer)
  target_link_options(gramrl_sanitizers INTERFACE -fsanitize=${_gramrl_san})
endif()

# gramrl_add_library(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Creates gramrl_<name> with the alias gramrl::<name>. Includes are rooted at the
# repository: #include "common/core/errors.h".
function(gramrl_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(gramrl_${name} STATIC ${ARG_SOURCES})
  add_library(gramrl::${name} ALIAS gramrl_${name})
  target_include_directories(gramrl_${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>)
  target_link_libraries(gramrl_${name}
    PUBLIC ${ARG_PUBLIC_DEPS}
    PRIVATE ${ARG_PRIVATE_DEPS} gramrl_warnings gramrl_sanitizers)
endfunction()

# NOTE [Torch precompiled header]
# <torch/torch.h> costs ~9 s and ~1 GB per translation unit on these machines. One object
# library precompiles it; every target that includes torch reuses that header with
# gramrl_use_torch_pch(<target>). Reuse needs identical compile flags, so torch targets
# take no target-specific compile definitions. Code that needs only c10d or ATen includes
# those narrower headers and does not use the PCH.
function(gramrl_use_torch_pch target)
  target_link_libraries(${target} PUBLIC torch)
  if(NOT GRAMRL_TORCH_PCH)
    return()
  endif()
  if(NOT TARGET gramrl_torch_pch)
    add_library(gramrl_torch_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/torch_pch.cc)
    target_link_libraries(gramrl_torch_pch PRIVATE torch gramrl_warnings gramrl_sanitizers)
    target_precompile_headers(gramrl_torch_pch PRIVATE <torch/torch.h>)
  endif()
  target_precompile_headers(${target} REUSE_FROM gramrl_torch_pch)
endfunction()

# gramrl_add_test(<name> SOURCES ... DEPS ... LABELS unit|integration|slow|gpu [TIMEOUT s])
# One gtest binary per component; each test case becomes its own ctest entry.
include(GoogleTest)
function(gramrl_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 60)
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest_main GTest::gmock
                                        gramrl_warnings gramrl_sanitizers)
  gtest_discover_tests(${name}
    TEST_PREFIX "${name}."
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()
