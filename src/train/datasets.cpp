#include "train/datasets.h"

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/file.h"

namespace cc {

namespace {

std::string dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

Result<std::vector<std::string>> read_lines(const std::string& path) {
  CC_TRY(std::vector<uint8_t> bytes, read_file(path));
  std::vector<std::string> lines;
  std::string cur;
  for (uint8_t c : bytes) {
    if (c == '\n') {
      lines.push_back(cur);
      cur.clear();
    } else {
      cur += static_cast<char>(c);
    }
  }
  if (!cur.empty()) lines.push_back(cur);
  for (auto& l : lines)
    if (!l.empty() && l.back() == '\r') l.pop_back();
  return lines;
}

// The CSV header: index of the first column whose name is one of `names`, or -1.
int column(const std::vector<std::string>& header, std::initializer_list<const char*> names) {
  for (size_t i = 0; i < header.size(); ++i)
    for (const char* n : names)
      if (trim(header[i]) == n) return static_cast<int>(i);
  return -1;
}

}  // namespace

Result<std::vector<std::string>> parse_csv_line(const std::string& line) {
  std::vector<std::string> fields;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (quoted) return error("unterminated quote");
  fields.push_back(cur);
  return fields;
}

Result<std::vector<std::string>> read_captions(const std::string& path) try {
  std::vector<std::string> out;
  if (path.ends_with(".json")) {  // COCO captions_*.json
    CC_TRY(nlohmann::json j, read_json(path));
    if (!j.is_object() || !j.contains("annotations") || !j["annotations"].is_array())
      return error(path + ": not a COCO captions file (no \"annotations\" list)");
    for (const auto& a : j["annotations"])
      if (a.is_object() && a.contains("caption") && a["caption"].is_string()) out.push_back(trim(a["caption"]));
  } else {
    CC_TRY(std::vector<std::string> lines, read_lines(path));
    if (path.ends_with(".jsonl")) {
      for (size_t i = 0; i < lines.size(); ++i) {
        if (trim(lines[i]).empty()) continue;
        auto j = nlohmann::json::parse(lines[i], nullptr, false);
        const char* key = j.is_object() && j.contains("caption") ? "caption" : "text";
        if (j.is_discarded() || !j.is_object() || !j.contains(key) || !j[key].is_string())
          return error(path + ":" + std::to_string(i + 1) + ": expected a JSON object with \"caption\" or \"text\"");
        out.push_back(trim(j[key]));
      }
    } else if (path.ends_with(".csv")) {
      if (lines.empty()) return error(path + ": empty file (no captions)");
      CC_TRY(std::vector<std::string> header, parse_csv_line(lines[0]));
      const int col = column(header, {"caption", "text", "caption_1"});
      if (col < 0) return error(path + ":1: no caption column (expected \"caption\" or \"text\")");
      for (size_t i = 1; i < lines.size(); ++i) {
        if (trim(lines[i]).empty()) continue;
        auto fields = parse_csv_line(lines[i]);
        if (!fields.ok()) return error(path + ":" + std::to_string(i + 1) + ": " + fields.error().message);
        if (static_cast<int>(fields->size()) <= col)
          return error(path + ":" + std::to_string(i + 1) + ": missing the caption column");
        out.push_back(trim((*fields)[col]));
      }
    } else {
      for (const auto& l : lines)
        if (!trim(l).empty()) out.push_back(trim(l));
    }
  }
  out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
  if (out.empty()) return error(path + ": no captions");
  return out;
} catch (const nlohmann::json::exception& e) {
  return error(path + ": " + e.what());
}

namespace {

// Media + caption(s) rows: `media_key` names the JSONL field, `media_columns` the CSV columns.
Result<std::vector<CaptionedMedia>> read_media_captions(const std::string& path, const std::string& media_key,
                                                       std::initializer_list<const char*> media_columns);

}  // namespace

Result<std::vector<CaptionedMedia>> read_pairs(const std::string& path) {
  return read_media_captions(path, "audio", {"audio", "audio_path", "path", "file", "file_name"});
}

Result<std::vector<CaptionedMedia>> read_image_pairs(const std::string& path) {
  return read_media_captions(path, "image", {"image", "image_path", "file_name", "path", "file"});
}

namespace {

Result<std::vector<CaptionedMedia>> read_media_captions(const std::string& path, const std::string& media_key,
                                                       std::initializer_list<const char*> media_columns) try {
  CC_TRY(std::vector<std::string> lines, read_lines(path));
  std::vector<CaptionedMedia> out;
  const std::string base = dir_of(path);
  auto resolve = [&](const std::string& p) { return !p.empty() && p[0] == '/' ? p : join_path(base, p); };
  if (path.ends_with(".jsonl")) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (trim(lines[i]).empty()) continue;
      auto j = nlohmann::json::parse(lines[i], nullptr, false);
      const std::string where = path + ":" + std::to_string(i + 1);
      if (j.is_discarded() || !j.is_object() || !j.contains(media_key) || !j[media_key].is_string())
        return error(where + ": expected a JSON object with \"" + media_key + "\" and \"caption\" or \"captions\"");
      CaptionedMedia p{resolve(j[media_key]), {}};
      if (j.contains("caption") && j["caption"].is_string()) p.captions.push_back(trim(j["caption"]));
      if (j.contains("captions") && j["captions"].is_array())
        for (const auto& c : j["captions"])
          if (c.is_string()) p.captions.push_back(trim(c));
      if (p.captions.empty()) return error(where + ": no caption");
      out.push_back(std::move(p));
    }
  } else {
    if (lines.empty()) return error(path + ": empty file (no pairs)");
    CC_TRY(std::vector<std::string> header, parse_csv_line(lines[0]));
    const int audio = column(header, media_columns);
    std::vector<int> captions;
    for (const char* name : {"caption", "caption_1", "caption_2", "caption_3", "caption_4", "caption_5"})
      if (int c = column(header, {name}); c >= 0) captions.push_back(c);
    if (audio < 0 || captions.empty())
      return error(path + ":1: expected " + (media_key == "audio" ? "an audio" : "an image") +
                   " column and caption column(s)");
    for (size_t i = 1; i < lines.size(); ++i) {
      if (trim(lines[i]).empty()) continue;
      const std::string where = path + ":" + std::to_string(i + 1);
      auto fields = parse_csv_line(lines[i]);
      if (!fields.ok()) return error(where + ": " + fields.error().message);
      if (static_cast<int>(fields->size()) <= std::max(audio, *std::max_element(captions.begin(), captions.end())))
        return error(where + ": fewer columns than the header");
      CaptionedMedia p{resolve(trim((*fields)[audio])), {}};
      for (int c : captions)
        if (!trim((*fields)[c]).empty()) p.captions.push_back(trim((*fields)[c]));
      if (p.captions.empty()) return error(where + ": no caption");
      out.push_back(std::move(p));
    }
  }
  if (out.empty()) return error(path + ": no " + media_key + "-caption pairs");
  return out;
} catch (const nlohmann::json::exception& e) {
  return error(path + ": " + e.what());
}

}  // namespace

Result<std::vector<AudioImage>> read_audio_image_pairs(const std::string& path) {
  CC_TRY(std::vector<std::string> lines, read_lines(path));
  if (lines.empty()) return error(path + ": empty file (no audio-image pairs)");
  CC_TRY(std::vector<std::string> header, parse_csv_line(lines[0]));
  const int audio = column(header, {"audio", "audio_path"}), image = column(header, {"image", "image_path"});
  if (audio < 0 || image < 0) return error(path + ":1: expected an audio column and an image column");
  const std::string base = dir_of(path);
  auto resolve = [&](const std::string& p) { return !p.empty() && p[0] == '/' ? p : join_path(base, p); };
  std::vector<AudioImage> out;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (trim(lines[i]).empty()) continue;
    auto fields = parse_csv_line(lines[i]);
    if (!fields.ok() || static_cast<int>(fields->size()) <= std::max(audio, image))
      return error(path + ":" + std::to_string(i + 1) + ": malformed row");
    out.push_back({resolve(trim((*fields)[audio])), resolve(trim((*fields)[image]))});
  }
  if (out.empty()) return error(path + ": no audio-image pairs");
  return out;
}

Result<std::vector<LabelledAudio>> read_labels(const std::string& path) {
  CC_TRY(std::vector<std::string> lines, read_lines(path));
  if (lines.empty()) return error(path + ": empty file (no labelled audio)");
  CC_TRY(std::vector<std::string> header, parse_csv_line(lines[0]));
  const int audio = column(header, {"audio", "audio_path", "path", "file", "filename", "file_name"});
  const int label = column(header, {"category", "label", "class"});
  if (audio < 0 || label < 0) return error(path + ":1: expected an audio column and a label column (category, label, class)");
  std::vector<LabelledAudio> out;
  const std::string base = dir_of(path);
  for (size_t i = 1; i < lines.size(); ++i) {
    if (trim(lines[i]).empty()) continue;
    auto fields = parse_csv_line(lines[i]);
    if (!fields.ok() || static_cast<int>(fields->size()) <= std::max(audio, label))
      return error(path + ":" + std::to_string(i + 1) + ": malformed row");
    const std::string p = trim((*fields)[audio]);
    out.push_back({!p.empty() && p[0] == '/' ? p : join_path(base, p), trim((*fields)[label])});
  }
  if (out.empty()) return error(path + ": no labelled audio");
  return out;
}

Result<std::vector<ManifestRow>> read_manifest(const std::string& path) try {
  CC_TRY(std::vector<std::string> lines, read_lines(path));
  std::vector<ManifestRow> rows;
  auto add = [&](size_t i, const std::string& file, const std::string& modality) -> Status {
    const std::string where = path + ":" + std::to_string(i + 1);
    if (file.empty()) return error(where + ": empty path");
    if (!modality.empty() && modality != "image" && modality != "audio" && modality != "video")
      return error(where + ": modality '" + modality + "' (expected image, audio or video, or none to sniff the file)");
    rows.push_back({file, file[0] == '/' ? file : join_path(dir_of(path), file), modality, static_cast<int>(i + 1)});
    return Ok{};
  };
  if (path.ends_with(".jsonl") || path.ends_with(".ndjson")) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (trim(lines[i]).empty()) continue;
      const auto j = nlohmann::json::parse(lines[i], nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("path") || !j["path"].is_string() ||
          (j.contains("modality") && !j["modality"].is_string()))
        return error(path + ":" + std::to_string(i + 1) + ": expected a JSON object with a \"path\" string");
      CC_CHECK(add(i, j["path"], j.value("modality", "")));
    }
  } else if (path.ends_with(".csv")) {
    if (lines.empty()) return error(path + ": empty file (no header)");
    CC_TRY(std::vector<std::string> header, parse_csv_line(lines[0]));
    const int col = column(header, {"path", "file", "file_name"}), mod = column(header, {"modality"});
    if (col < 0) return error(path + ":1: no path column (expected \"path\", \"file\" or \"file_name\")");
    for (size_t i = 1; i < lines.size(); ++i) {
      if (trim(lines[i]).empty()) continue;
      auto fields = parse_csv_line(lines[i]);
      if (!fields.ok()) return error(path + ":" + std::to_string(i + 1) + ": " + fields.error().message);
      if (static_cast<int>(fields->size()) <= col) return error(path + ":" + std::to_string(i + 1) + ": missing the path column");
      CC_CHECK(add(i, trim((*fields)[col]), mod >= 0 && mod < static_cast<int>(fields->size()) ? trim((*fields)[mod]) : ""));
    }
  } else {
    return error(path + ": a manifest is .jsonl (one {\"path\": ...} per line) or .csv (with a path column)");
  }
  if (rows.empty()) return error(path + ": no rows");
  return rows;
} catch (const nlohmann::json::exception& e) {
  return error(path + ": " + e.what());
}

}  // namespace cc
