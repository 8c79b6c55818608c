// Shared by pull and push: authentication headers and the explanation of hub error statuses.
#pragma once

#include <string>
#include <vector>

#include "bundle/http_client.h"
#include "bundle/hub.h"

namespace cc {

std::vector<std::string> hub_auth_headers(const HubSettings& hub);
// 401 without a token, 403 gated, 404 repository/revision/file, others with the body's start.
Error hub_error(const HubSettings& hub, const HttpResponse& r, const RepoRef& ref, const std::string& what);

}  // namespace cc
