#include "common/tokenizer/hf_tokenizer_files.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/core/errors.h"

namespace gramrl::tokenizer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The GPT-2 pattern a ByteLevel pre-tokenizer applies when use_regex is true.
constexpr const char* kByteLevelPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Field access with errors that name the file and the JSON path of the field.
class JsonFile {
 public:
  JsonFile(std::string file, const std::string& text) : file_(std::move(file)) {
    try {
      root_ = json::parse(text);
    } catch (const json::parse_error& e) {
      throw DataError(fmt::format("{}: not valid JSON: {}", file_, e.what()));
    }
    if (!root_.is_object()) fail("(top level)", "expected an object, got " + std::string(root_.type_name()));
  }

  const json& root() const { return root_; }
  const std::string& file() const { return file_; }

  [[noreturn]] void fail(const std::string& path, const std::string& message) const {
    throw DataError(fmt::format("{}: {}: {}", file_, path, message));
  }
  const json& member(const json& object, const std::string& path, const char* key) const {
    auto it = object.find(key);
    if (it == object.end()) fail(join(path, key), "missing");
    return *it;
  }
  // The member, or nullptr when it is absent or null.
  const json* optional(const json& object, const char* key) const {
    auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
  }
  std::string string(const json& value, const std::string& path) const {
    if (!value.is_string()) fail(path, "expected a string, got " + describe(value));
    return value.get<std::string>();
  }
  bool boolean(const json& object, const std::string& path, const char* key, bool fallback) const {
    const json* v = optional(object, key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail(join(path, key), "expected true or false, got " + describe(*v));
    return v->get<bool>();
  }
  TokenId id(const json& value, const std::string& path) const {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > INT32_MAX) {
      fail(path, "expected a token id (an integer in [0, 2^31)), got " + describe(value));
    }
    return static_cast<TokenId>(value.get<int64_t>());
  }
  const json& array(const json& value, const std::string& path) const {
    if (!value.is_array()) fail(path, "expected an array, got " + describe(value));
    return value;
  }
  const json& object(const json& value, const std::string& path) const {
    if (!value.is_object()) fail(path, "expected an object, got " + describe(value));
    return value;
  }
  std::string type(const json& component, const std::string& path) const {
    return string(member(object(component, path), path, "type"), path + ".type");
  }
  [[noreturn]] void unsupported(const std::string& path, const std::string& what, const char* supported) const {
    fail(path, fmt::format("{} is not supported (supported: {})", what, supported));
  }

  static std::string join(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }
  static std::string index(const std::string& path, size_t i) { return fmt::format("{}[{}]", path, i); }
  static std::string describe(const json& v) {
    std::string s = v.dump();
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return std::string(v.type_name()) + " " + s;
  }

 private:
  std::string file_;
  json root_;
};

void readNormalizer(const JsonFile& f, const json& n, const std::string& path, HfTokenizerFiles& out) {
  if (n.is_null()) return;
  const std::string type = f.type(n, path);
  if (type == "NFC") {
    out.nfc = true;
  } else if (type == "Sequence") {
    const json& list = f.array(f.member(n, path, "normalizers"), path + ".normalizers");
    for (size_t i = 0; i < list.size(); ++i) readNormalizer(f, list[i], JsonFile::index(path + ".normalizers", i), out);
  } else {
    f.unsupported(path + ".type", "\"" + type + "\"", "null, NFC, Sequence");
  }
}

void readPreTokenizer(const JsonFile& f, const json& p, const std::string& path, HfTokenizerFiles& out,
                      bool& byte_level) {
  if (byte_level) f.fail(path, "nothing may follow the ByteLevel pre-tokenizer");
  const std::string type = f.type(p, path);
  if (type == "Sequence") {
    const json& list = f.array(f.member(p, path, "pretokenizers"), path + ".pretokenizers");
    for (size_t i = 0; i < list.size(); ++i) {
      readPreTokenizer(f, list[i], JsonFile::index(path + ".pretokenizers", i), out, byte_level);
    }
  } else if (type == "Split") {
    const std::string behavior = f.string(f.member(p, path, "behavior"), path + ".behavior");
    if (behavior != "Isolated") f.unsupported(path + ".behavior", "\"" + behavior + "\"", "Isolated");
    if (f.boolean(p, path, "invert", false)) f.unsupported(path + ".invert", "true", "false");
    const json& pattern = f.object(f.member(p, path, "pattern"), path + ".pattern");
    if (const json* regex = f.optional(pattern, "Regex")) {
      out.split_patterns.push_back(f.string(*regex, path + ".pattern.Regex"));
    } else if (const json* literal = f.optional(pattern, "String")) {
      std::string escaped;
      for (char c : f.string(*literal, path + ".pattern.String")) {
        if (std::strchr("\\^$.|?*+()[]{}", c) != nullptr) escaped += '\\';
        escaped += c;
      }
      out.split_patterns.push_back(escaped);
    } else {
      f.fail(path + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
    }
  } else if (type == "ByteLevel") {
    if (f.boolean(p, path, "add_prefix_space", true)) f.unsupported(path + ".add_prefix_space", "true", "false");
    if (f.boolean(p, path, "use_regex", true)) out.split_patterns.push_back(kByteLevelPattern);
    byte_level = true;
  } else {
    f.unsupported(path + ".type", "\"" + type + "\"", "Sequence, Split, ByteLevel");
  }
}

void readModel(const JsonFile& f, const json& m, HfTokenizerFiles& out) {
  const std::string path = "model";
  f.object(m, path);
  if (const json* type = f.optional(m, "type")) {
    const std::string t = f.string(*type, "model.type");
    if (t != "BPE") f.unsupported("model.type", "\"" + t + "\"", "BPE");
  }
  if (const json* dropout = f.optional(m, "dropout")) {
    f.unsupported("model.dropout", JsonFile::describe(*dropout), "null: encoding must be deterministic");
  }
  if (f.boolean(m, path, "byte_fallback", false)) f.unsupported("model.byte_fallback", "true", "false");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json* v = f.optional(m, key);
    if (v != nullptr && f.string(*v, JsonFile::join(path, key)) != "") {
      f.unsupported(JsonFile::join(path, key), JsonFile::describe(*v), "null or \"\"");
    }
  }
  out.ignore_merges = f.boolean(m, path, "ignore_merges", false);
  if (const json* unk = f.optional(m, "unk_token")) out.unk_token = f.string(*unk, "model.unk_token");

  const json& vocab = f.object(f.member(m, path, "vocab"), "model.vocab");
  out.vocab.reserve(vocab.size());
  for (const auto& [piece, id] : vocab.items()) {
    if (id.is_number_unsigned() && id.get<uint64_t>() <= INT32_MAX) {
      out.vocab.emplace_back(piece, static_cast<TokenId>(id.get<uint64_t>()));
    } else {
      f.id(id, "model.vocab[\"" + piece + "\"]");  // throws, naming the entry
    }
  }

  const json& merges = f.array(f.member(m, path, "merges"), "model.merges");
  out.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& merge = merges[i];
    if (merge.is_string()) {
      const std::string& s = merge.get_ref<const std::string&>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == s.size() || s.find(' ', space + 1) != s.npos) {
        f.fail(JsonFile::index("model.merges", i),
               "expected \"left right\" (one space), got " + JsonFile::describe(merge));
      }
      out.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      out.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      f.fail(JsonFile::index("model.merges", i),
             "expected \"left right\" or [\"left\", \"right\"], got " + JsonFile::describe(merge));
    }
  }
}

void readAddedTokens(const JsonFile& f, const json& list, HfTokenizerFiles& out) {
  f.array(list, "added_tokens");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = JsonFile::index("added_tokens", i);
    const json& t = f.object(list[i], path);
    HfAddedToken token;
    token.id = f.id(f.member(t, path, "id"), path + ".id");
    token.content = f.string(f.member(t, path, "content"), path + ".content");
    if (token.content.empty()) f.fail(path + ".content", "empty");
    token.special = f.boolean(t, path, "special", false);
    token.lstrip = f.boolean(t, path, "lstrip", false);
    token.rstrip = f.boolean(t, path, "rstrip", false);
    token.normalized = f.boolean(t, path, "normalized", !token.special);
    if (f.boolean(t, path, "single_word", false)) f.unsupported(path + ".single_word", "true", "false");
    out.added_tokens.push_back(std::move(token));
  }
}

void readPostProcessor(const JsonFile& f, const json& p, const std::string& path, HfTokenizerFiles& out) {
  if (p.is_null()) return;
  const std::string type = f.type(p, path);
  if (type == "ByteLevel") return;  // only adjusts offsets, which we do not produce
  if (type == "Sequence") {
    const json& list = f.array(f.member(p, path, "processors"), path + ".processors");
    for (size_t i = 0; i < list.size(); ++i) {
      readPostProcessor(f, list[i], JsonFile::index(path + ".processors", i), out);
    }
    return;
  }
  if (type != "TemplateProcessing") {
    f.unsupported(path + ".type", "\"" + type + "\"", "null, ByteLevel, TemplateProcessing, Sequence");
  }
  if (!out.prefix_ids.empty() || !out.suffix_ids.empty()) f.fail(path, "a second TemplateProcessing");
  const json& single = f.array(f.member(p, path, "single"), path + ".single");
  const json& specials = f.object(f.member(p, path, "special_tokens"), path + ".special_tokens");
  bool seen_sequence = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const std::string item_path = JsonFile::index(path + ".single", i);
    const json& item = f.object(single[i], item_path);
    if (const json* seq = f.optional(item, "Sequence")) {
      const std::string id = f.string(f.member(*seq, item_path + ".Sequence", "id"), item_path + ".Sequence.id");
      if (id != "A" || seen_sequence) f.fail(item_path, "a single-sequence template holds sequence A once");
      seen_sequence = true;
    } else if (const json* special = f.optional(item, "SpecialToken")) {
      const std::string name =
          f.string(f.member(*special, item_path + ".SpecialToken", "id"), item_path + ".SpecialToken.id");
      const std::string spec_path = path + ".special_tokens[\"" + name + "\"]";
      const json& ids = f.array(
          f.member(f.object(f.member(specials, path + ".special_tokens", name.c_str()), spec_path), spec_path, "ids"),
          spec_path + ".ids");
      for (size_t k = 0; k < ids.size(); ++k) {
        (seen_sequence ? out.suffix_ids : out.prefix_ids)
            .push_back(f.id(ids[k], JsonFile::index(spec_path + ".ids", k)));
      }
    } else {
      f.fail(item_path, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
  }
  if (!seen_sequence) f.fail(path + ".single", "the template does not contain sequence A");
}

void readDecoder(const JsonFile& f, const json& d, const std::string& path) {
  if (d.is_null()) f.fail(path, "missing: byte-level BPE needs the ByteLevel decoder");
  const std::string type = f.type(d, path);
  if (type == "ByteLevel") return;
  if (type != "Sequence") f.unsupported(path + ".type", "\"" + type + "\"", "ByteLevel, Sequence of ByteLevel");
  const json& list = f.array(f.member(d, path, "decoders"), path + ".decoders");
  for (size_t i = 0; i < list.size(); ++i) readDecoder(f, list[i], JsonFile::index(path + ".decoders", i));
}

// "<s>", {"content": "<s>", ...} (an AddedToken dict) or null.
std::optional<std::string> tokenText(const JsonFile& f, const json& root, const char* key) {
  const json* v = f.optional(root, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_object()) return f.string(f.member(*v, key, "content"), JsonFile::join(key, "content"));
  return f.string(*v, key);
}

void readTokenizerConfig(const std::string& file, HfTokenizerFiles& out) {
  JsonFile f(file, readMaybeGzipFile(file));
  const json& root = f.root();
  out.bos_token = tokenText(f, root, "bos_token");
  out.eos_token = tokenText(f, root, "eos_token");
  out.pad_token = tokenText(f, root, "pad_token");
  if (const json* extra = f.optional(root, "additional_special_tokens")) {
    f.array(*extra, "additional_special_tokens");
    for (size_t i = 0; i < extra->size(); ++i) {
      const std::string path = JsonFile::index("additional_special_tokens", i);
      const json& t = (*extra)[i];
      out.additional_special_tokens.push_back(t.is_object() ? f.string(f.member(t, path, "content"), path + ".content")
                                                            : f.string(t, path));
    }
  }
  if (const json* tmpl = f.optional(root, "chat_template")) {
    if (tmpl->is_string()) {
      out.chat_template = tmpl->get<std::string>();
    } else {
      // [{"name": "default", "template": "..."}, {"name": "tool_use", ...}]: the default one.
      f.array(*tmpl, "chat_template");
      for (size_t i = 0; i < tmpl->size(); ++i) {
        const std::string path = JsonFile::index("chat_template", i);
        const json& entry = f.object((*tmpl)[i], path);
        if (f.string(f.member(entry, path, "name"), path + ".name") == "default") {
          out.chat_template = f.string(f.member(entry, path, "template"), path + ".template");
        }
      }
    }
  }
}

void readEosIds(const std::string& file, HfTokenizerFiles& out) {
  JsonFile f(file, readMaybeGzipFile(file));
  const json* eos = f.optional(f.root(), "eos_token_id");
  if (eos == nullptr) return;
  if (eos->is_array()) {
    for (size_t i = 0; i < eos->size(); ++i) {
      out.eos_token_ids.push_back(f.id((*eos)[i], JsonFile::index("eos_token_id", i)));
    }
  } else {
    out.eos_token_ids.push_back(f.id(*eos, "eos_token_id"));
  }
}

}  // namespace

std::string readMaybeGzipFile(const std::string& path) {
  // gzread passes files that are not gzip-compressed through unchanged.
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), gzclose);
  GRAMRL_CHECK(file != nullptr, DataError, "{}: cannot open: {}", path, std::strerror(errno));
  std::string content;
  char buffer[1 << 16];
  for (;;) {
    const int n = gzread(file.get(), buffer, sizeof(buffer));
    if (n < 0) {
      int code = 0;
      const char* message = gzerror(file.get(), &code);
      throw DataError(fmt::format("{}: cannot read: {}", path, code == Z_ERRNO ? std::strerror(errno) : message));
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  // A truncated .gz ends without an error from gzread in some zlib versions; gzclose reports it.
  const int rc = gzclose(file.release());
  GRAMRL_CHECK(rc == Z_OK, DataError, "{}: cannot read: the compressed data is truncated or corrupt (zlib {})", path,
               rc);
  return content;
}

HfTokenizerFiles readHfTokenizerFiles(const std::string& path) {
  HfTokenizerFiles out;
  std::error_code ec;
  fs::path dir = path;
  fs::path tokenizer_file;
  if (fs::is_directory(dir, ec)) {
    for (const char* name : {"tokenizer.json", "tokenizer.json.gz"}) {
      if (tokenizer_file.empty() && fs::exists(dir / name, ec)) tokenizer_file = dir / name;
    }
    GRAMRL_CHECK(!tokenizer_file.empty(), DataError, "{}: no tokenizer.json or tokenizer.json.gz in this directory",
                 path);
  } else {
    GRAMRL_CHECK(fs::exists(dir, ec), DataError, "{}: no such tokenizer directory or file", path);
    tokenizer_file = dir;
    dir = dir.parent_path();
  }
  out.directory = dir.string();
  out.tokenizer_file = tokenizer_file.string();

  JsonFile f(out.tokenizer_file, readMaybeGzipFile(out.tokenizer_file));
  const json& root = f.root();
  readModel(f, f.member(root, "", "model"), out);
  if (const json* added = f.optional(root, "added_tokens")) readAddedTokens(f, *added, out);
  if (const json* normalizer = f.optional(root, "normalizer")) readNormalizer(f, *normalizer, "normalizer", out);
  bool byte_level = false;
  const json* pre = f.optional(root, "pre_tokenizer");
  if (pre != nullptr) readPreTokenizer(f, *pre, "pre_tokenizer", out, byte_level);
  if (!byte_level) f.fail("pre_tokenizer", "byte-level BPE needs a ByteLevel pre-tokenizer");
  if (const json* post = f.optional(root, "post_processor")) readPostProcessor(f, *post, "post_processor", out);
  readDecoder(f, root.contains("decoder") ? root["decoder"] : json(), "decoder");

  for (const char* name : {"tokenizer_config.json", "config.json", "generation_config.json"}) {
    const fs::path file = dir / name;
    if (!fs::exists(file, ec)) continue;
    if (std::strcmp(name, "tokenizer_config.json") == 0) {
      readTokenizerConfig(file.string(), out);
    } else {
      readEosIds(file.string(), out);
    }
  }
  return out;
}

}  // namespace gramrl::tokenizer
