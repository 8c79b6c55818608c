// clipclap push: a directory to a hub repository in one commit. Large files go through the
// LFS batch API first (basic PUT, or multipart when the hub asks for it); the commit then
// refers to them by sha256, and carries small files inline (base64).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bundle/hub.h"
#include "bundle/hub_internal.h"
#include "core/base64.h"
#include "core/file.h"
#include "core/packed_weights.h"
#include "core/sha256.h"

namespace cc {

namespace fs = std::filesystem;

namespace {

struct LocalFile {
  std::string path;  // relative, '/'-separated
  std::string full;
  uint64_t size = 0;
  std::string sha256;
  bool lfs = false;
};

Result<std::vector<LocalFile>> list_files(const std::string& dir) {
  std::vector<LocalFile> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {  // .git, .cache, editor files
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    if (name == kPackedWeightsFile) continue;  // derived from model.safetensors for this machine: not the model
    LocalFile f;
    f.full = it->path().string();
    f.path = it->path().lexically_relative(dir).generic_string();  // not fs::relative: it resolves symlinks
    f.size = it->file_size();
    CC_TRY(f.sha256, sha256_file(f.full));
    files.push_back(std::move(f));
  }
  if (ec) return error("cannot list " + dir + ": " + ec.message());
  if (files.empty()) return error(dir + ": nothing to push");
  std::sort(files.begin(), files.end(), [](const LocalFile& a, const LocalFile& b) { return a.path < b.path; });
  return files;
}

Result<std::string> sample_of(const LocalFile& f) {
  std::ifstream in(f.full, std::ios::binary);
  std::string head(512, '\0');
  in.read(head.data(), 512);
  head.resize(static_cast<size_t>(in.gcount()));
  return base64_encode(head.data(), head.size());
}

Result<nlohmann::json> post_json(const HubSettings& hub, const RepoRef& ref, const std::string& url, const nlohmann::json& body,
                                 const std::string& what, const std::string& content_type = "application/json") {
  HttpRequest req;
  req.method = "POST";
  req.url = url;
  req.headers = hub_auth_headers(hub);
  req.headers.push_back("Content-Type: " + content_type);
  req.headers.push_back("Accept: " + content_type);
  req.body = body.dump();
  CC_TRY(HttpResponse r, http_request(req));
  if (r.status < 200 || r.status >= 300) return hub_error(hub, r, ref, what);
  auto j = nlohmann::json::parse(r.body.empty() ? "{}" : r.body, nullptr, false);
  if (j.is_discarded()) return error(ref.repo + ": " + what + ": the hub's answer is not JSON");
  return j;
}

std::vector<std::string> action_headers(const nlohmann::json& action, bool skip_parts) {
  std::vector<std::string> h;
  if (!action.contains("header") || !action["header"].is_object()) return h;
  for (auto& [k, v] : action["header"].items()) {
    if (!v.is_string()) continue;
    if (skip_parts && (k == "chunk_size" || k.find_first_not_of("0123456789") == std::string::npos)) continue;
    h.push_back(k + ": " + v.get<std::string>());
  }
  return h;
}

// One LFS object: PUT in one piece, or in parts with a completion call.
Status upload_lfs(const HubSettings& hub, const RepoRef& ref, const LocalFile& f, const nlohmann::json& upload,
                  const std::function<void(uint64_t)>& moved) {
  const std::string href = upload.value("href", "");
  if (href.empty()) return error(ref.repo + ": LFS upload of " + f.path + ": the hub gave no upload URL");
  const nlohmann::json header = upload.value("header", nlohmann::json::object());
  if (header.contains("chunk_size")) {
    const std::string chunk_text = header["chunk_size"].is_string() ? header["chunk_size"].get<std::string>() : header["chunk_size"].dump();
    const uint64_t chunk = std::strtoull(chunk_text.c_str(), nullptr, 10);
    if (chunk == 0) return error(ref.repo + ": LFS upload of " + f.path + ": bad chunk_size");
    nlohmann::json parts = nlohmann::json::array();
    for (uint64_t offset = 0, part = 1; offset < f.size; offset += chunk, ++part) {
      char key[16];
      std::snprintf(key, sizeof key, "%05llu", static_cast<unsigned long long>(part));
      if (!header.contains(key) || !header[key].is_string()) return error(ref.repo + ": LFS upload of " + f.path + ": no URL for part " + key);
      HttpRequest put;
      put.method = "PUT";
      put.url = header[key].get<std::string>();
      put.upload_path = f.full, put.upload_offset = offset, put.upload_size = std::min(chunk, f.size - offset);
      put.on_progress = [&, offset](uint64_t now) { moved(offset + now); };
      CC_TRY(HttpResponse r, http_request(put));
      if (r.status < 200 || r.status >= 300) return hub_error(hub, r, ref, "LFS part " + std::string(key) + " of " + f.path);
      std::string etag = r.headers.count("etag") ? r.headers["etag"] : "";
      parts.push_back({{"partNumber", part}, {"etag", etag}});
    }
    HttpRequest done;
    done.method = "POST";
    done.url = href;
    done.headers = {"Content-Type: application/vnd.git-lfs+json", "Accept: application/vnd.git-lfs+json"};
    done.body = nlohmann::json{{"oid", f.sha256}, {"parts", parts}}.dump();
    CC_TRY(HttpResponse r, http_request(done));
    if (r.status < 200 || r.status >= 300) return hub_error(hub, r, ref, "completing the LFS upload of " + f.path);
    return Ok{};
  }
  HttpRequest put;
  put.method = "PUT";
  put.url = href;
  put.headers = action_headers(upload, false);
  put.upload_path = f.full, put.upload_offset = 0, put.upload_size = f.size;
  put.on_progress = moved;
  CC_TRY(HttpResponse r, http_request(put));
  if (r.status < 200 || r.status >= 300) return hub_error(hub, r, ref, "LFS upload of " + f.path);
  return Ok{};
}

}  // namespace

Result<std::string> push(const HubSettings& hub, const std::string& dir, const RepoRef& ref, const PushOptions& opts) {
  auto log = [&](const std::string& line) { if (opts.log) opts.log(line); };
  if (hub.token.empty()) return error("push needs a token with write access: set HF_TOKEN");
  if (hub.offline) return error("HF_HUB_OFFLINE is set: cannot push");
  if (!is_directory(dir)) return error(dir + ": not a directory");
  CC_TRY(std::vector<LocalFile> files, list_files(dir));

  // The repository: created if absent (409 = it exists).
  {
    const size_t slash = ref.repo.find('/');
    HttpRequest req;
    req.method = "POST";
    req.url = hub.endpoint + "/api/repos/create";
    req.headers = hub_auth_headers(hub);
    req.headers.push_back("Content-Type: application/json");
    req.body = nlohmann::json{{"type", "model"}, {"name", ref.repo.substr(slash + 1)}, {"organization", ref.repo.substr(0, slash)},
                              {"private", opts.private_repo}}.dump();
    CC_TRY(HttpResponse r, http_request(req));
    if (r.status != 409 && (r.status < 200 || r.status >= 300)) return hub_error(hub, r, ref, "creating the repository");
  }

  // Which files the hub wants through LFS.
  const std::string api = hub.endpoint + "/api/models/" + ref.repo;
  nlohmann::json pre = {{"files", nlohmann::json::array()}};
  for (const auto& f : files) {
    CC_TRY(std::string sample, sample_of(f));
    pre["files"].push_back({{"path", f.path}, {"size", f.size}, {"sample", sample}});
  }
  CC_TRY(nlohmann::json modes, post_json(hub, ref, api + "/preupload/" + url_encode_path(ref.revision), pre, "preupload"));
  if (modes.contains("files") && modes["files"].is_array())
    for (const auto& m : modes["files"])
      for (auto& f : files)
        if (m.value("path", "") == f.path) f.lfs = m.value("uploadMode", "regular") == "lfs";

  std::vector<const LocalFile*> lfs_files;
  uint64_t total = 0, done = 0;
  for (const auto& f : files)
    if (f.lfs) lfs_files.push_back(&f), total += f.size;
  if (!lfs_files.empty()) {
    nlohmann::json batch = {{"operation", "upload"}, {"transfers", {"basic", "multipart"}}, {"hash_algo", "sha256"},
                            {"ref", {{"name", ref.revision}}}, {"objects", nlohmann::json::array()}};
    for (const auto* f : lfs_files) batch["objects"].push_back({{"oid", f->sha256}, {"size", f->size}});
    CC_TRY(nlohmann::json answer, post_json(hub, ref, hub.endpoint + "/" + ref.repo + ".git/info/lfs/objects/batch", batch,
                                            "LFS batch", "application/vnd.git-lfs+json"));
    if (!answer.contains("objects") || !answer["objects"].is_array()) return error(ref.repo + ": LFS batch: no objects in the answer");
    for (const auto* f : lfs_files) {
      const nlohmann::json* obj = nullptr;
      for (const auto& o : answer["objects"])
        if (o.value("oid", "") == f->sha256) obj = &o;
      if (!obj) return error(ref.repo + ": LFS batch: the hub did not answer for " + f->path);
      if (obj->contains("error")) return error(ref.repo + ": LFS batch: " + f->path + ": " + (*obj)["error"].dump());
      const auto actions = obj->value("actions", nlohmann::json::object());
      if (actions.contains("upload")) {
        log("uploading " + f->path + " (" + std::to_string(f->size / 1000000) + " MB, LFS)");
        CC_CHECK(upload_lfs(hub, ref, *f, actions["upload"], [&](uint64_t now) {
          if (opts.progress) opts.progress(done + std::min(now, f->size), total);
        }));
        if (actions.contains("verify")) {
          HttpRequest verify;
          verify.method = "POST";
          verify.url = actions["verify"].value("href", "");
          verify.headers = action_headers(actions["verify"], false);
          verify.headers.push_back("Content-Type: application/vnd.git-lfs+json");
          verify.body = nlohmann::json{{"oid", f->sha256}, {"size", f->size}}.dump();
          CC_TRY(HttpResponse r, http_request(verify));
          if (r.status < 200 || r.status >= 300) return hub_error(hub, r, ref, "verifying the LFS upload of " + f->path);
        }
      } else {
        log(f->path + ": already on the hub");
      }
      done += f->size;
      if (opts.progress) opts.progress(done, total);
    }
  }

  // The commit: NDJSON, header first.
  std::string ndjson = nlohmann::json{{"key", "header"}, {"value", {{"summary", opts.summary}, {"description", ""}}}}.dump() + "\n";
  for (const auto& f : files) {
    if (f.lfs) {
      ndjson += nlohmann::json{{"key", "lfsFile"}, {"value", {{"path", f.path}, {"algo", "sha256"}, {"oid", f.sha256}, {"size", f.size}}}}.dump() + "\n";
    } else {
      CC_TRY(std::vector<uint8_t> bytes, read_file(f.full));
      ndjson += nlohmann::json{{"key", "file"}, {"value", {{"path", f.path}, {"encoding", "base64"},
                                                           {"content", base64_encode(bytes.data(), bytes.size())}}}}.dump() + "\n";
    }
  }
  HttpRequest commit;
  commit.method = "POST";
  commit.url = api + "/commit/" + url_encode_path(ref.revision);
  commit.headers = hub_auth_headers(hub);
  commit.headers.push_back("Content-Type: application/x-ndjson");
  commit.body = ndjson;
  CC_TRY(HttpResponse r, http_request(commit));
  if (r.status < 200 || r.status >= 300) return hub_error(hub, r, ref, "commit");
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  const std::string url = (!j.is_discarded() && j.is_object()) ? j.value("commitUrl", "") : "";
  return url.empty() ? hub.endpoint + "/" + ref.repo : url;
}

}  // namespace cc
