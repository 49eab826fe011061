#include "common/tokenizer/tokenizer.h"

#include "common/tokenizer/byte_tokenizer.h"
#include "common/tokenizer/hf_tokenizer.h"

namespace gramrl::tokenizer {

std::unique_ptr<Tokenizer> loadTokenizer(const std::string& spec) {
  if (spec == "builtin:bytes") return std::make_unique<ByteTokenizer>();
  return HfTokenizer::load(spec);
}

}  // namespace gramrl::tokenizer
