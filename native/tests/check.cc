// The harness's registry, failure reporting and main().
#include "check.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <vector>

namespace bpt {
namespace {

struct TestCase {
  std::string stem;  // the file name without directory and extension: the CTest test's name
  std::string name;
  TestFn fn;
};

// Function-local statics: registration runs from other files' static initialisers.
std::vector<TestCase>& registry() {
  static std::vector<TestCase> tests;
  return tests;
}
std::vector<std::string>& contexts() {
  static std::vector<std::string> stack;
  return stack;
}

const TestCase* current = nullptr;
size_t failures = 0;                // in the running test case
constexpr size_t kMaxReports = 25;  // per test case; the rest are only counted

std::string stemOf(const char* path) {
  const char* base = std::strrchr(path, '/');
  std::string s = base ? base + 1 : path;
  const size_t dot = s.rfind('.');
  return dot == std::string::npos ? s : s.substr(0, dot);
}

bool selected(const TestCase& t, const std::vector<std::string>& filters) {
  if (filters.empty()) return true;
  for (const auto& f : filters)
    if (f == t.stem || f == t.name || f == t.stem + "." + t.name) return true;
  return false;
}

}  // namespace

int registerTest(const char* file, const char* name, TestFn fn) {
  registry().push_back({stemOf(file), name, fn});
  return 0;
}

void fail(const char* file, int line, const std::string& message) {
  ++failures;
  if (failures > kMaxReports) {
    if (failures == kMaxReports + 1)
      std::printf("  (further failures of this test case are counted, not printed)\n");
    return;
  }
  std::string where;
  for (const auto& c : contexts()) where += (where.empty() ? "" : " ") + c;
  std::printf("%s:%d: FAILED %s%s%s%s\n    %s\n", file, line, current ? current->name.c_str() : "",
              where.empty() ? "" : " [", where.c_str(), where.empty() ? "" : "]", message.c_str());
  std::fflush(stdout);
}

void note(const std::string& message) { std::printf("  note: %s\n", message.c_str()); }

Context::Context(const std::string& label) { contexts().push_back(label); }
Context::~Context() { contexts().pop_back(); }

void reportArrayMismatch(const char* file, int line, const std::string& what, size_t bad, size_t n,
                         const std::string& firstMismatches) {
  fail(file, line, str(what, ": ", bad, " of ", n, " elements differ", firstMismatches));
}

}  // namespace bpt

int main(int argc, char** argv) {
  using namespace bpt;
  std::vector<std::string> filters;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--list") == 0)
      list = true;
    else
      filters.push_back(argv[i]);
  }
  size_t passed = 0, failed = 0, ran = 0;
  for (const TestCase& t : registry()) {
    if (!selected(t, filters)) continue;
    if (list) {
      std::printf("%s.%s\n", t.stem.c_str(), t.name.c_str());
      continue;
    }
    ++ran;
    current = &t;
    failures = 0;
    std::printf("[ RUN    ] %s.%s\n", t.stem.c_str(), t.name.c_str());
    std::fflush(stdout);
    try {
      t.fn();
    } catch (const std::exception& e) {
      fail(t.stem.c_str(), 0, str("unexpected exception: ", e.what()));
    }
    contexts().clear();
    if (failures) {
      ++failed;
      std::printf("[ FAILED ] %s.%s (%zu failed checks)\n", t.stem.c_str(), t.name.c_str(),
                  failures);
    } else {
      ++passed;
      std::printf("[     OK ] %s.%s\n", t.stem.c_str(), t.name.c_str());
    }
    std::fflush(stdout);
  }
  if (list) return 0;
  if (ran == 0) {
    std::printf("no test case matches the arguments given\n");
    return 1;
  }
  std::printf("%zu passed, %zu failed\n", passed, failed);
  return failed ? 1 : 0;
}
