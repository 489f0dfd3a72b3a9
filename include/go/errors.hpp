// Errors: how Go's error values map to C++.
//
//   Go                                  gocxx
//   var err error  (nil)                go::error err;                    (empty: !err)
//   if err != nil                       if (err)
//   err.Error()                         err.message()
//   errors.New("boom")                  go::make_error("boom")
//   context.Canceled                    go::errc::canceled
//   context.DeadlineExceeded            go::errc::deadline_exceeded
//   err == context.Canceled             err == go::errc::canceled
//   errors.Is(err, target)              err.is(target)                    (target: errc, error_code, error)
//   errors.As(err, &target)             err.as<E>()                       (const E*, or null)
//   fmt.Errorf("read: %w", err)         go::wrap_error(err, "read")
//   panic(err)                          err.rethrow()
//
// The model
// - Errors the runtime itself reports are std::error_code values of the gocxx category:
//   go::errc::canceled ("context canceled") and go::errc::deadline_exceeded ("context
//   deadline exceeded"). They are equivalent to the standard conditions
//   std::errc::operation_canceled and std::errc::timed_out, so code that knows nothing of
//   gocxx can test `err.code() == std::errc::timed_out` (Go's `Timeout() bool`).
// - go::error is the value a function returns where Go returns `error`: a small copyable
//   value that is empty (nil), holds a std::error_code, or holds any exception
//   (std::exception_ptr): a user's error, a cause passed to a cancel function, an exception
//   caught in a goroutine. Making and copying an error_code error never allocates.
// - errors.Is: err.is(target) is true when err equals target, or when an exception in err's
//   chain does: the chain is the std::nested_exception list (what std::throw_with_nested and
//   go::wrap_error build), and an exception's code is that of std::system_error. Two
//   exception errors are equal when they hold the same exception object (Go compares error
//   values by identity too): a sentinel error is made once and copied.
// - Errors are values, not exceptions: nothing here throws except rethrow().
//
// Example:
//   const go::error err_not_found = go::make_error("not found");   // a sentinel, made once
//   go::error find(...) { ... return err_not_found; }
//   if (auto err = find(...); err.is(err_not_found)) ...
//   if (ctx.err() == go::errc::deadline_exceeded) ...
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace go {

// errc enumerates the errors the runtime reports (Go's context.Canceled and
// context.DeadlineExceeded).
enum class errc : int {
  canceled = 1,           // "context canceled"
  deadline_exceeded = 2,  // "context deadline exceeded"
};

// error_category is the category of errc codes; its name() is "gocxx".
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

}  // namespace go

template <>
struct std::is_error_code_enum<go::errc> : std::true_type {};

namespace go {

namespace detail {

class gocxx_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "gocxx"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::canceled: return "context canceled";
      case errc::deadline_exceeded: return "context deadline exceeded";
    }
    return "unknown gocxx error";
  }
  std::error_condition default_error_condition(int c) const noexcept override {
    switch (static_cast<errc>(c)) {
      case errc::canceled: return std::errc::operation_canceled;
      case errc::deadline_exceeded: return std::errc::timed_out;
    }
    return {c, *this};
  }
};

}  // namespace detail

inline const std::error_category& error_category() noexcept {
  static const detail::gocxx_category category;
  return category;
}

// error is Go's `error`: empty (nil), an error code, or an exception. See the top of this file.
class error {
 public:
  error() noexcept = default;  // nil
  error(errc e) noexcept : code_(make_error_code(e)) {}
  error(std::error_code ec) noexcept : code_(ec) {}
  // An exception error; a null exception_ptr makes nil.
  // (clang-tidy takes the member exception_ for an exception object that is never thrown.)
  error(std::exception_ptr ep) noexcept : exception_(std::move(ep)) {}  // NOLINT(bugprone-throw-keyword-missing)

  // true unless nil.
  explicit operator bool() const noexcept { return code_ || exception_; }

  // message is Go's Error(): the code's message or the exception's what(); "" for nil.
  std::string message() const {
    if (code_) return code_.message();
    if (!exception_) return {};
    try {
      std::rethrow_exception(exception_);
    } catch (const std::exception& e) {
      return e.what();
    } catch (...) {
      return "unknown exception";
    }
  }

  // code is the error code: its own, or that of a std::system_error it holds; empty otherwise.
  std::error_code code() const noexcept {
    if (code_ || !exception_) return code_;
    if (const auto* e = as<std::system_error>()) return e->code();
    return {};
  }

  // exception returns the error as an exception (a std::system_error for a code); null for nil.
  std::exception_ptr exception() const noexcept {
    if (exception_) return exception_;
    if (code_) return std::make_exception_ptr(std::system_error(code_));
    return nullptr;
  }

  // rethrow throws the error as an exception (see exception()); nothing for nil.
  void rethrow() const {
    if (*this) std::rethrow_exception(exception());
  }

  // as returns the exception of type E in the error's chain (Go's errors.As), or null.
  template <class E>
  const E* as() const noexcept {
    return find_in_chain<E>(exception_);
  }

  // is reports whether this error or one in its chain matches target (Go's errors.Is).
  bool is(const error& target) const noexcept {
    if (!target) return !*this;
    if (target.code_) return has_code(target.code_);
    return chain_contains(exception_, target.exception_);
  }
  bool is(errc target) const noexcept { return has_code(make_error_code(target)); }
  bool is(std::error_code target) const noexcept { return has_code(target); }
  bool is(std::errc target) const noexcept { return has_condition(std::make_error_condition(target)); }

  // == compares values: the same code, or the same exception object (Go's err == target).
  friend bool operator==(const error& a, const error& b) noexcept {
    return a.code_ == b.code_ && a.exception_ == b.exception_;
  }
  friend bool operator==(const error& a, errc b) noexcept { return a.code_ == make_error_code(b); }

 private:
  template <class E>
  static const E* find_in_chain(std::exception_ptr ep) noexcept {
    for (int depth = 0; ep && depth < 64; ++depth) {
      try {
        std::rethrow_exception(ep);
      } catch (const E& e) {
        return &e;  // the exception object lives as long as ep's copies do
      } catch (const std::nested_exception& n) {
        ep = n.nested_ptr();
        continue;
      } catch (...) {
      }
      return nullptr;
    }
    return nullptr;
  }

  static bool chain_contains(std::exception_ptr ep, const std::exception_ptr& target) noexcept {
    for (int depth = 0; ep && depth < 64; ++depth) {
      if (ep == target) return true;
      try {
        std::rethrow_exception(ep);
      } catch (const std::nested_exception& n) {
        ep = n.nested_ptr();
        continue;
      } catch (...) {
      }
      return false;
    }
    return false;
  }

  template <class Match>
  bool chain_any(Match match) const noexcept {
    if (code_) return match(code_);
    std::exception_ptr ep = exception_;
    for (int depth = 0; ep && depth < 64; ++depth) {
      try {
        std::rethrow_exception(ep);
      } catch (const std::system_error& e) {
        if (match(e.code())) return true;
        if (const auto* n = dynamic_cast<const std::nested_exception*>(&e)) {
          ep = n->nested_ptr();
          continue;
        }
      } catch (const std::nested_exception& n) {
        ep = n.nested_ptr();
        continue;
      } catch (...) {
      }
      return false;
    }
    return false;
  }

  bool has_code(std::error_code target) const noexcept {
    return chain_any([&](std::error_code c) { return c == target; });
  }
  bool has_condition(std::error_condition target) const noexcept {
    return chain_any([&](std::error_code c) { return c == target; });
  }

  std::error_code code_;
  std::exception_ptr exception_;
};

// make_error returns a new error with the given message (Go's errors.New). Each call makes a
// distinct error: errors made by two calls with the same text are not equal.
[[nodiscard]] inline error make_error(const std::string& message) {
  return error(std::make_exception_ptr(std::runtime_error(message)));
}

namespace detail {
// The exception wrap_error builds: a message plus the wrapped error as its nested exception.
class wrapped_error : public std::runtime_error, public std::nested_exception {
 public:
  explicit wrapped_error(const std::string& what) : std::runtime_error(what) {}
};
}  // namespace detail

// wrap_error returns an error whose message is "context: <err's message>" and whose chain
// continues with err (Go's fmt.Errorf("context: %w", err)). Wrapping nil gives nil.
[[nodiscard]] inline error wrap_error(const error& err, std::string_view context) {
  if (!err) return {};
  std::string what(context);
  what += ": ";
  what += err.message();
  try {
    err.rethrow();
  } catch (...) {
    // wrapped_error's nested_exception base captures the exception being handled: err.
    return error(std::make_exception_ptr(detail::wrapped_error(what)));
  }
  return {};
}

}  // namespace go
