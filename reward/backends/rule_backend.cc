#include "reward/backends/rule_backend.h"

#include <algorithm>
#include <string_view>

#include <fmt/format.h>

#include "common/core/errors.h"
#include "common/world/gold.h"

namespace gramrl::reward {
namespace {

std::string_view trimAscii(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) + 1 - begin);
}

}  // namespace

const std::vector<std::string>& ruleCheckNames() {
  static const std::vector<std::string> names{"world_gold", "exact_match", "contains_label", "length"};
  return names;
}

bool isRuleCheck(const std::string& check) {
  const auto& names = ruleCheckNames();
  return std::find(names.begin(), names.end(), check) != names.end();
}

RuleBackend::RuleBackend(const std::string& check) : check_(check) {
  GRAMRL_CHECK(isRuleCheck(check), ConfigError, "reward.rule.check: unknown rule check '{}'; known: {}", check,
               fmt::join(ruleCheckNames(), ", "));
  if (check == "world_gold") {
    kind_ = Check::kWorldGold;
  } else if (check == "exact_match") {
    kind_ = Check::kExactMatch;
  } else if (check == "contains_label") {
    kind_ = Check::kContainsLabel;
  } else {
    kind_ = Check::kLength;
  }
}

std::vector<double> RuleBackend::scoreResponses(const std::vector<PointwiseItem>& items, const ItemNamer& name) {
  std::vector<double> out;
  out.reserve(items.size());
  for (size_t k = 0; k < items.size(); ++k) out.push_back(score(items[k], name, k));
  return out;
}

double RuleBackend::score(const PointwiseItem& item, const ItemNamer& name, size_t k) const {
  switch (kind_) {
    case Check::kWorldGold: try { return world::goldScore(item.prompt, item.response);
      } catch (const DataError& e) {
        throw DataError(fmt::format("{}: {}: {}", this->name(), name(k), e.what()));
      }
    case Check::kExactMatch:
      GRAMRL_CHECK(!item.label.empty(), DataError, "{}: {} has no label to compare the response with", this->name(),
                   name(k));
      return trimAscii(item.response) == trimAscii(item.label) ? 1.0 : 0.0;
    case Check::kContainsLabel:
      GRAMRL_CHECK(!item.label.empty(), DataError, "{}: {} has no label to look for in the response", this->name(),
                   name(k));
      return item.response.find(item.label) != std::string::npos ? 1.0 : 0.0;
    case Check::kLength: return static_cast<double>(item.response.size());
  }
  GRAMRL_ASSERT(false, "unhandled rule check {}", check_);
}

}  // namespace gramrl::reward
