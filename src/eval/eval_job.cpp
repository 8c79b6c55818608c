#include "eval/eval_job.h"

#include <cstdio>
#include <map>

#include "audio/decode_audio.h"
#include "eval/retrieval.h"
#include "model/clap_model.h"
#include "model/clap_text_model.h"
#include "model/clip_model.h"
#include "train/datasets.h"
#include "train/projection.h"
#include "vision/decode_image.h"

namespace cc {

namespace {

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

const std::vector<Flag>& eval_job_flags() {
  static const std::vector<Flag> flags = {
      {"clip", "DIR|org/name", "CLIP checkpoint (text side of the shared space)"},
      {"clap", "DIR|org/name", "CLAP checkpoint (audio, and text for its native space)"},
      {"projection", "DIR", "directory with projection.safetensors from train-projection"},
      {"pairs", "FILE", "audio-caption pairs (.csv/.jsonl): text->audio and audio->text retrieval, every caption a query"},
      {"labels", "FILE", "labelled audio (.csv with audio and category/label columns): zero-shot classification"},
      {"image-pairs", "FILE", "image-caption pairs (.csv/.jsonl with an image column): text->image and image->text retrieval (CLIP)"},
      {"audio-image-pairs", "FILE", "audio-image pairs (.csv with audio and image columns): audio->image retrieval in the shared space"},
      {"prompt", "TEMPLATE", "zero-shot prompt, {label} replaced", "This is a sound of {label}."},
      {"threads", "N", "threads (0 = all cores)", "0"},
  };
  return flags;
}

Result<EvalJob> eval_job_from_flags(const Args& args) {
  for (const char* required : {"clip", "clap", "projection"})
    if (!args.has(required)) return error(std::string("--") + required + " is required");
  EvalJob job;
  job.clip_dir = args.get("clip"), job.clap_dir = args.get("clap"), job.projection_dir = args.get("projection");
  job.pairs_file = args.get("pairs"), job.labels_file = args.get("labels");
  job.image_pairs_file = args.get("image-pairs"), job.audio_image_pairs_file = args.get("audio-image-pairs");
  if (job.pairs_file.empty() && job.labels_file.empty() && job.image_pairs_file.empty() && job.audio_image_pairs_file.empty())
    return error("give --pairs, --labels, --image-pairs and/or --audio-image-pairs");
  job.prompt = args.value("prompt");
  CC_TRY(job.threads, args.get_int("threads", 0, 1024));
  return job;
}

Result<nlohmann::json> run_eval_job(const EvalJob& job) {
  CC_TRY(Projection projection, load_projection(job.projection_dir));
  CC_TRY(auto clip, ClipModel::load(job.clip_dir));
  CC_TRY(auto clap, ClapModel::load(job.clap_dir));
  CC_TRY(auto clap_text, ClapTextModel::load(job.clap_dir));
  if (projection.in != clap->dim() || projection.out != clip->dim())
    return error("the projection maps " + std::to_string(projection.in) + " -> " + std::to_string(projection.out) +
                 " but the models give " + std::to_string(clap->dim()) + " -> " + std::to_string(clip->dim()));

  // Audio vectors in both spaces: CLAP's own, and projected into CLIP's.
  auto embed_audio = [&](const std::vector<std::string>& paths, std::vector<double>& native, std::vector<double>& shared) -> Status {
    std::vector<Audio> clips;
    for (const auto& p : paths) {
      CC_TRY(Audio a, decode_audio_file(p));
      clips.push_back(std::move(a));
    }
    CC_TRY(Embeddings e, clap->embed_audio(clips, {}));
    native = rows_of(e);
    projection.apply(native, e.count, shared);
    return Ok{};
  };
  auto embed_texts = [](const auto& model, const std::vector<std::string>& texts) -> Result<std::vector<double>> {
    CC_TRY(Embeddings e, model->embed_texts(texts));
    return rows_of(e);
  };
  auto embed_images = [&](const std::vector<std::string>& paths) -> Result<std::vector<double>> {
    std::vector<Image> images;
    for (const auto& p : paths) {
      CC_TRY(Image img, decode_image_file(p));
      images.push_back(std::move(img));
    }
    CC_TRY(Embeddings e, clip->embed_images(images));
    return rows_of(e);
  };

  nlohmann::json report = {{"projection", job.projection_dir}};
  const int ds = projection.out, dn = projection.in;
  if (!job.pairs_file.empty()) {
    CC_TRY(auto pairs, read_pairs(job.pairs_file));
    const CaptionIndex ix = index_captions(pairs);
    std::vector<double> native, shared;
    CC_CHECK(embed_audio(ix.paths, native, shared));
    CC_TRY(auto clip_t, embed_texts(clip, ix.texts));
    CC_TRY(auto clap_t, embed_texts(clap_text, ix.texts));
    report["retrieval"] = {
        {"shared", {{"text_to_audio", retrieval_json(retrieval(clip_t, shared, ds, ix.text_to_item))},
                    {"audio_to_text", retrieval_json(retrieval(shared, clip_t, ds, ix.item_to_text))}}},
        {"clap_native", {{"text_to_audio", retrieval_json(retrieval(clap_t, native, dn, ix.text_to_item))},
                         {"audio_to_text", retrieval_json(retrieval(native, clap_t, dn, ix.item_to_text))}}}};
  }
  if (!job.labels_file.empty()) {
    CC_TRY(auto labelled, read_labels(job.labels_file));
    std::map<std::string, int> index;
    std::vector<std::string> names, paths;
    std::vector<int> truth;
    for (const auto& l : labelled) {
      if (!index.count(l.label)) {
        index[l.label] = static_cast<int>(names.size());
        names.push_back(l.label);
      }
      truth.push_back(index[l.label]);
      paths.push_back(l.audio_path);
    }
    std::vector<std::string> prompts;
    for (const auto& n : names) {
      std::string p = job.prompt;
      if (auto at = p.find("{label}"); at != std::string::npos) p.replace(at, 7, n);
      prompts.push_back(p);
    }
    std::vector<double> native, shared;
    CC_CHECK(embed_audio(paths, native, shared));
    CC_TRY(auto clip_p, embed_texts(clip, prompts));
    CC_TRY(auto clap_p, embed_texts(clap_text, prompts));
    report["zero_shot"] = {{"classes", names.size()}, {"items", truth.size()}, {"prompt", job.prompt},
                           {"shared_accuracy", zero_shot_accuracy(shared, clip_p, ds, truth)},
                           {"clap_native_accuracy", zero_shot_accuracy(native, clap_p, dn, truth)}};
  }
  if (!job.image_pairs_file.empty()) {
    CC_TRY(auto pairs, read_image_pairs(job.image_pairs_file));
    const CaptionIndex ix = index_captions(pairs);
    CC_TRY(auto images, embed_images(ix.paths));
    CC_TRY(auto t, embed_texts(clip, ix.texts));
    const int d = clip->dim();
    report["image_retrieval"] = {{"text_to_image", retrieval_json(retrieval(t, images, d, ix.text_to_item))},
                                 {"image_to_text", retrieval_json(retrieval(images, t, d, ix.item_to_text))}};
  }
  if (!job.audio_image_pairs_file.empty()) {
    CC_TRY(auto pairs, read_audio_image_pairs(job.audio_image_pairs_file));
    std::vector<std::string> audio_paths, image_paths;
    std::vector<std::vector<int>> relevant;
    for (size_t i = 0; i < pairs.size(); ++i) {
      audio_paths.push_back(pairs[i].audio_path);
      image_paths.push_back(pairs[i].image_path);
      relevant.push_back({static_cast<int>(i)});
    }
    std::vector<double> native, shared;
    CC_CHECK(embed_audio(audio_paths, native, shared));
    CC_TRY(auto images, embed_images(image_paths));
    report["audio_to_image"] = retrieval_json(retrieval(shared, images, ds, relevant));
  }
  return report;
}

std::string eval_table(const nlohmann::json& report) {
  std::string out;
  char line[256];
  auto row = [&](const char* space, const char* dir, const nlohmann::json& m) {
    std::snprintf(line, sizeof line, "%-12s %-14s %7d %7.3f %7.3f %7.3f %8.3f\n", space, dir, m["queries"].get<int>(),
                  m["R@1"].get<double>(), m["R@5"].get<double>(), m["R@10"].get<double>(), m["mAP@10"].get<double>());
    out += line;
  };
  if (report.contains("retrieval")) {
    std::snprintf(line, sizeof line, "%-12s %-14s %7s %7s %7s %7s %8s\n", "space", "direction", "queries", "R@1", "R@5", "R@10", "mAP@10");
    out += line;
    for (const char* space : {"shared", "clap_native"})
      for (const char* dir : {"text_to_audio", "audio_to_text"}) row(space, dir, report["retrieval"][space][dir]);
  }
  if (report.contains("image_retrieval"))
    for (const char* dir : {"text_to_image", "image_to_text"}) row("clip", dir, report["image_retrieval"][dir]);
  if (report.contains("audio_to_image")) row("shared", "audio_to_image", report["audio_to_image"]);
  if (report.contains("zero_shot")) {
    const auto& z = report["zero_shot"];
    out += "zero-shot, " + std::to_string(z["classes"].get<int>()) + " classes, " + std::to_string(z["items"].get<int>()) +
           " clips, prompt \"" + z["prompt"].get<std::string>() + "\": ";
    std::snprintf(line, sizeof line, "shared space %.3f, CLAP's own space %.3f\n", z["shared_accuracy"].get<double>(),
                  z["clap_native_accuracy"].get<double>());
    out += line;
  }
  return out;
}

}  // namespace cc
