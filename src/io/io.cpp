// go::io's sentinel errors: codes of one "io" category, so that returning and comparing them
// never allocates and every copy compares equal to the original.
#include "go/io.hpp"

#include <string>

namespace go::io {

namespace {

enum class code : int { eof = 1, unexpected_eof, closed_pipe, short_write };

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "io"; }
  std::string message(int c) const override {
    switch (static_cast<code>(c)) {
      case code::eof: return "EOF";
      case code::unexpected_eof: return "unexpected EOF";
      case code::closed_pipe: return "io: read/write on closed pipe";
      case code::short_write: return "short write";
    }
    return "unknown io error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

const go::error eof{std::error_code(static_cast<int>(code::eof), error_category())};
const go::error err_unexpected_eof{std::error_code(static_cast<int>(code::unexpected_eof), error_category())};
const go::error err_closed_pipe{std::error_code(static_cast<int>(code::closed_pipe), error_category())};
const go::error err_short_write{std::error_code(static_cast<int>(code::short_write), error_category())};

}  // namespace go::io
