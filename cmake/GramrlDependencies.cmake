# Every third-party dependency, found in one place. Versions are the ones Debian 12 ships
# (see docs/architecture.md); on GPU machines the same calls find PyTorch's CUDA LibTorch
# and the packages unpacked by .devdeps/setup-on-device.sh through CMAKE_PREFIX_PATH.
find_package(Threads REQUIRED)
# Before Torch: LibTorch 2.x links its own protobuf statically (its symbols hidden) and, unless
# protobuf::libprotobuf already exists, defines that target as an empty alias, which would leave
# gramrl's TensorBoard writer without Debian's libprotobuf at link time.
find_package(Protobuf REQUIRED)
find_package(Torch REQUIRED)
find_package(cppzmq REQUIRED)
find_package(CapnProto REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS filesystem)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)

# yaml-cpp 0.7 exports the plain target `yaml-cpp`; 0.8 adds `yaml-cpp::yaml-cpp`.
if(TARGET yaml-cpp::yaml-cpp)
  set(GRAMRL_YAML_TARGET yaml-cpp::yaml-cpp)
else()
  set(GRAMRL_YAML_TARGET yaml-cpp)
endif()

# LibTorch exports `torch` with its flags (the C++11 ABI define, c10d macros) attached.
# Debian's 1.13 is CPU-only; a CUDA LibTorch sets TORCH_CUDA_LIBRARIES.
if(TORCH_CUDA_LIBRARIES)
  set(GRAMRL_WITH_CUDA ON)
else()
  set(GRAMRL_WITH_CUDA OFF)
endif()
message(STATUS "gramrl: LibTorch ${Torch_VERSION}, CUDA ${GRAMRL_WITH_CUDA}")
if(GRAMRL_REQUIRE_CUDA)
  # LibTorch 2.x attaches USE_C10D_NCCL to its torch_cuda target (torch links it).
  set(_gramrl_torch_defines "")
  if(TARGET torch_cuda)
    get_target_property(_gramrl_torch_defines torch_cuda INTERFACE_COMPILE_DEFINITIONS)
  endif()
  if(NOT GRAMRL_WITH_CUDA OR NOT "USE_C10D_NCCL" IN_LIST _gramrl_torch_defines)
    message(FATAL_ERROR "gramrl: GRAMRL_REQUIRE_CUDA is on, but the LibTorch found (${Torch_DIR}, "
      "${Torch_VERSION}) is built without CUDA or without NCCL. Point CMAKE_PREFIX_PATH at the "
      "LibTorch of a CUDA build of PyTorch (python -c 'import torch.utils; "
      "print(torch.utils.cmake_prefix_path)'), or use scripts/build_cuda.sh.")
  endif()
endif()

# NOTE [Bundled headers of LibTorch 2.x]
# The LibTorch inside PyTorch 2.x ships its own copies of fmt (12.x) and protobuf headers in
# torch/include, which its CMake target adds as -isystem ahead of /usr/include. gramrl links
# Debian's libfmt 9 and libprotobuf 3.21 (spdlog is built against that fmt), so a translation
# unit that found torch's copies would compile against one version and link another. The
# directory below holds links to the Debian headers and comes before every target's dependency
# include paths; Debian's LibTorch 1.13 bundles neither, and there it changes nothing.
set(_gramrl_torch_include "")
foreach(_dir IN LISTS TORCH_INCLUDE_DIRS)
  if(EXISTS "${_dir}/fmt/core.h" OR EXISTS "${_dir}/google/protobuf/message.h")
    set(_gramrl_torch_include "${_dir}")
  endif()
endforeach()
if(_gramrl_torch_include)
  set(_gramrl_shim "${PROJECT_BINARY_DIR}/gramrl-system-headers")
  file(MAKE_DIRECTORY "${_gramrl_shim}")
  foreach(_header IN ITEMS fmt/core.h spdlog/spdlog.h google/protobuf/message.h)
    get_filename_component(_top "${_header}" DIRECTORY)
    string(REGEX REPLACE "/.*" "" _top "${_top}")
    find_path(_gramrl_found_${_top} "${_header}" PATHS /usr/include NO_DEFAULT_PATH)
    if(NOT _gramrl_found_${_top})
      message(FATAL_ERROR "gramrl: ${_header} not found under /usr/include; LibTorch at ${_gramrl_torch_include} bundles its own, which does not match the library gramrl links. Install Debian's development package (scripts/setup.sh does).")
    endif()
    file(CREATE_LINK "${_gramrl_found_${_top}}/${_top}" "${_gramrl_shim}/${_top}" SYMBOLIC)
  endforeach()
  include_directories(BEFORE SYSTEM "${_gramrl_shim}")
  message(STATUS "gramrl: Debian's fmt, spdlog and protobuf headers before LibTorch's bundled copies (${_gramrl_shim})")
endif()

# NOTE [libstdc++ before LibTorch]
# PyTorch's wheels (2.5 and later, pytorch/pytorch#133437) link parts of libstdc++ statically into
# libtorch.so and libtorch_cpu.so and export them, std::filesystem among them. An executable's
# undefined symbols bind to the first library in its DT_NEEDED order that defines them, and the
# compiler adds libstdc++ last, so gramrl's std::filesystem::remove_all ran LibTorch's copy, which
# crashed (every test using a temporary directory segfaulted in the CUDA build). Naming libstdc++
# before everything else makes the system's copy the one that binds.
if(Torch_VERSION VERSION_GREATER_EQUAL 2.0)
  string(APPEND CMAKE_EXE_LINKER_FLAGS " -Wl,--push-state,--no-as-needed,-lstdc++,--pop-state")
endif()
