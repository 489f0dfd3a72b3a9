// go::io::pipe, a port of Go's io/pipe.go: the writer hands its slice to the reader over an
// unbuffered channel and waits for the count the reader copied, so data goes straight from
// the write's buffer to the read's, and both park through the channels.
//
// Invariants
// - done is closed once (by the first close of either end) and never reopened; wr_ch and
//   rd_ch are never closed.
// - At most one write is in the exchange at a time (wr_mu): a reader that received a slice
//   from wr_ch always sends its count on rd_ch, and the writer that sent the slice always
//   receives it, so the pair never leaves the other blocked, even when done closes between.
// - rerr and werr each keep the first error stored in them.
#include <mutex>

#include "go/chan.hpp"
#include "go/io.hpp"
#include "go/select.hpp"
#include "go/sync.hpp"

namespace go::io {

namespace detail {

namespace {

// An error stored once: the first store wins (Go's onceError).
class once_error {
 public:
  void store(go::error err) {
    std::lock_guard lock(mu_);
    if (!err_) err_ = std::move(err);
  }
  go::error load() {
    std::lock_guard lock(mu_);
    return err_;
  }

 private:
  go::mutex mu_;  // guards err_
  go::error err_;
};

}  // namespace

struct pipe_state {
  go::mutex wr_mu;  // serializes writes
  chan<std::span<const std::byte>> wr_ch = make_chan<std::span<const std::byte>>();
  chan<std::size_t> rd_ch = make_chan<std::size_t>();

  go::once once;  // closes done
  chan<void> done = make_chan<void>();
  once_error rerr;
  once_error werr;

  bool closed() const { return done.try_recv() == chan_status::closed; }

  result read(std::span<std::byte> b) {
    if (closed()) return {0, read_close_error()};
    std::optional<std::span<const std::byte>> bw;
    go::select(go::recv_case(wr_ch, [&](std::optional<std::span<const std::byte>> v) { bw = v; }), go::recv_case(done));
    if (!bw) return {0, read_close_error()};
    std::size_t nr = std::min(b.size(), bw->size());
    std::copy_n(bw->data(), nr, b.data());
    rd_ch.send(nr);
    return {nr, {}};
  }

  result write(std::span<const std::byte> b) {
    if (closed()) return {0, write_close_error()};
    std::lock_guard lock(wr_mu);
    result out;
    // Even an empty write goes through the exchange once, as Go's does.
    for (bool first = true; first || !b.empty(); first = false) {
      bool sent = go::select(go::send_case(wr_ch, b, [] { return true; }), go::recv_case(done, [] { return false; }));
      if (!sent) {
        out.err = write_close_error();
        return out;
      }
      std::size_t nw = rd_ch.recv().value_or(0);
      b = b.subspan(nw);
      out.n += nw;
    }
    return out;
  }

  void close_read(go::error err) {
    if (!err) err = err_closed_pipe;
    rerr.store(std::move(err));
    once.call([this] { done.close(); });
  }

  void close_write(go::error err) {
    if (!err) err = eof;
    werr.store(std::move(err));
    once.call([this] { done.close(); });
  }

  go::error read_close_error() {
    go::error r = rerr.load(), w = werr.load();
    if (!r && w) return w;
    return err_closed_pipe;
  }

  go::error write_close_error() {
    go::error w = werr.load(), r = rerr.load();
    if (!w && r) return r;
    return err_closed_pipe;
  }
};

}  // namespace detail

result pipe_reader::read(std::span<std::byte> p) const { return p_->read(p); }
go::error pipe_reader::close() const { return close_with_error({}); }
go::error pipe_reader::close_with_error(go::error err) const {
  p_->close_read(std::move(err));
  return {};
}

result pipe_writer::write(std::span<const std::byte> p) const { return p_->write(p); }
go::error pipe_writer::close() const { return close_with_error({}); }
go::error pipe_writer::close_with_error(go::error err) const {
  p_->close_write(std::move(err));
  return {};
}

std::pair<pipe_reader, pipe_writer> pipe() {
  auto p = std::make_shared<detail::pipe_state>();
  return {pipe_reader(p), pipe_writer(std::move(p))};
}

}  // namespace go::io
