// transport_bench: the cost of gramrl's framing (NOTE [Wire format] in
// common/transport/frame_codec.h) against raw ZeroMQ frames carrying the same payload, measured
// in the same run, over inproc, ipc and tcp, for 64 B, 64 KiB and 4 MiB payloads.
//
//   gramrl: a WeightsMessage whose one Tensor's Data field holds the payload, built with
//           OutgoingMessage, sent and received through MessageSocket (encode, header checks,
//           alignment handling, the validating walk). The echo server answers with a new message
//           that references the received Data without copying it (referenceExternalData +
//           keepAlive), as a real server forwarding a tensor would.
//   raw:    one zmq frame of the same payload size through Socket; the echo server sends the
//           received frame back.
// Both sides copy the payload from a source buffer into the outgoing message (the cost of
// building it) and verify what they receive (length, a stamp, sampled bytes).
//
// Usage: transport_bench [scale] [--default-malloc | --pin-malloc]
//   scale multiplies the iteration counts (default 1). By default two tables are printed: one
//   with glibc's allocator as it comes, where a 4 MiB buffer is sometimes page-faulted in for
//   every message (the flt columns show it, and it lands on whichever path it lands on), then
//   one with glibc's mmap/trim thresholds pinned so that big buffers are reused.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/core.h>

#include "common/transport/message_socket.h"
#include "schemas/weights.capnp.h"

namespace gramrl::transport {
namespace {

using Clock = std::chrono::steady_clock;

enum class Kind { kRaw, kGramrl };
enum class Transport { kInproc, kIpc, kTcp };
const char* name(Transport t) { return t == Transport::kInproc ? "inproc" : t == Transport::kIpc ? "ipc" : "tcp"; }

struct Env {
  ZmqContext context;
  std::string ipc_dir;
  std::vector<uint8_t> source;  // the payload pattern, largest size
  int endpoint_counter = 0;
  std::atomic<uint64_t> failures{0};

  std::string endpoint(Transport t) {
    ++endpoint_counter;
    switch (t) {
      case Transport::kInproc: return fmt::format("inproc://bench-{}", endpoint_counter);
      case Transport::kIpc: return fmt::format("ipc://{}/b{}.sock", ipc_dir, endpoint_counter);
      case Transport::kTcp: return "tcp://127.0.0.1:*";
    }
    return {};
  }
};

// ---- payloads: a copy of Env::source with the message number stamped in the first 8 bytes ----

void fillPayload(uint8_t* out, size_t n, const std::vector<uint8_t>& source, uint64_t k) {
  std::memcpy(out, source.data(), n);
  std::memcpy(out, &k, std::min<size_t>(n, 8));
}

bool checkPayload(const uint8_t* p, size_t got, size_t n, const std::vector<uint8_t>& source, uint64_t k) {
  if (got != n) return false;
  uint64_t stamp = 0;
  std::memcpy(&stamp, p, std::min<size_t>(n, 8));
  const uint64_t want = n >= 8 ? k : (k & ((uint64_t{1} << (8 * n)) - 1));
  if (stamp != want) return false;
  for (size_t i = 8; i < n; i += 4093) {
    if (p[i] != source[i]) return false;
  }
  return n <= 8 || p[n - 1] == source[n - 1];
}

OutgoingMessage makeTensorMessage(size_t n, const std::vector<uint8_t>& source, uint64_t k) {
  OutgoingMessage message;
  auto root = message.initRoot<wire::WeightsMessage>();
  root.setSeq(k);
  auto tensor = root.initChunk().initTensors(1)[0];
  tensor.setDtype(wire::DType::UINT8);
  tensor.initShape(1).set(0, static_cast<int64_t>(n));
  auto data = tensor.initData(n);
  fillPayload(data.begin(), n, source, k);
  return message;
}

// Returns the payload of a received tensor message, or an empty reader if it is not one.
capnp::Data::Reader tensorData(const IncomingMessage& message, uint64_t* seq) {
  auto root = message.getRoot<wire::WeightsMessage>();
  *seq = root.getSeq();
  if (!root.isChunk() || root.getChunk().getTensors().size() != 1) return {};
  return root.getChunk().getTensors()[0].getData();
}

SocketOptions benchOptions() {
  SocketOptions options;
  options.send_hwm = 16;  // bounds memory when 4 MiB messages are pipelined
  options.recv_hwm = 16;
  return options;
}

// ---- round-trip latency ----

// Echoes `count` messages back to their sender.
void echoServer(Env& env, Kind kind, std::string endpoint, std::promise<std::string> bound, int count) {
  if (kind == Kind::kRaw) {
    Socket server(env.context, SocketType::kRouter, benchOptions());
    bound.set_value(server.bind(endpoint));
    for (int i = 0; i < count; ++i) {
      auto frames = server.recvFrames(noDeadline());
      server.sendFrames(*frames, noDeadline());  // [peer][payload] back to the peer
    }
    return;
  }
  MessageSocket server(env.context, SocketType::kRouter, Channel::kWeights, benchOptions());
  bound.set_value(server.bind(endpoint));
  for (int i = 0; i < count; ++i) {
    auto received = server.recv(noDeadline());
    if (!received->ok()) {
      ++env.failures;
      continue;
    }
    auto request = std::make_shared<IncomingMessage>(std::move(received->message));
    uint64_t seq = 0;
    auto data = tensorData(*request, &seq);
    OutgoingMessage reply;
    auto tensor = reply.initRoot<wire::WeightsMessage>();
    tensor.setSeq(seq);
    auto out = tensor.initChunk().initTensors(1)[0];
    out.setDtype(wire::DType::UINT8);
    out.adoptData(reply.orphanage().referenceExternalData(data));
    reply.keepAlive(request);
    server.sendTo(received->peer, std::move(reply), noDeadline());
  }
}

long minorFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

struct RoundTrip {
  double median_us = 0;
  double faults_per_rt = 0;  // minor page faults per round trip, whole process
};

RoundTrip better(RoundTrip a, RoundTrip b) { return a.median_us <= b.median_us ? a : b; }

// Median round trip in microseconds.
RoundTrip roundTrip(Env& env, Kind kind, Transport transport, size_t n, int iterations) {
  constexpr int kWarmup = 5;
  std::promise<std::string> bound;
  auto bound_future = bound.get_future();
  std::thread server(echoServer, std::ref(env), kind, env.endpoint(transport), std::move(bound), iterations + kWarmup);
  const std::string endpoint = bound_future.get();
  std::vector<double> samples;
  samples.reserve(iterations);
  long faults_at_start = 0;
  {
    Socket raw(env.context, SocketType::kDealer, benchOptions());
    MessageSocket framed(env.context, SocketType::kDealer, Channel::kWeights, benchOptions());
    (kind == Kind::kRaw ? raw.connect(endpoint) : framed.connect(endpoint));
    for (int k = 0; k < iterations + kWarmup; ++k) {
      if (k == kWarmup) faults_at_start = minorFaults();
      const auto start = Clock::now();
      bool ok = false;
      if (kind == Kind::kRaw) {
        Frames frames;
        frames.emplace_back(n);
        fillPayload(static_cast<uint8_t*>(frames[0].data()), n, env.source, k);
        raw.sendFrames(frames, noDeadline());
        auto reply = raw.recvFrames(noDeadline());
        ok = reply->size() == 1 &&
             checkPayload(static_cast<const uint8_t*>((*reply)[0].data()), (*reply)[0].size(), n, env.source, k);
      } else {
        framed.send(makeTensorMessage(n, env.source, k), noDeadline());
        auto reply = framed.recv(noDeadline());
        if (reply->ok()) {
          uint64_t seq = 0;
          auto data = tensorData(reply->message, &seq);
          ok = seq == static_cast<uint64_t>(k) && checkPayload(data.begin(), data.size(), n, env.source, k);
        }
      }
      if (!ok) ++env.failures;
      if (k >= kWarmup) samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
  }
  const long faults = minorFaults() - faults_at_start;
  server.join();
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  return {samples[samples.size() / 2], static_cast<double>(faults) / iterations};
}

// ---- one-way pipelined throughput ----

// Messages per second from PUSH to PULL; the receiver verifies every message.
double throughput(Env& env, Kind kind, Transport transport, size_t n, int messages) {
  std::promise<std::string> bound;
  auto bound_future = bound.get_future();
  std::promise<void> warmed_up;
  auto warmed_future = warmed_up.get_future();
  Clock::time_point end;
  std::thread receiver([&, endpoint = env.endpoint(transport)]() mutable {
    Socket raw(env.context, SocketType::kPull, benchOptions());
    MessageSocket framed(env.context, SocketType::kPull, Channel::kWeights, benchOptions());
    bound.set_value(kind == Kind::kRaw ? raw.bind(endpoint) : framed.bind(endpoint));
    for (int k = -1; k < messages; ++k) {  // k = -1: the warm-up message
      bool ok = false;
      if (kind == Kind::kRaw) {
        auto frames = raw.recvFrames(noDeadline());
        ok = checkPayload(static_cast<const uint8_t*>((*frames)[0].data()), (*frames)[0].size(), n, env.source,
                          static_cast<uint64_t>(k + 1));
      } else {
        auto received = framed.recv(noDeadline());
        if (received->ok()) {
          uint64_t seq = 0;
          auto data = tensorData(received->message, &seq);
          ok = seq == static_cast<uint64_t>(k + 1) &&
               checkPayload(data.begin(), data.size(), n, env.source, static_cast<uint64_t>(k + 1));
        }
      }
      if (!ok) ++env.failures;
      if (k == -1) warmed_up.set_value();
    }
    end = Clock::now();
  });
  const std::string endpoint = bound_future.get();
  Clock::time_point start;
  {
    Socket raw(env.context, SocketType::kPush, benchOptions());
    MessageSocket framed(env.context, SocketType::kPush, Channel::kWeights, benchOptions());
    (kind == Kind::kRaw ? raw.connect(endpoint) : framed.connect(endpoint));
    for (int k = 0; k <= messages; ++k) {
      if (k == 1) {
        warmed_future.wait();  // the connection is up: start the clock
        start = Clock::now();
      }
      if (kind == Kind::kRaw) {
        Frames frames;
        frames.emplace_back(n);
        fillPayload(static_cast<uint8_t*>(frames[0].data()), n, env.source, k);
        raw.sendFrames(frames, noDeadline());
      } else {
        framed.send(makeTensorMessage(n, env.source, k), noDeadline());
      }
    }
    receiver.join();
  }
  return messages / std::chrono::duration<double>(end - start).count();
}

std::string sizeName(size_t n) {
  if (n >= (1 << 20)) return fmt::format("{} MiB", n >> 20);
  if (n >= (1 << 10)) return fmt::format("{} KiB", n >> 10);
  return fmt::format("{} B", n);
}

// One table: every transport and size, raw and gramrl.
void runTable(Env& env, double scale, const char* malloc_mode) {
  struct Size {
    size_t bytes;
    int rtt_iterations;
    int messages;
  };
  const std::vector<Size> sizes = {{64, 1500, 20000}, {64 << 10, 400, 3000}, {4 << 20, 40, 120}};
  auto scaled = [&](int n) { return std::max(5, static_cast<int>(n * scale)); };
  std::printf("\nmalloc: %s\n", malloc_mode);
  std::printf("%-7s %-8s | %10s %10s %6s | %12s %12s %6s | %9s %9s | %7s %7s\n", "trans", "payload", "rtt raw",
              "rtt grl", "ratio", "msg/s raw", "msg/s grl", "ratio", "GB/s raw", "GB/s grl", "flt raw", "flt grl");
  std::printf("%s\n", std::string(130, '-').c_str());
  for (Transport transport : {Transport::kInproc, Transport::kIpc, Transport::kTcp}) {
    for (const Size& size : sizes) {
      const int rtt_n = scaled(size.rtt_iterations);
      const int msgs = scaled(size.messages);
      // ABBA order, best of two per kind: what runs first inherits a different allocator state
      // (glibc's adaptive mmap threshold decides whether 4 MiB buffers page-fault), which
      // otherwise shows up as a fake framing cost.
      const RoundTrip raw_1 = roundTrip(env, Kind::kRaw, transport, size.bytes, rtt_n);
      const RoundTrip grl_1 = roundTrip(env, Kind::kGramrl, transport, size.bytes, rtt_n);
      const RoundTrip grl = better(grl_1, roundTrip(env, Kind::kGramrl, transport, size.bytes, rtt_n));
      const RoundTrip raw = better(raw_1, roundTrip(env, Kind::kRaw, transport, size.bytes, rtt_n));
      const double rtt_raw = raw.median_us, rtt_grl = grl.median_us;
      const double tp_raw_1 = throughput(env, Kind::kRaw, transport, size.bytes, msgs);
      const double tp_grl_1 = throughput(env, Kind::kGramrl, transport, size.bytes, msgs);
      const double tp_grl = std::max(tp_grl_1, throughput(env, Kind::kGramrl, transport, size.bytes, msgs));
      const double tp_raw = std::max(tp_raw_1, throughput(env, Kind::kRaw, transport, size.bytes, msgs));
      std::printf("%-7s %-8s | %10.1f %10.1f %6.2f | %12.0f %12.0f %6.2f | %9.3f %9.3f | %7.0f %7.0f\n",
                  name(transport), sizeName(size.bytes).c_str(), rtt_raw, rtt_grl, rtt_grl / rtt_raw, tp_raw, tp_grl,
                  tp_grl / tp_raw, tp_raw * size.bytes / 1e9, tp_grl * size.bytes / 1e9, raw.faults_per_rt,
                  grl.faults_per_rt);
      std::fflush(stdout);
    }
  }
}

int run(double scale, bool default_malloc, bool pin_malloc) {
  Env env;
  char dir_template[] = "/tmp/grl-bench-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  env.ipc_dir = dir_template;
  env.source.resize(4 << 20);
  for (size_t i = 0; i < env.source.size(); ++i) env.source[i] = static_cast<uint8_t>((i * 131 + 7) & 0xff);

  std::printf("gramrl transport benchmark (same run, same machine; %u hardware threads)\n",
              std::thread::hardware_concurrency());
  std::printf(
      "  rtt    = median over N round trips of (build request + send + server recv/decode/echo + recv + verify), us\n");
  std::printf("  thrpt  = M messages / (time of last verified receipt - time of first send), PUSH->PULL pipelined,\n");
  std::printf("           GB/s = thrpt * payload bytes / 1e9\n");
  std::printf(
      "  ratio  = gramrl / raw  (rtt: > 1 means framing costs time; thrpt: < 1 means framing costs throughput)\n");
  std::printf("  each figure is the best of two runs taken in raw, gramrl, gramrl, raw order\n");
  std::printf("  flt    = minor page faults per round trip (whole process): fresh pages for big buffers\n");
  std::printf("  gramrl wire bytes = payload + 16-byte header + capnp envelope (WeightsMessage/Tensor)\n");
  const auto wall_start = Clock::now();
  if (default_malloc) runTable(env, scale, "glibc defaults (adaptive mmap threshold)");
  if (pin_malloc) {
    // Keep glibc from returning big buffers to the kernel and faulting them back in on the next
    // message, so both paths are measured in the same, steady allocator state.
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    runTable(env, scale, "pinned: M_MMAP_THRESHOLD=256 MiB, M_TRIM_THRESHOLD=512 MiB");
  }
  std::error_code ec;
  std::filesystem::remove_all(env.ipc_dir, ec);
  std::printf("\nwall time %.1f s; verification failures: %llu\n",
              std::chrono::duration<double>(Clock::now() - wall_start).count(),
              static_cast<unsigned long long>(env.failures.load()));
  return env.failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace gramrl::transport

int main(int argc, char** argv) {
  double scale = 1.0;
  bool default_malloc = true, pin_malloc = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--pin-malloc") {
      default_malloc = false;
    } else if (arg == "--default-malloc") {
      pin_malloc = false;
    } else if (std::atof(arg.c_str()) > 0) {
      scale = std::atof(arg.c_str());
    } else {
      std::fprintf(stderr, "usage: %s [scale > 0] [--default-malloc | --pin-malloc]\n", argv[0]);
      return 2;
    }
  }
  try {
    return gramrl::transport::run(scale, default_malloc, pin_malloc);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "transport_bench: %s\n", e.what());
    return 1;
  }
}
