// The errors of Go's internal/poll, which go::os and go::net share: error codes of the "poll"
// category, so returning or copying one never allocates. os.hpp and net.hpp name them.
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

namespace go::detail {

enum class poll_errc : int {
  net_closing = 1,        // "use of closed network connection" (net.ErrClosed)
  file_closing = 2,       // "file already closed" (os.ErrClosed)
  deadline_exceeded = 3,  // "i/o timeout" (os.ErrDeadlineExceeded): std::errc::timed_out
  no_deadline = 4,        // "file type does not support deadline" (os.ErrNoDeadline)
  canceled = 5,           // "operation was canceled" (a dial's context was canceled)
  invalid = 6,            // "invalid argument" (os.ErrInvalid: a call on no file)
};

class poll_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "poll"; }
  std::string message(int c) const override {
    switch (static_cast<poll_errc>(c)) {
      case poll_errc::net_closing: return "use of closed network connection";
      case poll_errc::file_closing: return "file already closed";
      case poll_errc::deadline_exceeded: return "i/o timeout";
      case poll_errc::no_deadline: return "file type does not support deadline";
      case poll_errc::canceled: return "operation was canceled";
      case poll_errc::invalid: return "invalid argument";
    }
    return "unknown poll error";
  }
  std::error_condition default_error_condition(int c) const noexcept override {
    switch (static_cast<poll_errc>(c)) {
      case poll_errc::deadline_exceeded: return std::errc::timed_out;
      case poll_errc::canceled: return std::errc::operation_canceled;
      case poll_errc::invalid: return std::errc::invalid_argument;
      default: return {c, *this};
    }
  }
};

inline const std::error_category& poll_error_category() noexcept {
  static const poll_category category;
  return category;
}

inline std::error_code make_error_code(poll_errc e) noexcept { return {static_cast<int>(e), poll_error_category()}; }

}  // namespace go::detail

template <>
struct std::is_error_code_enum<go::detail::poll_errc> : std::true_type {};
