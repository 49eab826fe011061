#include "learner/rlhf/weight_publisher.h"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "common/model/transformer.h"
#include "common/tensor/tensor_wire.h"
#include "schemas/weights.capnp.h"

namespace gramrl::rlhf {

std::shared_ptr<const WeightSnapshot> makeWeightSnapshot(const Transformer& model, int64_t version,
                                                         size_t chunk_bytes) {
  std::vector<std::pair<std::string, at::Tensor>> weights;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) weights.emplace_back(item.key(), item.value());
  return makeWeightSnapshot(weights, version, chunk_bytes);
}

std::shared_ptr<const WeightSnapshot> makeWeightSnapshot(const std::vector<std::pair<std::string, at::Tensor>>& weights,
                                                         int64_t version, size_t chunk_bytes) {
  torch::NoGradGuard no_grad;
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, value] : weights) {
    tensors.emplace_back(name, value.detach().to(torch::kCPU).contiguous().clone());
  }
  // Chunk boundaries: consecutive tensors up to chunk_bytes.
  std::vector<std::pair<size_t, size_t>> chunks;  // [begin, end) into tensors
  size_t begin = 0;
  size_t bytes = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const size_t b = tensors[i].second.nbytes();
    if (i > begin && (bytes + b > chunk_bytes || i - begin >= kMaxTensorsPerChunk)) {
      chunks.emplace_back(begin, i);
      begin = i;
      bytes = 0;
    }
    bytes += b;
  }
  if (begin < tensors.size()) chunks.emplace_back(begin, tensors.size());

  auto snapshot = std::make_shared<WeightSnapshot>();
  snapshot->version = version;
  transport::OutgoingMessage manifest;
  auto root = manifest.initRoot<wire::WeightsMessage>();
  root.setSeq(static_cast<uint64_t>(version));
  auto m = root.initManifest();
  m.setVersion(static_cast<uint64_t>(version));
  m.setTransport(wire::WeightTransport::ZMQ);
  m.setChunkCount(static_cast<uint32_t>(chunks.size()));
  auto specs = m.initTensors(static_cast<unsigned>(tensors.size()));
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor& t = tensors[i].second;
    auto spec = specs[static_cast<unsigned>(i)];
    spec.setName(tensors[i].first);
    spec.setDtype(toWireDType(t.scalar_type()));
    auto shape = spec.initShape(static_cast<unsigned>(t.dim()));
    for (int64_t d = 0; d < t.dim(); ++d) shape.set(static_cast<unsigned>(d), t.size(d));
    spec.setOffsetBytes(offset);
    spec.setSizeBytes(t.nbytes());
    offset += t.nbytes();
  }
  m.setTotalBytes(offset);
  snapshot->bytes = offset;
  snapshot->manifest =
      std::make_shared<const transport::EncodedMessage>(transport::Channel::kWeights, std::move(manifest));
  for (size_t c = 0; c < chunks.size(); ++c) {
    transport::OutgoingMessage chunk;
    auto croot = chunk.initRoot<wire::WeightsMessage>();
    croot.setSeq(static_cast<uint64_t>(version));
    auto body = croot.initChunk();
    body.setVersion(static_cast<uint64_t>(version));
    body.setIndex(static_cast<uint32_t>(c));
    auto list = body.initTensors(static_cast<unsigned>(chunks[c].second - chunks[c].first));
    for (size_t i = chunks[c].first; i < chunks[c].second; ++i) {
      writeTensor(list[static_cast<unsigned>(i - chunks[c].first)], tensors[i].first, tensors[i].second, chunk);
    }
    snapshot->chunks.emplace_back(transport::Channel::kWeights, std::move(chunk));
  }
  return snapshot;
}

}  // namespace gramrl::rlhf
