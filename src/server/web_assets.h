// The files of src/server/web (the playground, the OpenAPI document and its page), built into the binary by
// cmake/embed_assets.cmake: the server answers them without reading the disk.
#pragma once

#include <optional>
#include <string_view>

namespace cc {

// A file's bytes by its name ("openapi.json"), or nothing.
std::optional<std::string_view> web_asset(std::string_view name);

}  // namespace cc
