// Turning the fd layer's results (fd.hpp) into Go's errors, for the os and net layers.
#pragma once

#include <string>
#include <system_error>
#include <utility>

#include "go/detail/poll_errors.hpp"
#include "go/errors.hpp"
#include "go/io.hpp"
#include "poll/fd.hpp"

namespace go::detail {

// errno_string is Go's text for an errno value (syscall.Errno's Error()): the C library's,
// with a lower-case first letter ("connection refused"). generic_category reads it with
// strerror_r; strerror may share one buffer among threads.
inline std::string errno_string(int e) {
  std::string s = std::generic_category().message(e);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && !(s.size() > 1 && s[1] >= 'A' && s[1] <= 'Z'))
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

// nest returns an exception E(args...) whose nested exception is inner (E derives from
// std::nested_exception, which captures the exception being handled when E is made).
template <class E, class... Args>
go::error nest(const go::error& inner, Args&&... args) {
  try {
    inner.rethrow();
  } catch (...) {
    return go::error(std::make_exception_ptr(E(std::forward<Args>(args)...)));
  }
  return go::error(std::make_exception_ptr(E(std::forward<Args>(args)...)));
}

// poll_error maps the fd layer's own codes (not errno values) to their errors.
inline go::error poll_error(int err, bool is_file) {
  switch (err) {
    case fd_eof: return io::eof;
    case fd_closing: return make_error_code(is_file ? poll_errc::file_closing : poll_errc::net_closing);
    case fd_timeout: return make_error_code(poll_errc::deadline_exceeded);
    case fd_no_deadline: return make_error_code(poll_errc::no_deadline);
    default: return std::error_code(err, std::system_category());
  }
}

// deadline_ns converts a deadline to nanotime(): 0 (none) for the zero time_point, and a
// time before the clock's epoch to one already passed.
inline std::int64_t deadline_ns(std::chrono::steady_clock::time_point t) noexcept {
  if (t == std::chrono::steady_clock::time_point{}) return 0;
  std::int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return ns > 0 ? ns : 1;
}

}  // namespace go::detail
