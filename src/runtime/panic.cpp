// Panics and fatal errors: how the process ends when an exception escapes a goroutine (Go's
// unrecovered panic) or the runtime cannot go on (Go's throw).
//
// A panic. goroutine_main has no handler, so when an exception escapes a goroutine's
// function the C++ runtime's search phase finds none and calls std::terminate at the throw,
// with the goroutine's stack as it was: nothing is unwound and no destructor runs, as for an
// exception that escapes a std::thread. on_terminate (installed when this file is
// initialized) sees that it runs on a goroutine and prints Go's report:
//   panic: <the value>
//
//   goroutine 7 [running]:
//   <the frames from the throw down, traceback.cpp>
//   created by ...
// On any other thread it hands over to the handler it replaced. The value is printed as Go
// prints a panic's (panic_value below); a type it cannot print is named.
//
// A fatal error (fatal, fatal_with_dump: Go's throw) prints "fatal error: <message>" and
// every goroutine, or the one it concerns.
//
// Ending the process. C stdio and the standard iostreams are flushed before the report, so
// what the program printed survives a pipe and comes first; then _exit(2), Go's exit status,
// which runs no static destructor or atexit handler while goroutines still run on other
// workers. GOTRACEBACK=crash aborts instead, for a core dump, as Go's does.
//
// One report per process. The first thread to report takes the report lock and is the only
// one to print; any later one, a second panic or fatal error on another worker, blocks
// forever (Go's freezetheworld), so two reports never interleave and the exit status is the
// first one's. A report that fails while reporting (its thread already holds the lock) writes
// its first line and exits at once.
//
// GOTRACEBACK, as Go's: none (no goroutine), single (the default: a panic shows its own
// goroutine, a fatal error every goroutine), all and system (every goroutine), crash (every
// goroutine, then abort).
#include "runtime/panic.hpp"

#include <cxxabi.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <typeinfo>

#include "go/errors.hpp"
#include "runtime/scheduler.hpp"

namespace go::detail {

namespace {

enum class traceback_level { none, single, all, crash };

traceback_level traceback() noexcept {
  const char* v = std::getenv("GOTRACEBACK");  // NOLINT(concurrency-mt-unsafe): the library never calls setenv
  std::string_view s = v ? v : "";
  if (s == "none" || s == "0") return traceback_level::none;
  if (s == "all" || s == "system" || s == "2") return traceback_level::all;
  if (s == "crash") return traceback_level::crash;
  return traceback_level::single;
}

std::atomic<bool> report_taken{false};
thread_local bool reporting = false;

void write_all(std::string_view s) noexcept {
  while (!s.empty()) {
    ssize_t n = write(2, s.data(), s.size());
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;
    }
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

void flush_output() noexcept {
  try {
    std::cout.flush();
    std::clog.flush();
    std::wcout.flush();
    std::wclog.flush();
  } catch (...) {
  }
  std::fflush(nullptr);
}

// Go's print of a float64: +1.500000e+000.
std::string go_float(long double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.6Le", v);
  std::string s = buf;
  std::size_t e = s.find('e');
  if (e != std::string::npos && e + 2 < s.size()) {
    std::string digits = s.substr(e + 2);
    while (digits.size() < 3) digits.insert(0, "0");
    s = s.substr(0, e + 2) + digits;
  }
  return s;
}

std::string type_name(const std::type_info* t) {
  if (!t) return "?";
  int status = 0;
  char* demangled = abi::__cxa_demangle(t->name(), nullptr, nullptr, &status);
  std::string out = demangled ? demangled : t->name();
  std::free(demangled);
  return out;
}

// panic_value is what Go prints after "panic: ": an error's message, a string, a number, a
// bool; for any other type its name, "(T)" (Go prints "(main.T) 0x..." for values it cannot
// format).
std::string panic_value(const std::exception_ptr& ep, int depth = 0) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (const go::error& e) {
    if (!e) return "panic called with nil argument";
    return depth < 8 ? panic_value(e.exception(), depth + 1) : e.message();
  } catch (const std::error_code& e) {
    return e.message();
  } catch (const std::string& s) {
    return s;
  } catch (std::string_view s) {
    return std::string(s);
  } catch (const char* s) {
    return s ? s : "nil";
  } catch (bool v) {
    return v ? "true" : "false";
  } catch (char v) {
    return std::to_string(static_cast<int>(v));
  } catch (signed char v) {
    return std::to_string(v);
  } catch (unsigned char v) {
    return std::to_string(v);
  } catch (wchar_t v) {
    return std::to_string(static_cast<long>(v));
  } catch (char8_t v) {
    return std::to_string(static_cast<unsigned>(v));
  } catch (char16_t v) {
    return std::to_string(static_cast<unsigned>(v));
  } catch (char32_t v) {
    return std::to_string(static_cast<unsigned long>(v));
  } catch (short v) {
    return std::to_string(v);
  } catch (unsigned short v) {
    return std::to_string(v);
  } catch (int v) {
    return std::to_string(v);
  } catch (unsigned v) {
    return std::to_string(v);
  } catch (long v) {
    return std::to_string(v);
  } catch (unsigned long v) {
    return std::to_string(v);
  } catch (long long v) {
    return std::to_string(v);
  } catch (unsigned long long v) {
    return std::to_string(v);
  } catch (float v) {
    return go_float(v);
  } catch (double v) {
    return go_float(v);
  } catch (long double v) {
    return go_float(v);
  } catch (...) {
    return "(" + type_name(abi::__cxa_current_exception_type()) + ")";
  }
}

std::terminate_handler previous_terminate = nullptr;

// std::terminate's handler: an exception escaped a goroutine (see the top), or terminate was
// called on one for another reason (noexcept, a joinable std::thread destroyed).
[[noreturn]] void on_terminate() {
  goroutine* g = current_goroutine();
  if (!g) {
    if (previous_terminate) previous_terminate();
    std::abort();
  }
  std::exception_ptr ep = std::current_exception();
  std::string first;
  try {
    first = ep ? "panic: " + panic_value(ep) : "fatal error: std::terminate called without an active exception";
  } catch (...) {
    first = "panic: ?";
  }
  fatal_report(first, fatal_show::one_goroutine, g, true);
}

[[maybe_unused]] const bool terminate_installed = [] {
  previous_terminate = std::set_terminate(&on_terminate);
  return true;
}();

}  // namespace

bool report_begin() noexcept {
  if (reporting) return false;
  bool expected = false;
  if (!report_taken.compare_exchange_strong(expected, true)) {
    for (;;) pause();  // the first report exits the process
  }
  reporting = true;
  return true;
}

void report_end() noexcept {
  flush_output();
  if (traceback() == traceback_level::crash) {
    signal(SIGABRT, SIG_DFL);
    std::abort();
  }
  _exit(2);
}

void fatal_report(const std::string& first_line, fatal_show show, goroutine* g, bool g_is_caller) noexcept {
  if (!report_begin()) {
    write_all("\n");
    write_all(first_line);
    write_all(" [while reporting]\n");
    _exit(2);
  }
  // What the program printed comes before the report, as Go's unbuffered output would.
  flush_output();
  traceback_level level = traceback();
  bool all = show == fatal_show::all_goroutines || level >= traceback_level::all;
  try {
    std::ostringstream out;
    out << first_line << "\n";
    if (level != traceback_level::none) {
      if (g) {
        out << "\n";
        print_goroutine(out, g, g_is_caller);
      }
      if (all) {
        out << "\n";
        dump_all(out);
      }
    }
    write_all(out.str());
  } catch (...) {
    write_all(first_line);
    write_all("\n");
  }
  report_end();
}

void fatal(const char* msg, goroutine* g) noexcept {
  // g, if any, is about to run on this worker: the caller is the worker's scheduler.
  fatal_report(std::string("fatal error: ") + msg, fatal_show::one_goroutine, g, false);
}

void fatal_with_dump(const char* msg) noexcept {
  fatal_report(std::string("fatal error: ") + msg, fatal_show::all_goroutines, nullptr, false);
}

}  // namespace go::detail
