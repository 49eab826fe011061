#include "common/tokenizer/hf_tokenizer.h"

#include <algorithm>
#include <unordered_map>

#include "common/core/errors.h"
#include "common/tokenizer/added_tokens.h"
#include "common/tokenizer/bpe_model.h"
#include "common/tokenizer/byte_level.h"
#include "common/tokenizer/chat_template.h"
#include "common/tokenizer/hf_tokenizer_files.h"
#include "common/tokenizer/pre_tokenizer.h"
#include "common/tokenizer/unicode.h"

namespace gramrl::tokenizer {

struct HfTokenizer::Impl {
  std::string source;
  std::vector<std::string> pieces;                       // id -> vocabulary string ("" for an unused id)
  std::vector<std::string> bytes;                        // id -> what decode() writes
  std::vector<uint8_t> kinds;                            // id -> kUnused / kModel / kAdded / kSpecial
  std::unordered_map<std::string, TokenId> piece_to_id;  // model vocab and added tokens
  std::unique_ptr<BpeModel> bpe;
  bool nfc = false;
  AddedTokenMatcher raw_added;         // matched in the input text
  AddedTokenMatcher normalized_added;  // matched after the normalizer
  std::vector<std::unique_ptr<RegexSplitter>> splitters;
  std::vector<TokenId> prefix_ids, suffix_ids;
  SpecialTokenIds special;
  std::string chat_template_name;
  std::string chat_template_text;

  enum Kind : uint8_t { kUnused, kModel, kAdded, kSpecial };

  void encodePlain(std::string_view text, std::vector<TokenId>& ids) const;
  void preTokenize(std::string_view text, size_t splitter, std::vector<TokenId>& ids) const;
  // The id of a token named by tokenizer_config.json.
  std::optional<TokenId> resolve(const std::optional<std::string>& text, const char* field) const {
    if (!text) return std::nullopt;
    auto it = piece_to_id.find(*text);
    GRAMRL_CHECK(it != piece_to_id.end(), DataError, "{}/tokenizer_config.json: {}: \"{}\" is not in the vocabulary",
                 source, field, *text);
    return it->second;
  }
  void checkId(TokenId id, const char* what) const {
    GRAMRL_CHECK(id >= 0 && static_cast<size_t>(id) < kinds.size() && kinds[id] != kUnused, DataError,
                 "{}: token id {} is not in the vocabulary of {} (size {})", what, id, source, kinds.size());
  }
};

std::unique_ptr<HfTokenizer> HfTokenizer::load(const std::string& path) {
  HfTokenizerFiles files = readHfTokenizerFiles(path);
  auto impl = std::make_unique<Impl>();
  impl->source = files.directory;
  const std::string& file = files.tokenizer_file;

  TokenId max_id = -1;
  for (const auto& entry : files.vocab) max_id = std::max(max_id, entry.second);
  for (const auto& token : files.added_tokens) max_id = std::max(max_id, token.id);
  GRAMRL_CHECK(max_id >= 0, DataError, "{}: model.vocab: empty", file);
  const size_t size = static_cast<size_t>(max_id) + 1;
  impl->pieces.resize(size);
  impl->bytes.resize(size);
  impl->kinds.assign(size, Impl::kUnused);

  for (const auto& [piece, id] : files.vocab) {
    GRAMRL_CHECK(impl->kinds[id] == Impl::kUnused, DataError,
                 "{}: model.vocab: id {} is given to both \"{}\" and \"{}\"", file, id, impl->pieces[id], piece);
    impl->pieces[id] = piece;
    impl->kinds[id] = Impl::kModel;
    // A vocabulary string outside the byte-level alphabet decodes to its own UTF-8, as in
    // Hugging Face's ByteLevel decoder.
    if (!byteLevelDecode(piece, impl->bytes[id])) impl->bytes[id] = piece;
    impl->piece_to_id.emplace(piece, id);
  }
  {
    std::vector<std::pair<std::string, std::string>> merges = std::move(files.merges);
    impl->bpe = std::make_unique<BpeModel>(impl->piece_to_id, impl->bytes, merges, files.ignore_merges, file);
  }
  if (files.unk_token) {
    GRAMRL_CHECK(impl->piece_to_id.count(*files.unk_token) != 0, DataError,
                 "{}: model.unk_token: \"{}\" is not in model.vocab", file, *files.unk_token);
  }

  // Added tokens override the model's entry for their id and string, as in Hugging Face.
  std::vector<AddedTokenMatcher::Token> raw, normalized;
  for (const HfAddedToken& token : files.added_tokens) {
    impl->pieces[token.id] = token.content;
    impl->bytes[token.id] = token.content;
    impl->kinds[token.id] = token.special ? Impl::kSpecial : Impl::kAdded;
    impl->piece_to_id[token.content] = token.id;
    (token.normalized && files.nfc ? normalized : raw).push_back({token.content, token.id, token.lstrip, token.rstrip});
  }
  for (const std::string& extra : files.additional_special_tokens) {
    auto it = impl->piece_to_id.find(extra);
    GRAMRL_CHECK(it != impl->piece_to_id.end(), DataError,
                 "{}/tokenizer_config.json: additional_special_tokens: \"{}\" is not in the vocabulary", impl->source,
                 extra);
    impl->kinds[it->second] = Impl::kSpecial;
  }
  impl->raw_added = AddedTokenMatcher(raw);
  impl->normalized_added = AddedTokenMatcher(normalized);
  impl->nfc = files.nfc;

  for (size_t i = 0; i < files.split_patterns.size(); ++i) {
    impl->splitters.push_back(
        std::make_unique<RegexSplitter>(files.split_patterns[i], fmt::format("{}: pre_tokenizer (split {})", file, i)));
  }
  for (const auto* list : {&files.prefix_ids, &files.suffix_ids}) {
    for (TokenId id : *list) {
      GRAMRL_CHECK(static_cast<size_t>(id) < size && impl->kinds[id] != Impl::kUnused, DataError,
                   "{}: post_processor: special token id {} is not in the vocabulary", file, id);
    }
  }
  impl->prefix_ids = files.prefix_ids;
  impl->suffix_ids = files.suffix_ids;

  impl->special.bos = impl->resolve(files.bos_token, "bos_token");
  impl->special.eos = impl->resolve(files.eos_token, "eos_token");
  impl->special.pad = impl->resolve(files.pad_token, "pad_token");
  std::vector<TokenId>& stop = impl->special.stop;
  if (impl->special.eos) stop.push_back(*impl->special.eos);
  for (TokenId id : files.eos_token_ids) {
    GRAMRL_CHECK(static_cast<size_t>(id) < size && impl->kinds[id] != Impl::kUnused, DataError,
                 "{}: eos_token_id {} of config.json or generation_config.json is not in the vocabulary", impl->source,
                 id);
    stop.push_back(id);
  }
  std::sort(stop.begin(), stop.end());
  stop.erase(std::unique(stop.begin(), stop.end()), stop.end());
  impl->chat_template_text = std::move(files.chat_template);
  impl->chat_template_name = chatTemplateNameFor(impl->chat_template_text);
  return std::unique_ptr<HfTokenizer>(new HfTokenizer(std::move(impl)));
}

HfTokenizer::HfTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HfTokenizer::~HfTokenizer() = default;

std::vector<TokenId> HfTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const size_t bad = findInvalidUtf8(text);
  GRAMRL_CHECK(bad == kValidUtf8, DataError, "encode: the text is not valid UTF-8 (byte 0x{:02X} at offset {} of {})",
               static_cast<uint8_t>(text[bad]), bad, text.size());
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 4);
  if (add_special_tokens) ids.insert(ids.end(), impl_->prefix_ids.begin(), impl_->prefix_ids.end());
  std::vector<AddedTokenMatcher::Section> sections;
  impl_->raw_added.split(text, sections);
  for (const auto& section : sections) {
    if (section.id >= 0) {
      ids.push_back(section.id);
    } else {
      impl_->encodePlain(section.text, ids);
    }
  }
  if (add_special_tokens) ids.insert(ids.end(), impl_->suffix_ids.begin(), impl_->suffix_ids.end());
  return ids;
}

void HfTokenizer::Impl::encodePlain(std::string_view text, std::vector<TokenId>& ids) const {
  if (!nfc) {
    preTokenize(text, 0, ids);
    return;
  }
  const std::string normalized = toNfc(text);
  if (normalized_added.empty()) {
    preTokenize(normalized, 0, ids);
    return;
  }
  std::vector<AddedTokenMatcher::Section> sections;
  normalized_added.split(normalized, sections);
  for (const auto& section : sections) {
    if (section.id >= 0) {
      ids.push_back(section.id);
    } else {
      preTokenize(section.text, 0, ids);
    }
  }
}

// Applies splitters_[splitter..] in turn, then BPE to each final piece.
void HfTokenizer::Impl::preTokenize(std::string_view text, size_t splitter, std::vector<TokenId>& ids) const {
  if (splitter == splitters.size()) {
    bpe->encodeWord(text, ids);
    return;
  }
  std::vector<std::string_view> pieces;
  splitters[splitter]->split(text, pieces);
  for (std::string_view piece : pieces) preTokenize(piece, splitter + 1, ids);
}

std::string HfTokenizer::decode(const TokenId* ids, size_t count, bool skip_special_tokens) const {
  std::string out;
  out.reserve(count * 4);
  for (size_t i = 0; i < count; ++i) {
    const TokenId id = ids[i];
    impl_->checkId(id, "decode");
    if (skip_special_tokens && impl_->kinds[id] == Impl::kSpecial) continue;
    out += impl_->bytes[id];
  }
  return out;
}

std::string HfTokenizer::idToPiece(TokenId id) const {
  impl_->checkId(id, "idToPiece");
  return impl_->pieces[id];
}

std::optional<TokenId> HfTokenizer::tokenToId(std::string_view piece) const {
  auto it = impl_->piece_to_id.find(std::string(piece));
  if (it == impl_->piece_to_id.end()) return std::nullopt;
  return it->second;
}

int32_t HfTokenizer::vocabSize() const { return static_cast<int32_t>(impl_->kinds.size()); }
bool HfTokenizer::isSpecial(TokenId id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->kinds.size() && impl_->kinds[id] == Impl::kSpecial;
}
const SpecialTokenIds& HfTokenizer::specialTokens() const { return impl_->special; }
const std::string& HfTokenizer::chatTemplateName() const { return impl_->chat_template_name; }
const std::string& HfTokenizer::source() const { return impl_->source; }
const std::string& HfTokenizer::chatTemplateText() const { return impl_->chat_template_text; }

}  // namespace gramrl::tokenizer
