// clipclap pull and push: the Hugging Face hub (see bundle/hub.h for the environment it reads).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bundle/hub.h"
#include "core/flags.h"
#include "cli/commands.h"
#include "cli/progress.h"

namespace cc {

namespace {

const std::vector<Flag> kPullFlags = {
    {"all", "", "every file of the repository (default: configs, tokenizer files and *.safetensors)"},
    {"include", "GLOB", "also fetch files matching GLOB, e.g. '*.onnx'", "", true},
    {"help", "", "show this text"},
};

const std::vector<Flag> kPushFlags = {
    {"repo", "org/name", "the repository to push to (created if absent); org/name@branch for another branch"},
    {"message", "TEXT", "commit summary", "Upload clipclap bundle"},
    {"private", "", "create the repository private"},
    {"help", "", "show this text"},
};

const char* kEnvironment =
    "\nEnvironment: HF_TOKEN (else the token file of `huggingface-cli login`), HF_ENDPOINT (default\n"
    "https://huggingface.co), HF_HOME / HF_HUB_CACHE (cache location, shared with Python tools),\n"
    "HF_HUB_OFFLINE=1 (cache only).";

void log_line(const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }

}  // namespace

int cmd_pull(int argc, char** argv) {
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "clipclap pull: %s\n", message.c_str());
    return code;
  };
  std::vector<char*> rest;
  std::string spec;
  for (int i = 0; i < argc; ++i) {
    if (spec.empty() && argv[i][0] != '-' && (i == 0 || std::string(argv[i - 1]) != "--include")) spec = argv[i];
    else rest.push_back(argv[i]);
  }
  auto args = Args::parse(kPullFlags, static_cast<int>(rest.size()), rest.data());
  if (!args.ok()) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::fputs((usage("clipclap pull org/name[@revision] [--all] [--include GLOB]...",
                      "Downloads a model from the Hugging Face hub into the standard cache layout\n"
                      "(models--org--name/snapshots/<commit>), resuming interrupted downloads and checking every file's\n"
                      "size and every LFS file's sha256 against the hub's metadata. Prints the snapshot directory.",
                      kPullFlags) + kEnvironment + "\n").c_str(),
               stdout);
    return 0;
  }
  if (spec.empty()) return fail("give a repository: clipclap pull org/name[@revision]", 2);
  auto ref = RepoRef::parse(spec);
  if (!ref.ok()) return fail(ref.error().message, 2);
  PullOptions opts;
  opts.all_files = args->has("all");
  opts.include = args->all("include");
  std::unique_ptr<ProgressBar> bar;
  opts.progress = [&](uint64_t done, uint64_t total) {
    if (!bar) bar = std::make_unique<ProgressBar>("pulling " + ref->repo, static_cast<int64_t>(total), ProgressBar::Unit::kBytes);
    bar->update(static_cast<int64_t>(done));
  };
  opts.log = log_line;
  auto snapshot = pull(HubSettings::from_environment(), ref.value(), opts);
  bar.reset();
  if (!snapshot.ok()) return fail(snapshot.error().message, 1);
  std::printf("%s\n", snapshot->c_str());
  return 0;
}

int cmd_push(int argc, char** argv) {
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "clipclap push: %s\n", message.c_str());
    return code;
  };
  std::vector<char*> rest;
  std::string dir;
  for (int i = 0; i < argc; ++i) {
    const bool is_value = i > 0 && (std::string(argv[i - 1]) == "--repo" || std::string(argv[i - 1]) == "--message");
    if (dir.empty() && argv[i][0] != '-' && !is_value) dir = argv[i];
    else rest.push_back(argv[i]);
  }
  auto args = Args::parse(kPushFlags, static_cast<int>(rest.size()), rest.data());
  if (!args.ok()) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::fputs((usage("clipclap push DIR --repo org/name [--message TEXT] [--private]",
                      "Uploads every file of DIR (hidden files excepted) to a hub repository in one commit, large\n"
                      "files through the hub's LFS flow. Needs a token with write access.",
                      kPushFlags) + kEnvironment + "\n").c_str(),
               stdout);
    return 0;
  }
  if (dir.empty()) return fail("give the directory to push: clipclap push DIR --repo org/name", 2);
  if (!args->has("repo")) return fail("--repo org/name is required", 2);
  auto ref = RepoRef::parse(args->get("repo"));
  if (!ref.ok()) return fail(ref.error().message, 2);
  PushOptions opts;
  opts.summary = args->get("message", opts.summary);
  opts.private_repo = args->has("private");
  std::unique_ptr<ProgressBar> bar;
  opts.progress = [&](uint64_t done, uint64_t total) {
    if (!bar) bar = std::make_unique<ProgressBar>("pushing " + ref->repo, static_cast<int64_t>(total), ProgressBar::Unit::kBytes);
    bar->update(static_cast<int64_t>(done));
  };
  opts.log = log_line;
  auto url = push(HubSettings::from_environment(), dir, ref.value(), opts);
  bar.reset();
  if (!url.ok()) return fail(url.error().message, 1);
  std::printf("%s\n", url->c_str());
  return 0;
}

}  // namespace cc
