// The assemble pipeline: resolve CLIP and CLAP (pulling them from the hub if needed), train a
// projection from captions when none is given, and write the bundle (assemble_bundle).
// `clipclap assemble` and the Python package run this same function.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/flags.h"
#include "train/train_job.h"

namespace cc {

struct AssembleJob {
  std::string clip, clap;        // directories or hub names
  std::string projection_dir;    // empty: train one from caption_files (text bridge)
  std::vector<std::string> caption_files;
  std::string eval_json_path;
  std::string out;
  bool overwrite = false;
  int threads = 0;  // for the caller to set (0 = all cores)
};

// The flags of assemble (without --help): names, help texts and defaults.
const std::vector<Flag>& assemble_job_flags();
Result<AssembleJob> assemble_job_from_flags(const Args& args);

// `progress` sees pulls (in bytes) and training stages; `log` gets one line per step.
// Returns whether a projection was trained on the fly.
Result<bool> run_assemble_job(const AssembleJob& job, const StageProgress& progress = {},
                              const std::function<void(const std::string&)>& log = {});

}  // namespace cc
