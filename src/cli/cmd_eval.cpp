// clipclap eval: retrieval and zero-shot metrics in the shared space (CLIP text vs projected
// CLAP audio) beside the same in CLAP's native space (CLAP text vs CLAP audio), so the cost of
// the projection is visible. A table on stdout, or JSON with --json.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bundle/resolve_model.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "core/file.h"
#include "core/safetensors.h"
#include "core/threads.h"
#include "eval/retrieval.h"
#include "model/clap_model.h"
#include "model/clap_text_model.h"
#include "model/clip_model.h"
#include "train/datasets.h"
#include "train/projection.h"
#include "vision/decode_image.h"

namespace cc {

namespace {

const std::vector<Flag> kFlags = {
    {"clip", "DIR|org/name", "CLIP checkpoint (text side of the shared space)"},
    {"clap", "DIR|org/name", "CLAP checkpoint (audio, and text for its native space)"},
    {"projection", "DIR", "directory with projection.safetensors from train-projection"},
    {"pairs", "FILE", "audio-caption pairs (.csv/.jsonl): text->audio and audio->text retrieval, every caption a query"},
    {"labels", "FILE", "labelled audio (.csv with audio and category/label columns): zero-shot classification"},
    {"image-pairs", "FILE", "image-caption pairs (.csv/.jsonl with an image column): text->image and image->text retrieval (CLIP)"},
    {"audio-image-pairs", "FILE", "audio-image pairs (.csv with audio and image columns): audio->image retrieval in the shared space"},
    {"prompt", "TEMPLATE", "zero-shot prompt, {label} replaced", "This is a sound of {label}."},
    {"threads", "N", "threads (0 = all cores)", "0"},
    {"json", "", "print JSON instead of a table"},
    {"help", "", "show this text"},
};

std::vector<double> rows_of(const Embeddings& e) { return std::vector<double>(e.values.begin(), e.values.end()); }

// The AudioCaps/Clotho protocol: every caption is a query for its item, and every item a
// query for all of its captions.
struct CaptionIndex {
  std::vector<std::string> paths, texts;
  std::vector<std::vector<int>> text_to_item, item_to_text;
};

CaptionIndex index_captions(const std::vector<CaptionedMedia>& items) {
  CaptionIndex x;
  x.item_to_text.resize(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    x.paths.push_back(items[i].path);
    for (const auto& c : items[i].captions) {
      x.item_to_text[i].push_back(static_cast<int>(x.texts.size()));
      x.text_to_item.push_back({static_cast<int>(i)});
      x.texts.push_back(c);
    }
  }
  return x;
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "clipclap eval: %s\n", message.c_str());
    return code;
  };
  auto args = Args::parse(kFlags, argc, argv);
  if (!args.ok()) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::fputs(usage("clipclap eval --clip DIR --clap DIR --projection DIR (--pairs FILE | --labels FILE) [options]",
                     "Retrieval (R@1/5/10, mAP@10) and zero-shot accuracy, in the shared space and in CLAP's own.",
                     kFlags).c_str(),
               stdout);
    return 0;
  }
  for (const char* required : {"clip", "clap", "projection"})
    if (!args->has(required)) return fail(std::string("--") + required + " is required", 2);
  if (!args->has("pairs") && !args->has("labels") && !args->has("image-pairs") && !args->has("audio-image-pairs"))
    return fail("give --pairs, --labels, --image-pairs and/or --audio-image-pairs", 2);
  auto threads = args->get_int("threads", 0, 0, 1024);
  if (!threads.ok()) return fail(threads.error().message, 2);
  set_num_threads(threads.value());

  auto projection = load_projection(args->get("projection"));
  if (!projection.ok()) return fail(projection.error().message, 1);
  auto clip_dir = resolve_model_arg(args->get("clip"));  // a directory or org/name
  if (!clip_dir.ok()) return fail(clip_dir.error().message, 1);
  auto clap_dir = resolve_model_arg(args->get("clap"));
  if (!clap_dir.ok()) return fail(clap_dir.error().message, 1);
  auto clip = ClipModel::load(clip_dir.value());
  if (!clip.ok()) return fail(clip.error().message, 1);
  auto clap = ClapModel::load(clap_dir.value());
  if (!clap.ok()) return fail(clap.error().message, 1);
  auto clap_text = ClapTextModel::load(clap_dir.value());
  if (!clap_text.ok()) return fail(clap_text.error().message, 1);
  if (projection->in != clap.value()->dim() || projection->out != clip.value()->dim())
    return fail("the projection maps " + std::to_string(projection->in) + " -> " + std::to_string(projection->out) +
                    " but the models give " + std::to_string(clap.value()->dim()) + " -> " +
                    std::to_string(clip.value()->dim()),
                1);

  // Audio vectors in both spaces: CLAP's own, and projected into CLIP's.
  auto embed_audio = [&](const std::vector<std::string>& paths, std::vector<double>& native,
                         std::vector<double>& shared) -> Status {
    std::vector<Audio> clips;
    for (const auto& p : paths) {
      CC_TRY(Audio a, decode_audio_file(p));
      clips.push_back(std::move(a));
    }
    CC_TRY(Embeddings e, clap.value()->embed_audio(clips, {}));
    native = rows_of(e);
    projection->apply(native, e.count, shared);
    return Ok{};
  };

  nlohmann::json report = {{"projection", args->get("projection")}};
  if (args->has("pairs")) {
    auto pairs = read_pairs(args->get("pairs"));
    if (!pairs.ok()) return fail(pairs.error().message, 1);
    const CaptionIndex ix = index_captions(pairs.value());
    std::vector<double> native, shared;
    if (auto st = embed_audio(ix.paths, native, shared); !st.ok()) return fail(st.error().message, 1);
    auto clip_t = clip.value()->embed_texts(ix.texts);
    auto clap_t = clap_text.value()->embed_texts(ix.texts);
    if (!clip_t.ok()) return fail(clip_t.error().message, 1);
    if (!clap_t.ok()) return fail(clap_t.error().message, 1);
    const int ds = projection->out, dn = projection->in;
    report["retrieval"] = {
        {"shared", {{"text_to_audio", retrieval_json(retrieval(rows_of(clip_t.value()), shared, ds, ix.text_to_item))},
                    {"audio_to_text", retrieval_json(retrieval(shared, rows_of(clip_t.value()), ds, ix.item_to_text))}}},
        {"clap_native",
         {{"text_to_audio", retrieval_json(retrieval(rows_of(clap_t.value()), native, dn, ix.text_to_item))},
          {"audio_to_text", retrieval_json(retrieval(native, rows_of(clap_t.value()), dn, ix.item_to_text))}}}};
  }
  if (args->has("labels")) {
    auto labelled = read_labels(args->get("labels"));
    if (!labelled.ok()) return fail(labelled.error().message, 1);
    std::map<std::string, int> index;
    std::vector<std::string> names, paths;
    std::vector<int> truth;
    for (const auto& l : labelled.value()) {
      if (!index.count(l.label)) {
        index[l.label] = static_cast<int>(names.size());
        names.push_back(l.label);
      }
      truth.push_back(index[l.label]);
      paths.push_back(l.audio_path);
    }
    const std::string tmpl = args->get("prompt", "This is a sound of {label}.");
    std::vector<std::string> prompts;
    for (const auto& n : names) {
      std::string p = tmpl;
      if (auto at = p.find("{label}"); at != std::string::npos) p.replace(at, 7, n);
      prompts.push_back(p);
    }
    std::vector<double> native, shared;
    if (auto st = embed_audio(paths, native, shared); !st.ok()) return fail(st.error().message, 1);
    auto clip_p = clip.value()->embed_texts(prompts);
    auto clap_p = clap_text.value()->embed_texts(prompts);
    if (!clip_p.ok()) return fail(clip_p.error().message, 1);
    if (!clap_p.ok()) return fail(clap_p.error().message, 1);
    report["zero_shot"] = {{"classes", names.size()}, {"items", truth.size()}, {"prompt", tmpl},
                           {"shared_accuracy", zero_shot_accuracy(shared, rows_of(clip_p.value()), projection->out, truth)},
                           {"clap_native_accuracy", zero_shot_accuracy(native, rows_of(clap_p.value()), projection->in, truth)}};
  }
  auto embed_images = [&](const std::vector<std::string>& paths) -> Result<std::vector<double>> {
    std::vector<Image> images;
    for (const auto& p : paths) {
      CC_TRY(Image img, decode_image_file(p));
      images.push_back(std::move(img));
    }
    CC_TRY(Embeddings e, clip.value()->embed_images(images));
    return rows_of(e);
  };
  if (args->has("image-pairs")) {
    auto pairs = read_image_pairs(args->get("image-pairs"));
    if (!pairs.ok()) return fail(pairs.error().message, 1);
    const CaptionIndex ix = index_captions(pairs.value());
    auto images = embed_images(ix.paths);
    if (!images.ok()) return fail(images.error().message, 1);
    auto t = clip.value()->embed_texts(ix.texts);
    if (!t.ok()) return fail(t.error().message, 1);
    const int d = clip.value()->dim();
    report["image_retrieval"] = {
        {"text_to_image", retrieval_json(retrieval(rows_of(t.value()), images.value(), d, ix.text_to_item))},
        {"image_to_text", retrieval_json(retrieval(images.value(), rows_of(t.value()), d, ix.item_to_text))}};
  }
  if (args->has("audio-image-pairs")) {
    auto pairs = read_audio_image_pairs(args->get("audio-image-pairs"));
    if (!pairs.ok()) return fail(pairs.error().message, 1);
    std::vector<std::string> audio_paths, image_paths;
    std::vector<std::vector<int>> relevant;
    for (size_t i = 0; i < pairs->size(); ++i) {
      audio_paths.push_back((*pairs)[i].audio_path);
      image_paths.push_back((*pairs)[i].image_path);
      relevant.push_back({static_cast<int>(i)});
    }
    std::vector<double> native, shared;
    if (auto st = embed_audio(audio_paths, native, shared); !st.ok()) return fail(st.error().message, 1);
    auto images = embed_images(image_paths);
    if (!images.ok()) return fail(images.error().message, 1);
    report["audio_to_image"] = retrieval_json(retrieval(shared, images.value(), projection->out, relevant));
  }
  if (args->has("json")) {
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
  }
  if (report.contains("retrieval")) {
    std::printf("%-12s %-14s %7s %7s %7s %7s %8s\n", "space", "direction", "queries", "R@1", "R@5", "R@10", "mAP@10");
    for (const char* space : {"shared", "clap_native"})
      for (const char* dir : {"text_to_audio", "audio_to_text"}) {
        const auto& m = report["retrieval"][space][dir];
        std::printf("%-12s %-14s %7d %7.3f %7.3f %7.3f %8.3f\n", space, dir, m["queries"].get<int>(), m["R@1"].get<double>(),
                    m["R@5"].get<double>(), m["R@10"].get<double>(), m["mAP@10"].get<double>());
      }
  }
  for (const char* key : {"image_retrieval"})
    if (report.contains(key))
      for (const char* dir : {"text_to_image", "image_to_text"}) {
        const auto& m = report[key][dir];
        std::printf("%-12s %-14s %7d %7.3f %7.3f %7.3f %8.3f\n", "clip", dir, m["queries"].get<int>(), m["R@1"].get<double>(),
                    m["R@5"].get<double>(), m["R@10"].get<double>(), m["mAP@10"].get<double>());
      }
  if (report.contains("audio_to_image")) {
    const auto& m = report["audio_to_image"];
    std::printf("%-12s %-14s %7d %7.3f %7.3f %7.3f %8.3f\n", "shared", "audio_to_image", m["queries"].get<int>(),
                m["R@1"].get<double>(), m["R@5"].get<double>(), m["R@10"].get<double>(), m["mAP@10"].get<double>());
  }
  if (report.contains("zero_shot")) {
    const auto& z = report["zero_shot"];
    std::printf("zero-shot, %d classes, %d clips, prompt \"%s\": shared space %.3f, CLAP's own space %.3f\n",
                z["classes"].get<int>(), z["items"].get<int>(), z["prompt"].get<std::string>().c_str(),
                z["shared_accuracy"].get<double>(), z["clap_native_accuracy"].get<double>());
  }
  return 0;
}

}  // namespace cc
