#include "bundle/hub.h"

#include <cstdlib>
#include <regex>

#include "bundle/hub_internal.h"
#include "core/file.h"

namespace cc {

namespace {
std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}
}  // namespace

HubSettings HubSettings::from_environment() {
  HubSettings s;
  s.endpoint = env("HF_ENDPOINT").empty() ? "https://huggingface.co" : env("HF_ENDPOINT");
  while (!s.endpoint.empty() && s.endpoint.back() == '/') s.endpoint.pop_back();
  const std::string home = env("HOME");
  const std::string xdg = env("XDG_CACHE_HOME").empty() ? home + "/.cache" : env("XDG_CACHE_HOME");
  const std::string hf_home = env("HF_HOME").empty() ? xdg + "/huggingface" : env("HF_HOME");
  s.cache_dir = env("HF_HUB_CACHE").empty() ? hf_home + "/hub" : env("HF_HUB_CACHE");
  s.token = env("HF_TOKEN");
  if (s.token.empty()) {  // where `huggingface-cli login` keeps it
    auto saved = read_file(hf_home + "/token");
    if (saved.ok()) s.token.assign(saved->begin(), saved->end());
    while (!s.token.empty() && (s.token.back() == '\n' || s.token.back() == '\r' || s.token.back() == ' ')) s.token.pop_back();
  }
  const std::string offline = env("HF_HUB_OFFLINE");
  s.offline = offline == "1" || offline == "true" || offline == "TRUE";
  return s;
}

bool looks_like_repo(const std::string& spec) {
  static const std::regex shape(R"(^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*(@[^\s]+)?$)");
  return std::regex_match(spec, shape);
}

Result<RepoRef> RepoRef::parse(const std::string& spec) {
  if (!looks_like_repo(spec)) return error("'" + spec + "' is not a hub repository (expected org/name or org/name@revision)");
  RepoRef r;
  const size_t at = spec.find('@');
  r.repo = spec.substr(0, at);
  if (at != std::string::npos) r.revision = spec.substr(at + 1);
  if (r.repo.find("..") != std::string::npos || r.revision.find("..") != std::string::npos)
    return error("'" + spec + "': '..' is not allowed in a repository or revision");
  return r;
}

std::string RepoRef::cache_folder() const {
  std::string f = "models--" + repo;
  const size_t slash = f.find('/');
  return f.replace(slash, 1, "--");
}

std::vector<std::string> hub_auth_headers(const HubSettings& hub) {
  if (hub.token.empty()) return {};
  return {"Authorization: Bearer " + hub.token};
}

Error hub_error(const HubSettings& hub, const HttpResponse& r, const RepoRef& ref, const std::string& what) {
  const std::string repo = "repository " + ref.repo;
  const auto code_it = r.headers.find("x-error-code");
  const std::string code = code_it == r.headers.end() ? "" : code_it->second;
  if (r.status == 401)
    return error(hub.token.empty()
                     ? repo + ": 401 Unauthorized (" + what + "): it is private or gated, or does not exist; set HF_TOKEN to a token that can read it"
                     : repo + ": 401 Unauthorized (" + what + "): the hub refused the token in HF_TOKEN");
  if (r.status == 403)
    return error(repo + ": 403 Forbidden (" + what + ")" + (code == "GatedRepo" ? ": a gated model; accept its terms on the hub first" : ": the token lacks the permission"));
  if (r.status == 404) {
    if (code == "RevisionNotFound") return error(repo + ": revision '" + ref.revision + "' not found");
    if (code == "EntryNotFound") return error(repo + ": " + what + ": file not found");
    return error(repo + ": not found on " + hub.endpoint + " (" + what + ")");
  }
  std::string body = r.body.substr(0, 300);
  for (char& c : body)
    if (c == '\n' || c == '\r') c = ' ';
  return error(repo + ": " + what + ": HTTP " + std::to_string(r.status) + (body.empty() ? "" : ": " + body));
}

}  // namespace cc
