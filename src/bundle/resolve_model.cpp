#include "bundle/resolve_model.h"

#include "core/file.h"

namespace cc {

Result<std::string> resolve_model_arg(const std::string& spec, const PullOptions& pull_options) {
  if (is_directory(spec)) return spec;
  if (!looks_like_repo(spec)) return error("model " + spec + ": not a directory, nor a hub repository (org/name)", ErrorKind::kNotFound);
  CC_TRY(RepoRef ref, RepoRef::parse(spec));
  const HubSettings hub = HubSettings::from_environment();
  // A cached snapshot is used as it is (no network at start-up); `clipclap pull` refreshes it.
  if (auto cached = cached_snapshot(hub, ref); cached.ok()) return cached;
  auto pulled = pull(hub, ref, pull_options);
  if (!pulled.ok()) return pulled.error().context("model " + spec);
  return pulled;
}

}  // namespace cc
