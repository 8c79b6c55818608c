// clipclap pull: a hub snapshot into the shared Hugging Face cache, resumable and verified.
#include <fnmatch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "bundle/hub.h"
#include "bundle/hub_internal.h"
#include "core/file.h"
#include "core/packed_weights.h"
#include "core/sha256.h"

namespace cc {

namespace fs = std::filesystem;

namespace {

struct RemoteFile {
  std::string path;
  uint64_t size = 0;
  std::string sha256;  // LFS files only
  std::string etag;    // blob name in the cache: the sha256 for LFS files, the git blob id otherwise
};

bool is_commit_hash(const std::string& s) {
  return s.size() == 40 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

bool matches(const std::string& path, const std::string& pattern) { return fnmatch(pattern.c_str(), path.c_str(), 0) == 0; }

// What serving needs: configs, tokenizer files and safetensors weights. Other weight formats
// (pytorch_model.bin, tf_model.h5, flax, onnx) are left on the hub unless asked for.
bool wanted(const std::string& path, const PullOptions& opts) {
  if (opts.all_files) return true;
  for (const auto& p : opts.include)
    if (matches(path, p)) return true;
  if (path.find('/') != std::string::npos) return false;
  if (path == kPackedWeightsFile) return false;  // made for another machine and another copy; `clipclap pack` makes ours
  for (const char* p : {"*.json", "*.txt", "*.safetensors", "*.model", "README.md"})
    if (matches(path, p)) return true;
  return false;
}

Result<RemoteFile> parse_sibling(const nlohmann::json& s) {
  if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string())
    return error("hub metadata: a file entry lacks rfilename");
  RemoteFile f;
  f.path = s["rfilename"].get<std::string>();
  if (f.path.empty() || f.path[0] == '/' || f.path.find("..") != std::string::npos || f.path.find('\\') != std::string::npos)
    return error("hub metadata: refusing the file name '" + f.path + "'");
  if (!s.contains("size") || !s["size"].is_number_unsigned()) return error("hub metadata: '" + f.path + "' has no size");
  f.size = s["size"].get<uint64_t>();
  if (s.contains("lfs") && s["lfs"].is_object()) {
    f.sha256 = s["lfs"].value("sha256", "");
    if (f.sha256.size() != 64 || f.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
      return error("hub metadata: '" + f.path + "' has no valid LFS sha256");
    f.etag = f.sha256;
  } else {
    f.etag = s.value("blobId", "");
    if (f.etag.empty() || f.etag.find_first_not_of("0123456789abcdef") != std::string::npos)
      return error("hub metadata: '" + f.path + "' has no blobId");
  }
  return f;
}

uint64_t size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(n);
}

// Downloads one file into blobs/<etag>, resuming a .incomplete left by an earlier attempt.
Status fetch_blob(const HubSettings& hub, const RepoRef& ref, const std::string& commit, const RemoteFile& f,
                  const std::string& blob, const std::function<void(uint64_t)>& moved) {
  const std::string part = blob + ".incomplete";
  if (size_or_zero(part) > f.size) fs::remove(part);
  HttpRequest req;
  req.url = hub.endpoint + "/" + ref.repo + "/resolve/" + commit + "/" + url_encode_path(f.path);
  req.headers = hub_auth_headers(hub);
  req.download_path = part;
  const uint64_t before = size_or_zero(part);
  req.on_progress = [&](uint64_t now) { moved(before + now); };
  if (before < f.size || f.size == 0) {
    CC_TRY(HttpResponse r, http_request(req));
    if (r.status != 416 && (r.status < 200 || r.status >= 300)) return hub_error(hub, r, ref, f.path);
  }
  const uint64_t got = size_or_zero(part);
  if (got != f.size) {
    fs::remove(part);
    return error(ref.repo + ": " + f.path + ": received " + std::to_string(got) + " bytes, the hub lists " +
                 std::to_string(f.size) + " (partial download removed; run again)");
  }
  if (!f.sha256.empty()) {
    CC_TRY(std::string sum, sha256_file(part));
    if (sum != f.sha256) {
      fs::remove(part);
      return error(ref.repo + ": " + f.path + ": sha256 mismatch: the hub lists " + f.sha256 + ", the download has " + sum +
                   " (download removed)");
    }
  }
  std::error_code ec;
  fs::rename(part, blob, ec);
  if (ec) return error("cannot move " + part + " into place: " + ec.message());
  return Ok{};
}

// snapshots/<commit>/<path> -> ../../blobs/<etag> (relative, as huggingface_hub makes them).
Status link_into_snapshot(const std::string& snapshot, const RemoteFile& f) {
  const fs::path link = fs::path(snapshot) / f.path;
  std::string target = "../../blobs/" + f.etag;
  for (char c : f.path)
    if (c == '/') target = "../" + target;
  std::error_code ec;
  fs::create_directories(link.parent_path(), ec);
  fs::remove(link, ec);
  fs::create_symlink(target, link, ec);
  if (ec) return error("cannot link " + link.string() + ": " + ec.message());
  return Ok{};
}

}  // namespace

Result<std::string> cached_snapshot(const HubSettings& hub, const RepoRef& ref) {
  const std::string repo_dir = join_path(hub.cache_dir, ref.cache_folder());
  std::string commit = ref.revision;
  if (!is_commit_hash(commit)) {
    auto saved = read_file(join_path(repo_dir, "refs/" + ref.revision));
    if (!saved.ok()) return error(ref.repo + "@" + ref.revision + " is not in the cache " + hub.cache_dir);
    commit.assign(saved->begin(), saved->end());
    while (!commit.empty() && (commit.back() == '\n' || commit.back() == ' ')) commit.pop_back();
  }
  const std::string snapshot = join_path(repo_dir, "snapshots/" + commit);
  if (!is_file(join_path(snapshot, "model.safetensors")))
    return error(ref.repo + "@" + ref.revision + ": the cached snapshot " + snapshot + " has no model.safetensors");
  return snapshot;
}

Result<std::string> pull(const HubSettings& hub, const RepoRef& ref, const PullOptions& opts) {
  auto log = [&](const std::string& line) { if (opts.log) opts.log(line); };
  if (hub.offline) {
    auto cached = cached_snapshot(hub, ref);
    if (!cached.ok()) return cached.error().context("HF_HUB_OFFLINE is set");
    return cached;
  }
  HttpRequest meta;
  meta.url = hub.endpoint + "/api/models/" + ref.repo + "/revision/" + url_encode_path(ref.revision) + "?blobs=true";
  meta.headers = hub_auth_headers(hub);
  CC_TRY(HttpResponse r, http_request(meta));
  if (r.status != 200) return hub_error(hub, r, ref, "metadata");
  auto info = nlohmann::json::parse(r.body, nullptr, false);
  if (info.is_discarded() || !info.is_object() || !info.contains("sha") || !info["sha"].is_string() ||
      !is_commit_hash(info["sha"].get<std::string>()) || !info.contains("siblings") || !info["siblings"].is_array())
    return error(ref.repo + ": the hub's metadata is not what was expected (no commit sha or file list)");
  const std::string commit = info["sha"].get<std::string>();

  std::vector<RemoteFile> files;
  std::vector<std::string> all_names;
  bool has_safetensors = false;
  for (const auto& s : info["siblings"]) {
    CC_TRY(RemoteFile f, parse_sibling(s));
    all_names.push_back(f.path);
    if (f.path.size() > 12 && f.path.compare(f.path.size() - 12, 12, ".safetensors") == 0) has_safetensors = true;
    if (wanted(f.path, opts)) files.push_back(std::move(f));
  }
  if (!has_safetensors) {
    std::string listing;
    for (size_t i = 0; i < all_names.size() && i < 12; ++i) listing += (i ? ", " : "") + all_names[i];
    return error(ref.repo + "@" + ref.revision + " has no safetensors weights (files: " + listing +
                 "). Convert it: the hub's converter (https://huggingface.co/spaces/safetensors/convert) opens a pull "
                 "request you can pull as " + ref.repo + "@refs/pr/N; or locally with transformers: "
                 "AutoModel.from_pretrained(\"" + ref.repo + "\").save_pretrained(DIR, safe_serialization=True)");
  }

  const std::string repo_dir = join_path(hub.cache_dir, ref.cache_folder());
  const std::string snapshot = join_path(repo_dir, "snapshots/" + commit);
  std::error_code ec;
  fs::create_directories(join_path(repo_dir, "blobs"), ec);
  if (ec) return error("cannot create the cache " + repo_dir + ": " + ec.message());
  fs::create_directories(snapshot, ec);

  uint64_t total = 0, done = 0;
  std::vector<const RemoteFile*> todo;
  for (const auto& f : files) {
    const std::string in_snapshot = join_path(snapshot, f.path);
    if (is_file(in_snapshot) && size_or_zero(in_snapshot) == f.size) continue;
    todo.push_back(&f);
    total += f.size;
  }
  log(ref.repo + "@" + commit.substr(0, 12) + ": " + std::to_string(files.size()) + " files, " +
      std::to_string(todo.size()) + " to fetch (" + std::to_string(total / 1000000) + " MB)");
  for (const RemoteFile* f : todo) {
    const std::string blob = join_path(repo_dir, "blobs/" + f->etag);
    if (!(is_file(blob) && size_or_zero(blob) == f->size)) {
      CC_CHECK(fetch_blob(hub, ref, commit, *f, blob, [&](uint64_t now) {
        if (opts.progress) opts.progress(done + std::min(now, f->size), total);
      }));
    }
    done += f->size;
    if (opts.progress) opts.progress(done, total);
    CC_CHECK(link_into_snapshot(snapshot, *f));
  }
  if (ref.revision != commit) {
    fs::create_directories(join_path(repo_dir, "refs"), ec);
    const std::string ref_file = join_path(repo_dir, "refs/" + ref.revision);
    fs::create_directories(fs::path(ref_file).parent_path(), ec);  // refs/pr/1
    CC_CHECK(write_file_atomic(ref_file, commit.data(), commit.size()));
  }
  return snapshot;
}

}  // namespace cc
