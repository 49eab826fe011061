#include "common/tensor/tensor_wire.h"

#include <cstring>
#include <limits>
#include <vector>

#include <torch/torch.h>

#include "common/core/errors.h"

namespace gramrl {
namespace {

std::string tensorLabel(const std::string& name) {
  return name.empty() ? "an unnamed tensor" : "tensor '" + name + "'";
}

}  // namespace

wire::DType toWireDType(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return wire::DType::FLOAT32;
    case at::kBFloat16: return wire::DType::BFLOAT16;
    case at::kHalf: return wire::DType::FLOAT16;
    case at::kDouble: return wire::DType::FLOAT64;
    case at::kLong: return wire::DType::INT64;
    case at::kInt: return wire::DType::INT32;
    case at::kChar: return wire::DType::INT8;
    case at::kByte: return wire::DType::UINT8;
    case at::kBool: return wire::DType::BOOL;
    default: break;
  }
  GRAMRL_ASSERT(false, "torch dtype {} has no wire dtype", c10::toString(type));
  return wire::DType::FLOAT32;
}

at::ScalarType fromWireDType(wire::DType dtype) {
  switch (dtype) {
    case wire::DType::FLOAT32: return at::kFloat;
    case wire::DType::BFLOAT16: return at::kBFloat16;
    case wire::DType::FLOAT16: return at::kHalf;
    case wire::DType::FLOAT64: return at::kDouble;
    case wire::DType::INT64: return at::kLong;
    case wire::DType::INT32: return at::kInt;
    case wire::DType::INT8: return at::kChar;
    case wire::DType::UINT8: return at::kByte;
    case wire::DType::BOOL: return at::kBool;
  }
  throw ProtocolError(fmt::format("unknown wire dtype {} (from a newer gramrl?)", static_cast<unsigned>(dtype)));
}

bool writeTensor(wire::Tensor::Builder out, const std::string& name, const at::Tensor& tensor,
                 transport::OutgoingMessage& message) {
  const at::Tensor t = tensor.to(torch::kCPU).contiguous();
  out.setName(name);
  out.setDtype(toWireDType(t.scalar_type()));
  auto shape = out.initShape(static_cast<unsigned>(t.dim()));
  for (int64_t d = 0; d < t.dim(); ++d) shape.set(static_cast<unsigned>(d), t.size(d));

  const size_t bytes = t.numel() * t.element_size();
  const auto* data = static_cast<const capnp::byte*>(t.data_ptr());
  const bool can_reference = bytes > 0 && bytes % 8 == 0 && reinterpret_cast<uintptr_t>(data) % 8 == 0;
  if (can_reference) {
    out.adoptData(message.orphanage().referenceExternalData(capnp::Data::Reader(data, bytes)));
    // The storage, not just the tensor handle: a view of it may be all that is left.
    message.keepAlive(std::make_shared<at::Tensor>(t));
    return true;
  }
  auto dst = out.initData(bytes);
  if (bytes > 0) std::memcpy(dst.begin(), data, bytes);
  return false;
}

at::Tensor readTensor(wire::Tensor::Reader in, const std::shared_ptr<const transport::IncomingMessage>& message) {
  return transport::protocolGuard("a tensor", [&]() -> at::Tensor {
    const std::string name = in.getName();
    const at::ScalarType type = fromWireDType(in.getDtype());
    auto shape_in = in.getShape();
    GRAMRL_CHECK(shape_in.size() <= kMaxTensorRank, ProtocolError, "{} has rank {}, more than the limit {}",
                 tensorLabel(name), shape_in.size(), kMaxTensorRank);
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    for (int64_t d : shape_in) {
      GRAMRL_CHECK(d >= 0, ProtocolError, "{} has a negative dimension {}", tensorLabel(name), d);
      GRAMRL_CHECK(!__builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel), ProtocolError,
                   "{}: the element count of its shape overflows 64 bits", tensorLabel(name));
      shape.push_back(d);
    }
    auto data = in.getData();
    const uint64_t element = c10::elementSize(type);
    uint64_t need = 0;
    GRAMRL_CHECK(!__builtin_mul_overflow(numel, element, &need) && data.size() == need, ProtocolError,
                 "{}: shape and dtype need {} elements of {} bytes, the data has {} bytes", tensorLabel(name), numel,
                 element, data.size());
    const auto options = torch::TensorOptions().dtype(type);
    if (numel == 0) return torch::empty(shape, options);
    void* ptr = const_cast<capnp::byte*>(data.begin());
    if (reinterpret_cast<uintptr_t>(ptr) % element != 0) {
      at::Tensor copy = torch::empty(shape, options);
      std::memcpy(copy.data_ptr(), ptr, data.size());
      return copy;
    }
    // The deleter owns a reference to the message, keeping the frame alive.
    auto keep = message;
    return torch::from_blob(
        ptr, shape, [keep](void*) mutable { keep.reset(); }, options);
  });
}

}  // namespace gramrl
