#include "bundle/assemble.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "audio/clap_features.h"
#include "audio/htsat_tower.h"
#include "core/file.h"
#include "core/safetensors.h"
#include "model/clap_model.h"
#include "model/embedder.h"
#include "model/model_kind.h"
#include "text/clip_text_tower.h"
#include "train/onnx_export.h"
#include "train/projection.h"
#include "vision/clip_vision_tower.h"

namespace cc {

namespace fs = std::filesystem;

namespace {

// CLIP's files copied as they are (the ones that exist; tokenizer.json is required).
constexpr const char* kClipFiles[] = {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
                                      "special_tokens_map.json", "preprocessor_config.json"};

Status copy_file(const std::string& from, const std::string& to) {
  CC_TRY(std::vector<uint8_t> bytes, read_file(from));
  return write_file_atomic(to, bytes.data(), bytes.size());
}

Status write_json(const std::string& path, const nlohmann::json& j) {
  const std::string text = j.dump(2) + "\n";
  return write_file_atomic(path, text.data(), text.size());
}

// The combined config: CLIP's sections as they are plus the fields the Go server reads, and
// CLAP's audio_config with its feature extractor.
Result<nlohmann::json> bundle_config(const std::string& clip_dir, const std::string& clap_dir, const Projection& w) {
  CC_TRY(nlohmann::json clip, read_json(join_path(clip_dir, "config.json")));
  CC_TRY(nlohmann::json clap, read_json(join_path(clap_dir, "config.json")));
  CC_TRY(nlohmann::json features, read_json(join_path(clap_dir, "preprocessor_config.json")));
  CC_TRY(ClipTextConfig text, read_clip_text_config(clip));
  CC_TRY(ClipVisionConfig vision, read_clip_vision_config(clip));
  CC_TRY(HtsatConfig audio, read_htsat_config(clap));
  CC_TRY(ClapFeatureConfig fe, read_clap_feature_config(features));

  nlohmann::json c = clip;
  c["model_type"] = "clipclap";
  c["projection_dim"] = text.projection_dim;
  c["text_config"]["hidden_size"] = text.encoder.hidden;
  c["text_config"]["max_position_embeddings"] = text.max_positions;
  c["text_config"]["projection_dim"] = text.projection_dim;
  c["vision_config"]["hidden_size"] = vision.encoder.hidden;
  c["vision_config"]["image_size"] = vision.image_size;
  c["vision_config"]["patch_size"] = vision.patch_size;
  c["vision_config"]["projection_dim"] = vision.projection_dim;
  nlohmann::json a = clap.contains("audio_config") ? clap["audio_config"] : nlohmann::json::object();
  a["hidden_size"] = audio.hidden_size;
  a["projection_dim"] = audio.projection_dim;
  a["sample_rate"] = fe.sampling_rate;
  a["max_length_s"] = fe.max_length_s;
  a["feature_extractor"] = features;
  c["audio_config"] = a;
  c["audio_to_clip"] = {{"in_features", w.in}, {"out_features", w.out}, {"bias", w.bias}};
  c.erase("transformers_version");
  return c;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

// Every numeric leaf of a metrics object as a table row: "shared / text_to_audio / R@1 | 0.1234".
void metric_rows(const nlohmann::json& j, const std::string& path, std::string& out) {
  if (j.is_object()) {
    for (auto& [k, v] : j.items()) metric_rows(v, path.empty() ? k : path + " / " + k, out);
  } else if (j.is_number_float()) {
    out += "| " + path + " | " + fmt(j.get<double>()) + " |\n";
  } else if (j.is_number()) {
    out += "| " + path + " | " + j.dump() + " |\n";
  }
}

std::string model_card(const AssembleOptions& o, const nlohmann::json& meta, const nlohmann::json* eval, const ModelInfo& info) {
  std::string md;
  md += "---\nlibrary_name: clipclap\ntags:\n- clip\n- clap\n- multimodal\n- embeddings\n- audio\n- image\n- text\n";
  md += "base_model:\n- " + o.clip_source + "\n- " + o.clap_source + "\n---\n\n";
  md += "# clipclap: text, images and audio in one " + std::to_string(info.dim) + "-d space\n\n";
  md += "Assembled by `clipclap assemble` from the CLIP checkpoint `" + o.clip_source + "` (text and images) and the CLAP "
        "checkpoint `" + o.clap_source + "` (audio). Audio vectors are mapped into CLIP's space by a linear map W "
        "trained with `clipclap train-projection`; text and image vectors are CLIP's own.\n\n";
  md += "| modality | path |\n|---|---|\n";
  md += "| text | CLIP tokenizer -> CLIP text tower -> text_projection -> L2 |\n";
  md += "| image | CLIP preprocessing (bicubic resize, centre crop, normalise) -> CLIP vision tower -> visual_projection -> L2 |\n";
  md += "| audio | 48 kHz log-mel (CLAP feature extractor) -> HTSAT -> audio_projection -> L2 -> W -> L2 |\n\n";
  md += "## Files\n\n";
  md += "- `model.safetensors`: CLIP text and vision towers with their projections, CLAP's audio tower and audio_projection, "
        "and W as `audio_to_clip.weight`" + std::string(meta.value("chosen", nlohmann::json::object()).value("bias", false) ? " and `audio_to_clip.bias`" : "") +
        " (CLAP's text tower is not included)\n";
  md += "- `clip_config.json`: `model_type: clipclap` with text, vision and audio sections (the audio section carries the feature extractor)\n";
  md += "- `audio_projection.onnx`: CLAP projection -> L2 -> W, for the ONNX-based Go server (`scripts/export_onnx.py` writes the other ONNX files)\n";
  md += "- `projection_training_metadata.json`: data, hyperparameters, seed and held-out metrics of the training run\n\n";
  md += "## Use\n\n```sh\nclipclap serve --model DIR\nclipclap embed --model DIR --text \"rain on a roof\" --image photo.jpg --audio rain.wav\n```\n\n";
  md += "## Projection training\n\n";
  md += "Mode `" + meta.value("mode", std::string("?")) + "`";
  if (meta.contains("pairs")) md += ", pairs: " + meta["pairs"].dump();
  if (meta.contains("chosen")) md += ", kept: " + meta["chosen"].dump();
  md += ", seed " + meta.value("seed", nlohmann::json(0)).dump() + ".\n\n";
  if (meta.contains("held_out")) {
    md += "Held out during training (the trained W, then W = identity for comparison):\n\n| metric | value |\n|---|---|\n";
    metric_rows(meta["held_out"], "trained", md);
    if (meta.contains("held_out_identity")) metric_rows(meta["held_out_identity"], "identity", md);
    md += "\n";
  }
  md += "## Evaluation (`clipclap eval`)\n\n";
  if (eval) {
    md += "| metric | value |\n|---|---|\n";
    metric_rows(*eval, "", md);
  } else {
    md += "Not run for this bundle (`clipclap assemble --eval FILE` adds the JSON of `clipclap eval --json`); "
          "the held-out numbers above come from training.\n";
  }
  return md;
}

}  // namespace

Status assemble_bundle(const AssembleOptions& o, const std::string& out) {
  auto log = [&](const std::string& line) { if (o.log) o.log(line); };
  std::error_code ec;
  if (fs::exists(out, ec) && !o.overwrite) return error(out + " exists; pass --overwrite to replace it");
  CC_TRY(ModelInfo clip, inspect_model(o.clip_dir));
  CC_TRY(ModelInfo clap, inspect_model(o.clap_dir));
  if (clip.kind != ModelKind::kClip) return error("--clip " + o.clip_dir + " is a " + model_kind_name(clip.kind) + " model, not clip");
  if (clap.kind != ModelKind::kClap) return error("--clap " + o.clap_dir + " is a " + model_kind_name(clap.kind) + " model, not clap");
  CC_TRY(Projection w, load_projection(o.projection_dir));
  if (w.in != clap.dim || w.out != clip.dim)
    return error("projection " + o.projection_dir + " maps " + std::to_string(w.in) + " -> " + std::to_string(w.out) +
                 "; CLAP gives " + std::to_string(clap.dim) + " and CLIP takes " + std::to_string(clip.dim));
  const std::string meta_path = join_path(o.projection_dir, "projection_training_metadata.json");
  CC_TRY(nlohmann::json meta, read_json(meta_path));
  nlohmann::json eval;
  if (!o.eval_json_path.empty()) {
    CC_TRY(eval, read_json(o.eval_json_path));
  }
  CC_TRY(nlohmann::json config, bundle_config(o.clip_dir, o.clap_dir, w));

  const std::string tmp = temporary_beside(out);
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return error("cannot create " + tmp + ": " + ec.message());
  auto fail = [&](const Error& e) -> Status {
    fs::remove_all(tmp, ec);
    return e;
  };
  auto step = [&]() -> Status {
    // Weights: CLIP's and CLAP's audio side's tensors as stored (dtype kept), and W.
    CC_TRY(SafeTensors clip_st, SafeTensors::open(join_path(o.clip_dir, "model.safetensors"),
                                                  {"text_model.", "vision_model.", "text_projection.", "visual_projection.", "logit_scale"}));
    CC_TRY(SafeTensors clap_st, SafeTensors::open(join_path(o.clap_dir, "model.safetensors"), {"audio_model.", "audio_projection."}));
    std::vector<TensorView> views;
    for (SafeTensors* st : {&clip_st, &clap_st})
      for (const auto& name : st->names()) {
        CC_TRY(SafeTensors::Raw t, st->raw(name));
        views.push_back({name, t.shape, t.data, t.dtype, t.bytes});
      }
    const std::vector<float> w_f(w.w.begin(), w.w.end()), b_f(w.b.begin(), w.b.end());
    views.push_back({tensor_names::kAudioToClip, {w.out, w.in}, w_f.data()});
    if (w.bias) views.push_back({"audio_to_clip.bias", {w.out}, b_f.data()});
    log("writing model.safetensors (" + std::to_string(views.size()) + " tensors)");
    CC_CHECK(write_safetensors(join_path(tmp, "model.safetensors"), views, {{"format", "pt"}}));

    CC_CHECK(write_json(join_path(tmp, kBundleConfig), config));
    for (const char* f : kClipFiles) {
      const std::string from = join_path(o.clip_dir, f);
      if (is_file(from)) CC_CHECK(copy_file(from, join_path(tmp, f)));
      else if (std::string(f) == "tokenizer.json" || std::string(f) == "preprocessor_config.json")
        return error("--clip " + o.clip_dir + ": no " + f);
    }
    CC_TRY(auto clap_model, ClapModel::load(o.clap_dir));
    CC_CHECK(write_audio_projection_onnx(join_path(tmp, "audio_projection.onnx"), clap_model->tower().projection(), w));
    CC_CHECK(copy_file(meta_path, join_path(tmp, "projection_training_metadata.json")));

    // Load it back: a bundle that does not load is never written.
    CC_TRY(auto bundle, Embedder::load(tmp));
    if (bundle->info().kind != ModelKind::kClipClap) return error("the assembled bundle does not read back as clipclap");
    const std::string card = model_card(o, meta, eval.is_null() ? nullptr : &eval, bundle->info());
    return write_file_atomic(join_path(tmp, "README.md"), card.data(), card.size());
  };
  if (auto st = step(); !st.ok()) return fail(st.error().context("assembling " + out));

  const std::string old = out + ".old-" + std::to_string(getpid());
  if (fs::exists(out, ec)) fs::rename(out, old, ec);
  if (ec) return fail(error("cannot replace " + out + ": " + ec.message()));
  fs::rename(tmp, out, ec);
  if (ec) return fail(error("cannot move " + tmp + " to " + out + ": " + ec.message()));
  fs::remove_all(old, ec);
  log("wrote " + out);
  return Ok{};
}

}  // namespace cc
