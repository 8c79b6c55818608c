// The Hugging Face hub: where it is (HF_ENDPOINT), who we are (HF_TOKEN, or the token file
// huggingface_hub writes), and its cache layout on disk (HF_HUB_CACHE, HF_HOME), shared with
// Python tools: <cache>/models--org--name/{blobs/<etag>, snapshots/<commit>/<file>, refs/<rev>}.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"

namespace cc {

struct HubSettings {
  std::string endpoint;  // no trailing slash
  std::string token;     // empty: anonymous
  std::string cache_dir;
  bool offline = false;  // HF_HUB_OFFLINE=1: the cache only

  static HubSettings from_environment();
};

struct RepoRef {
  std::string repo;             // "org/name"
  std::string revision = "main";
  static Result<RepoRef> parse(const std::string& spec);  // "org/name" or "org/name@revision"
  std::string cache_folder() const;                       // "models--org--name"
};

// Whether `spec` has the shape of a hub reference rather than a path.
bool looks_like_repo(const std::string& spec);

struct PullOptions {
  bool all_files = false;             // default: configs, tokenizer files and safetensors only
  std::vector<std::string> include;   // extra glob patterns (fnmatch), e.g. "*.onnx"
  std::function<void(uint64_t done, uint64_t total)> progress;
  std::function<void(const std::string& line)> log;
};

// Downloads (or finds in the cache) a snapshot and returns its directory. Sizes are checked for
// every file and sha256 for LFS files; an interrupted download resumes from its .incomplete blob.
Result<std::string> pull(const HubSettings& hub, const RepoRef& ref, const PullOptions& opts);

// The cached snapshot of `ref`, if one is complete enough to hold model.safetensors.
Result<std::string> cached_snapshot(const HubSettings& hub, const RepoRef& ref);

struct PushOptions {
  std::string summary = "Upload clipclap bundle";
  bool private_repo = false;
  std::function<void(uint64_t done, uint64_t total)> progress;
  std::function<void(const std::string& line)> log;
};

// Creates the repository if needed, uploads large files through the LFS batch API (basic or
// multipart), then commits every file of `dir` in one commit. Returns the commit URL.
Result<std::string> push(const HubSettings& hub, const std::string& dir, const RepoRef& ref, const PushOptions& opts);

}  // namespace cc
