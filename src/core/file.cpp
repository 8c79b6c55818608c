#include "core/file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace cc {

static std::string errno_text() { return std::strerror(errno); }

Result<std::vector<uint8_t>> read_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return error(path + ": " + errno_text());
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) return error(path + ": read error");
  return bytes;
}

Result<nlohmann::json> read_json(const std::string& path) {
  CC_TRY(auto bytes, read_file(path));
  auto j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return error(path + ": not valid JSON");
  return j;
}

Result<size_t> MappedFile::file_size(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return error(path + ": " + errno_text());
  if (!S_ISREG(st.st_mode)) return error(path + ": not a regular file");
  return static_cast<size_t>(st.st_size);
}

Result<std::shared_ptr<MappedFile>> MappedFile::open(const std::string& path) {
  CC_TRY(size_t size, file_size(path));
  return open_range(path, 0, size);
}

Result<std::shared_ptr<MappedFile>> MappedFile::open_range(const std::string& path, size_t offset, size_t length) {
  CC_TRY(size_t size, file_size(path));
  if (offset > size || length > size - offset) return error(path + ": range lies outside the file");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error(path + ": " + errno_text());
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->path_ = path;
  m->size_ = length;
  if (length > 0) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t aligned = offset / page * page;
    m->map_size_ = length + (offset - aligned);
    void* p = mmap(nullptr, m->map_size_, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(aligned));
    if (p == MAP_FAILED) {
      std::string why = errno_text();
      ::close(fd);
      return error(path + ": mmap: " + why);
    }
    m->map_base_ = p;
    m->data_ = static_cast<const uint8_t*>(p) + (offset - aligned);
  }
  ::close(fd);
  return m;
}

void MappedFile::release_pages() const {
  if (map_base_ && map_size_) madvise(map_base_, map_size_, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (map_base_) munmap(map_base_, map_size_);
}

std::string temporary_beside(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  const std::string prefix = p.filename().string() + ".";  // "<name>.tmp-<pid>", "<name>.projection.tmp-<pid>", ...
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(p.parent_path().empty() ? fs::path(".") : p.parent_path(), ec)) {
    const std::string name = e.path().filename().string();
    const size_t tag = name.rfind(".tmp-");
    if (name.compare(0, prefix.size(), prefix) != 0 || tag == std::string::npos || tag + 1 < prefix.size()) continue;
    const std::string digits = name.substr(tag + 5);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);  // its writer is gone
  }
  return path + ".tmp-" + std::to_string(getpid());
}

Status write_file_atomic(const std::string& path, const std::function<bool(FILE*)>& write) {
  const std::string tmp = temporary_beside(path);
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return error(path + ": " + errno_text());
  bool ok = write(f);
  ok = (std::fflush(f) == 0) && ok;
  ok = (fsync(fileno(f)) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = errno_text();
    std::remove(tmp.c_str());
    return error(path + ": write failed: " + why);
  }
  return Ok{};
}

Status write_file_atomic(const std::string& path, const void* data, size_t size) {
  return write_file_atomic(path, [&](FILE* f) { return std::fwrite(data, 1, size, f) == size; });
}

std::string file_stamp(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_size) + '|' + std::to_string(st.st_mtim.tv_sec) + '.' + std::to_string(st.st_mtim.tv_nsec);
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

}  // namespace cc
