#include "common/world/gold.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace gramrl::world {

int64_t levenshtein(const std::string& a, const std::string& b) {
  // The classic dynamic programme with one row: row[j] = distance(a[0..i), b[0..j)).
  std::vector<int64_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    int64_t diagonal = row[0];  // distance(a[0..i-1), b[0..j-1))
    row[0] = static_cast<int64_t>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int64_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

double goldScore(const Task& task, const std::string& response) {
  const size_t longest = std::max(response.size(), task.answer.size());
  if (longest == 0) return 1.0;
  return 1.0 - static_cast<double>(levenshtein(response, task.answer)) / static_cast<double>(longest);
}

double goldScore(const std::string& prompt, const std::string& response) {
  constexpr const char* kSpace = " \t\r\n";
  const size_t begin = response.find_first_not_of(kSpace);
  const std::string trimmed =
      begin == std::string::npos ? "" : response.substr(begin, response.find_last_not_of(kSpace) + 1 - begin);
  return goldScore(parseTask(prompt), trimmed);
}

}  // namespace gramrl::world
