// An imitation of the Hugging Face hub endpoints that pull and push use, on a loopback port,
// for tests without network: model metadata (?blobs=true), resolve with a redirect to a "CDN"
// path that honours Range, repository creation, preupload, the LFS batch API (basic and
// multipart), LFS verify, and the NDJSON commit API. It can cut a download midway.
#pragma once

#include <httplib.h>

#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "core/sha256.h"

namespace cc::test {

struct FakeFile {
  std::string content;
  bool lfs = false;
  std::string listed_sha256;  // non-empty: what the metadata claims (a wrong checksum)
};

struct FakeRepo {
  bool private_repo = false;
  std::map<std::string, FakeFile> files;
  std::string commit = std::string(40, 'a');
};

class FakeHub {
 public:
  std::string token = "hf_test_write_token";
  std::string cut_file;            // the next CDN download of this file sends cut_after bytes and drops
  size_t cut_after = 0;
  uint64_t multipart_above = 0;    // >0: LFS objects larger than this are uploaded in parts of this size
  std::vector<std::string> ranges_seen;
  int lfs_uploads = 0, lfs_parts = 0, commits = 0;

  FakeHub() {
    auto authorised = [this](const httplib::Request& req) { return req.get_header_value("Authorization") == "Bearer " + token; };
    auto json = [](httplib::Response& res, int status, const nlohmann::json& j) {
      res.status = status;
      res.set_content(j.dump(), "application/json");
    };
    auto repo_error = [&json](httplib::Response& res, int status, const char* code) {
      res.set_header("X-Error-Code", code);
      json(res, status, {{"error", code}});
    };

    server_.Get(R"(/api/models/([^/]+/[^/]+)/revision/(.+))", [=, this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = repos.find(req.matches[1]);
      if (it == repos.end()) return repo_error(res, 404, "RepoNotFound");
      if (it->second.private_repo && !authorised(req)) return repo_error(res, 401, "RepoNotFound");
      nlohmann::json siblings = nlohmann::json::array();
      for (const auto& [path, f] : it->second.files) {
        const std::string sha = sha256_hex(f.content.data(), f.content.size());
        nlohmann::json s = {{"rfilename", path}, {"size", f.content.size()}, {"blobId", sha.substr(0, 40)}};
        if (f.lfs) s["lfs"] = {{"sha256", f.listed_sha256.empty() ? sha : f.listed_sha256}, {"size", f.content.size()}, {"pointerSize", 134}};
        siblings.push_back(s);
      }
      json(res, 200, {{"id", req.matches[1]}, {"sha", it->second.commit}, {"siblings", siblings}});
    });

    server_.Get(R"(/([^/]+/[^/]+)/resolve/([^/]+)/(.+))", [=, this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = repos.find(req.matches[1]);
      if (it == repos.end()) return repo_error(res, 404, "RepoNotFound");
      if (it->second.private_repo && !authorised(req)) return repo_error(res, 401, "RepoNotFound");
      if (!it->second.files.count(req.matches[3])) return repo_error(res, 404, "EntryNotFound");
      res.set_redirect("/cdn/" + std::string(req.matches[1]) + "/" + std::string(req.matches[3]));
    });

    server_.Get(R"(/cdn/([^/]+/[^/]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      const std::string content = repos.at(req.matches[1]).files.at(req.matches[2]).content;
      if (req.has_header("Range")) ranges_seen.push_back(req.get_header_value("Range"));
      if (req.matches[2] == cut_file && cut_after < content.size() && !req.has_header("Range")) {
        const size_t cut = cut_after;
        cut_file.clear();
        res.set_content_provider(content.size(), "application/octet-stream",
                                 [content, cut](size_t offset, size_t, httplib::DataSink& sink) {
                                   sink.write(content.data(), cut);
                                   return false;  // drop the connection midway
                                 });
        return;
      }
      res.set_content(content, "application/octet-stream");  // httplib answers a Range with 206
    });

    server_.Post("/api/repos/create", [=, this](const httplib::Request& req, httplib::Response& res) {
      if (!authorised(req)) return json(res, 401, {{"error", "Invalid credentials"}});
      auto body = nlohmann::json::parse(req.body);
      const std::string id = body.value("organization", "") + "/" + body.value("name", "");
      std::lock_guard<std::mutex> lock(mu_);
      if (repos.count(id)) return json(res, 409, {{"error", "You already created this model repo"}});
      repos[id].private_repo = body.value("private", false);
      json(res, 200, {{"url", endpoint() + "/" + id}});
    });

    server_.Post(R"(/api/models/([^/]+/[^/]+)/preupload/(.+))", [=](const httplib::Request& req, httplib::Response& res) {
      if (!authorised(req)) return json(res, 401, {{"error", "Invalid credentials"}});
      nlohmann::json files = nlohmann::json::array();
      const auto body = nlohmann::json::parse(req.body);  // named: a range-for over a temporary's member dangles
      for (const auto& f : body["files"]) {
        const std::string path = f["path"];
        const bool lfs = f["size"].get<uint64_t>() > 100000 || path.ends_with(".safetensors") || path.ends_with(".onnx");
        files.push_back({{"path", path}, {"uploadMode", lfs ? "lfs" : "regular"}});
      }
      json(res, 200, {{"files", files}});
    });

    server_.Post(R"(/([^/]+/[^/]+)\.git/info/lfs/objects/batch)", [=, this](const httplib::Request& req, httplib::Response& res) {
      if (!authorised(req)) return json(res, 401, {{"message", "Invalid credentials"}});
      nlohmann::json objects = nlohmann::json::array();
      std::lock_guard<std::mutex> lock(mu_);
      const auto body = nlohmann::json::parse(req.body);
      for (const auto& o : body["objects"]) {
        const std::string oid = o["oid"];
        const uint64_t size = o["size"];
        nlohmann::json obj = {{"oid", oid}, {"size", size}};
        if (!lfs_store_.count(oid)) {
          nlohmann::json upload = {{"href", endpoint() + "/lfs-upload/" + oid}};
          if (multipart_above > 0 && size > multipart_above) {
            upload["href"] = endpoint() + "/lfs-complete/" + oid;
            nlohmann::json header = {{"chunk_size", std::to_string(multipart_above)}};
            for (uint64_t part = 1; (part - 1) * multipart_above < size; ++part) {
              char key[16];
              std::snprintf(key, sizeof key, "%05llu", static_cast<unsigned long long>(part));
              header[key] = endpoint() + "/lfs-part/" + oid + "/" + std::to_string(part);
            }
            upload["header"] = header;
          }
          obj["actions"] = {{"upload", upload}, {"verify", {{"href", endpoint() + "/lfs-verify/" + oid}}}};
        }
        objects.push_back(obj);
      }
      res.status = 200;
      res.set_content(nlohmann::json{{"transfer", "basic"}, {"objects", objects}}.dump(), "application/vnd.git-lfs+json");
    });

    server_.Put(R"(/lfs-upload/([0-9a-f]+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      if (sha256_hex(req.body.data(), req.body.size()) != req.matches[1]) return void(res.status = 400);
      lfs_store_[req.matches[1]] = req.body;
      ++lfs_uploads;
      res.status = 200;
    });
    server_.Put(R"(/lfs-part/([0-9a-f]+)/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      parts_[req.matches[1]][std::stoi(req.matches[2])] = req.body;
      ++lfs_parts;
      res.set_header("ETag", "\"etag-" + std::string(req.matches[2]) + "\"");
      res.status = 200;
    });
    server_.Post(R"(/lfs-complete/([0-9a-f]+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      std::string whole;
      const auto body = nlohmann::json::parse(req.body);
      for (const auto& p : body["parts"]) whole += parts_[req.matches[1]][p["partNumber"].get<int>()];
      if (sha256_hex(whole.data(), whole.size()) != req.matches[1]) return void(res.status = 400);
      lfs_store_[req.matches[1]] = whole;
      ++lfs_uploads;
      res.status = 200;
    });
    server_.Post(R"(/lfs-verify/([0-9a-f]+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      res.status = lfs_store_.count(req.matches[1]) ? 200 : 404;
    });

    server_.Post(R"(/api/models/([^/]+/[^/]+)/commit/(.+))", [=, this](const httplib::Request& req, httplib::Response& res) {
      if (!authorised(req)) return json(res, 401, {{"error", "Invalid credentials"}});
      std::lock_guard<std::mutex> lock(mu_);
      auto it = repos.find(req.matches[1]);
      if (it == repos.end()) return repo_error(res, 404, "RepoNotFound");
      std::istringstream lines(req.body);
      std::string line;
      bool header = false;
      while (std::getline(lines, line)) {
        auto j = nlohmann::json::parse(line);
        const auto& v = j["value"];
        if (j["key"] == "header") header = true;
        else if (j["key"] == "file") {
          auto bytes = base64_decode(v["content"].get<std::string>());
          if (!bytes.ok()) return json(res, 400, {{"error", "bad base64"}});
          it->second.files[v["path"]] = {std::string(bytes->begin(), bytes->end()), false, ""};
        } else if (j["key"] == "lfsFile") {
          if (!lfs_store_.count(v["oid"])) return json(res, 422, {{"error", "LFS object not uploaded"}});
          it->second.files[v["path"]] = {lfs_store_[v["oid"]], true, ""};
        }
      }
      if (!header) return json(res, 400, {{"error", "no header line"}});
      ++commits;
      it->second.commit = sha256_hex(req.body.data(), req.body.size()).substr(0, 40);
      json(res, 200, {{"commitUrl", endpoint() + "/" + std::string(req.matches[1]) + "/commit/" + it->second.commit},
                      {"commitOid", it->second.commit}});
    });

    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  ~FakeHub() {
    server_.stop();
    thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Tests set these up before the first request and read them after the last.
  std::map<std::string, FakeRepo> repos;

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::map<std::string, std::string> lfs_store_;
  std::map<std::string, std::map<int, std::string>> parts_;
};

}  // namespace cc::test
