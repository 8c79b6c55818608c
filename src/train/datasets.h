// Training data files. Captions: plain text (one per line), COCO captions_*.json, JSONL
// ({"caption"} or {"text"}) or CSV with a caption column. Audio-caption pairs (AudioCaps /
// Clotho style): CSV or JSONL with an audio path (relative to the file) and one or more
// captions. Errors name the file and, where it applies, the line.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace cc {

// A media file (audio clip or image) with one or more captions.
struct CaptionedMedia {
  std::string path;
  std::vector<std::string> captions;
};

Result<std::vector<std::string>> read_captions(const std::string& path);

// Image-caption pairs (COCO style), the same formats with an image column (image, file_name,
// path, file) in place of the audio one.
Result<std::vector<CaptionedMedia>> read_image_pairs(const std::string& path);

// Audio-image pairs: CSV with an audio column and an image column, paths relative to the file.
struct AudioImage {
  std::string audio_path, image_path;
};
Result<std::vector<AudioImage>> read_audio_image_pairs(const std::string& path);

// Zero-shot labels (ESC-50 style): CSV with an audio column and a label column
// ("category", "label" or "class"); audio paths relative to the file.
struct LabelledAudio {
  std::string audio_path, label;
};
Result<std::vector<LabelledAudio>> read_labels(const std::string& path);
Result<std::vector<CaptionedMedia>> read_pairs(const std::string& path);

// A bulk-embedding manifest: JSONL ({"path", optional "modality"}) or CSV (a path column, an
// optional modality column), one file per row. Paths are relative to the manifest.
struct ManifestRow {
  std::string path;      // as written in the manifest
  std::string file;      // where it is: `path`, relative to the manifest's directory
  std::string modality;  // "image", "audio", "video", or "" (sniffed from the bytes)
  int line = 0;
};
Result<std::vector<ManifestRow>> read_manifest(const std::string& path);

// One CSV record per line (RFC 4180 quoting, no newlines inside fields).
Result<std::vector<std::string>> parse_csv_line(const std::string& line);

}  // namespace cc
