#include "actors/weight_receiver.h"

#include <map>
#include <vector>

#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/core/logging.h"
#include "common/model/transformer.h"
#include "common/tensor/tensor_wire.h"
#include "common/transport/message_socket.h"
#include "schemas/weights.capnp.h"

namespace gramrl {
namespace {

constexpr uint32_t kManifestChunk = 0xFFFFFFFFu;
constexpr int kMaxRestarts = 10;

}  // namespace

WeightReceiver::WeightReceiver(transport::ZmqContext& context, const std::string& endpoint,
                               transport::ReceiveLimits limits, std::chrono::milliseconds timeout)
    : socket_(std::make_unique<transport::MessageSocket>(
          context, transport::SocketType::kDealer, transport::Channel::kWeights, transport::SocketOptions{}, limits)),
      timeout_(timeout) {
  socket_->connect(endpoint);
}

WeightReceiver::~WeightReceiver() = default;

int64_t WeightReceiver::fetchInto(Transformer& model) {
  auto request = [&](uint64_t version, uint32_t chunk) {
    transport::OutgoingMessage m;
    auto root = m.initRoot<wire::WeightsMessage>();
    root.setSeq(++seq_);
    auto f = root.initFetch();
    f.setVersion(version);
    f.setChunkIndex(chunk);
    socket_->send(std::move(m), transport::deadlineAfter(timeout_));
    auto received = socket_->recv(transport::deadlineAfter(timeout_));
    GRAMRL_CHECK(received.has_value(), Timeout, "weights: the learner did not answer a fetch within {} ms",
                 timeout_.count());
    GRAMRL_CHECK(received->ok(), ProtocolError, "weights: malformed reply: {}", received->error);
    return std::make_shared<transport::IncomingMessage>(std::move(received->message));
  };

  std::map<std::string, at::Tensor> params;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) params.emplace(item.key(), item.value());

  for (int attempt = 0; attempt < kMaxRestarts; ++attempt) {
    auto manifest_message = request(0, kManifestChunk);
    const auto root = manifest_message->getRoot<wire::WeightsMessage>();
    GRAMRL_CHECK(root.which() == wire::WeightsMessage::MANIFEST, ProtocolError, "weights: expected a manifest, got {}",
                 root.which() == wire::WeightsMessage::ERROR ? std::string(root.getError().cStr()) : "another body");
    const auto manifest = root.getManifest();
    const auto version = manifest.getVersion();
    const uint32_t chunks = manifest.getChunkCount();
    const auto specs = manifest.getTensors();
    GRAMRL_CHECK(specs.size() == params.size(), ProtocolError,
                 "weights: the learner's model has {} tensors, this actor's {} (is policy.model the same?)",
                 specs.size(), params.size());
    std::map<std::string, at::Tensor> staged;
    bool stale = false;
    uint64_t bytes = 0;
    for (uint32_t c = 0; c < chunks && !stale; ++c) {
      auto message = request(version, c);
      const auto croot = message->getRoot<wire::WeightsMessage>();
      if (croot.which() == wire::WeightsMessage::ERROR) {
        stale = true;  // a newer version was published meanwhile: start over
        break;
      }
      GRAMRL_CHECK(croot.which() == wire::WeightsMessage::CHUNK, ProtocolError, "weights: expected chunk {}", c);
      const auto chunk = croot.getChunk();
      GRAMRL_CHECK(chunk.getVersion() == version && chunk.getIndex() == c, ProtocolError,
                   "weights: got chunk {} of version {}, asked for chunk {} of {}", chunk.getIndex(),
                   chunk.getVersion(), c, version);
      for (const auto t : chunk.getTensors()) {
        const std::string name = t.getName();
        auto it = params.find(name);
        GRAMRL_CHECK(it != params.end(), ProtocolError, "weights: unknown tensor {}", name);
        at::Tensor value = readTensor(t, message);
        GRAMRL_CHECK(value.sizes() == it->second.sizes(), ProtocolError, "weights: {} has shape {}, expected {}", name,
                     c10::str(value.sizes()), c10::str(it->second.sizes()));
        bytes += value.nbytes();
        staged[name] = value;
      }
    }
    if (stale) {
      log::debug("weights: version {} was replaced while fetching; fetching the newest", version);
      continue;
    }
    GRAMRL_CHECK(staged.size() == params.size(), ProtocolError, "weights: version {} carried {} of {} tensors", version,
                 staged.size(), params.size());
    torch::NoGradGuard no_grad;
    for (auto& [name, value] : staged) params.at(name).copy_(value);
    last_bytes_ = bytes;
    return static_cast<int64_t>(version);
  }
  GRAMRL_CHECK(false, Timeout, "weights: the learner published {} versions while this actor fetched one", kMaxRestarts);
  return 0;
}

}  // namespace gramrl
