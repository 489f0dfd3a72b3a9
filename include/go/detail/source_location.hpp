// source_location: where a blocking call was made, for the goroutine dump's "blocked at
// file:line in function".
//
// It is gocxx's own type with every compiler and standard library, never an alias of
// std::source_location: the library exports functions that take it (chan_send, select_go,
// park, ...), so it is part of their mangled names and of how their arguments are passed, and
// a library built by one compiler must link with code built by another (g++ 12 has
// std::source_location; clang 14 with libstdc++ 12 has not). tests/consumer builds a consumer
// with the other compiler to check it.
//
// current() captures its caller's position when used as a default argument. Where the
// standard library has std::source_location it takes the position from it (GCC's function
// name is then the full signature, e.g. "main()::<lambda()>"); elsewhere from the compiler's
// builtins, which give the same file and line. Which one is used changes only current()'s
// inline body, never a type in an exported signature.
#pragma once

#if __has_include(<source_location>)
#include <source_location>
#endif
#include <bit>
#include <cstdint>
#include <type_traits>

namespace go::detail {

struct source_location {
#if defined(__cpp_lib_source_location)
  static constexpr source_location current(std::source_location s = std::source_location::current()) noexcept {
    return source_location(s.file_name(), s.function_name(), s.line(), s.column());
  }
#else
  static constexpr source_location current(const char* file = __builtin_FILE(),
                                           const char* function = __builtin_FUNCTION(),
                                           unsigned line = __builtin_LINE(),
                                           unsigned column = __builtin_COLUMN()) noexcept {
    return source_location(file, function, line, column);
  }
#endif

  constexpr source_location() noexcept = default;
  static constexpr source_location make(const char* file, const char* function, unsigned line,
                                        unsigned column) noexcept {
    return source_location(file, function, line, column);
  }
  constexpr const char* file_name() const noexcept { return file_; }
  constexpr const char* function_name() const noexcept { return function_; }
  constexpr unsigned line() const noexcept { return line_; }
  constexpr unsigned column() const noexcept { return column_; }

 private:
  constexpr source_location(const char* file, const char* function, unsigned line, unsigned column) noexcept
      : file_(file), function_(function), line_(line), column_(column) {}

  const char* file_ = "";
  const char* function_ = "";
  unsigned line_ = 0;
  unsigned column_ = 0;
};

// The same layout with every compiler. The library's blocking functions take it by const
// reference: one word, passed down their call chain without a copy at each level (by value,
// its four words went through memory at every call), and a constant site costs no stores.
// A coroutine takes it by value (a reference parameter would outlive the caller's temporary).
static_assert(std::is_trivially_copyable_v<source_location> && std::is_standard_layout_v<source_location>);

// call_site: where a co_await was written, as an awaiter keeps it until it suspends. A
// coroutine keeps its awaiters, and the temporaries of the expressions that built them, in
// its frame, so what an awaiter holds is stored at every co_await, fast path included.
// Where the standard library has std::source_location, a call_site is one word: the address
// of the record the compiler emits once per call site, or (of) of a source_location that
// outlives the awaiter, marked by the low bit; both records have the layout that
// std::source_location's builtin fixes (file, function, line, column). Elsewhere it holds a
// source_location. location() is what the library's functions take, built only on the path
// that suspends.
//
// An awaitable's function takes `call_site::arg site = GOCXX_CALL_SITE`: the caller's
// position as a pointer, not a class, so the co_await keeps no temporary of it in the frame.
// It is a macro because the compiler gives a default argument the caller's position only
// where the builtin itself is the default argument (or std::source_location::current(),
// which is a class).
//
// The two representations differ in size, so every class that holds a call_site carries
// GOCXX_CALL_SITE_ABI: its mangled names then name the representation, and code built by two
// compilers never shares one definition of, say, send_awaiter<int> with two layouts.
#if defined(__cpp_lib_source_location) && __has_builtin(__builtin_source_location)
#define GOCXX_CALL_SITE_ABI [[gnu::abi_tag("gocxx_site_std")]]
#define GOCXX_CALL_SITE __builtin_source_location()
struct GOCXX_CALL_SITE_ABI call_site {
  using arg = const void*;

  call_site(arg record) noexcept : word_(reinterpret_cast<std::uintptr_t>(record)) {}  // NOLINT: implicit
  // s must outlive every awaiter built with the result (a coroutine's parameter does).
  static call_site of(const source_location& s) noexcept { return call_site(&s, 1); }
  source_location location() const noexcept {
    if (word_ & 1) return *reinterpret_cast<const source_location*>(word_ & ~std::uintptr_t{1});
    auto s = std::bit_cast<std::source_location>(word_);
    return source_location::make(s.file_name(), s.function_name(), s.line(), s.column());
  }

 private:
  call_site(const source_location* s, std::uintptr_t mark) noexcept
      : word_(reinterpret_cast<std::uintptr_t>(s) | mark) {}
  std::uintptr_t word_;
};
static_assert(sizeof(std::source_location) == sizeof(std::uintptr_t) && alignof(source_location) > 1);
#else
#define GOCXX_CALL_SITE_ABI [[gnu::abi_tag("gocxx_site_own")]]
#define GOCXX_CALL_SITE ::go::detail::source_location::current()
struct GOCXX_CALL_SITE_ABI call_site {
  using arg = source_location;

  constexpr call_site(arg s) noexcept : s_(s) {}  // NOLINT: implicit
  static constexpr call_site of(const source_location& s) noexcept { return call_site(s); }
  constexpr source_location location() const noexcept { return s_; }

 private:
  source_location s_;
};
#endif

}  // namespace go::detail
