// How the process ends when it cannot go on: panics, fatal errors, SIGQUIT, stack overflow.
// panic.cpp owns the protocol (one report per process) and GOTRACEBACK.
#pragma once

#include <string>

namespace go::detail {

struct goroutine;

// What a report shows after its first line, before GOTRACEBACK has its say.
enum class fatal_show {
  one_goroutine,   // the goroutine given (a panic)
  all_goroutines,  // the goroutine given, if any, then every other one (a fatal error)
};

// fatal_report writes `first_line` and a blank line, then the goroutines `show` asks for,
// to stderr, and ends the process (report_end). g is the goroutine the report is about, or
// null; g_is_caller: g is the goroutine running this call, and its frames are the caller's.
[[noreturn]] void fatal_report(const std::string& first_line, fatal_show show, goroutine* g, bool g_is_caller) noexcept;

// report_begin takes the process's report lock: the first caller gets true; any later one
// blocks forever (its thread is parked, the first report finishes and exits), except the
// thread that holds it, which gets false (a report that failed while reporting).
bool report_begin() noexcept;

// report_end flushes C stdio and the standard iostreams and exits with status 2, or aborts
// (GOTRACEBACK=crash, for a core dump).
[[noreturn]] void report_end() noexcept;

}  // namespace go::detail
