// nats_server runs a nats-server of a test's own: on a free port of 127.0.0.1, with
// JetStream storing into a temporary folder that lives as long as the object, so that
// stop() and start() restart the same server with the same streams. Used by the tests, the
// example and the benchmark. The binary is GOCXX_NATS_SERVER (cmake/nats.cmake's
// find_program) or the environment's NATS_SERVER.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace gocxx_nats_test {

inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

inline std::string server_binary() {
  if (const char* env = std::getenv("NATS_SERVER")) return env;
#ifdef GOCXX_NATS_SERVER
  return GOCXX_NATS_SERVER;
#else
  return "nats-server";
#endif
}

class nats_server {
 public:
  // extra: more nats-server arguments, e.g. {"--user", "u", "--pass", "p"}.
  explicit nats_server(std::vector<std::string> extra = {}) : extra_(std::move(extra)), port_(free_port()) {
    char tmpl[] = "/tmp/gocxx-nats-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    start();
  }
  nats_server(const nats_server&) = delete;
  nats_server& operator=(const nats_server&) = delete;
  ~nats_server() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  // start runs the server and returns once it accepts connections; throws, saying why, if
  // it cannot (the binary missing, the server exiting).
  void start() {
    std::string bin = server_binary();
    if (bin.find('/') != std::string::npos ? ::access(bin.c_str(), X_OK) != 0 : !on_path(bin)) {
      throw std::runtime_error("nats-server not found (" + bin + "): apt-get install nats-server");
    }
    std::vector<std::string> args = {bin, "-a", "127.0.0.1", "-p", std::to_string(port_), "-js", "-sd", dir_ + "/js"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string log = dir_ + "/server.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!port_open(port_)) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("nats-server exited at start (see " + log + ")");
      }
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("nats-server did not start");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // pause stops the server's process (SIGSTOP): it reads nothing until resume (SIGCONT).
  void pause() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
  void resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }
  // stop ends the server (SIGTERM, SIGKILL after 5 s) and waits for it; crash ends it with
  // SIGKILL at once.
  void crash() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  static bool on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= p.size()) {
      std::size_t end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      if (::access((p.substr(start, end - start) + "/" + name).c_str(), X_OK) == 0) return true;
      start = end + 1;
    }
    return false;
  }

  std::vector<std::string> extra_;
  int port_;
  std::string dir_;
  pid_t pid_ = -1;
};

}  // namespace gocxx_nats_test
