// Files and pipes that park the goroutine, not the thread (Go's package os, the part that
// goroutines wait on).
//
//   Go                                      gocxx
//   r, w, err := os.Pipe()                  auto [r, w, err] = go::os::pipe();
//   f := os.NewFile(fd, name)               go::os::file f = go::os::new_file(fd, name);
//   n, err := f.Read(buf), f.Write(buf)     auto [n, err] = f.read(buf);  f.write(buf)
//   f.Close()                               f.close()
//   f.SetDeadline(t), SetReadDeadline, ...  f.set_deadline(t), set_read_deadline, set_write_deadline
//   f.Fd(), f.Name()                        f.fd(), f.name()
//   os.ErrClosed, os.ErrDeadlineExceeded    go::os::err_closed, go::os::err_deadline_exceeded
//   os.ErrNoDeadline, os.ErrInvalid         go::os::err_no_deadline, go::os::err_invalid
//   *os.PathError, *os.SyscallError         go::os::path_error, go::os::syscall_error
//   (in a stackless goroutine)              co_await go::os::async_read(f, buf), go::os::async_write (go/async_io.hpp)
//
// Guarantees (Go's)
// - A file over a pipe, a socket, a terminal or anything else the poller can wait on is
//   non-blocking underneath: a read or write that cannot proceed parks only its goroutine
//   (wait reason "IO wait"). A file the poller cannot wait on (a regular file) blocks its
//   thread inside go::blocking, so other goroutines keep running; deadlines then fail with
//   err_no_deadline.
// - new_file(fd, name) uses the poller only if fd is already in non-blocking mode, as Go's
//   os.NewFile: switching a descriptor shared with another process (a terminal, stdin) to
//   non-blocking would change it for that process too. pipe() makes non-blocking pipes.
// - write writes all of p or returns an error; reads return io::eof at end of input.
// - Closing a file wakes a goroutine blocked in read or write on it with an error that is
//   err_closed ("read |0: file already closed"); later calls fail the same way. The
//   descriptor is closed once no call uses it any more. A write to a pipe whose reader is
//   closed fails with EPIPE ("write |1: broken pipe"), never a SIGPIPE.
// - Deadlines: a time_point after which reads (or writes) fail with an error that
//   is(err_deadline_exceeded) and is(std::errc::timed_out), Go's "i/o timeout". One already
//   passed fails at once; setting a new one takes effect for a call already waiting. The zero
//   time_point (steady_clock::time_point{}) means no deadline, as Go's zero time.Time.
// - file is a handle: copies refer to the same open file. The last handle closes it if
//   nobody did (as Go's finalizer would). Operations are const: a goroutine captures a file
//   by value.
//
// Example:
//   auto [r, w, err] = go::os::pipe();
//   go::spawn([w] { w.write(std::as_bytes(std::span("hi", 2))); w.close(); });
//   std::array<std::byte, 16> buf;
//   auto [n, rerr] = r.read(buf);  // n == 2; the next read returns go::io::eof
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <system_error>

#include "go/detail/fd_handle.hpp"
#include "go/detail/poll_errors.hpp"
#include "go/errors.hpp"
#include "go/io.hpp"

namespace go::os {

// err_closed: an operation on a closed file (Go's os.ErrClosed, "file already closed").
inline const go::error err_closed{make_error_code(detail::poll_errc::file_closing)};
// err_deadline_exceeded: a deadline passed (Go's os.ErrDeadlineExceeded, "i/o timeout").
inline const go::error err_deadline_exceeded{make_error_code(detail::poll_errc::deadline_exceeded)};
// err_invalid: an operation on no file (a default-constructed handle; Go's os.ErrInvalid).
inline const go::error err_invalid{make_error_code(detail::poll_errc::invalid)};
// err_no_deadline: deadlines on a file the poller cannot wait on (Go's os.ErrNoDeadline).
inline const go::error err_no_deadline{make_error_code(detail::poll_errc::no_deadline)};

// syscall_error is a failed system call (Go's *os.SyscallError): what() is
// "<syscall>: <error>", e.g. "connect: connection refused"; code() is the errno value.
class syscall_error : public std::system_error {
 public:
  syscall_error(std::string syscall, int errno_value);
  const char* what() const noexcept override { return what_.c_str(); }
  const std::string& syscall() const noexcept { return syscall_; }

 private:
  std::string what_, syscall_;  // in this order: what_ is made from the argument
};

// new_syscall_error returns a syscall_error as an error (Go's os.NewSyscallError).
[[nodiscard]] go::error new_syscall_error(std::string syscall, int errno_value);

// path_error records an error and the operation and file that caused it (Go's
// *os.PathError): "<op> <path>: <err>". The error is its nested exception.
class path_error : public std::runtime_error, public std::nested_exception {
 public:
  path_error(const std::string& what, std::string op, std::string path)
      : std::runtime_error(what), op_(std::move(op)), path_(std::move(path)) {}
  const std::string& op() const noexcept { return op_; }
  const std::string& path() const noexcept { return path_; }

 private:
  std::string op_, path_;
};

// file is an open file descriptor (Go's *os.File). See the top for its guarantees.
class file {
 public:
  file() noexcept = default;  // no file: every operation fails with err_invalid

  // read reads up to p.size() bytes; io::eof at end of input.
  io::result read(std::span<std::byte> p) const;
  // write writes all of p, or returns how much it wrote and why it stopped.
  io::result write(std::span<const std::byte> p) const;
  // close closes the file; a second close returns an error that is err_closed.
  go::error close() const;

  go::error set_deadline(std::chrono::steady_clock::time_point t) const;
  go::error set_read_deadline(std::chrono::steady_clock::time_point t) const;
  go::error set_write_deadline(std::chrono::steady_clock::time_point t) const;

  // fd is the descriptor (-1 once closed, or for no file). It stays valid only while the file
  // is open; it is non-blocking if the poller waits on it.
  int fd() const noexcept;
  // name is the name given to new_file ("|0" and "|1" for pipe's ends).
  const std::string& name() const noexcept;

  explicit operator bool() const noexcept { return bool(h_); }
  friend bool operator==(const file& a, const file& b) noexcept { return a.h_ == b.h_; }

 private:
  friend file new_file(int fd, std::string name);
  friend struct file_access;  // async_io.hpp
  explicit file(detail::poll_fd* f) noexcept : h_(f) {}
  detail::fd_handle h_;
};

// new_file returns a file that owns fd (see the top for when the poller waits on it); no file
// if fd is negative.
[[nodiscard]] file new_file(int fd, std::string name);

struct pipe_result {
  file r, w;
  go::error err;
};

// pipe returns a connected pair of files: what is written to w is read from r (Go's os.Pipe).
[[nodiscard]] pipe_result pipe();

}  // namespace go::os
