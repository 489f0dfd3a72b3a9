// go::os::file and go::os::pipe (include/go/os.hpp) over the fd layer (src/poll/fd.hpp).
#include <fcntl.h>
#include <unistd.h>

#include "go/async_io.hpp"
#include "go/os.hpp"
#include "poll/errors.hpp"
#include "poll/fd.hpp"

namespace go::os {

using detail::poll_fd;

syscall_error::syscall_error(std::string syscall, int errno_value)
    : std::system_error(errno_value, std::system_category()),
      what_(syscall + ": " + detail::errno_string(errno_value)),
      syscall_(std::move(syscall)) {}

go::error new_syscall_error(std::string syscall, int errno_value) {
  return go::error(std::make_exception_ptr(syscall_error(std::move(syscall), errno_value)));
}

namespace {

// wrap is Go's File.wrapErr: end of input and nil as they are, anything else in a path_error.
go::error wrap(const poll_fd* f, const char* op, int err) {
  if (err == 0) return {};
  if (err == detail::fd_eof) return io::eof;
  go::error inner = detail::poll_error(err, true);
  std::string what = std::string(op) + " " + f->name + ": " + (err > 0 ? detail::errno_string(err) : inner.message());
  return detail::nest<path_error>(inner, what, op, f->name);
}

go::error invalid(const char* op) {
  return detail::nest<path_error>(err_invalid, std::string(op) + " : invalid argument", op, "");
}

go::error set_deadline_mode(const detail::fd_handle& h, std::chrono::steady_clock::time_point t, int mode) {
  if (!h) return err_invalid;
  return wrap(h.get(), "SetDeadline", detail::fd_set_deadline(h.get(), detail::deadline_ns(t), mode));
}

}  // namespace

namespace {

io::result io_result_of(poll_fd* f, const char* op, detail::fd_result r) {
  if (r.err == 0) return {r.n, {}};
  return {r.n, wrap(f, op, r.err)};
}

}  // namespace

io::result file::read(std::span<std::byte> p) const {
  if (!h_) return {0, invalid("read")};
  return io_result_of(h_.get(), "read", detail::fd_read(h_.get(), p));
}

io::result file::write(std::span<const std::byte> p) const {
  if (!h_) return {0, invalid("write")};
  return io_result_of(h_.get(), "write", detail::fd_write(h_.get(), p));
}

go::error file::close() const {
  if (!h_) return err_invalid;
  return wrap(h_.get(), "close", detail::fd_close(h_.get()));
}

go::error file::set_deadline(std::chrono::steady_clock::time_point t) const {
  return set_deadline_mode(h_, t, 'r' + 'w');
}
go::error file::set_read_deadline(std::chrono::steady_clock::time_point t) const {
  return set_deadline_mode(h_, t, 'r');
}
go::error file::set_write_deadline(std::chrono::steady_clock::time_point t) const {
  return set_deadline_mode(h_, t, 'w');
}

int file::fd() const noexcept { return h_ ? h_.get()->sysfd : -1; }

const std::string& file::name() const noexcept {
  static const std::string none;
  return h_ ? h_.get()->name : none;
}

file new_file(int fd, std::string name) {
  if (fd < 0) return {};
  int flags = ::fcntl(fd, F_GETFL);
  poll_fd* f;
  if (flags >= 0 && (flags & O_NONBLOCK)) {
    f = detail::fd_new(fd);  // the poller waits on it if it can
  } else {
    f = new poll_fd;  // blocking mode: calls block the thread, inside go::blocking
    f->sysfd = fd;
  }
  f->is_file = true;
  f->name = std::move(name);
  return file(f);
}

pipe_result pipe() {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return {{}, {}, new_syscall_error("pipe2", errno)};
  return {new_file(fds[0], "|0"), new_file(fds[1], "|1"), {}};
}

}  // namespace go::os

namespace go::detail {

// file_io_result is the result of a stackless goroutine's file read or write (go/async_io.hpp).
io::result file_io_result(io_op& op) {
  const char* name = op.kind == io_kind::write ? "write" : "read";
  if (!op.f) return {0, os::invalid(name)};
  return os::io_result_of(op.f, name, {op.n, op.err});
}

}  // namespace go::detail
