// go::io's sentinel errors: codes of one "io" category, so that returning and comparing them
// never allocates and every copy compares equal to the original.
#include "go/io.hpp"

#include <string>

namespace go::io {

namespace {

enum class code : int { eof = 1, unexpected_eof, closed_pipe, short_write, short_buffer, no_progress, invalid_write };

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "io"; }
  std::string message(int c) const override {
    switch (static_cast<code>(c)) {
      case code::eof: return "EOF";
      case code::unexpected_eof: return "unexpected EOF";
      case code::closed_pipe: return "io: read/write on closed pipe";
      case code::short_write: return "short write";
      case code::short_buffer: return "short buffer";
      case code::no_progress: return "multiple Read calls return no data or error";
      case code::invalid_write: return "invalid write result";
    }
    return "unknown io error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

namespace {
go::error make(code c) { return std::error_code(static_cast<int>(c), error_category()); }
}  // namespace

const go::error eof = make(code::eof);
const go::error err_unexpected_eof = make(code::unexpected_eof);
const go::error err_closed_pipe = make(code::closed_pipe);
const go::error err_short_write = make(code::short_write);
const go::error err_short_buffer = make(code::short_buffer);
const go::error err_no_progress = make(code::no_progress);
const go::error detail::err_invalid_write = make(code::invalid_write);

}  // namespace go::io
