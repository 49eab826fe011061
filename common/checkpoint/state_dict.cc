#include "common/checkpoint/state_dict.h"

#include <fmt/ranges.h>
#include <torch/torch.h>

#include "common/core/errors.h"

namespace gramrl::checkpoint {
namespace {

std::string describeTensor(c10::IntArrayRef shape, std::optional<at::ScalarType> dtype) {
  return fmt::format("[{}] {}", fmt::join(shape, ", "), dtype ? c10::toString(*dtype) : "(any dtype)");
}

}  // namespace

at::ScalarType toScalarType(DType dtype) {
  switch (dtype) {
    case DType::kBool: return at::kBool;
    case DType::kU8: return at::kByte;
    case DType::kI8: return at::kChar;
    case DType::kI16: return at::kShort;
    case DType::kF16: return at::kHalf;
    case DType::kBF16: return at::kBFloat16;
    case DType::kI32: return at::kInt;
    case DType::kF32: return at::kFloat;
    case DType::kF64: return at::kDouble;
    case DType::kI64: return at::kLong;
  }
  GRAMRL_ASSERT(false, "unknown DType {}", static_cast<int>(dtype));
  return at::kFloat;
}

DType toDType(at::ScalarType type, std::string_view name) {
  switch (type) {
    case at::kBool: return DType::kBool;
    case at::kByte: return DType::kU8;
    case at::kChar: return DType::kI8;
    case at::kShort: return DType::kI16;
    case at::kHalf: return DType::kF16;
    case at::kBFloat16: return DType::kBF16;
    case at::kInt: return DType::kI32;
    case at::kFloat: return DType::kF32;
    case at::kDouble: return DType::kF64;
    case at::kLong: return DType::kI64;
    default: break;
  }
  throw DataError(fmt::format("tensor '{}': dtype {} cannot be stored in safetensors (supported: {})", name,
                              c10::toString(type), supportedDtypeNames()));
}

std::string StateDictDiff::describe(std::string_view source) const {
  std::string out =
      fmt::format("{} does not match the model ({} missing, {} unexpected, {} mismatched tensors):", source,
                  missing.size(), unexpected.size(), mismatched.size());
  for (const std::string& name : missing) out += "\n  missing: " + name;
  for (const std::string& name : unexpected) out += "\n  unexpected: " + name;
  for (const std::string& line : mismatched) out += "\n  mismatched: " + line;
  return out;
}

StateDictDiff diffStateDict(const StateDict& tensors, const StateDictSpec& spec) {
  StateDictDiff diff;
  // Both maps are sorted by name: one merge pass.
  auto t = tensors.begin();
  auto s = spec.begin();
  while (t != tensors.end() || s != spec.end()) {
    if (s == spec.end() || (t != tensors.end() && t->first < s->first)) {
      diff.unexpected.push_back(t->first);
      ++t;
    } else if (t == tensors.end() || s->first < t->first) {
      diff.missing.push_back(s->first);
      ++s;
    } else {
      const at::Tensor& tensor = t->second;
      const TensorSpec& want = s->second;
      const bool shape_ok = tensor.sizes() == c10::IntArrayRef(want.shape);
      const bool dtype_ok = !want.dtype || tensor.scalar_type() == *want.dtype;
      if (!shape_ok || !dtype_ok) {
        diff.mismatched.push_back(fmt::format("{}: expected {}, got {}", t->first,
                                              describeTensor(want.shape, want.dtype),
                                              describeTensor(tensor.sizes(), tensor.scalar_type())));
      }
      ++t;
      ++s;
    }
  }
  return diff;
}

void checkStateDict(const StateDict& tensors, const StateDictSpec& spec, std::string_view source) {
  const StateDictDiff diff = diffStateDict(tensors, spec);
  if (!diff.isEmpty()) throw DataError(diff.describe(source));
}

}  // namespace gramrl::checkpoint
