#include "bundle/discover.h"

#include <algorithm>
#include <filesystem>

#include "core/file.h"

namespace cc {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxDepth = 4;

// A directory that claims to be a model (and so is reported if it is a broken one).
bool looks_like_model(const fs::path& dir) {
  std::error_code ec;
  for (const char* f : {"config.json", kBundleConfig, "model.safetensors", "pytorch_model.bin", "text_model.onnx",
                        "visual_model.onnx", "audio_model.onnx"})
    if (fs::exists(dir / f, ec)) return true;
  return false;
}

// models--org--name/snapshots/<commit> -> the snapshot refs/main points at (else the newest).
std::string hf_cache_snapshot(const fs::path& repo_dir) {
  std::error_code ec;
  auto main_ref = read_file((repo_dir / "refs" / "main").string());
  if (main_ref.ok()) {
    std::string commit(main_ref->begin(), main_ref->end());
    while (!commit.empty() && (commit.back() == '\n' || commit.back() == ' ')) commit.pop_back();
    if (fs::is_directory(repo_dir / "snapshots" / commit, ec)) return (repo_dir / "snapshots" / commit).string();
  }
  fs::path newest;
  fs::file_time_type newest_time{};
  for (const auto& e : fs::directory_iterator(repo_dir / "snapshots", ec))
    if (e.is_directory() && (newest.empty() || e.last_write_time() > newest_time)) newest = e.path(), newest_time = e.last_write_time();
  return newest.string();
}

void add(Discovery& d, const std::string& name, const std::string& dir) {
  auto info = inspect_model(dir);
  if (info.ok()) d.models.push_back({name, std::move(info).value()});
  else d.skipped.push_back({dir, info.error().message});
}

void walk(Discovery& d, const fs::path& root, const fs::path& dir, int depth) {
  std::error_code ec;
  std::vector<fs::path> children;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec) && e.path().filename().string()[0] != '.') children.push_back(e.path());
  std::sort(children.begin(), children.end());
  for (const auto& child : children) {
    const std::string leaf = child.filename().string();
    if (leaf.rfind("models--", 0) == 0) {  // the HF cache
      const std::string rest = leaf.substr(8);  // org--name
      const size_t sep = rest.find("--");
      const std::string name = sep == std::string::npos ? rest : rest.substr(0, sep) + '/' + rest.substr(sep + 2);
      const std::string snapshot = hf_cache_snapshot(child);
      if (snapshot.empty()) d.skipped.push_back({child.string(), "a Hugging Face cache entry without snapshots"});
      else add(d, name, snapshot);
    } else if (looks_like_model(child)) {
      std::string name = fs::relative(child, root).generic_string();
      if (name.rfind("embedders/", 0) == 0) name = name.substr(10);  // the Go server's layout
      add(d, name, child.string());
    } else if (depth < kMaxDepth) {
      walk(d, root, child, depth + 1);
    }
  }
}

}  // namespace

Result<Discovery> discover_models(const std::string& models_dir) {
  if (!is_directory(models_dir)) return error("models directory " + models_dir + ": not a directory");
  Discovery d;
  if (looks_like_model(models_dir)) add(d, fs::path(models_dir).filename().string(), models_dir);
  else walk(d, models_dir, models_dir, 1);
  std::sort(d.models.begin(), d.models.end(), [](const FoundModel& a, const FoundModel& b) { return a.name < b.name; });
  return d;
}

}  // namespace cc
