#include "common/rendezvous/rendezvous.h"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <unistd.h>

#include <algorithm>

#include <fmt/core.h>

#include "common/core/errors.h"

namespace gramrl {
namespace {

using namespace std::chrono_literals;

constexpr const char* kKeyPrefix = "gramrl/";

bool isName(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::vector<uint8_t> bytesOf(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// The one place an exception from the store (c10::Error, or c10d::TimeoutError, which is a
// std::runtime_error) becomes a gramrl error.
[[noreturn]] void rethrowStoreError(const std::exception& e, const std::string& what, const RendezvousAddress& where,
                                    bool timeout_expected) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  const std::string reason = c10_error ? c10_error->what_without_backtrace() : e.what();
  const bool timed_out = reason.find("imeout") != std::string::npos || reason.find("timed out") != std::string::npos;
  const std::string message = fmt::format("rendezvous store {}: {}: {}", where.toString(), what, reason);
  if (timed_out && timeout_expected) throw Timeout(message);
  throw CollectiveError(message);
}

}  // namespace

struct Rendezvous::Impl {
  RendezvousAddress address;
  bool is_host = false;
  c10::intrusive_ptr<c10d::TCPStore> store;

  void setFull(const std::string& full_key, const std::string& value) {
    try {
      store->set(full_key, bytesOf(value));
    } catch (const std::exception& e) {
      rethrowStoreError(e, fmt::format("set '{}' failed", full_key), address, false);
    }
  }
  std::string getFull(const std::string& full_key, std::chrono::milliseconds timeout, const std::string& waiting_for) {
    try {
      store->wait({full_key}, timeout);
      const auto value = store->get(full_key);
      return std::string(value.begin(), value.end());
    } catch (const std::exception& e) {
      rethrowStoreError(e, fmt::format("{} within {} ms", waiting_for, timeout.count()), address, true);
    }
  }
};

RendezvousAddress RendezvousAddress::parse(const std::string& text) {
  const auto colon = text.rfind(':');
  GRAMRL_CHECK(colon != std::string::npos && colon > 0 && colon + 1 < text.size(), ConfigError,
               "rendezvous address '{}': expected host:port", text);
  RendezvousAddress a;
  a.host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  GRAMRL_CHECK(port.find_first_not_of("0123456789") == std::string::npos && port.size() <= 5, ConfigError,
               "rendezvous address '{}': port '{}' is not a number in [1, 65535]", text, port);
  const long value = std::stol(port);
  GRAMRL_CHECK(value >= 1 && value <= 65535, ConfigError, "rendezvous address '{}': port {} is not in [1, 65535]", text,
               value);
  a.port = static_cast<uint16_t>(value);
  return a;
}

std::string RendezvousAddress::toString() const { return fmt::format("{}:{}", host, port); }

std::string endpointKey(const std::string& role, int64_t index, const std::string& name) {
  GRAMRL_CHECK(isName(role), ConfigError, "rendezvous role '{}' must be a short name of [A-Za-z0-9_.-]", role);
  GRAMRL_CHECK(isName(name), ConfigError, "rendezvous endpoint name '{}' must be a short name of [A-Za-z0-9_.-]", name);
  GRAMRL_CHECK(index >= 0, ConfigError, "rendezvous index must be >= 0, got {}", index);
  return fmt::format("{}ep/{}/{}/{}", kKeyPrefix, role, index, name);
}

Rendezvous::Rendezvous(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Rendezvous::~Rendezvous() = default;

std::unique_ptr<Rendezvous> Rendezvous::host(RendezvousAddress address, std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<Impl>();
  c10d::TCPStoreOptions opts;
  opts.port = address.port;
  opts.isServer = true;
  opts.waitWorkers = false;
  opts.timeout = timeout;
  try {
    impl->store = c10::make_intrusive<c10d::TCPStore>(address.host, opts);
  } catch (const std::exception& e) {
    rethrowStoreError(e, "cannot host the store (is the port in use?)", address, false);
  }
  address.port = impl->store->getPort();
  impl->address = address;
  impl->is_host = true;
  return std::unique_ptr<Rendezvous>(new Rendezvous(std::move(impl)));
}

std::unique_ptr<Rendezvous> Rendezvous::connect(RendezvousAddress address, std::chrono::milliseconds timeout) {
  GRAMRL_CHECK(address.port != 0, ConfigError, "rendezvous address {}: a client needs the host's real port",
               address.toString());
  auto impl = std::make_unique<Impl>();
  c10d::TCPStoreOptions opts;
  opts.port = address.port;
  opts.isServer = false;
  // c10d counts the connect timeout in whole seconds; round up so a short timeout still retries.
  opts.timeout = std::max<std::chrono::milliseconds>(std::chrono::ceil<std::chrono::seconds>(timeout), 1s);
  try {
    impl->store = c10::make_intrusive<c10d::TCPStore>(address.host, opts);
  } catch (const std::exception& e) {
    rethrowStoreError(e, "cannot connect", address, true);
  }
  impl->address = address;
  return std::unique_ptr<Rendezvous>(new Rendezvous(std::move(impl)));
}

RendezvousAddress Rendezvous::address() const { return impl_->address; }
bool Rendezvous::isHost() const { return impl_->is_host; }

namespace {

// NOTE [Published endpoints are dialable]: a service bound to every interface (bind_host
// 0.0.0.0, as a cluster config sets it) reads its endpoint back as tcp://0.0.0.0:PORT, which no
// peer on another node can dial; the store gets this host's name instead.
std::string dialableEndpoint(const std::string& endpoint) {
  for (const char* wildcard : {"tcp://0.0.0.0:", "tcp://*:"}) {
    const std::string prefix(wildcard);
    if (endpoint.rfind(prefix, 0) != 0) continue;
    char host[256] = {};
    if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return endpoint;
    return "tcp://" + std::string(host) + ":" + endpoint.substr(prefix.size());
  }
  return endpoint;
}

}  // namespace

void Rendezvous::publish(const std::string& role, int64_t index, const std::string& name, const std::string& endpoint) {
  impl_->setFull(endpointKey(role, index, name), dialableEndpoint(endpoint));
}

void Rendezvous::unpublish(const std::string& role, int64_t index, const std::string& name) {
  const std::string key = endpointKey(role, index, name);
  try {
    impl_->store->deleteKey(key);
  } catch (const std::exception& e) {
    rethrowStoreError(e, fmt::format("delete '{}' failed", key), impl_->address, false);
  }
}

std::string Rendezvous::lookup(const std::string& role, int64_t index, const std::string& name,
                               std::chrono::milliseconds timeout) {
  return impl_->getFull(endpointKey(role, index, name), timeout,
                        fmt::format("no endpoint '{}' of {} {} was registered", name, role, index));
}

void Rendezvous::set(const std::string& key, const std::string& value) { impl_->setFull(kKeyPrefix + key, value); }

std::string Rendezvous::get(const std::string& key, std::chrono::milliseconds timeout) {
  return impl_->getFull(kKeyPrefix + key, timeout, fmt::format("key '{}' was not set", key));
}

int64_t Rendezvous::add(const std::string& key, int64_t delta) {
  try {
    return impl_->store->add(kKeyPrefix + key, delta);
  } catch (const std::exception& e) {
    rethrowStoreError(e, fmt::format("add '{}' failed", key), impl_->address, false);
  }
}

}  // namespace gramrl
