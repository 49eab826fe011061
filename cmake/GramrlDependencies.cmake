# Every third-party dependency, found in one place. Versions are the ones Debian 12 ships
# (see docs/architecture.md); on GPU machines the same calls find PyTorch's CUDA LibTorch
# and the packages unpacked by .devdeps/setup-on-device.sh through CMAKE_PREFIX_PATH.
find_package(Threads REQUIRED)
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
