// clipclap eval: the pipeline is run_eval_job (eval/eval_job.h); this file parses its flags,
// resolves hub names and prints the report as a table or JSON.
#include <cstdio>
#include <string>

#include "bundle/resolve_model.h"
#include "cli/commands.h"
#include "core/threads.h"
#include "eval/eval_job.h"

namespace cc {

int cmd_eval(int argc, char** argv) {
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "clipclap eval: %s\n", message.c_str());
    return code;
  };
  std::vector<Flag> flags = eval_job_flags();
  flags.push_back({"json", "", "print JSON instead of a table"});
  flags.push_back(help_flag());
  auto args = Args::parse(flags, argc, argv);
  if (!args.ok()) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::fputs(usage("clipclap eval --clip DIR --clap DIR --projection DIR (--pairs FILE | --labels FILE) [options]",
                     "Retrieval (R@1/5/10, mAP@10) and zero-shot accuracy, in the shared space and in CLAP's own.", flags)
                   .c_str(),
               stdout);
    return 0;
  }
  auto job = eval_job_from_flags(args.value());
  if (!job.ok()) return fail(job.error().message, 2);
  for (std::string* dir : {&job->clip_dir, &job->clap_dir}) {
    auto resolved = resolve_model_arg(*dir);  // a directory or org/name
    if (!resolved.ok()) return fail(resolved.error().message, 1);
    *dir = resolved.value();
  }
  set_num_threads(job->threads);
  auto report = run_eval_job(job.value());
  if (!report.ok()) return fail(report.error().message, 1);
  if (args->has("json")) std::printf("%s\n", report->dump(2).c_str());
  else std::fputs(eval_table(report.value()).c_str(), stdout);
  return 0;
}

}  // namespace cc
