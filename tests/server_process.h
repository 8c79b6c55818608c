// Starts the real clipclap binary as `clipclap serve --port 0 ...` for end-to-end tests, reads
// the port it prints, and stops it with SIGTERM.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace cc::test {

class ServerProcess {
 public:
  explicit ServerProcess(const std::vector<std::string>& args) {
    log_path_ = "/tmp/clipclap_serve_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++) + ".log";
    int out[2];
    if (pipe(out) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addopen(&fa, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> argv_s = {CLIPCLAP_BINARY, "serve", "--port", "0"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, CLIPCLAP_BINARY, &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    // "listening on http://127.0.0.1:PORT"
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (pid_ > 0 && line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char c;
      if (read(out[0], &c, 1) != 1) break;
      line += c;
    }
    close(out[0]);
    const size_t colon = line.rfind(':');
    if (line.rfind("listening on", 0) == 0 && colon != std::string::npos) port_ = std::stoi(line.substr(colon + 1));
  }

  ~ServerProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    std::remove(log_path_.c_str());
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  // SIGTERM, then the exit code (-1 if it did not exit within the timeout or died by signal).
  int terminate(int timeout_s = 30) {
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      usleep(20000);
    }
    return -1;
  }

  long rss_kb() const { return status_field("VmRSS:"); }
  long threads() const { return status_field("Threads:"); }

  long status_field(const std::string& name) const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string key;
    long value = 0;
    while (in >> key) {
      if (key == name) {
        in >> value;
        return value;
      }
      in.ignore(1 << 20, '\n');
    }
    return -1;
  }

  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  pid_t pid_ = -1;
  int port_ = 0;
  bool exited_ = false;
  std::string log_path_;
};

}  // namespace cc::test
