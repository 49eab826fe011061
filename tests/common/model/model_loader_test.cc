// loadModelWithTokenizer (NOTE [Model and tokenizer]): what it resolves for a builtin model, and
// its errors for a tokenizer that does not fit the model and for a missing chat template.
#include "common/model/model_loader.h"

#include <string>

#include <gtest/gtest.h>

#include "common/core/errors.h"
#include "common/model/presets.h"
#include "common/model/pretrained.h"
#include "common/model/transformer.h"
#include "tests/support/temp_dir.h"

namespace gramrl {
namespace {

std::string errorOf(const ModelLoadSpec& spec) {
  try {
    loadModelWithTokenizer(spec, at::kCPU);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

TEST(ModelLoaderTest, ResolvesTheBuiltinTokenizerAndItsChatTemplate) {
  ModelLoadSpec spec;
  spec.model = "builtin:tiny";
  const LoadedModel loaded = loadModelWithTokenizer(spec, at::kCPU);
  ASSERT_NE(loaded.model, nullptr);
  EXPECT_EQ(loaded.model->config().vocab_size, kByteModelVocabSize);
  EXPECT_EQ(loaded.tokenizer_spec, "builtin:bytes");
  EXPECT_EQ(loaded.chat_template, "plain");
  EXPECT_EQ(loaded.tokenizer->chatTemplateName(), "plain");
}

TEST(ModelLoaderTest, ATokenizerLargerThanTheModelsVocabularyIsOneConfigErrorNamingBoth) {
  // A checkpoint of the tiny preset cut to 100 embedding rows: the byte tokenizer's 264 ids do not fit.
  ModelConfig config = presetConfig("tiny");
  config.vocab_size = 100;
  testing::TempDir dir;
  Transformer model(config, at::kFloat, at::kCPU);
  initRandom(model, 1);  // not torch::empty's leftovers, which may hold NaN (refused at load)
  savePretrained(model, dir.path());
  ModelLoadSpec spec;
  spec.model = dir.path();
  spec.tokenizer = "builtin:bytes";
  spec.where = "reward";
  const std::string error = errorOf(spec);
  EXPECT_NE(error.find("reward: the tokenizer builtin:bytes has "), std::string::npos) << error;
  EXPECT_NE(error.find("more than the vocabulary of the model " + dir.path() + " (100)"), std::string::npos) << error;
}

TEST(ModelLoaderTest, NoChatTemplateIsAnErrorOnlyWhereOneIsRequired) {
  ModelLoadSpec spec;
  spec.model = "builtin:tiny";
  spec.chat_template = "";
  spec.where = "gram eval";
  spec.chat_template_key = "--chat-template";
  EXPECT_NE(errorOf(spec).find("gram eval: the tokenizer builtin:bytes ships no chat template gramrl knows; set "
                               "--chat-template"),
            std::string::npos)
      << errorOf(spec);
  spec.require_chat_template = false;  // gramrl generate: raw-text prompts
  EXPECT_EQ(loadModelWithTokenizer(spec, at::kCPU).chat_template, "");
}

TEST(ModelLoaderTest, AnEmptyModelIsAConfigError) {
  ModelLoadSpec spec;
  spec.where = "policy";
  EXPECT_NE(errorOf(spec).find("policy: expected a model checkpoint directory or builtin:<preset>"), std::string::npos);
}

}  // namespace
}  // namespace gramrl
