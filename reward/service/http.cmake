# The OpenRLHF-compatible HTTP endpoint of the reward server (POST /get_reward, GET /health):
# Boost.Beast/Asio, header-only in Boost 1.74 (Boost::headers from find_package(Boost) in
# cmake/GramrlDependencies.cmake; Boost.System is header-only since 1.69). Torch-free.
# Included from reward/service/CMakeLists.txt; paths are relative to this file so that
# tests/reward/http/ can include it too while that file does not exist yet.
if(NOT TARGET gramrl::reward_http)
  gramrl_add_library(reward_http
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/http_endpoint.cc
    PUBLIC_DEPS gramrl::core gramrl::transport gramrl::schemas
    PRIVATE_DEPS gramrl::config Boost::headers Threads::Threads nlohmann_json::nlohmann_json)
endif()
